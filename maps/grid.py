"""Is a set of points a regular grid, and which cell holds each point?

A grid is north-up in one CRS: EPSG:4326 (x = longitude, y = latitude in
degrees, the axis order GeoTIFF uses), or a projected CRS in metres (EPSG:5070
for the CDL, a UTM zone for Sentinel-2). It is described by the outer edges
of its raster (pixel-is-area: a pixel's coordinates are its cell's centre),
the steps and the size. Fitting works on the distinct coordinates of each
axis, so it is vectorized and linear in the number of points (after a sort).
Which CRS the map's pixels are fitted in, and on how many of them, is
`maps.pixel_grid`'s business; this module fits points already in a CRS.
"""

import dataclasses
import functools
import threading
from typing import Optional, Tuple

import affine
import numpy as np
import pyarrow as pa
import pyproj

LONLAT_CRS = 'EPSG:4326'

# A point may lie this many cells from its grid node (sub-pixel jitter of a
# reprojected or rounded coordinate).
DEFAULT_TOLERANCE = 0.05
# Smaller steps (~1 cm) are float rounding of the coordinates, not a grid:
# every double near 90 degrees is a multiple of 1.4e-14.
MIN_STEP_DEGREES = 1e-7
MIN_STEP_METRES = 0.01
# A grid this sparsely filled is not a map of an area: pixels sampled far
# apart on a fine grid, or a "grid" of the coordinates' rounding step (1e-6
# degrees for 6 decimals), which every rounded point lies on.
MIN_FILL = 0.01
# At least this share of the grid lines between the outer ones must hold
# points (a hole is fine; a grid mostly of empty lines is not the pixels').
MIN_LINES_OCCUPIED = 0.5


_TRANSFORMERS = threading.local()


@functools.lru_cache(maxsize=64)
def is_geographic(crs: str) -> bool:
  """A CRS in degrees (EPSG:4326, NAD83's EPSG:4269, ...), not metres."""
  if crs == LONLAT_CRS:
    return True
  return pyproj.CRS.from_user_input(crs).is_geographic


def lonlat_to(crs: str):
  """A pyproj transformer lon/lat (WGS84) -> `crs`, x first; one per thread
  and CRS (a transformer must not be shared between threads)."""
  cache = _TRANSFORMERS.__dict__.setdefault('cache', {})
  if crs not in cache:
    cache[crs] = pyproj.Transformer.from_crs(LONLAT_CRS, crs, always_xy=True)
  return cache[crs]


def project(lon, lat, crs: str) -> Tuple[np.ndarray, np.ndarray]:
  """lon/lat in degrees -> x, y in `crs` (float64 arrays; the same values for
  EPSG:4326)."""
  lon = np.asarray(lon, dtype=np.float64)
  lat = np.asarray(lat, dtype=np.float64)
  if crs == LONLAT_CRS:
    return lon, lat
  x, y = lonlat_to(crs).transform(lon, lat)
  return np.asarray(x, np.float64), np.asarray(y, np.float64)


@dataclasses.dataclass(frozen=True)
class Grid:
  """A north-up raster grid in `crs`; values in the CRS's units."""
  west: float  # western edge of column 0
  north: float  # northern edge of row 0
  dx: float  # column width (x step), > 0
  dy: float  # row height (y step), > 0
  width: int  # columns
  height: int  # rows
  crs: str = LONLAT_CRS  # what pyproj and rasterio read: 'EPSG:5070', or WKT

  @property
  def transform(self) -> affine.Affine:
    """Pixel (col, row) -> (x, y) of the cell's upper-left corner."""
    return affine.Affine(self.dx, 0.0, self.west, 0.0, -self.dy, self.north)

  @property
  def cells(self) -> int:
    return self.width * self.height

  def index(self, x, y) -> Tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the cells holding points x, y of the grid's CRS
    (lon/lat for EPSG:4326; arrays, int64).

    Points off the grid get indices outside [0, height) x [0, width).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    cols = np.floor((x - self.west) / self.dx).astype(np.int64)
    rows = np.floor((self.north - y) / self.dy).astype(np.int64)
    return rows, cols

  def locate(self, lon, lat) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, x, y) of points given as lon/lat: the cell holding each
    and the cell's centre in the grid's CRS."""
    rows, cols = self.index(*project(lon, lat, self.crs))
    return rows, cols, *self.centres(rows, cols)

  def centres(self, rows, cols) -> Tuple[np.ndarray, np.ndarray]:
    """x, y of the centres of cells (rows, cols), in the grid's CRS."""
    return (self.west + (np.asarray(cols) + 0.5) * self.dx,
            self.north - (np.asarray(rows) + 0.5) * self.dy)

  def window(self, col_off: int, row_off: int, width: int, height: int) -> 'Grid':
    """The grid of a window of this one (the same cells)."""
    return dataclasses.replace(self, west=self.west + col_off * self.dx,
                               north=self.north - row_off * self.dy,
                               width=width, height=height)

  def to_dict(self) -> dict:
    return {**dataclasses.asdict(self), 'transform': list(self.transform)[:6]}


