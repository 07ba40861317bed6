"""The Trainer's model settings from issue 20 (bfloat16 option, steps per call, decay)."""

import numpy as np
import pytest
import tensorflow as tf

from croptfx import features
from trainer import model


@pytest.mark.parametrize('bfloat16', [True, False])
def test_hidden_layers_compute_in_bfloat16_and_the_softmax_in_float32(bfloat16):
  assert model.HParams().bfloat16 is False  # an option, off by default
  keras_model = model.build_keras_model(model.HParams(bfloat16=bfloat16))
  compute = {layer.name: layer.compute_dtype for layer in keras_model.layers
             if layer.__class__.__name__ in ('Conv1D', 'Dense')}
  hidden = [name for name in compute if name != 'probabilities']
  assert len(hidden) == 4  # three convolutions and one dense layer
  want = 'bfloat16' if bfloat16 else 'float32'
  assert {compute[name] for name in hidden} == {want}
  assert compute['probabilities'] == 'float32'
  assert all(v.dtype == tf.float32 for v in keras_model.trainable_variables)
  batch = {features.WINDOW: tf.ones((3, features.WINDOW_BINS, features.NUM_BANDS)),
           features.WINDOW_OBSERVED: tf.ones((3, features.WINDOW_BINS)),
           features.WINDOW_VEGETATION: tf.zeros((3, features.WINDOW_BINS)),
           features.AS_OF_DAY: tf.constant([100.0, 200.0, 300.0])}
  probabilities = keras_model(batch, training=False)
  assert probabilities.dtype == tf.float32
  np.testing.assert_allclose(probabilities.numpy().sum(axis=1), 1.0, atol=1e-6)


def test_steps_per_execution_and_cosine_decay_to_zero():
  hparams = model.HParams(learning_rate=2e-3, bfloat16=False)
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
