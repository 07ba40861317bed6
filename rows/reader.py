"""Lists and reads the Part-1 Parquet input as normalized Arrow record batches.

Everything here goes through Beam's FileSystems, so local paths, `gs://` and
`s3://` (with Beam's AWS extra installed) behave the same, and files are read
with pyarrow one record batch at a time, so memory stays bounded whatever the
size of the data set.

Input (`input_base`) is one of:
  * a directory, read recursively: plain files and Hive partitions
    (`year=2021/part-0.parquet`);
  * a single file;
  * a glob in Beam's syntax (`*` stays within a directory, `**` crosses
    directories); a glob that matches a directory reads it recursively.
A path that exists is always taken literally, even when its name holds
`[`, `]`, `?` or `*`; only a path that does not exist is a glob, and the
log says how many files it matched.
Below the input, files and directories whose names start with `.` or `_`
(Spark's `_SUCCESS`, `.crc` files, `_temporary/`) are skipped, as Spark,
Hive and pyarrow datasets do, and so is `extract_summary.json`, the record
`croptfx extract` keeps beside the rows it writes. Every other file must be
Parquet.

Normalized batches have exactly the columns of `NORMALIZED_SCHEMA`, named as
in `croptfx.features` (the slides' spellings `# scenes` and `img dates` are
renamed), with fixed types: `tiles` and `CDL` as UTF-8 strings, integers as
int64, coordinates as float64. When a file has no `year` column, the year
comes from the innermost `year=YYYY` directory of its path.

Anything that makes a file unusable as a whole (missing, empty, not Parquet,
a missing column, a column of the wrong type) raises
`croptfx.errors.InputDataError` naming the file and the column. A value of
one row that cannot be cast (`tiles` bytes that are not UTF-8, a
`num_scenes` beyond int64) is a row fault: `read_rows` returns it per row
beside the batch (the value becomes null) and `validation` quarantines the
row as `undecodable_value`. Other problems of single rows are
`validation`'s business.
"""

import concurrent.futures
import dataclasses
import logging
import os
import posixpath
import re
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.localfilesystem import LocalFileSystem
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from croptfx.errors import InputDataError
from croptfx import features
from croptfx import layouts
from croptfx import paths

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


def _is_hidden(path: str, root: str) -> bool:
  """Not data: a name starting with '.' or '_' on the way (Spark's
  `_SUCCESS`, temporary files), or an extraction's summary."""
  relative = path[len(root):] if path.startswith(root) else path
  parts = [part for part in relative.replace('\\', '/').split('/') if part]
  return (any(part.startswith(('.', '_')) for part in parts)
          or bool(parts) and parts[-1] == layouts.EXTRACT_SUMMARY_FILE)


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


def _exists(path: str, input_base: str) -> bool:
  try:
    return FileSystems.exists(path)
  except Exception as e:  # pylint: disable=broad-except
    raise InputDataError(input_base, f'cannot list files: {_first_line(e)}') from e


