"""The machine a benchmark ran on, and BENCHMARKS.md.

`croptfx bench` rewrites only the part of BENCHMARKS.md between the two
markers below; the analysis written around it by people is kept.
"""

import datetime
import dataclasses
import os
import time
import platform
from typing import Dict, Optional

from croptfx import paths

BEGIN = '<!-- croptfx bench: generated results begin -->'
END = '<!-- croptfx bench: generated results end -->'
TITLE = '# Benchmarks\n'


def _first_match(path: str, key: str) -> str:
  try:
    with open(path, encoding='utf-8') as f:
      for line in f:
        name, _, value = line.partition(':')
        if name.strip() == key:
          return value.strip()
  except OSError:
    pass
  return 'unknown'


def machine_info() -> Dict[str, str]:
  """Cores, memory, CPU model, load, date and library versions."""
  mem_kib = _first_match('/proc/meminfo', 'MemTotal').split()[0]
  try:
    memory = f'{int(mem_kib) / 2**20:.1f} GiB'
  except ValueError:
    memory = 'unknown'
  try:
    usable = len(os.sched_getaffinity(0))
  except AttributeError:
    usable = os.cpu_count()
  try:
    load = ', '.join(f'{v:.2f}' for v in os.getloadavg())
  except OSError:
    load = 'unknown'
  versions = []
  for name, module in (('TFX', 'tfx'), ('TF', 'tensorflow'),
                       ('TFT', 'tensorflow_transform'),
                       ('Beam', 'apache_beam'), ('pyarrow', 'pyarrow'),
                       ('NumPy', 'numpy')):
    try:
      versions.append(f'{name} {__import__(module).__version__}')
    except (ImportError, AttributeError):
      pass
  return {
      'cpu': _first_match('/proc/cpuinfo', 'model name'),
      'cores': f'{os.cpu_count()} ({usable} usable)',
      'memory': memory,
      'load average at start': load,
      'date': datetime.datetime.now(datetime.timezone.utc).strftime(
          '%Y-%m-%d %H:%M UTC'),
      'software': f'Python {platform.python_version()}, ' + ', '.join(versions),
  }


def machine_lines(info: Dict[str, str]) -> str:
  return '\n'.join(f'- {key}: {value}' for key, value in info.items())


def write_benchmarks(path: str, section: str, begin: str = BEGIN, end: str = END) -> None:
  """Replaces the generated section of `path` between `begin` and `end`
  (creating the file or appending the section if needed)."""
  generated = f'{begin}\n{section.strip()}\n{end}'
  try:
    with open(path, encoding='utf-8') as f:
      text = f.read()
  except FileNotFoundError:
    text = ''
  if begin in text and end in text:
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    text = head + generated + tail
  elif text:
    text = text.rstrip('\n') + '\n\n' + generated + '\n'
  else:
    text = TITLE + '\n' + generated + '\n'
  paths.write_atomic(path, text)


@dataclasses.dataclass
class Case:
  """One run of a `croptfx bench FLAG` case: the command line its results
  name, the file they go to, the machine, and when it started."""
  command: str
  output: str
  machine: Dict[str, str]
  start: float

  @classmethod
  def begin(cls, flag: str, quick: bool, output: Optional[str]) -> 'Case':
    command = f'croptfx bench {flag}' + (' --quick' if quick else '') + (
        f' --output {os.path.basename(output)}' if output else '')
    return cls(command, output or 'BENCHMARKS.md', machine_info(), time.perf_counter())

  @property
  def seconds(self) -> float:
    return time.perf_counter() - self.start

  @staticmethod
  def log(text: str) -> None:
    print(text, flush=True)


def results_section(title: str, command: str, seconds: float, machine: Dict[str, str],
                    figures: str, ratios: str, *notes: str) -> str:
  """A generated results section: its title, the command and how long it
  took, the machine, the figures and ratios tables, then `notes`."""
  return '\n\n'.join([f'## {title}', f'Command: `{command}` (took {seconds / 60:.1f} min)',
                       machine_lines(machine), figures, ratios, *notes])
