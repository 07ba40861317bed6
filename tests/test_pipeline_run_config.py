"""pipeline/run_config.py: a run's configuration, from the defaults and the
flags, checked once before any work."""

import os

import pytest

from croptfx import errors
from croptfx.pipeline import configs
from croptfx.pipeline import run_config


def test_what_is_not_given_comes_from_configs(tmp_path):
  (tmp_path / 'data').mkdir()
  config = run_config.run_config(str(tmp_path / 'data'), str(tmp_path / 'out'))
  p = config.pipeline
  assert p.year_splits == configs.YEAR_SPLITS
  assert p.hparams == configs.trainer_hparams(configs.DEFAULT_MODEL)
  assert (p.train_steps, p.eval_steps) == (configs.TRAIN_NUM_STEPS, configs.EVAL_NUM_STEPS)
  assert p.blessing_threshold == configs.EVAL_ACCURACY_THRESHOLD
  assert p.season_as_of_days == configs.SEASON_AS_OF_DAYS
  assert p.baseline == configs.BASELINE_CONFIG
  assert (p.transform_statistics, p.compress_examples) == (
      configs.TRANSFORM_STATISTICS, configs.COMPRESS_EXAMPLES)
  assert p.data == str(tmp_path / 'data') and os.path.isabs(config.output)
  assert config.runner.name == 'local' and config.runner.workers == 1
  assert p.roles.train == 'train' and p.headline_day == configs.HEADLINE_AS_OF_DAY


def test_given_values_win_and_a_partial_run_writes_no_report(tmp_path):
  (tmp_path / 'd').mkdir()
  config = run_config.run_config(
      str(tmp_path / 'd'), str(tmp_path / 'o'), runner='beam', workers=3, model='gru',
      train_steps=7, epochs=2, blessing_threshold=0.0, year_splits={2020: 'a', 2019: 'b'},
      last_component='Transform')
  assert (config.runner.name, config.runner.workers) == ('beam', 3)
  assert (config.pipeline.hparams.model, config.pipeline.hparams.epochs) == ('gru', 2)
  assert (config.pipeline.train_steps, config.pipeline.blessing_threshold) == (7, 0.0)
  assert config.pipeline.roles.train == 'a' and config.report is False
  assert config.to_dict()['model'] == 'gru'


@pytest.mark.parametrize('kwargs, message', [
    (dict(model='resnet'), "unknown model 'resnet'"),
    (dict(year_splits={2021: 'train'}), 'at least two split names'),
    (dict(year_splits={2021: 'a/b', 2020: 'c'}), "split name 'a/b' must be letters"),
    (dict(label_mapping='no-such.json'), 'no-such.json: no such label mapping file'),
    (dict(blessing_threshold=1.5), r'the blessing threshold must be in \[0, 1\]'),
    (dict(runner='dataflow'), '--runner dataflow is not available here'),
])
def test_bad_configurations_are_one_line_errors(tmp_path, kwargs, message):
  (tmp_path / 'd').mkdir()
  with pytest.raises(errors.CroptfxError, match=message):
    run_config.run_config(str(tmp_path / 'd'), str(tmp_path / 'o'), **kwargs)
  assert not (tmp_path / 'o').exists()
