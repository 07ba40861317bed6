"""The map's Cloud-Optimized GeoTIFFs, written tile by tile from the shards.

`write_map_rasters` writes, on the map's grid (`maps.pixel_grid`: its CRS,
cell size and extent) and in its CRS:

  classes.tif       uint8 class index, nodata 255, the classes' colour
                    table, mode-resampled overviews
  confidence.tif    float32 top class probability, nodata NaN, averaged
                    overviews
  and with a reference (`maps.reference`):
  reference.tif     the reference's class on the map's grid (uint8, nodata
                    255 where it is not scored), the same colours
  disagreement.tif  uint8: 0 the map agrees with the reference, 1 it
                    disagrees, 2 the reference is not scored there
                    (background, nodata, outside, double crop), 255 no pixel

How it stays bounded: one streamed pass over the shards' row, col,
class_index and confidence columns (lon/lat when a shard has no cells)
spills each pixel, 17 bytes, to a temporary file of its tile (`TILE` x
`TILE` cells); then tile by tile, the tile's pixels are loaded, checked and
written as a window of tiled GeoTIFFs, scored against the reference's
window, and dropped. Memory is one tile's worth (tens of bytes a cell,
some 50 MB for 1024 x 1024) whatever the map's size, with GDAL's block
cache capped (`GDAL_CACHE_MB`); GDAL's COG driver then builds the overviews and
the COG from the file. Disk: the spill (17 bytes a pixel) and the tiled
GeoTIFFs, beside the output.

A raster needs one pixel per cell: two pixels in one cell (overlapping
areas, a file given twice), or pixels on every other line of the grid (two
areas offset by half a cell, which a grid of half the cell size fits), give
no raster and a reason with the evidence, never a grid of the wrong size.
"""

import dataclasses
import math
import os
import shutil
import tempfile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from apache_beam.io.filesystems import FileSystems
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import rasterio
from rasterio.windows import Window
import rasterio.shutil

from croptfx import errors
from croptfx import features
from croptfx import layouts
from croptfx import paths
from croptfx.maps import grid as grid_lib
from croptfx.maps import pixels as pixels_lib
from croptfx.maps import reference as reference_lib
from croptfx.maps import scores as scores_lib
from croptfx.rows import reader

CLASSES_TIF = layouts.MAP_CLASSES_TIF
CONFIDENCE_TIF = layouts.MAP_CONFIDENCE_TIF
REFERENCE_TIF = layouts.MAP_REFERENCE_TIF
DISAGREEMENT_TIF = layouts.MAP_DISAGREEMENT_TIF
CLASS_NODATA = 255
CONFIDENCE_NODATA = float('nan')
AGREE, DISAGREE, NOT_SCORED = 0, 1, 2
DISAGREEMENT_NAMES = {AGREE: 'agrees', DISAGREE: 'disagrees', NOT_SCORED: 'not scored'}
DISAGREEMENT_COLORS = {AGREE: '#d4d4d4', DISAGREE: '#d7301f', NOT_SCORED: '#fdf1b8'}
# The COGs' block size: a multiple of 16 (TIFF), small enough that a
# 200 x 150 map has blocks and overviews.
BLOCK = 256
# Cells a side of a tile processed at once: a multiple of BLOCK, so windows
# are whole blocks.
TILE = 1024
# Overviews halve the size until the longest side is at most this.
SMALLEST_OVERVIEW = 64
# A grid this sparsely filled is not a map of an area (`grid.MIN_FILL`).
MIN_FILL = grid_lib.MIN_FILL
# Pixels on every other line: more one-line gaps (a pixel two lines on, none
# between) than neighbours and two-line gaps together, and at least this
# many. Pixels scattered at random over a grid, a share p of its cells, have
# (1 - p) / (1 + (1 - p)^2) <= 1/2 as many one-line gaps as those two.
MIN_STRIPE_EVIDENCE = 20
BATCH_ROWS = 65536
GDAL_CACHE_MB = 64

