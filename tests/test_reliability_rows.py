"""Row faults through the real pipeline: nothing lost, nothing leaks (issue 11).

One LocalDagRunner run (ExampleGen -> Transform) over real Parquet files:
every quarantine reason and every note, each alone in its own file (with a
few good rows) and all of them mixed in two more files, one of them under a
Hive directory `year=2021/` so the year column can disagree with the path.
Expected values come from the rows written, through the plain per-row
reference in test_example_gen_rows and the NumPy Transform reference in
test_preprocessing_reference, never from the modules under test.

The executor-level tests (test_example_gen_component) check the same rules
on one ExampleGen; here the whole data part of the pipeline runs, so the
counts in the run summary, the quarantine files, the transformed examples
and the train-split band statistics must all agree.
"""

import collections
import functools
import os
from typing import Callable, Dict, List, NamedTuple, Optional

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from croptfx import codec
from croptfx import features
from croptfx.generate import part1
from croptfx.pipeline import configs
from croptfx.rows import validation
from tests import test_preprocessing_reference as ref
from tests import test_reliability_helpers as helpers
from tests.conftest import YEARS, run_small_pipeline
from tests.test_example_gen_rows import make_table
from tests.test_example_gen_rows import pixel_row
from tests.test_example_gen_rows import reference_duplicates
from tests.test_example_gen_rows import reference_notes
from tests.test_example_gen_rows import reference_reason

pytestmark = pytest.mark.pipeline

YEAR_SPLITS = dict(configs.YEAR_SPLITS)
TRAIN_YEAR, EVAL_YEAR, TEST_YEAR = 2021, 2020, 2019
HIVE_DIR = 'year=2021'


class Written(NamedTuple):
  row: Dict
  source: str  # path relative to the input root
  path_year: Optional[int]
  index: int = 0  # row number in its file


class _Coords:
  """Distinct coordinates for hand-made rows, away from generated pixels
  and more than a float32 step apart (the Transform key is float32)."""

  def __init__(self):
    self._n = 0

  def __call__(self) -> Dict[str, float]:
    self._n += 1
    return {features.LON: -91.0 - 0.001 * self._n,
            features.LAT: 33.0 + 0.0007 * self._n}


def _row(coords: _Coords, season: int, seed: int, /, **overrides) -> Dict:
  """A valid 5-image row at fresh coordinates, then `overrides`."""
  row = pixel_row(season, n=5, seed=seed, **coords())
  row.update(overrides)  # may override `year` too
  return row


def _series(coords: _Coords, year: int, days_of_year, bands, scl,
            cdl: str = 'Corn') -> Dict:
  """A row with exactly these images (days of year 0-based, in this order)."""
  days = codec.jan1_days(year) + np.asarray(days_of_year)
  return {
      **coords(),
      features.NUM_SCENES: len(days),
      features.BANDS: codec.encode_bands(np.asarray(bands)),
      features.IMG_DATES: codec.encode_dates(days),
      features.SCL_VALS: codec.encode_scl(scl),
      features.TILES: ','.join(['15SXA_0'] * len(days)),
      features.BBOX: part1.BBOX_BASE,
      features.YEAR: year,
      features.CDL: cdl,
  }


