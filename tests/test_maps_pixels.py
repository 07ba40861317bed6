"""The map's pixel table: WKB points, GeoParquet metadata, skip reasons, options."""

import datetime
import json
import struct

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from croptfx import features
from croptfx.generate import part1
from croptfx import layouts
from croptfx.maps import pipeline as pipeline_lib
from croptfx.maps import pixels


def test_wkb_points_are_little_endian_points_x_lon_y_lat():
  lon = np.array([-90.5, 0.0, 179.25])
  lat = np.array([33.25, -45.0, 89.5])
  wkb = pixels.wkb_points(lon, lat).to_pylist()
  assert wkb[0] == struct.pack('<BIdd', 1, 1, -90.5, 33.25)
  points = shapely.from_wkb(wkb)
  np.testing.assert_array_equal(shapely.get_x(points), lon)
  np.testing.assert_array_equal(shapely.get_y(points), lat)


def _table(n=3):
  probabilities = np.zeros((n, features.NUM_CLASSES), np.float32)
  probabilities[np.arange(n), [3, 4, 1][:n]] = [0.5, 0.75, 0.625][:n]
  probabilities[np.arange(n), 0] += 1 - probabilities.sum(axis=1)
  return pixels.prediction_table(
      np.array([-90.0, -90.001, -90.002][:n]), np.array([33.0, 33.001, 33.003][:n]),
      np.array([2021] * n), datetime.date(2021, 7, 15), probabilities,
      np.array([3, 4, 1][:n]))


def test_prediction_table_columns():
  table = _table()
  assert table.schema == pixels.PREDICTION_SCHEMA
  assert table.column('class').to_pylist() == ['Corn', 'Soybeans', 'Uncultivated']
  assert table.column('confidence').to_pylist() == [0.5, 0.75, 0.625]
  assert table.column('as_of').to_pylist() == [datetime.date(2021, 7, 15)] * 3
  assert [len(p) for p in table.column('probabilities').to_pylist()] == [7, 7, 7]
  assert table.column('probabilities').to_pylist()[1][4] == 0.75


def test_shard_has_geoparquet_1_0_metadata(tmp_path):
  prefix = str(tmp_path / 'pixels' / 'pixels')
  path = pixels.write_shard(_table(), prefix)
  assert path.startswith(prefix + '-') and path.endswith('.parquet')
  assert [p.name for p in (tmp_path / 'pixels').iterdir()] == [path.rsplit('/', 1)[1]]
  geo = json.loads(pq.read_schema(path).metadata[b'geo'])
  assert geo == {'version': '1.0.0', 'primary_column': 'geometry', 'columns': {'geometry': {
      'encoding': 'WKB', 'geometry_types': ['Point'],
      'bbox': [-90.002, 33.0, -90.0, 33.003]}}}
  table = pq.read_table(path)
  assert table.column_names == pixels.SCHEMA.names


def _rows(tmp_path):
  part1.write_dataset(str(tmp_path / 'g'), aoi=(4, 3), years=[2021], seed=3)
  return pq.read_table(next((tmp_path / 'g').glob('*.parquet')))


def test_skip_reasons_put_as_of_outside_year_after_the_row_checks(tmp_path):
  from croptfx.rows import reader  # pylint: disable=g-import-not-at-top
  rows = _rows(tmp_path).to_pylist()[:4]
  rows[0]['bands'] = rows[0]['bands'][:-1]  # byte_length comes first
  rows[1]['year'] = 2020  # its dates are in 2021: date_outside_year, not as_of
  batch = reader.normalize(pa.Table.from_pylist(rows))
  reasons = pipeline_lib.skip_reasons(batch, None, datetime.date(2021, 7, 15))
  assert reasons.tolist() == ['byte_length', 'date_outside_year', '', '']
  reasons = pipeline_lib.skip_reasons(batch, None, datetime.date(2022, 1, 1))
  assert reasons.tolist() == ['byte_length', 'date_outside_year', 'as_of_outside_year',
                              'as_of_outside_year']
  assert pipeline_lib.SKIP_REASONS[-1] == 'as_of_outside_year'


def test_as_of_outside_year():
  batch = pa.RecordBatch.from_pydict({'year': [2019, 2021, None, 2021]})
  assert pipeline_lib.as_of_outside_year(batch, datetime.date(2021, 6, 1)).tolist() == [
      True, False, True, False]
  assert pipeline_lib.as_of_outside_year(batch, datetime.date(2018, 6, 1)).tolist() == [
      True] * 4


@pytest.mark.parametrize('argv, message', [
    (['--runner', 'dataflow', '--project', 'p', '--region', 'r'],
     '--model must be a gs:// URI'),
    (['--workers', '2'], '--workers applies to --runner beam'),
    (['--project', 'p'], '--project apply to --runner dataflow only'),
    (['--runner', 'beam', '--workers', '0'], 'must be a positive integer'),
])
def test_map_arguments_are_checked_before_work(argv, message, tmp_path):
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  result = subprocess.run(
      [sys.executable, '-m', 'croptfx.cli', 'map', '--model', str(tmp_path), '--data',
       str(tmp_path), '--as-of', '2021-07-15', '--output', str(tmp_path / 'out')] + argv,
      capture_output=True, text=True)
  assert result.returncode == 2
  assert message in result.stderr
  assert not (tmp_path / 'out').exists()


def test_map_layout_names():
  layout = layouts.MapLayout('gs://b/map')
  assert layout.pixels_prefix == 'gs://b/map/pixels/pixels'
  assert layout.summary_path == 'gs://b/map/map_summary.json'
  assert layouts.MapLayout('/m').classes_tif == '/m/classes.tif'
