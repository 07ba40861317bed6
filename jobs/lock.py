"""One writer per output: an advisory lock held for the whole job.

Two `croptfx run` (or map, predict, extract) into one output would mix their
files and summaries. The job takes an exclusive `flock` on a lock file in
the output before it changes anything there and holds it until it ends; the
kernel drops it when the process dies, however it dies, so a crashed job
never leaves a stale lock. The holder writes who it is into the file, so a
refused job names it in its one line.

Local outputs only: object stores (`gs://`, `s3://`) have no such lock, and
the README says so.
"""

import datetime
import fcntl
import json
import os
import socket
import sys
from typing import Optional

from croptfx import errors

LOCK_FILE = '.croptfx.lock'


class OutputLock:
  """An exclusive lock on `path` (a lock file), naming its holder."""

  def __init__(self, path: str, command: str, what: str):
    """`what` names the output in the refusal ('--output run1')."""
    self.path = path
    self.command = command
    self.what = what
    self._file = None

  def _holder(self) -> Optional[dict]:
    try:
      with open(self.path, encoding='utf-8') as f:
        return json.loads(f.read() or 'null')
    except (OSError, ValueError):
      return None

  def acquire(self) -> 'OutputLock':
    """Takes the lock or raises OutputBusyError naming the holder."""
    os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
    while True:
      f = open(self.path, 'a+', encoding='utf-8')  # pylint: disable=consider-using-with
      try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        f.close()
        holder = self._holder() or {}
        who = (f"`croptfx {holder['command']}` (pid {holder['pid']} on {holder['host']}, "
               f"since {holder['started']})" if holder.get('pid')
               else 'another croptfx process')
        raise errors.OutputBusyError(
            f'{self.what} is being written by {who}; wait for it to finish or choose '
            'another output') from None
      try:
        if os.fstat(f.fileno()).st_ino == os.stat(self.path).st_ino:
          break  # the lock is on the file the path names
      except FileNotFoundError:
        pass
      f.close()  # the holder removed it as we opened it: lock the new one
    f.seek(0)
    f.truncate()
    f.write(json.dumps({
        'command': self.command, 'pid': os.getpid(), 'host': socket.gethostname(),
        'started': datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y-%m-%d %H:%M:%S UTC'),
        'argv': sys.argv}))
    f.flush()
    self._file = f
    return self

  def release(self) -> None:
    if self._file is not None:
      try:
        os.remove(self.path)
      except FileNotFoundError:
        pass
      fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
      self._file.close()
      self._file = None

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *exc):
    self.release()
