"""The project's constants: the one place that defines the data contract.

Band names, the calendar binning, the in-season window, the class list and
colours, the CDL -> class mapping (loaded from data) and the feature keys of
the raw and transformed examples. Every other module (transform, trainer, serving, report,
benchmarks, tests) imports them from here.
"""

import dataclasses
import datetime
import functools
import json
import os
import re
from typing import Dict, Mapping, Optional, Tuple

import pyarrow as pa

from croptfx import paths

# Sentinel-2 L2A bands in the order they are packed in the `bands` column.
BAND_NAMES = ('B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A',
              'B09', 'B11', 'B12')
NUM_BANDS = len(BAND_NAMES)
RED_BAND = BAND_NAMES.index('B04')
NIR_BAND = BAND_NAMES.index('B08')

# Calendar binning: bin = (date - Jan 1) // BIN_DAYS; day 365 of a leap year
# would make a 74th bin, so it is folded into the last one.
BIN_DAYS = 5
BINS_PER_YEAR = 73
# In-season window the model sees: 36 bins = 180 days ending at the as-of bin.
WINDOW_BINS = 36
# Training draws the as-of date at least this long after the first image.
MIN_DAYS_AFTER_FIRST_IMAGE = 30
MIN_BINS_AFTER_FIRST_IMAGE = MIN_DAYS_AFTER_FIRST_IMAGE // BIN_DAYS
# The label of a crop is gated on vegetation among this many last observations.
GATING_OBSERVATIONS = 2

# Sentinel-2 Scene Classification (SCL) values.
SCL_VEGETATION = 4
SCL_MAX = 11
# Not a clear view of the ground: no data, saturated, cloud shadow, cloud
# medium/high probability, thin cirrus, snow.
SCL_NOT_CLEAR = (0, 1, 3, 8, 9, 10, 11)

# Training classes, in index order (docs/data-contract.md, "Labels").
CLASS_NAMES = ('No Crops Growing', 'Uncultivated', 'Cultivated', 'Corn',
               'Soybeans', 'Cotton', 'Rice')
NUM_CLASSES = len(CLASS_NAMES)
# One colour per class, in class order, used by the report's figures and the
# maps' colour tables. They follow the Cropland Data Layer's own legend where
# a class has one (corn yellow, soybeans green, cotton red, rice blue), which
# readers of CDL maps already know.
CLASS_COLORS = dict(zip(CLASS_NAMES, (
    '#b5a27f',  # No Crops Growing: bare soil
    '#8fbf8f',  # Uncultivated: grass / forest green
    '#a0522d',  # Cultivated (other crops): CDL wheat brown
    '#e5b800',  # Corn: CDL yellow, darkened to read as a line on white
    '#2d7a00',  # Soybeans: CDL dark green
    '#e0303a',  # Cotton: CDL red
    '#0099d6',  # Rice: CDL aqua
)))
NO_CROPS_GROWING = CLASS_NAMES.index('No Crops Growing')
UNCULTIVATED = CLASS_NAMES.index('Uncultivated')
# Classes whose label is gated on recent vegetation.
CROP_CLASSES = tuple(range(CLASS_NAMES.index('Cultivated'), NUM_CLASSES))
# `label` value of excluded rows (double crops); never trained on.
EXCLUDED_LABEL = -1

# Splits by season year, never by random row (the default years are in
# pipeline/configs.py).
TRAIN_SPLIT = 'train'
EVAL_SPLIT = 'eval'
TEST_SPLIT = 'test'
# The default names, in role order (`--years A,B,C` names A train, B eval,
# C test); any other names work through `split_roles`.
SPLIT_ORDER = (TRAIN_SPLIT, EVAL_SPLIT, TEST_SPLIT)


# A split name becomes a directory name (`Split-<name>`): letters, digits,
# '_', '-' and '.'.
SPLIT_NAME_PATTERN = re.compile(r'[\w.-]+')


def check_split_name(name: object) -> str:
  """`name` if it is a valid split name; ValueError saying why otherwise."""
  if not isinstance(name, str) or not SPLIT_NAME_PATTERN.fullmatch(name):
    raise ValueError(f'split name {name!r} must be letters, digits, "_", "-" or "."')
  return name


