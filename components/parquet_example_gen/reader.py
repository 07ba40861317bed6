"""Lists and reads the Part-1 Parquet input as normalized Arrow record batches.

Everything here goes through Beam's FileSystems, so local paths, `gs://` and
`s3://` (with Beam's AWS extra installed) behave the same, and files are read
with pyarrow one record batch at a time, so memory stays bounded whatever the
size of the data set.

Input (`input_base`) is one of:
  * a directory, read recursively: plain files and Hive partitions
    (`year=2021/part-0.parquet`);
  * a glob in Beam's syntax (`*` stays within a directory, `**` crosses
    directories); a glob that matches a directory reads it recursively;
  * a single file.
Below the input, files and directories whose names start with `.` or `_`
(Spark's `_SUCCESS`, `.crc` files, `_temporary/`) are skipped, as Spark,
Hive and pyarrow datasets do. Every other file must be Parquet.

Normalized batches have exactly the columns of `NORMALIZED_SCHEMA`, named as
in `croptfx.features` (the slides' spellings `# scenes` and `img dates` are
renamed), with fixed types: `tiles` and `CDL` as UTF-8 strings, integers as
int64, coordinates as float64. When a file has no `year` column, the year
comes from the innermost `year=YYYY` directory of its path.

Anything that makes a file unusable as a whole (missing, empty, not Parquet,
a missing column, a column of the wrong type) raises
`croptfx.errors.InputDataError` naming the file and the column. Problems of
single rows are not this module's business (see `validation`).
"""

import concurrent.futures
import dataclasses
import os
import posixpath
import re
from typing import Dict, Iterator, List, Optional, Sequence, Union

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.localfilesystem import LocalFileSystem
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from croptfx import features
from croptfx.errors import InputDataError

# Rows per record batch read from a file: about 10 MB of band bytes for
# 100 images a row, so a worker's memory does not depend on the file size.
DEFAULT_BATCH_ROWS = 4096

NORMALIZED_SCHEMA = features.normalized_schema()

_GLOB_CHARS = re.compile(r'[*?\[]')
_HIVE_YEAR = re.compile(r'(?:^|/)year=([^/]*)/')


def _is_int(t: pa.DataType) -> bool:
  return pa.types.is_integer(t)


def _is_number(t: pa.DataType) -> bool:
  return pa.types.is_floating(t) or pa.types.is_integer(t)


def _is_binary(t: pa.DataType) -> bool:
  return pa.types.is_binary(t) or pa.types.is_large_binary(t)


def _is_text(t: pa.DataType) -> bool:
  return (pa.types.is_string(t) or pa.types.is_large_string(t) or
          _is_binary(t))


# What `features.InputColumn.accepts` means, and how the error message names it.
_ACCEPTS = {
    'number': (_is_number, 'a float'),
    'integer': (_is_int, 'an integer'),
    'binary': (_is_binary, 'binary'),
    'text': (_is_text, 'string or binary'),
}
_ACCEPTED_TYPES = {c.name: _ACCEPTS[c.accepts] for c in features.INPUT_COLUMNS}


@dataclasses.dataclass(frozen=True)
class InputFile:
  """One data file: the listing the executor reads and the driver hashes."""
  path: str
  size: int
  mtime_ns: int


@dataclasses.dataclass(frozen=True)
class FileLayout:
  """Where a file keeps each normalized column, from its footer."""
  path: str
  # Normalized column name -> column name in the file; `year` is absent
  # when it comes from the path.
  columns: Dict[str, str]
  path_year: Optional[int]
  num_rows: int


def _is_local(path: str) -> bool:
  return isinstance(FileSystems.get_filesystem(path), LocalFileSystem)


def _mtime_ns(metadata) -> int:
  # Beam reports float seconds; on local disks os.stat keeps nanoseconds so a
  # rewrite within the same second still changes the fingerprint.
  if _is_local(metadata.path):
    return os.stat(metadata.path).st_mtime_ns
  return int(round((metadata.last_updated_in_seconds or 0.0) * 1e9))


def _is_hidden(path: str, root: str) -> bool:
  relative = path[len(root):] if path.startswith(root) else path
  return any(part.startswith(('.', '_'))
             for part in relative.replace('\\', '/').split('/') if part)


def _match(patterns: Sequence[str], input_base: str):
  try:
    results = FileSystems.match(list(patterns))
  except Exception as e:  # pylint: disable=broad-except
    # Missing credentials or file system extras (boto3 for s3://) end up
    # here; say which input could not be listed, in one line.
    raise InputDataError(input_base,
                         f'cannot list files: {_first_line(e)}') from e
  found = {}
  for result in results:
    for metadata in result.metadata_list:
      found[metadata.path] = metadata
  return found


