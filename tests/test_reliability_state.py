"""A run's state never lies (issue 26): what the store, the cache, the summary
and the published results say is what this run did, with these data.

Each test reproduces what a user does: delete metadata.db between runs, edit
a file keeping its size and mtime, delete a split of a cached artifact, run
only part of the pipeline after a whole run, corrupt the store, fill the
disk. Runs are tiny (`croptfx generate --pixels-per-year 30`, 20 steps).
"""

import os
import re
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from croptfx import errors
from croptfx import layouts
from croptfx.generate import part1
from tests import test_reliability_helpers as helpers
from tests.conftest import YEARS, run_small_pipeline

pytestmark = pytest.mark.pipeline

TINY = dict(train_steps=20, epochs=1, model='cnn')


def _data(path, pixels=30, seed=1):
  part1.write_dataset(str(path), pixels, years=YEARS, seed=seed, rows_per_file=200)
  return str(path)


def _cli(*argv, timeout=900):
  return helpers.run_cli(*argv, timeout=timeout)


def _records(summary, key='examples'):
  return {split: helpers.count_records(summary['artifacts'][key], split)
          for split in ('train', 'eval', 'test')}


def test_a_deleted_store_starts_clean_and_never_mixes_data_sets(tmp_path):
  a, b = _data(tmp_path / 'a', 30, seed=1), _data(tmp_path / 'b', 20, seed=2)
  output = str(tmp_path / 'out')
  run_small_pipeline(a, output, last_component='Transform', **TINY)
  os.remove(os.path.join(output, 'metadata.db'))
  summary = run_small_pipeline(b, output, last_component='Transform', **TINY)
  progress = summary['_progress'].splitlines()
  assert re.fullmatch(f'{re.escape(output)}/metadata.db is missing but {re.escape(output)}/'
                      r'pipeline holds \d+ artifact directories of earlier runs: moved '
                      r'pipeline.orphaned-\d{8}-\d{6} aside; this run starts clean',
                      progress[0]), progress[0]
  assert [d for d in os.listdir(output) if d.startswith('pipeline.orphaned-')]
  # B's 20 pixels a year, in the summary and in every artifact it names.
  assert summary['examples'] == {'train': 20, 'eval': 20, 'test': 20}
  assert _records(summary) == summary['examples']
  assert _records(summary, 'transformed_examples') == summary['examples']
  assert summary['cached_components'] == []


def test_a_replaced_store_is_moved_aside_with_the_artifacts(tmp_path):
  data = _data(tmp_path / 'a')
  output = str(tmp_path / 'out')
  run_small_pipeline(data, output, last_component='StatisticsGen', **TINY)
  saved = str(tmp_path / 'saved.db')
  shutil.copy(os.path.join(output, 'metadata.db'), saved)
  os.remove(os.path.join(output, 'metadata.db'))
  run_small_pipeline(data, output, last_component='StatisticsGen', **TINY)
  # An older store put back: it does not know the second run's directories.
  os.replace(saved, os.path.join(output, 'metadata.db'))
  summary = run_small_pipeline(data, output, last_component='StatisticsGen', **TINY)
  assert 'does not know' in summary['_progress'].splitlines()[0]
  assert summary['examples'] == {'train': 30, 'eval': 30, 'test': 30}
  assert _records(summary) == summary['examples']


def test_content_changed_with_the_same_size_and_mtime_reruns(tmp_path):
  data = _data(tmp_path / 'a')
  output = str(tmp_path / 'out')
  first = run_small_pipeline(data, output, last_component='ParquetExampleGen', **TINY)
  path = os.path.join(data, sorted(os.listdir(data))[0])
  stat = os.stat(path)
  table = pq.read_table(path)
  cdl = table.column('CDL').to_pylist()
  i, j = next((i, j) for i in range(len(cdl)) for j in range(len(cdl)) if cdl[i] != cdl[j])
  cdl[i], cdl[j] = cdl[j], cdl[i]  # two labels swapped: same size
  pq.write_table(table.set_column(table.column_names.index('CDL'), 'CDL',
                                  pa.array(cdl, pa.string())), path)
  os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
  assert os.path.getsize(path) == stat.st_size
  second = run_small_pipeline(data, output, last_component='ParquetExampleGen', **TINY)
  assert second['cached_components'] == []
  assert second['data_fingerprint'] != first['data_fingerprint']
  os.utime(path)  # a touch alone: cached
  third = run_small_pipeline(data, output, last_component='ParquetExampleGen', **TINY)
  assert third['cached_components'] == ['ParquetExampleGen']


def test_a_cached_artifact_missing_a_split_runs_again(tmp_path):
  data = _data(tmp_path / 'a')
  output = str(tmp_path / 'out')
  first = run_small_pipeline(data, output, last_component='Transform', **TINY)
  split = layouts.split_dir(first['artifacts']['transformed_examples'], 'train')
  shutil.rmtree(split)
  second = run_small_pipeline(data, output, last_component='Transform', **TINY)
  lines = second['_progress'].splitlines()
  relative = os.path.relpath(first['artifacts']['transformed_examples'], output)
  assert lines[0] == (f'{relative}: Split-train is missing or empty; its component and '
                      'the ones after it run again')
  assert 'Transform' not in second['cached_components']
  assert second['artifacts']['transformed_examples'] != first['artifacts'][
      'transformed_examples']
  assert _records(second, 'transformed_examples') == second['examples']


