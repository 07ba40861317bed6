"""Each architecture trains on the real Transform output and serves; the tree
baseline's metrics equal a recomputation (shares the session's small run)."""

import json
import os

import numpy as np
import pytest
from sklearn import metrics as sk_metrics
import tensorflow as tf
import tensorflow_transform as tft

from croptfx import features
from croptfx import layouts
from croptfx.pipeline import configs
from croptfx import records
from croptfx.trainer import signatures
from croptfx.trainer import window

pytestmark = pytest.mark.pipeline


def _files(uri, split):
  return records.split_files(uri, split)


def _records(uri, split):
  return [r.numpy() for r in records.tfrecord_dataset(_files(uri, split))]


@pytest.mark.parametrize('name', tuple(configs.MODEL_CONFIGS))
def test_architecture_trains_exports_and_serves(small_run, name, tmp_path):
  from croptfx.trainer import model as model_lib  # pylint: disable=g-import-not-at-top
  uris = small_run['summary']['artifacts']
  tf_transform_output = tft.TFTransformOutput(uris['transform_graph'])
  spec = tf_transform_output.transformed_feature_spec()
  hparams = configs.trainer_hparams(name)
  model = model_lib.build_keras_model(hparams)

  def to_inputs(serialized):
    batch = tf.io.parse_example(serialized, spec)
    return window.apply_window(
        batch, window.draw_as_of_bins(batch[features.FIRST_BIN], batch[features.LAST_BIN],
                                      seed=1))
  train = records.tfrecord_dataset(_files(uris['transformed_examples'], 'train')
                                     ).batch(32).map(to_inputs).repeat()
  history = model.fit(train, steps_per_epoch=4, epochs=1, verbose=0)
  assert np.isfinite(history.history['loss'][0])
  export = str(tmp_path / name)
  model.save(export, save_format='tf', signatures=signatures.make_signatures(
      model, tf_transform_output, [configs.HEADLINE_AS_OF_DAY]))
  loaded = tf.saved_model.load(export)

  raw = _records(uris['examples'], 'test')[:16]
  year = tf.train.Example.FromString(raw[0]).features.feature['year'].int64_list.value[0]
  served = loaded.signatures[signatures.SERVING_SIGNATURE](
      examples=tf.constant(raw), as_of_date=tf.constant([f'{year}-08-28']))  # day 240
  probabilities = served[signatures.PROBABILITIES].numpy()
  assert probabilities.shape == (16, features.NUM_CLASSES)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
  # The raw path (Transform graph + window) equals the in-memory model on the
  # same examples transformed by the graph.
  transformed = tf_transform_output.transform_raw_features(
      tf.io.parse_example(tf.constant(raw), signatures.serving_raw_feature_spec(
          tf_transform_output)))
  direct = model(window.window_inputs(
      transformed, window.as_of_bins_for_day(240, transformed[features.YEAR])), training=False)
  np.testing.assert_allclose(probabilities, direct.numpy(), atol=1e-5)


def test_summary_has_model_facts_and_the_dense_curve(small_run):
  summary = small_run['summary']
  assert summary['model'] == configs.DEFAULT_MODEL
  from croptfx.trainer import architectures  # pylint: disable=g-import-not-at-top
  expected_params = architectures.build(
      configs.DEFAULT_MODEL, configs.MODEL_CONFIGS[configs.DEFAULT_MODEL]['layers']).count_params()
  assert summary['model_params'] == expected_params
  assert summary['train_seconds'] > 0
  assert summary['train_examples_per_second'] > 0
  for metrics in (summary['metrics'], summary['baseline_metrics']):
    assert sorted(metrics) == ['eval', 'test']
    for by_day in metrics.values():
      assert [int(d) for d in by_day] == list(configs.SEASON_AS_OF_DAYS)


def test_baseline_metrics_equal_a_recomputation(small_run):
  from croptfx.components import tree_baseline  # pylint: disable=g-import-not-at-top
  uris = small_run['summary']['artifacts']
  with open(os.path.join(uris['baseline_evaluation'], layouts.SEASON_METRICS_FILE)) as f:
    written = json.load(f)
  config = configs.BASELINE_CONFIG
  classifier, info = tree_baseline.train(
      tree_baseline.load_batches(_files(uris['transformed_examples'], 'train')),
      config['draws_per_pixel'], config['max_iter'], config['learning_rate'], config['seed'])
  assert info['train_rows'] > 0 and info['features'] == (
      features.WINDOW_BINS * (features.NUM_BANDS + 2) + 1)
  # Labels from the trained model's own signature: an independent path to the
  # gated label and the double-crop weight.
  nn = tf.saved_model.load(small_run['summary']['model_dir'])
  for split in ('eval', 'test'):
    batches = tree_baseline.load_batches(_files(uris['transformed_examples'], split))
    serialized = tf.constant(_records(uris['transformed_examples'], split))
    for day in (120, 180, 240):
      x, y = tree_baseline.rows_at_day(batches, day)
      assert (x[:, -1] == features.day_for_as_of_bin(features.as_of_bin_for_day(day))).all()
      out = nn.signatures[signatures.AT_DAY_SIGNATURE](
          examples=serialized, as_of_day=tf.constant(day, tf.int64))
      keep = out[signatures.WEIGHT].numpy() > 0
      np.testing.assert_array_equal(y, out[signatures.LABEL].numpy()[keep])
      predicted = classifier.predict(x)
      m = written['splits'][split][str(day)]
      present = sorted(set(y) | set(predicted))
      assert m['examples'] == len(y)
      assert m['accuracy'] == pytest.approx(sk_metrics.accuracy_score(y, predicted))
      assert m['macro_f1'] == pytest.approx(
          sk_metrics.f1_score(y, predicted, labels=present, average='macro'))
      for label, f1 in zip(present, sk_metrics.f1_score(y, predicted, labels=present,
                                                         average=None)):
        assert m['per_class'][features.CLASS_NAMES[label]]['f1'] == pytest.approx(f1)