# One builder per quarantine reason: the faulty rows of `year`. `wide`:
# the file's table holds tiles as binary and num_scenes as uint64, so it
# can hold values that do not cast (`UNDECODABLE_TABLE`).
def _faults(reason: str, coords: _Coords, year: int, seed: int,
            wide: bool = False) -> List[Dict]:
  jan1 = codec.jan1_days(year)
  row = lambda i, **kw: _row(coords, year, seed + i, **kw)
  dates = lambda days: codec.encode_dates(jan1 + np.asarray(days))
  if reason == 'undecodable_value':
    rows = [row(0, tiles=b'15SXA_0\xff\xfe'), row(1, tiles=b'\xc3\x28')]
    if wide:  # beyond int64: only a uint64 column holds it
      rows.append(row(2, num_scenes=2**63 + 5))
    return rows
  if reason == 'coordinate_out_of_range':
    return [row(0, lon=-180.5), row(1, lat=90.25), row(2, lon=540.0),
            row(3, lat=-91.0)]
  if reason == 'duplicate':  # three identical copies: one kept
    base = row(0)
    return [base, dict(base), dict(base)]
  if reason == 'conflicting_duplicate':  # one copy differs: none kept
    base = row(0)
    return [base, dict(base, CDL='Soybeans'), dict(base)]
  if reason == 'null_value':  # a null in each checked column
    return [row(0, bands=None), row(1, img_dates=None),
            row(2, scl_vals=None), row(3, tiles=None), row(4, bbox=None),
            row(5, num_scenes=None), row(6, year=None)]
  if reason == 'zero_scenes':
    return [row(0, num_scenes=0, bands=b'', img_dates=b'', scl_vals=b'')]
  if reason == 'byte_length':
    good = row(0)
    return [dict(good, bands=good[features.BANDS][:-2]),
            row(1, num_scenes=6),
            row(2, scl_vals=codec.encode_scl([4] * 6)),
            row(3, num_scenes=-1)]
  if reason == 'non_finite_coordinate':
    return [row(0, lon=float('nan')), row(1, lat=float('inf')),
            row(2, lat=None), row(3, lon=float('-inf'))]
  if reason == 'missing_label':
    return [row(0, CDL=None), row(1, CDL=''), row(2, CDL=' \t ')]
  if reason == 'invalid_scl':  # SCL is 0..11; the byte holds up to 255
    return [row(0, scl_vals=codec.encode_scl([4, 12, 4, 4, 4])),
            row(1, scl_vals=codec.encode_scl([255] * 5))]
  if reason == 'date_outside_year':
    last = int(codec.days_in_year(year)) - 1
    return [row(0, img_dates=dates([-1, 10, 20, 30, 40])),
            row(1, img_dates=dates([10, 20, 30, 40, last + 1])),
            row(2, img_dates=codec.encode_dates([0, 0, 0, 0, 0]))]
  if reason == 'no_data':  # every band value of every image is 0
    return [row(0, bands=bytes(features.BAND_BYTES_PER_IMAGE * 5))]
  if reason == 'year_mismatch':  # written under year=2021/
    # Valid rows of another season: only the directory disagrees.
    return [_row(coords, EVAL_YEAR, seed), _row(coords, 2018, seed + 1)]
  if reason == 'year_not_in_splits':
    return [_row(coords, 2018, seed), _row(coords, 2022, seed + 1)]
  raise ValueError(reason)


class Twin(NamedTuple):
  """A kept row with a note, and the same series with sorted, distinct
  dates whose Transform grid must be the same."""
  row: Dict
  twin: Dict


