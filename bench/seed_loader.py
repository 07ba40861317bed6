"""Case A: the seed's in-memory loader, rebuilt as the slides show it.

  train_ds = train_files_ds \\
      .filter(filter_double_croppings) \\
      .shuffle(BATCH_SIZE*10) \\
      .map(lambda x: parse(x, norm=True), num_parallel_calls=AUTOTUNE) \\
      .batch(BATCH_SIZE) \\
      .prefetch(1)

The rows sit in a pandas DataFrame; `parse` works on one pixel-year at a
time: `tf.io.decode_raw` of the packed bytes, a random prediction date, the
180 days before it in 36 buckets of 5 days with a random image per bucket,
per-band normalization (empty buckets 0), the label gated on vegetation in the
last two images, one-hot. Unlike the project's Transform, nothing is done
ahead of time: every epoch decodes and buckets every row again.

The label mapping (CDL name -> class) is applied in pandas when loading, so
the timed loop does only what the slides put in `parse`.
"""

import re
from typing import Dict, Sequence, Tuple

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import tensorflow as tf

from croptfx import features

WINDOW_DAYS = features.WINDOW_BINS * features.BIN_DAYS
# Column holding the class before gating (EXCLUDED_LABEL for double crops).
LABEL_COLUMN = 'label'


def load_frame(paths: Sequence[str], year: int) -> pd.DataFrame:
  """The rows of one season year from Parquet files, with a label column."""
  frame = pd.concat([pq.read_table(p).to_pandas() for p in paths],
                    ignore_index=True)
  frame = frame[frame[features.YEAR] == year].reset_index(drop=True)
  mapping = features.load_label_mapping()
  classes = {name: mapping.lookup(name)[0]
             for name in frame[features.CDL].unique()}
  frame[LABEL_COLUMN] = frame[features.CDL].map(classes).astype(np.int64)
  return frame


def files_dataset(frame: pd.DataFrame) -> tf.data.Dataset:
  """`train_files_ds`: one element per DataFrame row."""
  columns = (features.BANDS, features.IMG_DATES, features.SCL_VALS,
             features.CDL, LABEL_COLUMN)
  return tf.data.Dataset.from_tensor_slices(
      {name: frame[name].values for name in columns})


def filter_double_croppings(x: Dict[str, tf.Tensor]) -> tf.Tensor:
  """False for double crops (CDL names starting with an excluded prefix)."""
  mapping = features.load_label_mapping()
  name = tf.strings.regex_replace(tf.strings.lower(x[features.CDL]),
                                  features.CDL_SEPARATORS_PATTERN, ' ')
  excluded = tf.constant(False)
  for prefix in mapping.excluded_prefixes:
    pattern = ' ?' + re.escape(prefix) + '.*'
    excluded |= tf.strings.regex_full_match(name, pattern)
  return tf.logical_not(excluded)


def window_example(bands: tf.Tensor, dates: tf.Tensor, scl: tf.Tensor,
                   label: tf.Tensor, prediction_date: tf.Tensor,
                   image_keys: tf.Tensor, band_mean: tf.Tensor,
                   band_std: tf.Tensor, norm: bool = True
                   ) -> Tuple[tf.Tensor, tf.Tensor]:
  """One example, given the random draws (so tests can fix them).

  Args:
    bands: [n, NUM_BANDS] reflectance x 10000.
    dates: [n] int days since 1970-01-01 (any order).
    scl: [n] int Scene Classification.
    label: int class before gating.
    prediction_date: int day since epoch; the window is the 180 days
      ending on it (images on that day count).
    image_keys: [n] float; each bucket takes its image with the largest key
      (uniform random keys make a uniform random pick).
    band_mean, band_std: [NUM_BANDS] normalization.
    norm: normalize the bands.

  Returns:
    ([WINDOW_BINS, NUM_BANDS] float32 window, oldest bucket first;
     [NUM_CLASSES] float32 one-hot gated label).
  """
  num_buckets = features.WINDOW_BINS
  dates = tf.cast(dates, tf.int32)
  age = tf.cast(prediction_date, tf.int32) - dates
  in_window = (age >= 0) & (age < WINDOW_DAYS)
  # Bucket 35 holds the last 5 days; out-of-window images go to bucket 36.
  bucket = tf.where(in_window, num_buckets - 1 - age // features.BIN_DAYS,
                    num_buckets)
  best = tf.math.unsorted_segment_max(image_keys, bucket, num_buckets + 1)
  position = tf.range(tf.shape(dates)[0])
  is_best = in_window & tf.equal(image_keys, tf.gather(best, bucket))
  # Ties in the keys: the first such image.
  picked = tf.math.unsorted_segment_min(
      tf.where(is_best, position, tf.int32.max), bucket,
      num_buckets + 1)[:num_buckets]
  observed = picked < tf.int32.max
  window = tf.gather(tf.cast(bands, tf.float32),
                     tf.where(observed, picked, 0))
  if norm:
    window = (window - band_mean) / band_std
  window = tf.where(observed[:, tf.newaxis], window, 0.0)

  # Gating: a crop needs vegetation in one of its last images seen.
  seen_age = tf.where(age >= 0, age, tf.int32.max)
  k = tf.minimum(features.GATING_OBSERVATIONS, tf.shape(dates)[0])
  _, last = tf.math.top_k(-seen_age, k=k)
  recent = tf.gather(age >= 0, last)
  vegetation = tf.reduce_any(
      recent & tf.equal(tf.gather(tf.cast(scl, tf.int32), last),
                        features.SCL_VEGETATION))
  label = tf.cast(label, tf.int32)
  is_crop = tf.reduce_any(tf.equal(label, features.CROP_CLASSES))
  label = tf.where(is_crop & ~vegetation, features.NO_CROPS_GROWING, label)
  return window, tf.one_hot(label, features.NUM_CLASSES)


def make_parse(band_mean: np.ndarray, band_std: np.ndarray):
  """`parse(x, norm)` of the slides, with these band statistics."""
  mean = tf.constant(band_mean, tf.float32)
  std = tf.constant(np.where(band_std > 0, band_std, 1.0), tf.float32)

  def parse(x: Dict[str, tf.Tensor], norm: bool = True):
    bands = tf.reshape(
        tf.io.decode_raw(x[features.BANDS], tf.uint16, little_endian=False),
        [-1, features.NUM_BANDS])
    dates = tf.cast(tf.io.decode_raw(x[features.IMG_DATES], tf.uint16,
                                     little_endian=False), tf.int32)
    scl = tf.io.decode_raw(x[features.SCL_VALS], tf.uint8)
    # Random prediction date: 30 days after the first image .. the last one.
    first, last = tf.reduce_min(dates), tf.reduce_max(dates)
    low = tf.minimum(first + features.MIN_DAYS_AFTER_FIRST_IMAGE, last)
    prediction_date = tf.random.uniform([], low, last + 1, tf.int32)
    keys = tf.random.uniform(tf.shape(dates))
    return window_example(bands, dates, scl, x[LABEL_COLUMN], prediction_date,
                          keys, mean, std, norm)

  return parse


def make_dataset(frame: pd.DataFrame, band_mean: np.ndarray,
                 band_std: np.ndarray, batch_size: int) -> tf.data.Dataset:
  """The slides' training dataset over `frame`, repeated forever."""
  parse = make_parse(band_mean, band_std)
  return (files_dataset(frame)
          .repeat()
          .filter(filter_double_croppings)
          .shuffle(batch_size * 10)
          .map(lambda x: parse(x, norm=True),
               num_parallel_calls=tf.data.AUTOTUNE)
          .batch(batch_size)
          .prefetch(1))
