"""CDL class name -> training class, as a lookup table in the graph.

The mapping is data (`croptfx.features.load_label_mapping`); it is baked into
the Transform graph as a constant table, so serving uses the mapping the model
was trained with.
"""

from typing import Tuple

import tensorflow as tf

from croptfx import features

# Table value of names that are excluded (double crops); class indices are
# >= 0 and a missing key returns _NOT_FOUND.
_EXCLUDED = -2
_NOT_FOUND = -3


def normalize_cdl_names(names: tf.Tensor) -> tf.Tensor:
  """`features.normalize_cdl_name` in the graph (UTF-8 aware lower case)."""
  names = tf.strings.lower(names, encoding='utf-8')
  names = tf.strings.regex_replace(names, features.CDL_SEPARATORS_PATTERN, ' ')
  return tf.strings.strip(names)


def make_label_table(
    mapping: features.LabelMapping) -> tf.lookup.StaticHashTable:
  """Normalized CDL name -> class index, or _EXCLUDED for excluded names."""
  values = dict(mapping.class_of)
  # Excluded wins over a class, as in `LabelMapping.lookup`.
  values.update({name: _EXCLUDED for name in mapping.excluded_names})
  keys = sorted(values)
  initializer = tf.lookup.KeyValueTensorInitializer(
      tf.constant(keys, tf.string),
      tf.constant([values[k] for k in keys], tf.int64))
  return tf.lookup.StaticHashTable(initializer, default_value=_NOT_FOUND)


def lookup_labels(
    cdl: tf.Tensor, mapping: features.LabelMapping,
    table: tf.lookup.StaticHashTable) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Labels of [batch] CDL names, like `LabelMapping.lookup`.

  Args:
    cdl: [batch] tf.string CDL class names.
    mapping: the mapping `table` was made from (for prefixes and default).
    table: `make_label_table(mapping)`.

  Returns:
    (label, excluded, known_cdl), each [batch] int64: the class index or
    EXCLUDED_LABEL, 1 for excluded names (double crops), 1 if the name is in
    the mapping (excluded names count as known).
  """
  key = normalize_cdl_names(cdl)
  value = table.lookup(key)
  excluded = tf.equal(value, _EXCLUDED)
  for prefix in mapping.excluded_prefixes:
    excluded |= tf.strings.substr(key, 0, len(prefix.encode('utf-8'))) == prefix
  found = tf.not_equal(value, _NOT_FOUND)
  label = tf.where(found, value, tf.constant(mapping.default_class, tf.int64))
  label = tf.where(excluded,
                   tf.constant(features.EXCLUDED_LABEL, tf.int64), label)
  known = found | excluded
  return label, tf.cast(excluded, tf.int64), tf.cast(known, tf.int64)
