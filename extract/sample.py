"""One chunk's reads: its labels, and a scene's values at its pixel centres.

Every raster is read once per work item with one windowed read (rasterio;
local files, `http(s)://`, `s3://`, `gs://` through GDAL's virtual file
systems, credentials only from the environment): the window is the smallest
one holding the chunk's pixel centres, never the whole scene, so memory is
bounded by the chunk.

Nearest sampling: a pixel takes the value of the cell of each band's own
grid (10, 20 or 60 m, in the scene's UTM zone) that contains its centre,
the cell [x0 + i res, x0 + (i + 1) res) x (y0 - (j + 1) res, y0 - j res]; a
centre on a cell's west or north edge belongs to that cell. No
interpolation: the value is a pixel the scene holds (as Part 1's were). SCL
likewise, on its 20 m grid.

A pixel is covered by a scene when its centre is inside every one of the 13
rasters; a covered sample is `nodata` when all 12 bands hold their nodata
value (outside the swath: no observation; left out and counted), otherwise
it is a sample, harmonized (`items.harmonization`). An asset that cannot be
opened or read makes the work item's samples lost: the pixels in the item's
footprint are counted as `unreadable_asset`, with one line naming the asset.
"""

import collections
import dataclasses
from typing import Dict, List, Optional, Tuple

import numpy as np
import pyproj
import rasterio
from rasterio import windows
import shapely

from croptfx import features
from croptfx.extract import chunks as chunks_lib
from croptfx.extract import items as items_lib

# GDAL settings for reading COGs over HTTP and object stores: no directory
# listing on open (one request less per file), merged and multiplexed range
# requests, retries. Credentials come from the environment only.
GDAL_OPTIONS = {
    'GDAL_DISABLE_READDIR_ON_OPEN': 'EMPTY_DIR',
    'GDAL_HTTP_MERGE_CONSECUTIVE_RANGES': 'YES',
    'GDAL_HTTP_MULTIPLEX': 'YES',
    'GDAL_HTTP_MAX_RETRY': '3',
    'GDAL_HTTP_RETRY_DELAY': '1',
    'GDAL_INGESTED_BYTES_AT_OPEN': '32768',
    'VSI_CACHE': 'TRUE',
}
L2A_NODATA = 0


@dataclasses.dataclass
class LabelBlock:
  """A block's cells: label codes (None on a `--grid`), area and lon/lat."""
  codes: Optional[np.ndarray]  # uint8-ish codes, one per cell (row-major)
  in_area: np.ndarray  # bool
  lon: np.ndarray  # float64
  lat: np.ndarray
  label_nodata: Optional[float] = None


@dataclasses.dataclass
class SceneBlock:
  """One scene's samples of a block's cells (indices row-major in the block)."""
  item_id: str
  tile: str
  day: int
  harmonized: bool
  cells: np.ndarray  # int16 (a block has at most 64 x 64 cells), cells with a sample
  bands: np.ndarray  # uint16 [len(cells), 12]
  scl: np.ndarray  # uint8 [len(cells)]
  nodata_cells: np.ndarray  # int16, covered cells without an observation
  lost_cells: np.ndarray  # int16, cells of an unreadable work item


@dataclasses.dataclass
class Unreadable:
  """An asset that could not be read for a work item."""
  item_id: str
  asset: str
  href: str  # redacted
  error: str

  @property
  def line(self) -> str:
    return f'item {self.item_id} asset {self.asset} ({self.href}): {self.error}'


_EMPTY = np.zeros(0, np.int16)


class _PointCache:
  """The chunk's cell centres in a CRS, kept for the next work items of the
  same chunk (transforming them costs more than indexing)."""

  def __init__(self, size: int = 16):
    self._size = size
    self._entries: 'collections.OrderedDict' = collections.OrderedDict()

  def points(self, chunk: chunks_lib.Chunk, crs) -> Tuple[np.ndarray, np.ndarray]:
    crs_key = crs.to_wkt() if hasattr(crs, 'to_wkt') else str(crs)
    key = (chunk.grid, chunk.row0, chunk.col0, chunk.height, chunk.width, crs_key)
    if key in self._entries:
      self._entries.move_to_end(key)
      return self._entries[key]
    x, y = chunk.grid.centres(chunk.row0, chunk.col0, chunk.height, chunk.width)
    source = pyproj.CRS.from_user_input(chunk.grid.crs)
    target = pyproj.CRS.from_user_input(crs_key)
    if source != target:
      x, y = pyproj.Transformer.from_crs(source, target, always_xy=True).transform(x, y)
      x, y = np.asarray(x), np.asarray(y)
    self._entries[key] = (x, y)
    if len(self._entries) > self._size:
      self._entries.popitem(last=False)
    return x, y


POINTS = _PointCache()


def _first_line(error: BaseException) -> str:
  text = str(error).strip().splitlines()
  return text[0] if text else type(error).__name__


