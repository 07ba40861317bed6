"""The layer rule (ARCHITECTURE.md): imports point one way.

The core modules under `croptfx/` import nothing from the other top-level
packages, and nothing imports `croptfx.cli` (the console entry point alone
parses arguments). Checked on the source with `ast`, imports inside functions
included.
"""

import ast
import os
import pathlib
from typing import List

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
UPPER_PACKAGES = ('components', 'pipeline', 'preprocessing', 'trainer', 'report',
                  'bench', 'maps')
PROJECT_PACKAGES = ('croptfx',) + UPPER_PACKAGES + ('tests',)
CLI = 'croptfx.cli'


def imported_modules(source: str) -> List[str]:
  """The module each `import` or `from ... import` statement in `source` names
  (`from croptfx import cli` names `croptfx.cli`: a name imported from a
  package may be a module)."""
  names = []
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Import):
      names.extend(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names.append(node.module)
      names.extend(f'{node.module}.{alias.name}' for alias in node.names
                   if f'{node.module}.{alias.name}' == CLI)
  return names


def layer_violations(source: str, core: bool) -> List[str]:
  """The imports of one module that break the rule."""
  found = []
  for name in imported_modules(source):
    if core and name.split('.')[0] in UPPER_PACKAGES:
      found.append(f'core module imports {name}')
    if name == CLI or name.startswith(CLI + '.'):
      found.append(f'imports {name}')
  return found


def _python_files(package: str):
  return sorted((ROOT / package).rglob('*.py')) if (ROOT / package).is_dir() else []


@pytest.mark.parametrize('source, core, expected', [
    ('from pipeline import run\n', True, ['core module imports pipeline']),
    ('def f():\n  from report import build\n', True, ['core module imports report']),
    ('import maps.job\n', True, ['core module imports maps.job']),
    ('from pipeline import run\n', False, []),
    ('from croptfx import cli\n', False, ['imports croptfx.cli']),
    ('import croptfx.cli\n', True, ['imports croptfx.cli']),
    ('from croptfx import features, codec\n', True, []),
])
def test_checker_finds_what_it_should(source, core, expected):
  assert layer_violations(source, core) == expected


def test_core_modules_import_no_upper_package():
  core = [p for p in _python_files('croptfx') if p.name != 'cli.py']
  assert len(core) >= 7  # features, codec, errors, generate, metrics, ...
  bad = {str(p.relative_to(ROOT)): layer_violations(p.read_text(), core=True) for p in core}
  assert {k: v for k, v in bad.items() if v} == {}


def test_nothing_imports_the_cli():
  files = [p for package in PROJECT_PACKAGES for p in _python_files(package)
           if p != ROOT / 'croptfx' / 'cli.py']
  assert len(files) > 50
  bad = {str(p.relative_to(ROOT)): layer_violations(p.read_text(), core=False)
         for p in files}
  assert {k: v for k, v in bad.items() if v} == {}


def test_the_console_entry_is_the_cli():
  text = (ROOT / 'pyproject.toml').read_text()
  assert f'croptfx = "{CLI}:main"' in text


def test_only_the_cli_parses_arguments():
  files = [p for package in PROJECT_PACKAGES if package != 'tests'
           for p in _python_files(package) if p != ROOT / 'croptfx' / 'cli.py']
  parsing = [str(p.relative_to(ROOT)) for p in files
             if 'argparse' in imported_modules(p.read_text())]
  # bench.beam_part is a child process the benchmark starts, not a command.
  assert parsing == [os.path.join('bench', 'beam_part.py')]
