"""The whole preprocessing_fn in tf.Transform on Beam (DirectRunner).

Two small runs, each analyzing the train year and transforming every split:
run 1 reads the raw examples with a TFX-like schema ([1]-shaped features),
run 2 with `RAW_FEATURE_SPEC` ([] shapes), changed eval/test rows and a custom
label mapping passed as `custom_config`.
"""

import functools
import json
import os
import pickle

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import schema_utils
from tfx_bsl.public import tfxio

from croptfx import codec
from croptfx import features
from croptfx import outputs
from croptfx.preprocessing import preprocessing
from tests import test_preprocessing_reference as ref

TRAIN_YEAR = 2021


def _run(tmp_dir, train_rows, other_rows, feature_spec, preprocessing_fn):
  """Analyze train, transform train and other; outputs keyed by row id."""
  schema = schema_utils.schema_from_feature_spec(feature_spec)
  source = tfxio.TFExampleBeamRecord(
      physical_format='inmem', telemetry_descriptors=['croptfx-test'],
      schema=schema)
  out_dir = os.path.join(tmp_dir, 'transform_graph')
  with beam.Pipeline() as p:
    with tft_beam.Context(temp_dir=os.path.join(tmp_dir, 'tmp')):
      metadata = source.TensorAdapterConfig()
      splits = {}
      for name, rows in (('train', train_rows), ('other', other_rows)):
        splits[name] = (
            p | f'Create{name}' >> beam.Create([ref.serialize(r) for r in rows])
            | f'Decode{name}' >> source.BeamSource())
      transform_fn = ((splits['train'], metadata)
                      | tft_beam.AnalyzeDataset(preprocessing_fn))
      _ = transform_fn | tft_beam.WriteTransformFn(out_dir)
      for name, data in splits.items():
        transformed, _ = (((data, metadata), transform_fn)
                          | f'Transform{name}' >> tft_beam.TransformDataset())
        _ = (transformed
             | f'Pickle{name}' >> beam.Map(pickle.dumps)
             | f'Write{name}' >> beam.io.WriteToTFRecord(
                 os.path.join(tmp_dir, name), shard_name_template=''))
  outs = {}
  for name in ('train', 'other'):
    for record in tf.data.TFRecordDataset(os.path.join(tmp_dir, name)):
      out = pickle.loads(record.numpy())
      key = ref.row_key(out[features.LON], out[features.LAT],
                        out[features.YEAR])
      assert key not in outs
      outs[key] = out
  return out_dir, outs


def _key(row):
  return ref.row_key(codec.decode_coord(row[features.LON]),
                     codec.decode_coord(row[features.LAT]),
                     row[features.YEAR])


@pytest.fixture(scope='module')
def data():
  rows = ref.dataset(pixels_per_year=40, seed=11)
  train = [r for r in rows if r[features.YEAR] == TRAIN_YEAR]
  other = [r for r in rows if r[features.YEAR] != TRAIN_YEAR]
  return train, other


# What TFX's SchemaGen (infer_feature_shape=True) gives.
TFX_RAW_SPEC = {k: tf.io.FixedLenFeature([1], v.dtype)
                for k, v in preprocessing.RAW_FEATURE_SPEC.items()}


@pytest.fixture(scope='module')
def run1(data, tmp_path_factory):
  train, other = data
  spec = TFX_RAW_SPEC
  return _run(str(tmp_path_factory.mktemp('run1')), train, other, spec,
              preprocessing.preprocessing_fn)


def _changed(row):
  """Same pixel and dates, very different reflectance."""
  bands = 65535 - codec.decode_bands(row[features.BANDS]).astype(np.int64)
  return dict(row, **{features.BANDS: codec.encode_bands(bands)})


@pytest.fixture(scope='module')
def run2(data, tmp_path_factory):
  train, other = data
  tmp_dir = tmp_path_factory.mktemp('run2')
  mapping_path = tmp_dir / 'mapping.json'
  mapping_path.write_text(json.dumps(
      {'mapping': {'Rice': ['Corn']}, 'default_class': 'Cultivated'}))
  # Every other eval/test row changed, the last ones dropped.
  changed = [_changed(r) if i % 2 else r for i, r in enumerate(other[:-10])]
  fn = functools.partial(
      preprocessing.preprocessing_fn,
      custom_config={preprocessing.LABEL_MAPPING_CONFIG_KEY: str(mapping_path)})
  out_dir, outs = _run(str(tmp_dir), train, changed,
                          preprocessing.RAW_FEATURE_SPEC, fn)
  return out_dir, outs, changed


