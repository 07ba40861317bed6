"""Row checks of the Part-1 contract, vectorized over normalized batches.

Pure NumPy/pyarrow (no Beam, no TensorFlow), so ExampleGen, `croptfx predict`
and the benchmarks share one definition of a bad row. Input is a record batch
(or table) in `reader.NORMALIZED_SCHEMA`; the per-image checks run on the
concatenated value buffers with `np.*.reduceat`, never a Python loop per row.

A row gets the first reason that applies, in `REASONS` order:
  undecodable_value      a value the reader could not cast: `tiles`/`CDL`
                         bytes that are not UTF-8, an integer beyond int64
                         (`reader.read_rows` gives these per row)
  null_value             a null in num_scenes, bands, img_dates, scl_vals,
                         year, tiles or bbox
  zero_scenes            num_scenes (N) is 0
  byte_length            bands not 24 x N bytes, img_dates not 2 x N, scl_vals
                         not N (a negative N fails here)
  non_finite_coordinate  lon or lat null, NaN or infinite
  coordinate_out_of_range  lon outside [-180, 180] or lat outside [-90, 90]
  missing_label          CDL null, empty or blank
  invalid_scl            an SCL value above 11
  date_outside_year      an image date outside Jan 1 .. Dec 31 of `year`
  no_data                every band value of every image is 0
  year_mismatch          the `year` column disagrees with the file's Hive
                         directory `year=YYYY` (only when both exist)
  year_not_in_splits     `year` is not a key of the year -> split mapping
                         (checked only when a mapping is given)
  duplicate              the same pixel-year (lon, lat, year) as an earlier
                         row, every column equal: the first row (by file
                         path, then row order) is kept, the copies are
                         quarantined
  conflicting_duplicate  the same pixel-year as another row, some column
                         different: every copy is quarantined (which one
                         is right cannot be told)
The two duplicate reasons are judged among the rows that pass every other
check, over the whole input (`duplicates`, in the ExampleGen's Beam job);
`check_rows` never gives them.
Informational notes on rows that pass (they are kept): `unsorted_dates`,
`duplicate_dates` (the same date twice in a row, from overlapping tiles) and
`unknown_cdl` (a CDL name the label mapping does not know; it maps to
Uncultivated).
"""

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from croptfx import codec
from croptfx import features

REASONS = ('undecodable_value', 'null_value', 'zero_scenes', 'byte_length',
           'non_finite_coordinate', 'coordinate_out_of_range', 'missing_label',
           'invalid_scl', 'date_outside_year', 'no_data', 'year_mismatch',
           'year_not_in_splits', 'duplicate', 'conflicting_duplicate')
DUPLICATE = 'duplicate'
CONFLICTING_DUPLICATE = 'conflicting_duplicate'
# Valid coordinate ranges, degrees (inclusive).
LON_RANGE = (-180.0, 180.0)
LAT_RANGE = (-90.0, 90.0)
NOTES = ('unsorted_dates', 'duplicate_dates', 'unknown_cdl')
# lon/lat nulls are `non_finite_coordinate` and CDL nulls `missing_label`.
# tiles and bbox are checked too: an example without them would break
# downstream components that expect every raw feature.
NULL_CHECKED_COLUMNS = (features.NUM_SCENES, features.BANDS,
                        features.IMG_DATES, features.SCL_VALS, features.YEAR,
                        features.TILES, features.BBOX)
# codes[i] == 0: valid; codes[i] == k > 0: REASONS[k - 1].
_REASON_OF_CODE = np.array(('',) + REASONS, dtype=object)


@dataclasses.dataclass(frozen=True)
class RowChecks:
  """Per-row outcome of `check_rows`; all arrays have one entry per row."""
  codes: np.ndarray  # int8, 0 = valid, k = REASONS[k - 1]
  unsorted_dates: np.ndarray  # bool, only ever True on valid rows
  duplicate_dates: np.ndarray
  unknown_cdl: np.ndarray

  @property
  def valid(self) -> np.ndarray:
    return self.codes == 0

  @property
  def reasons(self) -> np.ndarray:
    """Object array of reason strings, '' for valid rows."""
    return _REASON_OF_CODE[self.codes]

  def reason_counts(self) -> Dict[str, int]:
    """Rows per reason, every reason present (0 when none)."""
    counts = np.bincount(self.codes, minlength=len(REASONS) + 1)
    return {reason: int(counts[i + 1]) for i, reason in enumerate(REASONS)}

  def note_counts(self) -> Dict[str, int]:
    return {note: int(getattr(self, note).sum()) for note in NOTES}


