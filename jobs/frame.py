"""The frame every command runs in: `croptfx run`, `map`, `predict`, `extract`.

    with frame.Job('map', output, log_path=layout.log_path) as job:
      with job.progress.step('check', 'checking the input files'):
        ...
      job.on_failure(remove_partial_outputs)
      ...
      job.write_summary(layout.summary_path, summary)

What the frame does, in this order, so every command behaves the same:
1. takes the output's lock (`lock.OutputLock`): a second writer is refused
   in one line naming the first, before it changes anything (exit 3);
2. moves the previous job's results aside (`*.previous`), so nothing left
   reads as this job's result if it fails;
3. sends every log to the job's log file (`logs.captured`), the console
   keeping the progress lines (`progress.Progress`);
4. turns SIGTERM into an exception, like Ctrl-C, so both end the open
   progress line and run the clean-up;
5. on failure: the traceback goes to the log, the processes the job started
   and left running are ended (Beam's SDK workers of an interrupted job: a
   thread waiting on one would keep the command from ever exiting), the
   job's clean-up runs (`on_failure`: partial results removed), and the
   exception becomes one error with one line and the exit code of its cause
   (`failures.translate`);
6. `write_summary` publishes the summary last and atomically: a summary
   exists only for a job that finished.
"""

import json
import logging
import os
import signal
import threading
from typing import Callable, FrozenSet, List, Optional, Sequence, Tuple

from apache_beam.io.filesystems import FileSystems
import psutil

from croptfx import errors
from croptfx.jobs import failures
from croptfx.jobs import lock as lock_lib
from croptfx.jobs import logs
from croptfx.jobs import progress as progress_lib
from croptfx import paths


def _with_note(error: errors.CroptfxError, note: str) -> errors.CroptfxError:
  """A copy of `error` (same type and exit code) whose line ends with `note`."""
  noted = type(error).__new__(type(error))
  noted.__dict__.update(error.__dict__)
  noted.args = (f'{error}; {note}',)
  return noted


def _children() -> FrozenSet[Tuple[int, float]]:
  """(pid, start time) of every process below this one."""
  try:
    return frozenset((p.pid, p.create_time())
                     for p in psutil.Process().children(recursive=True))
  except psutil.Error:
    return frozenset()


def _started_since(before: FrozenSet[Tuple[int, float]]) -> List[psutil.Process]:
  started = []
  for pid, created in _children() - before:
    try:
      process = psutil.Process(pid)
      if process.create_time() == created:
        started.append(process)
    except psutil.Error:
      pass
  return started


def terminate_processes_started_since(before: FrozenSet[Tuple[int, float]]
                                      ) -> List[psutil.Process]:
  """Sends SIGTERM to the processes below this one not in `before`, and
  returns them (no waiting: a signal handler calls it)."""
  started = _started_since(before)
  for process in started:
    try:
      process.terminate()
    except psutil.Error:
      pass
  return started


def stop_processes_started_since(before: FrozenSet[Tuple[int, float]],
                                 threads_before: FrozenSet[int],
                                 timeout: float = 5.0) -> int:
  """Ends the processes below this one that are not in `before` (terminate,
  then kill), then waits up to `timeout` for the threads started since
  `threads_before` that watch them. Returns how many processes it ended.

  Beam's DirectRunner with worker processes waits on each in a non-daemon
  thread and ends them only in its own clean-up, which can wait forever on a
  worker that is still sending results nobody reads (Ctrl-C mid-stage), or
  leave one running (Ctrl-C during the clean-up): the command would never
  exit.
  """
  started = terminate_processes_started_since(before)
  _, alive = psutil.wait_procs(started, timeout=timeout)
  for process in alive:
    try:
      process.kill()
    except psutil.Error:
      pass
  psutil.wait_procs(alive, timeout=timeout)
  for thread in threading.enumerate():
    if thread.ident not in threads_before and not thread.daemon and (
        thread is not threading.current_thread()):
      thread.join(timeout)
  return len(started)


