"""Normalized record batches -> serialized raw tf.train.Examples, vectorized.

One feature per input column, one value each, typed as
`features.INPUT_COLUMNS` says (`example_dtype`): lon and lat as 8-byte
big-endian float64 bytes (exact; `codec.encode_coord`), the packed columns
unchanged, strings as UTF-8. Nothing is decoded here; Transform does that.

tfx_bsl's C++ RecordBatchToExamplesEncoder turns an Arrow batch of list
columns into serialized examples about 5x faster than building protos row by
row in Python (3,000 rows: 8 ms against 44 ms), so each column is wrapped as
a list column of length-1 lists.
"""

from typing import List

import numpy as np
import pyarrow as pa
from tfx_bsl.coders import example_coder

from croptfx import codec
from croptfx import features

FEATURE_KEYS = features.RAW_COLUMNS


def _coord_bytes(array: pa.Array) -> pa.Array:
  """float64 array -> binary array of 8-byte big-endian values."""
  values = array.to_numpy(zero_copy_only=False).astype(codec.COORD_DTYPE)
  offsets = np.arange(0, features.COORD_BYTES * len(values) + 1,
                      features.COORD_BYTES, dtype=np.int32)
  return pa.Array.from_buffers(
      pa.binary(), len(values),
      [None, pa.py_buffer(offsets), pa.py_buffer(values.tobytes())])


def _one_value_lists(array: pa.Array) -> pa.Array:
  offsets = pa.array(np.arange(len(array) + 1, dtype=np.int32))
  return pa.ListArray.from_arrays(offsets, array)


def to_example_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
  """The Arrow form of the examples: one length-1 list column per feature."""
  columns = []
  for name in FEATURE_KEYS:
    array = batch.column(name)
    if name in (features.LON, features.LAT):
      array = _coord_bytes(array)
    elif pa.types.is_string(array.type):
      # The encoder takes binary, not string, values (same buffers).
      array = array.view(pa.binary())
    columns.append(_one_value_lists(array))
  return pa.RecordBatch.from_arrays(columns, list(FEATURE_KEYS))


def decode_examples(examples: List[bytes], schema: pa.Schema) -> pa.RecordBatch:
  """Serialized raw examples back to normalized rows (`schema`): the
  inverse of `ExampleEncoder.encode`, for quarantining rows that were
  encoded before they were judged (duplicates)."""
  decoded = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(list(examples))
  arrays = []
  for field in schema:
    values = decoded.column(decoded.schema.get_field_index(field.name)).flatten()
    if field.name in (features.LON, features.LAT):
      data = b''.join(values.to_pylist())
      values = pa.array(np.frombuffer(data, codec.COORD_DTYPE).astype(np.float64))
    arrays.append(values.cast(field.type))
  return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _varint(data: bytes, pos: int):
  """(value, position after it) of the protobuf varint at `pos`."""
  result = shift = 0
  while True:
    byte = data[pos]
    pos += 1
    result |= (byte & 0x7f) << shift
    if byte < 0x80:
      return result, pos
    shift += 7


def canonical_example(example: bytes) -> bytes:
  """A serialized tf.train.Example with its features in key order.

  `Features.feature` is a protobuf map, and map entries are serialized in
  hash order, which changes from process to process: the same example gave
  different bytes in every run. Each entry is self-contained (key and
  value), so sorting the entries by key changes no length and gives one
  byte string per example. Bytes that are not an Example's layout are
  returned unchanged.
  """
  if not example or example[0] != 0x0a:  # field 1 (features), length-delimited
    return example
  length, start = _varint(example, 1)
  end = start + length
  entries = []
  pos = start
  while pos < end:
    if example[pos] != 0x0a:  # field 1 (feature map entry)
      return example
    size, body = _varint(example, pos + 1)
    if example[body] != 0x0a:  # the entry's key comes first
      return example
    key_size, key = _varint(example, body + 1)
    entries.append((example[key:key + key_size], example[pos:body + size]))
    pos = body + size
  entries.sort()
  return example[:start] + b''.join(entry for _, entry in entries) + example[end:]


class ExampleEncoder:
  """Serializes valid normalized rows (no nulls) as tf.Examples.

  Holds the C++ encoder; create it once per worker (e.g. in DoFn.setup).
  """

  def __init__(self):
    self._encoder = example_coder.RecordBatchToExamplesEncoder()

  def encode(self, batch: pa.RecordBatch, canonical: bool = True) -> List[bytes]:
    """One serialized example per row.

    canonical: byte-identical from run to run (`canonical_example`), as the
      ExampleGen writes them. A consumer that only parses the examples (the
      map job) passes False: the re-ordering is pure Python and costs about
      three times the C++ encoding.
    """
    if not batch.num_rows:
      return []
    examples = self._encoder.encode(to_example_batch(batch))
    return [canonical_example(e) for e in examples] if canonical else examples
