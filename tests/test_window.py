"""The in-season window and gating against an independent NumPy reference."""

import numpy as np
import pytest
import tensorflow as tf

from croptfx import features
from croptfx.trainer import window

B, T, K = features.BINS_PER_YEAR, features.WINDOW_BINS, features.NUM_BANDS
CORN = features.CLASS_NAMES.index('Corn')
COTTON = features.CLASS_NAMES.index('Cotton')


def reference_window(grid, observed, vegetation, label, e):
  """Plain loops: the definition in docs/data-contract.md ("The model's window"), one example."""
  win = np.zeros((T, K), np.float32)
  win_obs = np.zeros(T, np.float32)
  win_veg = np.zeros(T, np.float32)
  for slot in range(T):
    b = e - (T - 1) + slot
    if 0 <= b <= B - 1:
      win[slot], win_obs[slot], win_veg[slot] = grid[b], observed[b], vegetation[b]
  seen = [b for b in range(0, min(e, B - 1) + 1) if observed[b]]
  last_two = seen[-features.GATING_OBSERVATIONS:]
  gated = label
  if label in features.CROP_CLASSES and not any(vegetation[b] for b in last_two):
    gated = features.NO_CROPS_GROWING
  return win, win_obs, win_veg, (e + 1) * features.BIN_DAYS, gated


def random_batch(rng, n):
  observed = (rng.random((n, B)) < 0.6).astype(np.int64)
  vegetation = observed * (rng.random((n, B)) < 0.4)
  grid = rng.normal(size=(n, B, K)).astype(np.float32) * observed[..., None]
  label = rng.integers(0, features.NUM_CLASSES, n)
  return {features.GRID: grid, features.OBSERVED: observed,
          features.VEGETATION: vegetation, features.LABEL: label}


def check_against_reference(batch, as_of_bins):
  inputs, gated = window.apply_window(
      {k: tf.constant(v) for k, v in batch.items()}, tf.constant(as_of_bins))
  for i, e in enumerate(as_of_bins):
    win, obs, veg, day, label = reference_window(
        batch[features.GRID][i], batch[features.OBSERVED][i],
        batch[features.VEGETATION][i], batch[features.LABEL][i], e)
    np.testing.assert_array_equal(inputs[features.WINDOW][i].numpy(), win)
    np.testing.assert_array_equal(inputs[features.WINDOW_OBSERVED][i].numpy(), obs)
    np.testing.assert_array_equal(inputs[features.WINDOW_VEGETATION][i].numpy(), veg)
    assert inputs[features.AS_OF_DAY][i].numpy() == day
    assert gated[i].numpy() == label, (i, e)


def test_random_bins_match_reference():
  rng = np.random.default_rng(0)
  batch = random_batch(rng, 200)
  check_against_reference(batch, rng.integers(-1, B, 200))


@pytest.mark.parametrize('e', [-1, 0, 3, 34, 35, 36, 72])
def test_edges_january_and_season_end(e):
  rng = np.random.default_rng(e + 10)
  batch = random_batch(rng, 20)
  check_against_reference(batch, np.full(20, e))


def test_zero_padding_before_january_by_hand():
  grid = np.zeros((1, B, K), np.float32)
  grid[0, :, 0] = np.arange(1, B + 1)  # band 0 holds bin number + 1
  batch = {features.GRID: grid, features.OBSERVED: np.ones((1, B), np.int64),
           features.VEGETATION: np.zeros((1, B), np.int64),
           features.LABEL: np.array([features.UNCULTIVATED])}
  inputs, _ = window.apply_window(batch, tf.constant([3]))
  band0 = inputs[features.WINDOW][0, :, 0].numpy()
  assert band0[:32].tolist() == [0] * 32
  assert band0[32:].tolist() == [1, 2, 3, 4]  # bins 0..3
  assert inputs[features.AS_OF_DAY][0].numpy() == 20  # bin 3 ends on day 20


def test_gating_rule_exactly():
  observed = np.zeros((5, B), np.int64)
  vegetation = np.zeros((5, B), np.int64)
  observed[:, [10, 20, 30]] = 1
  vegetation[0, 10] = 1  # vegetation three observations back only -> gated
  vegetation[1, 20] = 1  # second-to-last observation -> kept
  vegetation[2, 30] = 1  # last observation, but e=25 does not see it -> gated
  vegetation[3, 30] = 1  # e=30 sees it -> kept
  # row 4: uncultivated pixel without vegetation keeps its label
  label = np.array([CORN, CORN, COTTON, COTTON, features.UNCULTIVATED])
  batch = {features.GRID: np.zeros((5, B, K), np.float32), features.OBSERVED: observed,
           features.VEGETATION: vegetation, features.LABEL: label}
  _, gated = window.apply_window(batch, tf.constant([40, 40, 25, 30, 40]))
  assert gated.numpy().tolist() == [features.NO_CROPS_GROWING, CORN,
                                    features.NO_CROPS_GROWING, COTTON,
                                    features.UNCULTIVATED]


def test_nothing_observed_yet_gates_crops():
  batch = random_batch(np.random.default_rng(1), 1)
  batch[features.LABEL] = np.array([CORN])
  _, gated = window.apply_window(batch, tf.constant([-1]))
  assert gated.numpy().tolist() == [features.NO_CROPS_GROWING]


def test_draw_as_of_bins_range_and_short_series():
  first = tf.constant([0, 10, 40, 70] * 500, tf.int64)
  last = tf.constant([72, 12, 45, 72] * 500, tf.int64)
  drawn = window.draw_as_of_bins(first, last, seed=1).numpy().reshape(500, 4)
  # From 30 days (6 bins) after the first image to the last image's bin;
  # shorter series use the last bin.
  assert drawn[:, 0].min() == 6 and drawn[:, 0].max() == 72
  assert set(drawn[:, 1].tolist()) == {12}
  assert set(drawn[:, 2].tolist()) <= set(range(45, 46))
  assert set(drawn[:, 3].tolist()) == {72}
  counts = np.bincount(drawn[:, 0], minlength=73)[6:]
  assert counts.min() > 0  # every allowed bin is drawn


def test_iso_date_parsing_and_as_of_bins():
  dates = tf.constant(['2019-01-06', '2020-12-31', '2021-08-28', '2000-03-01', '2021-01-01'])
  days = window.parse_iso_dates(dates).numpy().tolist()
  assert days == [17902, 18627, 18867, 11017, 18628]
  years = tf.constant([2019, 2020, 2021, 2000, 2020])
  bins = window.as_of_bins_for_dates(dates, years).numpy().tolist()
  # Jan 6 = day 6 -> bin 0 complete; Dec 31 2020 = day 366 -> last bin;
  # Aug 28 2021 = day 240 -> bin 47; Mar 1 2000 = day 61 -> bin 11;
  # a date in the next year sees the whole season.
  assert bins == [0, 72, 47, 11, 72]
  early = window.as_of_bins_for_dates(tf.constant(['2020-06-01']), tf.constant([2021]))
  assert early.numpy().tolist() == [-1]
