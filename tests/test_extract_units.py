"""croptfx extract's pieces on hand-made inputs: band names, asset choice,
the harmonization rule, tiles and dates of items, the ITEMS forms, the area,
chunk ids, the nearest-cell rule and the packing of a block.

Expected values are written out by hand (or computed with NumPy / the
project's codec row by row), not with the functions under test.
"""

import json
import os

import affine
import numpy as np
import pytest
import rasterio

from croptfx import codec
from croptfx import errors
from croptfx import features
from croptfx import sentinel2
from croptfx.extract import aoi as aoi_lib
from croptfx.extract import chunks as chunks_lib
from croptfx.extract import items as items_lib
from croptfx.extract import pack as pack_lib
from croptfx.extract import sample as sample_lib


@pytest.mark.parametrize('name, band', [
    ('B02', 'B02'), ('b2', 'B02'), ('B8A', 'B8A'), ('b8a', 'B8A'), ('B08', 'B08'), ('B8', 'B08'),
    ('blue', 'B02'), ('nir', 'B08'), ('nir08', 'B8A'), ('rededge1', 'B05'), ('rededge3', 'B07'),
    ('swir16', 'B11'), ('coastal', 'B01'), ('SCL', 'SCL'), ('scl', 'SCL'),
    ('rededge', None), ('B10', None), ('pan', None), ('visual', None)])
def test_band_names_of_both_publishers(name, band):
  assert sentinel2.band_of_name(name) == band


def _band(name, common=None):
  return {'name': name, **({'common_name': common} if common else {})}


def _cog(href, bands=None, gsd=None, **extra):
  asset = {'href': href, 'type': 'image/tiff; application=geotiff; profile=cloud-optimized'}
  if bands is not None:
    asset['eo:bands'] = bands
  if gsd is not None:
    asset['gsd'] = gsd
  asset.update(extra)
  return asset


def _item(assets, **props):
  return {'type': 'Feature', 'stac_version': '1.0.0', 'id': props.pop('id', 'S2B_16SBC_20220615_0_L2A'),
          'geometry': None, 'properties': {'datetime': '2022-06-15T16:48:21Z', **props},
          'links': [], 'assets': assets}


def _planetary_assets(prefix='/data/'):
  assets = {b.name: _cog(f'{prefix}{b.name}.tif', [_band(b.name, b.common_name)], b.resolution)
            for b in sentinel2.BANDS}
  assets['SCL'] = _cog(f'{prefix}SCL.tif', None, 20, title='Scene classification map (SCL)')
  return assets


def test_assets_are_chosen_by_band_name_never_by_key():
  # Keys that lie: the asset keyed 'B04' holds B08 and the other way round.
  assets = _planetary_assets()
  assets['B04'], assets['B08'] = assets['B08'], assets['B04']
  # Distractors of one band: a 60 m resampling, a JPEG2000 copy, a composite.
  assets['blue_60m'] = _cog('/data/B02_60m.tif', [_band('B02', 'blue')], 60)
  assets['blue-jp2'] = {'href': '/data/B02.jp2', 'type': 'image/jp2', 'gsd': 10,
                        'eo:bands': [_band('blue', 'blue')]}
  assets['visual'] = _cog('/data/TCI.tif', [_band('B04'), _band('B03'), _band('B02')], 10)
  scene, reason, _ = items_lib.scene_of(_item(assets, **{'s2:mgrs_tile': '16SBC'}), '/x.json')
  assert reason is None
  hrefs = {b: a.href for b, a in zip(features.BAND_NAMES, scene.bands)}
  assert hrefs['B02'] == '/data/B02.tif'
  assert hrefs['B04'] == '/data/B04.tif' and hrefs['B08'] == '/data/B08.tif'
  assert [a.key for a in scene.bands][3] == 'B08' and [a.key for a in scene.bands][7] == 'B04'
  assert scene.scl.href == '/data/SCL.tif'


def test_earth_search_names_and_stac_1_1_bands():
  assets = {b.earth_search: _cog(f'/es/{b.name}.tif', [_band(b.earth_search, b.common_name)],
                                 b.resolution) for b in sentinel2.BANDS}
  # STAC 1.1: `bands` with `eo:common_name`, raster v2 scale/offset per band.
  assets['rededge2'] = {'href': '/es/B06.tif', 'type': 'image/tiff',
                        'bands': [{'name': 'rededge2', 'eo:common_name': 'rededge',
                                   'raster:scale': 0.0001, 'raster:offset': -0.1}]}
  assets['scl'] = _cog('/es/SCL.tif', [_band('SCL')], 20)
  scene, _, _ = items_lib.scene_of(_item(assets), '/x.json')
  assert [a.href for a in scene.bands] == [f'/es/{b}.tif' for b in features.BAND_NAMES]
  b06 = scene.bands[features.BAND_NAMES.index('B06')]
  assert (b06.gain, b06.bias, b06.rule) == (1.0, -1000.0, items_lib.RULE_RASTER_BANDS)