def _twins(note: str, coords: _Coords, year: int, seed: int) -> List[Twin]:
  """Rows with `note` and their clean twins (the picks agree)."""
  rng = np.random.default_rng([seed, year])
  bands = lambda n: rng.integers(1, 10000, (n, features.NUM_BANDS))
  # Days in distinct 5-day bins, so every bin has exactly one image.
  doy = np.array([3, 41, 98, 152, 207, 299])
  scl = np.array([4, 8, 4, 5, 4, 9])
  b = bands(len(doy))
  if note == 'unsorted_dates':
    perm = np.array([3, 0, 5, 1, 4, 2])
    series = lambda: _series(coords, year, doy[perm], b[perm], scl[perm])
  elif note == 'duplicate_dates':
    # The same acquisition from two overlapping tiles: identical values.
    dup = np.array([0, 1, 2, 2, 3, 4, 5, 5])
    series = lambda: _series(coords, year, doy[dup], b[dup], scl[dup])
  elif note == 'unsorted_and_duplicate':
    mix = np.array([5, 2, 0, 2, 4, 1, 3])
    series = lambda: _series(coords, year, doy[mix], b[mix], scl[mix])
  elif note == 'duplicate_differing':
    # Two products of one date that differ: the clean twin keeps the image
    # the documented pick (hash of pixel and bin) chooses.
    row = _series(coords, year, np.append(doy, doy[2]),
                  np.vstack([b, bands(1)]), np.append(scl, scl[2]))
    positions = [2, len(doy)]
    picked = ref.pick_in_bin(
        codec.decode_dates(row[features.IMG_DATES]),
        codec.decode_scl(row[features.SCL_VALS]), positions,
        row[features.LON], row[features.LAT], year,
        int(codec.calendar_bin(codec.jan1_days(year) + doy[2], year)))
    kept = b.copy()
    kept[2] = codec.decode_bands(row[features.BANDS])[picked]
    return [Twin(row, _series(coords, year, doy, kept, scl))]
  else:
    raise ValueError(note)
  return [Twin(series(), _series(coords, year, doy, b, scl))]


NOTE_CASES = ('unsorted_dates', 'duplicate_dates', 'unsorted_and_duplicate',
              'duplicate_differing')
UNKNOWN_CDL_NAMES = ('Mystery Crop', 'Kale')


# Tables that can hold values the reader cannot cast, and every other row.
UNDECODABLE_TABLE = functools.partial(make_table, tiles_binary=True,
                                      num_scenes_type=pa.uint64())
TILES_BINARY_TABLE = functools.partial(make_table, tiles_binary=True)


class Corpus(NamedTuple):
  written: List[Written]
  twins: List[Twin]
  unknown: List[Dict]  # kept rows whose CDL name the mapping does not know


def _write(root: str, source: str, rows: List[Dict],
           table_fn: Callable = make_table) -> None:
  path = os.path.join(root, source)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  pq.write_table(table_fn(rows), path)


