"""Executor of ParquetExampleGen: Parquet rows -> tf.Examples split by year.

The input (every file `input_base` names, see `reader`) is listed and every
file's footer is checked BEFORE the Beam pipeline starts, so a missing,
empty, truncated or non-Parquet file, a missing column or a wrong type stops
the run with one `InputDataError` line and nothing is written to the output
artifact.

The pipeline then reads each file in record batches, checks the rows
(`validation`), writes valid rows as examples to the split of their year and
bad rows, with their reason, to `<uri>/quarantine/`, and writes
`<uri>/counts.json` (see `counts`). `Do` copies the counts into the
artifact's custom properties after checking that they reconcile.

Every split must end up with examples: an empty split (its year missing
from the data, or all its rows quarantined) stops the run here with one
`InputDataError` line naming the split and the year, before Transform.

Years: the `year` column, or the Hive directory `year=YYYY` when the column
is absent. When a file has both and they disagree, the row is quarantined
with reason `year_mismatch` (the directory is how the data was organized, the
column is what the row says; neither is trusted over the other).
"""

import json
from typing import Any, Dict, List

from absl import logging
import apache_beam as beam
from tfx import types
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs

from croptfx.components.parquet_example_gen import counts as counts_lib
from croptfx.components.parquet_example_gen import splits as splits_lib
from croptfx.components.parquet_example_gen import transforms
from croptfx.errors import InputDataError
from croptfx import features
from croptfx import outputs
from croptfx.rows import reader

# Execution properties added by ParquetExampleGenSpec.
YEAR_SPLITS_KEY = 'year_splits'
LABEL_MAPPING_KEY = 'label_mapping'
BATCH_ROWS_KEY = 'batch_rows'
# 1: the splits as GZIP TFRecords (`.gz`); 0 or absent: uncompressed.
COMPRESS_EXAMPLES_KEY = 'compress_examples'

# Private exec_properties keys that Do passes to GenerateExamplesByBeam.
_LAYOUTS_KEY = '_input_layouts'
_EXAMPLES_URI_KEY = '_examples_uri'


