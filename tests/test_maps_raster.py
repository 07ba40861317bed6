"""Map rasters: lon/lat grid fitting, the COGs read back with rasterio (EPSG:4326
here; projected grids, tiles and scores in test_maps_tiles.py), the quicklook."""

import os

import affine
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import rasterio

from croptfx import features
from croptfx.maps import grid as grid_lib
from croptfx.maps import quicklook
from croptfx.maps import raster

# Binary fractions keep every coordinate and edge exact in float64: 2^-12
# degrees is ~27 m of longitude, 2^-13 ~14 m of latitude.
DX, DY = 2.0 ** -12, 2.0 ** -13
LON0, LAT0 = -90.5, 33.25  # centre of the south-west cell


def _rgb(color):
  return tuple(int(color[k:k + 2], 16) for k in (1, 3, 5))


def _write_pixels(path, lon, lat, class_index, confidence):
  """A GeoParquet-like shard: the map job's columns the rasters read, and more."""
  n = len(lon)
  table = pa.table({
      'lon': pa.array(lon, pa.float64()), 'lat': pa.array(lat, pa.float64()),
      'year': pa.array([2021] * n, pa.int64()),
      'class': pa.array([features.CLASS_NAMES[int(c)] if c is not None and 0 <= c < 7 else None
                         for c in class_index], pa.string()),
      'class_index': pa.array(class_index, pa.int64()),
      'confidence': pa.array(confidence, pa.float32()),
  })
  pq.write_table(table, path)
  return str(path)


def _rasters(files, output, **kwargs):
  """The rasters of lon/lat shards on the lon/lat grid their points fit."""
  table = pa.concat_tables([pq.read_table(f, columns=['lon', 'lat']) for f in files])
  lon, lat = table.column('lon').to_numpy(), table.column('lat').to_numpy()
  ok = np.isfinite(lon) & np.isfinite(lat)
  grid, reason = grid_lib.detect_grid(lon[ok], lat[ok])
  return raster.write_map_rasters(files, str(output), grid, reason, **kwargs)


def _grid_pixels(width, height, keep=None):
  """lon, lat, col, row of cells of a width x height grid (row 0 = south)."""
  col, row = np.meshgrid(np.arange(width), np.arange(height))
  col, row = col.ravel(), row.ravel()
  if keep is not None:
    col, row = col[keep(col, row)], row[keep(col, row)]
  return LON0 + col * DX, LAT0 + row * DY, col, row


@pytest.fixture(scope='module')
def small_map(tmp_path_factory):
  """A 5 x 4 grid with two holes, in two shards, rows in shuffled order."""
  tmp = tmp_path_factory.mktemp('small')
  lon, lat, col, row = _grid_pixels(5, 4, keep=lambda c, r: ~(((c == 2) & (r == 1)) | ((c == 4) & (r == 3))))
  order = np.random.default_rng(0).permutation(len(lon))
  lon, lat, col, row = lon[order], lat[order], col[order], row[order]
  class_index = (col + 2 * row) % features.NUM_CLASSES
  confidence = np.round(0.4 + 0.03 * np.arange(len(lon)), 2)
  files = [_write_pixels(tmp / 'part-0.parquet', lon[:9], lat[:9], class_index[:9], confidence[:9]),
           _write_pixels(tmp / 'part-1.parquet', lon[9:], lat[9:], class_index[9:], confidence[9:])]
  summary = _rasters(files, tmp / 'map')
  return {'summary': summary, 'dir': tmp / 'map', 'lon': lon, 'lat': lat,
          'class_index': class_index, 'confidence': confidence}


