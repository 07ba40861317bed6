"""The layer rule (ARCHITECTURE.md): imports point one way.

Every package of the project may import the core (`croptfx/*.py`) and the
packages its row of `MAY_IMPORT` names, nothing else of the project; the
core imports only the core; nothing imports the CLI. Checked on the source
with `ast`, imports inside functions included.
"""

import ast
import pathlib
import subprocess
import sys
from typing import Dict, List

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Repository directory -> the installed package it is (pyproject.toml's
# package-dir): `pipeline/` is `croptfx.pipeline`.
PACKAGES = ('bench', 'cli', 'components', 'extract', 'generate', 'jobs', 'maps', 'pipeline',
            'preprocessing', 'report', 'rows', 'trainer')
CORE = 'croptfx'
# ARCHITECTURE.md's table: the project packages each one may import besides
# the core. The CLI, the benchmarks, tools and tests sit on top.
MAY_IMPORT: Dict[str, frozenset] = {
    CORE: frozenset(),
    'rows': frozenset(),
    'jobs': frozenset(),
    'generate': frozenset(),
    'preprocessing': frozenset(),
    'trainer': frozenset(),
    'report': frozenset(),
    'components': frozenset({'rows', 'trainer'}),
    'maps': frozenset({'rows', 'trainer', 'jobs', 'report'}),
    'extract': frozenset({'rows', 'jobs'}),
    'pipeline': frozenset({'components', 'preprocessing', 'trainer', 'jobs', 'report'}),
    'bench': frozenset(PACKAGES) - {'cli'},
    'tools': frozenset(PACKAGES) - {'cli'},
    'tests': frozenset(PACKAGES),
    'cli': frozenset(PACKAGES) - {'cli'},
}


def imported_modules(source: str) -> List[str]:
  """The module each `import` or `from ... import` statement in `source`
  names (`from croptfx import cli` names `croptfx.cli`)."""
  names = []
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Import):
      names.extend(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names.append(node.module)
      if node.module == CORE:
        names.extend(f'{CORE}.{alias.name}' for alias in node.names)
  return names


def layer_violations(source: str, package: str) -> List[str]:
  """The imports of one module of `package` that break the rule."""
  found = []
  for name in imported_modules(source):
    parts = name.split('.')
    if parts[0] != CORE or len(parts) < 2 or parts[1] not in PACKAGES:
      continue  # not the project, or the core
    if parts[1] not in MAY_IMPORT[package] and parts[1] != package:
      found.append(f'{package} imports {name}')
  return found


def _python_files(directory: str):
  return sorted((ROOT / directory).rglob('*.py')) if (ROOT / directory).is_dir() else []


@pytest.mark.parametrize('source, package, expected', [
    ('from croptfx.pipeline import run\n', CORE, ['croptfx imports croptfx.pipeline']),
    ('def f():\n  from croptfx.report import build\n', CORE,
     ['croptfx imports croptfx.report']),
    ('import croptfx.maps.job\n', 'rows', ['rows imports croptfx.maps.job']),
    ('from croptfx import maps\n', 'trainer', ['trainer imports croptfx.maps']),
    ('from croptfx.rows import reader\n', 'maps', []),
    ('from croptfx.maps import run\n', 'maps', []),
    ('from croptfx.cli import main\n', 'bench', ['bench imports croptfx.cli']),
    ('from croptfx import features, codec\n', CORE, []),
    ('from pipeline import run\n', CORE, []),  # not this project's package
])
def test_checker_finds_what_it_should(source, package, expected):
  assert layer_violations(source, package) == expected


def test_every_package_has_a_row():
  directories = {p.parent.name for p in ROOT.glob('*/__init__.py')} - {'tests'}
  assert directories == set(PACKAGES) | {CORE}
  assert set(MAY_IMPORT) == set(PACKAGES) | {CORE, 'tools', 'tests'}


@pytest.mark.parametrize('package', sorted(MAY_IMPORT))
def test_imports_follow_the_table(package):
  files = _python_files(package)
  if package == CORE:
    files = [p for p in files if p.parent == ROOT / CORE]
  assert files
  bad = {str(p.relative_to(ROOT)): layer_violations(p.read_text(), package) for p in files}
  assert {k: v for k, v in bad.items() if v} == {}


def test_the_console_entry_is_the_cli():
  text = (ROOT / 'pyproject.toml').read_text()
  assert 'croptfx = "croptfx.cli.main:main"' in text


def test_only_the_cli_parses_arguments():
  files = [p for package in PACKAGES if package != 'cli' for p in _python_files(package)]
  files += [p for p in _python_files(CORE) if p.parent == ROOT / CORE]
  parsing = [str(p.relative_to(ROOT)) for p in files
             if 'argparse' in imported_modules(p.read_text())]
  # bench.beam_part is a child process the benchmark starts, not a command.
  assert parsing == ['bench/beam_part.py']


# Imports inside functions hide a module's dependencies; they are kept only
# where they keep a light process light (README, "Start-up"): the CLI loads a
# sub-command's packages when that sub-command runs (`croptfx --help` and
# `croptfx generate` do not import TensorFlow), and the core imports
# TensorFlow, tf.Transform and Beam in the functions that need them (Beam
# workers and the generator import the core without them).
LAZY_IN_CORE = ('tensorflow', 'tensorflow_transform', 'apache_beam')


def _imports_inside_functions(source: str) -> List[str]:
  names = []
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
      for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
          names.extend(alias.name for alias in sub.names)
        elif isinstance(sub, ast.ImportFrom) and sub.module:
          names.append(sub.module)
  return names


def test_imports_inside_functions_only_where_they_save_start_up():
  found = {}
  for package in PACKAGES + (CORE, 'tools'):
    for path in _python_files(package):
      if package == CORE and path.parent != ROOT / CORE:
        continue
      names = _imports_inside_functions(path.read_text())
      if package == 'cli':
        continue
      if package == CORE:
        names = [n for n in names if n.split('.')[0] not in LAZY_IN_CORE]
      if path == ROOT / 'components' / 'parquet_example_gen' / '__init__.py':
        names = [n for n in names if n != 'importlib']  # lazy attributes
      if names:
        found[str(path.relative_to(ROOT))] = names
  assert found == {}


def test_the_cli_and_the_generator_start_without_tensorflow():
  code = ('import sys\n'
          'from croptfx.cli import main\n'
          'main.build_parser()\n'
          'from croptfx.generate import part1\n'
          'print(sorted(m for m in ("tensorflow", "apache_beam", "tfx") if m in sys.modules))')
  done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                        check=True)
  assert done.stdout.strip() == '[]'
