"""The Beam side of ParquetExampleGen, free of TFX and TensorFlow imports.

Beam workers unpickle these DoFns, so keeping this module light means a
multi-process or remote worker does not import TensorFlow just to read
Parquet (about 6 s per worker here). The executor wires it into TFX; the
benchmarks can run it alone.

`ParquetToExamples` reads each checked input file in record batches, checks
the rows (`validation`), applies the duplicate rule, emits the kept rows as
serialized tf.Examples tagged by the split of their year, and, given the
output URI, writes the quarantined rows and the counts (see `counts`) and
each split as TFRecords (uncompressed, or GZIP when asked).

The duplicate rule needs every copy of a pixel-year in one place, but copies
are rare (none, or a few hundred in 100,000 rows): a first pass reads only
lon, lat and year of every file and counts the pixel-year keys (a combiner:
24-byte keys, not rows); the main pass groups only the rows whose key was
seen more than once, and the others go straight to their split. Memory is
proportional to the duplicates, not to the input (BENCHMARKS.md, case E).
"""

import posixpath
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.transforms import window as beam_window
from apache_beam.utils import windowed_value
import numpy as np
import pyarrow as pa

from croptfx.components.parquet_example_gen import counts as counts_lib
from croptfx.components.parquet_example_gen import splits as splits_lib
from croptfx import features
from croptfx import layouts
from croptfx.rows import encoding
from croptfx.rows import quarantine
from croptfx.rows import reader
from croptfx.rows import validation

# File names of a split, as TFX's write_split writes them; GZIP files end in
# layouts.GZIP_SUFFIX, which is how every reader knows them.
TFRECORD_PREFIX = 'data_tfrecord'

_QUARANTINE_TAG = 'quarantine'
_COUNTS_TAG = 'counts'


def _split_tag(name: str) -> str:
  return f'split_{name}'


def pixel_year_key(lon: np.ndarray, lat: np.ndarray, year: np.ndarray) -> List[bytes]:
  """Grouping keys of rows: (lon, lat, year) as exact big-endian bytes."""
  packed = np.empty(len(lon), dtype=[('lon', '>f8'), ('lat', '>f8'), ('year', '>i8')])
  packed['lon'], packed['lat'], packed['year'] = lon, lat, year
  return [row.tobytes() for row in packed]


def _file_pixel_years(layout: reader.FileLayout, batch_rows: int) -> Iterator[bytes]:
  """The pixel-year key of every row of one file with lon, lat and year."""
  for lon, lat, year in reader.read_pixel_years(layout.path, layout, batch_rows):
    yield from pixel_year_key(lon, lat, year)


