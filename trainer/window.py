"""The in-season window and label gating: one TF function for every path.

The Transform output holds the whole season as 73 calendar bins. A model
predicting "as of" a date sees only the 36 bins (180 days) ending at the as-of
bin e, zero-padded before January 1, and the crop label is gated on recent
vegetation (docs/data-contract.md, "Labels" and "The model's window"). `input_fn` (random e per example and
epoch), the evaluation signature (fixed days) and the serving signature (e from
the request's date) all call `apply_window`, so the three cannot drift apart.
"""

from typing import Dict, Tuple

import tensorflow as tf

from croptfx import features


def _as_dense_2d(x: tf.Tensor, width: int) -> tf.Tensor:
  return tf.reshape(x, [-1, width])


def _as_vector(x: tf.Tensor) -> tf.Tensor:
  return tf.reshape(x, [-1])


def gate_labels(label: tf.Tensor, observed: tf.Tensor, vegetation: tf.Tensor,
                as_of_bin: tf.Tensor) -> tf.Tensor:
  """Crop labels become No Crops Growing without recent vegetation.

  A pixel labelled with a crop class (features.CROP_CLASSES) keeps its label
  only if at least one of its last GATING_OBSERVATIONS observed bins up to and
  including `as_of_bin` was vegetation (SCL 4); the slides' reason: early
  growth and senescence are not separable. Vectorized over the batch.

  Args:
    label: int [B] class before gating.
    observed: int/bool [B, 73] bins holding an image.
    vegetation: int/bool [B, 73] bins whose picked image is vegetation.
    as_of_bin: int [B] last bin the model may see (-1: none).
  """
  label = tf.cast(_as_vector(label), tf.int64)
  bins = tf.range(features.BINS_PER_YEAR, dtype=tf.int64)[tf.newaxis, :]
  as_of_bin = tf.cast(_as_vector(as_of_bin), tf.int64)[:, tf.newaxis]
  seen = tf.cast(observed, tf.bool) & (bins <= as_of_bin)
  # Observations at or after each bin (up to e): 1 for the last one, 2 for
  # the one before, ...
  from_end = tf.cumsum(tf.cast(seen, tf.int32), axis=1, reverse=True)
  recent = seen & (from_end <= features.GATING_OBSERVATIONS)
  has_vegetation = tf.reduce_any(recent & tf.cast(vegetation, tf.bool), axis=1)
  is_crop = tf.reduce_any(
      label[:, tf.newaxis] == tf.constant(features.CROP_CLASSES, tf.int64), axis=1)
  return tf.where(is_crop & ~has_vegetation,
                  tf.constant(features.NO_CROPS_GROWING, tf.int64), label)


def window_inputs(transformed: Dict[str, tf.Tensor],
                  as_of_bin: tf.Tensor) -> Dict[str, tf.Tensor]:
  """Model inputs for a batch at as-of bins [B] (-1 .. 72).

  Returns {WINDOW [B, 36, 12], WINDOW_OBSERVED [B, 36],
  WINDOW_VEGETATION [B, 36], AS_OF_DAY [B]}: the 36 bins ending at the as-of
  bin, zero before January 1, and the day of year on which that bin completes.
  """
  grid = tf.reshape(transformed[features.GRID],
                    [-1, features.BINS_PER_YEAR, features.NUM_BANDS])
  observed = _as_dense_2d(transformed[features.OBSERVED], features.BINS_PER_YEAR)
  vegetation = _as_dense_2d(transformed[features.VEGETATION], features.BINS_PER_YEAR)
  as_of_bin = _clip_bins(as_of_bin)
  # Bin index of each window slot; slots before January 1 are padding.
  offsets = tf.range(-features.WINDOW_BINS + 1, 1, dtype=tf.int64)
  index = as_of_bin[:, tf.newaxis] + offsets[tf.newaxis, :]
  safe = tf.maximum(index, 0)
  mask = tf.cast(index >= 0, tf.float32)

  def take(values):
    return tf.cast(tf.gather(values, safe, batch_dims=1), tf.float32)

  return {
      features.WINDOW: take(grid) * mask[..., tf.newaxis],
      features.WINDOW_OBSERVED: take(observed) * mask,
      features.WINDOW_VEGETATION: take(vegetation) * mask,
      features.AS_OF_DAY: tf.cast(features.day_for_as_of_bin(as_of_bin), tf.float32),
  }


