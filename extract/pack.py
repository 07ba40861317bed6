"""The samples of a block of pixel-years -> Part-1 rows, and what they count.

A block (`chunks.Chunk.blocks`) of one year arrives with its label block and
every scene block sampled from it. Its pixels are the cells in the area
whose label is a class (not the background 0 nor the raster's nodata;
every cell on a `--grid`). Each pixel with at least one sample is one row:
its samples sorted by date, then tile (the two tiles of one date stay
side by side, the ExampleGen's duplicate dates), packed with the project's
codec into the columns and Arrow types of `features.file_schema()`;
`bbox` is the chunk's id, `CDL` the class name of the pixel's code
(`cdl.code_list()`: an unlisted code is named 'Unknown CDL code N' and
counted). A pixel without any sample is counted, by the first reason that
applies: `unreadable_asset` (a scene covering it could not be read),
`nodata_only` (only no-data observations), `outside_scenes` (no scene
covers it).
"""

import collections
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa

from croptfx import cdl
from croptfx import codec
from croptfx import features
from croptfx.extract import sample as sample_lib

LABEL_NODATA = 'label_nodata'
OUTSIDE_SCENES = 'outside_scenes'
NODATA_ONLY = 'nodata_only'
UNREADABLE_ASSET = 'unreadable_asset'
# Why a cell of the area is not a row, in the order they are judged.
PIXEL_REASONS = (UNREADABLE_ASSET, NODATA_ONLY, OUTSIDE_SCENES)
# Why a covered sample is not in a row.
SAMPLE_REASONS = ('nodata', UNREADABLE_ASSET)
COUNT_KEYS = ('cells_in_area', 'pixels', LABEL_NODATA, 'rows', 'samples', 'harmonized_samples',
              'nodata_samples', 'unreadable_samples') + PIXEL_REASONS


def schema(with_labels: bool) -> pa.Schema:
  """The Part-1 file schema; without `CDL` for an area to map."""
  full = features.file_schema()
  return full if with_labels else full.remove(full.get_field_index(features.CDL))


def _binary(data: bytes, lengths: np.ndarray) -> pa.Array:
  """A binary array of consecutive slices of `data` with these byte lengths."""
  offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
  return pa.Array.from_buffers(pa.binary(), len(lengths),
                               [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)])


def empty_counts() -> Dict[str, object]:
  counts: Dict[str, object] = {key: 0 for key in COUNT_KEYS}
  counts['unknown_cdl'] = {}
  counts['rows_by_year'] = {}
  counts['scenes_sampled'] = set()
  return counts