def _column(batch, name: str) -> pa.Array:
  column = batch.column(name)
  if isinstance(column, pa.ChunkedArray):
    column = (pa.concat_arrays(column.chunks) if column.num_chunks
              else pa.array([], column.type))
  return column


def _nulls(array: pa.Array) -> np.ndarray:
  return array.is_null().to_numpy(zero_copy_only=False)


def _ints(array: pa.Array) -> np.ndarray:
  return array.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)


def _byte_lengths(array: pa.Array) -> np.ndarray:
  return _ints(pc.binary_length(array))


def _values(array: pa.Array) -> np.ndarray:
  """The concatenated bytes of a binary array without nulls, as uint8."""
  offsets = np.frombuffer(array.buffers()[1], np.int32)[
      array.offset:array.offset + len(array) + 1]
  data = array.buffers()[2]
  if data is None:
    return np.zeros(0, np.uint8)
  return np.frombuffer(data, np.uint8)[offsets[0]:offsets[-1]]


def check_rows(batch: Union[pa.RecordBatch, pa.Table],
               year_splits: Optional[Mapping[int, str]] = None,
               path_year: Optional[int] = None,
               label_mapping: Optional[features.LabelMapping] = None,
               for_prediction: bool = False,
               cast_faults: Optional[np.ndarray] = None,
               ) -> RowChecks:
  """Checks every row of a normalized batch (see the module doc).

  Args:
    batch: rows in `reader.NORMALIZED_SCHEMA`.
    year_splits: year -> split name; years outside it are quarantined.
      None skips that check (e.g. for prediction).
    path_year: the year of the rows' Hive directory, if any.
    label_mapping: for the `unknown_cdl` note; default the bundled mapping.
    for_prediction: the row only needs what a prediction uses: CDL, tiles
      and bbox may be null (no `missing_label`, no `unknown_cdl`).
    cast_faults: rows whose value the reader could not cast
      (`reader.Rows.cast_faults`); they are `undecodable_value`.

  Returns:
    The reason code of every row and the informational notes.
  """
  n = batch.num_rows
  codes = np.zeros(n, np.int8)

  def flag(reason, mask, rows=None):
    """Gives `reason` to rows (all, or `rows`) where `mask` holds and no
    earlier reason applies."""
    code = REASONS.index(reason) + 1
    if rows is None:
      codes[(codes == 0) & mask] = code
    else:
      rows = rows[mask]
      codes[rows[codes[rows] == 0]] = code

  if cast_faults is not None:
    flag('undecodable_value', np.asarray(cast_faults, bool))

  null = np.zeros(n, bool)
  for name in NULL_CHECKED_COLUMNS:
    if for_prediction and name in features.PREDICTION_OPTIONAL_COLUMNS:
      continue
    null |= _nulls(_column(batch, name))
  flag('null_value', null)

  scenes = _ints(_column(batch, features.NUM_SCENES))
  flag('zero_scenes', scenes == 0)

  bands = _column(batch, features.BANDS)
  dates = _column(batch, features.IMG_DATES)
  scl = _column(batch, features.SCL_VALS)
  flag('byte_length',
       (_byte_lengths(bands) != features.BAND_BYTES_PER_IMAGE * scenes) |
       (_byte_lengths(dates) != features.DATE_BYTES_PER_IMAGE * scenes) |
       (_byte_lengths(scl) != features.SCL_BYTES_PER_IMAGE * scenes))

  finite = np.ones(n, bool)
  in_range = np.ones(n, bool)
  for name, (low, high) in ((features.LON, LON_RANGE), (features.LAT, LAT_RANGE)):
    # Nulls become NaN in to_numpy for float arrays.
    values = _column(batch, name).to_numpy(zero_copy_only=False).astype(np.float64)
    finite &= np.isfinite(values)
    with np.errstate(invalid='ignore'):
      in_range &= (values >= low) & (values <= high)
  flag('non_finite_coordinate', ~finite)
  flag('coordinate_out_of_range', ~in_range)

  cdl = _column(batch, features.CDL)
  if not for_prediction:
    blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(cdl)), 0)
    flag('missing_label', blank.fill_null(True).to_numpy(zero_copy_only=False))

  year = _ints(_column(batch, features.YEAR))
  unsorted = np.zeros(n, bool)
  duplicate = np.zeros(n, bool)

  # Per-image checks, on the rows whose byte lengths agree with N (so the
  # compacted buffers line up image by image). Every such row has N > 0.
  rows = np.flatnonzero(codes == 0)
  if rows.size:
    take = pa.array(rows)
    n_images = scenes[rows]
    starts = np.concatenate(([0], np.cumsum(n_images)[:-1]))
    scl_values = _values(scl.take(take))
    flag('invalid_scl',
         np.maximum.reduceat(scl_values, starts) > features.SCL_MAX, rows)

    days = _values(dates.take(take)).view(codec.DATES_DTYPE).astype(np.int64)
    jan1 = codec.jan1_days(year[rows])
    dec31 = codec.jan1_days(year[rows] + 1) - 1
    flag('date_outside_year',
         (np.minimum.reduceat(days, starts) < jan1) |
         (np.maximum.reduceat(days, starts) > dec31), rows)

    band_bytes = _values(bands.take(take))
    flag('no_data', np.maximum.reduceat(
        band_bytes, starts * features.BAND_BYTES_PER_IMAGE) == 0, rows)

    row_of_image = np.repeat(np.arange(rows.size), n_images)
    same_row = row_of_image[1:] == row_of_image[:-1]
    backwards = same_row & (days[1:] < days[:-1])
    unsorted[rows[np.unique(row_of_image[1:][backwards])]] = True
    keys = np.sort(row_of_image * (1 << 17) + days)  # days < 2**16
    repeated = keys[1:] == keys[:-1]
    duplicate[rows[np.unique(keys[1:][repeated] >> 17)]] = True

  if path_year is not None:
    flag('year_mismatch', year != path_year)
  if year_splits is not None:
    flag('year_not_in_splits',
         ~np.isin(year, np.array(list(year_splits), np.int64)))

  valid = codes == 0
  return RowChecks(
      codes=codes,
      unsorted_dates=unsorted & valid,
      duplicate_dates=duplicate & valid,
      unknown_cdl=(np.zeros(n, bool) if for_prediction
                   else _unknown_cdl(cdl, valid, label_mapping)))


