"""preprocessing.pick: the hash and the one-image-per-bin pick."""

import numpy as np
import pytest
import tensorflow as tf

from croptfx import codec
from croptfx import features
from croptfx.preprocessing import binning
from croptfx.preprocessing import pick
from tests import test_preprocessing_reference as ref

LON, LAT, YEAR = -89.2973, 36.85473, 2019
JAN1 = codec.jan1_days(YEAR)


def _pick(rows):
  """rows: [(day_index list, scl list, lon, lat, year)] -> [batch, 73] picks."""
  n_max = max(len(r[0]) for r in rows)
  dates = np.zeros([len(rows), n_max], np.int64)
  scl = np.zeros([len(rows), n_max], np.int64)
  valid = np.zeros([len(rows), n_max], bool)
  for i, (days, s, _, _, year) in enumerate(rows):
    dates[i, :len(days)] = np.asarray(days) + codec.jan1_days(year)
    scl[i, :len(s)] = s
    valid[i, :len(days)] = True
  year = tf.constant([r[4] for r in rows], tf.int64)
  bins, in_season = binning.calendar_bins(tf.constant(dates), year)
  hashes = pick.bin_hashes(pick.pixel_hash(
      tf.constant([r[2] for r in rows], tf.float64),
      tf.constant([r[3] for r in rows], tf.float64), year))
  picked = pick.pick_per_bin(tf.constant(dates), bins,
                             pick.is_clear(tf.constant(scl)),
                             tf.constant(valid) & in_season, hashes)
  return picked.numpy()


def test_hash_matches_numpy_reference():
  rng = np.random.default_rng(0)
  lon = np.concatenate([rng.uniform(-180, 180, 200), [-0.0000005, 0.0000005,
                                                      0.0000015, -90.5]])
  lat = np.concatenate([rng.uniform(-90, 90, 200), [0.0, 0.0, 0.0, 33.0]])
  year = rng.integers(1970, 2100, lon.size)
  hashes = pick.bin_hashes(pick.pixel_hash(
      tf.constant(lon), tf.constant(lat), tf.constant(year))).numpy()
  assert hashes.shape == (lon.size, 73)
  for i in range(lon.size):
    for b in (0, 1, 36, 72):
      assert hashes[i, b] == ref.bin_hash(lon[i], lat[i], year[i], b)


def test_is_clear():
  clear = pick.is_clear(tf.constant(list(range(14)))).numpy().tolist()
  assert clear == [s not in features.SCL_NOT_CLEAR and s <= 11
                   for s in range(14)]
  assert [s for s in range(12) if clear[s]] == [2, 4, 5, 6, 7]


def test_three_candidates_pick_hash_mod_3():
  # Bin 2 (days 10..14): three clear images, in date order 2, 0, 1.
  picked = _pick([([11, 12, 10], [4, 5, 4], LON, LAT, YEAR)])[0]
  h = ref.bin_hash(LON, LAT, YEAR, 2)
  assert picked[2] == [2, 0, 1][h % 3]
  assert (picked[np.arange(73) != 2] == -1).all()


def test_clear_image_wins_over_cloudy_ones():
  # Bin 0: cloud, clear, shadow; bin 1: cloud and cirrus only.
  picked = _pick([([0, 1, 2, 5, 6], [8, 4, 3, 9, 10], LON, LAT, YEAR)])[0]
  assert picked[0] == 1
  assert picked[1] == [3, 4][ref.bin_hash(LON, LAT, YEAR, 1) % 2]


def test_duplicate_dates_ordered_by_position():
  picked = _pick([([20, 20, 20], [4, 4, 4], LON, LAT, YEAR)])[0]
  assert picked[4] == ref.bin_hash(LON, LAT, YEAR, 4) % 3


def test_same_row_same_pick_whatever_the_batch():
  row = ([0, 1, 2, 3, 4, 50, 51, 364], [4] * 8, LON, LAT, YEAR)
  other = (list(range(0, 200, 2)), [4, 8] * 50, -90.1, 33.2, 2020)
  alone = _pick([row])[0]
  # With a longer row (more padding) in front, twice, and in reverse order.
  batch = _pick([other, row, row])
  np.testing.assert_array_equal(batch[1], alone)
  np.testing.assert_array_equal(batch[2], alone)
  np.testing.assert_array_equal(_pick([row, other])[1], batch[0])


def test_permuting_images_picks_the_same_image():
  days = np.array([0, 1, 2, 3, 5, 7, 8, 100, 101, 102, 103, 364])
  scl = np.array([4, 5, 8, 4, 4, 3, 4, 4, 6, 4, 4, 4])
  picked = _pick([(days, scl, LON, LAT, YEAR)])[0]
  perm = np.random.default_rng(3).permutation(days.size)
  picked_perm = _pick([(days[perm], scl[perm], LON, LAT, YEAR)])[0]
  observed = picked >= 0
  np.testing.assert_array_equal(picked_perm >= 0, observed)
  # Same image = same date (dates are distinct here).
  np.testing.assert_array_equal(days[perm][picked_perm[observed]],
                                days[picked[observed]])


def test_picks_depend_on_the_pixel():
  # 30 bins with two clear images each: different pixels pick differently.
  days = [d for b in range(30) for d in (5 * b, 5 * b + 1)]
  rows = [(days, [4] * 60, LON + 0.0001 * i, LAT, YEAR) for i in range(4)]
  picked = _pick(rows)
  assert len({tuple(p) for p in picked}) == 4
  firsts = (picked[:, :30] % 2 == 0).mean()
  assert 0.3 < firsts < 0.7


@pytest.mark.parametrize('seed', [0, 1])
def test_random_rows_match_the_numpy_rule(seed):
  rng = np.random.default_rng(seed)
  rows = []
  for _ in range(40):
    n = int(rng.integers(1, 60))
    year = int(rng.choice([2019, 2020, 2021]))
    length = 366 if year == 2020 else 365
    days = rng.integers(0, length, n)
    days[rng.random(n) < 0.2] = days[0]  # duplicates
    scl = rng.integers(0, 12, n)
    rows.append((days, scl, float(rng.uniform(-91, -89)),
                 float(rng.uniform(33, 37)), year))
  picked = _pick(rows)
  for (days, scl, lon, lat, year), got in zip(rows, picked):
    bins = codec.calendar_bin(days + codec.jan1_days(year), year)
    for b in range(73):
      positions = [int(p) for p in np.flatnonzero(bins == b)]
      want = (ref.pick_in_bin(days, scl, positions, lon, lat, year, b)
              if positions else -1)
      assert got[b] == want
