"""File faults through the CLI, as a user runs it (issue 11).

Each fault runs `croptfx run --data D --output O` in a child process. The
promise: exit status 2, exactly one line on stderr naming the file (and the
column), no traceback anywhere on the console, and nothing left behind that
a later run would take as valid: no run summary, no published Examples in
ML Metadata, and after fixing the data a re-run into the same output
directory runs the ExampleGen again (never a cache hit on the failed
attempt) and reads exactly the fixed rows.

The executor-level tests (test_example_gen_component) check the messages
of `InputDataError`; this module checks what reaches the user's console
and what stays on disk and in ML Metadata.
"""

import concurrent.futures
import json
import os
import subprocess
from typing import Any, Callable, Dict, List, NamedTuple, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests import test_reliability_helpers as helpers
from tests.test_example_gen_rows import pixel_row
from tests.test_example_gen_rows import write_parquet

pytestmark = pytest.mark.pipeline

YEARS = (2019, 2020, 2021)
ROWS_PER_FILE = 3 * len(YEARS)


def _good_rows(seed: int) -> List[Dict]:
  return [pixel_row(year, seed=seed + i) for year in YEARS for i in range(3)]


def _good_file(path: str, seed: int = 0) -> str:
  return write_parquet(path, _good_rows(seed))


def _rewrite(path: str, change: Callable[[pa.Table], pa.Table]) -> None:
  pq.write_table(change(pq.read_table(path)), path)


def _corrupt_page(path: str) -> None:
  """Overwrites the first data page; the footer stays readable."""
  with open(path, 'r+b') as f:
    f.seek(4)
    f.write(b'\xff' * 64)


class Case(NamedTuple):
  """One file fault: how to make it, what the message names, how to fix."""
  name: str
  make: Callable[[str], str]  # input dir -> the --data argument
  fragments: Callable[[str], Sequence[str]]  # input dir -> message parts
  fix: Callable[[str], int]  # input dir -> rows of the fixed input
  runner: str = 'local'
  # Stopped before any output artifact is written (footer and listing
  # checks); a page that breaks while reading is found in the workers.
  checked_up_front: bool = True


def _truncated(d):
  _good_file(os.path.join(d, 'a.parquet'), 0)
  bad = _good_file(os.path.join(d, 'b.parquet'), 10)
  with open(bad, 'r+b') as f:
    f.truncate(os.path.getsize(bad) - 100)
  return d


def _zero_byte(d):
  _good_file(os.path.join(d, 'a.parquet'), 0)
  os.makedirs(os.path.join(d, 'more'))
  open(os.path.join(d, 'more', 'b.parquet'), 'wb').close()
  return d


def _not_parquet(d):
  os.makedirs(d)
  with open(os.path.join(d, 'a.parquet'), 'w') as f:
    f.write('lon,lat,bands\n-90.5,33.4,AUECmAOE\n')
  return d


def _missing_column(d):
  path = _good_file(os.path.join(d, 'a.parquet'))
  _rewrite(path, lambda t: t.drop(['img_dates']))
  return d


def _wrong_type(d):
  path = _good_file(os.path.join(d, 'a.parquet'))
  _rewrite(path, lambda t: t.set_column(
      t.column_names.index('bands'), 'bands',
      pa.array(np.arange(t.num_rows), pa.int64())))
  return d


def _empty_dir(d):
  os.makedirs(d)
  return d


def _glob(d):
  _good_file(os.path.join(d, 'a.parquet'))
  return os.path.join(d, 'part-*.parquet')


def _missing_path(d):
  return d  # never created


def _corrupt(d):
  path = write_parquet(os.path.join(d, 'a.parquet'),
                       [pixel_row(2021, n=30, seed=i) for i in range(50)])
  _corrupt_page(path)
  return d


def _tiles_not_utf8(d):
  path = _good_file(os.path.join(d, 'a.parquet'))
  _rewrite(path, lambda t: t.set_column(
      t.column_names.index('tiles'), 'tiles',
      pa.array([b'15SXA_0\xff'] * t.num_rows, pa.binary())))
  return d