def _unknown_cdl(cdl: pa.Array, valid: np.ndarray,
                 label_mapping: Optional[features.LabelMapping]) -> np.ndarray:
  """Rows whose CDL name the mapping does not know (looked up per name)."""
  unknown = np.zeros(len(cdl), bool)
  rows = np.flatnonzero(valid)
  if not rows.size:
    return unknown
  mapping = label_mapping or features.load_label_mapping()
  encoded = cdl.take(pa.array(rows)).dictionary_encode()
  known = np.array([mapping.lookup(name)[2]
                    for name in encoded.dictionary.to_pylist()], bool)
  unknown[rows] = ~known[encoded.indices.to_numpy(zero_copy_only=False)]
  return unknown


# A prediction's row fault: the as-of date is not in the row's season year
# (the model windows the season up to the as-of date of the row's year).
def duplicate_reasons(copies: Sequence[Tuple[Any, bytes]]) -> List[str]:
  """The duplicate rule for the valid rows of one pixel-year.

  Args:
    copies: (order key, content) of every valid row with the same (lon,
      lat, year); the order key sorts rows by file path, then row number;
      content holds every column (e.g. the serialized example).

  Returns:
    One reason per copy, in the order given: '' (kept), `duplicate` or
    `conflicting_duplicate`.
  """
  if len(copies) == 1:
    return ['']
  if len({content for _, content in copies}) > 1:
    return [CONFLICTING_DUPLICATE] * len(copies)
  first = min(range(len(copies)), key=lambda i: copies[i][0])
  return ['' if i == first else DUPLICATE for i in range(len(copies))]
