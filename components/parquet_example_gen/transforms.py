"""The Beam side of ParquetExampleGen, free of TFX and TensorFlow imports.

Beam workers unpickle these DoFns, so keeping this module light means a
multi-process or remote worker does not import TensorFlow just to read
Parquet (about 6 s per worker here). The executor wires it into TFX; the
benchmarks can run it alone.

`ParquetToExamples` reads each checked input file in record batches, checks
the rows (`validation`), emits valid rows as serialized tf.Examples tagged by
the split of their year, and, given the output URI, writes the quarantined
rows and the counts (see `counts`) and each split as gzipped TFRecords.
"""

import posixpath
from typing import Any, Dict, Iterator, List, Optional, Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa

from components.parquet_example_gen import counts as counts_lib
from components.parquet_example_gen import encoding
from components.parquet_example_gen import reader
from components.parquet_example_gen import splits as splits_lib
from components.parquet_example_gen import validation
from croptfx import artifacts
from croptfx import features

SOURCE_FILE = 'source_file'
REASON = 'reason'
QUARANTINE_SCHEMA = reader.NORMALIZED_SCHEMA.append(
    pa.field(SOURCE_FILE, pa.string())).append(pa.field(REASON, pa.string()))
# File names of a split, as TFX's write_split writes them.
TFRECORD_PREFIX = 'data_tfrecord'
TFRECORD_SUFFIX = '.gz'

_QUARANTINE_TAG = 'quarantine'
_COUNTS_TAG = 'counts'


def _split_tag(name: str) -> str:
  return f'split_{name}'


def quarantine_table(rows: pa.RecordBatch, source_file: str,
                     reasons: Sequence[str]) -> pa.Table:
  """Quarantined rows: their normalized columns plus source_file, reason."""
  n = rows.num_rows
  return pa.Table.from_arrays(
      rows.columns + [pa.array([source_file] * n, pa.string()),
                      pa.array(list(reasons), pa.string())],
      schema=QUARANTINE_SCHEMA)


class _ReadValidateEncode(beam.DoFn):
  """One input file -> examples tagged by split, quarantine tables, counts.

  Holds only plain values so it pickles for multi-process runners.
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

  def process(self, layout: reader.FileLayout) -> Iterator[Any]:
    years_of_split = {}
    for year, name in self._year_splits.items():
      years_of_split.setdefault(name, []).append(year)
    counts = {'files': 1, 'rows_read': 0, 'examples': {}}
    for batch in reader.read_batches(layout.path, self._batch_rows, layout):
      checks = validation.check_rows(batch, self._year_splits,
                                     layout.path_year, self._label_mapping)
      counts_lib.add_counts(counts, {
          'rows_read': batch.num_rows,
          'quarantined': checks.reason_counts(),
          'notes': checks.note_counts()})
      year = batch.column(features.YEAR).fill_null(0).to_numpy(
          zero_copy_only=False)
      for name, years in years_of_split.items():
        rows = np.flatnonzero(checks.valid & np.isin(year, years))
        if not rows.size:
          continue
        examples = self._encoder.encode(batch.take(pa.array(rows)))
        counts_lib.add_counts(counts, {'examples': {name: len(examples)}})
        tag = _split_tag(name)
        for example in examples:
          yield beam.pvalue.TaggedOutput(tag, example)
      bad = np.flatnonzero(~checks.valid)
      if bad.size:
        yield beam.pvalue.TaggedOutput(_QUARANTINE_TAG, quarantine_table(
            batch.take(pa.array(bad)), layout.path, checks.reasons[bad]))
    yield beam.pvalue.TaggedOutput(_COUNTS_TAG, counts)


def _write_counts(partial: Dict[str, Any], names: Sequence[str],
                  examples_uri: str) -> None:
  counts_lib.write_counts(counts_lib.complete_counts(partial, names),
                          examples_uri)


@beam.ptransform_fn
def ParquetToExamples(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline,
    layouts: List[reader.FileLayout],
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
    Split name -> PCollection of serialized tf.Examples.
  """
  names = splits_lib.split_names(year_splits)
  outputs = (
      pipeline
      | 'InputFiles' >> beam.Create(layouts)
      # Spreads files over workers (Create alone may keep one bundle).
      | 'SpreadFiles' >> beam.Reshuffle()
      | 'ReadValidateEncode' >> beam.ParDo(_ReadValidateEncode(
          year_splits, label_mapping, batch_rows)).with_outputs(
              *[_split_tag(n) for n in names], _QUARANTINE_TAG, _COUNTS_TAG))
  if examples_uri:
    _ = (outputs[_QUARANTINE_TAG]
         | 'WriteQuarantine' >> beam.io.parquetio.WriteToParquetBatched(
             artifacts.quarantine_prefix(examples_uri), QUARANTINE_SCHEMA,
             codec='snappy', file_name_suffix='.parquet'))
    _ = (outputs[_COUNTS_TAG]
         | 'SumCounts' >> beam.CombineGlobally(counts_lib.merge_counts)
         | 'WriteCounts' >> beam.Map(_write_counts, names, examples_uri))
  return {name: outputs[_split_tag(name)] for name in names}


@beam.ptransform_fn
def WriteExamples(  # pylint: disable=invalid-name
    examples: beam.pvalue.PCollection, split_uri: str) -> beam.pvalue.PDone:
  """Serialized examples -> gzipped TFRecords, as TFX's WriteSplit does.

  TFX's WriteSplit would import TensorFlow in every worker for a
  serialization step these bytes do not need.
  """
  return (examples
          | 'Shuffle' >> beam.Reshuffle()
          | 'Write' >> beam.io.WriteToTFRecord(
              posixpath.join(split_uri, TFRECORD_PREFIX),
              file_name_suffix=TFRECORD_SUFFIX))
