"""Restart: a run killed with SIGKILL in the middle of Transform, started
again with the same command, finishes with the same output (issue 11).

What happens to the killed attempt, as this test pins it down:
- ML Metadata keeps the killed Transform execution in state RUNNING, with
  its input events and no output artifact. TFX's LocalDagRunner never
  revisits it: every run is a new pipeline-run context, and the cache only
  serves executions that completed. It is an orphan, harmless.
- Its output directories stay on disk, `pipeline/Transform/*/<id>/` with
  the killed execution's id (empty or partly written, depending on when it
  died), with its `.system/executor_execution/<id>/.temp`; nothing refers
  to them, and TFX does not clean them up.
- The restart reuses the four upstream components from the cache (they
  completed before the kill), runs Transform as a new execution, and the
  run summary points at the new execution's artifacts.
"""

import json
import os
import signal
import subprocess
import time

import pytest

from tests import test_reliability_helpers as helpers

pytestmark = pytest.mark.pipeline

RUNNING_LINE = 'Component Transform is running.'
UPSTREAM = helpers.DATA_COMPONENTS[:-1]


def _wait_for_line(path: str, line: str, process: subprocess.Popen,
                   timeout: float = 600) -> None:
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if process.poll() is not None:
      raise AssertionError(f'the run ended ({process.returncode}) before '
                           f'{line!r}')
    if os.path.exists(path):
      with open(path, encoding='utf-8', errors='replace') as f:
        if line in f.read():
          return
    time.sleep(0.2)
  raise AssertionError(f'no {line!r} in {path} after {timeout}s')


@pytest.fixture(scope='module')
def restarted(small_data, tmp_path_factory):
  output = str(tmp_path_factory.mktemp('restart'))
  code = helpers.run_pipeline_code(small_data, output,
                                   last_component='Transform')
  command = [helpers.PYTHON, '-c', code]
  # Its own process group, so the kill reaches anything it started.
  process = subprocess.Popen(command, cwd=helpers.REPO,
                             env=helpers.child_env(), start_new_session=True,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
  try:
    _wait_for_line(os.path.join(output, 'logs', 'run.log'), RUNNING_LINE,
                   process)
    time.sleep(3)  # into the Beam job (Transform takes tens of seconds)
  finally:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
  killed = {
      'returncode': process.returncode,
      'states': helpers.executions_by_component(output),
      'summary_exists': os.path.exists(
          os.path.join(output, 'run_summary.json')),
      'live': [(a.type, a.uri) for a in helpers.live_artifacts(output)],
  }
  start = time.monotonic()
  result = subprocess.run(command, cwd=helpers.REPO, env=helpers.child_env(),
                          capture_output=True, text=True, timeout=900)
  seconds = time.monotonic() - start
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(output, 'run_summary.json')) as f:
    summary = json.load(f)
  print(f'\nrestart after SIGKILL in Transform: {seconds:.0f}s')
  return {'output': output, 'killed': killed, 'summary': summary}


def test_killed_in_the_middle_of_transform(restarted):
  killed = restarted['killed']
  assert killed['returncode'] == -signal.SIGKILL
  # Upstream finished, Transform was running: the kill hit Transform.
  assert {c: [s for _, s in runs] for c, runs in killed['states'].items()} == {
      **{c: ['COMPLETE'] for c in UPSTREAM}, 'Transform': ['RUNNING']}
  assert not killed['summary_exists']
  assert sorted(t for t, _ in killed['live']) == [
      'ExampleAnomalies', 'ExampleStatistics', 'Examples', 'Schema']


def test_restart_reuses_upstream_and_reruns_transform(restarted):
  summary = restarted['summary']
  assert summary['cached_components'] == UPSTREAM
  states = helpers.executions_by_component(restarted['output'])
  (orphan_id, orphan_state), (new_id, new_state) = states['Transform']
  assert (orphan_state, new_state) == ('RUNNING', 'COMPLETE')
  assert new_id > orphan_id
  # The orphan published nothing; the summary reads the new execution.
  assert helpers.output_artifacts(restarted['output'], orphan_id) == []
  published = {a.uri for a in helpers.output_artifacts(restarted['output'],
                                                       new_id)}
  for key in ('transform_graph', 'transformed_examples'):
    uri = summary['artifacts'][key]
    assert uri in published
    assert os.path.basename(uri) == str(new_id)
  for component in UPSTREAM:
    assert [s for _, s in states[component]] == ['COMPLETE', 'CACHED']


def test_restart_gives_the_uninterrupted_output(restarted, small_run):
  got = helpers.read_transformed(
      restarted['summary']['artifacts']['transformed_examples'])
  want = helpers.read_transformed(
      small_run['summary']['artifacts']['transformed_examples'])
  n = helpers.assert_same_transformed(got, want)
  assert n == small_run['summary']['rows_read']
  for key in ('rows_read', 'examples', 'quarantined', 'band_mean',
              'band_std'):
    assert restarted['summary'][key] == small_run['summary'][key], key