class _Axis:
  """The distinct values of one coordinate, how many points hold each, and
  the gaps between them."""

  def __init__(self, values: np.ndarray, name: str, tolerance: float,
               unit: str = 'degrees', min_step: float = MIN_STEP_DEGREES):
    self.unique, self.counts = np.unique(values, return_counts=True)
    self.gaps = np.diff(self.unique)
    self.name = name
    self.tolerance = tolerance
    self.unit = unit
    self.min_step = min_step

  def candidate_steps(self) -> np.ndarray:
    """Steps worth trying, ascending.

    Gaps within a line (jitter) are at most 2t / (1 - 2t) of the step, so
    the step is a gap that jumps that much above the next smaller distinct
    gap; without jitter it is the smallest or the most frequent gap. With
    jitter (reprojected, rounded coordinates: every value distinct) and a
    point off its line, the gaps between lines above such a jump vary, and
    their median is the step.
    """
    distinct = np.unique(self.gaps)
    jump = (1 - 2 * self.tolerance) / (2 * self.tolerance)
    rounded, times = np.unique(np.round(self.gaps, 12), return_counts=True)
    jumps = distinct[1:][distinct[1:] / distinct[:-1] >= jump]
    medians = [np.median(self.gaps[self.gaps >= j]) for j in jumps]
    candidates = np.concatenate([
        distinct[:1], jumps, medians,
        [distinct[np.argmin(np.abs(distinct - rounded[np.argmax(times)]))]]])
    return np.unique(candidates[candidates >= self.min_step])

  def fit(self, step: float):
    """((first node, step, lines), None) for a candidate step, else
    (None, (why not, share of lines holding points))."""
    unique, counts, tol = self.unique, self.counts, self.tolerance
    # Values of one line differ by at most 2 * tolerance steps, adjacent
    # lines by at least 1 - 2 * tolerance: a gap over half a step starts a
    # new line. A line's centre is its points' mean (exact for one value).
    starts = np.concatenate([[0], np.flatnonzero(self.gaps > step / 2) + 1])
    sizes = np.diff(np.concatenate([starts, [len(unique)]]))
    weighted = np.add.reduceat(unique * counts, starts) / np.add.reduceat(counts, starts)
    centres = np.where(sizes == 1, unique[starts], weighted)
    if len(centres) < 2:
      return None, (f'fewer than 2 distinct {_plural(self.name)}', 0.0)
    # Gaps between lines are whole multiples of the step (missing lines).
    line_gaps = np.diff(centres)
    multiples = np.maximum(np.rint(line_gaps / step), 1)
    if (np.abs(line_gaps / step - multiples) > 2 * tol).any():
      steps = line_gaps / multiples
      return None, (f'{self.name} steps vary by {100 * (steps.max() / steps.min() - 1):.0f}% '
                    f'({steps.min():.6g} to {steps.max():.6g} {self.unit})', 0.0)
    index = np.concatenate([[0], np.cumsum(multiples)])
    lines = int(index[-1]) + 1
    occupied = len(centres) / lines
    # The two outer lines give the step (exact for exact input); the first
    # node is the mean of the lines' offsets from it.
    step = (centres[-1] - centres[0]) / index[-1]
    first = centres[0] + float(np.mean(centres - centres[0] - index * step))
    offset = (unique - first) / step
    off = np.abs(offset - np.rint(offset)) > tol
    if off.any():
      return None, (f'{int(counts[off].sum())} of {int(counts.sum())} points lie more '
                    f'than {tol} cells from {_a(self.name)} grid line (e.g. {self.name} '
                    f'{unique[np.argmax(off)]:.7f}; step {step:.6g} {self.unit})', occupied)
    # A finer grid fits any points when most of its lines may be empty
    # (jitter of 0, 0.2 and 1.0 cells fits a 0.2 grid).
    if occupied < MIN_LINES_OCCUPIED:
      return None, (f'{_plural(self.name)} fit a grid of {step:.6g} {self.unit} only with '
                    f'{lines - len(centres)} of its {lines} lines empty', occupied)
    return (first, step, lines), None