@pytest.mark.parametrize('asset_extra, baseline, expected', [
    # Earth Search: raster:bands given -> (DN x scale + offset) x 10000.
    ({'raster:bands': [{'scale': 0.0001, 'offset': -0.1, 'nodata': 0}]}, '04.00',
     (1.0, -1000.0, 'raster:bands')),
    ({'raster:bands': [{'scale': 0.0001, 'offset': 0}]}, '02.14', (1.0, 0.0, 'raster:bands')),
    # raster:bands wins over the baseline (a publisher that already harmonized).
    ({'raster:bands': [{'scale': 0.0001, 'offset': 0}]}, '05.09', (1.0, 0.0, 'raster:bands')),
    # Only an offset: the scale is L2A's 1/10000.
    ({'raster:bands': [{'offset': -0.1}]}, None, (1.0, -1000.0, 'raster:bands')),
    # Another scale: values in reflectance x 10000 all the same.
    ({'raster:bands': [{'scale': 0.00005, 'offset': 0}]}, None, (0.5, 0.0, 'raster:bands')),
    # Planetary Computer: no scale/offset -> the baseline decides.
    ({}, '04.00', (1.0, -1000.0, 's2:processing_baseline')),
    ({}, '05.09', (1.0, -1000.0, 's2:processing_baseline')),
    ({}, '03.01', (1.0, 0.0, 'none')),
    ({}, None, (1.0, 0.0, 'none')),
    ({'raster:bands': [{'nodata': 0}]}, '4.0', (1.0, -1000.0, 's2:processing_baseline')),
])
def test_harmonization_rule(asset_extra, baseline, expected):
  assert items_lib.harmonization(asset_extra, baseline) == expected


@pytest.mark.parametrize('raw, asset, expected', [
    ([0, 999, 1000, 1001, 2500, 65535], items_lib.Asset('k', 'h', 1.0, -1000.0),
     [0, 0, 0, 1, 1500, 64535]),
    ([0, 1, 7, 65535], items_lib.Asset('k', 'h', 0.5, 0.0), [0, 0, 4, 32768]),  # rint: halves to even
    ([10, 20], items_lib.Asset('k', 'h', 2.0, 70000.0), [65535, 65535]),
])
def test_harmonized_values_are_rounded_and_clipped(raw, asset, expected):
  values = sample_lib._harmonize(np.array(raw, np.uint16), asset)  # pylint: disable=protected-access
  assert values.dtype == np.uint16 and values.tolist() == expected


@pytest.mark.parametrize('props, item_id, tile', [
    ({'s2:mgrs_tile': '16SBC'}, 'S2B_MSIL2A_20220615T163839_R126_T16SBC_20220616T011543', '16SBC_0'),
    ({'mgrs:utm_zone': 7, 'mgrs:latitude_band': 'H', 'mgrs:grid_square': 'FE', 's2:sequence': '1'},
     'S2A_7HFE_20190212_1_L2A', '07HFE_1'),
    ({'grid:code': 'MGRS-15SYT'}, 'x', '15SYT_0'),
    ({}, 'S2A_15SYT_20210102_2_L2A', '15SYT_2'),
    ({}, 'S2A_MSIL2A_20210102T164839_R126_T15SYT_20210103T011543', '15SYT_0'),
])
def test_tile_and_sequence_of_an_item(props, item_id, tile):
  assert items_lib.tile_of({'id': item_id, 'properties': props}) == tile


def test_acquisition_date_is_the_utc_date():
  item = _item(_planetary_assets(), datetime='2022-06-15T21:30:00-05:00')
  scene, _, _ = items_lib.scene_of(item, '/x.json')
  assert scene.day == features.days_since_epoch(__import__('datetime').date(2022, 6, 16))
  assert scene.year == 2022


