"""trainer/hparams.py: every hyperparameter required, parsed strictly."""

import dataclasses
import json

import pytest

from croptfx.pipeline import configs
from croptfx.trainer import hparams


def test_round_trip_through_the_custom_config():
  want = configs.trainer_hparams('gru', epochs=3)
  config = json.loads(json.dumps(want.to_custom_config()))  # as TFX stores it
  assert hparams.HParams.from_custom_config(dict(config, code_fingerprint='abc')) == want
  assert want.epochs == 3 and want.model_config == configs.MODEL_CONFIGS['gru']['layers']
  assert want.as_of_days == tuple(configs.AS_OF_DAYS)


def test_unknown_and_missing_keys_are_errors():
  config = configs.trainer_hparams('cnn').to_custom_config()
  with pytest.raises(ValueError, match=r"unknown keys \['epoch'\]"):
    hparams.HParams.from_custom_config(dict(config, epoch=3))
  del config['batch_size']
  with pytest.raises(ValueError, match=r"missing keys \['batch_size'\]"):
    hparams.HParams.from_custom_config(config)


@pytest.mark.parametrize('change, message', [
    (dict(epochs=0), 'epochs must be a positive integer'),
    (dict(batch_size=True), 'batch_size must be a positive integer'),
    (dict(learning_rate=0.0), 'learning_rate must be positive'),
    (dict(headline_day=200), 'headline day 200 must be one of the as-of days'),
])
def test_values_are_checked(change, message):
  with pytest.raises(ValueError, match=message):
    dataclasses.replace(configs.trainer_hparams('cnn'), **change)
