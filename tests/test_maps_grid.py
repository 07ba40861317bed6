"""The map's grid, found before the job (`maps.pixel_grid`): EPSG:5070 (CDL),
UTM zones on both sides of 90 W, EPSG:4326, --grid-crs, --like, rounded
coordinates, pixels off the grid, and the pixels' cells in the shards.

Expected grids are built here from first principles: cell centres made in
the grid's CRS and turned into lon/lat with pyproj, as Part-1 rows are."""

import datetime
import json

import affine
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import pytest
import rasterio

from croptfx import errors
from croptfx.maps import grid as grid_lib
from croptfx.maps import pixel_grid
from croptfx.rows import reader

AS_OF = datetime.date(2021, 7, 15)


def _lonlat(crs, x, y, decimals=6):
  lon, lat = pyproj.Transformer.from_crs(crs, 'EPSG:4326', always_xy=True).transform(x, y)
  lon, lat = np.asarray(lon), np.asarray(lat)
  return (np.round(lon, decimals), np.round(lat, decimals)) if decimals else (lon, lat)


def _centres(west, north, cell, width, height):
  """x, y of the cell centres of a north-up grid, row-major from the north-west."""
  cols, rows = np.meshgrid(np.arange(width), np.arange(height))
  return west + (cols.ravel() + 0.5) * cell, north - (rows.ravel() + 0.5) * cell


def _layouts(tmp_path, lon, lat, year=2021, files=2, extra=None):
  """Part-1-like files of lon, lat, year (the columns the grid search reads)."""
  lon, lat = np.asarray(lon), np.asarray(lat)
  years = np.full(len(lon), year)
  if extra is not None:  # rows of another year at other places
    lon, lat = np.concatenate([lon, extra[0]]), np.concatenate([lat, extra[1]])
    years = np.concatenate([years, np.full(len(extra[0]), year - 1)])
  order = np.random.default_rng(0).permutation(len(lon))
  out = []
  for i, part in enumerate(np.array_split(order, files)):
    path = str(tmp_path / f'part-{i}.parquet')
    pq.write_table(pa.table({'lon': lon[part], 'lat': lat[part], 'year': years[part]}), path)
    out.append(reader.FileLayout(path, {'lon': 'lon', 'lat': 'lat', 'year': 'year'}, None,
                                 len(part)))
  return out


def _albers_area(width=40, height=30):
  """A CDL window: 30 m cells, centres on multiples of 30 m (EPSG:5070)."""
  west, north = -2356095.0 + 30 * 95000, 3172605.0 - 30 * 67000
  return west, north, _centres(west, north, 30.0, width, height)


def test_cdl_cells_rounded_to_6_decimals_give_the_exact_epsg5070_grid(tmp_path):
  west, north, (x, y) = _albers_area()
  lon, lat = _lonlat('EPSG:5070', x, y)
  choice = pixel_grid.find_grid(_layouts(tmp_path, lon, lat), AS_OF)
  assert choice.reason is None and choice.how == 'detected'
  assert choice.grid == grid_lib.Grid(west=west, north=north, dx=30.0, dy=30.0, width=40,
                                      height=30, crs='EPSG:5070')
  assert choice.pixels == 1200
  # Rounding lon/lat to 6 decimals moves a centre at most ~0.06 m: 0.002 cells.
  assert 0 < choice.max_offset_cells < 0.003
  tried = {t['crs']: t['fits'] for t in choice.tried}
  assert tried == {'EPSG:5070': True, 'EPSG:32615': False, 'EPSG:32614': False,
                   'EPSG:32616': False, 'EPSG:4326': False}
  d = choice.to_dict()
  assert d['transform'] == [30.0, 0.0, west, 0.0, -30.0, north]
  assert (d['crs'], d['cell_size'], d['units']) == ('EPSG:5070', [30.0, 30.0], 'metre')
  # The same cells in lon/lat are not a regular lon/lat grid.
  assert 'longitude steps vary' in [t for t in choice.tried if t['crs'] == 'EPSG:4326'][0]['reason']


