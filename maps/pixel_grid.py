"""The grid the map's pixels lie on, found before the map job.

Part-1 rows give each pixel as lon/lat, but real pixels are the cell centres
of a raster in another CRS: the CDL's national EPSG:5070 grid (30 m),
Sentinel-2's UTM grids (10, 20 or 60 m), or, for some tools, a regular
lon/lat grid. The map is written on that grid, in that CRS, so each pixel
is one cell. How the grid is found (`find_grid`):

  detected       a random sample of up to `SAMPLE_POINTS` of the pixels is
                 transformed (pyproj) into each candidate CRS and fitted
                 there (`grid.fit_grid`): EPSG:5070 when the pixels are in
                 its area of use, the UTM zones of the pixels' longitudes and
                 their neighbours (a Sentinel-2 tile reaches across its zone
                 boundary, so a zone-16 grid holds pixels west of 90 W), and
                 EPSG:4326. Among the grids the pixels fill to at least
                 `grid.MIN_FILL` (a "grid" of the coordinates' rounding step,
                 1e-6 degrees, fits every rounded point), the CRS where the
                 fit is tightest (the smallest largest offset of a sampled
                 pixel from its cell centre, in cells) wins. In metres, the
                 step and the cell centres are snapped to whole centimetres
                 when every sampled pixel still fits (a CDL grid is 30 m
                 with centres on multiples of 30 m: its transform comes out
                 exact).
  --grid-crs     only that CRS is fitted: cell size and alignment inferred.
  --like RASTER  a template's CRS, cell size and alignment (e.g. that year's
                 CDL): each pixel falls in the cell that contains it, no
                 tolerance.

Then every pixel is checked against the grid (a detected or --grid-crs grid
needs every pixel within `grid.DEFAULT_TOLERANCE` cells of its cell centre:
Part-1 coordinates rounded to 6 decimals are 0.002 cells off on a 30 m grid)
and the grid is cut to the pixels' cells. A pixel that fits no grid means
no grid, with a reason naming the evidence; whether two pixels share a cell
is judged when the raster is written (`maps.raster`), from the job's shards.

Only the pixels the job will map count: a finite lon/lat in range, in the
as-of date's year (other years' rows are skipped by the job, and the same
field in three years is one pixel a year). Both passes read the lon, lat
and year columns alone (pyarrow reads just those) a record batch at a time:
memory is the sample and one batch, whatever the input's size.
"""

import dataclasses
import datetime
import math
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import rasterio

from croptfx import errors
from croptfx import features
from croptfx.maps import grid as grid_lib
from croptfx.rows import reader

SAMPLE_POINTS = 250_000
BATCH_ROWS = 65536
CDL_CRS = 'EPSG:5070'
# EPSG:5070's area of use (pyproj's `area_of_use.bounds`), degrees.
CDL_BOUNDS = (-124.79, 24.41, -66.91, 49.38)
# Metric grids snap to this quantum (metres) when every sampled pixel still fits.
SNAP_METRES = 0.01
HOW_DETECTED, HOW_GRID_CRS, HOW_LIKE = 'detected', 'grid_crs', 'like'


@dataclasses.dataclass
class GridChoice:
  """The map's grid, or why there is none, and how it was found."""
  grid: Optional[grid_lib.Grid]
  reason: Optional[str]
  how: str
  tolerance_cells: Optional[float]  # None for --like: cells contain pixels
  pixels: int = 0  # pixels of the as-of year checked
  max_offset_cells: Optional[float] = None  # largest offset from a cell centre, either axis
  tried: List[Dict[str, object]] = dataclasses.field(default_factory=list)
  like: Optional[str] = None

  def to_dict(self) -> Dict[str, object]:
    g = self.grid
    return {
        'found': g is not None, 'reason': self.reason, 'how': self.how,
        'crs': g.crs if g else None,
        'transform': list(g.transform)[:6] if g else None,
        'cell_size': [g.dx, g.dy] if g else None,
        'units': units_of(g.crs) if g else None,
        'width': g.width if g else None, 'height': g.height if g else None,
        'pixels_checked': self.pixels, 'tolerance_cells': self.tolerance_cells,
        'max_offset_cells': (None if self.max_offset_cells is None
                             else round(self.max_offset_cells, 4)),
        'like': self.like, 'tried': self.tried,
    }


def units_of(crs: str) -> str:
  """'degrees' for a geographic CRS, else its axis unit ('metre', ...)."""
  parsed = pyproj.CRS.from_user_input(crs)
  return 'degrees' if parsed.is_geographic else parsed.axis_info[0].unit_name