@dataclasses.dataclass(frozen=True)
class SplitRoles:
  """What each split of a year -> split mapping is used for.

  train: what Transform analyzes (band statistics) and the Trainer fits.
  eval: the Trainer's validation data, what the Evaluator scores and blesses.
  others: evaluated by the SeasonEvaluator and shown in the report only.
  """
  train: str
  eval: str
  others: Tuple[str, ...]

  @property
  def names(self) -> Tuple[str, ...]:
    """Every split, in role order: train, eval, then the others."""
    return (self.train, self.eval) + self.others

  @property
  def evaluated(self) -> Tuple[str, ...]:
    """The splits the SeasonEvaluator scores (all but the train split)."""
    return (self.eval,) + self.others

  def to_dict(self) -> Dict[str, object]:
    return {'train': self.train, 'eval': self.eval, 'others': list(self.others)}


def split_roles(year_splits: Mapping[int, str]) -> SplitRoles:
  """The role of every split name of `year_splits` (the one rule).

  A split named `train` has the train role and one named `eval` the eval
  role; otherwise the distinct names in the order given take them: the
  first the train role, the next the eval role (`--year-splits
  2021=fit,2020=valid,2019=test`: fit trains, valid evaluates, test is
  another). Every other name is one of the others, in the order given.

  Raises:
    ValueError: fewer than two distinct split names (no eval split).
  """
  names = list(dict.fromkeys(year_splits.values()))
  if len(names) < 2:
    raise ValueError(f'year splits need at least two split names (a train and an eval '
                     f'split), got {dict(year_splits)}')
  train = TRAIN_SPLIT if TRAIN_SPLIT in names else names[0]
  rest = [n for n in names if n != train]
  evaluation = EVAL_SPLIT if EVAL_SPLIT in rest else rest[0]
  return SplitRoles(train, evaluation, tuple(n for n in rest if n != evaluation))


def check_year_splits(year_splits: Mapping[int, str]) -> Mapping[int, str]:
  """`year_splits` if every name is a split name and the roles are complete
  (a train and an eval split); ValueError saying why otherwise."""
  for name in year_splits.values():
    check_split_name(name)
  split_roles(year_splits)
  return year_splits


def split_names(year_splits: Mapping[int, str]) -> Tuple[str, ...]:
  """The distinct split names of `year_splits`, in role order."""
  return split_roles(year_splits).names


def years_of_split(year_splits: Mapping[int, str], split: str) -> Tuple[int, ...]:
  """The season years of one split, sorted."""
  return tuple(sorted(y for y, name in year_splits.items() if name == split))

EPOCH = datetime.date(1970, 1, 1)

# Raw columns / tf.Example feature keys (docs/data-contract.md, "Part-1 rows").
LON = 'lon'
LAT = 'lat'
NUM_SCENES = 'num_scenes'
BANDS = 'bands'
IMG_DATES = 'img_dates'
SCL_VALS = 'scl_vals'
TILES = 'tiles'
BBOX = 'bbox'
YEAR = 'year'
CDL = 'CDL'


@dataclasses.dataclass(frozen=True)
class InputColumn:
  """One input column: the data contract of a Part-1 Parquet file.

  file_type: Arrow type in a Part-1 file (what `croptfx generate` writes).
  accepts: what the reader takes from a file: 'number', 'integer', 'binary'
    (strings refused: bytes that are not UTF-8 break the stock ExampleGen) or
    'text' (string or binary).
  normalized_type: Arrow type after the reader normalizes a batch.
  example_dtype: tf.Example feature type ('string' = bytes_list).
  """
  name: str
  aliases: Tuple[str, ...]
  file_type: str
  accepts: str
  normalized_type: str
  example_dtype: str
  meaning: str