class _ReadValidateEncode(beam.DoFn):
  """One input file -> valid rows (to their split, or keyed by pixel-year when
  the key has copies), quarantine, counts.

  A valid row whose key is among `repeated` (keys seen more than once, the
  side input) goes out as (pixel-year key, (order, split, example)), where
  order = (file path, row number) decides which of identical copies is kept
  (`validation.duplicate_reasons`, applied after grouping); any other valid
  row goes to its split's output directly. Holds only plain values so it
  pickles for multi-process runners.
  """

  def __init__(self, year_splits: Dict[int, str], label_mapping: Optional[str],
               batch_rows: int):
    self._year_splits = year_splits
    self._label_mapping_path = label_mapping
    self._batch_rows = batch_rows
    self._encoder = None
    self._label_mapping = None

  def setup(self):
    self._encoder = encoding.ExampleEncoder()
    self._label_mapping = features.load_label_mapping(self._label_mapping_path)

  def process(self, layout: reader.FileLayout, repeated: Iterable[bytes]) -> Iterator[Any]:
    repeated = repeated if isinstance(repeated, (set, frozenset)) else set(repeated)
    counts = {'files': 1, 'rows_read': 0, 'rows_by_year': {}, 'examples': {}}
    first_row = 0
    for batch, cast_faults, _ in reader.read_rows(layout.path, self._batch_rows, layout):
      checks = validation.check_rows(batch, self._year_splits,
                                     layout.path_year, self._label_mapping,
                                     cast_faults=cast_faults)
      year = batch.column(features.YEAR).fill_null(0).to_numpy(
          zero_copy_only=False)
      years, per_year = np.unique(
          year[~batch.column(features.YEAR).is_null().to_numpy(zero_copy_only=False)],
          return_counts=True)
      counts_lib.add_counts(counts, {
          'rows_read': batch.num_rows,
          'rows_by_year': {str(y): int(k) for y, k in zip(years, per_year)},
          'quarantined': checks.reason_counts(),
          'notes': checks.note_counts()})
      rows = np.flatnonzero(checks.valid)
      if rows.size:
        good = batch.take(pa.array(rows))
        examples = self._encoder.encode(good)
        keys = pixel_year_key(
            good.column(features.LON).to_numpy(zero_copy_only=False),
            good.column(features.LAT).to_numpy(zero_copy_only=False),
            year[rows])
        for i, row in enumerate(rows):
          split = self._year_splits[int(year[row])]
          if keys[i] in repeated:
            yield (keys[i], ((layout.path, first_row + int(row)), split, examples[i]))
          else:
            counts['examples'][split] = counts['examples'].get(split, 0) + 1
            yield beam.pvalue.TaggedOutput(_split_tag(split), examples[i])
      bad = np.flatnonzero(~checks.valid)
      if bad.size:
        yield beam.pvalue.TaggedOutput(_QUARANTINE_TAG, quarantine.quarantine_table(
            batch.take(pa.array(bad)), layout.path, checks.reasons[bad]))
      first_row += batch.num_rows
    yield beam.pvalue.TaggedOutput(_COUNTS_TAG, counts)


class _ResolveDuplicates(beam.DoFn):
  """The valid copies of one pixel-year -> examples by split, or quarantine
  (`validation.duplicate_reasons`); counts summed per bundle."""

  def start_bundle(self):
    self._counts = {'examples': {}, 'quarantined': {}}

  def process(self, element) -> Iterator[Any]:
    _, copies = element
    copies = sorted(copies)  # by (file, row): the same order on every runner
    reasons = validation.duplicate_reasons([(order, example) for order, _, example in copies])
    quarantined = {}
    for (order, split, example), reason in zip(copies, reasons):
      if reason:
        bucket, key = self._counts['quarantined'], reason
        quarantined.setdefault(order[0], []).append((example, reason))
      else:
        bucket, key = self._counts['examples'], split
        yield beam.pvalue.TaggedOutput(_split_tag(split), example)
      bucket[key] = bucket.get(key, 0) + 1
    for source, rows in sorted(quarantined.items()):
      batch = encoding.decode_examples([e for e, _ in rows], reader.NORMALIZED_SCHEMA)
      yield beam.pvalue.TaggedOutput(_QUARANTINE_TAG, quarantine.quarantine_table(
          batch, source, [r for _, r in rows]))

  def finish_bundle(self):
    yield beam.pvalue.TaggedOutput(_COUNTS_TAG, windowed_value.WindowedValue(
        self._counts, beam_window.GlobalWindow().max_timestamp(),
        [beam_window.GlobalWindow()]))


def _write_counts(partial: Dict[str, Any], names: Sequence[str],
                  examples_uri: str) -> None:
  counts_lib.write_counts(counts_lib.complete_counts(partial, names),
                          examples_uri)


# The files of a split: the rows without copies, and the ones the duplicate
# rule kept. Two writers, so each streams from its own stage (a Flatten of
# PCollections of two stages makes the DirectRunner hold both whole).
PART_PREFIXES = (TFRECORD_PREFIX, f'{TFRECORD_PREFIX}_resolved')


@beam.ptransform_fn
def ParquetToExamples(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline, *args, **kwargs) -> Dict[str, beam.pvalue.PCollection]:
  """`ParquetToExampleParts`, each split's parts flattened into one
  PCollection (for consumers that read them in the same job)."""
  parts = pipeline | 'Parts' >> ParquetToExampleParts(*args, **kwargs)  # pylint: disable=no-value-for-parameter
  return {name: tuple(split_parts) | f'AllExamples{name}' >> beam.Flatten()
          for name, split_parts in parts.items()}


