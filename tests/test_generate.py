"""The synthetic data generator: format, determinism, realism."""

import collections
import hashlib
import os
import subprocess
import sys

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from croptfx import codec
from croptfx import features
from croptfx.generate import part1
from tests.conftest import YEARS


@pytest.fixture(scope='module')
def table():
  return part1.generate_table(600, YEARS, seed=3)


def _digest(root):
  out = {}
  for dirpath, _, files in os.walk(root):
    for name in files:
      path = os.path.join(dirpath, name)
      out[os.path.relpath(path, root)] = hashlib.sha256(open(path, 'rb').read()).hexdigest()
  return out


def test_byte_for_byte_deterministic(tmp_path):
  a = part1.write_dataset(str(tmp_path / 'a'), 40, years=YEARS, seed=11, rows_per_file=50)
  b = part1.write_dataset(str(tmp_path / 'b'), 40, years=YEARS, seed=11, rows_per_file=50)
  c = part1.write_dataset(str(tmp_path / 'c'), 40, years=YEARS, seed=12, rows_per_file=50)
  assert len(a['files']) == 3  # 120 rows / 50 per file
  assert _digest(tmp_path / 'a') == _digest(tmp_path / 'b')
  assert _digest(tmp_path / 'a') != _digest(tmp_path / 'c')


def test_schema_and_row_count(table):
  assert table.column_names == list(features.RAW_COLUMNS)
  assert table.num_rows == 1800
  assert str(table.schema.field('bands').type) == 'binary'
  assert str(table.schema.field('lon').type) == 'double'
  assert sorted(set(table.column('year').to_pylist())) == [2019, 2020, 2021]


def test_lengths_match_num_scenes_and_dates_inside_year(table):
  for row in table.to_pylist():
    n = row['num_scenes']
    assert n > 0
    assert len(row['bands']) == n * features.BAND_BYTES_PER_IMAGE
    assert len(row['img_dates']) == n * features.DATE_BYTES_PER_IMAGE
    assert len(row['scl_vals']) == n
    assert len(row['tiles'].split(b',')) == n
    days = codec.decode_dates(row['img_dates'])
    jan1 = codec.jan1_days(row['year'])
    assert days.min() >= jan1 and days.max() < jan1 + codec.days_in_year(row['year'])
    assert codec.decode_scl(row['scl_vals']).max() <= features.SCL_MAX


def test_irregular_revisits_duplicates_and_unsorted(table):
  rows = table.to_pylist()
  gaps, unsorted, duplicated = [], 0, 0
  for row in rows:
    days = codec.decode_dates(row['img_dates'])
    unsorted += bool(np.any(np.diff(days) < 0))
    duplicated += len(days) != len(np.unique(days))
    gaps.extend(np.diff(np.unique(days)).tolist())
  gaps = np.array(gaps)
  # Mostly 5-day revisits (2-3 days where orbits overlap), with longer gaps.
  assert np.median(gaps) == 5
  assert (gaps >= 10).mean() > 0.05
  assert (gaps <= 3).any()
  assert 0.02 < unsorted / len(rows) < 0.5
  assert 0.05 < duplicated / len(rows) < 0.6


def test_clouds_have_matching_scl_and_reflectance(table):
  bands = np.concatenate([codec.decode_bands(b) for b in table.column('bands').to_pylist()])
  scl = np.concatenate([codec.decode_scl(s) for s in table.column('scl_vals').to_pylist()])
  blue = bands[:, features.BAND_NAMES.index('B02')].astype(float)
  counts = np.bincount(scl, minlength=12) / len(scl)
  assert 0.1 < counts[[3, 8, 9, 10]].sum() < 0.4  # cloud and shadow share
  assert counts[features.SCL_VEGETATION] > 0.15
  assert np.median(blue[np.isin(scl, (8, 9))]) > 3 * np.median(blue[scl == 4])
  assert np.median(blue[scl == 3]) < np.median(blue[scl == 5])  # shadows are dark
  assert (bands[scl == 0] == 0).all()  # no-data pixels


def test_every_class_present_at_realistic_share(table):
  mapping = features.load_label_mapping()
  shares = collections.Counter()
  for name in table.column('CDL').to_pylist():
    class_index, excluded, _ = mapping.lookup(name)
    shares['excluded' if excluded else features.CLASS_NAMES[class_index]] += 1
  total = table.num_rows
  share = {k: v / total for k, v in shares.items()}
  for name in features.CLASS_NAMES[1:]:
    assert share[name] >= 0.02, (name, share)
  assert share['Soybeans'] == max(share.values())  # a Delta county
  assert 0.15 < share['Uncultivated'] < 0.35
  assert 0.02 < share['excluded'] < 0.1


