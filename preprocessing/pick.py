"""One image per calendar bin, picked deterministically.

The slides pick at random among the images of a bin. Transform must give the
same output for the same pixel every time (training, eval and serving), so the
pick is pseudo-random by a hash of the pixel and the bin, and a clear image
(SCL not in `features.SCL_NOT_CLEAR`) is preferred when the bin has one.

Rule, per (row, bin): the candidates are the bin's clear images, or all its
images when none is clear; they are ordered by date, then by position in the
row; the pick is candidate number `bin_hash(lon, lat, year, bin) mod k`, k the
number of candidates.

Hash (integer arithmetic only; NumPy reproduces it bit for bit, and no
intermediate exceeds 2**62, so int64 never overflows):

  P = 2**31 - 1                     (prime)
  mix(h, v):                        h in [0, 2**31), v any int64
    h = ((h + (v mod P)) mod P) * 1103515245 mod P
    h = h xor (h >> 16)
    h = h * 1597334677 mod P
    h = h xor (h >> 13)             -> [0, 2**31)
  q(deg) = round_half_even(deg * 1e6) as int64   (micro-degrees, float64)
  pixel_hash = mix(mix(mix(1234567, q(lon)), q(lat)), year)
  bin_hash   = mix(pixel_hash, bin)

`mod` is the floor modulo (non-negative), as NumPy's `%` and `tf.math.floormod`.
"""

import tensorflow as tf

from croptfx import features

HASH_PRIME = 2_147_483_647
HASH_MULTIPLIERS = (1_103_515_245, 1_597_334_677)
HASH_SHIFTS = (16, 13)
HASH_SEED = 1_234_567
MICRO_DEGREES = 1e6


def _mix(h: tf.Tensor, v: tf.Tensor) -> tf.Tensor:
  h = tf.math.floormod(h + tf.math.floormod(v, HASH_PRIME), HASH_PRIME)
  for multiplier, shift in zip(HASH_MULTIPLIERS, HASH_SHIFTS):
    h = tf.math.floormod(h * multiplier, HASH_PRIME)
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, shift))
  return h


def quantize_degrees(degrees: tf.Tensor) -> tf.Tensor:
  """float64 degrees -> int64 micro-degrees (round half to even)."""
  return tf.cast(tf.math.round(tf.cast(degrees, tf.float64) * MICRO_DEGREES),
                 tf.int64)


def pixel_hash(lon: tf.Tensor, lat: tf.Tensor, year: tf.Tensor) -> tf.Tensor:
  """[batch] int64 hash of the pixel-season (float64 lon/lat, int year)."""
  h = tf.fill(tf.shape(year), tf.constant(HASH_SEED, tf.int64))
  h = _mix(h, quantize_degrees(lon))
  h = _mix(h, quantize_degrees(lat))
  return _mix(h, tf.cast(year, tf.int64))


def bin_hashes(pixel_hashes: tf.Tensor) -> tf.Tensor:
  """[batch] pixel hashes -> [batch, BINS_PER_YEAR] int64 bin hashes."""
  bins = tf.range(features.BINS_PER_YEAR, dtype=tf.int64)
  return _mix(pixel_hashes[:, tf.newaxis], bins[tf.newaxis, :])


def is_clear(scl: tf.Tensor) -> tf.Tensor:
  """SCL value is a clear view of the ground (values above SCL_MAX are not)."""
  table = tf.constant([s not in features.SCL_NOT_CLEAR
                       for s in range(features.SCL_MAX + 1)] + [False])
  index = tf.clip_by_value(tf.cast(scl, tf.int64), 0, features.SCL_MAX + 1)
  return tf.gather(table, index)


def pick_per_bin(dates: tf.Tensor, bins: tf.Tensor, clear: tf.Tensor,
                 valid: tf.Tensor, hashes: tf.Tensor) -> tf.Tensor:
  """Position of the picked image of each (row, bin), -1 for empty bins.

  Vectorized over the batch: images are sorted by (date, position) in each
  row, so a row's images of one bin are contiguous and a candidate's rank in
  its bin is a cumulative sum minus the candidates of the earlier bins.

  Args:
    dates: [batch, n] int days since epoch.
    bins: [batch, n] int64 in [0, BINS_PER_YEAR), bins of `dates`.
    clear: [batch, n] bool, the image is clear.
    valid: [batch, n] bool, the image exists (and is in the season).
    hashes: [batch, BINS_PER_YEAR] int64 >= 0, `bin_hashes`.

  Returns:
    [batch, BINS_PER_YEAR] int32 image positions in the row, or -1.
  """
  num_bins = features.BINS_PER_YEAR
  batch = tf.shape(dates)[0]
  num_segments = batch * num_bins + 1  # the last segment collects padding

  # Padding sorts last; argsort is stable, so equal dates keep row order.
  sort_key = tf.where(valid, tf.cast(dates, tf.int64),
                      tf.constant(tf.int64.max, tf.int64))
  order = tf.argsort(sort_key, axis=1, stable=True)
  s_bins = tf.gather(tf.cast(bins, tf.int32), order, batch_dims=1)
  s_clear = tf.gather(clear, order, batch_dims=1)
  s_valid = tf.gather(valid, order, batch_dims=1)

  rows = tf.range(batch)[:, tf.newaxis]
  segment = tf.where(s_valid, rows * num_bins + s_bins, num_segments - 1)

  def per_bin_sum(flags):
    return tf.math.unsorted_segment_sum(
        tf.cast(flags, tf.int32), segment, num_segments)

  clear_in_bin = per_bin_sum(s_valid & s_clear)
  bin_has_clear = tf.gather(clear_in_bin, segment) > 0
  candidate = s_valid & (s_clear | ~bin_has_clear)

  k = tf.reshape(per_bin_sum(candidate)[:-1], [batch, num_bins])
  earlier = tf.reshape(tf.math.cumsum(k, axis=1, exclusive=True), [-1])
  earlier = tf.concat([earlier, [0]], axis=0)
  candidate_int = tf.cast(candidate, tf.int32)
  rank = (tf.math.cumsum(candidate_int, axis=1, exclusive=True) -
          tf.gather(earlier, segment))

  target = tf.math.floormod(hashes, tf.cast(tf.maximum(k, 1), tf.int64))
  target = tf.concat([tf.reshape(tf.cast(target, tf.int32), [-1]), [-1]], 0)
  chosen = candidate & tf.equal(rank, tf.gather(target, segment))

  # Exactly one chosen image per non-empty bin: its position, summed.
  position_plus_one = tf.where(chosen, order + 1, 0)
  picked = tf.math.unsorted_segment_sum(position_plus_one, segment,
                                        num_segments)[:-1]
  return tf.reshape(picked, [batch, num_bins]) - 1
