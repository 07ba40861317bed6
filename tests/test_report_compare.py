"""report/compare.py (`croptfx compare`): runs side by side, every number
taken back out of the page equal to the summaries it read."""

import os
import re
import subprocess
import sys

import numpy as np

from croptfx import features
from croptfx import layouts
from croptfx import run_summary
from croptfx.pipeline import configs
from croptfx.report import compare


def _cli(*args):
  return subprocess.run([sys.executable, '-m', 'croptfx.cli', *args], capture_output=True,
                        text=True)


def _fake_summary(model, params, seconds, rate, seed, baseline=False,
                  data_fingerprint='files:3,total_bytes:10,sha256:ab'):
  rng = np.random.default_rng(seed)
  def by_day():
    return {str(d): {'accuracy': float(rng.uniform(0.5, 1)), 'macro_f1': float(rng.uniform(0.3, 1)),
                     'examples': 100,
                     'per_class_f1': {n: float(rng.uniform(0, 1)) for n in features.CLASS_NAMES}}
            for d in configs.SEASON_AS_OF_DAYS}
  return run_summary.RunSummary(
      model=model, model_params=params, train_seconds=seconds,
      train_examples_per_second=rate, headline_as_of_day=240,
      metrics={'eval': by_day(), 'test': by_day()},
      baseline_metrics={'eval': by_day(), 'test': by_day()} if baseline else None,
      baseline_train_seconds=(12.5 + seed) if baseline else None, data='/d',
      data_fingerprint=data_fingerprint, year_splits={'2021': 'train', '2020': 'eval'})


def _ids(html):
  return dict(re.findall(r'id="([^"]+)"[^>]*>([^<]*)<', html))


def test_compare_html_holds_the_numbers_of_the_summaries(tmp_path):
  runs = {'run-a': _fake_summary('cnn', 198407, 41.3, 4650.0, 1, baseline=True),
          'run-b': _fake_summary('gru', 44999, 77.9, 2465.0, 2, baseline=True)}
  for name, summary in runs.items():
    os.makedirs(tmp_path / name)
    run_summary.write_summary(str(tmp_path / name / layouts.SUMMARY_FILE), summary)
  out = tmp_path / 'compare.html'
  done = _cli('compare', str(tmp_path / 'run-a'), str(tmp_path / 'run-b'), '--output', str(out))
  assert done.returncode == 0, done.stderr
  assert done.stdout == f'croptfx compare: 2 runs -> {out}\n'
  html = out.read_text(encoding='utf-8')
  ids = _ids(html)
  assert 'http://' not in html and 'https://' not in html and '<script' not in html
  assert html.count('<svg') == 2 * 2  # curves and per-class F1, for eval and test
  for split in ('eval', 'test'):
    for name, summary in runs.items():
      key = f'{split}-{summary.model}-{name}'
      assert ids[f'{key}-label'] == f'{summary.model} ({name})'
      assert ids[f'{key}-params'] == f'{summary.model_params:,}'
      assert float(ids[f'{key}-train-seconds']) == summary.train_seconds
      assert float(ids[f'{key}-examples-per-s']) == summary.train_examples_per_second
      for day in configs.COMPARE_AS_OF_DAYS:
        m = summary.metrics[split][str(day)]
        assert float(ids[f'{key}-{day}-accuracy']) == round(m['accuracy'], 3)
        assert float(ids[f'{key}-{day}-macro-f1']) == round(m['macro_f1'], 3)
      mean = np.mean([summary.metrics[split][str(d)]['macro_f1'] for d in (150, 180, 210, 240)])
      assert float(ids[f'{key}-mean-macro-f1']) == round(mean, 3)
    # Every run's own tree baseline, not the first run's for all.
    for name, summary in runs.items():
      key = f'{split}-{summary.model}-{name}-tree-baseline'
      base = summary.baseline_metrics[split]
      assert ids[f'{key}-label'] == f'{summary.model} ({name}) tree baseline'
      assert float(ids[f'{key}-180-accuracy']) == round(base['180']['accuracy'], 3)
      assert float(ids[f'{key}-train-seconds']) == summary.baseline_train_seconds


def _write_runs(tmp_path, runs):
  for name, summary in runs.items():
    os.makedirs(tmp_path / name)
    run_summary.write_summary(str(tmp_path / name / layouts.SUMMARY_FILE), summary)


def test_compare_refuses_runs_over_different_data_unless_asked(tmp_path):
  _write_runs(tmp_path, {'a': _fake_summary('cnn', 1, 1.0, 1.0, 1),
                         'b': _fake_summary('gru', 1, 1.0, 1.0, 2, data_fingerprint='other')})
  out = tmp_path / 'c.html'
  done = _cli('compare', str(tmp_path / 'a'), str(tmp_path / 'b'), '--output', str(out))
  assert done.returncode == 2 and not out.exists()
  assert done.stderr.startswith('croptfx compare: error: the runs did not read the same data '
                                'and splits, so their scores are not comparable (')
  assert done.stderr.endswith('; add --allow-different-data to compare them anyway\n')
  assert 'other' in done.stderr and done.stderr.count('\n') == 1
  done = _cli('compare', str(tmp_path / 'a'), str(tmp_path / 'b'), '--output', str(out),
              '--allow-different-data')
  assert done.returncode == 0 and out.exists()


def test_compare_refuses_the_same_run_twice(tmp_path):
  _write_runs(tmp_path, {'a': _fake_summary('cnn', 1, 1.0, 1.0, 1)})
  done = _cli('compare', str(tmp_path / 'a'), str(tmp_path / 'a') + '/', '--output',
              str(tmp_path / 'c.html'))
  assert (done.returncode, done.stderr) == (
      2, f'croptfx compare: error: {tmp_path / "a"}/ is given twice; compare different runs\n')


def test_compare_refuses_a_directory_without_summary(tmp_path):
  out = str(tmp_path / 'c.html')
  done = _cli('compare', str(tmp_path), '--output', out)
  assert done.returncode == 2
  assert done.stderr == (f'croptfx compare: error: {tmp_path}: no run_summary.json '
                         '(not a finished `croptfx run --output`)\n')
  done = _cli('compare', str(tmp_path / 'nope'), '--output', out)
  assert (done.returncode, done.stderr) == (
      2, f'croptfx compare: error: {tmp_path / "nope"}: no such run directory\n')
  assert not (tmp_path / 'c.html').exists()


def test_mean_macro_f1_needs_every_day():
  by_day = {'150': {'macro_f1': 0.5}, '180': {'macro_f1': 0.7}, 210: {'macro_f1': 0.9}}
  assert compare.mean_macro_f1(by_day, (150, 180, 210)) == (0.5 + 0.7 + 0.9) / 3
  assert compare.mean_macro_f1(by_day, (150, 240)) is None


def test_run_labels_use_the_directory_or_the_path_when_names_clash():
  summaries = [run_summary.RunSummary(model='cnn'), run_summary.RunSummary(model='gru')]
  assert compare.run_labels(['/x/run-a', '/y/run-b'], summaries) == [
      'cnn (run-a)', 'gru (run-b)']
  assert compare.run_labels(['/x/run', '/y/run'], summaries) == ['cnn (/x/run)', 'gru (/y/run)']