def test_geotiffs_have_crs_transform_and_each_pixel_in_its_cell(small_map):
  s = small_map['summary']
  assert s['written'] and s['reason'] is None
  assert (s['pixels'], s['cells_filled'], s['duplicate_cells'], s['duplicate_pixels']) == (18, 18, 0, 0)
  assert sum(s['skipped'].values()) == 0
  # Pixel centres at the input lon/lat: the raster's edges are half a cell out.
  expected = affine.Affine(DX, 0.0, LON0 - DX / 2, 0.0, -DY, LAT0 + 3 * DY + DY / 2)
  assert s['grid']['width'] == 5 and s['grid']['height'] == 4
  assert s['grid']['transform'] == list(expected)[:6] and s['grid']['crs'] == 'EPSG:4326'
  with rasterio.open(s['classes_tif']) as ds, rasterio.open(s['confidence_tif']) as cs:
    for d in (ds, cs):
      assert d.crs.to_epsg() == 4326
      assert d.transform == expected
      assert (d.width, d.height) == (5, 4)
      assert d.tags()['AREA_OR_POINT'] == 'Area'
    assert ds.dtypes == ('uint8',) and ds.nodata == 255
    assert cs.dtypes == ('float32',) and np.isnan(cs.nodata)
    classes, confidence = ds.read(1), cs.read(1)
    filled = np.zeros(classes.shape, bool)
    for lon, lat, c, p in zip(small_map['lon'], small_map['lat'], small_map['class_index'],
                              small_map['confidence']):
      r, k = ds.index(lon, lat)
      assert classes[r, k] == c
      assert confidence[r, k] == np.float32(p)
      filled[r, k] = True
    assert filled.sum() == 18
    # The holes: column 2 of the second row from the south (raster row 2) and
    # column 4 of the northernmost row (raster row 0).
    assert sorted(zip(*np.nonzero(~filled))) == [(0, 4), (2, 2)]
    assert (classes[~filled] == 255).all()
    assert np.isnan(confidence[~filled]).all()


def test_geotiffs_are_cogs_with_overviews_and_the_class_colours(small_map):
  from rio_cogeo.cogeo import cog_validate  # pylint: disable=g-import-not-at-top
  s = small_map['summary']
  for path in (s['classes_tif'], s['confidence_tif']):
    valid, problems, _ = cog_validate(path, quiet=True)
    assert valid and not problems, problems
    with rasterio.open(path) as ds:
      assert ds.profile['tiled']
      assert ds.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
      assert ds.overviews(1) == [2]
  with rasterio.open(s['classes_tif']) as ds:
    colormap = ds.colormap(1)
    for i, color in enumerate(features.CLASS_COLORS.values()):
      assert colormap[i] == _rgb(color) + (255,)
    assert colormap[255][3] == 0  # nodata transparent
    assert [ds.tags()[f'CLASS_{i}'] for i in range(7)] == list(features.CLASS_NAMES)
  assert sorted(os.listdir(small_map['dir'])) == ['classes.tif', 'confidence.tif']


