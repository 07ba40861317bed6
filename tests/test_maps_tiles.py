"""Rasters on a projected grid, written tile by tile (`maps.raster`): read back
with rasterio against a raster built here in one shot with NumPy, the same
for any tile size, valid COGs; and the scores against a reference
(`maps.reference`, `maps.scores`) against an independent confusion matrix."""

import json
import os

import affine
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import pytest
import rasterio

from croptfx import cdl
from croptfx import features
from croptfx.maps import grid as grid_lib
from croptfx.maps import raster

# A window of the CDL grid (EPSG:5070, 30 m, centres on multiples of 30 m).
WEST, NORTH = -2356095.0 + 30 * 95000, 3172605.0 - 30 * 67000
WIDTH, HEIGHT = 600, 430
GRID = grid_lib.Grid(west=WEST, north=NORTH, dx=30.0, dy=30.0, width=WIDTH, height=HEIGHT,
                     crs='EPSG:5070')
K = features.NUM_CLASSES


def _pixels(keep=None, seed=0):
  """Rows, cols, classes (fields of one class), confidences of the grid's
  cells, in random order; `keep(rows, cols)` picks the cells with a pixel."""
  rows, cols = np.meshgrid(np.arange(HEIGHT), np.arange(WIDTH), indexing='ij')
  rows, cols = rows.ravel(), cols.ravel()
  if keep is not None:
    mask = keep(rows, cols)
    rows, cols = rows[mask], cols[mask]
  classes = (rows // 17 * 5 + cols // 23 * 3) % K
  rng = np.random.default_rng(seed)
  confidence = rng.random(len(rows)).astype(np.float32)
  order = rng.permutation(len(rows))
  return rows[order], cols[order], classes[order], confidence[order]


def _shards(directory, rows, cols, classes, confidence, parts=3):
  """The job's shards: the columns the raster step reads, in `parts` files."""
  os.makedirs(directory, exist_ok=True)
  files = []
  for i, part in enumerate(np.array_split(np.arange(len(rows)), parts)):
    path = os.path.join(directory, f'pixels-{i}.parquet')
    pq.write_table(pa.table({'class_index': classes[part], 'confidence': confidence[part],
                             'row': rows[part], 'col': cols[part]}), path)
    files.append(path)
  return files


def _one_shot(rows, cols, values, nodata, dtype):
  out = np.full((HEIGHT, WIDTH), nodata, dtype)
  out[rows, cols] = values
  return out


# A hole: no pixels in a rectangle, nodata there.
def _hole(r, c):
  return ~((r >= 100) & (r < 140) & (c >= 300) & (c < 380))


@pytest.fixture(scope='module')
def tiled(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('tiled')
  pixels = _pixels(_hole)
  files = _shards(str(tmp / 'pixels'), *pixels)
  out = {}
  for tile in (256, 512, raster.TILE):
    out[tile] = raster.write_map_rasters(files, str(tmp / f'map-{tile}'), GRID, tile=tile)
  return {'pixels': pixels, 'summaries': out, 'tmp': tmp, 'files': files}


def test_every_cell_holds_its_pixel_in_the_grids_crs(tiled):
  rows, cols, classes, confidence = tiled['pixels']
  s = tiled['summaries'][256]
  assert s['written'] and s['reason'] is None
  assert (s['pixels'], s['cells_filled'], s['duplicate_cells']) == (len(rows), len(rows), 0)
  assert s['tiles'] == {'size': 256, 'count': 3 * 2, 'across': 3, 'down': 2}
  with rasterio.open(s['classes_tif']) as ds, rasterio.open(s['confidence_tif']) as cs:
    for d in (ds, cs):
      assert d.crs.to_epsg() == 5070
      assert d.transform == affine.Affine(30.0, 0.0, WEST, 0.0, -30.0, NORTH)
      assert (d.width, d.height) == (WIDTH, HEIGHT)
    np.testing.assert_array_equal(ds.read(1), _one_shot(rows, cols, classes, 255, np.uint8))
    np.testing.assert_array_equal(cs.read(1), _one_shot(rows, cols, confidence, np.nan,
                                                        np.float32))
    # The hole is nodata.
    assert (ds.read(1)[100:140, 300:380] == 255).all()


def test_tiled_writing_equals_a_one_shot_raster_for_any_tile_size(tiled):
  rows, cols, classes, _ = tiled['pixels']
  expected = _one_shot(rows, cols, classes, 255, np.uint8)
  reads = {}
  for tile, s in tiled['summaries'].items():
    with rasterio.open(s['classes_tif']) as ds:
      np.testing.assert_array_equal(ds.read(1), expected)
      reads[tile] = [ds.read(1, out_shape=(h, w)) for w, h in
                     [(ds.width // f, ds.height // f) for f in ds.overviews(1)]]
      assert ds.overviews(1) == [2, 4, 8, 16]  # 600 / 16 < 64
  # The overviews too: GDAL builds them from the same full raster.
  for tile in (512, raster.TILE):
    for a, b in zip(reads[256], reads[tile]):
      np.testing.assert_array_equal(a, b)
  # The first overview is the mode of each 2 x 2 block (fields are 17 x 23).
  with rasterio.open(tiled['summaries'][256]['classes_tif'], overview_level=0) as ov:
    half = ov.read(1)
  assert half.shape == (HEIGHT // 2, WIDTH // 2)
  blocks = expected.reshape(HEIGHT // 2, 2, WIDTH // 2, 2)
  uniform = (blocks == blocks[:, :1, :, :1]).all(axis=(1, 3))
  np.testing.assert_array_equal(half[uniform], blocks[:, 0, :, 0][uniform])


def test_rasters_are_valid_cogs(tiled):
  from rio_cogeo.cogeo import cog_validate  # pylint: disable=g-import-not-at-top
  s = tiled['summaries'][256]
  for path in (s['classes_tif'], s['confidence_tif']):
    valid, problems, _ = cog_validate(path, quiet=True)
    assert valid and not problems, (path, problems)
  with rasterio.open(s['classes_tif']) as ds:
    assert ds.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
    assert ds.block_shapes == [(raster.BLOCK, raster.BLOCK)]
    assert ds.colormap(1)[3][:3] == tuple(int(features.CLASS_COLORS['Corn'][k:k + 2], 16)
                                          for k in (1, 3, 5))
  # The spill and the tiled intermediates are gone.
  assert sorted(os.listdir(tiled['tmp'] / 'map-256')) == ['classes.tif', 'confidence.tif']


def test_area_in_hectares_from_the_cell_size(tiled):
  rows, cols, classes, _ = tiled['pixels']
  s = tiled['summaries'][256]
  assert s['cell_area_ha'] == 0.09  # 30 m x 30 m
  counts = np.bincount(classes, minlength=K)
  assert s['map_area_ha'] == {name: pytest.approx(k * 0.09, rel=1e-12)
                             for name, k in zip(features.CLASS_NAMES, counts.tolist())}


def test_pixels_scattered_at_random_are_a_map_not_stripes(tmp_path):
  rng = np.random.default_rng(8)
  pixels = _pixels(lambda r, c: rng.random(len(r)) < 0.05)
  s = raster.write_map_rasters(_shards(str(tmp_path / 'p'), *pixels), str(tmp_path / 'm'),
                               GRID, tile=256)
  assert s['written'], s['reason']
  gaps = s['stripes']['one_line_gaps']['rows']
  assert gaps < s['stripes']['neighbours']['rows'] + s['stripes']['two_line_gaps']['rows']


def test_shards_without_cells_are_placed_from_lon_lat(tmp_path, tiled):
  rows, cols, classes, confidence = tiled['pixels']
  x, y = GRID.centres(rows, cols)
  lon, lat = pyproj.Transformer.from_crs('EPSG:5070', 'EPSG:4326', always_xy=True).transform(x, y)
  path = str(tmp_path / 'lonlat.parquet')
  pq.write_table(pa.table({'lon': np.round(lon, 6), 'lat': np.round(lat, 6),
                           'class_index': classes, 'confidence': confidence}), path)
  s = raster.write_map_rasters([path], str(tmp_path / 'm'), GRID, tile=512)
  with rasterio.open(s['classes_tif']) as a, rasterio.open(tiled['summaries'][512]['classes_tif']) as b:
    np.testing.assert_array_equal(a.read(1), b.read(1))


# Scores against a reference.

CODES = cdl.code_list()
# Codes by what they test: classes of the mapping, background, a double crop
# (excluded), a code the official list does not hold, the reference's nodata.
CORN, SOY, COTTON, RICE, HAY, FOREST = (CODES.code(n) for n in (
    'Corn', 'Soybeans', 'Cotton', 'Rice', 'Other Hay/Non Alfalfa', 'Deciduous Forest'))
DOUBLE = CODES.code('Dbl Crop WinWht/Soybeans')
UNLISTED = 100  # not in the official list
REF_NODATA = 255


def _reference_codes(height, width, seed):
  palette = np.array([CORN, SOY, COTTON, RICE, HAY, FOREST, 0, DOUBLE, UNLISTED, REF_NODATA],
                     np.uint8)
  p = np.array([0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.06, 0.06, 0.04, 0.04])
  return np.random.default_rng(seed).choice(palette, size=(height, width), p=p)


def _independent_scores(map_classes, ref_codes):
  """Confusion, exclusions and unlisted counts by a plain NumPy pass."""
  mapping = features.load_label_mapping()
  confusion = np.zeros((K, K), np.int64)
  reasons = {'outside_reference': 0, 'background': 0, 'nodata': 0, 'not_a_cdl_code': 0,
             'excluded': 0}
  unknown = 0
  mapped = map_classes != 255
  for m, code in zip(map_classes[mapped], ref_codes[mapped]):
    if code < 0:
      reasons['outside_reference'] += 1
    elif code == 0:
      reasons['background'] += 1
    elif code == REF_NODATA:
      reasons['nodata'] += 1
    else:
      name = CODES.names.get(int(code), f'Unknown CDL code {code}')
      label, excluded, _ = mapping.lookup(name)
      if excluded:
        reasons['excluded'] += 1
        continue
      unknown += int(code) not in CODES.names
      np.add.at(confusion, (label, m), 1)
  return confusion, reasons, unknown


@pytest.fixture(scope='module')
def scored(tmp_path_factory, tiled):
  """The tiled map scored against a reference on the same grid, larger to the
  east and shorter to the south (cells outside it)."""
  tmp = tmp_path_factory.mktemp('scored')
  ref_h, ref_w = HEIGHT - 30, WIDTH + 40
  codes = _reference_codes(ref_h, ref_w, 3)
  path = str(tmp / 'cdl.tif')
  with rasterio.open(path, 'w', driver='GTiff', width=ref_w, height=ref_h, count=1,
                     dtype='uint8', crs='EPSG:5070', transform=GRID.transform,
                     nodata=REF_NODATA) as ds:
    ds.write(codes, 1)
  s = raster.write_map_rasters(tiled['files'], str(tmp / 'map'), GRID, reference=path, tile=256)
  on_grid = np.full((HEIGHT, WIDTH), -1, np.int64)  # -1: outside the reference
  on_grid[:ref_h] = codes[:, :WIDTH]
  return {'summary': s, 'codes': on_grid, 'path': path}


def test_scores_equal_an_independent_confusion_matrix(scored, tiled):
  rows, cols, classes, _ = tiled['pixels']
  map_classes = _one_shot(rows, cols, classes, 255, np.uint8)
  confusion, reasons, unknown = _independent_scores(map_classes, scored['codes'])
  ref = scored['summary']['reference']
  assert ref['confusion_matrix']['cells'] == confusion.tolist()
  assert (ref['confusion_matrix']['rows'], ref['confusion_matrix']['columns']) == (
      'reference', 'map')
  assert ref['not_scored'] == reasons and reasons['outside_reference'] > 0
  assert ref['unknown_code_cells'] == unknown > 0
  assert ref['cells_compared'] == confusion.sum()
  assert ref['overall_accuracy'] == np.trace(confusion) / confusion.sum()
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  truth = np.repeat(np.arange(K), confusion.sum(axis=1))
  predicted = np.concatenate([np.repeat(np.arange(K), row) for row in confusion])
  precision, recall, f1, _ = metrics.precision_recall_fscore_support(
      truth, predicted, labels=np.arange(K), zero_division=np.nan)
  for i, name in enumerate(features.CLASS_NAMES):
    c = ref['per_class'][name]
    for key, value in (('producers_accuracy', recall[i]), ('users_accuracy', precision[i]),
                       ('f1', f1[i])):
      if np.isnan(value):
        assert c[key] is None, (name, key)
      else:
        assert c[key] == pytest.approx(value, rel=1e-12), (name, key)
    # Areas: cells times 0.09 ha, over the cells compared.
    assert c['reference_ha'] == pytest.approx(confusion[i].sum() * 0.09, rel=1e-12)
    assert c['map_ha'] == pytest.approx(confusion[:, i].sum() * 0.09, rel=1e-12)
  present = [f for f in f1 if not np.isnan(f)]
  assert ref['macro_f1'] == pytest.approx(np.mean(present), rel=1e-12)
  assert ref['resampling'].startswith('nearest')


def test_reference_and_disagreement_rasters(scored, tiled):
  from rio_cogeo.cogeo import cog_validate  # pylint: disable=g-import-not-at-top
  rows, cols, classes, _ = tiled['pixels']
  map_classes = _one_shot(rows, cols, classes, 255, np.uint8)
  mapping = features.load_label_mapping()
  lut = np.array([mapping.lookup(CODES.name(c))[0] for c in range(256)])
  codes = scored['codes']
  scorable = (codes > 0) & (codes != REF_NODATA) & (lut[np.clip(codes, 0, 255)] >= 0)
  ref_class = np.where(scorable, lut[np.clip(codes, 0, 255)], 255)
  s = scored['summary']
  with rasterio.open(s['reference_tif']) as ds:
    np.testing.assert_array_equal(ds.read(1), ref_class)
  expected = np.full(map_classes.shape, 255)
  mapped = map_classes != 255
  expected[mapped] = 2
  both = mapped & scorable
  expected[both] = np.where(ref_class[both] == map_classes[both], 0, 1)
  with rasterio.open(s['disagreement_tif']) as ds:
    np.testing.assert_array_equal(ds.read(1), expected)
    assert ds.crs.to_epsg() == 5070 and ds.nodata == 255
  for path in (s['reference_tif'], s['disagreement_tif']):
    assert cog_validate(path, quiet=True)[0]


def test_a_reference_in_another_crs_is_read_at_each_cells_centre(tmp_path, tiled):
  """A 10 m UTM reference: each map cell takes the reference cell holding its
  centre, found here with pyproj and the reference's transform."""
  to_utm = pyproj.Transformer.from_crs('EPSG:5070', 'EPSG:32615', always_xy=True)
  r, c = np.meshgrid(np.arange(HEIGHT), np.arange(WIDTH), indexing='ij')
  x, y = (np.asarray(v) for v in to_utm.transform(*GRID.centres(r.ravel(), c.ravel())))
  west, north = np.floor(x.min() / 10) * 10 - 100, np.ceil(y.max() / 10) * 10 + 100
  width, height = int((x.max() - west) / 10) + 20, int((north - y.min()) / 10) + 20
  t = affine.Affine(10.0, 0.0, west, 0.0, -10.0, north)
  codes = _reference_codes(height, width, 9)
  path = str(tmp_path / 'utm.tif')
  with rasterio.open(path, 'w', driver='GTiff', width=width, height=height, count=1,
                     dtype='uint8', crs='EPSG:32615', transform=t, nodata=REF_NODATA) as ds:
    ds.write(codes, 1)
  s = raster.write_map_rasters(tiled['files'], str(tmp_path / 'map'), GRID, reference=path,
                               tile=512)
  ref_rows = np.floor((north - y) / 10).astype(int)
  ref_cols = np.floor((x - west) / 10).astype(int)
  on_grid = codes[ref_rows, ref_cols].reshape(HEIGHT, WIDTH).astype(np.int64)
  rows, cols, classes, _ = tiled['pixels']
  confusion, reasons, unknown = _independent_scores(
      _one_shot(rows, cols, classes, 255, np.uint8), on_grid)
  assert s['reference']['confusion_matrix']['cells'] == confusion.tolist()
  assert s['reference']['not_scored'] == reasons and s['reference']['unknown_code_cells'] == unknown
  assert s['reference']['crs'] == 'EPSG:32615'


def test_geodesic_cell_areas_on_a_lonlat_grid():
  # The area of a cell between latitudes p1, p2 and dlon radians of longitude
  # on the WGS84 ellipsoid: b^2 dlon / 2 [f(p2) - f(p1)] (authalic formula).
  a, inv_f = 6378137.0, 298.257223563
  b = a * (1 - 1 / inv_f)
  e = np.sqrt(1 - (b / a) ** 2)

  def f(p):
    s = np.sin(np.radians(p))
    return s / (1 - e * e * s * s) + np.log((1 + e * s) / (1 - e * s)) / (2 * e)

  grid = grid_lib.Grid(west=-90.5, north=33.5, dx=0.001, dy=0.0005, width=10, height=4)
  areas = raster.row_areas_ha(grid, 1, 3)
  tops = 33.5 - np.arange(1, 4) * 0.0005
  expected = b * b * np.radians(0.001) / 2 * (f(tops) - f(tops - 0.0005)) / 1e4
  np.testing.assert_allclose(areas, expected, rtol=1e-9)
  assert raster.cell_area_ha(grid) is None
  assert raster.cell_area_ha(GRID) == 0.09


def test_map_page_is_self_contained(tmp_path, scored):
  from croptfx.maps import page  # pylint: disable=g-import-not-at-top
  s = scored['summary']
  summary = {'as_of': '2021-07-15', 'model': str(tmp_path / 'run' / 'serving_model' / '7'),
             'data': 'gs://bucket/area',
             'grid': {'crs': 'EPSG:5070', 'cell_size': [30.0, 30.0], 'units': 'metre',
                      'width': WIDTH, 'height': HEIGHT, 'how': 'detected'},
             'raster': s, 'pixels_per_class': {}}
  os.makedirs(tmp_path / 'map')
  path = page.write_page(str(tmp_path / 'map' / 'map.html'), summary, s['classes_tif'],
                         s['reference_tif'], s['disagreement_tif'],
                         relative_to=str(tmp_path / 'map'))
  html = open(path, encoding='utf-8').read()
  # Local paths as seen from the page; a URI as it is.
  assert ('model ../run/serving_model/7; data gs://bucket/area '
          '(paths relative to this page)') in html
  assert os.listdir(tmp_path / 'map') == ['map.html']
  assert html.count('<img src="data:image/png;base64,') == 3
  assert '<script' not in html and 'http://' not in html and 'https://' not in html
  assert 'src="http' not in html and '<link rel="stylesheet"' not in html
  ref = s['reference']
  assert f'{100 * ref["overall_accuracy"]:.1f}%' in html
  for name in features.CLASS_NAMES:
    assert f'<th>{name}</th>' in html
  assert f'{ref["confusion_matrix"]["cells"][3][3]:,}' in html
  assert json.loads(json.dumps(ref)) == ref  # the scores are plain JSON
