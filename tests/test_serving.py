"""Serving equals training: raw rows through the pushed model's signature give
the probabilities of the Transform output + window path; `croptfx predict`."""

import datetime
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
from croptfx import records
from croptfx.pipeline import configs
from croptfx.trainer import signatures

pytestmark = pytest.mark.pipeline

DAY = configs.HEADLINE_AS_OF_DAY


def _records(artifact_uri, split):
  files = records.split_files(artifact_uri, split)
  return [r.numpy() for r in records.tfrecord_dataset(files)]


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
    for key in features.PREDICTION_OPTIONAL_COLUMNS:
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
  """`croptfx predict` is the map job on one in-memory worker, into one file."""
  data = tmp_path / 'data'
  shutil.copytree(small_run['data'], data)
  first = sorted(data.glob('*.parquet'))[0]
  table_2020 = pq.read_table(first).filter(pa.compute.equal(pq.read_table(first).column('year'), 2020))
  rows = table_2020.slice(0, 5).to_pylist()
  rows[0]['bands'] = rows[0]['bands'][:-1]  # byte_length
  rows[1]['CDL'] = None  # no label: fine, that is what is predicted
  rows[2]['lat'] = float('nan')  # non_finite_coordinate
  pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(first)), data / 'bad.parquet')
  # A season not mapped yet: no CDL (nor tiles, bbox) column at all.
  pq.write_table(table_2020.slice(5, 4).drop(['CDL', 'tiles', 'bbox']),
                 data / 'unlabelled.parquet')
  years = pa.concat_tables([pq.read_table(f, columns=['year'])
                            for f in data.glob('*.parquet')]).column('year').to_numpy()
  total, other_years = len(years), int((years != 2020).sum())

  output = tmp_path / 'predictions.parquet'
  result = subprocess.run(
      [sys.executable, '-m', 'croptfx.cli', 'predict', '--model',
       small_run['summary']['model_dir'], '--data', str(data), '--as-of', '2020-08-27',
       '--output', str(output)],
      capture_output=True, text=True, check=True)
  table = pq.read_table(output).to_pandas()
  assert len(table) == total - 2 - other_years
  assert f'{len(table)} of {total} rows predicted as of 2020-08-27' in result.stdout
  assert (f'skipped {2 + other_years} rows (as_of_outside_year={other_years}, '
          'byte_length=1, non_finite_coordinate=1)') in result.stdout
  assert 'Traceback' not in result.stderr and 'Exception ignored' not in result.stderr
  assert list(table.columns) == ['lon', 'lat', 'year', 'as_of', 'class', 'class_index',
                                 'probabilities', 'confidence', 'geometry']
  assert (table['class'] == [features.CLASS_NAMES[i] for i in table['class_index']]).all()
  assert (table['year'] == 2020).all()
  skipped = pq.read_table(tmp_path / 'predictions.skipped.parquet').to_pandas()
  assert sorted(skipped['reason'].unique()) == ['as_of_outside_year', 'byte_length',
                                                'non_finite_coordinate']
  assert len(skipped) == 2 + other_years
  assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.')] == []

  # The same rows through the signature directly (2020 rows, as of day 240).
  raw = _records(small_run['summary']['artifacts']['examples'], 'eval')
  direct = model.signatures['serving_default'](
      examples=tf.constant(raw), as_of_date=tf.constant(['2020-08-27']))
  lons = [codec.decode_coord(tf.train.Example.FromString(r).features.feature['lon']
                             .bytes_list.value[0]) for r in raw]
  lats = [codec.decode_coord(tf.train.Example.FromString(r).features.feature['lat']
                             .bytes_list.value[0]) for r in raw]
  expected = {(lo, la): (p, c) for lo, la, p, c in zip(
      lons, lats, direct['probabilities'].numpy(), direct['class_index'].numpy())}
  checked = 0
  for lo, la, p, c in zip(table['lon'], table['lat'], table['probabilities'],
                          table['class_index']):
    if (lo, la) in expected:
      np.testing.assert_allclose(np.asarray(p), expected[(lo, la)][0], rtol=0, atol=1e-6)
      assert c == expected[(lo, la)][1]
      checked += 1
  # Every 2020 row of the eval split is in the data (bar the two made bad).
  assert checked >= len(expected) - 2