def test_items_without_scl_or_a_band_are_skipped_with_a_line(tmp_path):
  no_scl = _planetary_assets()
  del no_scl['SCL']
  no_b05 = _planetary_assets()
  del no_b05['B05']
  good = _item(_planetary_assets(), id='good')
  doc = {'type': 'FeatureCollection', 'features': [
      good, _item(no_scl, id='no-scl'), _item(no_b05, id='no-b05'), good]}
  path = tmp_path / 'items.json'
  path.write_text(json.dumps(doc))
  catalog = items_lib.load_catalog(str(path))
  assert [s.item_id for s in catalog.scenes] == ['good']
  assert catalog.items_read == 4
  assert catalog.skipped == {'missing_band': 1, 'missing_scl': 1, 'no_datetime': 0,
                             'duplicate_item': 1, 'duplicate_scene': 0, 'outside_years': 0}
  assert catalog.messages == ['item no-scl: no SCL asset (scene classification)',
                              'item no-b05: no asset of band B05']


def test_the_three_forms_of_items_give_the_same_scenes(tmp_path):
  import pystac  # pylint: disable=g-import-not-at-top
  features_ = []
  for day in (1, 2, 3):
    assets = {k: dict(v, href=f'scenes/{day}/{os.path.basename(v["href"])}')
              for k, v in _planetary_assets().items()}
    features_.append(_item(assets, id=f'scene-{day}', datetime=f'2022-06-0{day}T16:00:00Z',
                           **{'s2:mgrs_tile': '16SBC'}))
  collection_file = tmp_path / 'collection' / 'items.json'
  collection_file.parent.mkdir()
  collection_file.write_text(json.dumps({'type': 'FeatureCollection', 'features': features_}))
  directory = tmp_path / 'directory'
  directory.mkdir()
  for item in features_:
    (directory / f'{item["id"]}.json').write_text(json.dumps(item))
  catalog = pystac.Catalog('c', 'a static catalog')
  for item in features_:
    catalog.add_item(pystac.Item.from_dict(item))
  catalog.normalize_hrefs(str(tmp_path / 'catalog'))
  catalog.save(pystac.CatalogType.SELF_CONTAINED)

  def hrefs(source):
    return {s.item_id: (s.day, s.tile, [a.href for a in s.assets])
            for s in items_lib.load_catalog(source).scenes}

  from_collection = hrefs(str(collection_file))
  assert from_collection['scene-2'][2][0] == str(tmp_path / 'collection' / 'scenes/2/B01.tif')
  assert hrefs(str(directory)) == {
      k: (d, t, [h.replace(str(tmp_path / 'collection'), str(directory)) for h in hs])
      for k, (d, t, hs) in from_collection.items()}
  # The saved catalog keeps relative hrefs, resolved against each item's file.
  from_catalog = hrefs(str(tmp_path / 'catalog' / 'catalog.json'))
  assert set(from_catalog) == set(from_collection)
  for item_id, (day, tile, paths) in from_catalog.items():
    assert (day, tile) == from_collection[item_id][:2]
    number = item_id[-1]
    assert paths == [str(tmp_path / 'catalog' / item_id / 'scenes' / number / os.path.basename(p))
                     for p in from_collection[item_id][2]]


def test_items_errors_are_one_line(tmp_path):
  with pytest.raises(errors.CroptfxError, match='no such file or directory'):
    items_lib.read_item_dicts(str(tmp_path / 'missing.json'))
  (tmp_path / 'bad.json').write_text('{not json')
  with pytest.raises(errors.CroptfxError, match='not a readable JSON file'):
    items_lib.read_item_dicts(str(tmp_path / 'bad.json'))
  (tmp_path / 'other.json').write_text('{"type": "Topology"}')
  with pytest.raises(errors.CroptfxError, match="not a STAC ItemCollection, Item or Catalog"):
    items_lib.read_item_dicts(str(tmp_path / 'other.json'))


def test_signed_urls_lose_their_credentials_in_messages():
  assert items_lib.redact(
      'https://sentinel2l2a01.blob.core.windows.net/a/B04.tif?st=2022&se=2023&sig=SECRET'
  ) == 'https://sentinel2l2a01.blob.core.windows.net/a/B04.tif'
  assert items_lib.redact('https://user:pw@host/x.tif') == 'https://host/x.tif'
  assert items_lib.redact('/data/B04.tif') == '/data/B04.tif'
  assert items_lib.redact('s3://bucket/B04.tif') == 's3://bucket/B04.tif'