def check_input(exec_properties: Dict[str, Any]) -> List[reader.FileLayout]:
  """Lists the input and checks every file's footer; no Beam, no writes.

  Raises:
    InputDataError: see `reader.list_input_files` and `reader.inspect_file`.
  """
  input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
  files = reader.list_input_files(input_base)
  layouts = reader.check_input_files(files)
  logging.info('ParquetExampleGen: %d files, %d rows, %d bytes in %s',
               len(files), sum(l.num_rows for l in layouts),
               sum(f.size for f in files), input_base)
  return layouts


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """Binary-safe Parquet ExampleGen executor: split by year, quarantine."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    # Splitting by year needs the whole row, so GenerateExamplesByBeam is
    # overridden instead of the per-split PTransform.
    raise NotImplementedError(
        'ParquetExampleGen reads in GenerateExamplesByBeam')

  def GenerateExamplesByBeam(
      self,
      pipeline: beam.Pipeline,
      exec_properties: Dict[str, Any],
  ) -> Dict[str, List[beam.pvalue.PCollection]]:
    """Reads, validates and encodes the input; returns each split's examples
    in its parts (`transforms.ParquetToExampleParts`), written apart.

    When `Do` passes the output URI (private key), the quarantined rows and
    counts are written there too.
    """
    layouts = exec_properties.get(_LAYOUTS_KEY) or check_input(exec_properties)
    # pylint: disable=no-value-for-parameter
    return pipeline | 'ParquetToExamples' >> transforms.ParquetToExampleParts(
        layouts,
        splits_lib.parse_year_splits(exec_properties.get(YEAR_SPLITS_KEY)),
        label_mapping=exec_properties.get(LABEL_MAPPING_KEY) or None,
        batch_rows=(exec_properties.get(BATCH_ROWS_KEY) or
                    reader.DEFAULT_BATCH_ROWS),
        examples_uri=exec_properties.get(_EXAMPLES_URI_KEY))

  def Do(
      self,
      input_dict: Dict[str, List[types.Artifact]],
      output_dict: Dict[str, List[types.Artifact]],
      exec_properties: Dict[str, Any],
  ) -> None:
    """Checks the input, runs the pipeline, records the counts.

    Args:
      input_dict: unused (ExampleGen has no input artifacts).
      output_dict: `examples`: one Examples artifact.
      exec_properties: FileBasedExampleGen's (`input_base` is the directory,
        glob or file to read; `input_config`/`output_config` are ignored in
        favour of `year_splits`) plus `year_splits` (JSON year -> split),
        `label_mapping` (path, optional), `batch_rows` (optional) and
        `compress_examples` (optional, 1: GZIP TFRecords).

    Raises:
      InputDataError: unusable input, before anything is written.
    """
    self._log_startup(input_dict, output_dict, exec_properties)
    examples_artifact = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.EXAMPLES_KEY])
    names = splits_lib.split_names(
        splits_lib.parse_year_splits(exec_properties.get(YEAR_SPLITS_KEY)))
    payload_format = exec_properties.get(
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY,
        example_gen_pb2.FORMAT_TF_EXAMPLE)
    if payload_format != example_gen_pb2.FORMAT_TF_EXAMPLE:
      raise ValueError('ParquetExampleGen writes tf.Examples only')
    # Fails early on a bad mapping file rather than in every worker.
    features.load_label_mapping(exec_properties.get(LABEL_MAPPING_KEY) or None)
    layouts = check_input(exec_properties)

    exec_properties = dict(exec_properties)
    exec_properties[_LAYOUTS_KEY] = layouts
    exec_properties[_EXAMPLES_URI_KEY] = examples_artifact.uri
    examples_artifact.split_names = artifact_utils.encode_split_names(names)
    # TFX 1.16 names one TFRecord file format, FORMAT_TFRECORDS_GZIP
    # ('tfrecords_gzip'), and its readers (Beam's AUTO compression, tfx_bsl)
    # take the compression from the file names; so the artifact keeps that
    # format and `compress_examples` decides the names and the codec.
    output_file_format = exec_properties.get(
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY,
        example_gen_pb2.FILE_FORMAT_UNSPECIFIED)
    if output_file_format not in (example_gen_pb2.FILE_FORMAT_UNSPECIFIED,
                                  example_gen_pb2.FORMAT_TFRECORDS_GZIP):
      raise ValueError('ParquetExampleGen writes TFRecord files only')
    compress = bool(exec_properties.get(COMPRESS_EXAMPLES_KEY) or 0)

    logging.info('Generating examples.')
    with self._make_beam_pipeline() as pipeline:
      example_splits = self.GenerateExamplesByBeam(pipeline, exec_properties)
      for name, parts in example_splits.items():
        for prefix, examples in zip(transforms.PART_PREFIXES, parts):
          # pylint: disable=no-value-for-parameter
          _ = (examples
               | f'WriteSplit[{name}][{prefix}]' >> transforms.WriteExamples(
                   artifact_utils.get_split_uri([examples_artifact], name),
                   compress=compress, prefix=prefix))

    counts = outputs.read_counts(examples_artifact.uri)
    counts_lib.check_reconciled(counts)
    # An empty split would reach Transform as a schema of deprecated
    # features; stop here, with the execution failed and nothing published.
    problem = counts_lib.empty_split_problem(
        counts, splits_lib.parse_year_splits(exec_properties.get(YEAR_SPLITS_KEY)))
    if problem:
      raise InputDataError(
          exec_properties[standard_component_specs.INPUT_BASE_KEY], problem)
    for key, value in counts_lib.to_custom_properties(counts).items():
      if isinstance(value, str):
        examples_artifact.set_string_custom_property(key, value)
      else:
        examples_artifact.set_int_custom_property(key, value)
    examples_utils.set_payload_format(examples_artifact, payload_format)
    examples_utils.set_file_format(
        examples_artifact, write_split.to_file_format_str(output_file_format))
    logging.info('Examples generated: %s', json.dumps(counts))
