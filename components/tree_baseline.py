"""TreeBaseline: gradient-boosted trees on the same windows, a reference curve.

A non-neural baseline for every in-season curve: scikit-learn's
HistGradientBoostingClassifier on the features the neural models see (the
36-bin window of 12 bands, its observed and vegetation masks, the as-of day),
cut and label-gated by the same `trainer.window` functions, trained on the
transformed train split and scored on every other split at the same as-of days
with the same metrics (`croptfx.metrics`) as the SeasonEvaluator.

One model serves every as-of day: like the neural models, it is trained on
windows ending at several random as-of dates per pixel, with the as-of day as a
feature (one model per day cost minutes per run).
"""

import json
import os
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import artifact_utils
from tfx.utils import io_utils

from sklearn import ensemble
import threadpoolctl

from croptfx.components import season_evaluator
from croptfx import features
from croptfx import layouts
from croptfx import metrics
from croptfx import outputs
from croptfx import records
from croptfx.trainer import window

_BATCH = 4096


def load_batches(files: Sequence[str]) -> List[Dict[str, tf.Tensor]]:
  """Transformed examples, double crops dropped, in batches, parsed once (a
  split is read at every as-of day; 3,000 pixels hold about 10 MB)."""
  spec = features.transformed_feature_spec()
  dataset = records.tfrecord_dataset(files).batch(_BATCH)
  batches = []
  for serialized in dataset:
    batch = tf.io.parse_example(serialized, spec)
    keep = tf.reshape(tf.equal(batch[features.EXCLUDED], 0), [-1])
    batches.append({k: tf.boolean_mask(v, keep) for k, v in batch.items()})
  return batches


def window_features(inputs: Dict[str, tf.Tensor]) -> np.ndarray:
  """Model inputs of `trainer.window.window_inputs` -> one flat row each:
  36x12 window values, 36 observed, 36 vegetation flags, then the as-of day."""
  n = int(inputs[features.AS_OF_DAY].shape[0])
  return np.concatenate([
      inputs[features.WINDOW].numpy().reshape(n, -1),
      inputs[features.WINDOW_OBSERVED].numpy().reshape(n, -1),
      inputs[features.WINDOW_VEGETATION].numpy().reshape(n, -1),
      inputs[features.AS_OF_DAY].numpy().reshape(n, 1)], axis=1).astype(np.float32)


def training_rows(batches, draws: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
  """`draws` windows per pixel at random as-of bins (as `input_fn` draws them)."""
  tf.random.set_seed(seed)
  xs, ys = [], []
  for batch in batches:
    for _ in range(draws):
      as_of_bin = window.draw_as_of_bins(batch[features.FIRST_BIN], batch[features.LAST_BIN])
      inputs, label = window.apply_window(batch, as_of_bin)
      xs.append(window_features(inputs))
      ys.append(label.numpy())
  if not xs:
    raise ValueError('no training examples for the tree baseline')
  return np.concatenate(xs), np.concatenate(ys)


def rows_at_day(batches, day: int) -> Tuple[np.ndarray, np.ndarray]:
  """Every pixel's window and gated label at one fixed as-of day."""
  xs, ys = [], []
  for batch in batches:
    inputs, label = window.apply_window(
        batch, window.as_of_bins_for_day(day, batch[features.LABEL]))
    xs.append(window_features(inputs))
    ys.append(label.numpy())
  if not xs:
    return np.zeros((0, 1), np.float32), np.zeros(0, np.int64)
  return np.concatenate(xs), np.concatenate(ys)


def train(batches, draws: int, max_iter: int, learning_rate: float, seed: int):
  """The fitted classifier and its training facts."""
  start = time.monotonic()
  x, y = training_rows(batches, draws, seed)
  classifier = ensemble.HistGradientBoostingClassifier(
      max_iter=max_iter, learning_rate=learning_rate, early_stopping=False,
      random_state=seed)
  # One OpenMP thread: on a busy machine (Beam workers, TensorFlow's pools)
  # OpenMP's spinning threads made the fit many times slower, not faster.
  with threadpoolctl.threadpool_limits(1, user_api='openmp'):
    classifier.fit(x, y)
  return classifier, {'train_seconds': round(time.monotonic() - start, 2),
                      'train_rows': int(len(y)), 'features': int(x.shape[1]),
                      'draws_per_pixel': draws, 'max_iter': max_iter,
                      'learning_rate': learning_rate}


def predict_classes(classifier, x: np.ndarray) -> np.ndarray:
  """Class indices (the classifier's classes are the labels it saw)."""
  if not len(x):
    return np.zeros(0, np.int64)
  with threadpoolctl.threadpool_limits(1, user_api='openmp'):
    return classifier.classes_[classifier.predict_proba(x).argmax(axis=1)].astype(np.int64)


def evaluate(classifier, batches, as_of_days: Sequence[int]) -> Dict[str, object]:
  """{day: metrics.summarize(...)} for one split."""
  result = {}
  for day in as_of_days:
    x, y = rows_at_day(batches, day)
    result[str(day)] = metrics.summarize(
        metrics.confusion_matrix(y, predict_classes(classifier, x)))
  return result


def _split_files(examples, split: str) -> List[str]:
  return tf.io.gfile.glob(io_utils.all_files_pattern(
      artifact_utils.get_split_uri([examples], split)))


@tfx.dsl.components.component
def TreeBaseline(  # pylint: disable=invalid-name
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    evaluation: tfx.dsl.components.OutputArtifact[season_evaluator.InSeasonEvaluation],
    train_split: tfx.dsl.components.Parameter[str],
    splits: tfx.dsl.components.Parameter[str],
    as_of_days: tfx.dsl.components.Parameter[str],
    draws_per_pixel: tfx.dsl.components.Parameter[int],
    max_iter: tfx.dsl.components.Parameter[int],
    learning_rate: tfx.dsl.components.Parameter[float],
    seed: tfx.dsl.components.Parameter[int],
    code_fingerprint: tfx.dsl.components.Parameter[str],
) -> None:
  """Trains on `train_split`, scores each of `splits` at each as-of day.

  Writes metrics.json in the SeasonEvaluator's format and
  baseline_training.json (fit time, rows). `code_fingerprint` is only part of
  the cache key (see croptfx.fingerprint).
  """
  del code_fingerprint
  days = [int(d) for d in as_of_days.split(',') if d.strip()]
  classifier, info = train(load_batches(_split_files(examples, train_split)),
                           draws_per_pixel, max_iter, learning_rate, seed)
  available = set(artifact_utils.decode_split_names(examples.split_names))
  result = {'as_of_days': days, 'splits': {}}
  for split in [s.strip() for s in splits.split(',') if s.strip()]:
    if split in available:
      result['splits'][split] = evaluate(
          classifier, load_batches(_split_files(examples, split)), days)
  with tf.io.gfile.GFile(os.path.join(evaluation.uri, layouts.SEASON_METRICS_FILE), 'w') as f:
    json.dump(result, f, indent=1)
  outputs.write_baseline_training(evaluation.uri, info)
