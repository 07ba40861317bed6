"""components/season_evaluator.py: confusion matrices per as-of day and the
headline day's pixel rows, from the model's `evaluate_at_day` signature."""

import numpy as np
import tensorflow as tf

from croptfx import features
from croptfx import metrics
from croptfx.components import season_evaluator
from croptfx.trainer import signatures

N = 23  # rows, more than one of the evaluator's batches' worth is not needed


def _write_examples(path):
  """Transformed examples holding only what the evaluator parses itself."""
  with tf.io.TFRecordWriter(path) as writer:
    for i in range(N):
      feature = {
          features.LON: tf.train.Feature(float_list=tf.train.FloatList(value=[-90.0 - i])),
          features.LAT: tf.train.Feature(float_list=tf.train.FloatList(value=[33.0 + i])),
          features.YEAR: tf.train.Feature(int64_list=tf.train.Int64List(value=[2020])),
          features.BBOX: tf.train.Feature(int64_list=tf.train.Int64List(value=[i])),
      }
      writer.write(tf.train.Example(
          features=tf.train.Features(feature=feature)).SerializeToString())


def _truth(i, day):
  return (i * 3 + day) % features.NUM_CLASSES


def _prediction(i, day):
  return (i + day // 10) % features.NUM_CLASSES


class _FakeModel:
  """`evaluate_at_day`: row i (its bbox) has label _truth(i, day), the class
  _prediction(i, day) predicted, and weight 0 when i % 5 == 0 (excluded)."""

  def __init__(self):
    def at_day(examples, as_of_day):
      spec = {features.BBOX: tf.io.FixedLenFeature([], tf.int64)}
      i = tf.io.parse_example(examples, spec)[features.BBOX].numpy()
      day = int(as_of_day.numpy())
      return {
          signatures.WEIGHT: tf.constant((i % 5 != 0).astype(np.float32)),
          signatures.LABEL: tf.constant(_truth(i, day)),
          signatures.PROBABILITIES: tf.one_hot(_prediction(i, day), features.NUM_CLASSES),
      }
    self.signatures = {signatures.AT_DAY_SIGNATURE: at_day}


def test_evaluate_split_equals_a_numpy_count(tmp_path):
  path = str(tmp_path / 'data_tfrecord-00000-of-00001')
  _write_examples(path)
  out = season_evaluator.evaluate_split(_FakeModel(), path, [120, 180], headline_day=240)
  kept = np.array([i for i in range(N) if i % 5])
  for day in (120, 180):
    want = np.zeros((7, 7), np.int64)
    np.add.at(want, (_truth(kept, day), _prediction(kept, day)), 1)
    np.testing.assert_array_equal(out['confusion'][day], want)
    np.testing.assert_array_equal(
        want, metrics.confusion_matrix(_truth(kept, day), _prediction(kept, day)))
  assert 240 not in out['confusion']  # the headline day gives rows only
  rows = out['rows']
  np.testing.assert_array_equal(rows[features.BBOX], kept)
  np.testing.assert_array_equal(rows['true'], _truth(kept, 240))
  np.testing.assert_array_equal(rows['predicted'], _prediction(kept, 240))
  np.testing.assert_allclose(rows[features.LON], -90.0 - kept)
  assert rows['probabilities'].shape == (len(kept), 7)