def write_corpus(root: str) -> Corpus:
  """Writes the bad-input corpus under `root`; returns what was written."""
  coords = _Coords()
  written, twins, unknown = [], [], []
  files: Dict[str, List[Dict]] = collections.defaultdict(list)
  tables: Dict[str, Callable] = {}
  good = lambda year, seed: _row(coords, year, seed)

  # Generated pixels (realistic series with their own unsorted and
  # duplicate dates) in two plain files.
  generated = part1.generate_table(8, YEARS, seed=21).to_pylist()
  files['gen-0.parquet'] = generated[::2]
  files['gen-1.parquet'] = generated[1::2]

  # Each fault alone in a file, with good rows of every split.
  for k, reason in enumerate(validation.REASONS):
    seed = 100 * (k + 1)
    if reason == 'year_mismatch':
      files[f'{HIVE_DIR}/alone-{reason}.parquet'] = (
          _faults(reason, coords, TRAIN_YEAR, seed) + [good(TRAIN_YEAR, seed)])
      continue
    files[f'alone/{reason}.parquet'] = (
        _faults(reason, coords, TRAIN_YEAR, seed, wide=reason == 'undecodable_value') +
        [good(year, seed + 50) for year in (TRAIN_YEAR, EVAL_YEAR, TEST_YEAR)])
  tables['alone/undecodable_value.parquet'] = UNDECODABLE_TABLE
  # Copies in another file: of an identical row (a duplicate, the first
  # file's copy is kept), and of a good row, differing (both quarantined).
  files['alone/duplicate_across.parquet'] = [
      dict(files['alone/duplicate.parquet'][0]),
      dict(files['alone/null_value.parquet'][-1], CDL='Rice'),
      good(EVAL_YEAR, 950)]
  # A file of 0 rows contributes nothing.
  files['alone/empty.parquet'] = []
  # A whole bytes column null: every row of the file is quarantined.
  files['alone/null_scl_column.parquet'] = [
      good(year, 900 + year) for year in (TRAIN_YEAR, EVAL_YEAR, TEST_YEAR)]
  for row in files['alone/null_scl_column.parquet']:
    row[features.SCL_VALS] = None

  # Each note alone in a file, next to its clean twin.
  for k, note in enumerate(NOTE_CASES):
    for year in (TRAIN_YEAR, TEST_YEAR):
      pairs = _twins(note, coords, year, 2000 + 10 * k)
      twins += pairs
      files[f'alone/{note}.parquet'] += [r for p in pairs for r in p]
  for k, name in enumerate(UNKNOWN_CDL_NAMES):
    rows = [_row(coords, year, 3000 + k, CDL=name)
            for year in (TRAIN_YEAR, EVAL_YEAR)]
    unknown += rows
    files['alone/unknown_cdl.parquet'] += rows
  # A known name in another spelling is not a note.
  files['alone/unknown_cdl.parquet'].append(
      _row(coords, EVAL_YEAR, 3100, CDL='  SOYBEANS '))

  # All of it mixed, twice: flat (three years) and under year=2021/.
  rng = np.random.default_rng(11)
  for source, years in (('mixed.parquet', (TRAIN_YEAR, EVAL_YEAR, TEST_YEAR)),
                        (f'{HIVE_DIR}/mixed.parquet', (TRAIN_YEAR,))):
    rows = [good(year, 4000 + year) for year in years for _ in range(2)]
    for k, reason in enumerate(validation.REASONS):
      if reason == 'year_mismatch' and not source.startswith(HIVE_DIR):
        continue
      if reason == 'year_not_in_splits' and source.startswith(HIVE_DIR):
        continue  # a 2018 row under year=2021/ is a year_mismatch
      rows += _faults(reason, coords, years[k % len(years)], 5000 + 10 * k)
    for k, note in enumerate(NOTE_CASES):
      pairs = _twins(note, coords, years[k % len(years)], 6000 + 10 * k)
      twins += pairs
      rows += [r for p in pairs for r in p]
    row = _row(coords, years[-1], 7000, CDL=UNKNOWN_CDL_NAMES[0])
    unknown.append(row)
    rows.append(row)
    files[source] = [rows[i] for i in rng.permutation(len(rows))]
    tables[source] = TILES_BINARY_TABLE

  for source, rows in files.items():
    _write(root, source, rows, tables.get(source, make_table))
    path_year = TRAIN_YEAR if source.startswith(HIVE_DIR + '/') else None
    written += [Written(r, source, path_year, i) for i, r in enumerate(rows)]
  return Corpus(written, twins, unknown)


def _coords_bytes(row: Dict) -> Dict:
  """The row as the reference Transform takes it (coordinates as bytes)."""
  return dict(row, **{features.LON: codec.encode_coord(row[features.LON]),
                      features.LAT: codec.encode_coord(row[features.LAT])})


def _key(row: Dict) -> helpers.Key:
  return helpers.pixel_key(row[features.LON], row[features.LAT],
                           row[features.YEAR])


class Expected(NamedTuple):
  reasons: Dict[str, int]  # every reason, 0 when none
  by_file: Dict[str, Dict[str, int]]  # source -> reason -> rows
  examples: Dict[str, List[Dict]]  # split -> kept rows
  notes: Dict[str, int]


def _expected(written: List[Written]) -> Expected:
  mapping = features.load_label_mapping()
  reasons = dict.fromkeys(validation.REASONS, 0)
  by_file = collections.defaultdict(collections.Counter)
  examples = {split: [] for split in helpers.SPLITS}
  notes = dict.fromkeys(validation.NOTES, 0)
  row_reasons = [reference_reason(w.row, YEAR_SPLITS, w.path_year) for w in written]
  # Duplicates: among the rows that pass every other check; files in path
  # order, rows in file order.
  valid = [i for i, r in enumerate(row_reasons) if not r]
  for i, reason in zip(valid, reference_duplicates(
      [((written[i].source, written[i].index), written[i].row) for i in valid])):
    row_reasons[i] = reason
  for w, reason in zip(written, row_reasons):
    by_file[w.source][reason or 'kept'] += 1
    if reason:
      reasons[reason] += 1
      continue
    examples[YEAR_SPLITS[w.row[features.YEAR]]].append(w.row)
    for note, flagged in reference_notes(w.row, mapping).items():
      notes[note] += flagged
  return Expected(reasons, {k: dict(v) for k, v in by_file.items()},
                  examples, notes)


