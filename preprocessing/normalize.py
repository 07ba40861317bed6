"""Per-band mean/std over the analyzed split, and the band normalization.

The statistics are exact: each batch contributes integer sums (count, sum of
x, sum of x^2 of its uint16 values) and Beam adds them as Python integers, so
the result does not depend on batching or combine order (same data -> the same
bits on every runner). Mean and population variance are then rounded once
from exact fractions.

One analyzer feeds the graph; a second one, over the same per-batch sums,
writes them to a JSON asset of the Transform output so later steps can read
them (`croptfx.artifacts.read_band_statistics`). The schema-annotation route
(`tft.schema_inference.annotate`) is a no-op in open-source TFT builds
(`common.IS_ANNOTATIONS_PB_AVAILABLE` is False), and a ptransform analyzer
cannot mix asset and numeric outputs (TFT 1.16 turns every output into an
asset once defaults are given), hence two analyzers.
"""

import fractions
import json
import math
import os
from typing import Dict, List

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam

from croptfx import features
from croptfx import layouts


def batch_moments(bands: tf.Tensor, valid: tf.Tensor):
  """Integer sums of one batch: ([1] count, [1, B] sum x, [1, B] sum x^2).

  Args:
    bands: [batch, n, NUM_BANDS] int64 values (uint16 range).
    valid: [batch, n] bool, the images to count.
  """
  values = tf.where(valid[..., tf.newaxis], tf.cast(bands, tf.int64),
                    tf.zeros([], tf.int64))
  count = tf.reduce_sum(tf.cast(valid, tf.int64))
  # uint16^2 < 2^32: a batch would need > 2^31 values to overflow int64.
  return (tf.reshape(count, [1]),
          tf.reduce_sum(values, axis=[0, 1])[tf.newaxis, :],
          tf.reduce_sum(values * values, axis=[0, 1])[tf.newaxis, :])


class _SumMomentsFn(beam.CombineFn):
  """Adds per-batch (count, sum, sum of squares) as exact Python integers."""

  def create_accumulator(self):
    return [0, [0] * features.NUM_BANDS, [0] * features.NUM_BANDS]

  def add_input(self, accumulator, batch):
    count, sums, squares = batch
    accumulator[0] += int(np.sum(count))
    for i, (s, q) in enumerate(zip(np.sum(sums, axis=0),
                                   np.sum(squares, axis=0))):
      accumulator[1][i] += int(s)
      accumulator[2][i] += int(q)
    return accumulator

  def merge_accumulators(self, accumulators):
    result = self.create_accumulator()
    for count, sums, squares in accumulators:
      result[0] += count
      result[1] = [a + b for a, b in zip(result[1], sums)]
      result[2] = [a + b for a, b in zip(result[2], squares)]
    return result

  def extract_output(self, accumulator):
    return moments_to_statistics(*accumulator)


def moments_to_statistics(count: int, sums: List[int],
                          squares: List[int]) -> Dict[str, object]:
  """Exact integer moments -> mean and population std per band.

  With no values (empty analyzed split) mean and std are 0.
  """
  means, stds = [], []
  for s, q in zip(sums, squares):
    if count:
      means.append(float(fractions.Fraction(s, count)))
      variance = fractions.Fraction(count * q - s * s, count * count)
      stds.append(math.sqrt(float(variance)))
    else:
      means.append(0.0)
      stds.append(0.0)
  return {'band_names': list(features.BAND_NAMES), 'num_values': count,
          'band_mean': means, 'band_std': stds}


def _band_array(stats, key):
  return np.array(stats[key], np.float64)


class _BandStatistics(beam.PTransform):
  """Per-batch sums -> (mean [NUM_BANDS], std [NUM_BANDS]) float64 arrays."""

  def expand(self, pcoll):
    stats = pcoll | 'Sum' >> beam.CombineGlobally(_SumMomentsFn())
    return (stats | 'Mean' >> beam.Map(_band_array, 'band_mean'),
            stats | 'Std' >> beam.Map(_band_array, 'band_std'))


def _write_statistics(stats, directory):
  tf.io.gfile.makedirs(directory)
  path = os.path.join(directory, layouts.BAND_STATISTICS_FILE)
  with tf.io.gfile.GFile(path, 'w') as f:
    f.write(json.dumps(stats, indent=1))
  return path.encode('utf-8')


class _BandStatisticsFile(tft_beam.experimental.PTransformAnalyzer):
  """Per-batch sums -> path of a JSON file with the statistics (an asset)."""

  def expand(self, pcoll):
    return (pcoll
            | 'Sum' >> beam.CombineGlobally(_SumMomentsFn())
            | 'Write' >> beam.Map(_write_statistics, self.base_temp_dir))


def band_statistics(bands: tf.Tensor, valid: tf.Tensor):
  """Analyzer: mean and population std per band of every valid image value.

  Also records the statistics as an asset of the Transform output (see
  `outputs.read_band_statistics`).

  Args:
    bands: [batch, n, NUM_BANDS] int64.
    valid: [batch, n] bool.

  Returns:
    (mean, std): [NUM_BANDS] float64 tensors, constants after analysis.
  """
  moments = list(batch_moments(bands, valid))
  mean, std = tft.experimental.ptransform_analyzer(
      moments, _BandStatistics(), [tf.float64, tf.float64],
      [[features.NUM_BANDS], [features.NUM_BANDS]], name='band_statistics')
  placeholder = json.dumps(moments_to_statistics(0, [], [])).encode('utf-8')
  # Its output (the file path) is unused in the graph: TFT still copies the
  # file into the SavedModel's assets, where it is found by name.
  tft.experimental.ptransform_analyzer(
      moments, _BandStatisticsFile(), [tf.string], [[]],
      output_asset_default_values=[placeholder],
      name='band_statistics_file')
  tft.annotate_asset(layouts.BAND_STATISTICS_KEY, layouts.BAND_STATISTICS_FILE)
  return mean, std


def normalize_grid(grid: tf.Tensor, observed: tf.Tensor, mean: tf.Tensor,
                   std: tf.Tensor) -> tf.Tensor:
  """(x - mean) / std per band as float32; empty bins stay exactly 0.

  A band with std 0 is only centred (nothing to scale).

  Args:
    grid: [batch, bins, NUM_BANDS] raw values.
    observed: [batch, bins] bool.
    mean: [NUM_BANDS] float64.
    std: [NUM_BANDS] float64.
  """
  std = tf.where(std > 0, std, tf.ones_like(std))
  normalized = (tf.cast(grid, tf.float64) - mean) / std
  normalized = tf.where(observed[..., tf.newaxis], normalized,
                        tf.zeros([], tf.float64))
  return tf.cast(normalized, tf.float32)
