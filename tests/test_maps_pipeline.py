"""`croptfx map` end to end: the Beam map job against the serving signature.

One model per session (conftest's `small_run`), one wall-to-wall area with a
hole (the generator's: CDL cells, EPSG:5070), mapped on the in-memory
DirectRunner and on 2 worker processes and scored against the area's
generated CDL; the expected classes come from the pushed model's
`serving_default` called here, in-process, on the same rows, and from
`croptfx predict`; each pixel's cell from pyproj and the area's transform.
"""

import datetime
import glob
import io
import json
import os
import subprocess
import sys

import affine
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import pytest

from croptfx import features
from croptfx.generate import part1
from croptfx import layouts

pytestmark = pytest.mark.pipeline

AS_OF = datetime.date(2021, 7, 15)
WIDTH, HEIGHT = 30, 20
# Cells (col, row) of the hole: no pixel there, nodata in the raster.
HOLE = [(c, r) for c in range(10, 14) for r in range(5, 8)]


_TO_ALBERS = pyproj.Transformer.from_crs('EPSG:4326', 'EPSG:5070', always_xy=True)


def _cells(lon, lat, transform):
  """Column and row of each pixel's cell: pyproj to EPSG:5070, then the area's
  transform."""
  x, y = _TO_ALBERS.transform(np.asarray(lon), np.asarray(lat))
  col = np.floor((np.asarray(x) - transform.c) / transform.a).astype(int)
  row = np.floor((np.asarray(y) - transform.f) / transform.e).astype(int)
  return col, row


def _generate(directory, width, height, seed):
  summary = part1.write_dataset(str(directory), aoi=(width, height), years=[2021], seed=seed)
  table = pq.read_table(str(directory))  # pyarrow skips `_cdl/`
  return table, affine.Affine(*summary['aoi']['transform']), summary['aoi']['cdl'][2021]


@pytest.fixture(scope='module')
def area(tmp_path_factory):
  """A 30 x 20 wall-to-wall area of 2021 minus a 4 x 3 hole, in three files,
  and its CDL of 2021."""
  root = tmp_path_factory.mktemp('area')
  table, transform, cdl = _generate(root / 'generated', WIDTH, HEIGHT, 11)
  col, row = _cells(table.column('lon').to_numpy(), table.column('lat').to_numpy(), transform)
  assert sorted(set(zip(col, row))) == [(c, r) for c in range(WIDTH) for r in range(HEIGHT)]
  keep = ~np.isin(col * 1000 + row, [c * 1000 + r for c, r in HOLE])
  table = table.filter(pa.array(keep))
  data = root / 'data'
  data.mkdir()
  for i, start in enumerate(range(0, table.num_rows, 200)):
    pq.write_table(table.slice(start, 200), data / f'part-{i}.parquet')
  return {'data': str(data), 'table': table, 'transform': transform, 'cdl': cdl,
          'root': root}


@pytest.fixture(scope='module')
def model_dir(small_run):
  return small_run['summary']['model_dir']