def list_input_files(input_base: str) -> List[InputFile]:
  """Every data file `input_base` names (see the module doc), sorted by path.

  Args:
    input_base: a directory, a file or a glob; local or a Beam file system
      URI. A path that exists is taken literally, glob characters and all.

  Returns:
    The files with their size and modification time (nanoseconds).

  Raises:
    InputDataError: the path does not exist, the directory holds no data
      file, or the glob matches none.
  """
  if not input_base:
    raise InputDataError('input_base', 'no input path given')
  base = input_base.rstrip('/') or input_base
  exists = _exists(base, input_base)
  if not exists and paths.has_glob_chars(input_base):
    # Hidden names are judged below the last directory without a wildcard.
    root = posixpath.dirname(_GLOB_CHARS.split(input_base, 1)[0]) + '/'
    found = _match([input_base, input_base.rstrip('/') + '/**'], input_base)
    if not found:
      raise InputDataError(input_base, 'no such file or directory, and as a glob '
                           'the pattern matches no files')
    logging.info('ParquetExampleGen: the glob %s matched %d files', input_base, len(found))
  else:
    # Escaped: an existing `data[1]` must never read a sibling `data1`.
    pattern = paths.literal_or_pattern(base, exists)
    root = base + '/'
    found = _match([pattern + '/**'], input_base)
    if not found:
      if not exists:
        raise InputDataError(input_base, 'no such file or directory')
      if _is_local(base) and os.path.isdir(base):
        raise InputDataError(input_base, 'the directory holds no files')
      found = _match([pattern], input_base)  # A single file.
      root = posixpath.dirname(base) + '/'
  files = [
      InputFile(path, m.size_in_bytes)
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


def open_file(path: str):
  """A data file (local or a URI) opened for reading its bytes as they are:
  without UNCOMPRESSED, Beam would guess a codec from the file name."""
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
    with open_file(path) as f:
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


def _cast(array: pa.Array, target: pa.DataType) -> pa.Array:
  """Safe cast; raises pa.ArrowException on overflow or bad UTF-8."""
  array = _decode_dictionary(array)
  if array.type == target:
    return array
  return pc.cast(array, target)


def _cast_rows(array: pa.Array, target: pa.DataType):
  """Casts value by value: (array with the uncastable values null, faults)."""
  values, faults = [], np.zeros(len(array), bool)
  for i in range(len(array)):
    try:
      values.append(_cast(array.slice(i, 1), target))
    except pa.ArrowException:
      values.append(pa.nulls(1, target))
      faults[i] = True
  return (pa.concat_arrays(values) if values else pa.array([], target)), faults


def _cast_problem(target: pa.DataType) -> str:
  return ('holds bytes that are not UTF-8 text' if pa.types.is_string(target)
          else f'does not fit {target}')


class Rows(NamedTuple):
  """A normalized batch and, per row, whether a value could not be cast."""
  batch: pa.RecordBatch
  cast_faults: np.ndarray  # bool, one per row
  # {column name in the file: what is wrong} for the columns with faults.
  fault_columns: Dict[str, str] = {}


def normalize_rows(data: Union[pa.RecordBatch, pa.Table],
                   path: str = '<data>',
                   year_from_path: Optional[int] = None,
                   columns: Optional[Dict[str, str]] = None) -> Rows:
  """Renames, casts and completes columns into `NORMALIZED_SCHEMA`.

  Args:
    data: rows with the Part-1 columns in any accepted spelling and type;
      other columns are dropped.
    path: names the data in error messages.
    year_from_path: fills `year` when the column is absent.
    columns: the result of `resolve_columns` when already known.

  Returns:
    One record batch with the columns of `NORMALIZED_SCHEMA` and the rows
    with a value that cannot be cast (an integer too large for int64,
    `tiles`/`CDL` bytes that are not UTF-8); that value is null.

  Raises:
    InputDataError: as `resolve_columns` (file- or schema-level faults).
  """
  if columns is None:
    columns = resolve_columns(data.schema, path, year_from_path)
  if isinstance(data, pa.Table):
    data = data.combine_chunks()
  arrays = []
  faults = np.zeros(data.num_rows, bool)
  problems = {}
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
    try:
      arrays.append(_cast(column, field.type))
    except pa.ArrowException as e:
      # Rare: find the rows, one value at a time, and keep the others.
      cast, bad = _cast_rows(column, field.type)
      logging.info('%s: column %r: %d values %s (%s); those rows are quarantined',
                   path, columns[field.name], int(bad.sum()),
                   _cast_problem(field.type), _first_line(e))
      arrays.append(cast)
      faults |= bad
      problems[columns[field.name]] = f'{_cast_problem(field.type)} ({_first_line(e)})'
  return Rows(pa.RecordBatch.from_arrays(arrays, schema=NORMALIZED_SCHEMA), faults,
              problems)


def normalize(data: Union[pa.RecordBatch, pa.Table],
              path: str = '<data>',
              year_from_path: Optional[int] = None,
              columns: Optional[Dict[str, str]] = None) -> pa.RecordBatch:
  """`normalize_rows` for data that must cast whole (e.g. a table in memory).

  Raises:
    InputDataError: as `normalize_rows`, or a value cannot be cast.
  """
  rows = normalize_rows(data, path, year_from_path, columns)
  for column, problem in rows.fault_columns.items():
    raise InputDataError(path, problem, column=column)
  return rows.batch


def read_rows(
    path: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    layout: Optional[FileLayout] = None) -> Iterator[Rows]:
  """Yields the normalized record batches of one Parquet file with their
  per-row cast faults, streaming (a file of 0 rows yields nothing).

  Args:
    path: the file (local or a Beam file system URI).
    batch_rows: rows per batch; bounds the memory used.
    layout: from `inspect_file`, to skip checking the footer again.

  Raises:
    InputDataError: the file is unreadable or has a bad schema.
  """
  try:
    with open_file(path) as f:
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
        yield normalize_rows(batch, path, year_from_path, columns)
  except (pa.ArrowException, OSError) as e:
    raise InputDataError(path, f'cannot be read: {_first_line(e)}') from e


def read_pixel_years(path: str, layout: FileLayout,
                     batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[Tuple[np.ndarray, ...]]:
  """Yields (lon, lat, year) arrays of one file's rows, reading only those
  columns, for the rows where all three have a value (a row without one is
  quarantined by the row checks, never a duplicate): the cheap first pass of
  the ExampleGen's duplicate rule.

  Raises:
    InputDataError: as `read_rows`.
  """
  names = [features.LON, features.LAT, features.YEAR]
  wanted = [layout.columns[n] for n in names if n in layout.columns]
  types = {f.name: f.type for f in NORMALIZED_SCHEMA}
  try:
    with open_file(path) as f:
      for batch in pq.ParquetFile(f).iter_batches(batch_size=batch_rows, columns=wanted,
                                                  use_pandas_metadata=False):
        arrays, valid = [], np.ones(batch.num_rows, bool)
        for name in names:
          if name not in layout.columns:  # `year` from the Hive path
            arrays.append(np.full(batch.num_rows, layout.path_year or 0, np.int64))
            valid &= layout.path_year is not None
            continue
          column = batch.column(layout.columns[name])
          try:
            array = _cast(column, types[name])
          except pa.ArrowException:  # rare: those rows are quarantined anyway
            array, _ = _cast_rows(column, types[name])
          valid &= ~array.is_null().to_numpy(zero_copy_only=False)
          arrays.append(array.fill_null(0).to_numpy(zero_copy_only=False))
        yield tuple(a[valid] for a in arrays)
  except (pa.ArrowException, OSError) as e:
    raise InputDataError(path, f'cannot be read: {_first_line(e)}') from e


def read_batches(
    path: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    layout: Optional[FileLayout] = None) -> Iterator[pa.RecordBatch]:
  """`read_rows` for readers that take only clean data (benchmarks).

  Raises:
    InputDataError: as `read_rows`, or a value cannot be cast.
  """
  for rows in read_rows(path, batch_rows, layout):
    if rows.cast_faults.any():
      raise InputDataError(path, f'{int(rows.cast_faults.sum())} rows hold values that '
                           'cannot be cast (non-UTF-8 text or integers beyond int64)')
    yield rows.batch