def list_input_files(input_base: str) -> List[InputFile]:
  """Every data file `input_base` names (see the module doc), sorted by path.

  Args:
    input_base: a directory, a glob or a file; local or a Beam file system URI.

  Returns:
    The files with their size and modification time (nanoseconds).

  Raises:
    InputDataError: the path does not exist, the directory holds no data
      file, or the glob matches none.
  """
  if not input_base:
    raise InputDataError('input_base', 'no input path given')
  if _GLOB_CHARS.search(input_base):
    # Hidden names are judged below the last directory without a wildcard.
    root = posixpath.dirname(_GLOB_CHARS.split(input_base, 1)[0]) + '/'
    found = _match([input_base, input_base.rstrip('/') + '/**'], input_base)
    if not found:
      raise InputDataError(input_base, 'the pattern matches no files')
  else:
    base = input_base.rstrip('/') or input_base
    root = base + '/'
    found = _match([root + '**'], input_base)
    if not found:
      if not FileSystems.exists(base):
        raise InputDataError(input_base, 'no such file or directory')
      if _is_local(base) and os.path.isdir(base):
        raise InputDataError(input_base, 'the directory holds no files')
      found = _match([base], input_base)  # A single file.
      root = posixpath.dirname(base) + '/'
  files = [
      InputFile(path, m.size_in_bytes, _mtime_ns(m))
      for path, m in sorted(found.items())
      if not _is_hidden(path, root)
  ]
  if not files:
    raise InputDataError(
        input_base, 'no data files (only names starting with "." or "_")')
  return files


def path_year(path: str) -> Optional[int]:
  """Year of the innermost Hive partition directory `year=YYYY`, if any."""
  values = _HIVE_YEAR.findall(path.replace('\\', '/'))
  if not values:
    return None
  if not re.fullmatch(r'\d{1,4}', values[-1]):
    raise InputDataError(
        path, f'partition directory year={values[-1]} is not a year')
  return int(values[-1])


def resolve_columns(schema: pa.Schema, path: str,
                    year_from_path: Optional[int] = None,
                    optional: Sequence[str] = ()) -> Dict[str, str]:
  """Maps normalized column names to the names in `schema`, checking types.

  Args:
    schema: the Arrow schema of a file or table.
    path: names the data in error messages.
    year_from_path: the Hive partition year; makes the `year` column
      optional.
    optional: columns that may be absent (`normalize` fills them with
      nulls), e.g. the CDL label when predicting a season not yet mapped.

  Returns:
    Normalized name -> name in `schema`, for the columns present.

  Raises:
    InputDataError: a required column is missing, spelled twice, or of a
      wrong type.
  """
  names = set(schema.names)
  columns = {}
  for name in features.RAW_COLUMNS:
    spellings = [name] + [alias for alias, target
                          in features.COLUMN_ALIASES.items() if target == name]
    present = [s for s in spellings if s in names]
    if len(present) > 1:
      raise InputDataError(
          path, f'spelled twice ({" and ".join(map(repr, present))})',
          column=name)
    if not present:
      if (name == features.YEAR and year_from_path is not None) or name in optional:
        continue
      also = f' (or {", ".join(map(repr, spellings[1:]))})' if len(
          spellings) > 1 else ''
      where = ' and no year=YYYY directory in the path' if (
          name == features.YEAR) else ''
      raise InputDataError(path, f'missing required column{also}{where}',
                           column=name)
    field_type = schema.field(present[0]).type
    if pa.types.is_dictionary(field_type):
      field_type = field_type.value_type
    accepts, expected = _ACCEPTED_TYPES[name]
    if not accepts(field_type):
      raise InputDataError(
          path, f'has type {field_type}, expected {expected}',
          column=present[0])
    columns[name] = present[0]
  return columns


def _open(path: str):
  # UNCOMPRESSED: Beam would otherwise guess a codec from the file name.
  return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def inspect_file(input_file: Union[InputFile, str],
                 optional: Sequence[str] = ()) -> FileLayout:
  """Reads one file's footer (cheap) and checks its columns.

  Raises:
    InputDataError: the file is empty, not Parquet (or truncated), or lacks
      a column or has one of a wrong type.
  """
  path = getattr(input_file, 'path', input_file)
  if getattr(input_file, 'size', None) == 0:
    raise InputDataError(path, 'empty file (0 bytes), not a Parquet file')
  year_from_path = path_year(path)
  try:
    with _open(path) as f:
      parquet_file = pq.ParquetFile(f)
      schema = parquet_file.schema_arrow
      num_rows = parquet_file.metadata.num_rows
  except (pa.ArrowException, OSError) as e:
    raise InputDataError(
        path, f'not a readable Parquet file (truncated or another format?): '
        f'{_first_line(e)}') from e
  columns = resolve_columns(schema, path, year_from_path, optional)
  return FileLayout(path, columns, year_from_path, num_rows)