@pytest.mark.parametrize('zone, lon0, cell', [
    (15, -89.8, 10.0),  # a zone-15 grid east of 90 W (its tile reaches into zone 16)
    (16, -90.2, 10.0),  # a zone-16 grid west of 90 W
    (16, -90.2, 20.0),
])
def test_utm_grids_on_both_sides_of_90w(tmp_path, zone, lon0, cell):
  crs = f'EPSG:326{zone}'
  x0, y0 = pyproj.Transformer.from_crs('EPSG:4326', crs, always_xy=True).transform(lon0, 33.4)
  # Sentinel-2 grids: edges on multiples of the cell size.
  west, north = np.floor(x0 / 60) * 60, np.floor(y0 / 60) * 60
  x, y = _centres(west, north, cell, 50, 40)
  lon, lat = _lonlat(crs, x, y)
  assert ((lon > -90) if zone == 15 else (lon < -90)).all()  # the other zone's side
  choice = pixel_grid.find_grid(_layouts(tmp_path, lon, lat), AS_OF)
  assert choice.reason is None
  assert choice.grid == grid_lib.Grid(west=west, north=north, dx=cell, dy=cell, width=50,
                                      height=40, crs=crs)
  assert choice.max_offset_cells < 0.01


def test_a_regular_lonlat_grid_is_found_in_epsg4326(tmp_path):
  dx, dy = 2.0 ** -12, 2.0 ** -13  # exact binary fractions
  cols, rows = np.meshgrid(np.arange(30), np.arange(20))
  lon, lat = -90.5 + cols.ravel() * dx, 33.25 + rows.ravel() * dy
  choice = pixel_grid.find_grid(_layouts(tmp_path, lon, lat), AS_OF)
  assert choice.reason is None
  assert choice.grid == grid_lib.Grid(west=-90.5 - dx / 2, north=33.25 + 19.5 * dy, dx=dx,
                                      dy=dy, width=30, height=20, crs='EPSG:4326')
  assert choice.max_offset_cells == 0.0


def test_grid_crs_fits_only_that_crs_and_infers_the_cell_size(tmp_path):
  crs = 'EPSG:32615'
  west, north = 700020.0, 3700020.0
  x, y = _centres(west, north, 20.0, 30, 25)
  layouts = _layouts(tmp_path, *_lonlat(crs, x, y))
  choice = pixel_grid.find_grid(layouts, AS_OF, grid_crs=crs)
  assert choice.how == 'grid_crs' and [t['crs'] for t in choice.tried] == [crs]
  assert choice.grid == grid_lib.Grid(west=west, north=north, dx=20.0, dy=20.0, width=30,
                                      height=25, crs=crs)
  # The same pixels fit no grid of EPSG:5070: the reason names the CRS.
  choice = pixel_grid.find_grid(layouts, AS_OF, grid_crs='EPSG:5070')
  assert choice.grid is None
  assert choice.reason.startswith('the pixels fit no regular grid in EPSG:5070 '
                                  '(NAD83 / Conus Albers): ')
  # ... and the grid they do fit.
  assert choice.reason.endswith('; they fit a 20 m grid in EPSG:32615 (WGS 84 / UTM zone '
                                '15N): use --grid-crs EPSG:32615, or leave it out')


def test_like_a_template_puts_each_pixel_in_the_cell_that_contains_it(tmp_path):
  # A CDL-like template (30 m, EPSG:5070) and pixels anywhere inside its
  # cells (not at their centres): each falls in the cell holding it.
  t = affine.Affine(30.0, 0.0, -2356095.0 + 30 * 95000, 0.0, -30.0, 3172605.0 - 30 * 67000)
  template = str(tmp_path / 'cdl.tif')
  with rasterio.open(template, 'w', driver='GTiff', width=100, height=80, count=1,
                     dtype='uint8', crs='EPSG:5070', transform=t) as ds:
    ds.write(np.zeros((1, 80, 100), np.uint8))
  rng = np.random.default_rng(5)
  cols, rows = rng.integers(10, 60, 300), rng.integers(20, 50, 300)
  fx, fy = rng.uniform(0.05, 0.95, 300), rng.uniform(0.05, 0.95, 300)
  x, y = t.c + (cols + fx) * 30, t.f - (rows + fy) * 30
  lon, lat = _lonlat('EPSG:5070', x, y, decimals=None)
  choice = pixel_grid.find_grid(_layouts(tmp_path, lon, lat), AS_OF, like=template)
  assert choice.how == 'like' and choice.tolerance_cells is None and choice.like == template
  g = choice.grid
  # The template's CRS, cell size and alignment, cut to the pixels' cells.
  assert (g.crs, g.dx, g.dy) == ('EPSG:5070', 30.0, 30.0)
  assert (g.west, g.north) == (t.c + cols.min() * 30, t.f - rows.min() * 30)
  assert (g.width, g.height) == (cols.max() - cols.min() + 1, rows.max() - rows.min() + 1)
  r, c, cx, cy = g.locate(lon, lat)
  np.testing.assert_array_equal(c, cols - cols.min())
  np.testing.assert_array_equal(r, rows - rows.min())
  np.testing.assert_allclose(cx, t.c + (cols + 0.5) * 30, atol=1e-6)
  np.testing.assert_allclose(cy, t.f - (rows + 0.5) * 30, atol=1e-6)