def describe(crs: str) -> str:
  """'EPSG:32615 (WGS 84 / UTM zone 15N)': the code and the name, for messages."""
  try:
    name = pyproj.CRS.from_user_input(crs).name
  except pyproj.exceptions.CRSError:
    return crs
  return f'{crs} ({name})' if len(crs) < 40 else name


def check_crs(crs: str) -> str:
  """A CRS pyproj and GDAL read, with metres or degrees on a north-up grid,
  as 'EPSG:N'; a one-line CroptfxError otherwise."""
  try:
    parsed = pyproj.CRS.from_user_input(crs)
  except pyproj.exceptions.CRSError:
    raise errors.CroptfxError(f'--grid-crs {crs}: not a CRS pyproj knows '
                              '(give EPSG:N, e.g. EPSG:5070 or EPSG:32615)') from None
  if not (parsed.is_geographic or parsed.is_projected):
    raise errors.CroptfxError(f'--grid-crs {crs}: {parsed.name} is neither a projected '
                              'nor a geographic 2D CRS')
  code = parsed.to_epsg()
  return f'EPSG:{code}' if code else parsed.to_wkt()


def utm_crs(zone: int, north: bool) -> str:
  return f'EPSG:{(32600 if north else 32700) + zone}'


def utm_zone(lon: np.ndarray) -> np.ndarray:
  return (np.floor((np.asarray(lon) + 180.0) / 6.0).astype(np.int64) % 60) + 1


def candidate_crss(lon: np.ndarray, lat: np.ndarray) -> List[str]:
  """EPSG:5070 (pixels in its area of use), the UTM zones of the pixels and
  their neighbours (each zone's own first), then EPSG:4326."""
  west, south, east, north = CDL_BOUNDS
  out = []
  if ((lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)).any():
    out.append(CDL_CRS)
  zones = sorted(set(utm_zone(lon).tolist()))
  neighbours = sorted({(z + d - 1) % 60 + 1 for z in zones for d in (-1, 1)} - set(zones))
  for hemisphere in ((True,) if (lat >= 0).all() else (False,) if (lat < 0).all()
                     else (True, False)):
    out += [utm_crs(z, hemisphere) for z in zones + neighbours]
  out.append(grid_lib.LONLAT_CRS)
  return out