# Columns of the pixel shards.
CLASS_INDEX, CONFIDENCE = pixels_lib.CLASS_INDEX, pixels_lib.CONFIDENCE
ROW, COL = pixels_lib.ROW, pixels_lib.COL
LON, LAT = features.LON, features.LAT
# One spilled pixel: its cell within the tile, class, confidence, and where
# it came from (shard index << 40 | row in the shard), for the evidence.
_SPILL = np.dtype([('cell', '<u4'), ('cls', 'u1'), ('conf', '<f4'), ('pid', '<u8')])
_PID_SHIFT = 40
SKIP_NO_CELL = 'no cell of the grid'
SKIP_CLASS = 'missing or unknown class_index'


def _batches(pixel_files: Sequence[str]) -> Iterator[Tuple[int, int, pa.RecordBatch, bool]]:
  """(shard index, first row, batch, has cells) of every shard: the columns
  class_index, confidence and row, col (or lon, lat when it has no cells)."""
  for index, path in enumerate(pixel_files):
    try:
      with reader.open_file(path) as f:
        parquet_file = pq.ParquetFile(f)
        names = parquet_file.schema_arrow.names
        cells = ROW in names and COL in names
        columns = [CLASS_INDEX, CONFIDENCE] + ([ROW, COL] if cells else [LON, LAT])
        missing = [c for c in columns if c not in names]
        if missing:
          raise errors.InputDataError(path, f'no column {missing[0]!r}; pixel files need '
                                      f'{CLASS_INDEX}, {CONFIDENCE} and {ROW}, {COL} '
                                      f'or {LON}, {LAT}', missing[0])
        start = 0
        for batch in parquet_file.iter_batches(batch_size=BATCH_ROWS, columns=columns):
          yield index, start, batch, cells
          start += batch.num_rows
    except (pa.ArrowException, OSError) as e:
      raise errors.InputDataError(path, f'not a readable Parquet file: {e}') from e