def test_like_and_grid_crs_errors_are_one_line(tmp_path):
  (tmp_path / 'not.tif').write_text('no raster')
  with pytest.raises(errors.CroptfxError, match=r'--like .*not.tif: not a raster rasterio can open'):
    pixel_grid.template(str(tmp_path / 'not.tif'))
  rotated = str(tmp_path / 'rotated.tif')
  with rasterio.open(rotated, 'w', driver='GTiff', width=2, height=2, count=1, dtype='uint8',
                     crs='EPSG:5070', transform=affine.Affine(30, 5, 0, 5, -30, 0)) as ds:
    ds.write(np.zeros((1, 2, 2), np.uint8))
  with pytest.raises(errors.CroptfxError, match='is not north-up'):
    pixel_grid.template(rotated)
  with pytest.raises(errors.CroptfxError, match='--grid-crs EPSG:99999999: not a CRS pyproj knows'):
    pixel_grid.check_crs('EPSG:99999999')
  assert pixel_grid.check_crs('epsg:5070') == 'EPSG:5070'


def test_pixels_off_every_grid_give_a_reason_naming_the_crss(tmp_path):
  rng = np.random.default_rng(4)
  lon, lat = rng.uniform(-91, -90, 500), rng.uniform(33, 34, 500)
  choice = pixel_grid.find_grid(_layouts(tmp_path, lon, lat), AS_OF)
  assert choice.grid is None
  assert choice.reason.startswith('the pixels fit no regular grid: in EPSG:5070, ')
  assert '; in EPSG:32615, ' in choice.reason and '; in EPSG:4326, longitude' in choice.reason
  assert choice.reason.endswith('(also tried EPSG:32614, EPSG:32616)')


def test_one_pixel_off_the_grid_is_named_with_its_offset(tmp_path):
  west, north, (x, y) = _albers_area(40, 30)
  x = x.copy()
  x[77] += 0.3 * 30  # 0.3 cells east of its centre
  lon, lat = _lonlat('EPSG:5070', x, y)
  grid = grid_lib.Grid(west=west, north=north, dx=30.0, dy=30.0, width=40, height=30,
                       crs='EPSG:5070')
  bounded, reason, pixels, _ = pixel_grid.bound(grid, _layouts(tmp_path, lon, lat), 2021, 0.05)
  assert bounded is None and pixels == 1200
  assert reason == (f'1 of 1,200 pixels lie more than 0.05 cells from a cell centre of the 30 m '
                    f'grid in EPSG:5070 (NAD83 / Conus Albers) (e.g. lon/lat {lon[77]:.6f}, '
                    f'{lat[77]:.6f}: 0.30 cells from its cell centre)')
  # Found through a sample that holds the pixel, the fit itself fails.
  choice = pixel_grid.find_grid(_layouts(tmp_path, lon, lat), AS_OF)
  assert choice.grid is None and 'in EPSG:5070, 1 of 1200 points lie more than 0.05 cells' \
      in choice.reason


def test_a_sample_finds_the_grid_and_all_pixels_bound_it(tmp_path):
  west, north, (x, y) = _albers_area(120, 90)
  lon, lat = _lonlat('EPSG:5070', x, y)
  choice = pixel_grid.find_grid(_layouts(tmp_path, lon, lat, files=3), AS_OF,
                                sample_points=600)  # 6% of the pixels
  assert choice.reason is None and choice.pixels == 10800
  assert (choice.grid.west, choice.grid.north, choice.grid.width, choice.grid.height) == (
      west, north, 120, 90)


