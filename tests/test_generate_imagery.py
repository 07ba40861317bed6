"""`croptfx generate --imagery`: COGs, STAC items and CDL rasters that look
like the real sources, checked with their own tools (rio-cogeo's COG
validator, pystac's STAC validator with the official schemas, rasterio)."""

import collections
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pystac
import pytest
import rasterio
from pystac import validation
from rio_cogeo import cogeo

from croptfx import cdl
from croptfx import sentinel2
from croptfx.generate import imagery

SCHEMAS = pathlib.Path(__file__).parent / 'data' / 'stac-schemas'
AREA = (20, 16)


@pytest.fixture(scope='module')
def made(tmp_path_factory):
  root = tmp_path_factory.mktemp('imagery')
  summary = imagery.write_imagery(str(root), area=AREA, years=(2021, 2022), seed=3,
                                  revisit_days=30)
  items = {}
  for publisher, path in summary['catalogs'].items():
    with open(path, encoding='utf-8') as f:
      items[publisher] = json.load(f)['features']
  return {'root': str(root), 'summary': summary, 'items': items}


def _read(href):
  with rasterio.open(href) as ds:
    return ds.read(1), ds.transform, ds.crs.to_epsg(), ds.res


def test_mgrs_names_of_real_tiles():
  # Earth Search's S2A_39QTA_20230628_0_L2A: proj:transform starts at x 199980.
  tile = imagery.mgrs_tile(39, 48.7, 18.5)
  assert (tile.name, tile.ulx) == ('39QTA', 199980)
  west, east = imagery.mgrs_tile(15, -90.0, 33.5), imagery.mgrs_tile(16, -90.0, 33.5)
  assert (west.name, west.epsg, west.ulx) == ('15SYT', 32615, 699960)
  assert (east.name, east.epsg, east.ulx) == ('16SBC', 32616, 199980)


def test_scenes_are_cogs_on_nested_utm_grids_of_two_zones(made):
  tiles = {t['name']: t for t in made['summary']['tiles']}
  assert set(tiles) == {'15SYT', '16SBC'}
  seen_zones = set()
  files = 0
  for item in made['items']['planetary-computer']:
    tile = imagery.mgrs_tile(int(item['properties']['s2:mgrs_tile'][:2]), -90.0, 33.5)
    for band in sentinel2.BANDS + (sentinel2.Band('SCL', '', '', 20, 0, 0, ''),):
      href = item['assets'][band.name]['href']
      valid, errors_, _ = cogeo.cog_validate(href, quiet=True)
      assert valid, (href, errors_)
      files += 1
      data, transform, epsg, res = _read(href)
      assert res == (band.resolution, band.resolution)
      assert data.dtype == (np.uint8 if band.name == 'SCL' else np.uint16)
      # The window's corner is on the tile's 60 m grid: 10, 20 and 60 m nest.
      assert (transform.c - tile.ulx) % 60 == 0 and (tile.uly - transform.f) % 60 == 0
      assert epsg == tile.epsg
      seen_zones.add(epsg)
      assert item['assets'][band.name]['proj:transform'] == list(transform)[:6]
      assert item['assets'][band.name]['proj:shape'] == list(data.shape)
  assert seen_zones == {32615, 32616}
  assert files == 13 * len(made['items']['planetary-computer'])


def test_items_validate_with_the_official_schemas_offline(made):
  validator = validation.JsonSchemaSTACValidator()
  for path in SCHEMAS.rglob('*.json'):
    relative = path.relative_to(SCHEMAS).as_posix()
    url = ('https://schemas.stacspec.org/' + relative[len('stac-spec/'):]
           if relative.startswith('stac-spec/') else 'https://stac-extensions.github.io/' + relative)
    validator.schema_cache[url] = json.loads(path.read_text())
  validation.set_validator(validator)
  try:
    for publisher, items in made['items'].items():
      for item in items:
        checked = validation.validate_dict(item)
        assert set(item['stac_extensions']) <= set(checked), publisher
      bad = dict(items[0], properties=dict(items[0]['properties'], **{'eo:cloud_cover': 'much'}))
      with pytest.raises(pystac.STACValidationError):
        validation.validate_dict(bad)
    # Read back as an ItemCollection, as pystac-client saves one.
    collection = pystac.ItemCollection.from_file(made['summary']['catalogs']['earth-search'])
    assert len(collection.items) == len(made['summary']['scenes'])
  finally:
    validation.set_validator(validation.JsonSchemaSTACValidator())


def test_publishers_conventions(made):
  earth, planetary = made['items']['earth-search'][0], made['items']['planetary-computer'][0]
  assert set(earth['assets']) == {b.earth_search for b in sentinel2.BANDS} | {'scl'}
  assert set(planetary['assets']) == {b.name for b in sentinel2.BANDS} | {'SCL'}
  assert earth['assets']['nir08']['eo:bands'][0]['name'] == 'nir08'
  assert planetary['assets']['B8A']['eo:bands'][0] == {
      'name': 'B8A', 'common_name': 'nir08', 'description': 'NIR 2 (band 8A)',
      'center_wavelength': 0.865, 'full_width_half_max': 0.033}
  assert 'raster:bands' in earth['assets']['blue'] and 'raster:bands' not in planetary['assets']['B02']
  assert earth['id'].endswith('_0_L2A') and planetary['id'].startswith('S2')
  for es, pc in zip(made['items']['earth-search'], made['items']['planetary-computer']):
    assert es['properties']['datetime'] == pc['properties']['datetime']
    assert es['assets']['red']['href'] == pc['assets']['B04']['href']


