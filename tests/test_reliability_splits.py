"""Split names and roles, small data, literal paths, stale results (issue 15).

The roles rule (`features.split_roles`) is checked on its own and in the
pipeline definition; then one whole pipeline run (module fixture) takes
hostile choices at once:

- split names from another vocabulary: `2021=fit,2020=valid,2019=holdout`;
- 60 pixels a year, fewer than one batch (128): the Trainer must train;
- `--data` is a directory named `data[1]` next to a `data1` that the
  pattern `data[1]` would match, and `--output` is `run[1]`;
- the output directory holds a previous run's summary and report.

The pushed model then predicts with as-of dates inside and outside the
rows' years.
"""

import datetime
import json
import os
import subprocess

import pyarrow.parquet as pq
import pytest

from croptfx import errors
from croptfx import features
from croptfx.generate import part1
from croptfx import run_summary
from croptfx import serving_model
from tests import test_reliability_helpers as helpers
from tests.conftest import YEARS, run_small_pipeline

PIXELS = 60
YEAR_SPLITS = {2021: 'fit', 2020: 'valid', 2019: 'holdout'}


@pytest.mark.parametrize('year_splits,roles', [
    ({2021: 'train', 2020: 'eval', 2019: 'test'}, ('train', 'eval', ('test',))),
    (YEAR_SPLITS, ('fit', 'valid', ('holdout',))),
    # By name first: a split named train / eval has that role wherever it is.
    ({2019: 'test', 2020: 'eval', 2021: 'train'}, ('train', 'eval', ('test',))),
    ({2019: 'holdout', 2020: 'eval', 2021: 'train'}, ('train', 'eval', ('holdout',))),
    # Otherwise the order given: the next name after the train split.
    ({2021: 'train', 2019: 'validation', 2020: 'extra'}, ('train', 'validation', ('extra',))),
    ({2018: 'a', 2019: 'b', 2020: 'b', 2021: 'c'}, ('a', 'b', ('c',))),
])
def test_split_roles_rule(year_splits, roles):
  got = features.split_roles(year_splits)
  assert (got.train, got.eval, got.others) == roles
  assert got.names == (roles[0], roles[1]) + roles[2]
  assert got.evaluated == (roles[1],) + roles[2]
  assert features.years_of_split({2018: 'a', 2019: 'b', 2020: 'b'}, 'b') == (2019, 2020)


def test_split_roles_need_a_train_and_an_eval_split():
  with pytest.raises(ValueError, match='at least two split names'):
    features.split_roles({2021: 'train'})
  with pytest.raises(ValueError, match='at least two split names'):
    features.split_roles({2021: 'x', 2020: 'x'})


def test_pipeline_takes_every_split_from_the_roles():
  from croptfx.pipeline import pipeline as pipeline_lib  # pylint: disable=g-import-not-at-top
  from croptfx.pipeline import run_config  # pylint: disable=g-import-not-at-top
  dsl = pipeline_lib.create_pipeline(
      run_config.pipeline_config('data', year_splits=YEAR_SPLITS), 'out/pipeline',
      'out/serving_model')
  props = {c.id: c.exec_properties for c in dsl.components}
  assert json.loads(props['ParquetExampleGen']['year_splits']) == {
      '2021': 'fit', '2020': 'valid', '2019': 'holdout'}
  assert json.loads(props['Transform']['splits_config']) == {
      'analyze': ['fit'], 'transform': ['fit', 'valid', 'holdout']}
  assert json.loads(props['Trainer']['train_args'])['splits'] == ['fit']
  assert json.loads(props['Trainer']['eval_args'])['splits'] == ['valid']
  assert json.loads(props['Evaluator']['example_splits']) == ['valid']
  assert props['SeasonEvaluator']['splits'] == 'valid,holdout'


def test_summary_roles_and_the_reports_headline_split():
  summary = run_summary.RunSummary(year_splits={'2021': 'fit', '2020': 'valid', '2019': 'holdout'})
  assert summary.roles() == features.SplitRoles('fit', 'valid', ('holdout',))
  assert summary.headline_split(['valid', 'holdout']) == 'holdout'
  assert summary.headline_split(['valid']) == 'valid'
  assert summary.headline_split(['fit']) is None
  old = run_summary.RunSummary()  # a summary written before roles were recorded
  assert old.roles() == features.SplitRoles('train', 'eval', ('test',))


# One whole run.


@pytest.fixture(scope='module')
def hostile_run(tmp_path_factory):
  root = tmp_path_factory.mktemp('hostile')
  data = str(root / 'data[1]')
  part1.write_dataset(data, PIXELS, years=YEARS, seed=4, rows_per_file=100)
  # What the pattern data[1] would read instead: another data set.
  part1.write_dataset(str(root / 'data1'), 7, years=YEARS, seed=9)
  output = root / 'run[1]'
  output.mkdir()
  (output / 'run_summary.json').write_text('{"rows_read": 1, "model_dir": "/old"}')
  (output / 'report.html').write_text('old report')
  summary = run_small_pipeline(data, str(output), year_splits=dict(YEAR_SPLITS),
                               report=True)
  return {'root': root, 'data': data, 'output': str(output), 'summary': summary}


