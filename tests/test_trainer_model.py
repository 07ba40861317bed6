"""The Trainer's training settings from issue 20 (steps per call, learning-rate decay)."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from croptfx.pipeline import configs
from croptfx.trainer import model


def test_steps_per_execution_and_cosine_decay_to_zero():
  hparams = dataclasses.replace(configs.trainer_hparams('cnn'), learning_rate=2e-3)
  keras_model = model.build_keras_model(hparams, train_steps=1000)
  assert int(keras_model._steps_per_execution.numpy()) == 25  # pylint: disable=protected-access
  schedule = keras_model.optimizer._learning_rate  # pylint: disable=protected-access
  assert callable(schedule)
  # 2e-3 * (1 + cos(pi * step / 1000)) / 2
  assert float(schedule(0)) == pytest.approx(2e-3)
  assert float(schedule(250)) == pytest.approx(2e-3 * (1 + np.cos(np.pi / 4)) / 2)
  assert float(schedule(500)) == pytest.approx(1e-3)
  assert float(schedule(1000)) == pytest.approx(0.0, abs=1e-12)
  # Without train_steps the rate is constant.
  constant = model.build_keras_model(hparams).optimizer._learning_rate  # pylint: disable=protected-access
  assert not callable(constant) and float(constant) == pytest.approx(2e-3)


def _input_fn_datasets():
  """input_fn's training and evaluation datasets over 6 zero-valued transformed
  examples (the DataAccessor's factory replaced by an in-memory dataset)."""
  from croptfx import features  # pylint: disable=g-import-not-at-top
  from tfx.components.trainer import fn_args_utils  # pylint: disable=g-import-not-at-top
  spec = features.transformed_feature_spec()
  examples = {key: tf.zeros([6] + list(feature.shape), feature.dtype)
              for key, feature in spec.items()}
  examples[features.LAST_BIN] = tf.fill([6] + list(spec[features.LAST_BIN].shape),
                                        tf.constant(features.BINS_PER_YEAR - 1,
                                                    spec[features.LAST_BIN].dtype))

  def factory(file_pattern, options, schema):
    del file_pattern, schema
    return tf.data.Dataset.from_tensor_slices(examples).batch(options.batch_size).repeat()

  accessor = fn_args_utils.DataAccessor(tf_dataset_factory=factory,
                                        record_batch_factory=None,
                                        data_view_decode_fn=None)

  class _Metadata:
    schema = None

  class _TransformOutput:
    transformed_metadata = _Metadata()

  train = model.input_fn('unused', accessor, _TransformOutput(), batch_size=4, seed=1)
  evaluation = model.input_fn('unused', accessor, _TransformOutput(), batch_size=4,
                              as_of_day=240, shuffle=False)
  return train, evaluation


def test_input_fn_runs_without_the_autotuning_thread():
  # Deleting an iterator with tf.data autotuning on waits for its
  # optimization loop (up to a minute): `fit` returned up to 50 s late.
  train, evaluation = _input_fn_datasets()
  assert train.options().autotune.enabled is False
  assert evaluation.options().autotune.enabled is False
  # Training batches may come in any order; evaluation keeps its order.
  assert train.options().deterministic is False
  assert evaluation.options().deterministic is not False
  inputs, labels = next(iter(evaluation))
  from croptfx import features  # pylint: disable=g-import-not-at-top
  assert inputs[features.WINDOW].shape == (4, features.WINDOW_BINS, features.NUM_BANDS)
  # Zero-valued examples: label 0 (No Crops Growing) stays 0 after gating.
  np.testing.assert_array_equal(labels.numpy(), np.zeros(4))
