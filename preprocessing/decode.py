"""In-graph decoding of the packed Part-1 columns, vectorized over a batch.

Rows hold different numbers of images N, so every packed column is decoded
with `tf.io.decode_raw(..., fixed_length=...)` at the longest row of the batch
(shorter rows are zero-padded) and a [batch, N_max] mask says which images
exist. The NumPy twin of these functions is `croptfx.codec`.
"""

from typing import NamedTuple, Union

import tensorflow as tf

from croptfx import features

TensorLike = Union[tf.Tensor, tf.SparseTensor, tf.RaggedTensor]


def to_dense_vector(x: TensorLike, default_value) -> tf.Tensor:
  """One value per example as a [batch] tensor.

  Accepts what TFX hands over for a single-valued feature: a dense [batch, 1]
  (schema with shapes) or [batch] tensor, or a sparse/ragged one (schema
  without shapes); missing values become `default_value`.

  Args:
    x: the feature tensor.
    default_value: value of examples that lack the feature.

  Returns:
    A dense tensor of shape [batch].
  """
  if isinstance(x, tf.SparseTensor):
    # Keep at least one column so a batch where every value is missing still
    # yields one default per example.
    width = tf.maximum(x.dense_shape[1], 1)
    x = tf.sparse.to_dense(
        tf.SparseTensor(x.indices, x.values,
                        tf.stack([x.dense_shape[0], width])),
        default_value=default_value)
  elif isinstance(x, tf.RaggedTensor):
    x = x.to_tensor(default_value=default_value, shape=[None, 1])
  if x.shape.rank == 1:
    return x
  if x.shape.rank == 2:
    return x[:, 0]
  raise ValueError(f'expected a [batch] or [batch, 1] feature, got {x.shape}')


def item_counts(data: tf.Tensor, item_bytes: int) -> tf.Tensor:
  """Whole items of `item_bytes` bytes in each string; [batch] int32."""
  return tf.strings.length(data) // item_bytes


def decode_padded(data: tf.Tensor, out_type: tf.DType, num_values: tf.Tensor,
                  big_endian: bool = True) -> tf.Tensor:
  """Decodes [batch] byte strings to [batch, num_values] numbers.

  Shorter strings are zero-padded, longer ones truncated.

  Args:
    data: [batch] tf.string.
    out_type: element type, e.g. tf.uint16.
    num_values: scalar int32, values to decode per row (>= 1).
    big_endian: byte order of multi-byte elements.

  Returns:
    [batch, num_values] tensor of `out_type`.
  """
  fixed_length = num_values * out_type.size
  return tf.io.decode_raw(data, out_type, little_endian=not big_endian,
                          fixed_length=fixed_length)


def decode_float64_be(data: tf.Tensor) -> tf.Tensor:
  """8-byte big-endian float64 per example (`codec.encode_coord`); [batch]."""
  values = decode_padded(data, tf.float64, tf.constant(1, tf.int32))
  return values[:, 0]


class Images(NamedTuple):
  """The images of a batch of rows, padded to the longest row.

  Attributes:
    bands: [batch, n_max, NUM_BANDS] int64 reflectance x 10000.
    dates: [batch, n_max] int64 days since 1970-01-01.
    scl: [batch, n_max] int64 Scene Classification.
    valid: [batch, n_max] bool, the image exists in the row.
    count: [batch] int32 images per row.
  """
  bands: tf.Tensor
  dates: tf.Tensor
  scl: tf.Tensor
  valid: tf.Tensor
  count: tf.Tensor


def decode_images(bands: tf.Tensor, img_dates: tf.Tensor,
                  scl_vals: tf.Tensor) -> Images:
  """Decodes the packed `bands`, `img_dates`, `scl_vals` of [batch] rows.

  An image counts only if all three columns hold it (ExampleGen guarantees the
  lengths agree; taking the minimum keeps a truncated field from inventing
  zero-valued images).

  Args:
    bands: [batch] uint16 big-endian [N, 12] row-major bytes.
    img_dates: [batch] uint16 big-endian days since epoch.
    scl_vals: [batch] uint8 SCL per image.

  Returns:
    `Images`.
  """
  count = tf.minimum(
      tf.minimum(item_counts(bands, features.BAND_BYTES_PER_IMAGE),
                 item_counts(img_dates, features.DATE_BYTES_PER_IMAGE)),
      item_counts(scl_vals, features.SCL_BYTES_PER_IMAGE))
  # At least one slot so an empty batch or empty rows still decode.
  n_max = tf.reduce_max(tf.concat([count, [1]], axis=0))
  band_values = decode_padded(bands, tf.uint16, n_max * features.NUM_BANDS)
  band_values = tf.reshape(tf.cast(band_values, tf.int64),
                           [-1, n_max, features.NUM_BANDS])
  dates = tf.cast(decode_padded(img_dates, tf.uint16, n_max), tf.int64)
  scl = tf.cast(decode_padded(scl_vals, tf.uint8, n_max), tf.int64)
  valid = tf.sequence_mask(count, n_max)
  return Images(bands=band_values, dates=dates, scl=scl, valid=valid,
                count=count)
