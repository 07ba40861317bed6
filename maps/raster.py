"""The map's Cloud-Optimized GeoTIFFs: class index and confidence per cell.

`write_map_rasters` reads the lon, lat, class_index and confidence columns of
the map job's GeoParquet shards batch by batch, decides whether the pixels lie
on a regular lon/lat grid (`maps.grid.detect_grid`) and, if they do, writes
`classes.tif` (uint8 class index, nodata 255, the classes' colour table,
mode-resampled overviews) and `confidence.tif` (float32 top probability,
nodata NaN, averaged overviews), both EPSG:4326 COGs written with rasterio.

How it scales: the parallel part of the map job (Beam workers, Dataflow at
regional scale) classifies pixels and writes GeoParquet shards; this step then
streams those shards into one grid on one machine. It holds the four columns
of every pixel and their sort order (about 100 bytes a pixel at peak: 0.63 GB
and 16 s for 6 million pixels on a 3000 x 2000 grid, measured) but never the
whole raster: the grid is written one strip of `BLOCK` rows at a time and
GDAL's COG driver builds the overviews from the file. Beyond that (a state at 10 m is billions of pixels) the same code would
run per output tile: the Beam job keys each pixel by its tile of the grid,
and each tile's pixels are written as one COG by a worker, with a VRT or
STAC catalogue over the tiles.
"""

import contextlib
import math
import os
import shutil
import tempfile
from typing import Dict, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rasterio.windows import Window
import rasterio
import rasterio.shutil
import tensorflow as tf

from croptfx import errors
from croptfx import features
from croptfx import layouts
from croptfx.maps import grid as grid_lib
from croptfx import paths

CLASSES_TIF = layouts.MAP_CLASSES_TIF
CONFIDENCE_TIF = layouts.MAP_CONFIDENCE_TIF
CLASS_NODATA = 255
CONFIDENCE_NODATA = float('nan')
# Rows per written strip and the COGs' tile size: a multiple of 16 (TIFF),
# small enough that a 200 x 150 map has tiles and overviews.
BLOCK = 256
# Overviews halve the size until the longest side is at most this.
SMALLEST_OVERVIEW = 64
# A grid this sparsely filled is not a map of an area (pixels sampled far
# apart on a fine grid): the raster would be almost all nodata.
MIN_FILL = 0.01
BATCH_ROWS = 65536

LON, LAT = features.LON, features.LAT
CLASS_INDEX = 'class_index'
CONFIDENCE = 'confidence'
COLUMNS = (LON, LAT, CLASS_INDEX, CONFIDENCE)


@contextlib.contextmanager
def _open(path: str):
  if paths.is_uri(path):
    with tf.io.gfile.GFile(path, 'rb') as f:
      yield f
  else:
    with open(path, 'rb') as f:
      yield f


def _batches(pixel_files: Sequence[str]) -> Iterator[pa.RecordBatch]:
  for path in pixel_files:
    try:
      with _open(path) as f:
        parquet_file = pq.ParquetFile(f)
        missing = [c for c in COLUMNS if c not in parquet_file.schema_arrow.names]
        if missing:
          raise errors.InputDataError(path, f'no column {missing[0]!r}; pixel files need '
                                      f'{", ".join(COLUMNS)}', missing[0])
        yield from parquet_file.iter_batches(batch_size=BATCH_ROWS, columns=list(COLUMNS))
    except (pa.ArrowException, OSError) as e:
      raise errors.InputDataError(path, f'not a readable Parquet file: {e}') from e


def _as_float(column: pa.Array) -> np.ndarray:
  """float64 values with NaN for nulls and values of a non-numeric type."""
  try:
    column = column.cast(pa.float64())
  except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
    return np.full(len(column), np.nan)
  return column.to_numpy(zero_copy_only=False)