@pytest.fixture(scope='module')
def expected(area, model_dir):
  """The signature called in-process on the same rows: (lon, lat) -> probabilities."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from croptfx.rows import encoding  # pylint: disable=g-import-not-at-top
  from croptfx.rows import reader  # pylint: disable=g-import-not-at-top
  batch = reader.normalize(area['table'])
  model = tf.saved_model.load(model_dir)
  out = model.signatures['serving_default'](
      examples=tf.constant(encoding.ExampleEncoder().encode(batch)),
      as_of_date=tf.constant([AS_OF.isoformat()]))
  keys = zip(batch.column('lon').to_pylist(), batch.column('lat').to_pylist())
  return {key: (p, int(c)) for key, p, c in zip(
      keys, out['probabilities'].numpy(), out['class_index'].numpy())}


@pytest.fixture(scope='module', params=['local', 'beam'])
def mapped(request, area, model_dir, tmp_path_factory):
  output = str(tmp_path_factory.mktemp(f'map-{request.param}'))
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  stream = io.StringIO()
  from croptfx.jobs import runners  # pylint: disable=g-import-not-at-top
  workers = 2 if request.param == 'beam' else None
  summary = map_run.run_map(model_dir, area['data'], AS_OF, output,
                            runner=runners.check(request.param, workers),
                            stream=stream, batch_rows=128,
                            min_batch_rows=256, max_batch_rows=512, shard_rows=250,
                            reference=area['cdl'])
  return {'runner': request.param, 'output': output, 'summary': summary,
          'progress': stream.getvalue()}


def _pixels(output):
  directory = os.path.join(output, 'pixels')  # listed: `output` may hold `[`
  files = sorted(os.path.join(directory, f) for f in os.listdir(directory)
                 if f.endswith('.parquet'))
  return pq.read_table(files).to_pandas() if files else None


def test_map_gives_the_signature_classes(mapped, expected, area):
  table = _pixels(mapped['output'])
  assert len(table) == area['table'].num_rows == len(expected)
  got = {(lo, la): (np.asarray(p), c) for lo, la, p, c in zip(
      table['lon'], table['lat'], table['probabilities'], table['class_index'])}
  assert set(got) == set(expected)
  for key, (probabilities, class_index) in expected.items():
    assert got[key][1] == class_index
    np.testing.assert_allclose(got[key][0], probabilities, rtol=0, atol=1e-6)
  assert (table['class'] == [features.CLASS_NAMES[i] for i in table['class_index']]).all()
  np.testing.assert_array_equal(
      table['confidence'], [np.max(p) for p in table['probabilities']])
  assert (table['as_of'] == AS_OF).all() and (table['year'] == 2021).all()
  # A shard is written once it holds shard_rows (250) rows: at most one
  # record batch (128 rows) more.
  files = glob.glob(os.path.join(mapped['output'], 'pixels', '*.parquet'))
  assert all(pq.read_metadata(f).num_rows < 250 + 128 for f in files)
  assert len(files) >= 2  # 588 rows


def test_summary_counts(mapped, area, expected):
  summary = mapped['summary']
  with open(os.path.join(mapped['output'], layouts.MAP_SUMMARY_FILE)) as f:
    assert json.load(f) == json.loads(json.dumps(summary))
  n = area['table'].num_rows
  assert (summary['rows_read'], summary['predicted'], summary['skipped_total']) == (n, n, 0)
  by_class = np.bincount([c for _, c in expected.values()], minlength=features.NUM_CLASSES)
  assert summary['pixels_per_class'] == dict(zip(features.CLASS_NAMES, by_class.tolist()))
  assert summary['as_of'] == '2021-07-15' and summary['runner'] == mapped['runner']
  assert summary['raster']['written'] and summary['raster']['cells_filled'] == n
  assert '[3/5] map job' in mapped['progress'] and f'{n} of {n} rows mapped' in mapped['progress']
  # The grid: the area's CDL window, found among the candidate CRSs.
  grid = summary['grid']
  assert (grid['found'], grid['how'], grid['crs']) == (True, 'detected', 'EPSG:5070')
  assert grid['transform'] == list(area['transform'])[:6] and grid['cell_size'] == [30.0, 30.0]
  assert (grid['width'], grid['height'], grid['pixels_checked']) == (WIDTH, HEIGHT, n)
  assert grid['max_offset_cells'] < 0.003  # lon/lat rounded to 6 decimals
  assert summary['raster']['map_area_ha'] == {
      name: pytest.approx(k * 0.09, rel=1e-12) for name, k in summary['pixels_per_class'].items()}


def test_geotiff_holds_each_pixel_class_and_nodata_elsewhere(mapped, area):
  import rasterio  # pylint: disable=g-import-not-at-top
  table = _pixels(mapped['output'])
  with rasterio.open(os.path.join(mapped['output'], 'classes.tif')) as ds:
    assert ds.crs.to_epsg() == 5070
    assert (ds.width, ds.height, ds.nodata, ds.dtypes[0]) == (WIDTH, HEIGHT, 255, 'uint8')
    assert ds.transform == area['transform']  # exact: the CDL grid
    classes = ds.read(1)
    assert ds.overviews(1)  # internal overviews
    assert ds.colormap(1)[3][:3] == tuple(
        int(features.CLASS_COLORS['Corn'][k:k + 2], 16) for k in (1, 3, 5))
    cols, rows = _cells(table['lon'], table['lat'], area['transform'])
  np.testing.assert_array_equal(classes[np.asarray(rows), np.asarray(cols)], table['class_index'])
  filled = np.zeros(classes.shape, bool)
  filled[np.asarray(rows), np.asarray(cols)] = True
  assert filled.sum() == len(table)
  assert (classes[~filled] == 255).all()
  assert sorted((c, r) for r, c in zip(*np.nonzero(~filled))) == sorted(HOLE)
  with rasterio.open(os.path.join(mapped['output'], 'confidence.tif')) as ds:
    confidence = ds.read(1)
  np.testing.assert_array_equal(confidence[np.asarray(rows), np.asarray(cols)],
                                table['confidence'].astype(np.float32))
  assert np.isnan(confidence[~filled]).all()


def test_geoparquet_opens_in_geopandas_and_duckdb(mapped, area):
  import duckdb  # pylint: disable=g-import-not-at-top
  import duckdb_extension_spatial  # pylint: disable=g-import-not-at-top
  import geopandas  # pylint: disable=g-import-not-at-top
  table = _pixels(mapped['output']).sort_values(['lon', 'lat']).reset_index(drop=True)
  pattern = os.path.join(mapped['output'], 'pixels', '*.parquet')
  frame = pd_concat([geopandas.read_parquet(f) for f in sorted(glob.glob(pattern))])
  frame = frame.sort_values(['lon', 'lat']).reset_index(drop=True)
  assert frame.crs.to_string() == 'OGC:CRS84'  # no crs in the metadata: lon, lat
  np.testing.assert_array_equal(frame.geometry.x, table['lon'])
  np.testing.assert_array_equal(frame.geometry.y, table['lat'])
  np.testing.assert_array_equal(frame['class_index'], table['class_index'])
  # Each pixel's cell: row, col of the raster and the cell's centre in EPSG:5070.
  cols, rows = _cells(table['lon'], table['lat'], area['transform'])
  np.testing.assert_array_equal(table['row'], rows)
  np.testing.assert_array_equal(table['col'], cols)
  t = area['transform']
  np.testing.assert_array_equal(table['x'], t.c + (cols + 0.5) * t.a)
  np.testing.assert_array_equal(table['y'], t.f + (rows + 0.5) * t.e)

  extension = glob.glob(os.path.join(os.path.dirname(duckdb_extension_spatial.__file__),
                                     'extensions', '*', 'spatial.duckdb_extension'))[0]
  con = duckdb.connect()
  con.execute(f"LOAD '{extension}'")
  rows = con.execute(
      f"SELECT lon, lat, ST_X(geometry), ST_Y(geometry), class FROM read_parquet('{pattern}') "
      'ORDER BY lon, lat').fetchall()
  assert len(rows) == len(table)
  assert [r[2] for r in rows] == [r[0] for r in rows] == table['lon'].tolist()
  assert [r[3] for r in rows] == [r[1] for r in rows] == table['lat'].tolist()
  assert [r[4] for r in rows] == table['class'].tolist()


def pd_concat(frames):
  import pandas as pd  # pylint: disable=g-import-not-at-top
  return pd.concat(frames)


def test_rows_read_equal_predicted_plus_skipped_per_reason(area, model_dir, small_data,
                                                           tmp_path):
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  data = tmp_path / 'data'
  data.mkdir()
  good = area['table'].slice(0, 40)
  rows = area['table'].slice(40, 10).to_pylist()
  rows[0]['bands'] = rows[0]['bands'][:-1]  # byte_length
  rows[1]['lat'] = float('nan')  # non_finite_coordinate
  rows[2]['num_scenes'] = 0  # zero_scenes
  rows[3]['scl_vals'] = bytes([12]) + rows[3]['scl_vals'][1:]  # invalid_scl
  rows[4]['CDL'] = None  # fine: the label is what is predicted
  mixed = pa.concat_tables([good, pa.Table.from_pylist(rows, schema=good.schema)])
  pq.write_table(mixed, data / 'mixed.parquet')
  # Valid rows of another season: the 2021 as-of date is outside their year.
  other = pq.read_table(sorted(glob.glob(os.path.join(small_data, '*.parquet')))[0])
  other = other.filter(pa.compute.equal(other.column('year'), 2020)).slice(0, 7)
  pq.write_table(other, data / 'season-2020.parquet')

  output = tmp_path / 'map'
  summary = map_run.run_map(model_dir, str(data), AS_OF, str(output), stream=io.StringIO())
  assert summary['rows_read'] == 50 + 7
  expected_skipped = {'byte_length': 1, 'non_finite_coordinate': 1, 'zero_scenes': 1,
                      'invalid_scl': 1, 'as_of_outside_year': 7}
  assert {r: n for r, n in summary['skipped'].items() if n} == expected_skipped
  assert summary['predicted'] == 50 - 4
  assert summary['rows_read'] == summary['predicted'] + sum(summary['skipped'].values())
  skipped = pq.read_table(sorted(glob.glob(str(output / 'skipped' / '*.parquet')))).to_pandas()
  assert sorted(zip(skipped['reason'], map(os.path.basename, skipped['source_file']))) == sorted(
      [('byte_length', 'mixed.parquet'), ('non_finite_coordinate', 'mixed.parquet'),
       ('zero_scenes', 'mixed.parquet'), ('invalid_scl', 'mixed.parquet')]
      + [('as_of_outside_year', 'season-2020.parquet')] * 7)
  assert len(_pixels(str(output))) == 46
  # 46 pixels scattered over a 30 x 20 grid still fill more than 1% of it.
  assert summary['raster']['written']


def test_no_raster_off_a_grid_and_the_summary_says_why(model_dir, small_data, tmp_path):
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  data = tmp_path / 'scattered.parquet'
  table = pq.read_table(sorted(glob.glob(os.path.join(small_data, '*.parquet')))[0])
  pq.write_table(table.filter(pa.compute.equal(table.column('year'), 2021)), data)
  stream = io.StringIO()
  summary = map_run.run_map(model_dir, str(data), AS_OF, str(tmp_path / 'map'), stream=stream)
  assert not summary['raster']['written']
  assert summary['raster']['reason']
  assert f"no raster written: {summary['raster']['reason']}" in stream.getvalue()
  assert not (tmp_path / 'map' / 'classes.tif').exists()
  assert not (tmp_path / 'map' / 'quicklook.png').exists()
  assert summary['predicted'] > 0


def test_map_cli_bad_model_is_one_line(tmp_path, area):
  (tmp_path / 'model').mkdir()
  result = subprocess.run(
      [sys.executable, '-m', 'croptfx.cli', 'map', '--model', str(tmp_path / 'model'),
       '--data', area['data'], '--as-of', '2021-07-15', '--output', str(tmp_path / 'out')],
      capture_output=True, text=True)
  assert result.returncode == 2
  assert 'is not a SavedModel directory' in result.stderr
  assert 'Traceback' not in result.stderr


def test_map_and_predict_work_under_paths_with_glob_characters(area, model_dir, expected,
                                                               tmp_path):
  """`data[1]`, `map[1]`, `out[2]/p.parquet`: read and written as named (Beam
  renames through a glob-free link), beside a sibling `data1` it must not read."""
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  data = tmp_path / 'data[1]'
  data.mkdir()
  rows = area['table'].slice(0, 50)
  pq.write_table(rows, data / 'part.parquet')
  (tmp_path / 'data1').mkdir()  # what the pattern `data[1]` would match
  pq.write_table(area['table'].slice(50, 70), tmp_path / 'data1' / 'part.parquet')
  output = tmp_path / 'map[1]'
  summary = map_run.run_map(model_dir, str(data), AS_OF, str(output), stream=io.StringIO())
  assert (summary['rows_read'], summary['predicted']) == (50, 50)
  got = _pixels(str(output))
  assert sorted(zip(got.lon, got.lat)) == sorted(
      zip(rows.column('lon').to_pylist(), rows.column('lat').to_pylist()))
  assert all(int(c) == expected[(x, y)][1] for x, y, c in zip(got.lon, got.lat, got.class_index))
  (tmp_path / 'out[2]').mkdir()
  result = map_run.predict(model_dir, str(data), AS_OF, str(tmp_path / 'out[2]' / 'p.parquet'))
  assert (result['rows_read'], result['predicted']) == (50, 50)
  assert os.listdir(tmp_path / 'out[2]') == ['p.parquet']


def test_every_raster_cell_is_predicts_class_for_its_pixel(mapped, area, model_dir, tmp_path):
  import rasterio  # pylint: disable=g-import-not-at-top
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  output = str(tmp_path / 'predicted.parquet')
  map_run.predict(model_dir, area['data'], AS_OF, output)
  predicted = pq.read_table(output).to_pandas()
  cols, rows = _cells(predicted['lon'], predicted['lat'], area['transform'])
  with rasterio.open(os.path.join(mapped['output'], 'classes.tif')) as ds:
    classes = ds.read(1)
  expected = np.full((HEIGHT, WIDTH), 255, np.uint8)
  expected[rows, cols] = predicted['class_index']
  assert len(set(zip(rows, cols))) == len(predicted)  # one pixel a cell
  np.testing.assert_array_equal(classes, expected)


def test_map_is_scored_against_the_areas_cdl(mapped, area, expected):
  """The confusion matrix against the generated CDL equals one computed here:
  each pixel's CDL name -> class (the bundled mapping; double crops left out)
  against the signature's class."""
  import rasterio  # pylint: disable=g-import-not-at-top
  mapping = features.load_label_mapping()
  table = area['table']
  confusion = np.zeros((features.NUM_CLASSES,) * 2, np.int64)
  excluded = 0
  for lon, lat, name in zip(table.column('lon').to_pylist(), table.column('lat').to_pylist(),
                            table.column('CDL').to_pylist()):
    label, is_excluded, _ = mapping.lookup(name)
    if is_excluded:
      excluded += 1
    else:
      confusion[label, expected[(lon, lat)][1]] += 1
  ref = mapped['summary']['reference']
  assert ref['path'] == area['cdl'] and ref['crs'] == 'EPSG:5070'
  assert ref['confusion_matrix']['cells'] == confusion.tolist()
  assert ref['not_scored'] == {'outside_reference': 0, 'background': 0, 'nodata': 0,
                               'not_a_cdl_code': 0, 'excluded': excluded}
  assert ref['overall_accuracy'] == np.trace(confusion) / confusion.sum()
  for i, name in enumerate(features.CLASS_NAMES):
    assert ref['per_class'][name]['reference_ha'] == pytest.approx(confusion[i].sum() * 0.09,
                                                                   rel=1e-12)
  files = mapped['summary']['files']
  with rasterio.open(files['disagreement_tif']) as ds:
    disagreement = ds.read(1)
  assert (disagreement == 0).sum() == np.trace(confusion)
  assert (disagreement == 1).sum() == confusion.sum() - np.trace(confusion)
  assert (disagreement == 2).sum() == excluded
  html = open(files['map_page'], encoding='utf-8').read()
  assert html.count('<img src="data:image/png;base64,') == 3
  assert f'over {confusion.sum():,} cells against' in mapped['progress']