def test_2022_carries_the_baseline_offset_and_2021_does_not(made):
  for item in made['items']['earth-search']:
    date = item['properties']['datetime'][:10]
    baseline = item['properties']['s2:processing_baseline']
    offset = item['assets']['blue']['raster:bands'][0]['offset']
    blue, _, _, _ = _read(item['assets']['blue']['href'])
    valid = blue[blue > 0]
    if date >= '2022-01-25':
      assert baseline in ('04.00', '05.09') and offset == -0.1
      assert valid.min() >= 1001  # reflectance >= 1 plus the 1000 offset
    else:
      assert baseline in ('02.14', '03.00') and offset == 0.0
      assert valid.min() >= 1
  baselines = collections.Counter(i['properties']['s2:processing_baseline']
                                  for i in made['items']['planetary-computer'])
  assert baselines['04.00'] > 0 and baselines['02.14'] + baselines['03.00'] > 0


def test_clouds_shadows_and_no_data_match_the_scl(made):
  by_class = collections.defaultdict(list)
  for item in made['items']['earth-search']:
    offset = -round(item['assets']['blue']['raster:bands'][0]['offset'] * 10000)
    blue, _, _, _ = _read(item['assets']['rededge1']['href'])  # 20 m, the SCL's grid
    scl, _, _, _ = _read(item['assets']['scl']['href'])
    for value in np.unique(scl):
      by_class[int(value)].append(blue[scl == value].astype(np.int64) - offset * (value != 0))
  values = {k: np.concatenate(v) for k, v in by_class.items()}
  assert {3, 4, 8, 9}.issubset(values) and 0 in values  # shadow, vegetation, clouds, no data
  assert (values[0] == -0).all()  # no data is 0 in the bands too
  assert np.median(values[9]) > 3000 > np.median(values[4])  # opaque cloud is bright
  assert np.median(values[3]) < np.median(values[4])  # shadows are dark


def test_cdl_rasters_are_the_national_grid_with_real_codes(made):
  names = cdl.code_list()
  truth = imagery._Area(*AREA, 3)  # pylint: disable=protected-access
  for year, path in made['summary']['labels'].items():
    with rasterio.open(path) as ds:
      codes = ds.read(1)
      assert ds.crs.to_epsg() == 5070 and ds.res == (30.0, 30.0)
      assert (ds.transform.c - cdl.GRID_ORIGIN[0]) % 30 == 0
      assert (cdl.GRID_ORIGIN[1] - ds.transform.f) % 30 == 0
      assert codes.shape == (AREA[1], AREA[0]) and ds.nodata == 0
      colormap = ds.colormap(1)
    assert all(names.is_known(c) and c != 0 for c in np.unique(codes))
    assert all(colormap[c] == names.colormap()[c] for c in np.unique(codes))
    want = truth.class_names(int(year))[truth.layout['field_id']]
    assert [[names.name(c) for c in row] for row in codes] == want.tolist()


def test_imagery_is_deterministic(made, tmp_path):
  again = imagery.write_imagery(str(tmp_path / 'again'), area=AREA, years=(2021, 2022), seed=3,
                                revisit_days=30)
  first = made['summary']
  strip = lambda s: json.loads(json.dumps(s).replace(made['root'], 'ROOT').replace(
      str(tmp_path / 'again'), 'ROOT'))
  assert strip(again) == strip(first)
  for a, b in zip(made['items']['earth-search'][:6],
                  json.load(open(again['catalogs']['earth-search']))['features'][:6]):
    for key in ('blue', 'scl', 'coastal'):
      assert np.array_equal(_read(a['assets'][key]['href'])[0], _read(b['assets'][key]['href'])[0])
  other = imagery.write_imagery(str(tmp_path / 'other'), area=AREA, years=(2021,), seed=4,
                                revisit_days=30)
  first_2021 = [s for s in first['scenes'] if s['date'].startswith('2021')]
  assert [s['cloud_cover'] for s in other['scenes']] != [s['cloud_cover'] for s in first_2021]


def test_cli_generate_imagery(tmp_path):
  run = subprocess.run([sys.executable, '-m', 'croptfx.cli', 'generate', str(tmp_path / 'i'),
                        '--imagery', '--aoi', '6x5', '--years', '2022', '--revisit-days', '60'],
                       capture_output=True, text=True)
  assert run.returncode == 0, run.stderr
  assert 'Sentinel-2 L2A scenes (tiles 15SYT, 16SBC; 1 years)' in run.stdout
  assert f"next: croptfx extract --items {tmp_path / 'i' / 'stac' / 'earth-search.json'}" in run.stdout
  assert os.path.exists(tmp_path / 'i' / 'cdl' / '2022_30m_cdls.tif')
  for args, message in ((['--pixels-per-year', '5'], 'not --pixels-per-year'),
                        (['--aoi', '1x5'], 'at least 2x2 cells'),
                        (['--layout', 'hive'], '--layout applies to Part-1 rows')):
    run = subprocess.run([sys.executable, '-m', 'croptfx.cli', 'generate', str(tmp_path / 'e'),
                          '--imagery'] + args, capture_output=True, text=True)
    assert run.returncode == 2 and message in run.stderr and len(run.stderr.splitlines()) == 1
  run = subprocess.run([sys.executable, '-m', 'croptfx.cli', 'generate', str(tmp_path / 'e'),
                        '--pixels-per-year', '5', '--revisit-days', '3'],
                       capture_output=True, text=True)
  assert run.returncode == 2 and '--revisit-days applies to --imagery' in run.stderr
