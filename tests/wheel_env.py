"""A virtual environment holding only the project's wheel and the lock.

What the Docker image holds: `pip install -r requirements.lock` and then the
wheel without dependencies, nothing of the checkout on `sys.path`. The
packaging and Kubeflow replay tests run commands in it from a directory
outside the repository, so a module missing from the wheel, or package data
left out, fails there as it would on a cluster.

The lock's environment is cached under the system temporary directory, keyed
by the lock's digest, so the tests of one session (and later sessions, while
the lock is unchanged) share it: installing the lock takes 2-3 minutes with a
warm pip cache; the wheel is reinstalled each session.
"""

import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCK = os.path.join(REPO, 'requirements.lock')
# The pip version setup.sh and the Dockerfile install.
PIP = 'pip==24.2'


def base_python() -> str:
  """The Python 3.10 this interpreter's virtual environment was made from."""
  for candidate in (os.path.join(sys.base_prefix, 'bin', 'python3.10'),
                    os.path.join(sys.base_prefix, 'bin', 'python3'),
                    shutil.which('python3.10') or ''):
    if candidate and os.access(candidate, os.X_OK):
      return candidate
  raise RuntimeError('no Python 3.10 interpreter found to create a virtual environment')


def build_wheel(out_dir: str) -> str:
  """Builds the project's wheel (no dependencies, no isolation: offline)."""
  os.makedirs(out_dir, exist_ok=True)
  # setuptools writes build/ and *.egg-info into the source tree; build from a
  # copy of what the package needs so the checkout stays clean.
  src = os.path.join(out_dir, 'src')
  shutil.rmtree(src, ignore_errors=True)
  ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '*.egg-info', 'build')
  os.makedirs(src)
  for name in ('pyproject.toml', 'README.md'):
    shutil.copy(os.path.join(REPO, name), src)
  for package in _packages():
    shutil.copytree(os.path.join(REPO, package), os.path.join(src, package), ignore=ignore)
  subprocess.run(
      [sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
       '--disable-pip-version-check', '-q', '-w', out_dir, src],
      check=True, capture_output=True, text=True)
  wheels = glob.glob(os.path.join(out_dir, 'crop_timeseries_tfx-*.whl'))
  if len(wheels) != 1:
    raise RuntimeError(f'expected one wheel in {out_dir}, found {wheels}')
  return wheels[0]


def _packages():
  """Top-level packages the wheel includes (pyproject's packages.find)."""
  return sorted(name for name in os.listdir(REPO)
                if os.path.isfile(os.path.join(REPO, name, '__init__.py'))
                and name != 'tests')


def wheel_env(wheel: str, cache_root: Optional[str] = None) -> str:
  """A venv with the lock installed and then `wheel`; returns its python.

  The lock's venv is kept between sessions (keyed by the lock's digest); the
  wheel is reinstalled every time, a few seconds.
  """
  with open(LOCK, 'rb') as f:
    key = hashlib.sha256(f.read()).hexdigest()[:16]
  cache_root = cache_root or os.path.join(tempfile.gettempdir(), 'croptfx-wheel-env')
  venv = os.path.join(cache_root, 'lock-' + key)
  python = os.path.join(venv, 'bin', 'python')
  stamp = os.path.join(venv, '.lock-installed')
  os.makedirs(cache_root, exist_ok=True)
  # Two test sessions at once take turns; a venv left half-built by an
  # interrupted session has no stamp and is built again.
  with open(os.path.join(cache_root, f'lock-{key}.lock'), 'w') as guard:
    fcntl.flock(guard, fcntl.LOCK_EX)
    if not os.path.exists(stamp):
      shutil.rmtree(venv, ignore_errors=True)
      subprocess.run([base_python(), '-m', 'venv', venv], check=True)
      _pip(python, 'install', '-q', PIP)
      _pip(python, 'install', '-q', '-r', LOCK)
      open(stamp, 'w').close()
    _pip(python, 'install', '-q', '--no-deps', '--force-reinstall', wheel)
  return python


def _pip(python: str, *args: str) -> None:
  out = subprocess.run([python, '-m', 'pip', '--disable-pip-version-check', *args],
                       capture_output=True, text=True)
  if out.returncode:
    raise RuntimeError(f'pip {" ".join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}')
