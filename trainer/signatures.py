"""Signatures of the exported model.

- `serving_default`: serialized raw examples (the Part-1 columns as
  ParquetExampleGen emits them) and an as-of date 'YYYY-MM-DD' -> the 7 class
  probabilities, the class index and the class name. It applies the Transform
  graph (`tft_layer`) and the same window function as training.
- `evaluate_transformed`: serialized transformed examples -> probabilities at
  each fixed as-of day (outputs `day_<d>`), for TFMA and the season evaluator.
- `evaluate_at_day`: serialized transformed examples and one as-of day of
  year -> probabilities, the gated label and `weight` at that day, for the
  season evaluator's dense curve (any day, without re-exporting).
- `eval_labels`: serialized transformed examples -> the gated label at each
  fixed as-of day (`label_day_<d>`) and `weight` (0 for double crops); TFMA
  runs it as a preprocessing function to find its labels.
"""

from typing import Dict, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from croptfx import features
from croptfx.trainer import window

SERVING_SIGNATURE = 'serving_default'
EVAL_SIGNATURE = 'evaluate_transformed'
EVAL_LABELS_SIGNATURE = 'eval_labels'
AT_DAY_SIGNATURE = 'evaluate_at_day'
AS_OF_DAY_INPUT = 'as_of_day'
LABEL = 'label'
EXAMPLES_INPUT = 'examples'
AS_OF_DATE_INPUT = 'as_of_date'
PROBABILITIES = 'probabilities'
CLASS_INDEX = 'class_index'
CLASS_NAME = 'class_name'
WEIGHT = 'weight'


def output_name(as_of_day: int) -> str:
  return f'day_{as_of_day}'


def label_name(as_of_day: int) -> str:
  return f'label_day_{as_of_day}'


def serving_raw_feature_spec(tf_transform_output: tft.TFTransformOutput) -> Dict[str, object]:
  """The raw feature spec with defaults for the features a request may omit."""
  spec = dict(tf_transform_output.raw_feature_spec())
  for key in features.PREDICTION_OPTIONAL_COLUMNS:
    feature = spec.get(key)
    if isinstance(feature, tf.io.FixedLenFeature):
      empty = b'' if feature.dtype == tf.string else 0
      spec[key] = tf.io.FixedLenFeature(
          feature.shape, feature.dtype,
          default_value=np.full(feature.shape, empty).tolist() if feature.shape else empty)
  return spec


def make_signatures(model, tf_transform_output: tft.TFTransformOutput,
                    as_of_days: Sequence[int]) -> Dict[str, tf.types.experimental.ConcreteFunction]:
  """The model's signatures (see the module docstring)."""
  # Tracked as an attribute so the Transform graph is saved with the model.
  model.tft_layer = tf_transform_output.transform_features_layer()
  raw_spec = serving_raw_feature_spec(tf_transform_output)
  transformed_spec = tf_transform_output.transformed_feature_spec()
  class_names = tf.constant(features.CLASS_NAMES)
  as_of_days = [int(d) for d in as_of_days]

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT),
      tf.TensorSpec([None], tf.string, name=AS_OF_DATE_INPUT)])
  def serve(examples, as_of_date):
    transformed = model.tft_layer(tf.io.parse_example(examples, raw_spec))
    # One date for all examples, or one per example.
    dates = tf.broadcast_to(as_of_date, tf.shape(examples))
    as_of_bin = window.as_of_bins_for_dates(dates, transformed[features.YEAR])
    probabilities = model(window.window_inputs(transformed, as_of_bin), training=False)
    class_index = tf.argmax(probabilities, axis=1)
    return {PROBABILITIES: probabilities, CLASS_INDEX: class_index,
            CLASS_NAME: tf.gather(class_names, class_index)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)])
  def evaluate_transformed(examples):
    transformed = tf.io.parse_example(examples, transformed_spec)
    return {
        output_name(day): model(window.window_inputs(
            transformed, window.as_of_bins_for_day(day, transformed[features.LABEL])),
                                training=False)
        for day in as_of_days}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)])
  def eval_labels(examples):
    transformed = tf.io.parse_example(examples, transformed_spec)
    excluded = tf.reshape(transformed[features.EXCLUDED], [-1]) > 0
    outputs = {WEIGHT: 1.0 - tf.cast(excluded, tf.float32)}
    for day in as_of_days:
      label = window.gate_labels(
          transformed[features.LABEL], transformed[features.OBSERVED],
          transformed[features.VEGETATION],
          window.as_of_bins_for_day(day, transformed[features.LABEL]))
      # Double crops carry weight 0; a valid class index keeps metrics happy.
      outputs[label_name(day)] = tf.where(excluded, tf.zeros_like(label), label)
    return outputs

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT),
                                tf.TensorSpec([], tf.int64, name=AS_OF_DAY_INPUT)])
  def evaluate_at_day(examples, as_of_day):
    transformed = tf.io.parse_example(examples, transformed_spec)
    inputs, label = window.apply_window(
        transformed, window.as_of_bins_for_day(as_of_day, transformed[features.LABEL]))
    excluded = tf.reshape(transformed[features.EXCLUDED], [-1]) > 0
    return {PROBABILITIES: model(inputs, training=False),
            LABEL: tf.where(excluded, tf.zeros_like(label), label),
            WEIGHT: 1.0 - tf.cast(excluded, tf.float32)}

  return {
      SERVING_SIGNATURE: serve.get_concrete_function(),
      AT_DAY_SIGNATURE: evaluate_at_day.get_concrete_function(),
      EVAL_SIGNATURE: evaluate_transformed.get_concrete_function(),
      EVAL_LABELS_SIGNATURE: eval_labels.get_concrete_function(),
  }