@pytest.mark.pipeline
def test_any_split_names_work_end_to_end(hostile_run):
  summary = hostile_run['summary']
  assert summary['rows_read'] == 3 * PIXELS  # data[1] only, never data1
  assert summary['examples'] == {'fit': PIXELS, 'valid': PIXELS, 'holdout': PIXELS}
  assert summary['year_splits'] == {'2021': 'fit', '2020': 'valid', '2019': 'holdout'}
  assert summary['split_roles'] == {'train': 'fit', 'eval': 'valid', 'others': ['holdout']}
  # The SeasonEvaluator scored every split but the train split; the
  # Evaluator blessed on the eval-role split (threshold 0 in the tests).
  assert sorted(summary['metrics']) == ['holdout', 'valid']
  for split in ('holdout', 'valid'):
    assert summary['metrics'][split]['240']['examples'] > 0
  assert summary['blessed'] is True
  states = helpers.executions_by_component(hostile_run['output'])
  assert all(s == 'COMPLETE' for runs in states.values() for _, s in runs), states
  assert len(states) == 10  # nine TFX steps and the TreeBaseline


@pytest.mark.pipeline
def test_a_train_split_smaller_than_a_batch_trains(hostile_run):
  # 60 examples, batch size 128: the model is trained and pushed.
  summary = hostile_run['summary']
  assert summary['examples']['fit'] < 128
  model_dir = summary['model_dir']
  assert os.path.isdir(model_dir)
  serving_model.check(model_dir)


@pytest.mark.pipeline
def test_output_with_glob_characters_holds_everything_under_its_real_name(hostile_run):
  output, summary = hostile_run['output'], hostile_run['summary']
  real = os.path.abspath(output)
  assert summary['model_dir'].startswith(real + os.sep)
  assert summary['quarantine_dir'].startswith(real + os.sep)
  for name, uri in summary['artifacts'].items():
    assert uri.startswith(real + os.sep), (name, uri)
    assert os.path.exists(uri), (name, uri)
  on_disk = run_summary.read_summary(output)
  assert on_disk.model_dir == summary['model_dir']
  assert os.path.exists(os.path.join(output, 'report.html'))
  assert os.path.exists(os.path.join(output, 'metadata.db'))
  # The report leads with the held-out split.
  with open(os.path.join(output, 'report.html'), encoding='utf-8') as f:
    assert 'holdout accuracy, day 240' in f.read()


@pytest.mark.pipeline
def test_the_previous_summary_and_report_were_moved_aside(hostile_run):
  output = hostile_run['output']
  with open(os.path.join(output, 'run_summary.json.previous')) as f:
    assert json.load(f) == {'rows_read': 1, 'model_dir': '/old'}
  with open(os.path.join(output, 'report.html.previous')) as f:
    assert f.read() == 'old report'
  assert run_summary.read_summary(output).rows_read == 3 * PIXELS


# Prediction dates.


@pytest.mark.pipeline
def test_predict_skips_rows_outside_the_as_of_year(hostile_run, tmp_path):
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  out = str(tmp_path / 'p2021.parquet')
  result = map_run.predict(hostile_run['summary']['model_dir'], hostile_run['data'],
                           datetime.date(2021, 6, 1), out, batch_size=50)
  assert (result['rows_read'], result['predicted'], result['skipped']) == (
      3 * PIXELS, PIXELS, {'as_of_outside_year': 2 * PIXELS})
  skipped = pq.read_table(result['skipped_file'])
  assert skipped.column('reason').to_pylist() == ['as_of_outside_year'] * (2 * PIXELS)
  table = pq.read_table(out)
  assert table.num_rows == PIXELS
  assert set(table.column('year').to_pylist()) == {2021}


@pytest.mark.pipeline
def test_predict_with_nothing_predictable_exits_non_zero_in_one_line(hostile_run, tmp_path):
  out = tmp_path / 'p2018.parquet'
  result = subprocess.run(
      [helpers.CROPTFX, 'predict', '--model', hostile_run['summary']['model_dir'],
       '--data', hostile_run['data'], '--as-of', '2018-06-01', '--output', str(out)],
      capture_output=True, text=True, env=helpers.child_env(), timeout=300)
  assert result.returncode == 2
  lines = [l for l in result.stderr.splitlines() if l.strip()]
  assert lines == [
      f'croptfx predict: error: nothing to predict as of 2018-06-01: {3 * PIXELS} rows read, '
      f'none predictable (as_of_outside_year={3 * PIXELS}); {out} not written']
  assert 'Traceback' not in result.stderr
  assert not out.exists()
  # In-process: the same error type, nothing written either.
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  with pytest.raises(errors.CroptfxError, match='nothing to predict as of 2018-06-01'):
    map_run.predict(hostile_run['summary']['model_dir'], hostile_run['data'],
                    datetime.date(2018, 6, 1), str(out))
  assert not out.exists()