def pack_block(year: int, chunk_id: int, label: sample_lib.LabelBlock,
               scenes: Sequence[sample_lib.SceneBlock], with_labels: bool
               ) -> Tuple[Optional[pa.Table], Dict[str, object]]:
  """Rows (None when the block has none) and counts of one block-year."""
  counts = empty_counts()
  n = len(label.in_area)
  in_area = np.asarray(label.in_area, bool)
  if with_labels:
    codes = np.asarray(label.codes)
    is_class = codes != cdl.BACKGROUND
    if label.label_nodata is not None:
      is_class &= codes != label.label_nodata
    pixel = in_area & is_class
    counts[LABEL_NODATA] = int((in_area & ~is_class).sum())
  else:
    codes = None
    pixel = in_area
  counts['cells_in_area'] = int(in_area.sum())
  counts['pixels'] = int(pixel.sum())

  # Scenes by date, then tile: a stable sort of the samples by cell then
  # keeps each pixel's samples in that order (no wider sort keys, no copies).
  scenes = sorted(scenes, key=lambda s: (s.day, s.tile, s.item_id))
  tiles = sorted({s.tile for s in scenes})
  tile_of_scene = np.array([tiles.index(s.tile) for s in scenes], np.int32)
  day_of_scene = np.array([s.day for s in scenes], np.int64)
  harmonized_scene = np.array([s.harmonized for s in scenes], bool)
  sizes = np.array([len(s.cells) for s in scenes], np.int64)
  scene_of = np.repeat(np.arange(len(scenes), dtype=np.int32), sizes)
  cell = np.concatenate([s.cells for s in scenes] + [np.zeros(0, np.int16)]).astype(np.int64)
  kept = np.flatnonzero(pixel[cell]) if cell.size else np.zeros(0, np.int64)
  order = kept[np.argsort(cell[kept], kind='stable')]
  cell, scene_of = cell[order], scene_of[order]
  day, tile = day_of_scene[scene_of], tile_of_scene[scene_of]
  bands = np.concatenate([s.bands for s in scenes]
                         + [np.zeros((0, features.NUM_BANDS), np.uint16)])[order]
  scl = np.concatenate([s.scl for s in scenes] + [np.zeros(0, np.uint8)])[order]
  counts['samples'] = int(cell.size)
  counts['harmonized_samples'] = int(harmonized_scene[scene_of].sum())
  counts['scenes_sampled'] = {scenes[i].item_id for i in np.unique(scene_of)}

  nodata_seen = np.zeros(n, bool)
  lost_seen = np.zeros(n, bool)
  for s in scenes:
    nodata_seen[s.nodata_cells] = True
    lost_seen[s.lost_cells] = True
    counts['nodata_samples'] += int(pixel[s.nodata_cells].sum())
    counts['unreadable_samples'] += int(pixel[s.lost_cells].sum())
  per_cell = np.bincount(cell, minlength=n)
  sampled = per_cell > 0
  unsampled = pixel & ~sampled
  counts[UNREADABLE_ASSET] = int((unsampled & lost_seen).sum())
  counts[NODATA_ONLY] = int((unsampled & ~lost_seen & nodata_seen).sum())
  counts[OUTSIDE_SCENES] = int((unsampled & ~lost_seen & ~nodata_seen).sum())

  rows = np.flatnonzero(sampled)
  counts['rows'] = int(rows.size)
  if not rows.size:
    return None, counts
  counts['rows_by_year'] = {year: int(rows.size)}
  scenes_per_row = per_cell[rows]
  starts = np.concatenate([[0], np.cumsum(scenes_per_row)[:-1]])
  tile_names = np.array(tiles, dtype=object)[tile]
  tiles_column = [','.join(tile_names[a:a + k]).encode('utf-8')
                  for a, k in zip(starts.tolist(), scenes_per_row.tolist())]
  columns = {
      features.LON: pa.array(np.asarray(label.lon, np.float64)[rows], pa.float64()),
      features.LAT: pa.array(np.asarray(label.lat, np.float64)[rows], pa.float64()),
      features.NUM_SCENES: pa.array(scenes_per_row.astype(np.int64), pa.int64()),
      features.BANDS: _binary(codec.encode_bands(bands),
                              scenes_per_row * features.BAND_BYTES_PER_IMAGE),
      features.IMG_DATES: _binary(codec.encode_dates(day),
                                  scenes_per_row * features.DATE_BYTES_PER_IMAGE),
      features.SCL_VALS: _binary(codec.encode_scl(scl),
                                 scenes_per_row * features.SCL_BYTES_PER_IMAGE),
      features.TILES: pa.array(tiles_column, pa.binary()),
      features.BBOX: pa.array(np.full(rows.size, chunk_id, np.int64), pa.int64()),
      features.YEAR: pa.array(np.full(rows.size, year, np.int64), pa.int64()),
  }
  if with_labels:
    code_list = cdl.code_list()
    row_codes = codes[rows].astype(np.int64)
    names = {int(c): code_list.name(int(c)) for c in np.unique(row_codes)}
    columns[features.CDL] = pa.array([names[c] for c in row_codes.tolist()], pa.string())
    unknown = collections.Counter(names[c] for c in row_codes.tolist()
                                  if not code_list.is_known(c))
    counts['unknown_cdl'] = dict(unknown)
  table_schema = schema(with_labels)
  return pa.Table.from_arrays([columns[name] for name in table_schema.names],
                              schema=table_schema), counts


def add_counts(total: Dict[str, object], part: Dict[str, object]) -> Dict[str, object]:
  """Adds `part` into `total` (in place) and returns it."""
  for key in COUNT_KEYS:
    total[key] += part[key]
  for key in ('unknown_cdl', 'rows_by_year'):
    for name, value in part[key].items():
      total[key][name] = total[key].get(name, 0) + value
  total['scenes_sampled'] = set(total['scenes_sampled']) | set(part['scenes_sampled'])
  return total


def merge_counts(parts: List[Dict[str, object]]) -> Dict[str, object]:
  total = empty_counts()
  for part in parts:
    add_counts(total, part)
  return total