@beam.ptransform_fn
def ParquetToExampleParts(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline,
    file_layouts: List[reader.FileLayout],
    year_splits: Dict[int, str],
    label_mapping: Optional[str] = None,
    batch_rows: int = reader.DEFAULT_BATCH_ROWS,
    examples_uri: Optional[str] = None,
) -> Dict[str, beam.pvalue.PCollection]:
  """Checked input files -> serialized examples by split name.

  Args:
    pipeline: the Beam pipeline.
    layouts: the input files, from `reader.check_input_files`.
    year_splits: year -> split name.
    label_mapping: CDL mapping file for the unknown_cdl note (None: bundled).
    batch_rows: rows per record batch read.
    examples_uri: if given, the quarantine and counts.json are written there.

  Returns:
    Split name -> its serialized tf.Examples, in two PCollections (see
    `PART_PREFIXES`): the rows whose pixel-year has no copy, and the rows
    the duplicate rule kept.
  """
  names = splits_lib.split_names(year_splits)
  files = (
      pipeline
      | 'InputFiles' >> beam.Create(file_layouts)
      # Spreads files over workers (Create alone may keep one bundle).
      | 'SpreadFiles' >> beam.Reshuffle())
  # Pixel-years seen more than once, over the whole input: whichever file and
  # worker read them, their copies meet in one group below.
  repeated = (
      files
      | 'ReadPixelYears' >> beam.FlatMap(_file_pixel_years, batch_rows)
      | 'CountPixelYears' >> beam.combiners.Count.PerElement()
      | 'SeenTwice' >> beam.Filter(lambda key_count: key_count[1] > 1)
      | 'RepeatedKeys' >> beam.Keys())
  read = files | 'ReadValidateEncode' >> beam.ParDo(
      _ReadValidateEncode(year_splits, label_mapping, batch_rows),
      repeated=beam.pvalue.AsList(repeated)).with_outputs(
          *[_split_tag(n) for n in names], _QUARANTINE_TAG, _COUNTS_TAG, main='repeated')
  resolved = (
      read.repeated
      | 'GroupByPixelYear' >> beam.GroupByKey()
      | 'ResolveDuplicates' >> beam.ParDo(_ResolveDuplicates()).with_outputs(
          *[_split_tag(n) for n in names], _QUARANTINE_TAG, _COUNTS_TAG))
  if examples_uri:
    _ = ((read[_QUARANTINE_TAG], resolved[_QUARANTINE_TAG])
         | 'AllQuarantine' >> beam.Flatten()
         | 'WriteQuarantine' >> beam.io.parquetio.WriteToParquetBatched(
             layouts.quarantine_prefix(examples_uri), quarantine.QUARANTINE_SCHEMA,
             codec='snappy', file_name_suffix='.parquet'))
    _ = ((read[_COUNTS_TAG], resolved[_COUNTS_TAG])
         | 'AllCounts' >> beam.Flatten()
         | 'SumCounts' >> beam.CombineGlobally(counts_lib.merge_counts)
         | 'WriteCounts' >> beam.Map(_write_counts, names, examples_uri))
  return {name: [read[_split_tag(name)], resolved[_split_tag(name)]] for name in names}


@beam.ptransform_fn
def WriteExamples(  # pylint: disable=invalid-name
    examples: beam.pvalue.PCollection, split_uri: str,
    compress: bool = False, prefix: str = TFRECORD_PREFIX) -> beam.pvalue.PDone:
  """Serialized examples -> TFRecords: GZIP (`.gz`, as TFX's WriteSplit
  writes them) when `compress`, else uncompressed (no suffix).

  TFX's WriteSplit would import TensorFlow in every worker for a
  serialization step these bytes do not need. No Reshuffle: the examples
  come from the files, already spread over workers.
  Uncompressed is the default: Beam compresses in Python, about half the
  per-row cost of the data part (BENCHMARKS.md, case D).
  """
  return (examples
          | 'Write' >> beam.io.WriteToTFRecord(
              posixpath.join(split_uri, prefix),
              file_name_suffix=layouts.GZIP_SUFFIX if compress else '',
              compression_type=(CompressionTypes.GZIP if compress else
                                CompressionTypes.UNCOMPRESSED)))
