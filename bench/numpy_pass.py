"""Case D's yardstick: the Transform's season grids in one pyarrow + NumPy pass.

Reads the same Parquet files with pyarrow (`components.parquet_example_gen.
reader`), checks rows with the ExampleGen's own `validation`, applies the
ExampleGen's duplicate rule over the whole input (`drop_duplicates`, in NumPy
here, not the Beam code), decodes the packed bytes, bins the images into calendar 5-day bins and picks one image
per bin with the rule and hash of `preprocessing.pick`, all vectorized over a
record batch (no Python loop per row). The train year's exact band moments
are summed on the way; the grids are normalized once the pass is done, so the
input is read once. Every row read is kept or counted under the reason the
ExampleGen would quarantine it for (`Result.dropped`). Output stays in memory (the pipeline also writes
TFRecords; this pass writes nothing).

`compare` checks the result against a Transform output row by row.
"""

import collections
import dataclasses
import hashlib
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import pyarrow as pa

from croptfx import codec
from croptfx import features
from croptfx.preprocessing import normalize
from croptfx.preprocessing import pick
from croptfx.rows import reader
from croptfx.rows import validation

_BINS = features.BINS_PER_YEAR
# Dates are < 2**16 days, so (segment, date) packs into one sort key.
_DATE_BITS = 17
_CLEAR = np.array([s not in features.SCL_NOT_CLEAR
                   for s in range(features.SCL_MAX + 1)] + [False])


def _mix(h: np.ndarray, v: np.ndarray) -> np.ndarray:
  """`preprocessing.pick._mix` in NumPy (same int64 arithmetic)."""
  p = pick.HASH_PRIME
  h = np.mod(h + np.mod(v, p), p)
  for multiplier, shift in zip(pick.HASH_MULTIPLIERS, pick.HASH_SHIFTS):
    h = np.mod(h * multiplier, p)
    h = h ^ (h >> shift)
  return h


def pixel_hash(lon: np.ndarray, lat: np.ndarray,
               year: np.ndarray) -> np.ndarray:
  def quantize(degrees):  # np.rint rounds half to even, like tf.math.round
    return np.rint(np.asarray(degrees, np.float64) *
                   pick.MICRO_DEGREES).astype(np.int64)
  h = np.full(np.shape(year), pick.HASH_SEED, np.int64)
  h = _mix(h, quantize(lon))
  h = _mix(h, quantize(lat))
  return _mix(h, np.asarray(year, np.int64))


def _values(array: pa.Array) -> np.ndarray:
  """Concatenated bytes of a binary array without nulls, as uint8."""
  offsets = np.frombuffer(array.buffers()[1], np.int32)[
      array.offset:array.offset + len(array) + 1]
  return np.frombuffer(array.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]


@dataclasses.dataclass
class Part:
  """Outputs of some rows; `raw` is the picked, not yet normalized, grid."""
  raw: np.ndarray  # [rows, 73, 12] uint16
  observed: np.ndarray  # [rows, 73] bool
  vegetation: np.ndarray  # [rows, 73] bool
  first_bin: np.ndarray  # [rows] int64
  last_bin: np.ndarray
  label: np.ndarray
  excluded: np.ndarray
  known_cdl: np.ndarray
  lon: np.ndarray  # [rows] float64
  lat: np.ndarray
  year: np.ndarray  # [rows] int64
  bbox: np.ndarray


