"""Row builders and a row-by-row reference check for the ExampleGen tests.

No tests here. `reference_reason` is a deliberately plain, per-row Python
version of the contract (decoding with `croptfx.codec`), so the vectorized
`validation` module is checked against an independent implementation.
"""

import math
import os
from typing import Dict, List, Optional

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from croptfx import codec
from croptfx import features

FILE_TYPES = {
    features.LON: pa.float64(),
    features.LAT: pa.float64(),
    features.NUM_SCENES: pa.int64(),
    features.BANDS: pa.binary(),
    features.IMG_DATES: pa.binary(),
    features.SCL_VALS: pa.binary(),
    features.TILES: pa.string(),
    features.BBOX: pa.int64(),
    features.YEAR: pa.int64(),
    features.CDL: pa.string(),
}


def pixel_row(year: int = 2021, n: int = 4, seed: int = 0, **overrides) -> Dict:
  """A valid Part-1 row (dict) with `n` images, then `overrides` applied."""
  rng = np.random.default_rng([seed, year, n])
  jan1 = codec.jan1_days(year)
  days = np.sort(rng.choice(np.arange(jan1, jan1 + 365), n, replace=False))
  row = {
      features.LON: float(-90.5 + rng.random() / 3),  # full float64 digits
      features.LAT: float(33.3 + rng.random() / 3),
      features.NUM_SCENES: n,
      features.BANDS: codec.encode_bands(rng.integers(1, 10000, (n, 12))),
      features.IMG_DATES: codec.encode_dates(days),
      features.SCL_VALS: codec.encode_scl(rng.choice([4, 5, 8, 9], n)),
      features.TILES: ','.join(['15SXA_0'] * n),
      features.BBOX: 549301 + int(rng.integers(0, 9)),
      features.YEAR: year,
      features.CDL: 'Corn',
  }
  row.update(overrides)
  return row


def make_table(rows: List[Dict], slides_columns: bool = False,
               tiles_binary: bool = False, drop_year: bool = False,
               num_scenes_type: pa.DataType = pa.int64()) -> pa.Table:
  """Rows -> an Arrow table as a file would hold them."""
  types = dict(FILE_TYPES, **{features.NUM_SCENES: num_scenes_type})
  if tiles_binary:
    types[features.TILES] = pa.binary()
  arrays, names = [], []
  for name in features.RAW_COLUMNS:
    if name == features.YEAR and drop_year:
      continue
    values = [row.get(name) for row in rows]
    if name == features.TILES:  # Either spelling of the values.
      values = [v.encode() if tiles_binary and isinstance(v, str) else
                v.decode() if not tiles_binary and isinstance(v, bytes) else v
                for v in values]
    arrays.append(pa.array(values, types[name]))
    names.append(name)
  if slides_columns:
    renames = {v: k for k, v in features.COLUMN_ALIASES.items()}
    names = [renames.get(n, n) for n in names]
  return pa.Table.from_arrays(arrays, names)


def write_parquet(path: str, rows: List[Dict], **table_args) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  pq.write_table(make_table(rows, **table_args), path)
  return path


INT64_MIN, INT64_MAX = -2**63, 2**63 - 1


def _undecodable(row: Dict) -> bool:
  """A value the reader cannot cast: text bytes that are not UTF-8, an
  integer beyond int64."""
  for name in (features.TILES, features.CDL):
    value = row.get(name)
    if isinstance(value, bytes):
      try:
        value.decode('utf-8')
      except UnicodeDecodeError:
        return True
  return any(row.get(c) is not None and not INT64_MIN <= row[c] <= INT64_MAX
             for c in (features.NUM_SCENES, features.BBOX, features.YEAR))


def reference_reason(row: Dict, year_splits=None,
                     path_year: Optional[int] = None) -> str:
  """The first failing check of one row, written plainly (see validation).

  The duplicate reasons depend on other rows: `reference_duplicates`.
  """
  if _undecodable(row):
    return 'undecodable_value'
  n = row[features.NUM_SCENES]
  if any(row.get(c) is None for c in (
      features.NUM_SCENES, features.BANDS, features.IMG_DATES,
      features.SCL_VALS, features.YEAR, features.TILES, features.BBOX)):
    return 'null_value'
  if n == 0:
    return 'zero_scenes'
  if (len(row[features.BANDS]) != 24 * n or
      len(row[features.IMG_DATES]) != 2 * n or
      len(row[features.SCL_VALS]) != n):
    return 'byte_length'
  for c in (features.LON, features.LAT):
    if row[c] is None or not math.isfinite(row[c]):
      return 'non_finite_coordinate'
  if not (-180 <= row[features.LON] <= 180 and -90 <= row[features.LAT] <= 90):
    return 'coordinate_out_of_range'
  if row[features.CDL] is None or not row[features.CDL].strip():
    return 'missing_label'
  if any(v > 11 for v in codec.decode_scl(row[features.SCL_VALS])):
    return 'invalid_scl'
  year = row[features.YEAR]
  jan1 = codec.jan1_days(year)
  last = jan1 + int(codec.days_in_year(year)) - 1
  days = codec.decode_dates(row[features.IMG_DATES])
  if any(not jan1 <= d <= last for d in days):
    return 'date_outside_year'
  if not codec.decode_bands(row[features.BANDS]).any():
    return 'no_data'
  if path_year is not None and year != path_year:
    return 'year_mismatch'
  if year_splits is not None and year not in year_splits:
    return 'year_not_in_splits'
  return ''


def _same(a: Dict, b: Dict) -> bool:
  """Every column equal (text as text, whichever type the file held)."""
  text = lambda v: v.decode() if isinstance(v, bytes) else v
  return all((text(a.get(c)) if c in (features.TILES, features.CDL) else a.get(c)) ==
             (text(b.get(c)) if c in (features.TILES, features.CDL) else b.get(c))
             for c in features.RAW_COLUMNS)


def reference_duplicates(valid: List[tuple]) -> List[str]:
  """The duplicate rule over the rows that pass every other check.

  Args:
    valid: (order, row) of those rows; order = (file path, row number).

  Returns:
    Per row, in the order given: '' (kept), 'duplicate' (an identical copy
    of an earlier row) or 'conflicting_duplicate' (copies disagree).
  """
  groups = {}
  for i, (_, row) in enumerate(valid):
    key = (row[features.LON], row[features.LAT], row[features.YEAR])
    groups.setdefault(key, []).append(i)
  reasons = [''] * len(valid)
  for members in groups.values():
    if len(members) == 1:
      continue
    rows = [valid[i][1] for i in members]
    if not all(_same(rows[0], r) for r in rows[1:]):
      for i in members:
        reasons[i] = 'conflicting_duplicate'
      continue
    first = min(members, key=lambda i: valid[i][0])
    for i in members:
      reasons[i] = '' if i == first else 'duplicate'
  return reasons


def reference_notes(row: Dict, label_mapping) -> Dict[str, bool]:
  days = list(codec.decode_dates(row[features.IMG_DATES]))
  return {
      'unsorted_dates': days != sorted(days),
      'duplicate_dates': len(set(days)) != len(days),
      'unknown_cdl': not label_mapping.lookup(row[features.CDL])[2],
  }
