"""preprocessing.normalize: exact band moments and the normalization."""

import itertools
import json

import numpy as np
import pytest
import tensorflow as tf

from croptfx import layouts
from croptfx import outputs
from croptfx.preprocessing import normalize


def test_batch_moments_hand_computed():
  bands = np.zeros([2, 3, 12], np.int64)
  bands[0, 0] = 1
  bands[0, 1] = 3
  bands[1, 0] = 65535
  bands[1, 2] = 1000  # padding, not counted
  valid = [[True, True, False], [True, False, False]]
  count, sums, squares = (t.numpy() for t in normalize.batch_moments(
      tf.constant(bands), tf.constant(valid)))
  assert count.tolist() == [3]
  assert sums.tolist() == [[1 + 3 + 65535] * 12]
  assert squares.tolist() == [[1 + 9 + 65535**2] * 12]


def _batches(seed, sizes):
  rng = np.random.default_rng(seed)
  values = [rng.integers(0, 65536, [n, 12]) for n in sizes]
  batches = [(np.array([len(v)]), v.sum(axis=0)[None], (v**2).sum(axis=0)[None])
             for v in values]
  return np.concatenate(values).astype(np.float64), batches


def test_combine_is_exact_and_order_independent():
  values, batches = _batches(0, [5, 1, 300, 17])
  fn = normalize._SumMomentsFn()  # pylint: disable=protected-access
  results = []
  for order in itertools.permutations(range(len(batches))):
    halves = []
    for part in (order[:2], order[2:]):
      acc = fn.create_accumulator()
      for i in part:
        acc = fn.add_input(acc, batches[i])
      halves.append(acc)
    results.append(fn.extract_output(fn.merge_accumulators(halves)))
  assert all(r == results[0] for r in results)
  np.testing.assert_allclose(results[0]['band_mean'], values.mean(axis=0),
                             rtol=1e-15)
  np.testing.assert_allclose(results[0]['band_std'], values.std(axis=0),
                             rtol=1e-14)
  assert results[0]['num_values'] == len(values)


def test_statistics_of_nothing_and_of_a_constant():
  empty = normalize.moments_to_statistics(0, [0] * 12, [0] * 12)
  assert empty['band_mean'] == [0.0] * 12 and empty['band_std'] == [0.0] * 12
  const = normalize.moments_to_statistics(4, [40] * 12, [400] * 12)
  assert const['band_mean'] == [10.0] * 12 and const['band_std'] == [0.0] * 12


def test_normalize_grid():
  grid = np.zeros([1, 3, 12], np.int64)
  grid[0, 0] = 110
  grid[0, 1] = 90
  observed = tf.constant([[True, True, False]])
  mean = tf.constant([100.0] * 11 + [7.0], tf.float64)
  std = tf.constant([10.0] * 11 + [0.0], tf.float64)
  out = normalize.normalize_grid(tf.constant(grid), observed, mean, std)
  assert out.dtype == tf.float32
  np.testing.assert_array_equal(out[0, 0, :11], 1.0)
  np.testing.assert_array_equal(out[0, 1, :11], -1.0)
  # std 0: only centred.
  assert out[0, 0, 11] == 103.0 and out[0, 1, 11] == 83.0
  # Empty bin stays exactly 0 (not -mean/std).
  assert not out[0, 2].numpy().any()


def test_read_band_statistics_missing(tmp_path):
  (tmp_path / 'transform_fn').mkdir()
  (tmp_path / 'transformed_metadata').mkdir()
  with pytest.raises(FileNotFoundError, match='croptfx_band_statistics'):
    outputs.read_band_statistics(str(tmp_path))


def test_read_band_statistics_file(tmp_path):
  assets = tmp_path / 'transform_fn' / 'assets'
  assets.mkdir(parents=True)
  (tmp_path / 'transformed_metadata').mkdir()
  stats = normalize.moments_to_statistics(3, [3] * 12, [5] * 12)
  (assets / layouts.BAND_STATISTICS_FILE).write_text(json.dumps(stats))
  got = outputs.read_band_statistics(str(tmp_path))
  assert got == {'band_mean': [1.0] * 12,
                 'band_std': [np.sqrt(2 / 3)] * 12}