def pick_batch(batch: pa.RecordBatch,
               mapping: features.LabelMapping) -> Part:
  """Picked grids of valid rows (normalized schema, no bad rows)."""
  n = batch.num_rows
  col = batch.column
  scenes = col(features.NUM_SCENES).to_numpy().astype(np.int64)
  bands = _values(col(features.BANDS)).view(codec.BANDS_DTYPE).reshape(
      -1, features.NUM_BANDS)
  dates = _values(col(features.IMG_DATES)).view(codec.DATES_DTYPE).astype(
      np.int64)
  scl = _values(col(features.SCL_VALS)).astype(np.int64)
  year = col(features.YEAR).to_numpy().astype(np.int64)
  lon = col(features.LON).to_numpy()
  lat = col(features.LAT).to_numpy()

  row = np.repeat(np.arange(n), scenes)
  bins = codec.calendar_bin(dates, year[row])
  segment = row * _BINS + bins
  clear = _CLEAR[np.clip(scl, 0, features.SCL_MAX + 1)]
  clear_in_bin = np.bincount(segment[clear], minlength=n * _BINS)
  candidate = np.flatnonzero(clear | (clear_in_bin[segment] == 0))
  # Candidates by (row, bin, date, position): a stable sort keeps positions.
  key = (segment[candidate] << _DATE_BITS) + dates[candidate]
  order = candidate[np.argsort(key, kind='stable')]
  s_segment = segment[order]
  k = np.bincount(s_segment, minlength=n * _BINS)
  rank = np.arange(order.size) - (np.cumsum(k) - k)[s_segment]
  filled = np.flatnonzero(k)
  target = np.zeros(n * _BINS, np.int64)
  target[filled] = _mix(pixel_hash(lon, lat, year)[filled // _BINS],
                        filled % _BINS) % k[filled]
  chosen = rank == target[s_segment]
  picked, picked_segment = order[chosen], s_segment[chosen]

  raw = np.zeros((n * _BINS, features.NUM_BANDS), np.uint16)
  raw[picked_segment] = bands[picked]
  observed = np.zeros(n * _BINS, bool)
  observed[picked_segment] = True
  vegetation = np.zeros(n * _BINS, bool)
  vegetation[picked_segment] = scl[picked] == features.SCL_VEGETATION
  starts = np.cumsum(scenes) - scenes

  names = col(features.CDL).dictionary_encode()
  looked_up = np.array([mapping.lookup(name)
                        for name in names.dictionary.to_pylist()],
                       np.int64).reshape(-1, 3)
  labels = looked_up[names.indices.to_numpy()]
  return Part(
      raw=raw.reshape(n, _BINS, features.NUM_BANDS),
      observed=observed.reshape(n, _BINS),
      vegetation=vegetation.reshape(n, _BINS),
      first_bin=np.minimum.reduceat(bins, starts),
      last_bin=np.maximum.reduceat(bins, starts),
      label=labels[:, 0], excluded=labels[:, 1], known_cdl=labels[:, 2],
      lon=lon, lat=lat, year=year,
      bbox=col(features.BBOX).to_numpy().astype(np.int64))


def band_moments(batch: pa.RecordBatch):
  """Exact (count, sums, sums of squares) of every band value of `batch`."""
  values = _values(batch.column(features.BANDS)).view(
      codec.BANDS_DTYPE).reshape(-1, features.NUM_BANDS).astype(np.int64)
  return (len(values), [int(s) for s in values.sum(axis=0)],
          [int(s) for s in (values * values).sum(axis=0)])


def normalize_grid(part: Part, mean: np.ndarray, std: np.ndarray):
  """As `preprocessing.normalize.normalize_grid`: float64 math, float32 out."""
  std = np.where(std > 0, std, 1.0)
  grid = ((part.raw.astype(np.float64) - mean) / std).astype(np.float32)
  grid[~part.observed] = 0.0
  return grid


@dataclasses.dataclass
class Result:
  """The pass's output by split, and the statistics it normalized with."""
  splits: Dict[str, Dict[str, np.ndarray]]
  band_mean: np.ndarray
  band_std: np.ndarray
  rows_read: int
  # Rows not kept, by the ExampleGen's quarantine reason (every
  # `validation.REASONS` key, 0 when none).
  dropped: Dict[str, int] = dataclasses.field(default_factory=dict)

  @property
  def rows_kept(self) -> int:
    return sum(len(s[features.LABEL]) for s in self.splits.values())


def _bits(array: pa.Array) -> np.ndarray:
  """float64 values as int64 bit patterns: rows are grouped by their exact
  bytes, as the ExampleGen's keys do (so -0.0 and 0.0 differ)."""
  return array.to_numpy(zero_copy_only=False).astype(np.float64).view(np.int64)


def _content(batch: pa.RecordBatch, i: int) -> tuple:
  """Every column of row `i`, exactly (floats by their bits)."""
  return tuple(
      int(_bits(batch.column(name).slice(i, 1))[0])
      if name in (features.LON, features.LAT) else batch.column(name)[i].as_py()
      for name in features.RAW_COLUMNS)


def drop_duplicates(batches: Sequence[pa.RecordBatch],
                    order: Sequence[np.ndarray]):
  """The ExampleGen's duplicate rule over valid rows of the whole input.

  Rows with the same (lon, lat, year): when every column is equal, the first
  by (file, row) is kept and the others are `duplicate`; otherwise all are
  `conflicting_duplicate` (`validation.duplicate_reasons` says the same).

  Args:
    batches: valid rows (normalized schema), in any grouping.
    order: per batch, the int64 (file index, row in file) sort key of each
      row: file index by path, so the key sorts as (path, row) does.

  Returns:
    (one bool keep mask per batch, {reason: rows dropped}).
  """
  sizes = [b.num_rows for b in batches]
  dropped = {validation.DUPLICATE: 0, validation.CONFLICTING_DUPLICATE: 0}
  keep = [np.ones(n, bool) for n in sizes]
  if not sum(sizes):
    return keep, dropped
  def cat(get):
    return np.concatenate([get(b) for b in batches])
  lon = cat(lambda b: _bits(b.column(features.LON)))
  lat = cat(lambda b: _bits(b.column(features.LAT)))
  year = cat(lambda b: b.column(features.YEAR).to_numpy(
      zero_copy_only=False).astype(np.int64))
  rank = np.concatenate(order)
  # By pixel-year, then (file, row): a group's first row is its first copy.
  by = np.lexsort((rank, year, lat, lon))
  new = np.ones(by.size, bool)
  new[1:] = ((lon[by][1:] != lon[by][:-1]) | (lat[by][1:] != lat[by][:-1]) |
             (year[by][1:] != year[by][:-1]))
  starts = np.flatnonzero(new)
  sizes_of_group = np.diff(np.append(starts, by.size))
  batch_of = np.repeat(np.arange(len(batches)), sizes)
  row_of = np.arange(by.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
  # Groups of one (nearly all rows) need nothing more.
  for start, size in zip(starts[sizes_of_group > 1],
                         sizes_of_group[sizes_of_group > 1]):
    rows = by[start:start + size]
    contents = {_content(batches[batch_of[r]], row_of[r]) for r in rows}
    drop = rows if len(contents) > 1 else rows[1:]
    reason = (validation.CONFLICTING_DUPLICATE if len(contents) > 1 else
              validation.DUPLICATE)
    dropped[reason] += len(drop)
    for r in drop:
      keep[batch_of[r]][row_of[r]] = False
  return keep, dropped


def run(data_dir: str, year_splits: Mapping[int, str],
        batch_rows: int = reader.DEFAULT_BATCH_ROWS,
        analyze_split: str = features.TRAIN_SPLIT) -> Result:
  """Reads every Parquet file under `data_dir` once; see the module doc."""
  mapping = features.load_label_mapping()
  files = sorted(reader.list_input_files(data_dir), key=lambda f: f.path)
  dropped = {reason: 0 for reason in validation.REASONS}
  rows_read = 0
  valid, order = [], []
  for file_index, f in enumerate(files):
    first_row = 0
    for rows in reader.read_rows(f.path, batch_rows):
      batch = rows.batch
      rows_read += batch.num_rows
      checks = validation.check_rows(batch, year_splits,
                                     reader.path_year(f.path), mapping,
                                     cast_faults=rows.cast_faults)
      for reason, n in checks.reason_counts().items():
        dropped[reason] += n
      good = np.flatnonzero(checks.valid)
      if good.size:
        valid.append(batch.take(pa.array(good)))
        order.append((np.int64(file_index) << 40) + first_row + good)
      first_row += batch.num_rows
  keep, duplicates = drop_duplicates(valid, order)
  for reason, n in duplicates.items():
    dropped[reason] += n

  parts: Dict[str, List[Part]] = collections.defaultdict(list)
  count, sums, squares = 0, [0] * features.NUM_BANDS, [0] * features.NUM_BANDS
  for batch, kept in zip(valid, keep):
    year = batch.column(features.YEAR).to_numpy(zero_copy_only=False)
    for year_value, split in year_splits.items():
      rows = np.flatnonzero(kept & (year == year_value))
      if not rows.size:
        continue
      rows = batch.take(pa.array(rows))
      parts[split].append(pick_batch(rows, mapping))
      if split == analyze_split:
        c, s, q = band_moments(rows)
        count += c
        sums = [a + b for a, b in zip(sums, s)]
        squares = [a + b for a, b in zip(squares, q)]
  stats = normalize.moments_to_statistics(count, sums, squares)
  mean = np.array(stats['band_mean'])
  std = np.array(stats['band_std'])
  splits = {}
  for split, split_parts in parts.items():
    splits[split] = _outputs(split_parts, mean, std)
  result = Result(splits, mean, std, rows_read, dropped)
  if result.rows_kept + sum(dropped.values()) != rows_read:
    raise AssertionError(f'NumPy pass: {rows_read} rows read, '
                         f'{result.rows_kept} kept + {sum(dropped.values())} '
                         'dropped')
  return result


def _outputs(split_parts: Sequence[Part], mean, std) -> Dict[str, np.ndarray]:
  """Transformed features (`features.TRANSFORMED_FEATURES` keys)."""
  def cat(name):
    return np.concatenate([getattr(p, name) for p in split_parts])
  return {
      features.GRID: np.concatenate(
          [normalize_grid(p, mean, std) for p in split_parts]),
      features.OBSERVED: cat('observed').astype(np.int64),
      features.VEGETATION: cat('vegetation').astype(np.int64),
      features.FIRST_BIN: cat('first_bin'),
      features.LAST_BIN: cat('last_bin'),
      features.LABEL: cat('label'),
      features.EXCLUDED: cat('excluded'),
      features.KNOWN_CDL: cat('known_cdl'),
      features.LON: cat('lon').astype(np.float32),
      features.LAT: cat('lat').astype(np.float32),
      features.YEAR: cat('year'),
      features.BBOX: cat('bbox'),
  }


@dataclasses.dataclass
class Comparison:
  rows_transform: int
  rows_numpy: int
  rows_identical: int
  # The NumPy pass's rows read and dropped by reason (`Result`), for the note.
  rows_read: int = 0
  dropped: Dict[str, int] = dataclasses.field(default_factory=dict)
  # The ExampleGen's quarantine counts (counts.json) of the same data.
  example_gen_dropped: Optional[Dict[str, int]] = None

  @property
  def equal(self) -> bool:
    return self.rows_transform == self.rows_numpy == self.rows_identical


def _digests(outputs: Mapping[str, np.ndarray]) -> collections.Counter:
  """One digest of every feature's bytes per row (row order-free)."""
  keys = sorted(outputs)
  n = len(outputs[keys[0]])
  columns = [np.ascontiguousarray(outputs[k]).reshape(n, -1) for k in keys]
  digests = collections.Counter()
  for i in range(n):
    h = hashlib.blake2b(digest_size=16)
    for c in columns:
      h.update(c[i].tobytes())
    digests[h.digest()] += 1
  return digests


def compare(ours: Mapping[str, np.ndarray],
            transformed: Mapping[str, np.ndarray]) -> Comparison:
  """Counts rows that are bit-identical in both (every feature, any order)."""
  a = _digests({k: np.asarray(v, transformed[k].dtype)
                for k, v in ours.items()})
  b = _digests(transformed)
  return Comparison(rows_transform=sum(b.values()), rows_numpy=sum(a.values()),
                    rows_identical=sum((a & b).values()))
