"""preprocessing.preprocessing outside Beam: decode + grid + labels, eagerly."""

import numpy as np
import pytest
import tensorflow as tf

from croptfx import codec
from croptfx import features
from croptfx.preprocessing import labels
from croptfx.preprocessing import preprocessing
from tests import test_preprocessing_reference as ref


@pytest.fixture(scope='module')
def rows():
  return ref.dataset(pixels_per_year=8)


def _dense_inputs(rows, rank=2):
  inputs = {}
  for key in preprocessing.RAW_FEATURE_SPEC:
    values = [r[key] for r in rows]
    tensor = tf.constant(values, tf.int64 if isinstance(values[0], int)
                         else tf.string)
    inputs[key] = tensor[:, tf.newaxis] if rank == 2 else tensor
  return inputs


def _transform(inputs, mean, std, mapping=None):
  mapping = mapping or features.load_label_mapping()
  out = preprocessing.transform_decoded(
      preprocessing.decode_inputs(inputs), tf.constant(mean, tf.float64),
      tf.constant(std, tf.float64), mapping, labels.make_label_table(mapping))
  return {k: v.numpy() for k, v in out.items()}


def test_outputs_match_the_numpy_reference(rows):
  mean, std = ref.reference_statistics(rows)
  out = _transform(_dense_inputs(rows), mean, std)
  assert set(out) == set(preprocessing.TRANSFORMED_FEATURE_SPEC)
  for key, spec in preprocessing.TRANSFORMED_FEATURE_SPEC.items():
    assert out[key].shape == (len(rows), *spec.shape), key
    assert out[key].dtype == spec.dtype.as_numpy_dtype, key
  mapping = features.load_label_mapping()
  for i, row in enumerate(rows):
    want = ref.reference_transform(row, mean, std, mapping)
    for key in preprocessing.TRANSFORMED_FEATURE_SPEC:
      np.testing.assert_array_equal(out[key][i], want[key], err_msg=key)


def test_vegetation_flags_follow_the_picked_image():
  jan1 = codec.jan1_days(2021)
  # Bin 0: clear vegetation vs cloud -> vegetation; bin 1: bare soil (5)
  # beats cloud -> not vegetation; bin 2: only a cloud -> observed, not veg;
  # bin 3: only vegetation.
  row = ref.make_row(np.array([0, 1, 5, 6, 10, 15]) + jan1,
                     [4, 8, 9, 5, 9, 4], 2021, 'Corn', -90.3, 33.3)
  out = _transform(_dense_inputs([row]), np.zeros(12), np.ones(12))
  assert out[features.OBSERVED][0, :5].tolist() == [1, 1, 1, 1, 0]
  assert out[features.VEGETATION][0, :5].tolist() == [1, 0, 0, 1, 0]
  assert out[features.FIRST_BIN][0] == 0 and out[features.LAST_BIN][0] == 3
  assert out[features.VEGETATION].sum() == 2


def test_input_shapes_and_sparse_inputs_agree(rows):
  rows = rows[:5]
  mean, std = np.full(12, 1000.0), np.full(12, 500.0)
  dense = _transform(_dense_inputs(rows), mean, std)
  flat = _transform(_dense_inputs(rows, rank=1), mean, std)
  sparse = _transform({k: tf.sparse.from_dense(v) if v.dtype != tf.string
                       else tf.RaggedTensor.from_tensor(v).to_sparse()
                       for k, v in _dense_inputs(rows).items()}, mean, std)
  for key in dense:
    np.testing.assert_array_equal(flat[key], dense[key])
    np.testing.assert_array_equal(sparse[key], dense[key])


def test_lon_lat_passthrough_and_ids(rows):
  out = _transform(_dense_inputs(rows[:3]), np.zeros(12), np.ones(12))
  for i, row in enumerate(rows[:3]):
    assert out[features.LON][i] == np.float32(codec.decode_coord(row['lon']))
    assert out[features.LAT][i] == np.float32(codec.decode_coord(row['lat']))
    assert out[features.YEAR][i] == row['year']
    assert out[features.BBOX][i] == row['bbox']