@dataclasses.dataclass
class _Spill:
  """Pixels spilled to one file per tile, and what was counted on the way."""
  directory: str
  grid: grid_lib.Grid
  tile: int
  rows: int = 0
  kept: int = 0
  skipped: Dict[str, int] = dataclasses.field(
      default_factory=lambda: {SKIP_NO_CELL: 0, SKIP_CLASS: 0})

  @property
  def tiles_x(self) -> int:
    return -(-self.grid.width // self.tile)

  @property
  def tiles_y(self) -> int:
    return -(-self.grid.height // self.tile)

  def path(self, ty: int, tx: int) -> str:
    return os.path.join(self.directory, f'tile-{ty}-{tx}.bin')

  def window(self, ty: int, tx: int) -> Tuple[int, int, int, int]:
    """col_off, row_off, width, height of tile (ty, tx)."""
    col, row = tx * self.tile, ty * self.tile
    return (col, row, min(self.tile, self.grid.width - col),
            min(self.tile, self.grid.height - row))

  def add(self, shard: int, start: int, batch: pa.RecordBatch, cells: bool) -> None:
    n = batch.num_rows
    self.rows += n
    class_index = grid_lib.as_float(batch.column(0))
    confidence = grid_lib.as_float(batch.column(1)).astype(np.float32)
    if cells:
      rows, cols = grid_lib.as_float(batch.column(2)), grid_lib.as_float(batch.column(3))
    else:
      lon, lat = grid_lib.as_float(batch.column(2)), grid_lib.as_float(batch.column(3))
      ok = np.isfinite(lon) & np.isfinite(lat)
      rows, cols = np.full(n, np.nan), np.full(n, np.nan)
      if ok.any():
        r, c, _, _ = self.grid.locate(lon[ok], lat[ok])
        rows[ok], cols[ok] = r, c
    g = self.grid
    in_grid = (np.isfinite(rows) & np.isfinite(cols) & (rows >= 0) & (rows < g.height)
               & (cols >= 0) & (cols < g.width))
    good_class = ((class_index >= 0) & (class_index < features.NUM_CLASSES)
                  & (class_index == np.floor(class_index)))
    self.skipped[SKIP_NO_CELL] += int((~in_grid).sum())
    self.skipped[SKIP_CLASS] += int((in_grid & ~good_class).sum())
    keep = np.flatnonzero(in_grid & good_class)
    if not keep.size:
      return
    self.kept += keep.size
    rows, cols = rows[keep].astype(np.int64), cols[keep].astype(np.int64)
    ty, tx = rows // self.tile, cols // self.tile
    tile_id = ty * self.tiles_x + tx
    if self.tiles_x * self.tiles_y <= np.iinfo(np.uint16).max:
      tile_id = tile_id.astype(np.uint16)  # a stable sort of 16-bit keys is a radix sort
    spill = np.empty(keep.size, _SPILL)
    width = np.minimum(self.tile, g.width - tx * self.tile)
    spill['cell'] = (rows - ty * self.tile) * width + (cols - tx * self.tile)
    spill['cls'] = class_index[keep].astype(np.uint8)
    spill['conf'] = confidence[keep]
    spill['pid'] = (np.uint64(shard) << np.uint64(_PID_SHIFT)) + (start + keep).astype(np.uint64)
    order = np.argsort(tile_id, kind='stable')
    tile_id, spill = tile_id[order], spill[order]
    bounds = np.flatnonzero(np.diff(tile_id)) + 1
    for part in np.split(np.arange(len(tile_id)), bounds):
      t = int(tile_id[part[0]])
      with open(self.path(t // self.tiles_x, t % self.tiles_x), 'ab') as f:
        f.write(spill[part].tobytes())

  def load(self, ty: int, tx: int) -> np.ndarray:
    path = self.path(ty, tx)
    return np.fromfile(path, dtype=_SPILL) if os.path.exists(path) else np.zeros(0, _SPILL)


def overview_count(width: int, height: int) -> int:
  """Halvings until the longest side is at most SMALLEST_OVERVIEW; at least 1."""
  longest = max(width, height)
  wanted = math.ceil(math.log2(longest / SMALLEST_OVERVIEW)) if longest > SMALLEST_OVERVIEW else 1
  return max(1, min(wanted, int(math.floor(math.log2(longest)))))


def _rgba(color: str):
  return tuple(int(color[k:k + 2], 16) for k in (1, 3, 5)) + (255,)


def class_colormap():
  table = {i: _rgba(color) for i, color in enumerate(features.CLASS_COLORS.values())}
  table[CLASS_NODATA] = (0, 0, 0, 0)
  return table


def disagreement_colormap():
  table = {k: _rgba(c) for k, c in DISAGREEMENT_COLORS.items()}
  table[CLASS_NODATA] = (0, 0, 0, 0)
  return table


def cell_area_ha(grid: grid_lib.Grid) -> Optional[float]:
  """Hectares of a cell of a projected grid: dx * dy in the CRS's unit, in
  metres (equal-area in EPSG:5070; within 0.1-0.2% of the ground in a UTM
  zone). None for a geographic grid, whose cells shrink to the poles."""
  crs = pyproj.CRS.from_user_input(grid.crs)
  if crs.is_geographic:
    return None
  metres = crs.axis_info[0].unit_conversion_factor
  return grid.dx * grid.dy * metres ** 2 / 1e4


def row_areas_ha(grid: grid_lib.Grid, row_off: int, height: int) -> np.ndarray:
  """Hectares of one cell in each of rows row_off .. row_off + height - 1: the
  cell size of a projected grid, the geodesic area on the CRS's ellipsoid of
  a geographic one."""
  constant = cell_area_ha(grid)
  if constant is not None:
    return np.full(height, constant)
  geod = pyproj.CRS.from_user_input(grid.crs).get_geod()
  west, east = grid.west, grid.west + grid.dx
  areas = np.empty(height)
  for i in range(height):
    top = grid.north - (row_off + i) * grid.dy
    bottom = top - grid.dy
    area, _ = geod.polygon_area_perimeter([west, east, east, west], [bottom, bottom, top, top])
    areas[i] = abs(area) / 1e4
  return areas


class _Areas:
  """Hectares per key, summed tile by tile: counts times the cell size on a
  projected grid (exact), geodesic areas row by row on a geographic one."""

  def __init__(self, grid: grid_lib.Grid, size: int):
    self._grid, self._constant = grid, cell_area_ha(grid)
    self._cells = np.zeros(size, np.int64)
    self._weighted = np.zeros(size)

  def add(self, keys: np.ndarray, mask: np.ndarray, row_off: int) -> None:
    """`keys` of the cells of a tile where `mask` ([rows, cols] of the tile,
    from `row_off`) is set, in row-major order."""
    self._cells += np.bincount(keys, minlength=len(self._cells))
    if self._constant is None:
      areas = row_areas_ha(self._grid, row_off, mask.shape[0])
      weights = np.broadcast_to(areas[:, None], mask.shape)[mask]
      self._weighted += np.bincount(keys, weights=weights, minlength=len(self._cells))

  def hectares(self) -> np.ndarray:
    return (self._cells * self._constant if self._constant is not None
            else self._weighted)


@dataclasses.dataclass
class _Checks:
  """One pixel per cell, and not on every other line, over all tiles."""
  cells_filled: int = 0
  duplicate_cells: int = 0
  duplicate_pixels: int = 0
  duplicate_example: Optional[Tuple[int, int, int, int]] = None  # pid, pid, row, col
  # Pixels with a pixel two lines on and none between; with one next to
  # them; with one three lines on and none between.
  gaps: Dict[str, int] = dataclasses.field(default_factory=lambda: {'rows': 0, 'columns': 0})
  adjacent: Dict[str, int] = dataclasses.field(
      default_factory=lambda: {'rows': 0, 'columns': 0})
  wide_gaps: Dict[str, int] = dataclasses.field(
      default_factory=lambda: {'rows': 0, 'columns': 0})

  def add(self, spill: np.ndarray, row_off: int, col_off: int, width: int,
          height: int) -> np.ndarray:
    """Checks a tile's pixels; returns its cells that hold one ([height, width])."""
    cells = spill['cell']
    filled = np.zeros(width * height, bool)
    filled[cells] = True
    n_filled = int(np.count_nonzero(filled))
    self.cells_filled += n_filled
    if n_filled < len(cells):  # two pixels in a cell: count them (rare, so here)
      counts = np.bincount(cells, minlength=width * height)
      dup = counts > 1
      self.duplicate_cells += int(dup.sum())
      self.duplicate_pixels += len(cells) - n_filled
      if self.duplicate_example is None:
        cell = int(np.argmax(dup))
        pids = spill['pid'][cells == cell][:2]
        self.duplicate_example = (int(pids[0]), int(pids[1]),
                                  row_off + cell // width, col_off + cell % width)
      del counts, dup
    occupied = filled.reshape(height, width)
    for axis, occ in (('rows', occupied), ('columns', occupied.T)):
      self.adjacent[axis] += int((occ[:-1] & occ[1:]).sum())
      self.gaps[axis] += int((occ[:-2] & ~occ[1:-1] & occ[2:]).sum())
      self.wide_gaps[axis] += int((occ[:-3] & ~occ[1:-2] & ~occ[2:-1] & occ[3:]).sum())
    return occupied

  def striped(self) -> Optional[str]:
    for axis in ('rows', 'columns'):
      gaps = self.gaps[axis]
      if gaps >= MIN_STRIPE_EVIDENCE and gaps > self.adjacent[axis] + self.wide_gaps[axis]:
        return axis
    return None


class _Writer:
  """The tiled GeoTIFFs of one map, filled window by window."""

  def __init__(self, directory: str, grid: grid_lib.Grid, with_reference: bool):
    self.paths: Dict[str, str] = {}
    self._datasets = {}
    class_tags = {f'CLASS_{i}': name for i, name in enumerate(features.CLASS_NAMES)}
    specs = [(CLASSES_TIF, 'uint8', CLASS_NODATA, {'VALUES': 'class index', **class_tags},
              class_colormap()),
             (CONFIDENCE_TIF, 'float32', CONFIDENCE_NODATA,
              {'VALUES': 'top class probability'}, None)]
    if with_reference:
      specs += [
          (REFERENCE_TIF, 'uint8', CLASS_NODATA,
           {'VALUES': 'class index of the reference (label mapping of its CDL codes)',
            **class_tags}, class_colormap()),
          (DISAGREEMENT_TIF, 'uint8', CLASS_NODATA,
           {'VALUES': 'map against reference',
            **{f'VALUE_{k}': v for k, v in DISAGREEMENT_NAMES.items()}},
           disagreement_colormap())]
    for name, dtype, nodata, tags, colormap in specs:
      path = os.path.join(directory, 'tiled-' + name)
      ds = rasterio.open(path, 'w', driver='GTiff', width=grid.width, height=grid.height,
                         count=1, dtype=dtype, crs=grid.crs, transform=grid.transform,
                         nodata=nodata, tiled=True, blockxsize=BLOCK, blockysize=BLOCK,
                         compress='deflate', zlevel=1, BIGTIFF='IF_SAFER')
      ds.update_tags(**tags)
      if colormap:
        ds.write_colormap(1, colormap)
      self._datasets[name], self.paths[name] = ds, path

  def write(self, name: str, array: np.ndarray, window) -> None:
    self._datasets[name].write(array, 1, window=window)

  def close(self) -> None:
    for ds in self._datasets.values():
      ds.close()


_RESAMPLING = {CLASSES_TIF: 'MODE', CONFIDENCE_TIF: 'AVERAGE', REFERENCE_TIF: 'MODE',
               DISAGREEMENT_TIF: 'MODE'}


def _to_cog(src: str, dst: str, resampling: str, grid: grid_lib.Grid) -> None:
  rasterio.shutil.copy(
      src, dst, driver='COG', BLOCKSIZE=BLOCK, COMPRESS='DEFLATE', PREDICTOR='YES',
      OVERVIEWS='IGNORE_EXISTING', OVERVIEW_RESAMPLING=resampling,
      OVERVIEW_COUNT=overview_count(grid.width, grid.height), BIGTIFF='IF_SAFER')


class _Scoring:
  """The confusion matrix, areas and exclusions against a reference, tile by tile."""

  def __init__(self, reference, grid: grid_lib.Grid):
    self.reference = reference
    k = features.NUM_CLASSES
    self.confusion = np.zeros(k * k, np.int64)
    self.area = _Areas(grid, k * k)
    self.excluded = {r: 0 for r in reference_lib.REASONS}
    self.unknown = 0

  def add(self, window, classes: np.ndarray, mapped: np.ndarray):
    """Scores a tile (`mapped`: its cells with a pixel); returns its
    reference classes and disagreement arrays."""
    ref = reference_lib
    ref_class, reason, unknown = self.reference.read(window)
    scored = mapped & (reason == ref.SCORED)
    k = features.NUM_CLASSES
    # k * k = 49 keys: one byte each.
    index = (ref_class[scored].astype(np.uint8) * np.uint8(k) + classes[scored])
    self.confusion += np.bincount(index, minlength=k * k)
    self.area.add(index, scored, window.row_off)
    for name, code in ref.REASON_CODE.items():
      self.excluded[name] += int((mapped & (reason == code)).sum())
    self.unknown += int((mapped & unknown).sum())
    disagreement = np.full(classes.shape, CLASS_NODATA, np.uint8)
    disagreement[mapped] = NOT_SCORED
    disagreement[scored] = np.where(ref_class[scored] == classes[scored], AGREE, DISAGREE)
    reference_classes = np.where(reason == ref.SCORED, ref_class, CLASS_NODATA).astype(np.uint8)
    return reference_classes, disagreement

  def summary(self) -> Dict[str, object]:
    k = features.NUM_CLASSES
    result = scores_lib.score(self.confusion.reshape(k, k), self.area.hectares().reshape(k, k),
                              features.CLASS_NAMES)
    return {**self.reference.info(), **result,
            'not_scored': dict(self.excluded), 'unknown_code_cells': self.unknown}


def _pixel_lonlat(pixel_files: Sequence[str], pid: int) -> Tuple[float, float]:
  shard, row = pid >> _PID_SHIFT, pid & ((1 << _PID_SHIFT) - 1)
  with reader.open_file(pixel_files[shard]) as f:
    table = pq.ParquetFile(f).read(columns=[LON, LAT])
  return table.column(LON)[row].as_py(), table.column(LAT)[row].as_py()


def _duplicates_reason(checks: _Checks, pixel_files: Sequence[str]) -> str:
  a, b, row, col = checks.duplicate_example
  (lon1, lat1), (lon2, lat2) = _pixel_lonlat(pixel_files, a), _pixel_lonlat(pixel_files, b)
  return (f'{checks.duplicate_cells:,} cells hold more than one pixel '
          f'({checks.duplicate_pixels:,} pixels too many; e.g. lon/lat {lon1:.6f}, '
          f'{lat1:.6f} and {lon2:.6f}, {lat2:.6f} share row {row}, col {col}): '
          'overlapping areas, or the same pixels twice? A map needs one pixel per cell')


def _stripes_reason(checks: _Checks, axis: str) -> str:
  return (f'the pixels lie on every other {axis[:-1]} of the grid '
          f'({checks.gaps[axis]:,} pixels have one two {axis} on and none between, '
          f'{checks.adjacent[axis]:,} have one in the next {axis[:-1]}): the grid fitted '
          'is likely half the pixels\' size, e.g. two areas offset by half a cell')


def write_map_rasters(pixel_files: Sequence[str], output_dir: str,
                      grid: Optional[grid_lib.Grid], no_grid_reason: Optional[str] = None,
                      reference: Optional[str] = None, label_mapping: Optional[str] = None,
                      tile: int = TILE) -> dict:
  """Writes the rasters (see the module doc) into `output_dir` when the
  pixels have one cell each of `grid`; returns what was done and why.

  Keys: written, reason (why not, else None), classes_tif, confidence_tif,
  reference_tif, disagreement_tif, grid (`Grid.to_dict()`), pixels (rows
  read), skipped ({reason: rows}), cells_filled, duplicate_cells (cells two or
  more pixels fell on), duplicate_pixels (pixels beyond one a cell), stripes
  (one-line gaps and neighbours per axis), tiles, map_area_ha (per class),
  reference (the scores, `maps.scores`, or None).
  pixels == sum(skipped) + cells_filled + duplicate_pixels.
  """
  if tile % BLOCK:
    raise ValueError(f'tile must be a multiple of {BLOCK}, got {tile}')
  summary = {'written': False, 'reason': None, 'classes_tif': None, 'confidence_tif': None,
             'reference_tif': None, 'disagreement_tif': None,
             'grid': grid.to_dict() if grid else None, 'pixels': 0, 'skipped': {},
             'cells_filled': 0, 'duplicate_cells': 0, 'duplicate_pixels': 0, 'stripes': None,
             'tiles': None, 'map_area_ha': None, 'cell_area_ha': None, 'reference': None}
  if grid is None:
    summary['pixels'] = sum(b.num_rows for _, _, b, _ in _batches(pixel_files))
    return _not_written(summary, no_grid_reason or 'the pixels lie on no grid')
  remote = paths.is_uri(output_dir)
  target = tempfile.mkdtemp(prefix='croptfx-map-') if remote else output_dir
  os.makedirs(target, exist_ok=True)
  try:
    with tempfile.TemporaryDirectory(dir=target, prefix='.rasters-') as tmp:
      written = _write(pixel_files, grid, tmp, target, summary, reference, label_mapping, tile)
    if written and remote:
      for name in written:
        copy_to(os.path.join(target, name), paths.join(output_dir, name))
  finally:
    if remote:
      shutil.rmtree(target, ignore_errors=True)
  if written:
    summary.update(written=True, **{key: paths.join(output_dir, name) for key, name in (
        ('classes_tif', CLASSES_TIF), ('confidence_tif', CONFIDENCE_TIF),
        ('reference_tif', REFERENCE_TIF), ('disagreement_tif', DISAGREEMENT_TIF))
        if name in written})
  return summary


def copy_to(local_path: str, target: str) -> None:
  """Copies a local file to `target` on any Beam file system (an object
  appears whole when closed)."""
  with open(local_path, 'rb') as src, FileSystems.create(target) as dst:
    shutil.copyfileobj(src, dst)


def _not_written(summary, reason):
  summary.update(written=False, reason=reason)
  return summary


def _refuse(summary, reason) -> List[str]:
  """No raster, and why: nothing to move into the output."""
  _not_written(summary, reason)
  return []


def _write(pixel_files, grid, tmp, target, summary, reference, label_mapping, tile
           ) -> List[str]:
  """The work of `write_map_rasters` in `tmp`; the names moved to `target`
  (none when no raster is written)."""
  spill = _Spill(os.path.join(tmp, 'spill'), grid, tile)
  os.makedirs(spill.directory)
  for shard, start, batch, cells in _batches(pixel_files):
    spill.add(shard, start, batch, cells)
  summary.update(pixels=spill.rows, skipped=dict(spill.skipped),
                 tiles={'size': tile, 'count': spill.tiles_x * spill.tiles_y,
                        'across': spill.tiles_x, 'down': spill.tiles_y})
  if not spill.kept:
    return _refuse(summary, 'no pixels with a cell of the grid and a class')
  if spill.kept / grid.cells < MIN_FILL:
    return _refuse(summary, (
        f'the grid of {grid.width} x {grid.height} cells would be only '
        f'{100 * spill.kept / grid.cells:.2g}% filled by {spill.kept} pixels '
        f'(at least {100 * MIN_FILL:g}% needed)'))
  checks = _Checks()
  map_area = _Areas(grid, features.NUM_CLASSES)
  scoring = None
  if reference:
    scoring = _Scoring(reference_lib.Reference(reference, grid, label_mapping), grid)
  try:
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
      writer = _Writer(tmp, grid, scoring is not None)
      try:
        for ty in range(spill.tiles_y):
          for tx in range(spill.tiles_x):
            col_off, row_off, width, height = spill.window(ty, tx)
            pixels = spill.load(ty, tx)
            mapped = checks.add(pixels, row_off, col_off, width, height)
            classes = np.full(width * height, CLASS_NODATA, np.uint8)
            classes[pixels['cell']] = pixels['cls']
            confidence = np.full(width * height, CONFIDENCE_NODATA, np.float32)
            confidence[pixels['cell']] = pixels['conf']
            del pixels
            classes = classes.reshape(height, width)
            window = Window(col_off, row_off, width, height)
            writer.write(CLASSES_TIF, classes, window)
            writer.write(CONFIDENCE_TIF, confidence.reshape(height, width), window)
            del confidence
            map_area.add(classes[mapped], mapped, row_off)
            if scoring is not None:
              reference_classes, disagreement = scoring.add(window, classes, mapped)
              writer.write(REFERENCE_TIF, reference_classes, window)
              writer.write(DISAGREEMENT_TIF, disagreement, window)
      finally:
        writer.close()
      summary.update(cells_filled=checks.cells_filled, duplicate_cells=checks.duplicate_cells,
                     duplicate_pixels=checks.duplicate_pixels,
                     stripes={'one_line_gaps': checks.gaps, 'neighbours': checks.adjacent,
                              'two_line_gaps': checks.wide_gaps},
                     map_area_ha={name: scores_lib.hectares(v) for name, v in
                                  zip(features.CLASS_NAMES, map_area.hectares().tolist())},
                     cell_area_ha=cell_area_ha(grid))
      if checks.duplicate_cells:
        return _refuse(summary, _duplicates_reason(checks, pixel_files))
      striped = checks.striped()
      if striped:
        return _refuse(summary, _stripes_reason(checks, striped))
      if scoring is not None:
        summary['reference'] = scoring.summary()
      shutil.rmtree(spill.directory)
      names = list(writer.paths)
      for name in names:
        cog = os.path.join(tmp, name)
        _to_cog(writer.paths[name], cog, _RESAMPLING[name], grid)
        os.remove(writer.paths[name])
        os.replace(cog, os.path.join(target, name))
      return names
  finally:
    if scoring is not None:
      scoring.reference.close()