def test_only_the_as_of_years_pixels_count(tmp_path):
  west, north, (x, y) = _albers_area(20, 10)
  lon, lat = _lonlat('EPSG:5070', x, y)
  # Last year's rows lie 0.5 cells off this grid: they are not the map's.
  other = _lonlat('EPSG:5070', x + 15.0 + 30 * 40, y)
  choice = pixel_grid.find_grid(_layouts(tmp_path, lon, lat, extra=other), AS_OF)
  assert choice.reason is None and choice.pixels == 200
  assert (choice.grid.width, choice.grid.height) == (20, 10)
  # A Hive year directory stands for a missing year column.
  directory = tmp_path / 'year=2021'
  directory.mkdir()
  path = str(directory / 'p.parquet')
  pq.write_table(pa.table({'lon': lon, 'lat': lat}), path)
  layout = reader.FileLayout(path, {'lon': 'lon', 'lat': 'lat'}, 2021, len(lon))
  assert pixel_grid.find_grid([layout], AS_OF).pixels == 200
  assert pixel_grid.find_grid([layout], datetime.date(2020, 7, 1)).reason == (
      'no pixel of 2020 has a valid lon/lat')


def test_shards_hold_each_pixels_cell_and_the_grid(tmp_path):
  from croptfx.maps import pixels  # pylint: disable=g-import-not-at-top
  west, north, (x, y) = _albers_area(4, 3)
  lon, lat = _lonlat('EPSG:5070', x, y)
  grid = grid_lib.Grid(west=west, north=north, dx=30.0, dy=30.0, width=4, height=3,
                       crs='EPSG:5070')
  probabilities = np.full((12, 7), 1 / 7, np.float32)
  table = pixels.prediction_table(lon, lat, np.full(12, 2021), AS_OF, probabilities,
                                  np.zeros(12, int))
  path = pixels.write_shard(table, str(tmp_path / 'pixels' / 'pixels'), grid)
  shard = pq.read_table(path)
  assert shard.column_names == pixels.SCHEMA.names
  np.testing.assert_array_equal(shard.column('row'), np.repeat(np.arange(3), 4))
  np.testing.assert_array_equal(shard.column('col'), np.tile(np.arange(4), 3))
  np.testing.assert_array_equal(shard.column('x'), x)
  np.testing.assert_array_equal(shard.column('y'), y)
  meta = json.loads(pq.read_schema(path).metadata[b'croptfx'])
  assert meta['grid']['crs'] == 'EPSG:5070'
  assert meta['grid']['transform'] == [30.0, 0.0, west, 0.0, -30.0, north]
  # Without a grid the cells are null.
  path = pixels.write_shard(table, str(tmp_path / 'none' / 'pixels'))
  shard = pq.read_table(path)
  assert shard.column('row').null_count == 12 and shard.column('x').null_count == 12
  assert json.loads(pq.read_schema(path).metadata[b'croptfx']) == {'grid': None}


def test_the_rounding_step_of_the_coordinates_is_no_grid(tmp_path):
  """Lon/lat rounded to 6 decimals all lie on a 1e-6 degree lon/lat grid; a
  380 x 284 area fills its lines densely enough to fit one, but fills its
  cells to 0.001%: not a map. EPSG:5070, the pixels' grid, wins."""
  west, north, (x, y) = _albers_area(380, 284)
  lon, lat = _lonlat('EPSG:5070', x, y)
  grid, _ = grid_lib.detect_grid(lon, lat)
  assert grid is not None and grid.dx == pytest.approx(1e-6)  # the trap
  choice = pixel_grid.find_grid(_layouts(tmp_path, lon, lat), AS_OF)
  assert choice.grid.crs == 'EPSG:5070' and (choice.grid.west, choice.grid.north) == (west, north)
  lonlat = [t for t in choice.tried if t['crs'] == 'EPSG:4326'][0]
  assert not lonlat['fits'] and lonlat['reason'].startswith('a grid of 1e-06')
  assert 'cells would be 0.001% filled by 107,920 pixels (at least 1% needed)' in lonlat['reason']


def test_grid_crs_may_be_another_geographic_crs(tmp_path):
  # NAD83 (EPSG:4269): degrees, fitted as longitude/latitude, not metres.
  dx = dy = 2.0 ** -12
  cols, rows = np.meshgrid(np.arange(12), np.arange(8))
  lon, lat = -90.5 + cols.ravel() * dx, 33.25 + rows.ravel() * dy
  choice = pixel_grid.find_grid(_layouts(tmp_path, lon, lat), AS_OF, grid_crs='EPSG:4269')
  assert choice.reason is None and choice.grid.crs == 'EPSG:4269'
  assert (choice.grid.width, choice.grid.height) == (12, 8)
  assert choice.grid.dx == pytest.approx(dx, rel=1e-6)
  assert choice.to_dict()['units'] == 'degrees'
