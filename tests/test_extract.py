"""croptfx extract on imagery from `croptfx generate --imagery`, checked
against the files themselves.

A small area (24 x 18 CDL cells on the zone 15/16 boundary, two tiles, a
scene every 30 days, 2021 and 2022) is generated once. The expected rows
are computed here without the extraction's code: the label cells with
rasterio (`ds.xy`), the pixel centres moved into each scene's UTM zone with
pyproj, the COG pixel containing each centre with `rasterio.transform.rowcol`,
the harmonization by hand from the item's baseline, the CDL names from
the code list file.
"""

import collections
import copy
import csv
import datetime
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import rasterio
from pyproj import Transformer

from croptfx import codec
from croptfx import errors
from croptfx import features
from croptfx import layouts
from croptfx import sentinel2
from croptfx.extract import aoi as aoi_lib
from croptfx.extract import chunks as chunks_lib
from croptfx.extract import run as run_lib
from croptfx.generate import imagery as imagery_lib
from croptfx.jobs import runners
from croptfx.pipeline import configs

AREA = (24, 18)
YEARS = (2021, 2022)
REVISIT_DAYS = 30
SEED = 0
PUBLISHERS = ('earth-search', 'planetary-computer')
CODES_CSV = os.path.join(os.path.dirname(features.__file__), 'data', 'cdl_codes.csv')


@pytest.fixture(scope='module')
def imagery(tmp_path_factory):
  root = tmp_path_factory.mktemp('imagery')
  summary = imagery_lib.write_imagery(str(root), area=AREA, years=YEARS, seed=SEED,
                                      revisit_days=REVISIT_DAYS)
  return {'root': str(root), 'summary': summary}


def _labels(imagery):
  return {int(y): p for y, p in imagery['summary']['labels'].items()}


def _extract(imagery, output, publisher='earth-search', items=None, runner='local',
             workers=None, **kwargs):
  kwargs.setdefault('labels', _labels(imagery))
  for key, value in configs.EXTRACT_CONFIG.items():
    kwargs.setdefault(key, value)
  return run_lib.run_extract(items or imagery['summary']['catalogs'][publisher], str(output),
                             runner=runners.check(runner, workers), quiet=True, **kwargs)


@pytest.fixture(scope='module')
def extractions(imagery, tmp_path_factory):
  done = {}
  for publisher in PUBLISHERS:
    output = tmp_path_factory.mktemp(f'extract-{publisher}')
    done[publisher] = {'output': str(output), 'summary': _extract(imagery, output, publisher)}
  return done


def _rows(output):
  """Every row written, keyed by (lon, lat, year)."""
  rows = {}
  for root, _, names in os.walk(output):
    for name in names:
      if name.endswith('.parquet'):
        for row in pq.read_table(os.path.join(root, name)).to_pylist():
          key = (row['lon'], row['lat'], row['year'])
          assert key not in rows, f'two rows of pixel-year {key}'
          rows[key] = row
  return rows


def _code_names():
  with open(CODES_CSV, encoding='utf-8', newline='') as f:
    return {int(r['code']): r['name'] for r in csv.DictReader(f)}


