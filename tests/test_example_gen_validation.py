"""Row validation of ParquetExampleGen: one test per reason, notes, reader."""

import numpy as np
import pyarrow as pa
import pytest

from croptfx import codec
from croptfx.errors import InputDataError
from croptfx import features
from croptfx.pipeline import configs
from croptfx.rows import reader
from croptfx.rows import validation
from tests.test_example_gen_rows import make_table
from tests.test_example_gen_rows import pixel_row
from tests.test_example_gen_rows import reference_notes
from tests.test_example_gen_rows import reference_reason

SPLITS = configs.YEAR_SPLITS
JAN1_2021 = codec.jan1_days(2021)


def _reasons(rows, year_splits=SPLITS, path_year=None, **table_args):
  batch = reader.normalize(make_table(rows, **table_args))
  return list(validation.check_rows(batch, year_splits, path_year).reasons)


def _with_bands(row, bands):
  return dict(row, bands=codec.encode_bands(bands))


def test_valid_rows_have_no_reason():
  rows = [pixel_row(2021, 1), pixel_row(2020, 30), pixel_row(2019, 7)]
  assert _reasons(rows) == ['', '', '']


@pytest.mark.parametrize('column', [
    features.BANDS, features.IMG_DATES, features.SCL_VALS,
    features.NUM_SCENES, features.YEAR, features.TILES, features.BBOX])
def test_null_value(column):
  assert _reasons([pixel_row(), dict(pixel_row(), **{column: None})]) == [
      '', 'null_value']


def test_zero_scenes():
  row = pixel_row(num_scenes=0, bands=b'', img_dates=b'', scl_vals=b'',
                  tiles='')
  assert _reasons([row]) == ['zero_scenes']


def test_byte_length():
  good = pixel_row(n=3)
  rows = [
      dict(good, bands=good['bands'][:-1]),  # 71 bytes for N = 3
      dict(good, img_dates=good['img_dates'] + b'\x00'),
      dict(good, scl_vals=good['scl_vals'][:2]),
      dict(good, num_scenes=4),
      dict(good, num_scenes=-3),
  ]
  assert _reasons(rows) == ['byte_length'] * 5


@pytest.mark.parametrize('column,value', [
    ('lon', None), ('lat', None), ('lon', float('nan')), ('lat', float('inf')),
    ('lon', float('-inf'))])
def test_non_finite_coordinate(column, value):
  assert _reasons([pixel_row(**{column: value})]) == ['non_finite_coordinate']


@pytest.mark.parametrize('cdl', [None, '', '   ', '\t'])
def test_missing_label(cdl):
  assert _reasons([pixel_row(CDL=cdl)]) == ['missing_label']


def test_invalid_scl():
  assert _reasons([pixel_row(n=3, scl_vals=codec.encode_scl([4, 12, 4])),
                   pixel_row(n=3, scl_vals=codec.encode_scl([11, 0, 4]))]) == [
                       'invalid_scl', '']


def test_date_outside_year():
  jan1_2022 = codec.jan1_days(2022)
  rows = [
      pixel_row(n=2, img_dates=codec.encode_dates([JAN1_2021 - 1, JAN1_2021])),
      pixel_row(n=2, img_dates=codec.encode_dates([JAN1_2021, jan1_2022])),
      pixel_row(n=2, img_dates=codec.encode_dates([JAN1_2021,
                                                   jan1_2022 - 1])),
      # 2020 is a leap year: Dec 31 is day 366.
      pixel_row(2020, n=1, img_dates=codec.encode_dates([JAN1_2021 - 1])),
  ]
  assert _reasons(rows) == ['date_outside_year', 'date_outside_year', '', '']


def test_no_data():
  zeros = np.zeros((3, 12), int)
  one = zeros.copy()
  one[2, 11] = 1
  assert _reasons([_with_bands(pixel_row(n=3), zeros),
                   _with_bands(pixel_row(n=3), one)]) == ['no_data', '']


