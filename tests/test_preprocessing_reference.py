"""Independent NumPy reference of the Transform, and the test data set.

Written from the rules (docs/data-contract.md, "Transform output", `preprocessing.pick` docstring),
not from the TF code: a plain loop per row and per bin. Other
test_preprocessing_* modules compare the graph with it.
"""

import datetime

import numpy as np
import pytest
import tensorflow as tf

from croptfx import codec
from croptfx import features
from croptfx.generate import part1

# The documented hash (preprocessing.pick), restated here on purpose: the
# hash is part of the data contract, changing it changes transformed data.
P = 2**31 - 1


def _mix(h, v):
  h = np.mod(np.int64(h) + np.mod(np.int64(v), P), P)
  h = np.mod(h * 1103515245, P)
  h ^= h >> 16
  h = np.mod(h * 1597334677, P)
  h ^= h >> 13
  return h


def pixel_hash(lon, lat, year):
  h = _mix(1234567, np.rint(np.float64(lon) * 1e6).astype(np.int64))
  h = _mix(h, np.rint(np.float64(lat) * 1e6).astype(np.int64))
  return _mix(h, year)


def bin_hash(lon, lat, year, b):
  return int(_mix(pixel_hash(lon, lat, year), b))


def pick_in_bin(dates, scl, positions, lon, lat, year, b):
  """Position of the image the rule picks among `positions` of bin `b`."""
  clear = [p for p in positions if scl[p] not in features.SCL_NOT_CLEAR]
  candidates = sorted(clear or positions, key=lambda p: (dates[p], p))
  return candidates[bin_hash(lon, lat, year, b) % len(candidates)]


def decode_row(row):
  return (codec.decode_bands(row[features.BANDS]).astype(np.int64),
          codec.decode_dates(row[features.IMG_DATES]),
          codec.decode_scl(row[features.SCL_VALS]))


def reference_statistics(rows):
  """np.mean / np.std (population) of every band value of every image."""
  values = np.concatenate([decode_row(r)[0] for r in rows]).astype(np.float64)
  return values.mean(axis=0), values.std(axis=0)


def reference_transform(row, mean, std, mapping):
  """The Transform outputs of one row, plus the pick details for tests."""
  bands, dates, scl = decode_row(row)
  lon = codec.decode_coord(row[features.LON])
  lat = codec.decode_coord(row[features.LAT])
  year = int(row[features.YEAR])
  bins = codec.calendar_bin(dates, year)
  grid = np.zeros([features.BINS_PER_YEAR, features.NUM_BANDS], np.float32)
  observed = np.zeros(features.BINS_PER_YEAR, np.int64)
  vegetation = np.zeros(features.BINS_PER_YEAR, np.int64)
  images_in_bin = np.zeros(features.BINS_PER_YEAR, np.int64)
  for b in range(features.BINS_PER_YEAR):
    positions = [int(p) for p in np.flatnonzero(bins == b)]
    if not positions:
      continue
    p = pick_in_bin(dates, scl, positions, lon, lat, year, b)
    grid[b] = ((bands[p] - mean) / std).astype(np.float32)
    observed[b] = 1
    vegetation[b] = int(scl[p] == features.SCL_VEGETATION)
    images_in_bin[b] = len(positions)
  label, excluded, known = mapping.lookup(row[features.CDL])
  return {
      features.GRID: grid, features.OBSERVED: observed,
      features.VEGETATION: vegetation,
      features.FIRST_BIN: int(bins.min()), features.LAST_BIN: int(bins.max()),
      features.LABEL: label, features.EXCLUDED: int(excluded),
      features.KNOWN_CDL: int(known),
      features.LON: np.float32(lon), features.LAT: np.float32(lat),
      features.YEAR: year, features.BBOX: int(row[features.BBOX]),
      'images_in_bin': images_in_bin,
  }


def row_key(lon, lat, year):
  """Identifies a row in the Transform output (float32 passthrough ids)."""
  return (float(np.float32(lon)), float(np.float32(lat)), int(year))


def make_row(dates, scl, year, cdl, lon, lat, bands=None, bbox=1):
  dates = np.asarray(dates, np.int64)
  n = len(dates)
  if bands is None:
    rng = np.random.default_rng(abs(int(lon * 1e6)) + int(lat * 1e6))
    bands = rng.integers(0, 10000, [n, features.NUM_BANDS])
  return {
      features.LON: codec.encode_coord(lon),
      features.LAT: codec.encode_coord(lat),
      features.NUM_SCENES: n,
      features.BANDS: codec.encode_bands(bands),
      features.IMG_DATES: codec.encode_dates(dates),
      features.SCL_VALS: codec.encode_scl(scl),
      features.TILES: b'16SBF_0',
      features.BBOX: bbox,
      features.YEAR: year,
      features.CDL: cdl,
  }


