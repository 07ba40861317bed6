"""The machine a benchmark ran on, and BENCHMARKS.md.

`croptfx bench` rewrites only the part of BENCHMARKS.md between the two
markers below; the analysis written around it by people is kept.
"""

import datetime
import os
import platform
from typing import Dict

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
