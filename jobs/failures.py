"""Any exception a job raised -> one of the project's errors, in one line.

Runners wrap what goes wrong inside them: TFX re-raises a component's error,
Beam's multi-processing and portable workers send theirs back as text (a
RuntimeError holding the remote traceback), so a `CroptfxError` raised for a
bad input file, a full disk or Ctrl-C can arrive as something else. `translate`
looks through the chain and the remote text for the cause and gives the error
whose exit code and line say what happened (`croptfx.errors`).
"""

import errno
import os
import re
from typing import List, Optional

from croptfx import errors
from croptfx import paths

# 'croptfx.errors.InputDataError: <message>', as a traceback's last line
# prints it; Beam may append ' [while running ...]' to the line.
_REMOTE_ERROR = re.compile(
    r'croptfx\.errors\.(\w+): (.*?)(?: \[while running .*)?$', re.MULTILINE)
# How a full file system reads in a remote traceback.
_NO_SPACE_TEXT = ('No space left on device', 'Disk quota exceeded')
_NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def _chain(exc: BaseException) -> List[BaseException]:
  seen, chain = set(), []
  while exc is not None and id(exc) not in seen:
    seen.add(id(exc))
    chain.append(exc)
    exc = exc.__cause__ or exc.__context__
  return chain


def one_line(exc: BaseException) -> str:
  """An unexpected error in one console line; the log has the traceback.

  A remote traceback (Beam's workers) is summarized by its last error line,
  other messages by their first line.
  """
  lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
  if not lines:
    return type(exc).__name__
  if 'Traceback (most recent call last)' in str(exc):
    lines = [line for line in lines if not line.startswith('[while running')]
    line = lines[-1] if lines else type(exc).__name__
  else:
    line = lines[0]
  if line.startswith(f'{type(exc).__name__}:'):
    return line
  return f'{type(exc).__name__}: {line}'


def user_error_in(exc: BaseException) -> Optional[errors.CroptfxError]:
  """A CroptfxError raised inside a job, however the runner wrapped it."""
  chain = _chain(exc)
  for link in chain:
    if isinstance(link, errors.CroptfxError):
      return link
  # The type is lost in a remote traceback, but the line names it.
  for link in chain:
    found = _REMOTE_ERROR.findall(str(link))
    if found:
      name, message = found[-1]
      error_type = getattr(errors, name, errors.CroptfxError)
      if not (isinstance(error_type, type) and issubclass(error_type, errors.CroptfxError)):
        error_type = errors.CroptfxError
      error = errors.CroptfxError(message.strip())
      error.exit_code = error_type.exit_code
      return error
  return None


def _is_no_space(exc: BaseException) -> bool:
  return any((isinstance(link, OSError) and link.errno in _NO_SPACE_ERRNOS)
             or any(text in str(link) for text in _NO_SPACE_TEXT) for link in _chain(exc))


def mount_point(path: str) -> str:
  """The mount point of the file system holding `path` (or of its nearest
  existing parent)."""
  path = os.path.abspath(path)
  while not os.path.exists(path):
    path = os.path.dirname(path)
  while not os.path.ismount(path):
    path = os.path.dirname(path)
  return path


def translate(exc: BaseException, output: Optional[str] = None,
              log_path: Optional[str] = None) -> BaseException:
  """The error to raise for `exc`: an `errors.Interrupted`, or a CroptfxError
  whose `exit_code` says the cause and whose message is one line.

  Args:
    exc: what the job raised.
    output: the job's output, named when its file system is full.
    log_path: the job's log, named when the cause is not the user's.
  """
  if isinstance(exc, errors.Interrupted):
    return exc
  if isinstance(exc, KeyboardInterrupt) or any(
      'KeyboardInterrupt' == type(link).__name__ or str(link).strip() == 'KeyboardInterrupt'
      for link in _chain(exc)):
    return errors.Interrupted(errors.INTERRUPTED)
  if _is_no_space(exc) and not isinstance(exc, errors.NoSpaceError):
    where = f'the file system at {mount_point(output)} (holding {output})' if output and \
        not paths.is_uri(output) else 'the output file system'
    return errors.NoSpaceError(f'no space left on device: {where} is full; free space or '
                               'write elsewhere')
  cause = user_error_in(exc)
  if cause is not None:
    return cause
  log = f' (full log: {log_path})' if log_path else ''
  return errors.JobFailedError(f'{one_line(exc)}{log}')
