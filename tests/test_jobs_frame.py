"""jobs/frame.py (with lock.py, logs.py, progress.py): what every command shares.

One writer per output, previous results moved aside, logs to the job's file
only, clean-up and one translated error on failure, SIGTERM like Ctrl-C,
summaries published whole.
"""

import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from croptfx import errors
from croptfx import paths
from croptfx.jobs import frame
from croptfx.jobs import lock as lock_lib
from croptfx.jobs import progress as progress_lib


def _job(tmp_path, **kwargs):
  output = str(tmp_path / 'out')
  return frame.Job('run', output, log_path=os.path.join(output, 'logs', 'run.log'),
                   stream=io.StringIO(), **kwargs)


def test_a_second_writer_is_refused_naming_the_first(tmp_path):
  out = tmp_path / 'out'
  out.mkdir()
  (out / 'run_summary.json').write_text('{"first": 1}')
  with _job(tmp_path, results=[str(out / 'run_summary.json')]):
    with pytest.raises(errors.OutputBusyError) as refused:
      with _job(tmp_path, results=[str(out / 'run_summary.json')]):
        pass
    line = str(refused.value)
    assert refused.value.exit_code == errors.BUSY == 3
    assert line.startswith(f'--output {out} is being written by `croptfx run` (pid '
                           f'{os.getpid()} on ')
    assert line.endswith('; wait for it to finish or choose another output')
    # The refused job changed nothing: the first job's moved-aside summary
    # is still the only one.
    assert sorted(os.listdir(out)) == ['.croptfx.lock', 'logs', 'run_summary.json.previous']
  with _job(tmp_path):  # released when the first job ended
    pass
  assert not (out / '.croptfx.lock').exists()  # removed by its holder


