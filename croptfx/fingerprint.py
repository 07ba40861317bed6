"""Fingerprints of the code and data files a component runs with.

Components name their code by module path (so Kubeflow can import it), and
TFX's cache key then covers the path, not the code behind it: editing
`preprocessing/` would silently reuse a stale Transform. The pipeline passes
these fingerprints as execution properties, so a change in the code (or in
the label mapping file) re-runs that component and everything downstream.
"""

import hashlib
import importlib
import os
from typing import Iterable, Optional, Tuple


def _source_files(module_name: str) -> Iterable[Tuple[str, str]]:
  """(name relative to the module, path) of a module's or package's sources."""
  path = importlib.import_module(module_name).__file__
  if os.path.basename(path) != '__init__.py':
    yield os.path.basename(path), path
    return
  root = os.path.dirname(path)
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
    for name in sorted(filenames):
      if name.endswith('.py'):
        yield os.path.relpath(os.path.join(dirpath, name), root), os.path.join(dirpath, name)


def code_fingerprint(modules: Iterable[str], files: Iterable[Optional[str]] = ()) -> str:
  """sha256 over the sources of `modules` (packages: every .py) and `files`."""
  digest = hashlib.sha256()
  for module_name in sorted(modules):
    for name, path in _source_files(module_name):
      digest.update(f'{module_name}:{name}\n'.encode())
      with open(path, 'rb') as f:
        digest.update(f.read())
  for path in files:
    if path and '://' not in path:  # cloud files: the path stands for itself
      with open(path, 'rb') as f:
        digest.update(f.read())
    elif path:
      digest.update(path.encode())
  return digest.hexdigest()[:16]
