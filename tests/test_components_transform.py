"""components/transform.py: the TFX 1.16 internals its executor relies on.

The executor reuses TFX's `Executor.Do` with its own TransformProcessor (the
TFRecord branch uncompressed). These tests pin what that needs, so a TFX
upgrade that changes it fails here, naming the piece, instead of in a run.
That the records equal stock TFX's is tests/test_records.py's.
"""

import inspect

import tfx
from tfx.components.transform import executor as tfx_executor

from croptfx.components import transform


def test_tfx_is_the_version_the_executor_was_written_for():
  assert tfx.__version__ == '1.16.0'


def test_do_builds_the_processor_by_its_module_level_name():
  assert 'TransformProcessor' in tfx_executor.Executor.Do.__code__.co_names
  assert tfx_executor.Executor.Do.__globals__['TransformProcessor'] is (
      tfx_executor.TransformProcessor)
  # The copy differs from TFX's Do only in that name.
  copy = transform.Executor._do_uncompressed  # pylint: disable=protected-access
  assert copy.__code__ is tfx_executor.Executor.Do.__code__
  assert copy.__globals__['TransformProcessor'] is (
      transform._UncompressedProcessor)  # pylint: disable=protected-access


def test_encode_and_write_is_the_static_method_records_go_through():
  method = inspect.getattr_static(tfx_executor.TransformProcessor, '_EncodeAndWrite')
  assert isinstance(method, staticmethod)
  assert list(inspect.signature(method.__func__).parameters) == [
      'schema', 'file_format', 'output_path']
  assert tfx_executor.labels.FORMAT_TFRECORD == 'tfrecords_gzip'


def test_the_private_encoder_exists_with_its_argument():
  fn = tfx_executor.TransformProcessor._RecordBatchToExamplesFn  # pylint: disable=protected-access
  assert list(inspect.signature(fn.__init__).parameters) == ['self', 'schema']