class Job:
  """One command's run against one output."""

  def __init__(self, command: str, output: str, *, log_path: str,
               lock_path: Optional[str] = None, what: Optional[str] = None,
               results: Sequence[str] = (), stream=None, verbose: bool = False,
               quiet: bool = False, steps: int = 0, failure_note: str = ''):
    """
    Args:
      command: the sub-command ('run', 'map', ...), for messages and the lock.
      output: the output directory or file; named when its disk is full.
      log_path: the job's log file (local).
      lock_path: the lock file; default `<output>/.croptfx.lock`; none for
        an object-store output (no lock there).
      what: how messages name the output (default '--output <output>').
      results: files a previous job left that must not read as this job's
        (moved to `<file>.previous` before anything else).
      stream: where progress goes (stdout).
      verbose: logs on the console too, fd 2 left alone.
      quiet: no progress lines.
      steps: the number of steps, for `[i/n]` (may be set later).
      failure_note: appended to the error line of a failed job ('no run
        summary was written').
    """
    self.command = command
    self.output = output
    self.log_path = log_path
    self.verbose = verbose
    self.what = what or f'--output {output}'
    if lock_path is None and not paths.is_uri(output):
      lock_path = os.path.join(output, lock_lib.LOCK_FILE)
    self._lock = lock_lib.OutputLock(lock_path, command, self.what) if lock_path else None
    self._results = list(results)
    self._failure_note = failure_note
    self.progress = progress_lib.Progress(stream, steps, quiet)
    self.moved_aside: List[str] = []
    self._cleanups: List[Callable[[], None]] = []
    self._logs = None
    self._signal: Optional[int] = None
    self._saved_handlers = {}
    self._processes_before: FrozenSet[Tuple[int, float]] = frozenset()
    self._threads_before: FrozenSet[int] = frozenset()

  # --- entering and leaving ------------------------------------------------

  def __enter__(self) -> 'Job':
    if self._lock:
      self._lock.acquire()
    self._processes_before = _children()
    self._threads_before = frozenset(t.ident for t in threading.enumerate())
    try:
      self.moved_aside = paths.move_aside(self._results)
      self._logs = logs.captured(self.log_path, self.verbose)
      self._logs.__enter__()
      self._install_signal_handlers()
    except BaseException:
      self._leave()
      raise
    if self.moved_aside:
      logging.info('Moved the previous results aside: %s', self.moved_aside)
    return self

  def __exit__(self, exc_type, exc, tb):
    if exc is None:
      self._leave()
      return False
    translated = failures.translate(exc, self.output, self.log_path)
    if self._signal is not None:
      translated = errors.Interrupted(self._signal)
    elif self._failure_note and isinstance(translated, errors.CroptfxError):
      translated = _with_note(translated, self._failure_note)
    logging.error('croptfx %s failed: %s', self.command, translated,
                  exc_info=(exc_type, exc, tb))
    self.progress.fail('terminated' if self._signal == errors.TERMINATED else
                       'interrupted' if isinstance(translated, errors.Interrupted)
                       else 'failed')
    # Before the clean-up: a worker still running could write again what it
    # removes. Its dying words go to the log (fd 2 is still the log's).
    ended = stop_processes_started_since(self._processes_before, self._threads_before)
    if ended:
      logging.info('Ended %d process(es) the job had started and left running', ended)
    for cleanup in reversed(self._cleanups):
      try:
        cleanup()
      except Exception:  # pylint: disable=broad-except
        logging.exception('Clean-up after the failure failed')
    self._leave()
    if translated is exc:
      return False
    raise translated from None

  def _leave(self) -> None:
    self._restore_signal_handlers()
    if self._logs is not None:
      self._logs.__exit__(None, None, None)
      self._logs = None
    if self._lock:
      self._lock.release()

  # --- signals -------------------------------------------------------------

  def _install_signal_handlers(self) -> None:
    if threading.current_thread() is not threading.main_thread():
      return

    # The job's worker processes are told to stop first: Beam's clean-up,
    # which the exception runs, waits for them.
    def on_sigint(signum, frame):
      del signum, frame
      self._signal = errors.INTERRUPTED
      terminate_processes_started_since(self._processes_before)
      raise KeyboardInterrupt

    def on_sigterm(signum, frame):
      del signum, frame
      self._signal = errors.TERMINATED
      terminate_processes_started_since(self._processes_before)
      raise errors.Interrupted(errors.TERMINATED)

    for signum, handler in ((signal.SIGINT, on_sigint), (signal.SIGTERM, on_sigterm)):
      self._saved_handlers[signum] = signal.signal(signum, handler)

  def _restore_signal_handlers(self) -> None:
    for signum, handler in self._saved_handlers.items():
      signal.signal(signum, handler)
    self._saved_handlers = {}

  # --- during the job --------------------------------------------------------

  def on_failure(self, cleanup: Callable[[], None]) -> None:
    """Runs `cleanup` if the job fails (the last registered runs first)."""
    self._cleanups.append(cleanup)

  def write_summary(self, path: str, summary: dict) -> str:
    """Publishes the job's summary, whole or not at all."""
    text = json.dumps(summary, indent=1) + '\n'
    if paths.is_uri(path):
      with FileSystems.create(path) as f:  # an object appears whole when closed
        f.write(text.encode('utf-8'))
    else:
      paths.write_atomic(path, text)
    return path
