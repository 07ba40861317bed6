"""What the components write into their artifacts, read back (and the
Trainer's and the TreeBaseline's facts, written).

  counts.json                          ParquetExampleGen: `read_counts`
  croptfx_band_statistics.json asset   Transform: `read_band_statistics`
  metrics.json                         SeasonEvaluator, TreeBaseline: `read_season_metrics`
  croptfx_training.json                Trainer: `write/read_training_info`
  baseline_training.json               TreeBaseline: `write/read_baseline_training`

File names are in `croptfx.layouts`. Beam, TensorFlow and tf.Transform are
imported inside the readers that need them.
"""

import json
import os
from typing import Any, Dict, List, Mapping, Optional

from croptfx import features
from croptfx import layouts


def read_counts(examples_uri: str) -> Dict[str, Any]:
  """The counts of the ExampleGen run that wrote the artifact at this URI.

  Read with Beam's file systems, as the executor writes them (gs://, s3://).
  """
  from apache_beam.io.filesystem import CompressionTypes  # pylint: disable=g-import-not-at-top
  from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
  with FileSystems.open(layouts.counts_path(examples_uri), 'application/json',
                        CompressionTypes.UNCOMPRESSED) as f:
    return json.loads(f.read().decode('utf-8'))


# --- Transform: band statistics ----------------------------------------------

def read_band_statistics(transform_output_dir: str) -> Dict[str, List[float]]:
  """Band mean/std the Transform output was normalized with.

  Args:
    transform_output_dir: the Transform graph directory (what
      `tft.TFTransformOutput` takes; the `transform_graph` artifact URI).

  Returns:
    {'band_mean': [NUM_BANDS floats], 'band_std': [NUM_BANDS floats]} in
    `features.BAND_NAMES` order, the exact values used in the graph.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_transform as tft  # pylint: disable=g-import-not-at-top
  tft_output = tft.TFTransformOutput(transform_output_dir)
  # The asset map names the file; without it (an older TFT, a partial copy)
  # the file still sits under its own name in the assets directory.
  path = tft_output.vocabulary_file_by_name(layouts.BAND_STATISTICS_KEY)
  if path is None:
    path = os.path.join(tft_output.transform_savedmodel_dir,
                        tf.saved_model.ASSETS_DIRECTORY, layouts.BAND_STATISTICS_FILE)
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(
        f'{transform_output_dir}: no {layouts.BAND_STATISTICS_FILE} asset; was the '
        'graph made by preprocessing.preprocessing.preprocessing_fn?')
  with tf.io.gfile.GFile(path) as f:
    stats = json.load(f)
  if stats.get('band_names') != list(features.BAND_NAMES):
    raise ValueError(f'{path}: bands {stats.get("band_names")} are not '
                     f'{list(features.BAND_NAMES)}')
  return {'band_mean': [float(v) for v in stats['band_mean']],
          'band_std': [float(v) for v in stats['band_std']]}


# --- SeasonEvaluator ---------------------------------------------------------

def read_season_metrics(season_uri: Optional[str]) -> Optional[Dict[str, Any]]:
  """metrics.json of an InSeasonEvaluation artifact, or None if absent."""
  if not season_uri:
    return None
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path = os.path.join(season_uri, layouts.SEASON_METRICS_FILE)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def _write_json(directory: str, name: str, data: Mapping[str, Any]) -> None:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.io.gfile.makedirs(directory)
  with tf.io.gfile.GFile(os.path.join(directory, name), 'w') as f:
    json.dump(dict(data), f, indent=1)


def _read_json(directory: Optional[str], name: str) -> Optional[Dict[str, Any]]:
  if not directory:
    return None
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path = os.path.join(directory, name)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


# --- Trainer -----------------------------------------------------------------

def model_info_path(model_dir: str) -> str:
  return os.path.join(model_dir, 'assets.extra', layouts.MODEL_INFO_FILE)


def write_model_info(model_dir: str, info: Mapping[str, Any]) -> None:
  """{model, as_of_day_range: [first, last]} into a SavedModel directory."""
  _write_json(os.path.dirname(model_info_path(model_dir)), layouts.MODEL_INFO_FILE, info)


def read_model_info(model_dir: str) -> Optional[Dict[str, Any]]:
  """A pushed model's info, or None (a model exported before it existed)."""
  return _read_json(os.path.dirname(model_info_path(model_dir)), layouts.MODEL_INFO_FILE)

def write_training_info(model_run_uri: str, info: Mapping[str, Any]) -> None:
  """{model, params, train_seconds, train_examples, examples_per_second}."""
  _write_json(model_run_uri, layouts.TRAINING_FILE, info)


def read_training_info(model_run_uri: Optional[str]) -> Optional[Dict[str, Any]]:
  return _read_json(model_run_uri, layouts.TRAINING_FILE)


# --- TreeBaseline ------------------------------------------------------------

def write_baseline_training(baseline_uri: str, info: Mapping[str, Any]) -> None:
  _write_json(baseline_uri, layouts.BASELINE_TRAINING_FILE, info)


def read_baseline_training(baseline_uri: Optional[str]) -> Optional[Dict[str, Any]]:
  return _read_json(baseline_uri, layouts.BASELINE_TRAINING_FILE)