def read_at(dataset, x: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """The values of band 1 of an open raster at points of its CRS (the cell
  containing each point) with one windowed read; and which points are inside."""
  col_f, row_f = ~dataset.transform @ (x, y)
  col = np.floor(col_f).astype(np.int64)
  row = np.floor(row_f).astype(np.int64)
  inside = (col >= 0) & (col < dataset.width) & (row >= 0) & (row < dataset.height)
  values = np.zeros(len(x), dataset.dtypes[0])
  if inside.any():
    r, c = row[inside], col[inside]
    r0, c0 = int(r.min()), int(c.min())
    window = windows.Window(c0, r0, int(c.max()) - c0 + 1, int(r.max()) - r0 + 1)
    data = dataset.read(1, window=window)
    values[inside] = data[r - r0, c - c0]
  return values, inside


def _block_split(chunk: chunks_lib.Chunk):
  """For each block: (index, the chunk cells it holds, as a flat index array)."""
  for index, r, c, h, w in chunk.blocks():
    rows, cols = np.meshgrid(np.arange(r, r + h), np.arange(c, c + w), indexing='ij')
    yield index, (rows * chunk.width + cols).ravel()


def label_blocks(chunk: chunks_lib.Chunk, aoi=None) -> List[Tuple[int, LabelBlock]]:
  """The chunk's label codes (one windowed read), area mask and lon/lat, by block."""
  lon, lat = POINTS.points(chunk, 'EPSG:4326')
  in_area = aoi.contains(lon, lat) if aoi is not None else np.ones(len(lon), bool)
  codes, nodata = None, None
  if chunk.label is not None:
    label = chunk.label
    window = windows.Window(chunk.col0 - label.col_off, chunk.row0 - label.row_off,
                            chunk.width, chunk.height)
    with rasterio.Env(**GDAL_OPTIONS), rasterio.open(label.href) as ds:
      codes = ds.read(1, window=window).ravel()
    nodata = label.nodata
  return [(index, LabelBlock(None if codes is None else codes[cells], in_area[cells],
                             lon[cells], lat[cells], nodata))
          for index, cells in _block_split(chunk)]


def _harmonize(raw: np.ndarray, asset: items_lib.Asset) -> np.ndarray:
  if asset.gain == 1.0 and float(asset.bias).is_integer():
    values = raw.astype(np.int64) + int(asset.bias)
  else:
    values = np.rint(raw.astype(np.float64) * asset.gain + asset.bias)
  return np.clip(values, 0, 65535).astype(np.uint16)


def scene_blocks(chunk: chunks_lib.Chunk, scene: items_lib.Scene, opener=None
                 ) -> Tuple[List[Tuple[int, SceneBlock]], Optional[Unreadable], Dict[str, int]]:
  """A scene's samples of the chunk's cells, by block (blocks without any
  covered cell are left out), the unreadable asset if any, and the reads made.

  `opener` opens an href (default `rasterio.open`; tests pass their own).
  """
  opener = opener or rasterio.open
  n = chunk.height * chunk.width
  covered = np.ones(n, bool)
  nodata = np.ones(n, bool)
  scl = np.zeros(n, np.uint8)
  bands = np.zeros((n, features.NUM_BANDS), np.uint16)
  reads = 0
  failed = None
  with rasterio.Env(**GDAL_OPTIONS):
    for index, asset in enumerate(scene.assets):
      try:
        with opener(asset.href) as ds:
          x, y = POINTS.points(chunk, ds.crs)
          values, inside = read_at(ds, x, y)
          file_nodata = ds.nodata
        reads += 1
      except Exception as e:  # pylint: disable=broad-except
        # rasterio's and GDAL's errors, a missing file, a broken COG: the
        # work item is lost, the job goes on.
        failed = Unreadable(scene.item_id, asset.key, items_lib.redact(asset.href),
                            f'{type(e).__name__}: {_first_line(e)}')
        break
      covered &= inside
      if index < features.NUM_BANDS:
        value_nodata = asset.nodata if asset.nodata is not None else (
            file_nodata if file_nodata is not None else L2A_NODATA)
        nodata &= values == value_nodata
        bands[:, index] = _harmonize(values, asset)
      else:
        scl = np.clip(values, 0, 255).astype(np.uint8)
  blocks = []
  if failed is not None:
    lost = _footprint_cells(chunk, scene)
    for index, cells in _block_split(chunk):
      in_block = np.flatnonzero(lost[cells]).astype(np.int16)
      if in_block.size:
        blocks.append((index, SceneBlock(scene.item_id, scene.tile, scene.day, scene.harmonized,
                                         _EMPTY, np.zeros((0, features.NUM_BANDS), np.uint16),
                                         np.zeros(0, np.uint8), _EMPTY, in_block)))
    return blocks, failed, {'reads': reads}
  valid = covered & ~nodata
  missing = covered & nodata
  for index, cells in _block_split(chunk):
    good = np.flatnonzero(valid[cells]).astype(np.int16)
    empty = np.flatnonzero(missing[cells]).astype(np.int16)
    if good.size or empty.size:
      blocks.append((index, SceneBlock(scene.item_id, scene.tile, scene.day, scene.harmonized,
                                       good, bands[cells[good]], scl[cells[good]], empty,
                                       _EMPTY)))
  return blocks, None, {'reads': reads}


def _footprint_cells(chunk: chunks_lib.Chunk, scene: items_lib.Scene) -> np.ndarray:
  """The chunk cells (bool) inside the item's footprint (all, without one)."""
  n = chunk.height * chunk.width
  if scene.footprint is None:
    return np.ones(n, bool)
  lon, lat = POINTS.points(chunk, 'EPSG:4326')
  return shapely.contains_xy(shapely.from_wkb(scene.footprint), lon, lat)
