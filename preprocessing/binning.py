"""Calendar 5-day bins of a season, in the graph.

Same integer arithmetic as `croptfx.codec.jan1_days` / `calendar_bin`, so the
NumPy and TF sides agree day for day.
"""

import tensorflow as tf

from croptfx import features


def jan1_days(year: tf.Tensor) -> tf.Tensor:
  """Days since 1970-01-01 of January 1 of `year` (int64, years >= 1970)."""
  y = tf.cast(year, tf.int64) - 1
  # `//` on integer tensors is floor division, like NumPy's.
  return (365 * (y - 1969) + (y // 4 - 492) - (y // 100 - 19) +
          (y // 400 - 4))


def days_in_year(year: tf.Tensor) -> tf.Tensor:
  return jan1_days(tf.cast(year, tf.int64) + 1) - jan1_days(year)


def calendar_bins(dates: tf.Tensor, year: tf.Tensor):
  """Bins of image dates in the season of their row.

  Args:
    dates: [batch, n] int64 days since 1970-01-01.
    year: [batch] season year.

  Returns:
    (bins, in_season): [batch, n] int64 bin = (date - Jan 1) // BIN_DAYS with
    day 365 of a leap year folded into the last bin, and a bool mask of dates
    inside the year (outside dates get bin 0; callers mask them out).
  """
  year = tf.cast(year, tf.int64)[:, tf.newaxis]
  day_index = tf.cast(dates, tf.int64) - jan1_days(year)
  in_season = (day_index >= 0) & (day_index < days_in_year(year))
  bins = tf.minimum(day_index // features.BIN_DAYS,
                    features.BINS_PER_YEAR - 1)
  return tf.where(in_season, bins, tf.zeros_like(bins)), in_season
