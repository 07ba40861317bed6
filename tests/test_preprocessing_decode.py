"""preprocessing.decode: packed bytes -> tensors, vectorized over a batch."""

import base64

import datetime

import numpy as np
import tensorflow as tf

from croptfx import codec
from croptfx import features
from croptfx.preprocessing import decode


def test_slides_worked_example_bands():
  data = tf.constant([base64.b64decode('AUECmAOE')])
  values = decode.decode_padded(data, tf.uint16, tf.constant(3))
  assert values.numpy().tolist() == [[321, 664, 900]]


def test_slides_worked_example_date():
  data = tf.constant([bytes([0x45, 0xEE])])
  days = decode.decode_padded(data, tf.uint16, tf.constant(1)).numpy()[0, 0]
  assert days == 0x45EE
  assert str((features.EPOCH + datetime.timedelta(days=int(days)))) == '2019-01-06'


def test_padding_to_longest_row():
  data = tf.constant([codec.encode_dates([1, 2, 3]), codec.encode_dates([7])])
  values = decode.decode_padded(data, tf.uint16, tf.constant(3))
  assert values.numpy().tolist() == [[1, 2, 3], [7, 0, 0]]


def test_coordinates_are_exact_float64():
  lon = [-89.29730123456789, 36.85473, 0.0]
  data = tf.constant([codec.encode_coord(v) for v in lon])
  np.testing.assert_array_equal(decode.decode_float64_be(data).numpy(), lon)


def test_decode_images_matches_codec():
  rng = np.random.default_rng(1)
  rows = []
  for n in (3, 1, 7):
    rows.append((rng.integers(0, 65536, [n, 12]),
                 rng.integers(17000, 19000, n), rng.integers(0, 12, n)))
  images = decode.decode_images(
      tf.constant([codec.encode_bands(b) for b, _, _ in rows]),
      tf.constant([codec.encode_dates(d) for _, d, _ in rows]),
      tf.constant([codec.encode_scl(s) for _, _, s in rows]))
  assert images.bands.shape.as_list()[1:] == [7, 12]
  assert images.count.numpy().tolist() == [3, 1, 7]
  for i, (bands, dates, scl) in enumerate(rows):
    n = len(dates)
    assert images.valid[i].numpy().tolist() == [True] * n + [False] * (7 - n)
    np.testing.assert_array_equal(images.bands[i, :n], bands)
    np.testing.assert_array_equal(images.dates[i, :n], dates)
    np.testing.assert_array_equal(images.scl[i, :n], scl)
    assert not images.bands[i, n:].numpy().any()


def test_decode_images_counts_only_complete_images():
  # The SCL column is one image short: that image is not decoded.
  images = decode.decode_images(
      tf.constant([codec.encode_bands(np.ones([2, 12]))]),
      tf.constant([codec.encode_dates([5, 6])]),
      tf.constant([codec.encode_scl([4])]))
  assert images.count.numpy().tolist() == [1]


def test_decode_images_empty_batch():
  empty = tf.constant([], tf.string)
  images = decode.decode_images(empty, empty, empty)
  assert images.bands.shape[0] == 0 and images.valid.shape[0] == 0


def test_to_dense_vector_shapes():
  expected = [b'a', b'b']
  for x in (tf.constant([[b'a'], [b'b']]), tf.constant([b'a', b'b']),
            tf.ragged.constant([[b'a'], [b'b']])):
    assert decode.to_dense_vector(x, b'').numpy().tolist() == expected


def test_to_dense_vector_sparse_with_missing_values():
  x = tf.SparseTensor(indices=[[1, 0]], values=[7], dense_shape=[3, 1])
  assert decode.to_dense_vector(tf.cast(x, tf.int64), 0).numpy().tolist() == [
      0, 7, 0]
  # Every value missing: dense_shape [3, 0].
  none = tf.SparseTensor(indices=tf.zeros([0, 2], tf.int64),
                         values=tf.constant([], tf.string), dense_shape=[3, 0])
  assert decode.to_dense_vector(none, b'').numpy().tolist() == [b''] * 3
