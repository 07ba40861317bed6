"""The pixel grid cut into chunks, and the work items: chunk x scene.

Pixels are the centres of the cells of one grid: the label raster's (the
CDL: EPSG:5070, 30 m) or, for an area to map, `--grid EPSG:N,RES`. Cells
are numbered on the grid itself, not from an area's corner: column j spans
x0 + j res .. x0 + (j + 1) res, row i spans y0 - i res .. y0 - (i + 1) res,
with (x0, y0) the cell corner nearest the CRS origin (in [0, res)). A chunk
is a `chunk_cells` square of that numbering, so the same ground is the same
chunk whatever the area, the year or the raster's extent; its id,
`chunk_id(row, col)`, is the rows' `bbox`. Within a chunk, samples travel
in blocks (the unit that is grouped and packed): squares of `block_cells`
at most, smaller when many scenes meet the chunk (`block_side`: a block-year
holds about `block_samples` samples at most). The sizes: pipeline/configs.py
EXTRACT_CONFIG.

A work item is one chunk of one year and one scene of that year whose
footprint (the item's bbox) meets the chunk's (`scenes_per_chunk`); plus,
per chunk, one label item that reads the labels and the pixels' lon/lat.
"""

import dataclasses
import math
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pyproj
import rasterio
from rasterio import warp

from croptfx import cdl
from croptfx import errors

# chunk_id = (chunk row + OFFSET) * SPAN + (chunk column + OFFSET)
_ID_OFFSET = 1 << 20
_ID_SPAN = 1 << 21


def chunk_id(chunk_row: int, chunk_col: int) -> int:
  """The id of a chunk (the `bbox` of its rows): positive, unique per grid position."""
  return (chunk_row + _ID_OFFSET) * _ID_SPAN + (chunk_col + _ID_OFFSET)


def chunk_position(identifier: int) -> Tuple[int, int]:
  """(chunk row, chunk column) of a chunk id."""
  return identifier // _ID_SPAN - _ID_OFFSET, identifier % _ID_SPAN - _ID_OFFSET


@dataclasses.dataclass(frozen=True)
class Grid:
  """Square cells of `res` in `crs`, numbered from the corner (x0, y0)."""
  crs: str  # 'EPSG:5070' or WKT
  res: float
  x0: float
  y0: float

  @classmethod
  def anchored(cls, crs: str, res: float, corner_x: float, corner_y: float) -> 'Grid':
    """The grid whose cells have a corner at (corner_x, corner_y)."""
    return cls(crs, float(res), float(corner_x % res), float(corner_y % res))

  def centres(self, row0: int, col0: int, height: int, width: int
              ) -> Tuple[np.ndarray, np.ndarray]:
    """x, y of the cell centres of a window, row-major: arrays of height*width."""
    cols, rows = np.meshgrid(np.arange(col0, col0 + width), np.arange(row0, row0 + height))
    x = self.x0 + (cols.ravel() + 0.5) * self.res
    y = self.y0 - (rows.ravel() + 0.5) * self.res
    return x, y

  def window(self, xmin: float, ymin: float, xmax: float, ymax: float
             ) -> Tuple[int, int, int, int]:
    """(row0, col0, row1, col1), end exclusive: the cells meeting a box."""
    col0 = math.floor((xmin - self.x0) / self.res)
    col1 = math.ceil((xmax - self.x0) / self.res)
    row0 = math.floor((self.y0 - ymax) / self.res)
    row1 = math.ceil((self.y0 - ymin) / self.res)
    return row0, col0, max(row1, row0 + 1), max(col1, col0 + 1)

  def to_dict(self):
    return {'crs': self.crs if len(self.crs) < 40 else 'WKT', 'resolution': self.res,
            'corner': [self.x0, self.y0]}


def grid_for(crs: str, res: float) -> Grid:
  """`--grid EPSG:N,RES`: the CDL's national grid alignment in EPSG:5070,
  else cell corners on multiples of RES."""
  if pyproj.CRS.from_user_input(crs) == pyproj.CRS.from_user_input(cdl.GRID_CRS):
    return Grid.anchored(crs, res, *cdl.GRID_ORIGIN)
  return Grid(crs, float(res), 0.0, 0.0)


@dataclasses.dataclass(frozen=True)
class Label:
  """A year's label raster and where it sits on its grid."""
  year: int
  href: str
  row_off: int  # the grid row of the raster's first row
  col_off: int
  height: int
  width: int
  nodata: Optional[float]


def inspect_label(year: int, href: str) -> Tuple[Grid, Label]:
  """Opens a label raster: its grid and extent.

  Raises:
    CroptfxError: unreadable, rotated, non-square cells or without a CRS.
  """
  try:
    with rasterio.open(href) as ds:
      transform, crs, shape, nodata = ds.transform, ds.crs, ds.shape, ds.nodata
      count = ds.count
  except (rasterio.errors.RasterioError, OSError) as e:
    raise errors.CroptfxError(f'--labels {year}={href}: cannot be read as a raster '
                              f'({str(e).splitlines()[0] if str(e) else type(e).__name__})') from None
  if crs is None:
    raise errors.CroptfxError(f'--labels {year}={href}: the raster has no CRS')
  if transform.b or transform.d or abs(transform.a + transform.e) > 1e-9 * abs(transform.a):
    raise errors.CroptfxError(f'--labels {year}={href}: needs a north-up grid of square cells '
                              f'(transform {tuple(transform)[:6]})')
  if count < 1:
    raise errors.CroptfxError(f'--labels {year}={href}: the raster has no band')
  res = abs(transform.a)
  grid = Grid.anchored(crs.to_string(), res, transform.c, transform.f)
  label = Label(year, href, int(round((grid.y0 - transform.f) / res)),
                int(round((transform.c - grid.x0) / res)), shape[0], shape[1], nodata)
  return grid, label