def _plural(name: str) -> str:
  """'longitudes', but 'x values'."""
  return f'{name} values' if len(name) == 1 else f'{name}s'


def _a(word: str) -> str:
  return ('an ' if word[0] in 'aeiox' else 'a ') + word


def _fit_axis(values: np.ndarray, name: str, tolerance: float, unit: str = 'degrees',
              min_step: float = MIN_STEP_DEGREES):
  """((first node, step, lines), None) of one axis, or (None, reason)."""
  axis = _Axis(values, name, tolerance, unit, min_step)
  if len(axis.unique) < 2:
    return None, f'fewer than 2 distinct {_plural(name)}'
  # The smallest step that fits; failing that, the reason of the candidate
  # that came closest (most of its lines hold points).
  best = (f'{_plural(name)} have no regular spacing (distinct values {axis.gaps.min():.3g} '
          f'to {axis.gaps.max():.3g} {unit} apart)', -1.0)
  for step in axis.candidate_steps():
    fit, why = axis.fit(float(step))
    if fit is not None:
      return fit, None
    if why[1] > best[1] or best[1] < 0:
      best = why
  return None, best[0]


def detect_grid(lon, lat, tolerance: float = DEFAULT_TOLERANCE
                ) -> Tuple[Optional[Grid], Optional[str]]:
  """The regular lon/lat grid the points lie on, or (None, why not)."""
  return fit_grid(lon, lat, tolerance, LONLAT_CRS)


def fit_grid(x, y, tolerance: float = DEFAULT_TOLERANCE, crs: str = LONLAT_CRS
             ) -> Tuple[Optional[Grid], Optional[str]]:
  """The regular grid of `crs` points x, y lie on, or (None, why not).

  Each axis is fitted on its distinct sorted values: candidate steps from
  their gaps, lines of values within half a step, lines a whole number of
  steps apart (some may be missing: a hole in the area is still a grid),
  every point within `tolerance` cells of its line, and at least half the
  lines holding points. The smallest fitting step wins. The axes are named
  longitude/latitude in a geographic CRS (degrees), x/y in a projected one.
  """
  x = np.asarray(x, dtype=np.float64).ravel()
  y = np.asarray(y, dtype=np.float64).ravel()
  if len(x) != len(y):
    raise ValueError(f'x and y differ in length ({len(x)} vs {len(y)})')
  if not 0 < tolerance < 0.25:
    raise ValueError(f'tolerance must be in (0, 0.25) cells, got {tolerance}')
  if not (np.isfinite(x).all() and np.isfinite(y).all()):
    return None, 'some coordinates are not finite'
  if is_geographic(crs):
    names, unit, min_step = ('longitude', 'latitude'), 'degrees', MIN_STEP_DEGREES
  else:
    names, unit, min_step = ('x', 'y'), 'm', MIN_STEP_METRES
  fx, reason = _fit_axis(x, names[0], tolerance, unit, min_step)
  if fx is None:
    return None, reason
  fy, reason = _fit_axis(y, names[1], tolerance, unit, min_step)
  if fy is None:
    return None, reason
  (x0, dx, width), (y0, dy, height) = fx, fy
  # Row 0 is the northernmost line; edges are half a cell out from centres.
  north_centre = y0 + (height - 1) * dy
  return Grid(west=x0 - dx / 2, north=north_centre + dy / 2, dx=dx, dy=dy,
              width=width, height=height, crs=crs), None


def as_float(column: pa.Array) -> np.ndarray:
  """float64 values with NaN for nulls and values of a non-numeric type."""
  try:
    column = column.cast(pa.float64())
  except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
    return np.full(len(column), np.nan)
  return column.to_numpy(zero_copy_only=False)