def test_overlapping_areas_give_no_raster_and_the_evidence(area, model_dir, tmp_path):
  """Two generated areas of one data directory (a 16 x 12 area inside the
  30 x 20 one, both on the CDL grid): their shared cells hold two pixels."""
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  small, _, _ = _generate(tmp_path / 'small', 16, 12, 12)
  data = tmp_path / 'data'
  data.mkdir()
  pq.write_table(pq.read_table(area['data']), data / 'big.parquet')
  pq.write_table(small, data / 'small.parquet')
  big_cells = set(zip(*_cells(pq.read_table(area['data']).column('lon').to_numpy(),
                              pq.read_table(area['data']).column('lat').to_numpy(),
                              area['transform'])))
  small_cells = set(zip(*_cells(small.column('lon').to_numpy(), small.column('lat').to_numpy(),
                                area['transform'])))
  shared = len(big_cells & small_cells)
  assert shared > 100
  stream = io.StringIO()
  summary = map_run.run_map(model_dir, str(data), AS_OF, str(tmp_path / 'map'), stream=stream)
  assert summary['grid']['found'] and summary['grid']['crs'] == 'EPSG:5070'
  raster = summary['raster']
  assert not raster['written'] and raster['duplicate_cells'] == shared
  assert raster['reason'].startswith(f'{shared:,} cells hold more than one pixel '
                                     f'({shared:,} pixels too many; e.g. lon/lat ')
  assert f'no raster written: {raster["reason"]}' in stream.getvalue()
  assert not (tmp_path / 'map' / 'classes.tif').exists()
  assert summary['predicted'] == summary['rows_read']  # the pixels are still mapped


