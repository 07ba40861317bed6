"""Errors that stop a run with one clear line (no traceback on the console)."""

from typing import Optional


class CroptfxError(Exception):
  """An error the user can fix; the CLI prints its message and exits 2."""


class InputDataError(CroptfxError):
  """Unreadable input: names the file and, where it applies, the column."""

  def __init__(self, path: str, problem: str, column: Optional[str] = None):
    self.path = path
    self.column = column
    self.problem = problem
    where = f'{path}: column {column!r}' if column else path
    super().__init__(f'{where}: {problem}')
