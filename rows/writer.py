"""Writing Parquet files whole or not at all, on any Beam file system."""

import contextlib
import os
import posixpath
import uuid

from apache_beam.io.filesystems import FileSystems
import pyarrow as pa
import pyarrow.parquet as pq

from croptfx import paths


def write_parquet(table: pa.Table, path: str) -> str:
  """Writes a Parquet file (local or a URI) whole or not at all: under a
  hidden temporary name in its directory (readers skip names starting with
  '.'), then renamed; the temporary file is removed if writing fails."""
  directory, name = (posixpath.split(path) if paths.is_uri(path)
                     else os.path.split(path))
  temporary = paths.join(directory, f'.{name}.{uuid.uuid4().hex}.tmp')
  try:
    with FileSystems.create(temporary) as f:
      pq.write_table(table, f, compression='snappy')
    FileSystems.rename([temporary], [path])
  except BaseException:
    with contextlib.suppress(Exception):
      if FileSystems.exists(temporary):
        FileSystems.delete([temporary])
    raise
  return path
