"""Peak memory of a command: its whole process tree's RSS, polled from /proc.

Beam's multi-processing DirectRunner starts worker processes, so one
process's `ru_maxrss` can miss most of the memory; the poll sums the resident
set of the process and all its descendants at each instant and keeps the
largest sum. (`bench.beam_part` also reports its own `ru_maxrss` as a
cross-check.)
"""

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence

_PAGE_BYTES = os.sysconf('SC_PAGE_SIZE')


@dataclasses.dataclass
class Tracked:
  returncode: int
  seconds: float
  peak_tree_rss: int  # bytes, polled
  peak_processes: int  # most processes in the tree at once
  stdout: str
  stderr: str


def _children_map() -> Dict[int, List[int]]:
  children: Dict[int, List[int]] = {}
  for name in os.listdir('/proc'):
    if not name.isdigit():
      continue
    try:
      with open(f'/proc/{name}/stat', 'rb') as f:
        stat = f.read()
    except OSError:
      continue  # Gone meanwhile.
    # The command name may hold spaces or parentheses: split after the last ')'.
    ppid = int(stat[stat.rindex(b')') + 2:].split()[1])
    children.setdefault(ppid, []).append(int(name))
  return children


def process_tree(pid: int) -> List[int]:
  """`pid` and all its descendants alive now."""
  children = _children_map()
  tree, todo = [], [pid]
  while todo:
    p = todo.pop()
    tree.append(p)
    todo.extend(children.get(p, ()))
  return tree


def rss_bytes(pid: int) -> int:
  """Resident set of one process (0 if it is gone)."""
  try:
    with open(f'/proc/{pid}/statm', 'rb') as f:
      return int(f.read().split()[1]) * _PAGE_BYTES
  except (OSError, IndexError, ValueError):
    return 0


def tree_rss_bytes(pid: int) -> int:
  return sum(rss_bytes(p) for p in process_tree(pid))


def run_tracked(cmd: Sequence[str], env: Optional[Dict[str, str]] = None,
                cwd: Optional[str] = None,
                interval: float = 0.05) -> Tracked:
  """Runs `cmd` to completion, polling the RSS of its process tree."""
  start = time.perf_counter()
  proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  peak = {'rss': 0, 'processes': 0}
  done = threading.Event()

  def poll():
    while not done.is_set():
      tree = process_tree(proc.pid)
      peak['rss'] = max(peak['rss'], sum(rss_bytes(p) for p in tree))
      peak['processes'] = max(peak['processes'], len(tree))
      done.wait(interval)

  poller = threading.Thread(target=poll, daemon=True)
  poller.start()
  stdout, stderr = proc.communicate()
  done.set()
  poller.join()
  seconds = time.perf_counter() - start
  return Tracked(proc.returncode, seconds, peak['rss'], peak['processes'],
                 stdout, stderr)


def run_croptfx(args: Sequence[str], summary_path: str):
  """`croptfx ARGS...` in a fresh process, its tree's peak RSS tracked:
  (the summary it wrote at `summary_path`, the `run_tracked` result)."""
  cmd = [sys.executable, '-m', 'croptfx.cli', *args]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', PYTHONWARNINGS='ignore')
  tracked = run_tracked(cmd, env=env)
  if tracked.returncode:
    raise RuntimeError(f'croptfx {args[0]} failed (exit {tracked.returncode}): '
                       f'{tracked.stderr.strip()[-2000:]}')
  with open(summary_path, encoding='utf-8') as f:
    return json.load(f), tracked
