"""Fingerprints of the code and data files a component runs with.

Components name their code by module path (so Kubeflow can import it), and
TFX's cache key then covers the path, not the code behind it: editing
`preprocessing/` would silently reuse a stale Transform. The pipeline passes
these fingerprints as execution properties, so a change in the code (or in
the label mapping file) re-runs that component and everything downstream.

Which code: a component's entry modules and every project module they
import, directly or not, found in the sources (`imported_modules`), so a new
import cannot leave a stale cache and a module the component never imports
cannot re-run it.
"""

import ast
import hashlib
import importlib
import importlib.util
from typing import Iterable, List, Optional

from croptfx import paths

# Only the project's own modules are followed and fingerprinted; TFX, Beam
# and the other dependencies are pinned by the lock.
PROJECT_PACKAGE = 'croptfx'


def _parents_and_self(name: str) -> List[str]:
  parts = name.split('.')
  return ['.'.join(parts[:i]) for i in range(1, len(parts) + 1)]


def _is_module(name: str) -> bool:
  try:
    return importlib.util.find_spec(name) is not None
  except (ImportError, ValueError):
    return False


def _project_imports(module_name: str, package: str) -> List[str]:
  """The modules of `package` one module's source imports (anywhere in it,
  inside functions too), with their parent packages."""
  path = importlib.import_module(module_name).__file__
  with open(path, encoding='utf-8') as f:
    tree = ast.parse(f.read(), path)
  names = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names.extend(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      # `from croptfx.rows import reader` imports the module croptfx.rows.reader.
      names.extend(f'{node.module}.{alias.name}' if _is_module(f'{node.module}.{alias.name}')
                   else node.module for alias in node.names)
  return sorted({parent for name in names if name.split('.')[0] == package
                 for parent in _parents_and_self(name)})


def imported_modules(entry_modules: Iterable[str],
                     package: str = PROJECT_PACKAGE) -> List[str]:
  """`entry_modules`, their parent packages and every module of `package`
  they import, directly or not, sorted."""
  seen = set()
  todo = [parent for name in entry_modules for parent in _parents_and_self(name)]
  while todo:
    name = todo.pop()
    if name not in seen:
      seen.add(name)
      todo.extend(m for m in _project_imports(name, package) if m not in seen)
  return sorted(seen)


def component_fingerprint(entry_modules: Iterable[str],
                          files: Iterable[Optional[str]] = (),
                          package: str = PROJECT_PACKAGE) -> str:
  """sha256 of the source of `imported_modules(entry_modules)` (of a package,
  its `__init__` only) and of `files` (a cloud file: its path)."""
  digest = hashlib.sha256()
  for module_name in imported_modules(entry_modules, package):
    digest.update(f'{module_name}\n'.encode())
    with open(importlib.import_module(module_name).__file__, 'rb') as f:
      digest.update(f.read())
  for path in files:
    if path and not paths.is_uri(path):
      with open(path, 'rb') as f:
        digest.update(f.read())
    elif path:
      digest.update(path.encode())
  return digest.hexdigest()[:16]