def _year_missing(d):
  """Rows of 2021 and 2020 only: the test split (2019) would be empty."""
  write_parquet(os.path.join(d, 'a.parquet'),
                [pixel_row(year, seed=i) for year in (2021, 2020) for i in range(3)])
  return d


def _fix_all(d) -> int:
  """Rewrites every file under `d` as good Parquet; returns the rows."""
  os.makedirs(d, exist_ok=True)
  paths = [os.path.join(dirpath, name)
           for dirpath, _, names in os.walk(d) for name in names]
  for k, path in enumerate(sorted(paths)):
    os.remove(path)
    _good_file(path, 10 * k)
  return ROWS_PER_FILE * len(paths)


def _fix_by_adding(name: str) -> Callable[[str], int]:
  def fix(d):
    _good_file(os.path.join(d, name), 99)
    return ROWS_PER_FILE
  return fix


CASES = [
    Case('truncated', _truncated,
         lambda d: [os.path.join(d, 'b.parquet'), 'not a readable Parquet'],
         _fix_all),
    Case('zero_byte', _zero_byte,
         lambda d: [os.path.join(d, 'more', 'b.parquet'), '0 bytes'],
         _fix_all),
    Case('not_parquet', _not_parquet,
         lambda d: [os.path.join(d, 'a.parquet'), 'not a readable Parquet'],
         _fix_all),
    Case('missing_column', _missing_column,
         lambda d: [os.path.join(d, 'a.parquet'), "column 'img_dates'",
                    'missing required column'], _fix_all),
    Case('wrong_type', _wrong_type,
         lambda d: [os.path.join(d, 'a.parquet'), "column 'bands'",
                    'has type int64, expected binary'], _fix_all),
    Case('empty_dir', _empty_dir,
         lambda d: [d, 'holds no files'], _fix_by_adding('a.parquet')),
    Case('glob_matches_nothing', _glob,
         lambda d: [os.path.join(d, 'part-*.parquet'), 'matches no files'],
         # 2 files after the fix; only the new one matches.
         _fix_by_adding('part-0.parquet')),
    Case('missing_path', _missing_path,
         lambda d: [d, 'no such file or directory'],
         _fix_by_adding('a.parquet')),
    # Found while reading, in a multi-processing Beam worker.
    Case('corrupt_page_beam', _corrupt,
         lambda d: [os.path.join(d, 'a.parquet'), 'cannot be read'],
         _fix_all, runner='beam', checked_up_front=False),
    # Row faults are never fatal, but a split left without rows is: every
    # row's tiles are not UTF-8 (each one quarantined), so the train split
    # is empty and the run stops after the ExampleGen, before Transform.
    Case('tiles_not_utf8_in_every_row', _tiles_not_utf8,
         lambda d: [d, "split 'train' (year 2021) is empty: all 3 rows of 2021 "
                       'were quarantined', 'no run summary was written'],
         _fix_all, checked_up_front=False),
    Case('year_missing', _year_missing,
         lambda d: [d, "split 'test' (year 2019) is empty: the data has no rows of 2019",
                    'before Transform', 'no run summary was written'],
         _fix_all, checked_up_front=False),
]


STALE = '{"rows_read": 1}'


class Outcome(NamedTuple):
  case: Case
  data_dir: str
  data_arg: str
  output: str
  result: subprocess.CompletedProcess
  left: Dict[str, Any]  # what the failed run left behind, see `_left`