def day(year, month, dom):
  return features.days_since_epoch(datetime.date(year, month, dom))


def edge_rows(year, lon0):
  """Hand-made rows: calendar edges, pick cases, label spellings, N = 1."""
  leap = year % 4 == 0
  last = day(year, 12, 31)
  rows = [
      # Jan 1, Dec 30, Dec 31 (day 365 of a leap year folds into bin 72),
      # unsorted, a duplicate date, a saturated value.
      make_row([last, day(year, 1, 1), day(year, 12, 30), day(year, 1, 1)],
               [4, 5, 8, 4], year, 'Other Hay/Non-Alfalfa', lon0, 33.1,
               bands=np.full([4, 12], 65535) - np.arange(4)[:, None]),
      # Bin 2: three clear candidates; bin 3: two cloudy only; bin 4: one
      # clear among cloudy.
      make_row([day(year, 1, 11), day(year, 1, 12), day(year, 1, 13),
                day(year, 1, 16), day(year, 1, 17), day(year, 1, 21),
                day(year, 1, 22), day(year, 1, 23)],
               [4, 5, 4, 9, 3, 8, 4, 10], year, '  corn ', lon0 + 0.001, 33.1),
      make_row([day(year, 6, 1)], [4], year, 'Dbl Crop WinWht/Soybeans',
               lon0 + 0.002, 33.1),
      make_row([day(year, 3, 1), day(year, 3, 2)], [0, 1], year,
               'Mystery Crop', lon0 + 0.003, 33.1),
      make_row([day(year, 3, 1)] * 3, [4, 4, 4], year, 'SOYBEANS',
               lon0 + 0.004, 33.1),
      make_row([day(year, 5, 5)], [6], year, 'dbl_crop oats-corn',
               lon0 + 0.005, 33.1),
  ]
  assert leap or codec.calendar_bin(last, year) == 72
  return rows


def dataset(years=(2019, 2020, 2021), pixels_per_year=25, seed=7):
  """Generated rows of every year plus the edge rows; keys are unique."""
  table = part1.generate_table(pixels_per_year, years=years, seed=seed)
  columns = table.to_pydict()
  rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
  for r in rows:
    r[features.LON] = codec.encode_coord(r[features.LON])
    r[features.LAT] = codec.encode_coord(r[features.LAT])
  for i, year in enumerate(years):
    rows += edge_rows(year, -91.0 - i * 0.01)
  keys = [row_key(codec.decode_coord(r[features.LON]),
                  codec.decode_coord(r[features.LAT]), r[features.YEAR])
          for r in rows]
  assert len(set(keys)) == len(keys)
  return rows


def serialize(row) -> bytes:
  feature = {}
  for key, value in row.items():
    if isinstance(value, str):
      value = value.encode('utf-8')
    if isinstance(value, bytes):
      feature[key] = tf.train.Feature(
          bytes_list=tf.train.BytesList(value=[value]))
    else:
      feature[key] = tf.train.Feature(
          int64_list=tf.train.Int64List(value=[int(value)]))
  return tf.train.Example(
      features=tf.train.Features(feature=feature)).SerializeToString()


# The reference itself, on the cases worked by hand.


def test_hash_is_non_negative_31_bit_and_deterministic():
  h = [bin_hash(-89.2973, 36.85473, 2019, b) for b in range(73)]
  assert all(0 <= v < 2**31 for v in h)
  assert h == [bin_hash(-89.2973, 36.85473, 2019, b) for b in range(73)]
  assert len(set(h)) == 73
  assert bin_hash(-89.2973, 36.85473, 2020, 0) != h[0]


def test_pick_prefers_clear_and_orders_by_date_then_position():
  dates = np.array([10, 10, 9, 11])
  scl = np.array([4, 4, 4, 8])
  candidates = [2, 0, 1]  # by (date, position); the cloudy image is out
  lon, lat, year, b = -90.5, 33.4, 2021, 7
  expected = candidates[bin_hash(lon, lat, year, b) % 3]
  assert pick_in_bin(dates, scl, [0, 1, 2, 3], lon, lat, year, b) == expected
  # Only cloudy images: all are candidates.
  assert pick_in_bin(dates, np.array([8, 9, 10, 3]), [0, 1, 2, 3], lon, lat,
                     year, b) == [2, 0, 1, 3][bin_hash(lon, lat, year, b) % 4]


@pytest.mark.parametrize('year', [2019, 2020])
def test_edge_rows_bins(year):
  bins = codec.calendar_bin(decode_row(edge_rows(year, -91.0)[0])[1], year)
  assert list(bins) == [72, 0, 72, 0]