def apply_window(transformed: Dict[str, tf.Tensor],
                 as_of_bin: tf.Tensor) -> Tuple[Dict[str, tf.Tensor], tf.Tensor]:
  """(window_inputs, gated label int64 [B]) for a batch at as-of bins [B]."""
  label = gate_labels(
      transformed[features.LABEL],
      _as_dense_2d(transformed[features.OBSERVED], features.BINS_PER_YEAR),
      _as_dense_2d(transformed[features.VEGETATION], features.BINS_PER_YEAR),
      _clip_bins(as_of_bin))
  return window_inputs(transformed, as_of_bin), label


def _clip_bins(as_of_bin: tf.Tensor) -> tf.Tensor:
  return tf.clip_by_value(tf.cast(_as_vector(as_of_bin), tf.int64),
                          -1, features.BINS_PER_YEAR - 1)


def draw_as_of_bins(first_bin: tf.Tensor, last_bin: tf.Tensor,
                    seed=None) -> tf.Tensor:
  """Random as-of bins: uniform from 30 days after the first image to the last.

  The slides' random prediction-date augmentation, one draw per example;
  when the series is shorter than 30 days the last bin is used.
  """
  first_bin = tf.cast(_as_vector(first_bin), tf.int64)
  last_bin = tf.cast(_as_vector(last_bin), tf.int64)
  low = tf.minimum(first_bin + features.MIN_BINS_AFTER_FIRST_IMAGE, last_bin)
  span = tf.cast(last_bin - low + 1, tf.float32)
  u = tf.random.uniform(tf.shape(last_bin), seed=seed)
  return low + tf.minimum(tf.cast(tf.floor(u * span), tf.int64), last_bin - low)


def as_of_bins_for_day(day_of_year, batch_like: tf.Tensor) -> tf.Tensor:
  """The same fixed as-of bin for every example of a batch."""
  n = tf.shape(_as_vector(batch_like))[0]
  return tf.fill([n], tf.cast(features.as_of_bin_for_day(day_of_year), tf.int64))


def days_from_civil(year: tf.Tensor, month: tf.Tensor, day: tf.Tensor) -> tf.Tensor:
  """Days since 1970-01-01 of a proleptic Gregorian date (int64 tensors).

  H. Hinnant's days_from_civil, valid for years >= 1 (no negative division).
  """
  year = year - tf.cast(month <= 2, tf.int64)
  era = year // 400
  yoe = year - era * 400
  mp = (month + 9) % 12  # March = 0
  doy = (153 * mp + 2) // 5 + day - 1
  doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468


def parse_iso_dates(dates: tf.Tensor) -> tf.Tensor:
  """'YYYY-MM-DD' strings [B] -> days since 1970-01-01 int64 [B]."""
  dates = tf.strings.strip(_as_vector(dates))
  tf.debugging.assert_equal(
      tf.strings.regex_full_match(dates, r'\d{4}-\d{2}-\d{2}'), True,
      message='as_of_date must be YYYY-MM-DD')
  year = tf.strings.to_number(tf.strings.substr(dates, 0, 4), tf.int64)
  month = tf.strings.to_number(tf.strings.substr(dates, 5, 2), tf.int64)
  day = tf.strings.to_number(tf.strings.substr(dates, 8, 2), tf.int64)
  return days_from_civil(year, month, day)


def as_of_bins_for_dates(dates: tf.Tensor, season_year: tf.Tensor) -> tf.Tensor:
  """As-of bin of each example for an as-of date, relative to its season.

  A date before the season gives -1 (nothing seen yet), one after it gives the
  last bin (the whole season).
  """
  season_year = tf.cast(_as_vector(season_year), tf.int64)
  jan1 = days_from_civil(season_year, tf.ones_like(season_year), tf.ones_like(season_year))
  day_of_year = parse_iso_dates(dates) - jan1 + 1
  return tf.clip_by_value(features.as_of_bin_for_day(day_of_year), -1,
                          features.BINS_PER_YEAR - 1)