# The one table of input columns; the reader's and generator's Arrow schemas,
# the raw feature spec and the accepted spellings are derived from it.
INPUT_COLUMNS = (
    InputColumn(LON, (), 'float64', 'number', 'float64', 'string',
                'degrees; in the example, 8-byte big-endian float64 (exact)'),
    InputColumn(LAT, (), 'float64', 'number', 'float64', 'string',
                'degrees; as lon'),
    InputColumn(NUM_SCENES, ('# scenes',), 'int64', 'integer', 'int64', 'int64',
                'number of images N'),
    InputColumn(BANDS, (), 'binary', 'binary', 'binary', 'string',
                'uint16 big-endian [N, 12], reflectance x 10000'),
    InputColumn(IMG_DATES, ('img dates',), 'binary', 'binary', 'binary', 'string',
                'uint16 big-endian days since 1970-01-01 [N]'),
    InputColumn(SCL_VALS, (), 'binary', 'binary', 'binary', 'string',
                'uint8 Scene Classification [N]'),
    InputColumn(TILES, (), 'binary', 'text', 'string', 'string',
                'Sentinel-2 tiles, comma-separated, UTF-8'),
    InputColumn(BBOX, (), 'int64', 'integer', 'int64', 'int64', 'area id'),
    InputColumn(YEAR, (), 'int64', 'integer', 'int64', 'int64',
                'season year (or a Hive year=YYYY directory)'),
    InputColumn(CDL, (), 'string', 'text', 'string', 'string',
                'Cropland Data Layer class name, UTF-8'),
)
RAW_COLUMNS = tuple(c.name for c in INPUT_COLUMNS)
# Columns a prediction does not need: the label is what it predicts, tiles and
# the area id do not change it (serving and the map job's row checks).
PREDICTION_OPTIONAL_COLUMNS = (CDL, TILES, BBOX)
# The slides' spellings, accepted on input.
COLUMN_ALIASES = {alias: c.name for c in INPUT_COLUMNS for alias in c.aliases}


def _arrow_schema(type_of):
  return pa.schema([(c.name, getattr(pa, type_of(c))()) for c in INPUT_COLUMNS])


def file_schema():
  """Arrow schema of a Part-1 file (as `croptfx generate` writes it)."""
  return _arrow_schema(lambda c: c.file_type)


def normalized_schema():
  """Arrow schema of the reader's normalized record batches."""
  return _arrow_schema(lambda c: c.normalized_type)


def raw_feature_spec():
  """tf.io feature spec of the raw tf.Examples ([] shapes; TFX's SchemaGen
  infers the same keys with shape [1])."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return {c.name: tf.io.FixedLenFeature([], tf.as_dtype(c.example_dtype))
          for c in INPUT_COLUMNS}


# Byte widths of one image in the packed columns.
BAND_BYTES_PER_IMAGE = 2 * NUM_BANDS  # uint16 big-endian x 12
DATE_BYTES_PER_IMAGE = 2  # uint16 big-endian days since 1970-01-01
SCL_BYTES_PER_IMAGE = 1  # uint8
# lon/lat travel as 8-byte big-endian float64 in the raw tf.Examples so they
# are kept exactly (tf.train.Example floats are float32).
COORD_BYTES = 8

# Transformed feature keys (the Transform output the Trainer reads).
GRID = 'grid'
OBSERVED = 'observed'
VEGETATION = 'vegetation'
FIRST_BIN = 'first_bin'
LAST_BIN = 'last_bin'
LABEL = 'label'
EXCLUDED = 'excluded'
KNOWN_CDL = 'known_cdl'
# Passthrough ids for plots and error analysis.
PASSTHROUGH = (LON, LAT, YEAR, BBOX)

# What `preprocessing_fn` returns per example: (key, shape, dtype, meaning).
TRANSFORMED_FEATURES = (
    (GRID, (BINS_PER_YEAR, NUM_BANDS), 'float32', 'normalized, 0 when empty'),
    (OBSERVED, (BINS_PER_YEAR,), 'int64', '0/1'),
    (VEGETATION, (BINS_PER_YEAR,), 'int64', '0/1, picked image SCL == 4'),
    (FIRST_BIN, (), 'int64', 'bin of the first image'),
    (LAST_BIN, (), 'int64', 'bin of the last image'),
    (LABEL, (), 'int64', 'class before gating, EXCLUDED_LABEL for double crops'),
    (EXCLUDED, (), 'int64', '0/1'),
    (KNOWN_CDL, (), 'int64', '0/1, the CDL name is in the mapping'),
    (LON, (), 'float32', 'passthrough'),
    (LAT, (), 'float32', 'passthrough'),
    (YEAR, (), 'int64', 'passthrough'),
    (BBOX, (), 'int64', 'passthrough'),
)


def transformed_feature_spec():
  """tf.io feature spec of the transformed examples."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return {key: tf.io.FixedLenFeature(list(shape), tf.as_dtype(dtype))
          for key, shape, dtype, _ in TRANSFORMED_FEATURES}