def test_crop_phenology_is_distinct(table):
  # Mean clear-sky NDVI in mid-July: corn, soybeans and cotton green;
  # water not. Corn peaks earlier than soybeans.
  def mean_ndvi(cdl, doy_range):
    values = []
    for row in table.to_pylist():
      if row['CDL'] != cdl or row['year'] != 2021:
        continue
      days = codec.decode_dates(row['img_dates']) - codec.jan1_days(2021)
      scl = codec.decode_scl(row['scl_vals'])
      ok = (days >= doy_range[0]) & (days < doy_range[1]) & ~np.isin(scl, features.SCL_NOT_CLEAR)
      values.extend(codec.ndvi(codec.decode_bands(row['bands'])[ok]).tolist())
    return float(np.mean(values))

  assert mean_ndvi('Corn', (170, 200)) > 0.6
  assert mean_ndvi('Soybeans', (200, 230)) > 0.6
  assert mean_ndvi('Open Water', (170, 230)) < 0.1
  assert mean_ndvi('Corn', (240, 270)) < mean_ndvi('Soybeans', (240, 270)) - 0.2


def test_hive_layout_and_slides_columns(tmp_path):
  summary = part1.write_dataset(str(tmp_path), 20, years=YEARS, layout='hive', slides_columns=True)
  assert sorted(os.listdir(tmp_path)) == ['year=2019', 'year=2020', 'year=2021']
  part = pq.read_table(tmp_path / 'year=2020' / 'part-00000.parquet')
  assert part.num_rows == 20
  assert 'year' not in part.column_names  # it is in the path, as Spark writes it
  assert '# scenes' in part.column_names and 'img dates' in part.column_names
  assert summary['rows'] == 60


def test_cli_generate(tmp_path):
  out = subprocess.run(
      [sys.executable, '-m', 'croptfx.cli', 'generate', str(tmp_path / 'd'),
       '--pixels-per-year', '10', '--years', '2020,2021', '--rows-per-file', '7'],
      capture_output=True, text=True, check=True)
  assert 'wrote 20 rows' in out.stdout
  files = sorted(os.listdir(tmp_path / 'd'))
  assert files == ['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet']
  assert sum(pq.read_metadata(tmp_path / 'd' / f).num_rows for f in files) == 20


def test_regenerating_leaves_identical_files_alone_and_removes_stale_parts(tmp_path):
  part1.write_dataset(str(tmp_path), 30, years=YEARS, seed=1, rows_per_file=40)  # 3 files
  first = {p: os.stat(tmp_path / p).st_mtime_ns for p in sorted(os.listdir(tmp_path))}
  assert len(first) == 3
  os.utime(tmp_path / 'part-00000.parquet', ns=(1, 1))  # mark: rewritten or not?
  part1.write_dataset(str(tmp_path), 30, years=YEARS, seed=1, rows_per_file=40)
  assert os.stat(tmp_path / 'part-00000.parquet').st_mtime_ns == 1  # same bytes: untouched
  part1.write_dataset(str(tmp_path), 30, years=YEARS, seed=1, rows_per_file=90)  # now 1 file
  assert sorted(os.listdir(tmp_path)) == ['part-00000.parquet']
  assert pq.read_metadata(tmp_path / 'part-00000.parquet').num_rows == 90


# Wall-to-wall areas (--aoi).

def _class_of(cdl_names):
  mapping = features.load_label_mapping()
  return np.array([mapping.lookup(n)[0] for n in cdl_names])


def _components(mask):
  """4-connected parts of a boolean mask, by breadth-first search."""
  seen = np.zeros(mask.shape, bool)
  parts = 0
  for start in zip(*np.nonzero(mask)):
    if seen[start]:
      continue
    parts += 1
    queue = [start]
    seen[start] = True
    while queue:
      r, c = queue.pop()
      for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
        if 0 <= nr < mask.shape[0] and 0 <= nc < mask.shape[1] and mask[nr, nc] and not seen[nr, nc]:
          seen[nr, nc] = True
          queue.append((nr, nc))
  return parts