def read_pixels(pixel_files: Sequence[str]) -> Dict[str, object]:
  """The four columns of every usable pixel, and counts of the others by reason."""
  parts = {name: [] for name in COLUMNS}
  skipped = {'missing or invalid lon/lat': 0, 'missing or unknown class_index': 0}
  rows = 0
  for batch in _batches(pixel_files):
    rows += batch.num_rows
    lon = _as_float(batch.column(LON))
    lat = _as_float(batch.column(LAT))
    class_index = _as_float(batch.column(CLASS_INDEX))
    confidence = _as_float(batch.column(CONFIDENCE))
    good_coords = (np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180)
                   & (np.abs(lat) <= 90))
    good_class = ((class_index >= 0) & (class_index < features.NUM_CLASSES)
                  & (class_index == np.floor(class_index)))
    skipped['missing or invalid lon/lat'] += int((~good_coords).sum())
    skipped['missing or unknown class_index'] += int((good_coords & ~good_class).sum())
    keep = good_coords & good_class
    parts[LON].append(lon[keep])
    parts[LAT].append(lat[keep])
    parts[CLASS_INDEX].append(class_index[keep].astype(np.uint8))
    parts[CONFIDENCE].append(confidence[keep].astype(np.float32))
  dtypes = {LON: np.float64, LAT: np.float64, CLASS_INDEX: np.uint8, CONFIDENCE: np.float32}
  arrays = {name: np.concatenate(parts[name]) if parts[name] else np.zeros(0, dtypes[name])
            for name in COLUMNS}
  return {'rows': rows, 'skipped': skipped, **arrays}


def resolve_duplicates(cell: np.ndarray, class_index: np.ndarray, confidence: np.ndarray):
  """Indices of one pixel per cell, sorted by cell, and the duplicated cells.

  Where pixels share a cell, the one with the higher confidence is kept (a
  missing confidence counts as lowest), ties go to the lower class index,
  then to the earlier pixel: the same input gives the same raster.
  """
  score = np.where(np.isnan(confidence), -np.inf, confidence.astype(np.float64))
  order = np.lexsort((np.arange(len(cell)), class_index, -score, cell))
  sorted_cell = cell[order]
  first = np.ones(len(order), dtype=bool)
  first[1:] = sorted_cell[1:] != sorted_cell[:-1]
  kept = order[first]
  # A duplicated cell is one whose first pixel is followed by another.
  dup_cells = int((first[:-1] & ~first[1:]).sum()) if len(order) else 0
  return kept, dup_cells


def overview_count(width: int, height: int) -> int:
  """Halvings until the longest side is at most SMALLEST_OVERVIEW; at least 1."""
  longest = max(width, height)
  wanted = math.ceil(math.log2(longest / SMALLEST_OVERVIEW)) if longest > SMALLEST_OVERVIEW else 1
  return max(1, min(wanted, int(math.floor(math.log2(longest)))))


def _colormap():
  table = {i: tuple(int(color[k:k + 2], 16) for k in (1, 3, 5)) + (255,)
           for i, color in enumerate(features.CLASS_COLORS.values())}
  table[CLASS_NODATA] = (0, 0, 0, 0)
  return table


def _write_strips(path, grid, dtype, nodata, rows, cols, values, tags, colormap=None):
  """A tiled GTiff filled strip by strip from pixels sorted by (row, col)."""
  profile = dict(driver='GTiff', width=grid.width, height=grid.height, count=1,
                 dtype=dtype, crs='EPSG:4326', transform=grid.transform, nodata=nodata,
                 tiled=True, blockxsize=BLOCK, blockysize=BLOCK, compress='deflate',
                 BIGTIFF='IF_SAFER')
  with rasterio.open(path, 'w', **profile) as ds:
    for top in range(0, grid.height, BLOCK):
      bottom = min(top + BLOCK, grid.height)
      lo, hi = np.searchsorted(rows, [top, bottom])
      strip = np.full((bottom - top, grid.width), nodata, dtype=dtype)
      strip[rows[lo:hi] - top, cols[lo:hi]] = values[lo:hi]
      ds.write(strip, 1, window=Window(0, top, grid.width, bottom - top))
    ds.update_tags(**tags)
    if colormap:
      ds.write_colormap(1, colormap)


def _to_cog(src, dst, resampling, grid):
  rasterio.shutil.copy(
      src, dst, driver='COG', BLOCKSIZE=BLOCK, COMPRESS='DEFLATE', PREDICTOR='YES',
      OVERVIEWS='IGNORE_EXISTING', OVERVIEW_RESAMPLING=resampling,
      OVERVIEW_COUNT=overview_count(grid.width, grid.height), BIGTIFF='IF_SAFER')