def test_aoi_forms(tmp_path):
  box = aoi_lib.parse('-90.1,33.4,-90.0,33.5')
  assert box.bounds == (-90.1, 33.4, -90.0, 33.5) and box.wkb is None
  # Edges belong to the box.
  assert box.contains([-90.1, -90.05, -89.99], [33.4, 33.45, 33.45]).tolist() == [True, True, False]
  triangle = {'type': 'Feature', 'properties': {}, 'geometry': {
      'type': 'Polygon', 'coordinates': [[[0, 0], [4, 0], [0, 4], [0, 0]]]}}
  path = tmp_path / 'area.geojson'
  path.write_text(json.dumps({'type': 'FeatureCollection', 'features': [triangle]}))
  area = aoi_lib.parse(str(path))
  assert area.bounds == (0.0, 0.0, 4.0, 4.0)
  # x + y <= 4 inside, by hand.
  lon = np.array([1.0, 3.0, 2.0, 0.5, 3.9])
  lat = np.array([1.0, 3.0, 2.0, 3.6, 0.05])
  assert area.contains(lon, lat).tolist() == ((lon + lat) <= 4).tolist()
  for text, message in (('1,2,3', 'neither WEST,SOUTH,EAST,NORTH'),
                        ('10,0,5,1', 'needs WEST < EAST'),
                        (str(tmp_path / 'none.geojson'), 'neither WEST,SOUTH,EAST,NORTH')):
    with pytest.raises(errors.CroptfxError, match=message):
      aoi_lib.parse(text)
  (tmp_path / 'point.geojson').write_text(json.dumps({'type': 'Point', 'coordinates': [0, 0]}))
  with pytest.raises(errors.CroptfxError, match='holds no Polygon'):
    aoi_lib.parse(str(tmp_path / 'point.geojson'))


def test_chunk_ids_are_positions_on_the_grid():
  for row, col in ((0, 0), (-413, 72), (5, -3), (1000, 1000)):
    assert chunks_lib.chunk_position(chunks_lib.chunk_id(row, col)) == (row, col)
    assert chunks_lib.chunk_id(row, col) > 0
  assert len({chunks_lib.chunk_id(r, c) for r in range(-3, 3) for c in range(-3, 3)}) == 36
  # The CDL grid: corners 15 m off the multiples of 30 m.
  grid = chunks_lib.grid_for('EPSG:5070', 30)
  assert (grid.x0, grid.y0) == (15.0, 15.0)
  assert (chunks_lib.grid_for('EPSG:32616', 10).x0, chunks_lib.grid_for('EPSG:32616', 10).y0) == (0, 0)
  x, y = grid.centres(-3, 2, 1, 2)
  assert x.tolist() == [15 + 2.5 * 30, 15 + 3.5 * 30] and y.tolist() == [15 + 2.5 * 30] * 2