def _left(output: str) -> Dict[str, Any]:
  """The output directory and ML Metadata right after a failed run."""
  examples_dir = os.path.join(output, 'pipeline', 'ParquetExampleGen',
                              'examples')
  left = {
      'output_exists': os.path.exists(output),
      'summary_exists': os.path.exists(
          os.path.join(output, 'run_summary.json')),
      'report_exists': os.path.exists(os.path.join(output, 'report.html')),
      'moved_aside': sorted(n for n in os.listdir(output) if n.endswith('.previous'))
                     if os.path.isdir(output) else [],
      'example_files': [os.path.join(p, n)
                        for p, _, names in os.walk(examples_dir)
                        for n in names],
  }
  if os.path.exists(os.path.join(output, 'metadata.db')):
    executions = helpers.executions_by_component(output)
    left['live_artifacts'] = [(a.type, a.uri)
                              for a in helpers.live_artifacts(output)]
    left['executions'] = executions
    left['published'] = {
        execution_id: [a.uri for a in helpers.output_artifacts(
            output, execution_id)]
        for runs in executions.values() for execution_id, _ in runs}
  return left


def _run_cli(case: Case, root: str) -> Outcome:
  data_dir = os.path.join(root, case.name, 'in')
  output = os.path.join(root, case.name, 'out')
  data_arg = case.make(data_dir)
  if case.name != 'missing_path':  # a previous run's results, to be moved aside
    os.makedirs(output)
    for name in ('run_summary.json', 'report.html'):
      with open(os.path.join(output, name), 'w') as f:
        f.write(STALE)
  command = [helpers.CROPTFX, 'run', '--data', data_arg, '--output', output,
             '--runner', case.runner, '--no-report']
  result = subprocess.run(command, cwd=root, env=helpers.child_env(),
                          capture_output=True, text=True, timeout=600)
  return Outcome(case, data_dir, data_arg, output, result, _left(output))


@pytest.fixture(scope='module')
def failed_runs(tmp_path_factory) -> Dict[str, Outcome]:
  """Every case through the CLI; three at a time (each is one process)."""
  root = str(tmp_path_factory.mktemp('file_faults'))
  with concurrent.futures.ThreadPoolExecutor(3) as pool:
    outcomes = list(pool.map(lambda c: _run_cli(c, root), CASES))
  return {o.case.name: o for o in outcomes}


_RERUN = """
import io, json, sys
from croptfx import errors
from croptfx.pipeline import run, run_config
from tests import test_reliability_files as module

def run_once(data, output, runner):
  try:
    summary = run.run_pipeline(
        run_config.run_config(data, output, runner=runner, report=False,
                              last_component='ParquetExampleGen'), stream=io.StringIO())
  except errors.CroptfxError as e:
    return {'error': str(e)}
  return {k: summary[k] for k in ('rows_read', 'examples', 'quarantined',
                                  'cached_components', 'artifacts')}

cases = {c.name: c for c in module.CASES}
results = {}
for name, data_dir, data, output in json.loads(sys.argv[1]):
  case = cases[name]
  again = run_once(data, output, case.runner)
  fixed_rows = case.fix(data_dir)
  results[name] = {'again': again, 'fixed_rows': fixed_rows,
                   'fixed': run_once(data, output, case.runner)}
print('RESULTS ' + json.dumps(results))
"""


def _rerun(outcomes: Sequence[Outcome]) -> Dict[str, Dict]:
  """For each case, into its output directory: `run_pipeline` up to the
  ExampleGen on the same broken input, then on the fixed input. One child
  process, so TFX is imported once."""
  jobs = [(o.case.name, o.data_dir, o.data_arg, o.output) for o in outcomes]
  result = helpers.run_python_args(_RERUN, [json.dumps(jobs)])
  assert result.returncode == 0, result.stderr[-3000:]
  line = [l for l in result.stdout.splitlines() if l.startswith('RESULTS ')]
  return json.loads(line[-1][len('RESULTS '):])


@pytest.fixture(scope='module')
def reruns(failed_runs) -> Dict[str, Dict[str, Dict]]:
  """{case: {'again': ..., 'fixed_rows': n, 'fixed': ...}}, half of the
  cases in each of two child processes."""
  outcomes = list(failed_runs.values())
  halves = [outcomes[0::2], outcomes[1::2]]
  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    results = list(pool.map(_rerun, halves))
  return {name: r for half in results for name, r in half.items()}


