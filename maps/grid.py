"""Is a set of pixels a regular lon/lat grid, and which cell holds each pixel?

Pixels are in OGC:CRS84 (longitude, latitude in degrees; EPSG:4326 with the
x = longitude axis order GeoTIFF uses). A grid is described by the outer
edges of its raster (pixel-is-area: a pixel's lon/lat is its cell's centre),
the steps and the size; detection works on the distinct coordinates of each
axis, so it is vectorized and linear in the number of points (after a sort).
"""

import dataclasses
from typing import Optional, Tuple

import affine
import numpy as np

# A point may lie this many cells from its grid node (sub-pixel jitter of a
# reprojected or rounded coordinate).
DEFAULT_TOLERANCE = 0.05
# Smaller steps (~1 cm) are float rounding of the coordinates, not a grid:
# every double near 90 degrees is a multiple of 1.4e-14.
MIN_STEP_DEGREES = 1e-7


@dataclasses.dataclass(frozen=True)
class Grid:
  """A north-up lon/lat raster grid; all values in degrees."""
  west: float  # western edge of column 0
  north: float  # northern edge of row 0
  dx: float  # column width (longitude step), > 0
  dy: float  # row height (latitude step), > 0
  width: int  # columns
  height: int  # rows

  @property
  def transform(self) -> affine.Affine:
    """Pixel (col, row) -> (lon, lat) of the cell's upper-left corner."""
    return affine.Affine(self.dx, 0.0, self.west, 0.0, -self.dy, self.north)

  @property
  def cells(self) -> int:
    return self.width * self.height

  def index(self, lon, lat) -> Tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the cells holding points lon/lat (arrays, int64).

    Points off the grid get indices outside [0, height) x [0, width).
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    cols = np.floor((lon - self.west) / self.dx).astype(np.int64)
    rows = np.floor((self.north - lat) / self.dy).astype(np.int64)
    return rows, cols

  def to_dict(self) -> dict:
    return {'crs': 'EPSG:4326', **dataclasses.asdict(self),
            'transform': list(self.transform)[:6]}


def _lines(unique: np.ndarray, gaps: np.ndarray, step: float, tolerance: float):
  """Grid lines of one axis for a candidate step: (centres, line index) or why not."""
  # Values of one line differ by at most 2 * tolerance steps, adjacent lines
  # by at least 1 - 2 * tolerance: a gap over half a step starts a new line.
  starts = np.concatenate([[0], np.flatnonzero(gaps > step / 2) + 1])
  sizes = np.diff(np.concatenate([starts, [len(unique)]]))
  centres = np.add.reduceat(unique, starts) / sizes
  if len(centres) < 2:
    return None, None
  # Gaps between lines are whole multiples of the step (missing lines).
  line_gaps = np.diff(centres)
  multiples = np.maximum(np.rint(line_gaps / step), 1)
  if (np.abs(line_gaps / step - multiples) > 2 * tolerance).any():
    steps = line_gaps / multiples
    return None, (f'steps vary by {100 * (steps.max() / steps.min() - 1):.0f}% '
                  f'({steps.min():.6g} to {steps.max():.6g} degrees)')
  return centres, np.concatenate([[0], np.cumsum(multiples)])


def _axis(values: np.ndarray, name: str, tolerance: float):
  """((first line, step, number of lines), None) of one axis, or (None, reason)."""
  unique = np.unique(values)
  if len(unique) < 2:
    return None, f'fewer than 2 distinct {name}s'
  gaps = np.diff(unique)
  # The step is the smallest gap between lines; gaps within a line (jitter)
  # are at most 2t/(1-2t) of it. Candidates: the smallest gap (no jitter) and
  # every gap that jumps that much above the next smaller one; the smallest
  # candidate whose lines are whole steps apart wins.
  distinct = np.unique(gaps)
  jump = (1 - 2 * tolerance) / (2 * tolerance)
  candidates = np.concatenate(
      [distinct[:1], distinct[1:][distinct[1:] / distinct[:-1] >= jump]])
  candidates = candidates[candidates >= MIN_STEP_DEGREES]
  reason = (f'{name}s have no regular spacing (distinct values {gaps.min():.3g} '
            f'to {gaps.max():.3g} degrees apart)')
  for step in candidates:
    centres, index = _lines(unique, gaps, float(step), tolerance)
    if centres is None:
      reason = f'{name} {index}' if index else reason
      continue
    # The two outer lines give the step (exact for exact input); the first
    # node is the mean of the lines' offsets from it.
    step = (centres[-1] - centres[0]) / index[-1]
    first = centres[0] + float(np.mean(centres - centres[0] - index * step))
    return (first, step, int(index[-1]) + 1), None
  return None, reason


def _off_nodes(values, first, step, tolerance):
  offset = (values - first) / step
  return np.abs(offset - np.rint(offset)) > tolerance


def detect_grid(lon, lat, tolerance: float = DEFAULT_TOLERANCE
                ) -> Tuple[Optional[Grid], Optional[str]]:
  """The regular lon/lat grid the points lie on, or (None, why not).

  Steps come from the distinct sorted coordinates of each axis (lines may be
  missing: a hole in the area is still a grid); then every point must lie
  within `tolerance` cells of a grid node on both axes.
  """
  lon = np.asarray(lon, dtype=np.float64).ravel()
  lat = np.asarray(lat, dtype=np.float64).ravel()
  if len(lon) != len(lat):
    raise ValueError(f'lon and lat differ in length ({len(lon)} vs {len(lat)})')
  if not 0 < tolerance < 0.25:
    raise ValueError(f'tolerance must be in (0, 0.25) cells, got {tolerance}')
  if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
    return None, 'some coordinates are not finite'
  x, reason = _axis(lon, 'longitude', tolerance)
  if x is None:
    return None, reason
  y, reason = _axis(lat, 'latitude', tolerance)
  if y is None:
    return None, reason
  for (first, step, _), values, name in ((x, lon, 'longitude'), (y, lat, 'latitude')):
    off = _off_nodes(values, first, step, tolerance)
    if off.any():
      k = int(np.argmax(off))
      return None, (f'{int(off.sum())} of {len(values)} points lie more than '
                    f'{tolerance} cells from a {name} grid line (first at lon '
                    f'{lon[k]:.7f}, lat {lat[k]:.7f}; step {step:.6g} degrees)')
  (x0, dx, width), (y0, dy, height) = x, y
  # Row 0 is the northernmost line; edges are half a cell out from centres.
  north_centre = y0 + (height - 1) * dy
  return Grid(west=x0 - dx / 2, north=north_centre + dy / 2, dx=dx, dy=dy,
              width=width, height=height), None