def test_the_lock_dies_with_its_process(tmp_path):
  lock_path = str(tmp_path / 'lock')
  holder = subprocess.Popen(
      [sys.executable, '-c', textwrap.dedent(f'''
          import time
          from croptfx.jobs import lock
          held = lock.OutputLock({lock_path!r}, 'map', 'x').acquire()
          print('held', flush=True)
          time.sleep(60)
      ''')], stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == 'held'
  with pytest.raises(errors.OutputBusyError, match=f'`croptfx map` \\(pid {holder.pid} '):
    lock_lib.OutputLock(lock_path, 'run', 'x').acquire()
  holder.send_signal(signal.SIGKILL)
  holder.wait()
  lock_lib.OutputLock(lock_path, 'run', 'x').acquire().release()


def test_failure_runs_the_cleanup_and_raises_one_line_with_the_note(tmp_path):
  cleaned = []
  with pytest.raises(errors.JobFailedError) as failed:
    with _job(tmp_path, failure_note='no run summary was written') as job:
      job.on_failure(lambda: cleaned.append('first'))
      job.on_failure(lambda: cleaned.append('second'))
      job.progress.begin('step', 'working')
      raise ZeroDivisionError('division by zero')
  log = str(tmp_path / 'out' / 'logs' / 'run.log')
  assert str(failed.value) == (f'ZeroDivisionError: division by zero (full log: {log}); '
                               'no run summary was written')
  assert cleaned == ['second', 'first']
  with open(log, encoding='utf-8') as f:
    text = f.read()
  assert 'Traceback (most recent call last)' in text and 'ZeroDivisionError' in text


def test_an_input_error_keeps_its_type_and_exit_code(tmp_path):
  with pytest.raises(errors.InputDataError) as failed:
    with _job(tmp_path, failure_note='no run summary was written'):
      raise errors.InputDataError('a.parquet', 'not Parquet', 'bands')
  assert failed.value.path == 'a.parquet' and failed.value.exit_code == errors.USAGE
  assert str(failed.value) == ("a.parquet: column 'bands': not Parquet; no run summary "
                               'was written')


def test_logs_go_to_the_file_and_the_callers_logging_comes_back(tmp_path):
  root = logging.getLogger()
  mine = logging.NullHandler()
  root.addHandler(mine)
  before = (list(root.handlers), root.level)
  try:
    with _job(tmp_path):
      logging.info('inside the job')
      os.write(2, b'a child process writing to fd 2\n')
    assert (list(root.handlers), root.level) == before
  finally:
    root.removeHandler(mine)
  with open(tmp_path / 'out' / 'logs' / 'run.log', encoding='utf-8') as f:
    text = f.read()
  assert 'inside the job' in text and 'a child process writing to fd 2' in text


def test_write_summary_is_whole_or_absent(tmp_path, monkeypatch):
  with _job(tmp_path) as job:
    path = job.write_summary(str(tmp_path / 'out' / 's.json'), {'a': 1})
  assert json.loads(open(path).read()) == {'a': 1}

  def full_disk(src, dst):
    raise OSError(28, 'No space left on device')
  monkeypatch.setattr(os, 'replace', full_disk)
  with pytest.raises(OSError):
    paths.write_atomic(path, '{"a": 2}')
  monkeypatch.undo()
  assert json.loads(open(path).read()) == {'a': 1}
  assert sorted(os.listdir(tmp_path / 'out')) == ['logs', 's.json']


_SIGNAL_SCRIPT = '''
import io, sys, time
from croptfx import errors
from croptfx.jobs import frame
out = sys.argv[1]
try:
  with frame.Job('run', out, log_path=out + '/logs/run.log') as job:
    job.on_failure(lambda: open(out + '/cleaned', 'w').close())
    job.progress.begin('Transform', 'Transform')
    time.sleep(60)
except errors.Interrupted as e:
  print(f'croptfx run: {e}', file=sys.stderr)
  sys.exit(e.exit_code)
'''


@pytest.mark.parametrize('signum, code, word', [
    (signal.SIGTERM, 143, 'terminated'), (signal.SIGINT, 130, 'interrupted')])
def test_sigterm_and_sigint_end_the_line_clean_up_and_exit_with_their_code(
    tmp_path, signum, code, word):
  out = str(tmp_path / 'out')
  # As the CLI runs: Google's client libraries' warnings about Python 3.10,
  # printed when Beam is imported, filtered (cli/main.py does it too).
  env = dict(os.environ, PYTHONWARNINGS='ignore::FutureWarning')
  proc = subprocess.Popen([sys.executable, '-c', _SIGNAL_SCRIPT, out], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 60
  while not os.path.exists(os.path.join(out, '.croptfx.lock')) or not os.path.getsize(
      os.path.join(out, '.croptfx.lock')):
    assert time.monotonic() < deadline
    time.sleep(0.1)
  time.sleep(0.5)
  proc.send_signal(signum)
  stdout, stderr = proc.communicate(timeout=60)
  assert proc.returncode == code
  assert stdout == f'[1] Transform ... {word}\n'
  assert stderr.strip().splitlines() == [
      f'croptfx run: {"terminated (SIGTERM)" if code == 143 else "interrupted"}']
  assert os.path.exists(os.path.join(out, 'cleaned'))


_WORKER_SCRIPT = '''
import os, subprocess, sys, threading, time
from croptfx import errors
from croptfx.jobs import frame
out = sys.argv[1]

def watch(process):  # as Beam's DirectRunner watches each SDK worker
  process.wait()
  if process.returncode:
    raise RuntimeError(f'Worker subprocess exited with return code {process.returncode}')

os.makedirs(out)
bystander = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
open(out + '/bystander.pid', 'w').write(str(bystander.pid))
try:
  with frame.Job('map', out, log_path=out + '/logs/map.log') as job:
    ignore = 'signal.signal(signal.SIGTERM, signal.SIG_IGN); ' * (
        sys.argv[2] == 'worker-ignores-sigterm')
    worker = subprocess.Popen([sys.executable, '-c', (
        f'import signal, time; {ignore}open({out!r} + "/worker.ready", "w").close(); '
        'time.sleep(300)')])
    open(out + '/worker.pid', 'w').write(str(worker.pid))
    watcher = threading.Thread(target=watch, args=(worker,))  # not a daemon
    watcher.start()
    job.progress.begin('map', 'map job')
    try:
      time.sleep(300)
    finally:
      if sys.argv[2] == 'cleanup-waits':
        watcher.join()  # as Beam's clean-up waits for its workers
except errors.Interrupted as e:
  print(f'croptfx map: {e}', file=sys.stderr)
  sys.exit(e.exit_code)
'''


@pytest.mark.parametrize('case', ['cleanup-waits', 'worker-ignores-sigterm'])
def test_an_interrupted_job_ends_the_workers_it_started_and_exits(tmp_path, case):
  """Ctrl-C while a worker process runs, watched by a non-daemon thread.
  Without the frame ending the worker, a clean-up that waits for it (Beam's)
  would wait forever, and without one the interpreter would, at exit. The
  signal handler sends SIGTERM; a worker that ignores it is killed after the
  job."""
  out = str(tmp_path / 'out')
  env = dict(os.environ, PYTHONWARNINGS='ignore::FutureWarning')
  proc = subprocess.Popen([sys.executable, '-c', _WORKER_SCRIPT, out, case], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    pid_file, ready = os.path.join(out, 'worker.pid'), os.path.join(out, 'worker.ready')
    deadline = time.monotonic() + 60
    while not (os.path.exists(ready) and os.path.exists(pid_file)
               and os.path.getsize(pid_file)):
      assert time.monotonic() < deadline
      time.sleep(0.1)
    time.sleep(0.2)  # the job's main thread is in its sleep
    worker = int(open(pid_file).read())
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stdout == '[1] map job ... interrupted\n'
    assert stderr.strip().splitlines() == ['croptfx map: interrupted']
    with pytest.raises(ProcessLookupError):
      os.kill(worker, 0)  # ended (and reaped by its watcher)
    log = open(os.path.join(out, 'logs', 'map.log')).read()
    # Its watcher's dying words, in the log.
    code = -signal.SIGKILL if case == 'worker-ignores-sigterm' else -signal.SIGTERM
    assert f'Worker subprocess exited with return code {code}' in log
    assert ('Ended 1 process(es) the job had started and left running' in log) == (
        case == 'worker-ignores-sigterm')
    # A process started before the job is not the job's: left alone (the
    # script has ended, so it is an orphan now; it is killed below).
    bystander = int(open(os.path.join(out, 'bystander.pid')).read())
    os.kill(bystander, 0)
  finally:
    proc.kill()
    for name in ('bystander.pid', 'worker.pid'):
      try:
        os.kill(int(open(os.path.join(out, name)).read()), signal.SIGKILL)
      except (OSError, ValueError):
        pass


def test_progress_lines():
  stream = io.StringIO()
  progress = progress_lib.Progress(stream, total=2)
  with progress.step('a', 'first'):
    pass
  progress.begin('b', 'second')
  progress.write('a note')
  assert stream.getvalue().splitlines()[0].startswith('[1/2] first ... done in ')
  assert stream.getvalue().splitlines()[1:] == ['[2/2] second ... ', 'a note']
  assert set(progress.seconds) == {'a'}


@pytest.mark.parametrize('error, word', [
    (errors.Interrupted(errors.TERMINATED), 'terminated'),
    (errors.Interrupted(errors.INTERRUPTED), 'interrupted'),
    (KeyboardInterrupt(), 'interrupted'),
    (ValueError('x'), 'failed')])
def test_a_step_stopped_by_a_signal_says_which(error, word):
  """The step's line and the error line agree (SIGTERM: terminated)."""
  stream = io.StringIO()
  with pytest.raises(type(error)):
    with progress_lib.Progress(stream, total=1).step('a', 'map job'):
      raise error
  assert stream.getvalue() == f'[1/1] map job ... {word}\n'