@pytest.mark.parametrize('case', CASES, ids=lambda c: c.name)
def test_one_clear_line_and_exit_status(failed_runs, case):
  outcome = failed_runs[case.name]
  result = outcome.result
  console = result.stdout + result.stderr
  assert result.returncode == 2, console[-3000:]
  assert 'Traceback' not in console, console[-3000:]
  lines = [l for l in result.stderr.splitlines() if l.strip()]
  assert len(lines) == 1, result.stderr[-3000:]
  assert lines[0].startswith('croptfx run: error: '), lines
  if case.name != 'missing_path':  # an argument, refused before the run started
    assert lines[0].endswith('; no run summary was written'), lines
  for fragment in case.fragments(outcome.data_dir):
    assert fragment in lines[0], (fragment, lines[0])
  print(f'\n{case.name}: {lines[0]}')


@pytest.mark.parametrize('case', CASES, ids=lambda c: c.name)
def test_nothing_valid_left_behind(failed_runs, case):
  left = failed_runs[case.name].left
  assert not left['summary_exists']
  assert not left['report_exists']
  if case.name == 'missing_path':  # stopped before the output is made
    assert not left['output_exists']
    return
  # The previous run's summary and report were moved aside, unchanged.
  assert left['moved_aside'] == ['report.html.previous', 'run_summary.json.previous']
  output = failed_runs[case.name].output
  for name in left['moved_aside']:
    with open(os.path.join(output, name)) as f:
      assert f.read() == STALE
  # ML Metadata: no artifact published, no execution that succeeded.
  assert left['live_artifacts'] == []
  assert list(left['executions']) == ['ParquetExampleGen'], left
  (execution_id, state), = left['executions']['ParquetExampleGen']
  # The executor's errors are recorded as FAILED. The input is listed by
  # the driver, before TFX publishes anything, and TFX leaves that
  # execution RUNNING: an orphan that no later run reads or reuses.
  listing = case.name in ('empty_dir', 'glob_matches_nothing')
  assert state == ('RUNNING' if listing else 'FAILED')
  assert left['published'] == {execution_id: []}
  if case.checked_up_front:  # not one byte of examples written
    assert left['example_files'] == []


@pytest.mark.parametrize('case', CASES, ids=lambda c: c.name)
def test_same_input_fails_again_not_served_from_a_cache(failed_runs, reruns,
                                                        case):
  cli_line = failed_runs[case.name].result.stderr.strip()
  again = reruns[case.name]['again']
  assert 'error' in again, again
  assert cli_line == f'croptfx run: error: {again["error"]}'


@pytest.mark.parametrize('case', CASES, ids=lambda c: c.name)
def test_fixed_input_runs_the_example_gen_again(failed_runs, reruns, case):
  output = failed_runs[case.name].output
  fixed, rows = reruns[case.name]['fixed'], reruns[case.name]['fixed_rows']
  assert 'error' not in fixed, fixed
  assert fixed['cached_components'] == []
  assert fixed['rows_read'] == rows
  per_split = rows // len(YEARS)
  assert fixed['examples'] == {'train': per_split, 'eval': per_split,
                               'test': per_split}
  assert sum(fixed['quarantined'].values()) == 0
  # Exactly one Examples artifact was ever published: the fixed run's.
  examples, = helpers.live_artifacts(output, 'Examples')
  assert examples.uri == fixed['artifacts']['examples']
  states = helpers.executions_by_component(output)['ParquetExampleGen']
  failed = [s for s in states if s[1] != 'COMPLETE']
  (last_id, last_state), = [s for s in states if s[1] == 'COMPLETE']
  assert last_id == max(i for i, _ in states)
  assert [a.id for a in helpers.output_artifacts(output, last_id)] == [
      examples.id]
  # The failed attempts (CLI, then the same input again) published nothing.
  # (A missing path stops before the output directory is made.)
  assert len(failed) == (0 if case.name == 'missing_path' else 2)
  for execution_id, _ in failed:
    assert helpers.output_artifacts(output, execution_id) == []