def test_year_mismatch_only_with_a_hive_year():
  rows = [pixel_row(2021), pixel_row(2020)]
  assert _reasons(rows, path_year=2021) == ['', 'year_mismatch']
  assert _reasons(rows) == ['', '']


def test_year_not_in_splits():
  rows = [pixel_row(2018), pixel_row(2021)]
  assert _reasons(rows) == ['year_not_in_splits', '']
  assert _reasons(rows, year_splits={2018: 'train'}) == [
      '', 'year_not_in_splits']
  assert _reasons(rows, year_splits=None) == ['', '']  # e.g. prediction


def test_first_failing_check_wins():
  zeros = np.zeros((2, 12), int)
  outside = codec.encode_dates([0, 1])
  rows = [
      # null + wrong length: null first.
      pixel_row(n=2, bands=None, img_dates=b'\x00'),
      # NaN lon + missing label + bad SCL: coordinate first.
      pixel_row(n=2, lon=float('nan'), CDL='', scl_vals=b'\x0f\x0f'),
      # bad SCL + dates outside + no data + other year: SCL first.
      _with_bands(pixel_row(2018, n=2, scl_vals=b'\x0f\x04',
                            img_dates=outside), zeros),
      # dates outside + no data: dates first.
      _with_bands(pixel_row(n=2, img_dates=outside), zeros),
      # no data + mismatch + not in splits: no data first.
      _with_bands(pixel_row(2018, n=2), zeros),
      # mismatch + not in splits: mismatch first.
      pixel_row(2018),
  ]
  assert _reasons(rows, path_year=2021) == [
      'null_value', 'non_finite_coordinate', 'invalid_scl',
      'date_outside_year', 'no_data', 'year_mismatch']


def test_matches_row_by_row_reference_on_random_rows():
  rng = np.random.default_rng(7)
  rows = []
  for i in range(400):
    year = int(rng.choice([2018, 2019, 2020, 2021]))
    row = pixel_row(year, int(rng.integers(1, 6)), seed=i)
    kind = rng.integers(0, 12)
    n = row['num_scenes']
    if kind == 0:
      row[rng.choice(['bands', 'img_dates', 'scl_vals', 'year'])] = None
    elif kind == 1:
      row['bands'] = row['bands'][:int(rng.integers(0, 24 * n))]
    elif kind == 2:
      row['scl_vals'] = codec.encode_scl(rng.integers(0, 14, n))
    elif kind == 3:
      jan1 = codec.jan1_days(year)
      row['img_dates'] = codec.encode_dates(
          rng.integers(jan1 - 3, jan1 + 368, n))
    elif kind == 4:
      row['bands'] = codec.encode_bands(rng.integers(0, 2, (n, 12)) *
                                        (rng.random() < 0.5))
    elif kind == 5:
      row['lat'] = float(rng.choice([np.nan, np.inf, 1.0]))
    elif kind == 6:
      row['CDL'] = str(rng.choice(['', ' ', 'Soybeans', 'Mystery Crop']))
    elif kind == 7:  # unsorted / duplicated dates
      days = codec.decode_dates(row['img_dates'])
      row['img_dates'] = codec.encode_dates(rng.choice(days, n))
    rows.append(row)
  batch = reader.normalize(make_table(rows))
  checks = validation.check_rows(batch, SPLITS, path_year=2021)
  expected = [reference_reason(r, SPLITS, 2021) for r in rows]
  assert list(checks.reasons) == expected
  assert len(set(expected)) >= 8  # the random rows hit most reasons
  mapping = features.load_label_mapping()
  for note in validation.NOTES:
    want = [e == '' and reference_notes(r, mapping)[note]
            for r, e in zip(rows, expected)]
    assert list(getattr(checks, note)) == want, note