# Model inputs / serving.
WINDOW = 'window'  # float32 [WINDOW_BINS, NUM_BANDS]
WINDOW_OBSERVED = 'window_observed'  # float32 [WINDOW_BINS]
WINDOW_VEGETATION = 'window_vegetation'  # float32 [WINDOW_BINS]
AS_OF_DAY = 'as_of_day'  # float32 day of year (1-based) of the as-of date


def as_of_bin_for_day(day_of_year):
  """Last bin complete on day `day_of_year` (1-based); works on ints/arrays.

  Bin b covers days 5b+1 .. 5b+5, so on day d the bins up to d // 5 - 1 hold
  only images taken on or before d. -1 means no bin is complete yet.
  """
  return day_of_year // BIN_DAYS - 1


def day_for_as_of_bin(as_of_bin):
  """Day of year (1-based) on which bin `as_of_bin` completes."""
  return (as_of_bin + 1) * BIN_DAYS


def days_since_epoch(date: datetime.date) -> int:
  return (date - EPOCH).days


def date_from_days(days: int) -> datetime.date:
  """The date `days` days after 1970-01-01 (the encoding of `img_dates`)."""
  return EPOCH + datetime.timedelta(days=int(days))


# Runs of these characters are one separator in CDL names ('Non-Alfalfa').
# ASCII whitespace spelled out: Python's \s and TF's (RE2) differ beyond it.
CDL_SEPARATORS_PATTERN = r'[ \t\n\v\f\r_-]+'


def normalize_cdl_name(name: str) -> str:
  """Canonical CDL name: lower case, blanks/hyphens/underscores -> one blank.

  `preprocessing.labels` applies the same rule in the TF graph.
  """
  return re.sub(CDL_SEPARATORS_PATTERN, ' ', name.lower()).strip(' ')


DEFAULT_LABEL_MAPPING_PATH = os.path.join(
    os.path.dirname(__file__), 'data', 'cdl_classes.json')


@dataclasses.dataclass(frozen=True)
class LabelMapping:
  """CDL class name -> training class, keyed by normalized name."""
  class_of: Mapping[str, int]
  excluded_names: Tuple[str, ...]
  excluded_prefixes: Tuple[str, ...]
  default_class: int

  def lookup(self, cdl_name: str) -> Tuple[int, bool, bool]:
    """Returns (class index or EXCLUDED_LABEL, excluded, known name)."""
    key = normalize_cdl_name(cdl_name)
    if key in self.excluded_names or key.startswith(self.excluded_prefixes):
      return EXCLUDED_LABEL, True, True
    if key in self.class_of:
      return self.class_of[key], False, True
    return self.default_class, False, False


@functools.lru_cache(maxsize=8)
def load_label_mapping(path: Optional[str] = None) -> LabelMapping:
  """Reads the CDL -> class mapping file (JSON, see data/cdl_classes.json)."""
  path = path or DEFAULT_LABEL_MAPPING_PATH
  # tf.io.gfile reads local paths and cloud URIs alike; imported lazily so the
  # constants stay importable without TensorFlow.
  if paths.is_uri(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    with tf.io.gfile.GFile(path) as f:
      doc = json.load(f)
  else:
    with open(path, encoding='utf-8') as f:
      doc = json.load(f)
  class_of: Dict[str, int] = {}
  for class_name, cdl_names in doc['mapping'].items():
    if class_name not in CLASS_NAMES:
      raise ValueError(f'{path}: unknown class {class_name!r}; classes are '
                       f'{", ".join(CLASS_NAMES)}')
    for cdl_name in cdl_names:
      key = normalize_cdl_name(cdl_name)
      previous = class_of.setdefault(key, CLASS_NAMES.index(class_name))
      if previous != CLASS_NAMES.index(class_name):
        raise ValueError(f'{path}: {cdl_name!r} is mapped to two classes')
  default_class = doc.get('default_class', 'Uncultivated')
  if default_class not in CLASS_NAMES:
    raise ValueError(f'{path}: unknown default_class {default_class!r}')
  return LabelMapping(
      class_of=class_of,
      excluded_names=tuple(normalize_cdl_name(n) for n in doc.get('excluded', ())),
      excluded_prefixes=tuple(
          normalize_cdl_name(p) for p in doc.get('excluded_prefixes', ())),
      default_class=CLASS_NAMES.index(default_class))
