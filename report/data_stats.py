"""NumPy summaries of the sampled examples that the figures draw."""

import dataclasses
from typing import Dict, List, Sequence

import numpy as np

from croptfx import codec
from croptfx import features

MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct',
          'Nov', 'Dec')
_NOT_CLEAR = np.array(features.SCL_NOT_CLEAR)


def images_per_pixel(raw) -> np.ndarray:
  return np.array([len(d) for d in raw.dates], np.int64)


def revisit_intervals(raw) -> np.ndarray:
  """Days between consecutive distinct image dates, all pixels pooled."""
  parts = [np.diff(np.unique(d)) for d in raw.dates if len(d) > 1]
  return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _month_of(days: np.ndarray) -> np.ndarray:
  """0-based calendar month of days since 1970-01-01."""
  months = np.asarray(days, 'datetime64[D]').astype('datetime64[M]')
  return months.astype(np.int64) % 12


def cloud_share_by_month(raw):
  """(share of images not clear [12], images [12]) over all images."""
  if not len(raw):
    return np.full(12, np.nan), np.zeros(12, np.int64)
  months = _month_of(np.concatenate(raw.dates))
  not_clear = np.isin(np.concatenate(raw.scl), _NOT_CLEAR)
  total = np.bincount(months, minlength=12)
  cloudy = np.bincount(months, weights=not_clear, minlength=12)
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.where(total > 0, cloudy / total, np.nan), total


@dataclasses.dataclass
class ClassCurves:
  """Per class and calendar bin: mean, quartiles and number of values."""
  mean: np.ndarray  # [classes, bins], NaN where no value
  q25: np.ndarray
  q75: np.ndarray
  count: np.ndarray  # [classes, bins] values per bin
  pixels: np.ndarray  # [classes] pixels contributing


# Bins with fewer values than this are not drawn (too noisy to read).
MIN_VALUES_PER_BIN = 3


def _curves(classes: np.ndarray, bins: np.ndarray, values: np.ndarray,
            pixel_class: np.ndarray) -> ClassCurves:
  shape = (features.NUM_CLASSES, features.BINS_PER_YEAR)
  mean, q25, q75 = (np.full(shape, np.nan) for _ in range(3))
  count = np.zeros(shape, np.int64)
  key = classes * features.BINS_PER_YEAR + bins
  order = np.argsort(key, kind='stable')
  key, values = key[order], values[order]
  starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else []
  ends = np.r_[starts[1:], len(key)] if len(key) else []
  for s, e in zip(starts, ends):
    c, b = divmod(int(key[s]), features.BINS_PER_YEAR)
    count[c, b] = e - s
    if e - s >= MIN_VALUES_PER_BIN:
      v = values[s:e]
      mean[c, b] = v.mean()
      q25[c, b], q75[c, b] = np.percentile(v, [25, 75])
  pixels = np.bincount(pixel_class[pixel_class >= 0], minlength=features.NUM_CLASSES)
  return ClassCurves(mean, q25, q75, count, pixels)


def ndvi_curves_from_raw(raw, mapping) -> ClassCurves:
  """NDVI of clear images (SCL not in SCL_NOT_CLEAR), by class and 5-day bin.

  The class is the CDL name through the label mapping, before gating (so
  'No Crops Growing', a gated in-season state, has no curve). Excluded rows
  (double crops) are left out.
  """
  classes, bins, values = [], [], []
  pixel_class = np.full(len(raw), -1, np.int64)
  for i in range(len(raw)):
    label, excluded, _ = mapping.lookup(raw.cdl[i])
    if excluded:
      continue
    pixel_class[i] = label
    clear = ~np.isin(raw.scl[i], _NOT_CLEAR)
    if not clear.any():
      continue
    b = codec.calendar_bin(raw.dates[i][clear], int(raw.year[i]))
    values.append(codec.ndvi(raw.bands[i][clear]))
    bins.append(b)
    classes.append(np.full(len(b), label))
  if not values:
    return _curves(*(np.zeros(0, np.int64),) * 2, np.zeros(0), pixel_class)
  return _curves(np.concatenate(classes), np.concatenate(bins),
                 np.concatenate(values), pixel_class)


def ndvi_curves_from_grid(transformed, band_mean: Sequence[float],
                          band_std: Sequence[float]) -> ClassCurves:
  """NDVI of the picked image per observed bin, de-normalized Transform grid."""
  grid = transformed[features.GRID] * np.asarray(band_std) + np.asarray(band_mean)
  label = transformed[features.LABEL]
  keep = (transformed[features.EXCLUDED] == 0) & (label >= 0)
  observed = transformed[features.OBSERVED].astype(bool) & keep[:, None]
  rows, bins = np.nonzero(observed)
  return _curves(label[rows], bins, codec.ndvi(grid[rows, bins]),
                 np.where(keep, label, -1))


def class_counts(transformed) -> Dict[str, int]:
  """Examples per class before gating, plus the excluded double crops."""
  label = transformed[features.LABEL]
  excluded = (transformed[features.EXCLUDED] != 0) | (label < 0)
  counts = np.bincount(label[~excluded], minlength=features.NUM_CLASSES)
  result = {name: int(counts[i]) for i, name in enumerate(features.CLASS_NAMES)}
  result['excluded'] = int(excluded.sum())
  return result


def split_years(years_by_split: Dict[str, np.ndarray]) -> Dict[str, List[int]]:
  """{split: sorted distinct season years} of sampled examples."""
  return {s: sorted(int(v) for v in np.unique(y)) for s, y in years_by_split.items()}


def bin_center_day(bins=None) -> np.ndarray:
  """Day of year (1-based) at the middle of calendar bins."""
  b = np.arange(features.BINS_PER_YEAR) if bins is None else np.asarray(bins)
  return b * features.BIN_DAYS + (features.BIN_DAYS + 1) / 2