def _offsets(grid: grid_lib.Grid, x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """Largest of each point's two offsets from its cell centre, in cells."""
  fx = (x - grid.west) / grid.dx
  fy = (grid.north - y) / grid.dy
  return np.maximum(np.abs(fx - np.floor(fx) - 0.5), np.abs(fy - np.floor(fy) - 0.5))


def _snapped(grid: grid_lib.Grid, x, y, tolerance: float) -> grid_lib.Grid:
  """A metric grid with its step and its cell centres on whole centimetres,
  when every point still lies within `tolerance` cells; else `grid`.

  The step is rounded first; the centre of column 0 (row 0) is then the mean
  over all points of their offsets from their lines, rounded: the mean of
  thousands of rounding errors is far below a centimetre.
  """
  if grid_lib.is_geographic(grid.crs):
    return grid
  q = SNAP_METRES
  dx, dy = round(grid.dx / q) * q, round(grid.dy / q) * q
  if dx <= 0 or dy <= 0:
    return grid
  x0, y0 = grid.west + grid.dx / 2, grid.north - grid.dy / 2
  cx = float(np.mean(x - np.rint((x - x0) / dx) * dx))
  cy = float(np.mean(y + np.rint((y0 - y) / dy) * dy))
  cx, cy = round(cx / q) * q, round(cy / q) * q
  snapped = dataclasses.replace(grid, west=cx - dx / 2, north=cy + dy / 2, dx=dx, dy=dy)
  return snapped if (_offsets(snapped, x, y) <= tolerance).all() else grid


def fit_in(crs: str, lon: np.ndarray, lat: np.ndarray, tolerance: float
           ) -> Tuple[Optional[grid_lib.Grid], Optional[str], Optional[float]]:
  """(grid, None, largest offset in cells) of the points in `crs`, or
  (None, why not, None)."""
  x, y = grid_lib.project(lon, lat, crs)
  if not (np.isfinite(x).all() and np.isfinite(y).all()):
    return None, f'some pixels are outside the domain of {crs}', None
  grid, reason = grid_lib.fit_grid(x, y, tolerance, crs)
  if grid is None:
    return None, reason, None
  grid = _snapped(grid, x, y, tolerance)
  return grid, None, float(_offsets(grid, x, y).max())


def choose(lon: np.ndarray, lat: np.ndarray, tolerance: float,
           crss: Optional[Sequence[str]] = None, pixels: Optional[int] = None):
  """The tightest fit among the candidate CRSs (or `crss`) that the pixels
  fill to at least `grid.MIN_FILL` (`pixels`: how many the sample stands for;
  its extent is theirs). A grid of the coordinates' rounding step fits every
  rounded point exactly, and is no map: the fill rules it out.

  Returns (grid or None, reason or None, max offset, tried): `tried` holds
  each CRS with its offset or its reason.
  """
  crss = list(crss) if crss else candidate_crss(lon, lat)
  pixels = pixels or len(lon)
  tried, best = [], None
  for crs in crss:
    grid, reason, offset = fit_in(crs, lon, lat, tolerance)
    if grid is not None and pixels / grid.cells < grid_lib.MIN_FILL:
      reason = (f'a grid of {_cell_text(grid)} cells fits, but its {grid.width:,} x '
                f'{grid.height:,} cells would be {100 * pixels / grid.cells:.2g}% filled by '
                f'{pixels:,} pixels (at least {100 * grid_lib.MIN_FILL:g}% needed)')
      grid = offset = None
    tried.append({'crs': crs, 'fits': grid is not None,
                  **({'max_offset_cells': round(offset, 4)} if grid is not None
                     else {'reason': reason})})
    if grid is not None and (best is None or offset < best[2]):
      best = (grid, None, offset)
  if best is not None:
    return best + (tried,)
  if len(crss) == 1:
    return (None, f'the pixels fit no regular grid in {describe(crss[0])}: '
            f'{tried[0]["reason"]}', None, tried)
  # One line: the reasons in EPSG:5070, the pixels' own UTM zone and
  # EPSG:4326 (the neighbouring zones fail as their zone does).
  shown = [t for i, t in enumerate(tried)
           if t['crs'] in (CDL_CRS, grid_lib.LONLAT_CRS)
           or (i == (1 if tried[0]['crs'] == CDL_CRS else 0))]
  others = [t['crs'] for t in tried if t not in shown]
  return None, ('the pixels fit no regular grid: '
                + '; '.join(f'in {t["crs"]}, {t["reason"]}' for t in shown)
                + (f' (also tried {", ".join(others)})' if others else '')), None, tried


def template(path: str) -> grid_lib.Grid:
  """The grid of a template raster (`--like`): its CRS, cell size, alignment."""
  try:
    with rasterio.open(path) as ds:
      crs, t, width, height = ds.crs, ds.transform, ds.width, ds.height
  except rasterio.errors.RasterioIOError as e:
    raise errors.CroptfxError(f'--like {path}: not a raster rasterio can open '
                              f'({str(e).splitlines()[0]})') from None
  if crs is None:
    raise errors.CroptfxError(f'--like {path}: the raster has no CRS')
  if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
    raise errors.CroptfxError(f'--like {path}: the raster is not north-up (transform '
                              f'{tuple(t)[:6]}); a map grid has no rotation')
  code = crs.to_epsg()
  return grid_lib.Grid(west=t.c, north=t.f, dx=t.a, dy=-t.e, width=width, height=height,
                       crs=f'EPSG:{code}' if code else crs.to_wkt())


def coordinates(file_layouts, year: int) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
  """lon, lat of the rows of `year` with a finite lon/lat in range, a record
  batch at a time (the lon, lat and year columns alone)."""
  for layout in file_layouts:
    lon_name, lat_name = layout.columns[features.LON], layout.columns[features.LAT]
    year_name = layout.columns.get(features.YEAR)
    names = [lon_name, lat_name] + ([year_name] if year_name else [])
    try:
      with reader.open_file(layout.path) as f:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=BATCH_ROWS, columns=names):
          lon, lat = grid_lib.as_float(batch.column(0)), grid_lib.as_float(batch.column(1))
          keep = (np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180)
                  & (np.abs(lat) <= 90))
          # The job maps a row whose year (its column, else its Hive directory)
          # is the as-of date's: rows of other years are not the map's pixels.
          if year_name:
            years = grid_lib.as_float(batch.column(2))
            keep &= (years == year) | ((layout.path_year == year) & np.isnan(years))
          elif layout.path_year != year:
            keep[:] = False
          if keep.any():
            yield lon[keep], lat[keep]
    except (pa.ArrowException, OSError) as e:
      raise errors.InputDataError(layout.path, f'cannot be read: {str(e).splitlines()[0]}') from e


