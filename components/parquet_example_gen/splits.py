"""The year -> split mapping: parsing, JSON form, output split names.

The roles of the splits (train, eval, others) are `features.split_roles`.
"""

import json
from typing import Any, Dict, List, Mapping, Union

from croptfx import features

def parse_year_splits(value: Union[str, Mapping[Any, str]]) -> Dict[int, str]:
  """Year -> split name from a mapping or its JSON.

  Raises:
    ValueError: no mapping, a key is not a year, or the splits are not
      valid (`features.check_year_splits`).
  """
  if value is None or value == '':
    raise ValueError('year_splits is required (pipeline/configs.py YEAR_SPLITS)')
  if isinstance(value, str):
    value = json.loads(value)
  result = {}
  for year, name in value.items():
    try:
      result[int(year)] = name
    except (TypeError, ValueError):
      raise ValueError(f'year_splits: {year!r} is not a year') from None
  if not result:
    raise ValueError('year_splits is empty')
  try:
    return features.check_year_splits(result)
  except ValueError as e:
    raise ValueError(f'year_splits: {e}') from None


def split_names(year_splits: Mapping[int, str]) -> List[str]:
  """The distinct split names in role order (`features.split_roles`)."""
  return list(features.split_names(year_splits))


def year_splits_json(year_splits: Mapping[int, str]) -> str:
  """The exec-property form: {"2021": "train", ...}."""
  return json.dumps({str(year): name for year, name in year_splits.items()})