def test_200x150_overviews_hold_the_mode_and_the_mean(tmp_path):
  # 2 x 2 blocks of one class: the first overview holds each block's class;
  # the confidence overview holds each block's mean.
  lon, lat, col, row = _grid_pixels(200, 150)
  class_index = (col // 2 * 3 + row // 2) % features.NUM_CLASSES
  confidence = (0.3 + 0.7 * np.random.default_rng(1).random(len(lon))).astype(np.float32)
  files = [_write_pixels(tmp_path / 'p.parquet', lon, lat, class_index, confidence)]
  s = _rasters(files, tmp_path / 'map')
  assert s['written'] and s['cells_filled'] == 30000
  with rasterio.open(s['classes_tif']) as ds:
    assert ds.overviews(1) == [2, 4]
    assert ds.block_shapes == [(raster.BLOCK, raster.BLOCK)]
  blocks_south_up = ((np.arange(100)[None, :] * 3 + np.arange(75)[:, None]) % features.NUM_CLASSES)
  with rasterio.open(s['classes_tif'], overview_level=0) as ov:
    assert (ov.width, ov.height) == (100, 75)
    np.testing.assert_array_equal(ov.read(1), blocks_south_up[::-1])
  grid = np.zeros((150, 200), np.float32)
  grid[149 - row, col] = confidence
  means = grid.reshape(75, 2, 100, 2).astype(np.float64).mean(axis=(1, 3))
  with rasterio.open(s['confidence_tif'], overview_level=0) as ov:
    np.testing.assert_allclose(ov.read(1), means, rtol=1e-6)


def test_two_pixels_in_one_cell_give_no_raster_and_name_them(tmp_path):
  lon, lat, col, row = _grid_pixels(3, 2)
  class_index = np.array([1, 2, 3, 4, 5, 6])
  confidence = np.full(6, 0.5)
  # Cell (col 0, row 0) gets two more pixels, cell (col 1, row 0) one more; a
  # little jittered, still on the cell.
  extra_lon = [LON0 + 0.02 * DX, LON0 - 0.03 * DX, LON0 + DX]
  extra_lat = [LAT0, LAT0 + 0.01 * DY, LAT0 - 0.02 * DY]
  files = [_write_pixels(tmp_path / 'a.parquet', lon, lat, class_index, confidence),
           _write_pixels(tmp_path / 'b.parquet', extra_lon, extra_lat, [6, 0, 0], [0.9, 0.1, 0.5])]
  s = _rasters(files, tmp_path / 'map')
  assert not s['written'] and s['classes_tif'] is None
  assert (s['pixels'], s['cells_filled'], s['duplicate_cells'], s['duplicate_pixels']) == (9, 6, 2, 3)
  # The first such cell in row-major order: raster row 1 (the south row), col 0.
  assert s['reason'] == (
      f'2 cells hold more than one pixel (3 pixels too many; e.g. lon/lat {LON0:.6f}, '
      f'{LAT0:.6f} and {extra_lon[0]:.6f}, {LAT0:.6f} share row 1, col 0): overlapping areas, '
      'or the same pixels twice? A map needs one pixel per cell')
  assert sorted(os.listdir(tmp_path / 'map')) == []


def test_no_grid_writes_no_raster_with_the_grid_reason(tmp_path):
  rng = np.random.default_rng(2)
  files = [_write_pixels(tmp_path / 'p.parquet', rng.uniform(-91, -90, 50),
                         rng.uniform(33, 34, 50), np.zeros(50, int), np.full(50, 0.5))]
  s = _rasters(files, tmp_path / 'map')
  assert not s['written'] and s['classes_tif'] is None and s['grid'] is None
  assert s['pixels'] == 50
  assert s['reason'].startswith('longitude')
  assert not (tmp_path / 'map').exists() or os.listdir(tmp_path / 'map') == []


def test_pixels_on_every_other_row_give_no_raster(tmp_path):
  """Two areas offset by half a cell: a grid of half the cell height fits
  their centres, with every other row empty outside their overlap."""
  a_lon, a_lat, _, _ = _grid_pixels(20, 12)  # rows 0..11 of cell height DY
  b_lon, b_lat, _, _ = _grid_pixels(20, 4)
  b_lat = b_lat + DY / 2 + 8 * DY  # half a cell up, overlapping a's top 4 rows
  lon, lat = np.concatenate([a_lon, b_lon]), np.concatenate([a_lat, b_lat])
  files = [_write_pixels(tmp_path / 'p.parquet', lon, lat, np.zeros(len(lon), int),
                         np.full(len(lon), 0.5))]
  s = _rasters(files, tmp_path / 'map')
  assert s['grid']['dy'] == DY / 2 and s['grid']['height'] == 24
  assert not s['written'] and s['duplicate_cells'] == 0
  # 20 columns: a's 12 rows give 11 gaps each before the overlap, the overlap
  # (a 4 rows + b 4 rows interleaved) 7 neighbour pairs each.
  assert s['stripes']['one_line_gaps']['rows'] == 20 * 8
  assert s['stripes']['neighbours']['rows'] == 20 * 7
  assert s['stripes']['two_line_gaps']['rows'] == 0
  assert s['reason'] == (
      'the pixels lie on every other row of the grid (160 pixels have one two rows on and '
      'none between, 140 have one in the next row): the grid fitted is likely half the '
      "pixels' size, e.g. two areas offset by half a cell")


def test_sparse_grid_is_not_written(tmp_path):
  # A diagonal line of 150 pixels: every row and column holds one, but the
  # 150 x 150 grid would be 0.67% filled.
  k = np.arange(150)
  files = [_write_pixels(tmp_path / 'p.parquet', LON0 + k * DX, LAT0 + k * DY, k % 7,
                         np.full(150, 0.5))]
  s = _rasters(files, tmp_path / 'map')
  assert not s['written'] and s['classes_tif'] is None
  assert s['grid']['width'] == s['grid']['height'] == 150
  assert s['reason'] == ('the grid of 150 x 150 cells would be only 0.67% filled by 150 '
                         'pixels (at least 1% needed)')


def test_bad_rows_are_skipped_and_counted(tmp_path):
  lon, lat, _, _ = _grid_pixels(2, 2)
  files = [_write_pixels(tmp_path / 'p.parquet', list(lon) + [None, LON0, float('nan')],
                         list(lat) + [LAT0, LAT0 + DY, LAT0], [0, 1, 2, 3, 4, 9, 5],
                         [0.5] * 7)]
  s = _rasters(files, tmp_path / 'map')
  assert s['written']
  assert s['skipped'] == {'no cell of the grid': 2, 'missing or unknown class_index': 1}
  assert s['pixels'] == 7 == sum(s['skipped'].values()) + s['cells_filled'] + s['duplicate_pixels']
  with rasterio.open(s['classes_tif']) as ds:
    np.testing.assert_array_equal(ds.read(1), [[2, 3], [0, 1]])


def test_pixel_file_without_a_column_is_one_clear_error(tmp_path):
  path = tmp_path / 'p.parquet'
  pq.write_table(pa.table({'lon': [1.0], 'lat': [2.0], 'class_index': [1]}), path)
  from croptfx import errors  # pylint: disable=g-import-not-at-top
  grid = grid_lib.Grid(west=0.5, north=2.5, dx=1.0, dy=1.0, width=1, height=1)
  with pytest.raises(errors.InputDataError, match="p.parquet: column 'confidence': no column"):
    raster.write_map_rasters([str(path)], str(tmp_path / 'map'), grid)


def test_overview_count():
  assert raster.overview_count(200, 150) == 2  # 100 x 75, 50 x 38
  assert raster.overview_count(5, 4) == 1
  assert raster.overview_count(64, 2) == 1
  assert raster.overview_count(20000, 100) == 9  # 20000 / 2^9 = 39


# Grid detection.

def test_detect_exact_grid_with_a_hole_and_a_missing_column():
  lon, lat, col, row = _grid_pixels(
      30, 20, keep=lambda c, r: (c != 7) & ~((c > 10) & (c < 15) & (r > 5) & (r < 9)))
  grid, reason = grid_lib.detect_grid(lon, lat)
  assert reason is None
  assert grid == grid_lib.Grid(west=LON0 - DX / 2, north=LAT0 + 19.5 * DY, dx=DX, dy=DY,
                               width=30, height=20)
  rows, cols = grid.index(lon, lat)
  np.testing.assert_array_equal(cols, col)
  np.testing.assert_array_equal(rows, 19 - row)


def test_detect_jittered_grid_within_tolerance():
  lon, lat, col, row = _grid_pixels(40, 30)
  rng = np.random.default_rng(3)
  jlon = lon + rng.uniform(-0.04, 0.04, len(lon)) * DX
  jlat = lat + rng.uniform(-0.04, 0.04, len(lat)) * DY
  grid, reason = grid_lib.detect_grid(jlon, jlat)
  assert reason is None
  assert (grid.width, grid.height) == (40, 30)
  assert grid.dx == pytest.approx(DX, rel=1e-3) and grid.dy == pytest.approx(DY, rel=1e-3)
  rows, cols = grid.index(jlon, jlat)
  np.testing.assert_array_equal(cols, col)
  np.testing.assert_array_equal(rows, 29 - row)


def test_detect_rejects_a_point_beyond_tolerance():
  lon, lat, _, _ = _grid_pixels(10, 10)
  lon = lon.copy()
  lon[33] += 0.2 * DX
  grid, reason = grid_lib.detect_grid(lon, lat)
  assert grid is None
  assert reason.startswith('1 of 100 points lie more than 0.05 cells from a longitude grid line')


def test_detect_rejects_uneven_steps():
  # Columns alternately 30 and 41 units apart.
  x = np.cumsum(np.tile([30.0, 41.0], 10)) * 1e-5
  lon, lat = np.meshgrid(x, LAT0 + np.arange(3) * DY)
  grid, reason = grid_lib.detect_grid(lon.ravel(), lat.ravel())
  assert grid is None
  assert reason == 'longitude steps vary by 37% (0.0003 to 0.00041 degrees)'


def test_detect_rejects_one_row_one_column_and_scattered_points():
  lon, lat, _, _ = _grid_pixels(10, 1)
  assert grid_lib.detect_grid(lon, lat) == (None, 'fewer than 2 distinct latitudes')
  lon, lat, _, _ = _grid_pixels(1, 10)
  assert grid_lib.detect_grid(lon, lat) == (None, 'fewer than 2 distinct longitudes')
  rng = np.random.default_rng(4)
  grid, reason = grid_lib.detect_grid(rng.uniform(-91, -90, 10000), rng.uniform(33, 34, 10000))
  assert grid is None and reason.startswith('longitude')


# The quicklook.

def test_quicklook_png_shows_the_class_colours_where_the_classes_are(tmp_path):
  # West half corn, east half soybeans (40 x 18 cells), a hole of no data
  # in the middle: columns 16-23, rows 6-11.
  lon, lat, col, row = _grid_pixels(
      40, 18, keep=lambda c, r: ~((c >= 16) & (c < 24) & (r >= 6) & (r < 12)))
  class_index = np.where(col < 20, features.CLASS_NAMES.index('Corn'),
                         features.CLASS_NAMES.index('Soybeans'))
  files = [_write_pixels(tmp_path / 'p.parquet', lon, lat, class_index, np.full(len(lon), 0.8))]
  s = _rasters(files, tmp_path)
  png = quicklook.write_quicklook(s['classes_tif'], str(tmp_path / 'q.png'), 'as of 2021-07-15')
  assert png == str(tmp_path / 'q.png')
  from PIL import Image  # pylint: disable=g-import-not-at-top
  image = np.asarray(Image.open(png).convert('RGB'))
  assert image.shape == (quicklook.HEIGHT_PX, quicklook.WIDTH_PX, 3)
  legend_x = int(0.71 * quicklook.WIDTH_PX)  # the legend starts at 72% of the width

  def where(color):
    ys, xs = np.nonzero((image == _rgb(color)).all(axis=-1))
    return xs, ys

  corn_x, corn_y = where(features.CLASS_COLORS['Corn'])
  soy_x, soy_y = where(features.CLASS_COLORS['Soybeans'])
  on_map_corn, on_map_soy = corn_x < legend_x, soy_x < legend_x
  # Corn fills the west half, soybeans the east half, the same rows and the
  # same area.
  assert on_map_corn.sum() > 5000
  assert corn_x[on_map_corn].max() < soy_x[on_map_soy].min()
  assert abs(on_map_corn.sum() - on_map_soy.sum()) < 0.03 * on_map_corn.sum()
  top, bottom = corn_y[on_map_corn].min(), corn_y[on_map_corn].max()
  assert (top, bottom) == (soy_y[on_map_soy].min(), soy_y[on_map_soy].max())
  # The hole is the white page: around the centre of cell (column 20, row 9).
  left, right = corn_x[on_map_corn].min(), soy_x[on_map_soy].max()
  cx = int(left + (20 + 0.0) / 40 * (right - left + 1))
  cy = int(top + (9 + 0.0) / 18 * (bottom - top + 1))
  assert (image[cy - 5:cy + 5, cx - 10:cx + 10] == 255).all()
  # The legend has a swatch of every class colour.
  for color in features.CLASS_COLORS.values():
    xs, _ = where(color)
    assert (xs > legend_x).sum() > 50, color
