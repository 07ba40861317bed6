"""Serving equals training: raw rows through the pushed model's signature give
the probabilities of the Transform output + window path; `croptfx predict`."""

import datetime
import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from croptfx import codec
from croptfx import features
from trainer import signatures

pytestmark = pytest.mark.pipeline

DAY = features.HEADLINE_AS_OF_DAY


def _records(artifact_uri, split):
  files = sorted(glob.glob(os.path.join(artifact_uri, f'Split-{split}', '*.gz')))
  return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type='GZIP')]


def _as_of_date(year, day=DAY):
  return (datetime.date(year, 1, 1) + datetime.timedelta(days=day - 1)).isoformat()


@pytest.fixture(scope='module')
def model(small_run):
  return tf.saved_model.load(small_run['summary']['model_dir'])


def test_serving_equals_transform_output_plus_window(small_run, model):
  artifacts = small_run['summary']['artifacts']
  raw = _records(artifacts['examples'], 'test')
  transformed = _records(artifacts['transformed_examples'], 'test')
  # Key both by pixel; transformed lon/lat are the float32 passthrough.
  raw_keys = []
  for record in raw:
    f = tf.train.Example.FromString(record).features.feature
    raw_keys.append((np.float32(codec.decode_coord(f['lon'].bytes_list.value[0])),
                     np.float32(codec.decode_coord(f['lat'].bytes_list.value[0])),
                     f['year'].int64_list.value[0]))
  ids = tf.io.parse_example(transformed, {k: tf.io.FixedLenFeature([], t) for k, t in (
      ('lon', tf.float32), ('lat', tf.float32), ('year', tf.int64))})
  transformed_keys = list(zip(ids['lon'].numpy(), ids['lat'].numpy(), ids['year'].numpy()))
  assert sorted(raw_keys) == sorted(transformed_keys)
  year = int(raw_keys[0][2])

  served = model.signatures['serving_default'](
      examples=tf.constant(raw), as_of_date=tf.constant([_as_of_date(year)]))
  trained = model.signatures['evaluate_transformed'](examples=tf.constant(transformed))
  by_key = dict(zip(transformed_keys, trained[signatures.output_name(DAY)].numpy()))
  for key, probabilities in zip(raw_keys, served['probabilities'].numpy()):
    np.testing.assert_allclose(probabilities, by_key[key], rtol=0, atol=1e-6)
  names = [n.decode() for n in served['class_name'].numpy()]
  assert names == [features.CLASS_NAMES[i] for i in served['class_index'].numpy()]
  np.testing.assert_allclose(served['probabilities'].numpy().sum(axis=1), 1.0, atol=1e-5)


def test_serving_without_label_and_with_dates_per_example(small_run, model):
  raw = _records(small_run['summary']['artifacts']['examples'], 'eval')[:6]
  stripped = []
  for record in raw:
    example = tf.train.Example.FromString(record)
    for key in signatures.OPTIONAL_RAW_FEATURES:
      del example.features.feature[key]  # a request has no CDL label
    stripped.append(example.SerializeToString())
  dates = [_as_of_date(2020, day) for day in (120, 120, 240, 240, 300, 300)]
  with_label = model.signatures['serving_default'](
      examples=tf.constant(raw), as_of_date=tf.constant(dates))
  without = model.signatures['serving_default'](
      examples=tf.constant(stripped), as_of_date=tf.constant(dates))
  np.testing.assert_array_equal(with_label['probabilities'].numpy(),
                                without['probabilities'].numpy())
  # A different as-of date is a different window: the predictions move.
  late = model.signatures['serving_default'](
      examples=tf.constant(raw), as_of_date=tf.constant([_as_of_date(2020, 120)]))
  assert not np.allclose(late['probabilities'].numpy()[4:], with_label['probabilities'].numpy()[4:])


def test_predict_cli_skips_bad_rows_and_matches_the_signature(small_run, model, tmp_path):
  data = tmp_path / 'data'
  shutil.copytree(small_run['data'], data)
  first = sorted(data.glob('*.parquet'))[0]
  rows = pq.read_table(first).slice(0, 5).to_pylist()
  rows[0]['bands'] = rows[0]['bands'][:-1]  # byte_length
  rows[1]['CDL'] = None  # no label: fine, that is what is predicted
  rows[2]['lat'] = float('nan')  # non_finite_coordinate
  pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(first)), data / 'bad.parquet')
  # A season not mapped yet: no CDL (nor tiles, bbox) column at all.
  pq.write_table(pq.read_table(first).slice(5, 4).drop(['CDL', 'tiles', 'bbox']),
                 data / 'unlabelled.parquet')
  total = sum(pq.read_metadata(f).num_rows for f in data.glob('*.parquet'))

  output = tmp_path / 'predictions.parquet'
  result = subprocess.run(
      [sys.executable, '-m', 'croptfx.cli', 'predict', '--model',
       small_run['summary']['model_dir'], '--data', str(data), '--as-of', '2020-08-27',
       '--output', str(output)],
      capture_output=True, text=True, check=True)
  table = pq.read_table(output).to_pandas()
  assert len(table) == total - 2
  assert (f'{len(table)} of {total} rows predicted as of 2020-08-27' in result.stdout)
  assert 'skipped 2 bad rows (byte_length=1, non_finite_coordinate=1)' in result.stdout
  assert 'Traceback' not in result.stderr
  assert list(table.columns) == ['lon', 'lat', 'year', 'class', 'class_index', 'probabilities']
  assert (table['class'] == [features.CLASS_NAMES[i] for i in table['class_index']]).all()

  # The same rows through the signature directly (2020 rows, as of day 240).
  raw = _records(small_run['summary']['artifacts']['examples'], 'eval')
  direct = model.signatures['serving_default'](
      examples=tf.constant(raw), as_of_date=tf.constant(['2020-08-27']))
  lons = [codec.decode_coord(tf.train.Example.FromString(r).features.feature['lon']
                             .bytes_list.value[0]) for r in raw]
  lats = [codec.decode_coord(tf.train.Example.FromString(r).features.feature['lat']
                             .bytes_list.value[0]) for r in raw]
  expected = {(lo, la): p for lo, la, p in zip(lons, lats, direct['probabilities'].numpy())}
  predicted_2020 = table[table['year'] == 2020]
  assert len(predicted_2020) >= len(expected) - 3  # minus the bad rows of 2020, if any
  for lo, la, p in zip(predicted_2020['lon'], predicted_2020['lat'],
                       predicted_2020['probabilities']):
    if (lo, la) in expected:
      np.testing.assert_allclose(np.asarray(p), expected[(lo, la)], atol=1e-6)