class Truth:
  """What the rows must hold, read from the labels and COGs directly."""

  def __init__(self, items_path, labels, publisher):
    with open(items_path, encoding='utf-8') as f:
      self.items = json.load(f)['features']
    self.labels = labels
    if publisher == 'earth-search':
      self.keys = [b.earth_search for b in sentinel2.BANDS] + ['scl']
    else:
      self.keys = [b.name for b in sentinel2.BANDS] + ['SCL']
    self._arrays = {}
    self._to = {}

  def to(self, crs):
    """x, y of EPSG:5070 -> `crs` (pyproj, one transformer per CRS)."""
    if crs not in self._to:
      self._to[crs] = Transformer.from_crs('EPSG:5070', crs, always_xy=True)
    return self._to[crs].transform

  def _read(self, href):
    if href not in self._arrays:
      with rasterio.open(href) as ds:
        self._arrays[href] = (ds.read(1), ds, ds.crs.to_string())
    return self._arrays[href]

  def cells(self, year):
    """Label cells with a class: (x, y) centres in EPSG:5070, codes, lon, lat."""
    with rasterio.open(self.labels[year]) as ds:
      codes = ds.read(1)
      rows, cols = np.nonzero(codes)
      x, y = ds.xy(rows, cols)  # centres
      crs = ds.crs.to_string()
    lon, lat = Transformer.from_crs(crs, 'EPSG:4326', always_xy=True).transform(x, y)
    return np.array(x), np.array(y), codes[rows, cols], np.array(lon), np.array(lat)

  @staticmethod
  def tile(item):
    props = item['properties']
    if 's2:mgrs_tile' in props:
      return props['s2:mgrs_tile'] + '_0'
    return (f"{props['mgrs:utm_zone']}{props['mgrs:latitude_band']}{props['mgrs:grid_square']}_"
            f"{props['s2:sequence']}")

  def samples(self, year):
    """pixel index -> [(day, tile, bands[12], scl, harmonized)], and nodata counts."""
    x, y, _, _, _ = self.cells(year)
    out = collections.defaultdict(list)
    nodata = 0
    for item in self.items:
      moment = datetime.datetime.fromisoformat(item['properties']['datetime'].replace('Z', '+00:00'))
      day = features.days_since_epoch(moment.astimezone(datetime.timezone.utc).date())
      if (features.EPOCH + datetime.timedelta(days=day)).year != year:
        continue
      baseline = tuple(int(p) for p in item['properties']['s2:processing_baseline'].split('.'))
      offset = 1000 if baseline >= (4, 0) else 0
      values, inside = [], np.ones(len(x), bool)
      for key in self.keys:
        data, ds, crs = self._read(item['assets'][key]['href'])
        ux, uy = self.to(crs)(x, y)
        # rasterio's own rule: the cell containing each point (op=floor).
        rows, cols = rasterio.transform.rowcol(ds.transform, ux, uy)
        rows, cols = np.asarray(rows), np.asarray(cols)
        ok = (rows >= 0) & (rows < data.shape[0]) & (cols >= 0) & (cols < data.shape[1])
        inside &= ok
        values.append(np.where(ok, data[np.clip(rows, 0, data.shape[0] - 1),
                                        np.clip(cols, 0, data.shape[1] - 1)], 0))
      raw = np.stack(values[:12], axis=1).astype(np.int64)
      empty = (raw == 0).all(axis=1)
      nodata += int((inside & empty).sum())
      harmonized = np.maximum(raw - offset, 0)
      for i in np.flatnonzero(inside & ~empty):
        out[i].append((day, self.tile(item), harmonized[i].tolist(), int(values[12][i]),
                       offset > 0))
    for i in out:
      out[i].sort(key=lambda s: (s[0], s[1]))
    return out, nodata


@pytest.mark.parametrize('publisher', PUBLISHERS)
def test_every_sample_is_the_cog_pixel_at_the_centre(imagery, extractions, publisher):
  """Every band and the SCL of every scene, both UTM zones, harmonized 2022
  values, dates, tiles, CDL names, one row per pixel-year."""
  rows = _rows(extractions[publisher]['output'])
  truth = Truth(imagery['summary']['catalogs'][publisher], _labels(imagery), publisher)
  names = _code_names()
  zones = set()
  harmonized = samples = 0
  for year in YEARS:
    _, _, codes, lon, lat = truth.cells(year)
    expected, _ = truth.samples(year)
    assert len([k for k in rows if k[2] == year]) == len(codes) == len(expected)
    for i in range(len(codes)):
      row = rows[(lon[i], lat[i], year)]  # lon/lat exactly the cell centre's
      want = expected[i]
      assert row['num_scenes'] == len(want)
      assert codec.decode_dates(row['img_dates']).tolist() == [s[0] for s in want]
      assert row['tiles'].decode().split(',') == [s[1] for s in want]
      assert codec.decode_bands(row['bands']).tolist() == [s[2] for s in want]
      assert codec.decode_scl(row['scl_vals']).tolist() == [s[3] for s in want]
      assert row['CDL'] == names[int(codes[i])]
      zones.update(t[:2] for t in row['tiles'].decode().split(','))
      harmonized += sum(s[4] for s in want)
      samples += len(want)
  assert zones == {'15', '16'}
  summary = extractions[publisher]['summary']
  assert (summary['samples'], summary['harmonized_samples']) == (samples, harmonized)
  assert 0 < harmonized < samples  # 2022's scenes, not 2021's


def test_both_publishers_give_the_same_rows(extractions):
  earth, planetary = (_rows(extractions[p]['output']) for p in PUBLISHERS)
  assert earth == planetary