def test_aoi_pixels_are_cdl_cell_centres_and_each_year_has_its_cdl(tmp_path):
  import pyproj  # pylint: disable=g-import-not-at-top
  import rasterio  # pylint: disable=g-import-not-at-top
  from croptfx import cdl  # pylint: disable=g-import-not-at-top
  from croptfx.rows import reader  # pylint: disable=g-import-not-at-top
  summary = part1.write_dataset(str(tmp_path), aoi=(40, 30), years=(2020, 2021), seed=7,
                                rows_per_file=1000)
  assert summary['rows'] == 2 * 40 * 30
  table = pq.read_table(tmp_path)  # pyarrow skips `_cdl/`, as the readers do
  to_albers = pyproj.Transformer.from_crs('EPSG:4326', 'EPSG:5070', always_xy=True)
  # The national CDL grid: 30 m cells whose centres are multiples of 30 m
  # (its corner, -2,356,095 m, 3,172,605 m, is 15 m off them).
  codes = cdl.code_list()
  cells = {}
  for year in (2020, 2021):
    rows = table.filter(pc.equal(table.column('year'), year))
    lon, lat = rows.column('lon').to_numpy(), rows.column('lat').to_numpy()
    assert rows.num_rows == 1200
    assert (np.round(lon, 6) == lon).all() and (np.round(lat, 6) == lat).all()
    x, y = to_albers.transform(lon, lat)
    kx, ky = np.asarray(x) / 30, np.asarray(y) / 30
    # Rounded to 6 decimals: within 0.003 cells of a centre.
    assert np.abs(kx - np.rint(kx)).max() < 0.003 and np.abs(ky - np.rint(ky)).max() < 0.003
    col = np.rint(kx).astype(int) - int(np.rint(kx).min())
    row = int(np.rint(ky).max()) - np.rint(ky).astype(int)
    assert (col.max(), row.max()) == (39, 29)
    cells[year] = set(zip(row.tolist(), col.tolist()))
    assert len(cells[year]) == 1200  # each cell once
    # The area is centred on the cell corner nearest to the area's centre.
    cx, cy = to_albers.transform(*part1.AOI_CENTRE)
    assert abs(np.mean(np.asarray(x)) - cx) <= 15 + 0.1 and abs(np.mean(np.asarray(y)) - cy) <= 15 + 0.1
    # The year's CDL: EPSG:5070, the cells' transform, each pixel's code.
    with rasterio.open(tmp_path / '_cdl' / f'cdl_{year}.tif') as ds:
      assert summary['aoi']['cdl'][year] == str(tmp_path / '_cdl' / f'cdl_{year}.tif')
      assert ds.crs.to_epsg() == 5070 and (ds.width, ds.height) == (40, 30)
      assert ds.dtypes == ('uint8',) and ds.nodata == 0
      t = ds.transform
      assert (t.a, t.e) == (30, -30) and (t.c + 15) % 30 == 0 and (t.f - 15) % 30 == 0
      assert list(t)[:6] == summary['aoi']['transform']
      grid = ds.read(1)
      r, c = rasterio.transform.rowcol(t, x, y)
      expected = [codes.code(n) for n in rows.column('CDL').to_pylist()]
      np.testing.assert_array_equal(grid[np.asarray(r), np.asarray(c)], expected)
      corn = codes.code('Corn')
      assert ds.colormap(1)[corn][:3] == tuple(int(codes.colors[corn][k:k + 2], 16)
                                                for k in (1, 3, 5))
  assert cells[2020] == cells[2021]
  # The CDLs sit in `_cdl/`, which readers of the data skip.
  assert [os.path.basename(f.path) for f in reader.list_input_files(str(tmp_path))] == [
      'part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet']


def test_regenerating_an_area_removes_stale_cdls(tmp_path):
  part1.write_dataset(str(tmp_path), aoi=(6, 5), years=(2020, 2021), seed=1)
  assert sorted(os.listdir(tmp_path / '_cdl')) == ['cdl_2020.tif', 'cdl_2021.tif']
  part1.write_dataset(str(tmp_path), aoi=(6, 5), years=(2021,), seed=1)
  assert sorted(os.listdir(tmp_path / '_cdl')) == ['cdl_2021.tif']
  part1.write_dataset(str(tmp_path), 10, years=(2021,), seed=1)
  assert os.listdir(tmp_path / '_cdl') == []


