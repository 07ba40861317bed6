"""Errors that stop a command with one clear line, and the exit code of each.

Every command exits with one code per cause (README, "Exit codes"):

  0    done
  1    FAILED       the job failed for a reason that is not the input's (a
                    bug, a crashed worker); the log has the traceback
  2    USAGE        bad arguments or bad input data: fix them and run again
  3    BUSY         another croptfx process is writing the same output
  4    NO_SPACE     the file system of the output is full
  130  INTERRUPTED  Ctrl-C (SIGINT)
  143  TERMINATED   SIGTERM
"""

from typing import Optional

OK = 0
FAILED = 1
USAGE = 2
BUSY = 3
NO_SPACE = 4
INTERRUPTED = 130
TERMINATED = 143


class CroptfxError(Exception):
  """An error the user can fix: the CLI prints its message and exits 2."""
  exit_code = USAGE


class InputDataError(CroptfxError):
  """Unreadable input: names the file and, where it applies, the column."""

  def __init__(self, path: str, problem: str, column: Optional[str] = None):
    self.path = path
    self.column = column
    self.problem = problem
    where = f'{path}: column {column!r}' if column else path
    super().__init__(f'{where}: {problem}')


class OutputBusyError(CroptfxError):
  """The output is locked by another croptfx process (exit 3)."""
  exit_code = BUSY


class NoSpaceError(CroptfxError):
  """The file system of the output is full (exit 4)."""
  exit_code = NO_SPACE


class JobFailedError(CroptfxError):
  """The job failed for a reason that is not the input's (exit 1); the
  message is one line and names the log with the traceback."""
  exit_code = FAILED


class Interrupted(BaseException):
  """Ctrl-C (SIGINT) or SIGTERM reached the command: `exit_code` says which.

  A BaseException, like KeyboardInterrupt, so `except Exception` in library
  code does not swallow it.
  """

  def __init__(self, exit_code: int = INTERRUPTED):
    self.exit_code = exit_code
    super().__init__('terminated (SIGTERM)' if exit_code == TERMINATED else 'interrupted')