def test_notes_count_valid_rows_only():
  jan1 = JAN1_2021
  rows = [
      pixel_row(n=3, img_dates=codec.encode_dates([jan1 + 9, jan1 + 4, jan1])),
      pixel_row(n=3, img_dates=codec.encode_dates([jan1, jan1 + 5, jan1 + 5])),
      # Duplicate, not adjacent, and unsorted.
      pixel_row(n=3, img_dates=codec.encode_dates([jan1 + 5, jan1, jan1 + 5])),
      pixel_row(CDL='Mystery Crop'),
      pixel_row(CDL='Dbl Crop WinWht/Soybeans'),  # known (excluded) name
      pixel_row(CDL='other hay/non-alfalfa'),  # a spelling variant
      # Quarantined rows are not counted in the notes.
      pixel_row(2018, n=2, CDL='Mystery Crop', img_dates=codec.encode_dates(
          [codec.jan1_days(2018)] * 2)),
  ]
  checks = validation.check_rows(reader.normalize(make_table(rows)), SPLITS)
  assert list(checks.unsorted_dates) == [1, 0, 1, 0, 0, 0, 0]
  assert list(checks.duplicate_dates) == [0, 1, 1, 0, 0, 0, 0]
  assert list(checks.unknown_cdl) == [0, 0, 0, 1, 0, 0, 0]
  assert checks.note_counts() == {
      'unsorted_dates': 2, 'duplicate_dates': 2, 'unknown_cdl': 1}
  assert checks.reason_counts()['year_not_in_splits'] == 1
  assert sum(checks.reason_counts().values()) == 1


def test_custom_label_mapping_for_unknown_cdl(tmp_path):
  path = tmp_path / 'mapping.json'
  path.write_text('{"mapping": {"Corn": ["Corn"]}}')
  mapping = features.load_label_mapping(str(path))
  batch = reader.normalize(make_table([pixel_row(CDL='Corn'),
                                       pixel_row(CDL='Soybeans')]))
  assert list(validation.check_rows(batch, SPLITS, label_mapping=mapping)
              .unknown_cdl) == [False, True]


def test_sliced_batches_and_tables():
  rows = [pixel_row(n=2, seed=i) for i in range(6)]
  rows[4] = dict(rows[4], scl_vals=b'\x04\x0c')
  batch = reader.normalize(make_table(rows))
  sliced = batch.slice(3, 3)  # non-zero array offsets
  assert list(validation.check_rows(sliced, SPLITS).reasons) == ['', 'invalid_scl', '']
  chunked = pa.Table.from_batches([batch.slice(0, 2), batch.slice(2, 4)])
  assert list(validation.check_rows(chunked, SPLITS).reasons)[4] == 'invalid_scl'
  empty = batch.slice(0, 0)
  assert validation.check_rows(empty, SPLITS).reasons.size == 0


def test_normalize_aliases_types_and_hive_year():
  rows = [pixel_row(2020, n=2)]
  table = make_table(rows, slides_columns=True, tiles_binary=True,
                     drop_year=True, num_scenes_type=pa.int32())
  assert '# scenes' in table.column_names
  batch = reader.normalize(table, year_from_path=2020)
  assert batch.schema == reader.NORMALIZED_SCHEMA
  assert batch.column('num_scenes').to_pylist() == [2]
  assert batch.column('tiles').to_pylist() == ['15SXA_0,15SXA_0']
  assert batch.column('year').to_pylist() == [2020]
  assert batch.column('bands').to_pylist() == [rows[0]['bands']]


def test_normalize_dictionary_encoded_cdl():
  table = make_table([pixel_row(), pixel_row(CDL='Rice')])
  index = table.column_names.index('CDL')
  table = table.set_column(index, 'CDL',
                           table.column('CDL').dictionary_encode())
  batch = reader.normalize(table)
  assert batch.column('CDL').to_pylist() == ['Corn', 'Rice']


def test_normalize_errors_name_the_column():
  table = make_table([pixel_row()])
  with pytest.raises(InputDataError, match=r"data: column 'bands': missing"):
    reader.normalize(table.drop(['bands']), path='data')
  both = table.append_column('# scenes', table.column('num_scenes'))
  with pytest.raises(InputDataError, match='spelled twice'):
    reader.normalize(both)
  with pytest.raises(InputDataError,
                     match=r"column 'tiles': holds bytes that are not UTF-8"):
    reader.normalize(make_table([pixel_row(tiles=b'\xff\xfe')],
                                tiles_binary=True))
  with pytest.raises(InputDataError, match=r"column 'year'.*year=YYYY"):
    reader.normalize(table.drop(['year']))