def test_aoi_fields_are_contiguous_parcels_of_one_class(tmp_path):
  layout = part1.aoi_layout(120, 90, seed=3)
  field_id = layout['field_id']
  assert field_id.shape == (90, 120)
  for f in range(layout['n_fields']):
    assert _components(field_id == f) == 1, f
  # Crop parcels are 5-40 ha (56-444 pixels of 0.09 ha) unless a road, the
  # bayou, a wood or the area's edge cut them.
  crop_types = [part1.FIELD_TYPES.index(t) for t in part1.FIELD_TYPES
                if t[0] in ('corn_soy', 'soy_soy', 'rice_soy', 'cotton')]
  sizes = np.bincount(field_id.ravel())
  crop_sizes = sizes[np.isin(layout['type'], crop_types)]
  assert 56 <= np.median(crop_sizes) <= 444
  assert crop_sizes.max() <= 444 * 2.5  # an L-shaped field at most
  # In the rows: every pixel of a field has the field's class, and most
  # neighbouring pixels share it.
  table = part1.generate_aoi_table(120, 90, years=(2021,), seed=3)
  classes = _class_of(table.column('CDL').to_pylist()).reshape(90, 120)
  for f in range(layout['n_fields']):
    assert len(set(classes[field_id == f].tolist())) == 1
  same = np.concatenate([(classes[:, 1:] == classes[:, :-1]).ravel(),
                         (classes[1:, :] == classes[:-1, :]).ravel()])
  assert same.mean() > 0.85
  # Roads, ditches, the bayou and woods make the Uncultivated class: 10-40%.
  kept = classes[classes != features.EXCLUDED_LABEL]
  share = np.bincount(kept, minlength=features.NUM_CLASSES) / kept.size
  assert 0.1 < share[features.UNCULTIVATED] < 0.4
  assert share[features.CROP_CLASSES[0]:].sum() > 0.55  # mostly farmland
  assert share[features.CLASS_NAMES.index('Soybeans')] > 0.15


def test_aoi_is_byte_for_byte_deterministic(tmp_path):
  a = part1.write_dataset(str(tmp_path / 'a'), aoi=(20, 15), years=(2021,), seed=5, layout='hive')
  b = part1.write_dataset(str(tmp_path / 'b'), aoi=(20, 15), years=(2021,), seed=5, layout='hive')
  c = part1.write_dataset(str(tmp_path / 'c'), aoi=(20, 15), years=(2021,), seed=6, layout='hive')
  assert a['rows'] == 300 and a['aoi']['width'] == 20 and a['aoi']['height'] == 15
  assert _digest(tmp_path / 'a') == _digest(tmp_path / 'b')
  assert _digest(tmp_path / 'a') != _digest(tmp_path / 'c')


def test_cli_generate_aoi_and_its_argument_errors(tmp_path):
  out = subprocess.run(
      [sys.executable, '-m', 'croptfx.cli', 'generate', str(tmp_path / 'd'), '--aoi', '12x10',
       '--years', '2021'], capture_output=True, text=True, check=True)
  assert ("wrote 120 rows (12 x 10 pixels of a wall-to-wall area on the CDL's 30 m EPSG:5070 "
          'grid x 1 years)') in out.stdout
  assert f"and the area's CDL of each year in {tmp_path / 'd' / '_cdl'}" in out.stdout
  assert pq.read_table(tmp_path / 'd' / 'part-00000.parquet').num_rows == 120
  assert os.listdir(tmp_path / 'd' / '_cdl') == ['cdl_2021.tif']
  for args, message in (
      (['--aoi', '0x10'], "argument --aoi: takes WIDTHxHEIGHT in pixels, two positive integers "
                          "like 200x150, got '0x10'"),
      (['--aoi', '12'], "argument --aoi: takes WIDTHxHEIGHT"),
      (['--aoi', '12x10', '--pixels-per-year', '5'],
       'argument --pixels-per-year: not allowed with argument --aoi'),
      ([], 'one of the arguments --pixels-per-year --aoi is required'),
      (['--pixels-per-year', '0'], "argument --pixels-per-year: must be a positive integer, got '0'")):
    run = subprocess.run([sys.executable, '-m', 'croptfx.cli', 'generate', str(tmp_path / 'e')]
                         + args, capture_output=True, text=True)
    assert run.returncode == 2
    errors_lines = [l for l in run.stderr.splitlines() if 'error:' in l]
    assert len(errors_lines) == 1 and message in errors_lines[0], run.stderr
  assert not (tmp_path / 'e').exists()
