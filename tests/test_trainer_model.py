"""The Trainer's training settings from issue 20 (steps per call, learning-rate decay)."""

import numpy as np
import pytest
import tensorflow as tf

from pipeline import configs
from trainer import model


def test_steps_per_execution_and_cosine_decay_to_zero():
  hparams = model.HParams(**dict(configs.model_trainer_config('cnn'), learning_rate=2e-3))
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
