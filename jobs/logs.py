"""Where a job's logs go: all of them to its log file, none to the console.

TFX, Beam, TensorFlow and absl log at INFO; a user of `croptfx run` wants
the progress lines and, if it fails, one error line. `captured` sends the
Python logging of the whole process to the job's log file (the console gets
it too with `verbose`), and points file descriptor 2 at the same file, so
what child processes (Beam's multi-processing and portable workers) and C++
libraries print goes there as well, tracebacks of interrupted workers and
interpreter-shutdown noise included. Everything is put back afterwards, so
a notebook or a test that calls a job keeps its own logging.
"""

import contextlib
import logging
import os
import sys
from typing import Iterator, TextIO
from absl import logging as absl_logging

FORMAT = '%(asctime)s %(levelname)s %(name)s: %(message)s'


@contextlib.contextmanager
def captured(log_path: str, verbose: bool = False) -> Iterator[TextIO]:
  """Logs to `log_path` (appended); yields a stream to the real stderr."""
  os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
  root = logging.getLogger()
  saved_handlers, saved_level = list(root.handlers), root.level
  saved_absl = absl_logging.get_verbosity()
  for handler in saved_handlers:
    root.removeHandler(handler)
  file_handler = logging.FileHandler(log_path, mode='a', encoding='utf-8')
  file_handler.setFormatter(logging.Formatter(FORMAT))
  ours = [file_handler]
  sys.stderr.flush()
  console_fd = os.dup(2)
  console = os.fdopen(os.dup(console_fd), 'w', buffering=1, encoding='utf-8',
                      errors='replace')
  if verbose:
    ours.append(logging.StreamHandler(console))
  for handler in ours:
    root.addHandler(handler)
  root.setLevel(logging.INFO)
  absl_logging.set_verbosity(absl_logging.INFO)
  absl_logging.use_python_logging(quiet=True)
  logging.getLogger('absl').propagate = True
  if not verbose:
    with open(log_path, 'ab') as log:
      os.dup2(log.fileno(), 2)
  try:
    yield console
  finally:
    sys.stderr.flush()
    os.dup2(console_fd, 2)
    os.close(console_fd)
    for handler in ours:
      root.removeHandler(handler)
    file_handler.close()
    console.close()
    for handler in saved_handlers:
      root.addHandler(handler)
    root.setLevel(saved_level)
    absl_logging.set_verbosity(saved_absl)