# --- hostile input (issue 15) -------------------------------------------------


def test_coordinate_out_of_range():
  rows = [pixel_row(lon=-180.0, lat=90.0), pixel_row(lon=180.0, lat=-90.0),
          pixel_row(lon=-180.0001), pixel_row(lon=181.5), pixel_row(lat=90.5),
          pixel_row(lat=-1000.0), pixel_row(lon=float('nan'), lat=95.0)]
  want = ['', '', 'coordinate_out_of_range', 'coordinate_out_of_range',
          'coordinate_out_of_range', 'coordinate_out_of_range',
          'non_finite_coordinate']
  assert _reasons(rows) == want
  assert [reference_reason(r, SPLITS) for r in rows] == want


def test_values_that_do_not_cast_are_row_faults_not_file_faults():
  rows = [pixel_row(seed=1), pixel_row(seed=2, tiles=b'15SXA_0\xff'),
          pixel_row(seed=3, num_scenes=2**63 + 1), pixel_row(seed=4),
          pixel_row(seed=5, tiles=b'\xc3\x28', num_scenes=2**64 - 1)]
  table = make_table(rows, tiles_binary=True, num_scenes_type=pa.uint64())
  normalized = reader.normalize_rows(table, path='f.parquet')
  assert normalized.cast_faults.tolist() == [False, True, True, False, True]
  assert sorted(normalized.fault_columns) == ['num_scenes', 'tiles']
  batch = normalized.batch
  # The other rows keep every value; the faulty value is null.
  assert batch.column('tiles').to_pylist() == [
      rows[0]['tiles'], None, rows[2]['tiles'], rows[3]['tiles'], None]
  assert batch.column('num_scenes').to_pylist() == [4, 4, None, 4, None]
  checks = validation.check_rows(batch, SPLITS, cast_faults=normalized.cast_faults)
  want = ['', 'undecodable_value', 'undecodable_value', '', 'undecodable_value']
  assert list(checks.reasons) == want
  assert [reference_reason(r, SPLITS) for r in rows] == want
  assert checks.reason_counts()['undecodable_value'] == 3
  # Without the faults the nulls would read as null_value: the reason says
  # what happened.
  assert list(validation.check_rows(batch, SPLITS).reasons) == [
      '', 'null_value', 'null_value', '', 'null_value']


def test_read_rows_gives_cast_faults_per_row(tmp_path):
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  rows = [pixel_row(seed=i) for i in range(7)]
  rows[5]['tiles'] = b'\xff'
  path = str(tmp_path / 'a.parquet')
  pq.write_table(make_table(rows, tiles_binary=True), path)
  got = list(reader.read_rows(path, batch_rows=3))
  assert [r.batch.num_rows for r in got] == [3, 3, 1]
  assert [r.cast_faults.tolist() for r in got] == [
      [False] * 3, [False, False, True], [False]]
  with pytest.raises(InputDataError, match='cannot be cast'):
    list(reader.read_batches(path, batch_rows=3))
  # A file of 0 rows yields nothing.
  empty = str(tmp_path / 'empty.parquet')
  pq.write_table(make_table([]), empty)
  assert reader.inspect_file(empty).num_rows == 0
  assert list(reader.read_rows(empty)) == []


def test_duplicate_rule():
  rule = validation.duplicate_reasons
  assert rule([(('a', 0), b'x')]) == ['']
  # Identical copies: the first by (file, row) is kept, wherever it is listed.
  assert rule([(('b', 0), b'x'), (('a', 7), b'x'), (('a', 9), b'x')]) == [
      'duplicate', '', 'duplicate']
  # Copies that differ: none can be trusted.
  assert rule([(('a', 0), b'x'), (('a', 1), b'y'), (('b', 0), b'x')]) == [
      'conflicting_duplicate'] * 3