def test_the_summary_holds_this_runs_executions_only(tmp_path):
  data = _data(tmp_path / 'a')
  output = str(tmp_path / 'out')
  whole = run_small_pipeline(data, output, **TINY)
  assert whole['model'] == 'cnn' and whole['metrics']
  part = run_small_pipeline(data, output, last_component='Transform', **TINY)
  # The earlier run's Trainer, Evaluator and Pusher are not this run's.
  for key in ('model', 'metrics', 'model_dir', 'blessed', 'baseline_metrics'):
    assert key not in part or part[key] is None, key
  assert part['run_id'] != whole['run_id']
  assert part['artifacts']['model'] is None


def test_a_corrupt_store_is_named_in_one_line(tmp_path):
  data = _data(tmp_path / 'a')
  output = tmp_path / 'out'
  output.mkdir()
  (output / 'metadata.db').write_bytes(b'this is not a database' * 100)
  status, _, lines = _cli('run', '--data', data, '--output', str(output), '--model', 'cnn',
                          '--train-steps', '20', '--epochs', '1')
  assert status == errors.USAGE
  assert lines == [f'croptfx run: error: {output}/metadata.db: not a readable ML Metadata '
                   'store (' + lines[0].split('store (', 1)[1]]
  assert lines[0].endswith('move it aside or delete it: the next run starts clean and runs '
                           'every component again; no run summary was written')
  assert not (output / 'run_summary.json').exists()


_INTERRUPT = '''
import signal, subprocess, sys, time
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True, start_new_session=True)
# Wait for the second component's line: the Beam workers are up.
line = ''
while '[2/' not in line:
  line += proc.stdout.read(1)
time.sleep(2)
import os
os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
out, err = proc.communicate(timeout=300)
print(proc.returncode)
print(repr(line + out))
print(repr(err))
'''


def test_ctrl_c_of_a_beam_run_is_exit_130_in_one_line(tmp_path):
  data = _data(tmp_path / 'a')
  done = subprocess.run(
      [sys.executable, '-c', _INTERRUPT, helpers.CROPTFX, 'run', '--data', data, '--output',
       str(tmp_path / 'out'), '--runner', 'beam', '--model', 'cnn', '--train-steps', '20'],
      capture_output=True, text=True, timeout=900, env=helpers.child_env())
  code, out, err = done.stdout.strip().splitlines()[-3:]
  assert int(code) == errors.INTERRUPTED
  assert eval(err) == 'croptfx run: interrupted\n'  # pylint: disable=eval-used
  assert eval(out).rstrip('\n').endswith('interrupted')  # pylint: disable=eval-used
  assert not (tmp_path / 'out' / 'run_summary.json').exists()


def test_a_second_writer_is_exit_3_in_one_line_and_changes_nothing(tmp_path):
  data = _data(tmp_path / 'a')
  output = tmp_path / 'out'
  from croptfx.jobs import lock  # pylint: disable=g-import-not-at-top
  held = lock.OutputLock(str(output / lock.LOCK_FILE), 'map', f'--output {output}').acquire()
  try:
    status, stdout, lines = _cli('run', '--data', data, '--output', str(output),
                                 '--model', 'cnn', '--train-steps', '20')
  finally:
    held.release()
  assert status == errors.BUSY and stdout == ''
  assert len(lines) == 1 and lines[0].startswith(
      f'croptfx run: error: --output {output} is being written by `croptfx map` (pid '
      f'{os.getpid()} on ')
  assert sorted(os.listdir(output)) == []  # no logs, no summary moved, nothing


def test_a_full_disk_is_exit_4_and_leaves_no_servable_model(tmp_path):
  data = _data(tmp_path / 'a')
  disk = helpers.small_file_system(tmp_path / 'disk', '5m')
  try:
    # Blessed whatever its accuracy: the push is what fills the disk (the
    # pipeline's artifacts take about 4 of the 5 MB).
    status, _, lines = _cli('run', '--data', data, '--output', str(disk / 'run'),
                            '--model', 'cnn', '--train-steps', '20', '--epochs', '1',
                            '--blessing-threshold', '0', '--no-report')
    assert status == errors.NO_SPACE
    assert lines == [f'croptfx run: error: no space left on device: the file system at '
                     f'{disk} (holding {disk / "run"}) is full; free space or write '
                     'elsewhere; no run summary was written']
    serving = disk / 'run' / 'serving_model'
    assert not serving.exists() or os.listdir(serving) == []
    assert not (disk / 'run' / 'run_summary.json').exists()
  finally:
    subprocess.run(['umount', str(disk)], check=False)