def _not_written(summary, reason):
  summary.update(written=False, reason=reason)
  return summary


def write_map_rasters(pixel_files: Sequence[str], output_dir: str,
                      tolerance: float = grid_lib.DEFAULT_TOLERANCE) -> dict:
  """Writes classes.tif and confidence.tif into `output_dir` when the pixels
  lie on a regular lon/lat grid; returns what was done and why.

  Keys: written, reason (why not, else None), classes_tif, confidence_tif,
  grid (Grid.to_dict()), pixels (rows read), skipped ({reason: rows}),
  cells_filled, duplicate_cells (cells two or more pixels fell on),
  duplicate_pixels (pixels not drawn because another won their cell).
  pixels == sum(skipped) + cells_filled + duplicate_pixels.
  """
  data = read_pixels(pixel_files)
  summary = {'written': False, 'reason': None, 'classes_tif': None, 'confidence_tif': None,
             'grid': None, 'pixels': data['rows'], 'skipped': data['skipped'],
             'cells_filled': 0, 'duplicate_cells': 0, 'duplicate_pixels': 0,
             'tolerance_cells': tolerance}
  lon, lat = data[LON], data[LAT]
  if len(lon) == 0:
    return _not_written(summary, 'no pixels with a valid lon/lat and class')
  grid, reason = grid_lib.detect_grid(lon, lat, tolerance)
  if grid is None:
    return _not_written(summary, f'the pixels do not lie on a regular lon/lat grid: {reason}')
  summary['grid'] = grid.to_dict()
  rows, cols = grid.index(lon, lat)
  cell = rows * grid.width + cols
  kept, dup_cells = resolve_duplicates(cell, data[CLASS_INDEX], data[CONFIDENCE])
  summary.update(cells_filled=len(kept), duplicate_cells=dup_cells,
                 duplicate_pixels=len(lon) - len(kept))
  fill = len(kept) / grid.cells
  if fill < MIN_FILL:
    return _not_written(summary, (
        f'the grid of {grid.width} x {grid.height} cells would be only {100 * fill:.2g}% '
        f'filled by {len(kept)} pixels (at least {100 * MIN_FILL:g}% needed)'))
  rows, cols = rows[kept], cols[kept]
  class_tags = {f'CLASS_{i}': name for i, name in enumerate(features.CLASS_NAMES)}
  remote = paths.is_uri(output_dir)
  target = tempfile.mkdtemp(prefix='croptfx-map-') if remote else output_dir
  os.makedirs(target, exist_ok=True)
  try:
    with tempfile.TemporaryDirectory(dir=target, prefix='.rasters-') as tmp:
      for name, dtype, nodata, values, resampling, tags, colormap in (
          (CLASSES_TIF, 'uint8', CLASS_NODATA, data[CLASS_INDEX][kept], 'MODE',
           {'VALUES': 'class index', **class_tags}, _colormap()),
          (CONFIDENCE_TIF, 'float32', CONFIDENCE_NODATA, data[CONFIDENCE][kept], 'AVERAGE',
           {'VALUES': 'top class probability'}, None)):
        strips = os.path.join(tmp, 'strips-' + name)
        _write_strips(strips, grid, dtype, nodata, rows, cols, values, tags, colormap)
        cog = os.path.join(tmp, name)
        _to_cog(strips, cog, resampling, grid)
        os.replace(cog, os.path.join(target, name))
    if remote:
      tf.io.gfile.makedirs(output_dir)
      for name in (CLASSES_TIF, CONFIDENCE_TIF):
        tf.io.gfile.copy(os.path.join(target, name), f'{output_dir.rstrip("/")}/{name}',
                         overwrite=True)
  finally:
    if remote:
      shutil.rmtree(target, ignore_errors=True)
  join = (lambda name: f'{output_dir.rstrip("/")}/{name}') if remote else (
      lambda name: os.path.join(output_dir, name))
  summary.update(written=True, classes_tif=join(CLASSES_TIF),
                 confidence_tif=join(CONFIDENCE_TIF))
  return summary