@dataclasses.dataclass(frozen=True)
class Chunk:
  """The cells of one chunk of one year that lie in the area's window."""
  year: int
  chunk_id: int
  grid: Grid
  row0: int  # grid rows/cols of the first cell
  col0: int
  height: int
  width: int
  label: Optional[Label]
  lonlat_bounds: Tuple[float, float, float, float]
  block_cells: int

  def blocks(self) -> Iterator[Tuple[int, int, int, int, int]]:
    """(block index, row offset, col offset, height, width) within the chunk,
    row-major over the blocks of `block_cells` (those at the edge are smaller)."""
    step = self.block_cells
    index = 0
    for r in range(0, self.height, step):
      for c in range(0, self.width, step):
        yield index, r, c, min(step, self.height - r), min(step, self.width - c)
        index += 1


def _lonlat_bounds(grid: Grid, row0: int, col0: int, row1: int, col1: int
                   ) -> Tuple[float, float, float, float]:
  xmin, xmax = grid.x0 + col0 * grid.res, grid.x0 + col1 * grid.res
  ymax, ymin = grid.y0 - row0 * grid.res, grid.y0 - row1 * grid.res
  return tuple(warp.transform_bounds(grid.crs, 'EPSG:4326', xmin, ymin, xmax, ymax,
                                     densify_pts=21))


def plan_chunks(year: int, grid: Grid, label: Optional[Label], aoi,
                chunk_cells: int, block_cells: int) -> List[Chunk]:
  """The chunks of one year: the grid's cells in the area (the label
  raster's whole extent when no area is given), chunk by chunk.

  Args:
    aoi: an `aoi.Aoi` or None (the label raster's extent).
  """
  if label is not None:
    window = (label.row_off, label.col_off, label.row_off + label.height,
              label.col_off + label.width)
  else:
    window = None
  if aoi is not None:
    west, south, east, north = aoi.bounds
    xmin, ymin, xmax, ymax = warp.transform_bounds('EPSG:4326', grid.crs, west, south, east,
                                                   north, densify_pts=21)
    area = grid.window(xmin, ymin, xmax, ymax)
    window = area if window is None else (max(window[0], area[0]), max(window[1], area[1]),
                                          min(window[2], area[2]), min(window[3], area[3]))
  if window is None:
    raise ValueError('an area is needed without a label raster')
  row0, col0, row1, col1 = window
  chunks = []
  if row1 <= row0 or col1 <= col0:
    return chunks
  step = chunk_cells
  for chunk_row in range(row0 // step, (row1 - 1) // step + 1):
    for chunk_col in range(col0 // step, (col1 - 1) // step + 1):
      r0, c0 = max(row0, chunk_row * step), max(col0, chunk_col * step)
      r1, c1 = min(row1, (chunk_row + 1) * step), min(col1, (chunk_col + 1) * step)
      bounds = _lonlat_bounds(grid, r0, c0, r1, c1)
      if aoi is not None and not aoi.intersects_box(*bounds):
        continue
      chunks.append(Chunk(year, chunk_id(chunk_row, chunk_col), grid, r0, c0, r1 - r0, c1 - c0,
                          label, bounds, min(block_cells, chunk_cells)))
  return chunks


def _meets(a: Sequence[float], b: Sequence[float]) -> bool:
  return not (a[0] > b[2] or a[2] < b[0] or a[1] > b[3] or a[3] < b[1])


MIN_BLOCK_CELLS = 8
MAX_BLOCK_CELLS = 128  # cells of a block are numbered in int16


def block_side(scenes: int, block_cells: int, block_samples: int) -> int:
  """The side of a chunk's blocks: `block_cells` at most, smaller as the
  scenes meeting the chunk grow, so a block-year holds about `block_samples`
  samples at most (packing it costs a few times that in memory, whatever the
  number of scenes); never below `MIN_BLOCK_CELLS`."""
  side = int((block_samples / max(scenes, 1)) ** 0.5)
  return min(max(min(block_cells, side), min(MIN_BLOCK_CELLS, block_cells)), MAX_BLOCK_CELLS)


def scenes_per_chunk(chunks: Sequence[Chunk], scenes: Sequence[object]) -> List[List[int]]:
  """For each chunk, the indices of the scenes of its year whose lon/lat
  bounds meet the chunk's (a scene without a bbox meets every chunk): the
  work items are (chunk, scene) for these, and (chunk, labels) for each chunk."""
  by_year: Dict[int, List[int]] = {}
  for index, scene in enumerate(scenes):
    by_year.setdefault(scene.year, []).append(index)
  return [[i for i in by_year.get(chunk.year, ())
           if scenes[i].bbox is None or _meets(scenes[i].bbox, chunk.lonlat_bounds)]
          for chunk in chunks]
