"""Transform: TFX's Transform, writing uncompressed TFRecords unless asked.

TFX 1.16's Transform always writes its examples GZIP-compressed
(`WriteToTFRecord(..., file_name_suffix='.gz')` in `TransformProcessor.
_EncodeAndWrite`). Beam compresses in Python, and a split is one file that
one thread inflates when it is read: most of the cost of writing, and the
cap on the Trainer's reader (BENCHMARKS.md, cases C and D). This executor
writes the same records uncompressed (no suffix) unless the component's
`custom_config` holds `compress_examples: true`; every reader takes the
compression from the file names (Beam's AUTO, tfx_bsl,
`croptfx.records.record_compression`). Everything else is TFX's: analysis, the graph,
statistics, the Parquet output.

What this relies on in TFX 1.16, pinned by tests/test_components_transform.py
(a TFX upgrade that changes any of it fails there first, not in a run):
`Executor.Do` builds `TransformProcessor` by its module-level name (so a
copy of `Do` with another `TransformProcessor` in its globals builds ours),
`TransformProcessor._EncodeAndWrite(schema, file_format, output_path)` is
the one place TFRecords are written, and the private
`TransformProcessor._RecordBatchToExamplesFn(schema)` encodes the records.
If TFX renames them, drop this executor and accept GZIP records, or port it.

The component keeps TFX's class name, so its id stays `Transform`:

  transform = Transform(examples=..., schema=..., preprocessing_fn=...,
                        custom_config={'compress_examples': False, ...})
"""

import json
import types
from typing import Any, Dict, List, Tuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
import pyarrow as pa
from tfx import types as tfx_types
from tfx.components.transform import component as tfx_component
from tfx.components.transform import executor as tfx_executor
from tfx.components.transform import labels
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs

# `custom_config` key: true writes GZIP TFRecords (`.gz`) as stock TFX does.
# preprocessing_fn receives custom_config too and reads only its own keys.
COMPRESS_EXAMPLES_KEY = 'compress_examples'


@beam.ptransform_fn
@beam.typehints.with_input_types(Tuple[pa.RecordBatch, Dict[str, pa.Array]])
def _EncodeAndWriteUncompressed(  # pylint: disable=invalid-name
    pcoll: beam.PCollection, schema, output_path: str) -> beam.pvalue.PDone:
  """TFX's TFRecord branch of `_EncodeAndWrite`, without compression."""
  return (pcoll
          | 'EncodeAndSerialize' >> beam.ParDo(
              tfx_executor.TransformProcessor._RecordBatchToExamplesFn(schema))  # pylint: disable=protected-access
          | 'ExtractExamples' >> beam.Values()
          | 'WriteToTFRecord' >> beam.io.WriteToTFRecord(
              output_path, file_name_suffix='',
              compression_type=CompressionTypes.UNCOMPRESSED))


class _UncompressedProcessor(tfx_executor.TransformProcessor):
  """TFX's TransformProcessor writing TFRecords uncompressed."""

  def _EncodeAndWrite(self, schema, file_format: str, output_path: str):  # pylint: disable=arguments-differ
    if file_format != labels.FORMAT_TFRECORD:  # Parquet: TFX's own
      return tfx_executor.TransformProcessor._EncodeAndWrite(  # pylint: disable=protected-access
          schema=schema, file_format=file_format, output_path=output_path)
    # pylint: disable=no-value-for-parameter
    return _EncodeAndWriteUncompressed(schema=schema, output_path=output_path)


def _do_with(processor):
  """TFX's `Executor.Do`, building `processor` where it builds its
  TransformProcessor (a module-level name it looks up when called): no TFX
  code copied, no global patched."""
  do = tfx_executor.Executor.Do
  scope = dict(do.__globals__, TransformProcessor=processor)
  return types.FunctionType(do.__code__, scope, do.__name__, do.__defaults__,
                            do.__closure__)


def compress_examples(exec_properties: Dict[str, Any]) -> bool:
  """`compress_examples` of the component's custom_config (default False)."""
  config = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
  if isinstance(config, str):
    config = json.loads(config) if config else None
  return bool((config or {}).get(COMPRESS_EXAMPLES_KEY, False))


class Executor(tfx_executor.Executor):
  """TFX's Transform executor; TFRecords uncompressed unless
  `custom_config['compress_examples']` is true."""

  _do_uncompressed = _do_with(_UncompressedProcessor)

  def Do(self, input_dict: Dict[str, List[tfx_types.Artifact]],
         output_dict: Dict[str, List[tfx_types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    if compress_examples(exec_properties):
      return super().Do(input_dict, output_dict, exec_properties)
    return self._do_uncompressed(input_dict, output_dict, exec_properties)


class Transform(tfx_component.Transform):
  """TFX's Transform component with this module's executor (same id)."""

  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
