"""The console side of a job: one line per step, and how long it took.

    [1/4] checking the model and the input files ... done in 0.4s
    [2/4] map job: 27,000 rows in 6 files ... 12,288 of 27,000 rows (45%)
    [3/5] Transform ... done in 21.3s (cached)

A step's line is ended when the step ends ("done in ..."), fails ("failed",
"interrupted") or the job stops, so the terminal is never left mid-line.
`update` rewrites the open line in place (on a terminal only).
"""

import contextlib
import sys
import threading
import time
from typing import Dict, Optional, TextIO

from croptfx import errors


class Progress:
  """Numbered step lines on `stream` (stdout by default)."""

  def __init__(self, stream: Optional[TextIO] = None, total: int = 0, quiet: bool = False):
    self.stream = stream or sys.stdout
    self.total = total
    self.quiet = quiet
    self.seconds: Dict[str, float] = {}
    self._count = 0
    self._open: Optional[str] = None  # the name of the step whose line is open
    self._header = ''
    self._started = 0.0
    self._updated = 0

  @property
  def is_terminal(self) -> bool:
    return bool(getattr(self.stream, 'isatty', lambda: False)())

  def _out(self, text: str) -> None:
    if not self.quiet:
      self.stream.write(text)
      self.stream.flush()

  def begin(self, name: str, text: str) -> None:
    """Opens the line of step `name` (ending an open one as interrupted)."""
    if self._open is not None:
      self.fail('interrupted')
    self._count += 1
    total = f'/{self.total}' if self.total else ''
    self._header = f'[{self._count}{total}] {text} ... '
    self._open, self._started, self._updated = name, time.monotonic(), 0
    self._out(self._header)

  def update(self, text: str) -> None:
    """Rewrites the open line with `text` after its header (terminals only)."""
    if self._open is not None and self.is_terminal:
      self._updated = max(self._updated, len(text))
      self._out('\r' + self._header + text.ljust(self._updated))

  def end(self, note: str = '') -> float:
    """Ends the open step: 'done in Xs' and `note`; returns its seconds."""
    if self._open is None:
      return 0.0
    seconds = time.monotonic() - self._started
    self.seconds[self._open] = round(seconds, 2)
    done = f'done in {seconds:.1f}s{note}'
    if self._updated:
      done = '\r' + self._header + done.ljust(self._updated)
    self._out(done + '\n')
    self._open = None
    return seconds

  def fail(self, word: str = 'failed') -> None:
    """Ends the open step's line with `word` (nothing if no step is open)."""
    if self._open is not None:
      self._out(word + '\n')
      self._open = None

  @contextlib.contextmanager
  def step(self, name: str, text: str):
    """A step around a block: done when it returns, failed when it raises."""
    self.begin(name, text)
    try:
      yield self
    except BaseException as e:
      self.fail(_ending(e))
      raise
    self.end()

  def write(self, text: str) -> None:
    """A line of its own (an open step's line is ended first)."""
    if self._open is not None:
      self._out('\n')
      self._open = None
    self._out(text + '\n')


def _ending(error: BaseException) -> str:
  """How a step's line ends when `error` stops it."""
  if isinstance(error, errors.Interrupted):
    return 'terminated' if error.exit_code == errors.TERMINATED else 'interrupted'
  return 'interrupted' if isinstance(error, KeyboardInterrupt) else 'failed'


class Counter:
  """Work done so far by the workers of THIS process: the in-memory runner's
  live count (other runners' workers count in their own processes)."""

  def __init__(self):
    self._lock = threading.Lock()
    self.value = 0

  def add(self, n: int = 1) -> None:
    with self._lock:
      self.value += n

  def reset(self) -> None:
    with self._lock:
      self.value = 0


@contextlib.contextmanager
def live_count(progress: Progress, counter: Counter, total: int, what: str,
               in_process: bool, interval: float = 1.0):
  """'<n> of <total> <what> (<share>%)' on the open step's line, every
  `interval` seconds while the block runs (a background thread).

  Only when the workers run in this process (`in_process`: the local runner;
  others count in their own) and the line can be rewritten (a terminal).
  """
  if not (in_process and progress.is_terminal and not progress.quiet):
    yield
    return
  counter.reset()
  stop = threading.Event()

  def report():
    while not stop.wait(interval):
      done = counter.value
      progress.update(f'{done:,} of {total:,} {what} ({100 * done / max(total, 1):.0f}%)')

  thread = threading.Thread(target=report, daemon=True)
  thread.start()
  try:
    yield
  finally:
    stop.set()
    thread.join()