def sample(file_layouts, year: int, size: int = SAMPLE_POINTS, seed: int = 0):
  """(lon, lat, pixels): a random sample of at most about `size` of the
  pixels of `year` (all of them when there are fewer), and their number.

  Random, not every k-th row: a stride that divides an area's width would
  keep every other column, and fit a grid of twice the cell size.
  """
  candidates = sum(l.num_rows for l in file_layouts)
  share = min(1.0, size / max(candidates, 1))
  rng = np.random.default_rng(seed)
  lons, lats, pixels = [], [], 0
  for lon, lat in coordinates(file_layouts, year):
    pixels += len(lon)
    keep = rng.random(len(lon)) < share if share < 1 else slice(None)
    lons.append(lon[keep])
    lats.append(lat[keep])
  if not lons:
    return np.zeros(0), np.zeros(0), 0
  return np.concatenate(lons), np.concatenate(lats), pixels


def bound(grid: grid_lib.Grid, file_layouts, year: int, tolerance: Optional[float]):
  """Checks every pixel of `year` against `grid`, and cuts the grid to
  their cells. Returns (grid or None, reason or None, pixels, max offset)."""
  pixels = off = 0
  example = None
  lo = np.array([np.iinfo(np.int64).max] * 2)
  hi = np.array([np.iinfo(np.int64).min] * 2)
  worst = 0.0
  for lon, lat in coordinates(file_layouts, year):
    x, y = grid_lib.project(lon, lat, grid.crs)
    finite = np.isfinite(x) & np.isfinite(y)
    offsets = np.where(finite, _offsets(grid, np.where(finite, x, 0), np.where(finite, y, 0)),
                       np.inf)
    bad = offsets > tolerance if tolerance is not None else ~finite
    pixels += len(lon)
    if bad.any():
      if example is None:
        i = int(np.argmax(bad))
        example = (lon[i], lat[i], offsets[i])
      off += int(bad.sum())
    good = ~bad
    if good.any():
      worst = max(worst, float(offsets[good].max()))
      rows, cols = grid.index(x[good], y[good])
      lo = np.minimum(lo, [rows.min(), cols.min()])
      hi = np.maximum(hi, [rows.max(), cols.max()])
  if off:
    lon, lat, offset = example
    where = (f'{offset:.2f} cells from its cell centre' if math.isfinite(offset)
             else f'outside the domain of {grid.crs}')
    return None, (f'{off:,} of {pixels:,} pixels lie more than {tolerance} cells from a '
                  f'cell centre of the {_cell_text(grid)} grid in {describe(grid.crs)} '
                  f'(e.g. lon/lat {lon:.6f}, {lat:.6f}: {where})'), pixels, None
  if not pixels:
    return None, None, 0, None
  return grid.window(int(lo[1]), int(lo[0]), int(hi[1] - lo[1]) + 1,
                     int(hi[0] - lo[0]) + 1), None, pixels, worst


def _cell_text(grid: grid_lib.Grid) -> str:
  unit = {'metre': 'm'}.get(units_of(grid.crs), units_of(grid.crs))
  size = (f'{grid.dx:.6g}' if math.isclose(grid.dx, grid.dy, rel_tol=1e-9)
          else f'{grid.dx:.6g} x {grid.dy:.6g}')
  return f'{size} {unit}'


def find_grid(file_layouts, as_of: datetime.date, grid_crs: Optional[str] = None,
              like: Optional[str] = None,
              tolerance: float = grid_lib.DEFAULT_TOLERANCE,
              sample_points: int = SAMPLE_POINTS) -> GridChoice:
  """The map's grid (see the module doc); never raises for pixels off a grid:
  the choice holds the reason instead."""
  if grid_crs and like:
    raise errors.CroptfxError('give --grid-crs or --like, not both')
  year = as_of.year
  if like:
    how, tol, grid, tried = HOW_LIKE, None, template(like), []
  else:
    how, tol = (HOW_GRID_CRS if grid_crs else HOW_DETECTED), tolerance
    crss = [check_crs(grid_crs)] if grid_crs else None
    lon, lat, pixels = sample(file_layouts, year, sample_points)
    if not pixels:
      return GridChoice(None, f'no pixel of {year} has a valid lon/lat', how, tol)
    grid, reason, _, tried = choose(lon, lat, tolerance, crss, pixels)
    if grid is None:
      if grid_crs:
        # A CRS the user guessed wrong: say which one the pixels do fit.
        found = choose(lon, lat, tolerance, None, pixels)[0]
        if found is not None:
          reason += (f'; they fit a {_cell_text(found)} grid in {describe(found.crs)}: '
                     f'use --grid-crs {found.crs}, or leave it out')
      return GridChoice(None, reason, how, tol, pixels, tried=tried)
  bounded, reason, pixels, worst = bound(grid, file_layouts, year, tol)
  if not pixels:
    reason = f'no pixel of {year} has a valid lon/lat'
  return GridChoice(bounded, reason, how, tol, pixels, worst, tried, like)