def test_the_overlap_has_both_tiles_on_the_same_dates(extractions):
  rows = _rows(extractions['earth-search']['output'])
  both = [r for r in rows.values() if {'15SYT_0', '16SBC_0'} <= set(r['tiles'].decode().split(','))]
  only = [r for r in rows.values() if len(set(r['tiles'].decode().split(','))) == 1]
  assert both and only
  for row in both:
    dates = codec.decode_dates(row['img_dates'])
    tiles = row['tiles'].decode().split(',')
    by_date = collections.defaultdict(set)
    for d, t in zip(dates.tolist(), tiles):
      by_date[d].add(t)
    # One orbit: a date seen by both tiles is there twice, side by side.
    assert any(len(t) == 2 for t in by_date.values())
    assert (np.diff(dates) >= 0).all()


def test_counts_reconcile_and_equal_an_independent_count(imagery, extractions):
  truth = Truth(imagery['summary']['catalogs']['earth-search'], _labels(imagery), 'earth-search')
  summary = extractions['earth-search']['summary']
  pixels = sum(len(truth.cells(y)[2]) for y in YEARS)
  nodata = sum(truth.samples(y)[1] for y in YEARS)
  with rasterio.open(_labels(imagery)[2021]) as ds:
    cells = ds.width * ds.height
  assert summary['reconciled'] is True
  assert all(c['ok'] for c in summary['checks'].values())
  assert summary['pixels'] == summary['rows'] == pixels == summary['cells_in_area']
  assert cells * len(YEARS) == pixels  # every generated cell is a class
  assert summary['rows_by_year'] == {str(y): pixels // len(YEARS) for y in YEARS}
  assert summary['skipped'] == {
      'pixels': {'label_nodata': 0, 'outside_scenes': 0, 'nodata_only': 0, 'unreadable_asset': 0},
      'samples': {'nodata': nodata, 'unreadable_asset': 0}}
  assert nodata > 0  # the swath edge of some east-tile scenes
  scenes = imagery['summary']['scenes']
  assert summary['scenes'] == summary['scenes_sampled'] == len(scenes)
  assert summary['scenes_by_year'] == {
      str(y): sum(s['date'].startswith(str(y)) for s in scenes) for y in YEARS}
  assert summary['unreadable_assets'] == [] and summary['unknown_cdl'] == {}
  with open(layouts.ExtractLayout(extractions['earth-search']['output']).summary_path) as f:
    assert json.load(f) == summary


def _copy_items(imagery, tmp_path, change, publisher='earth-search'):
  with open(imagery['summary']['catalogs'][publisher], encoding='utf-8') as f:
    doc = json.load(f)
  doc = change(copy.deepcopy(doc))
  path = tmp_path / f'{publisher}-changed.json'
  path.write_text(json.dumps(doc))
  return str(path), doc


def _without(rows, item_day, item_tile):
  """The rows with the samples of one scene taken out."""
  out = {}
  for key, row in rows.items():
    dates = codec.decode_dates(row['img_dates']).tolist()
    tiles = row['tiles'].decode().split(',')
    keep = [i for i, (d, t) in enumerate(zip(dates, tiles)) if (d, t) != (item_day, item_tile)]
    bands = codec.decode_bands(row['bands'])[keep]
    out[key] = dict(row, num_scenes=len(keep), img_dates=codec.encode_dates(np.array(dates)[keep]),
                    bands=codec.encode_bands(bands),
                    scl_vals=codec.encode_scl(codec.decode_scl(row['scl_vals'])[keep]),
                    tiles=','.join(tiles[i] for i in keep).encode())
  return out


def _scene_of(item):
  day = features.days_since_epoch(datetime.date.fromisoformat(item['properties']['datetime'][:10]))
  return day, Truth.tile(item)


def test_an_unreadable_asset_is_one_line_and_the_rest_goes_on(imagery, extractions, tmp_path):
  broken = tmp_path / 'B05.tif'
  broken.write_bytes(b'II*\x00 not a whole GeoTIFF')
  target = {}

  def change(doc):
    item = next(i for i in doc['features'] if i['id'].startswith('S2B_16SBC_2022'))
    item['assets']['rededge1']['href'] = str(broken)
    target['item'] = item
    return doc

  items, _ = _copy_items(imagery, tmp_path, change)
  summary = _extract(imagery, tmp_path / 'out', items=items)
  item = target['item']
  assert len(summary['unreadable_assets']) == 1
  assert re.fullmatch(rf"item {item['id']} asset rededge1 \({re.escape(str(broken))}\): "
                      r'RasterioIOError: .+ \(\d+ work items?\)', summary['unreadable_assets'][0])
  clean = _rows(extractions['earth-search']['output'])
  scene = _scene_of(item)
  lost = sum(scene in set(zip(codec.decode_dates(r['img_dates']).tolist(),
                              r['tiles'].decode().split(',')))
             for r in clean.values())
  assert lost > 0
  # Every sample the scene had, and its no-data observations in the footprint.
  assert lost <= summary['skipped']['samples']['unreadable_asset'] <= AREA[0] * AREA[1]
  assert summary['reconciled'] and summary['rows'] == len(clean)
  assert _rows(tmp_path / 'out') == _without(clean, *_scene_of(item))


def test_an_item_without_scl_is_skipped_and_counted(imagery, extractions, tmp_path):
  target = {}

  def change(doc):
    item = next(i for i in doc['features'] if i['id'].startswith('S2A_15SYT_2021'))
    del item['assets']['scl']
    target['item'] = item
    return doc

  items, _ = _copy_items(imagery, tmp_path, change)
  summary = _extract(imagery, tmp_path / 'out', items=items)
  item_id = target['item']['id']
  assert summary['items_skipped']['missing_scl'] == 1
  assert summary['items_skipped_lines'] == [f'item {item_id}: no SCL asset (scene classification)']
  assert summary['scenes'] == extractions['earth-search']['summary']['scenes'] - 1
  clean = _rows(extractions['earth-search']['output'])
  assert _rows(tmp_path / 'out') == _without(clean, *_scene_of(target['item']))


def test_a_chunk_boundary_cutting_a_field_changes_only_bbox(imagery, extractions, tmp_path):
  summary = _extract(imagery, tmp_path / 'out', chunk_cells=8)
  rows = _rows(tmp_path / 'out')
  clean = _rows(extractions['earth-search']['output'])
  assert summary['chunks'] > extractions['earth-search']['summary']['chunks']
  assert {k: dict(r, bbox=0) for k, r in rows.items()} == {
      k: dict(r, bbox=0) for k, r in clean.items()}
  # bbox is the 8-cell chunk of the cell on the national CDL grid, computed
  # here from the centre: column = (x - 15) // 30 // 8, row = (15 - y) // 30 // 8.
  to_albers = Transformer.from_crs('EPSG:4326', 'EPSG:5070', always_xy=True)
  field_chunks = collections.defaultdict(set)
  layout = imagery_lib._Area(*AREA, SEED).layout  # pylint: disable=protected-access
  transform = imagery_lib.area_transform(*AREA)
  for (lon, lat, year), row in rows.items():
    x, y = to_albers.transform(lon, lat)
    col, r = int((x - 15) // 30), int((15 - y) // 30)
    assert row['bbox'] == chunks_lib.chunk_id(r // 8, col // 8)
    area_col, area_row = (int(v) for v in ~transform @ (x, y))
    field_chunks[layout['field_id'][area_row, area_col]].add(row['bbox'])
  assert any(len(ids) > 1 for ids in field_chunks.values())  # a field cut by a chunk edge


def test_label_nodata_and_unknown_codes(imagery, tmp_path):
  labels = dict(_labels(imagery))
  path = str(tmp_path / '2021_30m_cdls.tif')
  shutil.copy(labels[2021], path)
  with rasterio.open(path, 'r+') as ds:
    codes = ds.read(1)
    codes[0, :5] = 0  # background
    codes[1, :3] = 7  # not in the code list
    ds.write(codes, 1)
  labels[2021] = path
  summary = _extract(imagery, tmp_path / 'out', labels=labels, years=[2021])
  assert summary['skipped']['pixels']['label_nodata'] == 5
  assert summary['unknown_cdl'] == {'Unknown CDL code 7': 3}
  assert summary['pixels'] == AREA[0] * AREA[1] - 5 == summary['rows']
  assert summary['cells_in_area'] == AREA[0] * AREA[1]
  names = collections.Counter(r['CDL'] for r in _rows(tmp_path / 'out').values())
  assert names['Unknown CDL code 7'] == 3


def test_pixels_outside_every_scene_are_counted(imagery, extractions, tmp_path):
  def west_only(doc):
    doc['features'] = [i for i in doc['features'] if '15SYT' in i['id']]
    return doc

  items, doc = _copy_items(imagery, tmp_path, west_only)
  summary = _extract(imagery, tmp_path / 'out', items=items)
  # Outside: the cells whose centre is outside the west tile's window.
  truth = Truth(items, _labels(imagery), 'earth-search')
  with rasterio.open(doc['features'][0]['assets']['blue']['href']) as ds:
    bounds, crs = ds.bounds, ds.crs.to_string()
  outside = 0
  for year in YEARS:
    x, y, _, _, _ = truth.cells(year)
    ux, uy = Transformer.from_crs('EPSG:5070', crs, always_xy=True).transform(x, y)
    outside += int((~((ux >= bounds.left) & (ux < bounds.right) & (uy > bounds.bottom)
                      & (uy <= bounds.top))).sum())
  assert outside > 0
  assert summary['skipped']['pixels']['outside_scenes'] == outside
  assert summary['rows'] == summary['pixels'] - outside and summary['reconciled']


def test_a_grid_area_gives_the_label_cells_without_cdl(imagery, extractions, tmp_path):
  """EPSG:5070,30 is the CDL's own grid: the same pixels, the same samples."""
  west, south, east, north = imagery['summary']['area']['cell_centres_lonlat_bounds']
  inset = 0.0012  # inside the label raster, which is turned against lon/lat
  box = (west + inset, south + inset, east - inset, north - inset)
  summary = _extract(imagery, tmp_path / 'out', labels=None, grid=('EPSG:5070', 30.0),
                     aoi=aoi_lib.from_bbox(*box), years=[2022])
  rows = _rows(tmp_path / 'out')
  labelled = _rows(extractions['earth-search']['output'])
  want = sorted(k for k in labelled
                if k[2] == 2022 and box[0] <= k[0] <= box[2] and box[1] <= k[1] <= box[3])
  assert sorted(rows) == want and len(want) > 50
  assert summary['rows'] == len(rows) and summary['grid']['corner'] == [15.0, 15.0]
  for key, row in rows.items():
    assert row == {k: v for k, v in labelled[key].items() if k != features.CDL}


def test_a_polygon_area_keeps_the_cells_whose_centre_is_inside(imagery, extractions, tmp_path):
  west, south, east, north = imagery['summary']['area']['cell_centres_lonlat_bounds']
  polygon = [[west, south], [east, south], [west, north], [west, south]]
  path = tmp_path / 'triangle.geojson'
  path.write_text(json.dumps({'type': 'Polygon', 'coordinates': [polygon]}))
  summary = _extract(imagery, tmp_path / 'out', aoi=aoi_lib.parse(str(path)))
  rows = _rows(tmp_path / 'out')
  # Inside the triangle, by hand: below the line from (east, south) to (west, north).
  def inside(lon, lat):
    return (lon - west) / (east - west) + (lat - south) / (north - south) <= 1
  labelled = _rows(extractions['earth-search']['output'])
  want = {k for k in labelled if inside(k[0], k[1])}
  assert set(rows) == want and 0 < len(want) < len(labelled)
  assert summary['cells_in_area'] == len(want) == summary['rows']
  assert all(rows[k] == labelled[k] for k in want)


@pytest.mark.parametrize('runner, workers', [('beam', 2), ('portable', None)])
def test_other_runners_give_the_same_rows(imagery, extractions, tmp_path, runner, workers):
  """DirectRunner processes; a job service with an EXTERNAL worker pool (the
  path Dataflow Runner v2 takes): the workers read the plan file, the COGs."""
  summary = _extract(imagery, tmp_path / 'out', runner=runner, workers=workers)
  assert summary['reconciled'] and (summary['runner'], summary['workers']) == (runner, workers)
  assert _rows(tmp_path / 'out') == _rows(extractions['earth-search']['output'])


def test_extracted_rows_are_read_by_the_example_gen_with_none_quarantined(extractions, tmp_path):
  from croptfx import outputs  # pylint: disable=g-import-not-at-top
  from tests.test_example_gen_component import _run  # pylint: disable=g-import-not-at-top
  out = str(tmp_path / 'examples')
  _run(extractions['earth-search']['output'], out, year_splits={2021: 'train', 2022: 'eval'})
  counts = outputs.read_counts(out)
  summary = extractions['earth-search']['summary']
  assert counts['rows_read'] == summary['rows']
  assert counts['examples'] == {'train': summary['rows_by_year']['2021'],
                                'eval': summary['rows_by_year']['2022']}
  assert sum(counts['quarantined'].values()) == 0
  assert counts['notes']['duplicate_dates'] > 0  # the overlap of the two tiles


def test_a_second_run_replaces_the_first_and_foreign_files_are_refused(imagery, tmp_path):
  out = tmp_path / 'out'
  first = _extract(imagery, out, years=[2021])
  second = _extract(imagery, out, years=[2021])
  assert first['rows'] == second['rows'] == len(_rows(out))
  assert sorted(os.listdir(out)) == ['_logs', 'extract_summary.json', 'year=2021']
  (out / 'notes.txt').write_text('mine')
  with pytest.raises(errors.CroptfxError, match='holds notes.txt, which is not an extraction'):
    _extract(imagery, out, years=[2021])


def _cli(*args):
  return subprocess.run([sys.executable, '-m', 'croptfx.cli', 'extract', *args],
                        capture_output=True, text=True)


def test_arguments_are_checked_before_any_work(imagery, tmp_path):
  items = imagery['summary']['catalogs']['earth-search']
  labels = imagery_lib.labels_argument(imagery['summary'])
  out = str(tmp_path / 'out')
  (tmp_path / 'file').write_text('x')
  for args, message in (
      (['--items', str(tmp_path / 'none.json'), '--labels', labels, '--output', out],
       'none.json: no such file or directory'),
      (['--items', items, '--labels', '2021=' + str(tmp_path / 'x.tif'), '--output', out],
       f'--labels 2021={tmp_path / "x.tif"}: no such file or directory'),
      (['--items', items, '--labels', labels, '--years', '2020', '--output', out],
       '--years 2020: no --labels for 2020'),
      (['--items', items, '--labels', 'x=y', '--output', out], 'takes YEAR=PATH pairs'),
      (['--items', items, '--grid', 'EPSG:5070', '--output', out], 'takes EPSG:N,RES'),
      (['--items', items, '--grid', 'EPSG:5070,30', '--output', out], '--grid needs --aoi'),
      (['--items', items, '--labels', labels, '--grid', 'EPSG:5070,30', '--output', out],
       'not allowed with argument'),
      (['--items', items, '--labels', labels, '--aoi', '1,2,3', '--output', out],
       'neither WEST,SOUTH,EAST,NORTH'),
      (['--items', items, '--labels', labels, '--aoi', '10,40,11,41', '--output', out],
       "holds no cell of the label rasters' grid"),
      (['--items', items, '--labels', labels, '--output', str(tmp_path / 'file')],
       'is an existing file'),
      (['--items', items, '--labels', labels, '--output', out, '--runner', 'local',
        '--workers', '3'], '--workers applies to --runner beam'),
      (['--items', items, '--labels', labels, '--output', out, '--project', 'p'],
       '--project apply to --runner dataflow only'),
      (['--items', items, '--labels', labels, '--output', out, '--runner', 'dataflow',
        '--project', 'p', '--region', 'r'], 'must be a gs:// URI'),
  ):
    run = _cli(*args)
    assert run.returncode == 2, (args, run.stderr)
    lines = [l for l in run.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and message in lines[0], (args, run.stderr)
    assert not os.path.exists(os.path.join(out, 'year=2021'))


def test_a_second_writer_is_refused_in_one_line(imagery, tmp_path):
  from croptfx.jobs import lock  # pylint: disable=g-import-not-at-top
  out = tmp_path / 'out'
  held = lock.OutputLock(str(out / lock.LOCK_FILE), 'extract', f'--output {out}').acquire()
  try:
    run = _cli('--items', imagery['summary']['catalogs']['earth-search'], '--labels',
               imagery_lib.labels_argument(imagery['summary']), '--output', str(out))
  finally:
    held.release()
  assert run.returncode == errors.BUSY and run.stdout == ''
  lines = run.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(
      f'croptfx extract: error: --output {out} is being written by `croptfx extract` (pid '
      f'{os.getpid()} on '), run.stderr
  assert os.listdir(out) == []


def test_the_command_line_extracts_and_says_what_it_did(imagery, tmp_path):
  run = _cli('--items', imagery['summary']['catalogs']['planetary-computer'], '--labels',
             imagery_lib.labels_argument(imagery['summary']), '--years', '2022', '--output',
             str(tmp_path / 'out'))
  assert run.returncode == 0, run.stderr
  rows = AREA[0] * AREA[1]
  assert f'croptfx extract: {rows:,} rows (2022: {rows:,})' in run.stdout
  assert run.stderr.strip() == ''