@pytest.fixture(scope='module')
def faulty_run(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('faulty_data'))
  corpus = write_corpus(root)
  output = str(tmp_path_factory.mktemp('faulty_run'))
  summary = run_small_pipeline(root, output, last_component='Transform')
  uri = summary['artifacts']['transformed_examples']
  return {'root': root, 'corpus': corpus, 'expected': _expected(corpus.written),
          'summary': summary, 'transformed': helpers.read_transformed(uri)}


def test_corpus_has_every_reason_and_note(faulty_run):
  # Guards the test data: each reason and note occurs, alone and mixed.
  expected = faulty_run['expected']
  for reason in validation.REASONS:
    alone = [s for s in expected.by_file if s.endswith(f'-{reason}.parquet')
             or s.endswith(f'/{reason}.parquet')]
    mixed = [s for s in expected.by_file if s.endswith('mixed.parquet')
             and expected.by_file[s].get(reason)]
    assert len(alone) == 1 and expected.by_file[alone[0]][reason] >= 1, reason
    assert mixed, reason
  # Copies across files, and a file of 0 rows.
  assert expected.by_file['alone/duplicate_across.parquet'] == {
      'duplicate': 1, 'conflicting_duplicate': 1, 'kept': 1}
  assert expected.by_file['alone/null_value.parquet']['conflicting_duplicate'] == 1
  assert 'alone/empty.parquet' not in expected.by_file
  assert all(n > 0 for n in expected.notes.values()), expected.notes
  assert all(rows for rows in expected.examples.values())


def test_counts_per_reason_and_split_reconcile(faulty_run):
  summary, expected = faulty_run['summary'], faulty_run['expected']
  written = faulty_run['corpus'].written
  assert summary['rows_read'] == len(written)
  assert summary['quarantined'] == expected.reasons
  assert summary['examples'] == {
      split: len(rows) for split, rows in expected.examples.items()}
  assert summary['notes'] == expected.notes
  assert summary['rows_read'] == (sum(summary['examples'].values()) +
                                  sum(summary['quarantined'].values()))
  print(f"\n{summary['rows_read']} rows read = {summary['examples']} + "
        f"quarantined {sum(summary['quarantined'].values())} "
        f"{ {r: n for r, n in summary['quarantined'].items() if n} }; "
        f"notes {summary['notes']}")


def test_quarantine_holds_each_bad_row_once_with_its_file_and_reason(
    faulty_run):
  frame = pq.read_table(os.path.join(faulty_run['summary']['quarantine_dir'])
                        ).to_pandas()
  root = faulty_run['root']
  got = collections.Counter(
      (os.path.relpath(f, root), r)
      for f, r in zip(frame['source_file'], frame['reason']))
  want = collections.Counter()
  for source, reasons in faulty_run['expected'].by_file.items():
    for reason, n in reasons.items():
      if reason != 'kept':
        want[(source, reason)] = n
  assert got == want
  # The null bytes column: every row of that file is there, none kept.
  by_file = faulty_run['expected'].by_file
  assert by_file['alone/null_scl_column.parquet'] == {'null_value': 3}