def check_input_files(files: Sequence[InputFile],
                      max_workers: int = 8,
                      optional: Sequence[str] = ()) -> List[FileLayout]:
  """`inspect_file` for every file (footers are read in parallel threads).

  Raises the error of the first bad file in path order.
  """
  with concurrent.futures.ThreadPoolExecutor(max_workers) as pool:
    futures = [pool.submit(inspect_file, f, optional) for f in files]
  return [future.result() for future in futures]


def _first_line(error: Exception) -> str:
  text = str(error).strip()
  return text.splitlines()[0] if text else type(error).__name__


def _decode_dictionary(array: pa.Array) -> pa.Array:
  if pa.types.is_dictionary(array.type):
    return array.dictionary_decode()
  return array


def _cast(array: pa.Array, target: pa.DataType, path: str,
          column: str) -> pa.Array:
  array = _decode_dictionary(array)
  if array.type == target:
    return array
  try:
    return pc.cast(array, target)  # Safe: overflow or bad UTF-8 raise.
  except pa.ArrowException as e:
    problem = ('holds bytes that are not UTF-8 text'
               if pa.types.is_string(target) else f'does not fit {target}')
    raise InputDataError(path, f'{problem} ({_first_line(e)})',
                         column=column) from e


def normalize(data: Union[pa.RecordBatch, pa.Table],
              path: str = '<data>',
              year_from_path: Optional[int] = None,
              columns: Optional[Dict[str, str]] = None) -> pa.RecordBatch:
  """Renames, casts and completes columns into `NORMALIZED_SCHEMA`.

  Args:
    data: rows with the Part-1 columns in any accepted spelling and type;
      other columns are dropped.
    path: names the data in error messages.
    year_from_path: fills `year` when the column is absent.
    columns: the result of `resolve_columns` when already known.

  Returns:
    One record batch with the columns of `NORMALIZED_SCHEMA`.

  Raises:
    InputDataError: as `resolve_columns`, or a value cannot be cast (an
      integer too large for int64, `tiles`/`CDL` bytes that are not UTF-8).
  """
  if columns is None:
    columns = resolve_columns(data.schema, path, year_from_path)
  if isinstance(data, pa.Table):
    data = data.combine_chunks()
  arrays = []
  for field in NORMALIZED_SCHEMA:
    if field.name not in columns:  # `year` from the path, or an optional column.
      value = year_from_path if field.name == features.YEAR else None
      arrays.append(pa.array([value] * data.num_rows, field.type))
      continue
    column = data.column(columns[field.name])
    if isinstance(column, pa.ChunkedArray):
      column = (column.chunk(0) if column.num_chunks == 1 else
                pa.concat_arrays(column.chunks) if column.num_chunks else
                pa.array([], column.type))
    arrays.append(_cast(column, field.type, path, columns[field.name]))
  return pa.RecordBatch.from_arrays(arrays, schema=NORMALIZED_SCHEMA)


def read_batches(
    path: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    layout: Optional[FileLayout] = None) -> Iterator[pa.RecordBatch]:
  """Yields the normalized record batches of one Parquet file, streaming.

  Args:
    path: the file (local or a Beam file system URI).
    batch_rows: rows per batch; bounds the memory used.
    layout: from `inspect_file`, to skip checking the footer again.

  Raises:
    InputDataError: the file is unreadable or has a bad schema.
  """
  try:
    with _open(path) as f:
      parquet_file = pq.ParquetFile(f)
      if layout is None:
        year_from_path = path_year(path)
        columns = resolve_columns(parquet_file.schema_arrow, path,
                                  year_from_path)
      else:
        year_from_path, columns = layout.path_year, layout.columns
      for batch in parquet_file.iter_batches(
          batch_size=batch_rows, columns=list(columns.values()),
          use_pandas_metadata=False):
        yield normalize(batch, path, year_from_path, columns)
  except (pa.ArrowException, OSError) as e:
    raise InputDataError(path, f'cannot be read: {_first_line(e)}') from e
