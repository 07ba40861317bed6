"""TFRecord splits of an Examples artifact: listing and reading them.

A split is a `Split-<name>` directory of TFRecord files, uncompressed or
GZIP (`.gz` names): the compression is read from the file names, as TFX's
own readers decide it.
"""

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional

import numpy as np

from croptfx import features
from croptfx import layouts
from croptfx import paths

GZIP_SUFFIX = layouts.GZIP_SUFFIX


def ordered_splits(names: Iterable[str]) -> List[str]:
  """train, eval, test first (`features.SPLIT_ORDER`), then others by name."""
  names = set(names)
  return ([n for n in features.SPLIT_ORDER if n in names] +
          sorted(n for n in names if n not in features.SPLIT_ORDER))


def split_dirs(artifact_uri: Optional[str]) -> Dict[str, str]:
  """{split name: directory} of a split artifact, in `ordered_splits` order."""
  if not artifact_uri:
    return {}
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not tf.io.gfile.isdir(artifact_uri):
    return {}
  found = {}
  for name in tf.io.gfile.listdir(artifact_uri):
    name = name.rstrip('/')
    if name.startswith(layouts.SPLIT_PREFIX):
      found[name[len(layouts.SPLIT_PREFIX):]] = os.path.join(artifact_uri, name)
  return {split: found[split] for split in ordered_splits(found)}


def split_files(artifact_uri: str, split: str) -> List[str]:
  """The files of one split, sorted."""
  return paths.list_dir_files(os.path.join(artifact_uri, layouts.SPLIT_PREFIX + split))


def record_compression(files: Iterable[str]) -> str:
  """The `compression_type` of TFRecord `files`, from their names.

  'GZIP' when every name ends in `GZIP_SUFFIX`, '' when none does (also for
  no files), as tfx_bsl's `detect_compression_type` decides.

  Raises:
    ValueError: some files are GZIP and some are not.
  """
  files = [str(f) for f in files]
  gzipped = [f for f in files if f.endswith(layouts.GZIP_SUFFIX)]
  if not gzipped:
    return ''
  if len(gzipped) == len(files):
    return 'GZIP'
  plain = next(f for f in files if not f.endswith(layouts.GZIP_SUFFIX))
  raise ValueError(f'TFRecord files mix GZIP ({gzipped[0]}) and uncompressed '
                   f'({plain}) names')


def tfrecord_dataset(files: Iterable[str]):
  """`tf.data.TFRecordDataset` of `files`, compression from their names."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  files = [str(f) for f in files]
  return tf.data.TFRecordDataset(files, compression_type=record_compression(files))


def read_examples(split_directory: str, spec: Mapping[str, Any],
                  limit: Optional[int] = None) -> Dict[str, Any]:
  """Examples of one split directory (TFRecords) as NumPy arrays.

  Args:
    split_directory: a `Split-<name>` directory.
    spec: tf.io feature spec (`features.raw_feature_spec()`,
      `features.transformed_feature_spec()` or a subset).
    limit: None reads every example, file after file in name order; a number
      takes the first `limit` examples interleaved across the files (a sample
      of every shard), for the report.

  Returns:
    {key: array [n, ...]}; with no examples, arrays of length 0 (limit None)
    or an empty dict (a limit).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  files = paths.list_dir_files(split_directory)
  if limit is None:
    dataset = tfrecord_dataset(files).batch(4096)
    chunks = {key: [] for key in spec}
    for batch in dataset:
      parsed = tf.io.parse_example(batch, spec)
      for key in spec:
        chunks[key].append(parsed[key].numpy())
    return {key: (np.concatenate(chunks[key]) if chunks[key] else
                  np.zeros([0] + list(spec[key].shape)))
            for key in spec}
  if not files:
    return {}
  compression = record_compression(files)
  dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
      lambda f: tf.data.TFRecordDataset(f, compression_type=compression),
      cycle_length=len(files), block_length=1)
  # One batch fetched whole: iterating to the end makes TF log a warning.
  batch = dataset.take(limit).batch(limit)
  batch = batch.concatenate(tf.data.Dataset.from_tensors(tf.constant([], tf.string)))
  records = list(batch.take(1).get_single_element().numpy())
  if not records:
    return {}
  parts = {key: [] for key in spec}
  for start in range(0, len(records), 512):
    parsed = tf.io.parse_example(records[start:start + 512], spec)
    for key in spec:
      parts[key].append(parsed[key].numpy())
  return {key: np.concatenate(value) for key, value in parts.items()}
