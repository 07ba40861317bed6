"""The whole pipeline under LocalDagRunner on a small generated data set."""

import json
import os

import pytest
import tensorflow as tf

from croptfx import features
from croptfx.pipeline import configs
from tests.conftest import SMALL_PIXELS_PER_YEAR, run_small_pipeline

COMPONENTS = ['ParquetExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator',
              'Transform', 'Trainer', 'Evaluator', 'Pusher', 'SeasonEvaluator', 'TreeBaseline']

pytestmark = pytest.mark.pipeline


def test_summary_file_has_every_key(small_run):
  with open(os.path.join(small_run['output'], 'run_summary.json')) as f:
    summary = json.load(f)
  for key in ('rows_read', 'examples', 'quarantined', 'band_mean', 'band_std', 'metrics',
              'model_dir', 'component_seconds'):
    assert key in summary, key
  assert sorted(summary['component_seconds']) == sorted(COMPONENTS)
  assert len(summary['band_mean']) == len(summary['band_std']) == features.NUM_BANDS


def test_counts_reconcile(small_run):
  summary = small_run['summary']
  # Generated data has no bad rows: every row is an example of its year.
  assert summary['rows_read'] == 3 * SMALL_PIXELS_PER_YEAR
  assert summary['examples'] == {'train': SMALL_PIXELS_PER_YEAR, 'eval': SMALL_PIXELS_PER_YEAR,
                                 'test': SMALL_PIXELS_PER_YEAR}
  assert sum(summary['quarantined'].values()) == 0
  assert summary['rows_read'] == sum(summary['examples'].values()) + sum(
      summary['quarantined'].values())


def test_band_statistics_are_train_year_reflectances(small_run):
  summary = small_run['summary']
  # Sentinel-2 L2A reflectance x 10000: means in the hundreds to thousands,
  # SWIR-2 (B12) darker than NIR (B08) over a farmed county.
  assert all(300 < m < 6000 for m in summary['band_mean'])
  assert all(s > 100 for s in summary['band_std'])
  assert summary['band_mean'][features.BAND_NAMES.index('B12')] < summary['band_mean'][
      features.NIR_BAND]


def test_metrics_per_split_and_as_of_day(small_run):
  metrics = small_run['summary']['metrics']
  assert sorted(metrics) == ['eval', 'test']
  for split in metrics.values():
    assert sorted(int(d) for d in split) == list(configs.SEASON_AS_OF_DAYS)
    for day in split.values():
      assert 0.0 <= day['macro_f1'] <= day['accuracy'] + 1.0
      assert 0.0 <= day['accuracy'] <= 1.0
      # Double crops are excluded from evaluation.
      assert 0 < day['examples'] <= SMALL_PIXELS_PER_YEAR


def test_model_is_pushed_and_loads(small_run):
  summary = small_run['summary']
  assert summary['blessed'] is True  # the test run blesses at threshold 0
  model_dir = summary['model_dir']
  assert model_dir.startswith(os.path.join(small_run['output'], 'serving_model'))
  loaded = tf.saved_model.load(model_dir)
  assert {'serving_default', 'evaluate_transformed', 'eval_labels',
          'evaluate_at_day'} <= set(loaded.signatures)


def test_progress_names_every_component(small_run):
  lines = [l for l in small_run['summary']['_progress'].splitlines() if l.startswith('[')]
  n = len(COMPONENTS)
  assert [l.split('] ')[0] for l in lines] == [f'[{i}/{n}' for i in range(1, n + 1)]
  assert sorted(l.split('] ')[1].split(' ... ')[0] for l in lines) == sorted(COMPONENTS)
  assert all(' ... done in ' in l for l in lines)


def test_second_run_is_cached_and_fast(small_run):
  first = small_run['summary']
  second = run_small_pipeline(small_run['data'], small_run['output'])
  assert sorted(second['cached_components']) == sorted(COMPONENTS)
  assert second['wall_seconds'] <= 0.5 * first['wall_seconds']
  assert second['examples'] == first['examples']
  assert second['metrics'] == first['metrics']
  assert second['model_dir'] == first['model_dir']


def test_report_on_the_real_run(small_run):
  from croptfx.report import build  # pylint: disable=g-import-not-at-top
  path = build.write_report(small_run['output'])
  with open(path, encoding='utf-8') as f:
    page = f.read()
  assert path == os.path.join(small_run['output'], 'report.html')
  assert 'incomplete run' not in page.lower()
  assert page.count('<svg') + page.count('src="data:image/png;base64,') >= 8
  summary = small_run['summary']
  headline = summary['metrics']['test'][str(configs.HEADLINE_AS_OF_DAY)]['accuracy']
  assert f'{headline:.3f}' in page
  assert 'http://' not in page and 'https://' not in page