def test_map_cli_grid_and_reference_arguments_are_checked_first(tmp_path, area, model_dir):
  base = [sys.executable, '-m', 'croptfx.cli', 'map', '--model', model_dir, '--data',
          area['data'], '--as-of', '2021-07-15', '--output', str(tmp_path / 'out')]
  (tmp_path / 'text.tif').write_text('not a raster')
  for argv, message in (
      (['--reference', str(tmp_path / 'missing.tif')], 'missing.tif: no such file'),
      (['--reference', str(tmp_path / 'text.tif')], 'not a raster rasterio can open'),
      (['--like', str(tmp_path / 'text.tif')], 'not a raster rasterio can open'),
      (['--grid-crs', 'EPSG:5070', '--like', area['cdl']], 'not allowed with argument'),
      (['--grid-crs', 'nonsense'], "not a CRS pyproj knows")):
    result = subprocess.run(base + argv, capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    lines = [l for l in result.stderr.splitlines() if 'error' in l]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'out').exists()


def test_relative_paths_with_glob_characters_work_in_map_and_predict(area, model_dir,
                                                                     tmp_path):
  data = tmp_path / 'd[1]'
  data.mkdir()
  pq.write_table(area['table'].slice(0, 30), data / 'part.parquet')
  (tmp_path / 'd1').mkdir()  # what the pattern `d[1]` would match
  pq.write_table(area['table'].slice(30, 40), tmp_path / 'd1' / 'part.parquet')
  for command, output in (('map', 'm'), ('predict', 'p.parquet')):
    done = subprocess.run(
        [sys.executable, '-m', 'croptfx.cli', command, '--model', model_dir, '--data', 'd[1]',
         '--as-of', AS_OF.isoformat(), '--output', output],
        capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
  assert json.load(open(tmp_path / 'm' / 'map_summary.json'))['rows_read'] == 30
  assert pq.read_table(tmp_path / 'p.parquet').num_rows == 30


def test_predict_moves_a_previous_calls_files_aside(area, model_dir, tmp_path):
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  data = tmp_path / 'data'
  data.mkdir()
  rows = area['table'].slice(0, 20).to_pylist()
  rows[0]['bands'] = rows[0]['bands'][:-1]  # one row skipped: a skipped file
  pq.write_table(pa.Table.from_pylist(rows, schema=area['table'].schema),
                 data / 'part.parquet')
  output = str(tmp_path / 'p.parquet')
  first = map_run.predict(model_dir, str(data), AS_OF, output)
  assert first['skipped_file'] == str(tmp_path / 'p.skipped.parquet')
  # The next call's data have nothing to skip and nothing to predict.
  pq.write_table(pa.Table.from_pylist(rows[1:], schema=area['table'].schema),
                 data / 'part.parquet')
  second = map_run.predict(model_dir, str(data), AS_OF, output)
  assert second['skipped_file'] is None
  assert sorted(os.listdir(tmp_path)) == ['data', 'p.parquet', 'p.parquet.previous',
                                          'p.skipped.parquet.previous']
  later = datetime.date(AS_OF.year + 1, 7, 15)
  with pytest.raises(Exception, match='nothing to predict'):
    map_run.predict(model_dir, str(data), later, output)
  # A failed call leaves nothing that reads as its result.
  assert sorted(os.listdir(tmp_path)) == ['data', 'p.parquet.previous',
                                          'p.skipped.parquet.previous']


def test_a_map_outside_the_trained_as_of_days_is_warned_about(area, model_dir, tmp_path):
  from croptfx import outputs  # pylint: disable=g-import-not-at-top
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  first, last = outputs.read_model_info(model_dir)['as_of_day_range']
  assert 35 <= first < 120 and 240 < last <= 365
  data = tmp_path / 'data'
  data.mkdir()
  pq.write_table(area['table'].slice(0, 20), data / 'part.parquet')
  stream = io.StringIO()
  new_year = datetime.date(AS_OF.year, 1, 1)
  summary = map_run.run_map(model_dir, str(data), new_year, str(tmp_path / 'm'), stream=stream)
  warning = (f'as of {new_year} (day 1) is outside the as-of days the model was trained for '
             f'({first} to {last}); its classes there are extrapolation')
  assert summary['warnings'] == [warning]
  assert f'warning: {warning}' in stream.getvalue().splitlines()
  assert map_run.run_map(model_dir, str(data), AS_OF, str(tmp_path / 'm2'),
                         stream=io.StringIO())['warnings'] == []


def test_a_beam_map_prints_progress_only(area, model_dir, tmp_path):
  """Worker processes' interpreter-shutdown noise goes to the map's log."""
  data = tmp_path / 'data'
  data.mkdir()
  pq.write_table(area['table'].slice(0, 40), data / 'part.parquet')
  done = subprocess.run(
      [sys.executable, '-m', 'croptfx.cli', 'map', '--model', model_dir, '--data', str(data),
       '--as-of', AS_OF.isoformat(), '--output', str(tmp_path / 'm'), '--runner', 'beam'],
      capture_output=True, text=True)
  assert done.returncode == 0, done.stderr
  assert done.stderr == ''
  lines = done.stdout.splitlines()
  assert lines[0].startswith('[1/5] checking the model and the input files ... done in ')
  assert lines[1].startswith("[2/5] finding the pixels' grid ... done in ")
  assert lines[5] == 'croptfx map: 40 of 40 rows mapped as of 2021-07-15'


def _files_under(directory):
  return sorted(os.path.relpath(os.path.join(d, f), directory)
                for d, _, files in os.walk(directory) for f in files)


def test_a_second_map_or_predict_writer_is_refused_in_one_line(area, model_dir, tmp_path):
  """One writer per output (issue 26): the held lock names its holder, and
  the refused command changes nothing."""
  from croptfx import errors  # pylint: disable=g-import-not-at-top
  from croptfx.jobs import lock  # pylint: disable=g-import-not-at-top
  from tests import test_reliability_helpers as helpers  # pylint: disable=g-import-not-at-top
  output = tmp_path / 'm'
  held = lock.OutputLock(str(output / lock.LOCK_FILE), 'map', f'--output {output}').acquire()
  predicted = tmp_path / 'p.parquet'
  held_predict = lock.OutputLock(str(tmp_path / '.p.parquet.croptfx.lock'), 'predict',
                                 f'--output {predicted}').acquire()
  try:
    mapped = helpers.run_cli('map', '--model', model_dir, '--data', area['data'],
                             '--as-of', AS_OF.isoformat(), '--output', str(output))
    predict = helpers.run_cli('predict', '--model', model_dir, '--data', area['data'],
                              '--as-of', AS_OF.isoformat(), '--output', str(predicted))
  finally:
    held.release()
    held_predict.release()
  for (status, stdout, lines), command, what in ((mapped, 'map', output),
                                                 (predict, 'predict', predicted)):
    assert (status, stdout, len(lines)) == (errors.BUSY, '', 1), lines
    assert lines[0].startswith(f'croptfx {command}: error: --output {what} is being written '
                               f'by `croptfx {command}` (pid {os.getpid()} on ')
  assert _files_under(output) == [] and sorted(os.listdir(tmp_path)) == ['m']


def test_a_map_on_a_full_disk_is_one_line_and_leaves_no_result(area, model_dir, tmp_path):
  """A full file system mid-job (issue 26): exit 4 naming it, and no raster,
  shard or summary that would read as the map's."""
  from croptfx import errors  # pylint: disable=g-import-not-at-top
  from tests import test_reliability_helpers as helpers  # pylint: disable=g-import-not-at-top
  disk = helpers.small_file_system(tmp_path / 'disk', '32k')  # the pixels take about 50 kB
  try:
    status, stdout, lines = helpers.run_cli(
        'map', '--model', model_dir, '--data', area['data'], '--as-of', AS_OF.isoformat(),
        '--output', str(disk / 'm'), '--reference', area['cdl'])
    assert status == errors.NO_SPACE
    assert stdout.splitlines()[-1] == (  # the progress line of the step that failed
        f'[3/5] map job: 588 rows in 3 files as of {AS_OF}, local runner (one in-memory '
        'worker) ... failed')
    assert lines == [f'croptfx map: error: no space left on device: the file system at {disk} '
                     f'(holding {disk / "m"}) is full; free space or write elsewhere']
    assert [f for f in _files_under(disk / 'm') if not f.startswith('logs/')] == []
  finally:
    subprocess.run(['umount', str(disk)], check=False)