def test_transformed_examples_are_exactly_the_kept_rows(faulty_run):
  transformed, expected = faulty_run['transformed'], faulty_run['expected']
  for split, rows in expected.examples.items():
    got = collections.Counter({k: len(v) for k, v in transformed[split].items()})
    assert got == collections.Counter(_key(r) for r in rows), split
    assert helpers.count_records(
        faulty_run['summary']['artifacts']['transformed_examples'],
        split) == len(rows)


def test_band_statistics_come_from_kept_train_rows_only(faulty_run):
  summary, expected = faulty_run['summary'], faulty_run['expected']
  mean, std = ref.reference_statistics(expected.examples['train'])
  np.testing.assert_allclose(summary['band_mean'], mean, rtol=1e-12)
  np.testing.assert_allclose(summary['band_std'], std, rtol=1e-12)
  # The quarantined train-year rows would have moved them.
  bad_train = [w.row for w in faulty_run['corpus'].written
               if w.row[features.YEAR] == TRAIN_YEAR and
               reference_reason(w.row, YEAR_SPLITS, w.path_year) in (
                   'invalid_scl', 'date_outside_year', 'year_mismatch')]
  leaked, _ = ref.reference_statistics(expected.examples['train'] + bad_train)
  assert np.max(np.abs(leaked / mean - 1)) > 1e-6


def test_kept_rows_transform_like_the_reference(faulty_run):
  summary, expected = faulty_run['summary'], faulty_run['expected']
  mean, std = ref.reference_statistics(expected.examples['train'])
  mapping = features.load_label_mapping()
  n = 0
  for split, rows in expected.examples.items():
    for row in rows:
      examples = faulty_run['transformed'][split][_key(row)]
      assert len(examples) == 1
      got = examples[0]
      want = ref.reference_transform(_coords_bytes(row), mean, std, mapping)
      for key in got:
        if key == features.GRID:
          np.testing.assert_array_max_ulp(got[key], want[key], maxulp=1)
        else:
          np.testing.assert_array_equal(got[key], want[key], err_msg=key)
      n += 1
  assert n == sum(len(r) for r in expected.examples.values())


def test_unsorted_and_duplicate_dates_grid_like_their_clean_twin(faulty_run):
  twins = faulty_run['corpus'].twins
  split_of = lambda row: YEAR_SPLITS[row[features.YEAR]]
  same = ('grid', 'observed', 'vegetation', 'first_bin', 'last_bin', 'label',
          'excluded', 'known_cdl', 'year', 'bbox')
  mapping = features.load_label_mapping()
  for pair in twins:
    notes = reference_notes(pair.row, mapping)
    assert notes['unsorted_dates'] or notes['duplicate_dates']
    assert not any(reference_notes(pair.twin, mapping).values())
    got = faulty_run['transformed'][split_of(pair.row)][_key(pair.row)]
    clean = faulty_run['transformed'][split_of(pair.twin)][_key(pair.twin)]
    assert len(got) == len(clean) == 1
    for key in same:  # bit-exact: same images picked, same statistics
      np.testing.assert_array_equal(got[0][key], clean[0][key], err_msg=key)
    assert got[0]['observed'].sum() == 6
  # Per case: two seasons alone, one row in each mixed file.
  assert len(twins) == 4 * len(NOTE_CASES)


def test_unknown_cdl_maps_to_uncultivated_and_is_flagged(faulty_run):
  transformed = faulty_run['transformed']
  unknown = faulty_run['corpus'].unknown
  assert faulty_run['summary']['notes']['unknown_cdl'] == len(unknown)
  for row in unknown:
    example, = transformed[YEAR_SPLITS[row[features.YEAR]]][_key(row)]
    assert example[features.KNOWN_CDL] == 0
    assert example[features.LABEL] == features.UNCULTIVATED
    assert example[features.EXCLUDED] == 0
  # Every other kept row has a known name.
  unknown_keys = {_key(r) for r in unknown}
  for split, by_key in transformed.items():
    for key, examples in by_key.items():
      if key not in unknown_keys:
        assert all(e[features.KNOWN_CDL] == 1 for e in examples), key