def test_band_statistics_match_numpy(data, run1):
  train, other = data
  stats = outputs.read_band_statistics(run1[0])
  mean, std = ref.reference_statistics(train)
  mean_err = np.max(np.abs(np.array(stats['band_mean']) / mean - 1))
  std_err = np.max(np.abs(np.array(stats['band_std']) / std - 1))
  print(f'\nband statistics vs NumPy over {len(train)} train rows: max '
        f'relative error mean {mean_err:.2e}, std {std_err:.2e}')
  assert mean_err < 1e-12 and std_err < 1e-12
  # Only the train year was analyzed.
  all_mean, _ = ref.reference_statistics(train + other)
  assert np.max(np.abs(np.array(stats['band_mean']) / all_mean - 1)) > 1e-3


def test_transformed_schema_has_fixed_shapes(run1):
  tft_output = tft.TFTransformOutput(run1[0])
  assert (tft_output.transformed_feature_spec() ==
          preprocessing.TRANSFORMED_FEATURE_SPEC)
  shapes = {f.name: [d.size for d in f.shape.dim]
            for f in tft_output.transformed_metadata.schema.feature}
  assert shapes[features.GRID] == [73, 12]
  assert shapes[features.OBSERVED] == shapes[features.VEGETATION] == [73]


def test_outputs_match_numpy_reference(data, run1):
  train, other = data
  _, outs = run1
  mean, std = ref.reference_statistics(train)
  mapping = features.load_label_mapping()
  single = single_exact = multi = multi_exact = 0
  for row in train + other:
    got = outs[_key(row)]
    want = ref.reference_transform(row, mean, std, mapping)
    for key in preprocessing.TRANSFORMED_FEATURE_SPEC:
      if key != features.GRID:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    observed = want[features.OBSERVED] == 1
    # Same values up to the float32 rounding of (x - mean) / std, computed
    # here from np.mean / np.std.
    np.testing.assert_array_max_ulp(got[features.GRID], want[features.GRID],
                                    maxulp=1)
    assert not got[features.GRID][~observed].any()
    counts = want['images_in_bin']
    exact = (got[features.GRID] == want[features.GRID]).all(axis=1)
    single += np.sum(counts == 1)
    single_exact += np.sum(exact & (counts == 1))
    multi += np.sum(counts > 1)
    multi_exact += np.sum(exact & (counts > 1))
  print(f'\n{len(train) + len(other)} rows: {single} one-image bins '
        f'({single_exact} bit-exact), {multi} several-image bins with the '
        f'reference pick ({multi_exact} bit-exact); the rest within 1 ulp')
  assert multi > 100 and single > 100


def test_eval_rows_do_not_change_statistics(data, run1, run2):
  train, _ = data
  out_dir, outs, changed = run2
  assert (outputs.read_band_statistics(out_dir) ==
          outputs.read_band_statistics(run1[0]))
  rice = features.CLASS_NAMES.index('Rice')
  for row in train + changed:
    got, before = outs[_key(row)], run1[1][_key(row)]
    if row[features.YEAR] == TRAIN_YEAR or row in data[1]:
      np.testing.assert_array_equal(got[features.GRID],
                                    before[features.GRID])
    else:
      assert not np.array_equal(got[features.GRID], before[features.GRID])
    np.testing.assert_array_equal(got[features.OBSERVED],
                                  before[features.OBSERVED])
    # The custom mapping: Corn -> Rice, every other name unknown.
    cdl = features.normalize_cdl_name(row[features.CDL])
    if cdl == 'corn':
      assert got[features.LABEL] == rice and got[features.KNOWN_CDL] == 1
    else:
      assert got[features.LABEL] == features.CLASS_NAMES.index('Cultivated')
      assert got[features.KNOWN_CDL] == 0 and got[features.EXCLUDED] == 0


def test_serving_graph_equals_beam(data, run1):
  train, other = data
  out_dir, outs = run1
  tft_output = tft.TFTransformOutput(out_dir)
  layer = tft_output.transform_features_layer()
  # One example alone, then a batch of rows with different N.
  for rows in ([other[-1]], [train[0], other[3], train[-2]]):
    # (TFX writes the raw schema next to the graph; plain TFT does not.)
    parsed = tf.io.parse_example([ref.serialize(r) for r in rows],
                                 TFX_RAW_SPEC)
    served = {k: v.numpy() for k, v in layer(parsed).items()}
    assert set(served) == set(preprocessing.TRANSFORMED_FEATURE_SPEC)
    for i, row in enumerate(rows):
      for key, value in outs[_key(row)].items():
        np.testing.assert_array_equal(served[key][i], value, err_msg=key)