def test_label_raster_chunks_cover_every_cell_once(tmp_path):
  # A 10 x 7 raster on the CDL grid, chunks of 4 cells.
  transform = affine.Affine(30, 0, -2356095 + 30 * 1001, 0, -30, 3172605 - 30 * 2002)
  path = str(tmp_path / 'labels.tif')
  with rasterio.open(path, 'w', driver='GTiff', width=10, height=7, count=1, dtype='uint8',
                     crs='EPSG:5070', transform=transform, nodata=0) as dst:
    dst.write(np.ones((7, 10), np.uint8), 1)
  grid, label = chunks_lib.inspect_label(2021, path)
  assert (grid.x0, grid.y0, grid.res) == (15.0, 15.0, 30.0)
  # Raster cell (0, 0) spans x from -2356095 + 30030 = 15 + 30 * col.
  assert label.col_off == (transform.c - 15) / 30 and label.row_off == (15 - transform.f) / 30
  chunks = chunks_lib.plan_chunks(2021, grid, label, None, chunk_cells=4, block_cells=2)
  cells = [(c.row0 + r, c.col0 + k) for c in chunks for r in range(c.height) for k in range(c.width)]
  assert len(cells) == 70 and len(set(cells)) == 70
  assert {(r - label.row_off, k - label.col_off) for r, k in cells} == {
      (r, k) for r in range(7) for k in range(10)}
  for c in chunks:
    assert c.chunk_id == chunks_lib.chunk_id(c.row0 // 4, c.col0 // 4)
    assert c.row0 // 4 == (c.row0 + c.height - 1) // 4 and c.col0 // 4 == (c.col0 + c.width - 1) // 4


def test_nearest_cell_contains_the_centre(tmp_path):
  # A 20 m raster from (1000, 2000): values 10 * row + col.
  path = str(tmp_path / 'band.tif')
  values = (10 * np.arange(5)[:, None] + np.arange(6)[None, :]).astype(np.uint16)
  with rasterio.open(path, 'w', driver='GTiff', width=6, height=5, count=1, dtype='uint16',
                     crs='EPSG:32616', transform=affine.Affine(20, 0, 1000, 0, -20, 2000)) as dst:
    dst.write(values, 1)
  x = np.array([1000.0, 1019.999, 1020.0, 1119.9, 1120.0, 999.9, 1050.0])
  y = np.array([2000.0, 1980.001, 1980.0, 1900.1, 1990.0, 1990.0, 1960.0])
  with rasterio.open(path) as ds:
    got, inside = sample_lib.read_at(ds, x, y)
  # A centre on a cell's west or north edge belongs to that cell.
  assert inside.tolist() == [True, True, True, True, False, False, True]
  assert got[inside].tolist() == [0, 0, 11, 45, 22]


def _label(codes, in_area=None, nodata=None):
  n = len(codes)
  return sample_lib.LabelBlock(np.array(codes, np.uint8),
                               np.ones(n, bool) if in_area is None else np.array(in_area),
                               np.arange(n, dtype=float) - 90.0, np.arange(n, dtype=float) + 33.0,
                               nodata)


def _scene(item_id, tile, day, cells, bands, scl, nodata=(), lost=(), harmonized=False):
  return sample_lib.SceneBlock(item_id, tile, day, harmonized, np.array(cells, np.int32),
                               np.array(bands, np.uint16).reshape(-1, 12),
                               np.array(scl, np.uint8), np.array(nodata, np.int32),
                               np.array(lost, np.int32))


def test_pack_block_sorts_packs_and_counts():
  # Cells: 0 corn, 1 background, 2 unknown code 7, 3 soybeans outside the
  # area, 4 cotton without samples (a nodata observation), 5 rice lost.
  label = _label([1, 0, 7, 5, 2, 3], in_area=[1, 1, 1, 0, 1, 1])
  b = lambda v: [v] * 12
  scenes = [
      _scene('late-16', '16SBC_0', 19200, [0, 2, 3], [b(30), b(31), b(32)], [4, 5, 6],
             nodata=[4], harmonized=True),
      _scene('early-15', '15SYT_0', 19100, [0], [b(10)], [8]),
      _scene('late-15', '15SYT_0', 19200, [0, 2], [b(20), b(21)], [9, 3], lost=[]),
      _scene('lost', '15SYT_0', 19300, [], [], [], lost=[5, 0]),
  ]
  table, counts = pack_lib.pack_block(2022, 77, label, scenes, with_labels=True)
  rows = table.to_pylist()
  assert table.schema == features.file_schema()
  assert [r['lon'] for r in rows] == [-90.0, -88.0]  # cells 0 and 2, in cell order
  first = rows[0]
  assert first['num_scenes'] == 3
  assert first['img_dates'] == codec.encode_dates([19100, 19200, 19200])
  assert first['tiles'] == b'15SYT_0,15SYT_0,16SBC_0'  # by date, then tile
  assert first['bands'] == codec.encode_bands(np.array([b(10), b(20), b(30)]))
  assert first['scl_vals'] == codec.encode_scl([8, 9, 4])
  assert (first['bbox'], first['year'], first['CDL']) == (77, 2022, 'Corn')
  assert rows[1]['CDL'] == 'Unknown CDL code 7'
  assert rows[1]['img_dates'] == codec.encode_dates([19200, 19200])
  assert {k: counts[k] for k in pack_lib.COUNT_KEYS} == {
      'cells_in_area': 5, 'pixels': 4, 'label_nodata': 1, 'rows': 2, 'samples': 5,
      'harmonized_samples': 2, 'nodata_samples': 1, 'unreadable_samples': 2,
      'unreadable_asset': 1, 'nodata_only': 1, 'outside_scenes': 0}
  assert counts['unknown_cdl'] == {'Unknown CDL code 7': 1}
  assert counts['rows_by_year'] == {2022: 2}
  assert counts['scenes_sampled'] == {'late-16', 'early-15', 'late-15'}


def test_pack_block_on_a_grid_has_no_cdl_and_counts_uncovered_pixels():
  label = sample_lib.LabelBlock(None, np.array([True, True, False]), np.zeros(3), np.zeros(3))
  table, counts = pack_lib.pack_block(
      2022, 5, label, [_scene('s', '16SBC_0', 19200, [1, 2], [[1] * 12, [2] * 12], [4, 4])],
      with_labels=False)
  assert features.CDL not in table.schema.names and table.num_rows == 1
  assert (counts['pixels'], counts['outside_scenes'], counts['label_nodata']) == (2, 1, 0)
  none, counts = pack_lib.pack_block(2022, 5, label, [], with_labels=False)
  assert none is None and counts['outside_scenes'] == 2
