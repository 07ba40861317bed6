"""Row accounting of a ParquetExampleGen run.

Stored in the output Examples artifact beside the `Split-*` directories (the
layout is in `croptfx.layouts`, the reader in `croptfx.outputs`): `counts.json` holds the
counts below and `quarantine/` the quarantined rows (the normalized input
columns plus `source_file` and `reason`). The counts reconcile exactly:
rows_read = sum(examples) + sum(quarantined). `rows_by_year` counts the
rows read per `year` value (valid or not; a null year is not counted), so
an empty split can say whether its year was missing or all quarantined.

  {"rows_read": 3000, "files": 3,
   "rows_by_year": {"2019": 1000, "2020": 1000, "2021": 1000},
   "examples": {"train": 990, "eval": 995, "test": 993},
   "quarantined": {"null_value": 2, ..., "year_not_in_splits": 0},
   "notes": {"unsorted_dates": 5, "duplicate_dates": 3, "unknown_cdl": 1}}

The same numbers are custom properties of the artifact (so they are in ML
Metadata): ints `rows_read`, `files`, `examples_<split>`,
`quarantined_<reason>`, `<note>`, and the string `counts` with the JSON.
"""

import json
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Union

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from croptfx import features
from croptfx import layouts
from croptfx.rows import validation

COUNTS_PROPERTY = 'counts'

Counts = Dict[str, Any]


def zero_counts(split_names: Sequence[str]) -> Counts:
  return {
      'rows_read': 0,
      'files': 0,
      'rows_by_year': {},
      'examples': {name: 0 for name in split_names},
      'quarantined': {reason: 0 for reason in validation.REASONS},
      'notes': {note: 0 for note in validation.NOTES},
  }


def add_counts(total: Counts, part: Mapping[str, Any]) -> Counts:
  """Adds `part` into `total` (nested dicts of ints), returning `total`."""
  for key, value in part.items():
    if isinstance(value, Mapping):
      add_counts(total.setdefault(key, {}), value)
    else:
      total[key] = total.get(key, 0) + value
  return total


def merge_counts(parts: Iterable[Mapping[str, Any]]) -> Counts:
  """Sums partial counts; associative, so usable as a Beam combine fn."""
  total = {}
  for part in parts:
    add_counts(total, part)
  return total


def complete_counts(partial: Mapping[str, Any],
                    split_names: Sequence[str]) -> Counts:
  """Adds the missing keys (as 0) so every run reports the same keys."""
  return add_counts(zero_counts(split_names), partial)


def empty_split_problem(counts: Counts, year_splits: Mapping[int, str]) -> Optional[str]:
  """One line naming the first split without examples and its years, or None."""
  for split, n in counts['examples'].items():
    if n:
      continue
    years = features.years_of_split(year_splits, split)
    read = {y: counts.get('rows_by_year', {}).get(str(y), 0) for y in years}
    year_text = ', '.join(map(str, years))
    if not any(read.values()):
      why = f'the data has no rows of {year_text}'
    else:
      why = (f'all {sum(read.values())} rows of {year_text} were quarantined '
             '(see counts.json and quarantine/)')
    label = 'years' if len(years) > 1 else 'year'
    return (f'split {split!r} ({label} {year_text}) is empty: {why}; the pipeline '
            'stops before Transform (fix the data, or --years / --year-splits)')
  return None


def check_reconciled(counts: Counts) -> None:
  read = counts['rows_read']
  accounted = (sum(counts['examples'].values()) +
               sum(counts['quarantined'].values()))
  if read != accounted:
    raise RuntimeError(f'row counts do not reconcile: {read} read, '
                       f'{accounted} emitted or quarantined: {counts}')


def write_counts(counts: Counts, examples_uri: str) -> None:
  with FileSystems.create(layouts.counts_path(examples_uri), 'application/json',
                          CompressionTypes.UNCOMPRESSED) as f:
    f.write(json.dumps(counts, indent=1).encode('utf-8'))


def to_custom_properties(counts: Counts) -> Dict[str, Union[int, str]]:
  """Flat artifact custom properties holding the same numbers."""
  properties = {'rows_read': counts['rows_read'], 'files': counts['files']}
  for split, n in counts['examples'].items():
    properties[f'examples_{split}'] = n
  for reason, n in counts['quarantined'].items():
    properties[f'quarantined_{reason}'] = n
  properties.update(counts['notes'])
  properties[COUNTS_PROPERTY] = json.dumps(counts)
  return properties
