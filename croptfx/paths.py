"""Paths and URIs: the rules every command applies to the paths it is given.

- A path with `://` is a URI (`gs://`, `s3://`, `http(s)://`): read and written
  through Beam's or TensorFlow's file systems, never `os`; `is_uri` is the one test.
- A path that exists is taken literally; only a path that does not exist is a
  glob (`literal_or_pattern`), so a directory named `data[1]` is that directory.
- Results are written whole or not at all (`write_atomic`: a temporary name in
  the same directory, then a rename).
"""

import contextlib
import hashlib
import os
import posixpath
import re
import tempfile
from typing import Iterable, List

from croptfx import errors

# Characters that make a path a pattern for Beam's and Python's globs.
GLOB_CHARS = '*?[]'


def is_uri(path: str) -> bool:
  """A URI of a file system (`gs://...`, `s3://...`), not a local path."""
  return '://' in path


def absolute(path: str) -> str:
  """`path` made absolute (a URI as it is), so a relative path means the same
  wherever it is used (TFX, Beam workers and this process differ in their
  working directories)."""
  return path if is_uri(path) else os.path.abspath(path)


def join(base: str, *parts: str) -> str:
  """`base/parts...`: posix separators for a URI, the OS's otherwise."""
  return posixpath.join(base, *parts) if is_uri(base) else os.path.join(base, *parts)


def has_glob_chars(path: str) -> bool:
  return any(ch in path for ch in GLOB_CHARS)


def is_within(path: str, directory: str) -> bool:
  """`path` is `directory` or below it (symbolic links resolved)."""
  path, directory = os.path.realpath(path), os.path.realpath(directory)
  return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def glob_base(pattern: str) -> str:
  """The directory a glob starts reading in (`data/*/x.parquet` -> `data`);
  the path itself when it exists."""
  if os.path.exists(pattern) or not has_glob_chars(pattern):
    return pattern
  return os.path.dirname(re.split(f'[{re.escape(GLOB_CHARS)}]', pattern, 1)[0])


def escape_glob(path: str) -> str:
  """`path` as a Beam/fnmatch pattern matching exactly itself: every glob
  character in a one-character class (`out[1]` -> `out[[]1[]]`)."""
  return ''.join(f'[{ch}]' if ch in GLOB_CHARS else ch for ch in path)


def literal_or_pattern(path: str, exists: bool) -> str:
  """The pattern that names `path`: an existing path is taken literally
  (its glob characters escaped); only a path that does not exist is a glob."""
  return escape_glob(path) if exists else path


def list_dir_files(directory: str) -> List[str]:
  """The files directly in `directory`, sorted; no glob, so a directory
  name holding `[`, `*` or `?` is read as written."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not tf.io.gfile.isdir(directory):
    return []
  paths = [posixpath.join(directory, name.rstrip('/'))
           for name in tf.io.gfile.listdir(directory)]
  return sorted(p for p in paths if not tf.io.gfile.isdir(p))


def glob_free_alias(directory: str) -> str:
  """A path to `directory` without glob characters, for tools that glob it.

  TFX and Beam treat artifact paths as patterns in places (Beam renames its
  temporary files with a match on the destination), so an output directory
  like `out[1]` breaks them. It is reached through a symbolic link under
  the system temp directory, named by a hash of its absolute path (the same
  link every run, so the cache still hits); a path without glob characters
  is returned as it is.
  """
  if is_uri(directory):  # an object store path: no local link can help
    return directory
  target = os.path.abspath(directory)
  if not has_glob_chars(target):
    return target
  links = os.path.join(tempfile.gettempdir(), 'croptfx-output-links')
  os.makedirs(links, exist_ok=True)
  link = os.path.join(links, hashlib.sha256(target.encode('utf-8')).hexdigest()[:16])
  if os.path.islink(link) and os.readlink(link) == target:
    return link
  tmp = f'{link}.{os.getpid()}'
  os.symlink(target, tmp)
  os.replace(tmp, link)  # atomic, also over a stale link
  return link


def move_aside(paths: Iterable[str], suffix: str = '.previous') -> List[str]:
  """Renames the files that exist to `<path><suffix>`; returns the new names."""
  moved = []
  for path in paths:
    if os.path.exists(path):
      os.replace(path, path + suffix)
      moved.append(path + suffix)
  return moved


def write_atomic(path: str, data) -> None:
  """Writes a local file (str: UTF-8 text; bytes) whole or not at all: a
  temporary name in the same directory, flushed to disk, then renamed; the
  temporary file is removed if writing fails (a full disk)."""
  directory, name = os.path.split(os.path.abspath(path))
  tmp = os.path.join(directory, f'.{name}.{os.getpid()}.tmp')
  try:
    with open(tmp, 'wb') as f:
      f.write(data.encode('utf-8') if isinstance(data, str) else data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise


def check_input_and_output(data: str, output: str, data_flag: str = '--data',
                           output_flag: str = '--output') -> None:
  """The rule for a command reading `data` and writing the directory `output`:
  a local `data` exists or is a glob (an object store is listed later);
  `output` is not an existing file, nor inside `data` (the command would read
  its own files)."""
  if not is_uri(data) and not os.path.exists(data) and not has_glob_chars(data):
    raise errors.InputDataError(data, 'no such file or directory')
  if is_uri(output):
    return
  if os.path.exists(output) and not os.path.isdir(output):
    raise errors.CroptfxError(f'{output_flag} {output} is an existing file; it must be a '
                              'directory (new, or a previous output)')
  base = glob_base(data)
  if not is_uri(data) and base and os.path.isdir(base) and is_within(output, base):
    raise errors.CroptfxError(
        f'{output_flag} {output} is inside {data_flag} {data}: the command would read its '
        'own files as input; choose an output directory outside the data')


def check_output_file(path: str, flag: str = '--output') -> str:
  """The absolute path of a file a command will write, or a CroptfxError:
  not empty, not a directory or a device, in a directory that can be
  created and written to (checked with a probe file)."""
  if not path or not path.strip():
    raise errors.CroptfxError(f'{flag} is empty; give the file to write')
  path = os.path.abspath(path)
  if os.path.isdir(path):
    raise errors.CroptfxError(f'{flag} {path} is a directory; give the file to write')
  if os.path.exists(path) and not os.path.isfile(path):
    raise errors.CroptfxError(f'{flag} {path} is not a regular file')
  directory = os.path.dirname(path)
  try:
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, prefix='.croptfx-probe-'):
      pass
  except OSError as e:
    raise errors.CroptfxError(f'cannot write {flag} {path}: {e.strerror or e}') from None
  return path
