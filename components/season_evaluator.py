"""SeasonEvaluator: the in-season curve TFMA does not draw.

For each evaluated split (the eval and test years) and each as-of day of the
dense curve (every 15 days, pipeline/configs.py `SEASON_AS_OF_DAYS`), runs the trained
model's `evaluate_at_day` signature over the transformed examples and records
accuracy, macro-F1, the confusion matrix and per-class precision/recall/F1
(`metrics.json`), plus one row per pixel at the
headline as-of day (`predictions.parquet`: lon, lat, year, bbox, true and
predicted class, probabilities) for the report's maps.
"""

import json
import os
from typing import Dict, List

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import artifact
from tfx.types import artifact_utils
from tfx.utils import io_utils
from tfx.utils import path_utils

from croptfx import features
from croptfx import layouts
from croptfx import metrics
from croptfx import records
from croptfx.trainer import signatures

_BATCH = 2048


class InSeasonEvaluation(artifact.Artifact):
  """Accuracy/macro-F1 per split and as-of day, and per-pixel predictions."""
  # Namespaced as Kubeflow v2 requires of custom artifact types.
  TYPE_NAME = 'croptfx.InSeasonEvaluation'


def _split_files(examples: artifact.Artifact, split: str) -> List[str]:
  return io_utils.all_files_pattern(artifact_utils.get_split_uri([examples], split))


def evaluate_split(model, files, as_of_days, headline_day) -> Dict[str, object]:
  """Confusion matrices per as-of day and the headline-day pixel rows."""
  at_day = model.signatures[signatures.AT_DAY_SIGNATURE]
  spec = features.transformed_feature_spec()
  passthrough_spec = {k: spec[k] for k in features.PASSTHROUGH}
  cms = {day: np.zeros((features.NUM_CLASSES,) * 2, np.int64) for day in as_of_days}
  rows: Dict[str, list] = {k: [] for k in features.PASSTHROUGH + ('true', 'predicted',
                                                                  'probabilities')}
  dataset = records.tfrecord_dataset(tf.io.gfile.glob(files)).batch(_BATCH)
  for batch in dataset:
    for day in sorted(set(as_of_days) | {headline_day}):
      out = at_day(examples=batch, as_of_day=tf.constant(day, tf.int64))
      keep = out[signatures.WEIGHT].numpy() > 0
      y_true = out[signatures.LABEL].numpy()[keep]
      probabilities = out[signatures.PROBABILITIES].numpy()[keep]
      if day in cms:
        cms[day] += metrics.confusion_matrix(y_true, probabilities.argmax(axis=1))
      if day == headline_day:
        ids = tf.io.parse_example(batch, passthrough_spec)
        for key in features.PASSTHROUGH:
          rows[key].append(ids[key].numpy()[keep])
        rows['true'].append(y_true)
        rows['predicted'].append(probabilities.argmax(axis=1))
        rows['probabilities'].append(probabilities)
  return {'confusion': cms,
          'rows': {k: np.concatenate(v) if v else np.zeros(0) for k, v in rows.items()}}


@tfx.dsl.components.component
def SeasonEvaluator(  # pylint: disable=invalid-name
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    evaluation: tfx.dsl.components.OutputArtifact[InSeasonEvaluation],
    splits: tfx.dsl.components.Parameter[str],
    as_of_days: tfx.dsl.components.Parameter[str],
    headline_day: tfx.dsl.components.Parameter[int],
    code_fingerprint: tfx.dsl.components.Parameter[str],
) -> None:
  """Evaluates the model on each split at each as-of day.

  splits, as_of_days: comma-separated (create_pipeline passes the roles'
  evaluated splits and pipeline/configs.py SEASON_AS_OF_DAYS); headline_day:
  the day whose per-pixel rows are kept. `code_fingerprint` is only part of
  the cache key (see croptfx.fingerprint).
  """
  del code_fingerprint
  days = [int(d) for d in as_of_days.split(',') if d.strip()]
  available = set(artifact_utils.decode_split_names(examples.split_names))
  loaded = tf.saved_model.load(path_utils.serving_model_path(model.uri))
  result = {'as_of_days': days, 'headline_day': headline_day, 'splits': {}}
  tables = []
  for split in [s.strip() for s in splits.split(',') if s.strip()]:
    if split not in available:
      continue
    out = evaluate_split(loaded, _split_files(examples, split), days, headline_day)
    result['splits'][split] = {str(day): metrics.summarize(out['confusion'][day])
                               for day in days}
    rows = out['rows']
    tables.append(pa.table({
        'split': [split] * len(rows['true']),
        features.LON: rows[features.LON].astype(np.float64),
        features.LAT: rows[features.LAT].astype(np.float64),
        features.YEAR: rows[features.YEAR].astype(np.int64),
        features.BBOX: rows[features.BBOX].astype(np.int64),
        'true': rows['true'].astype(np.int64), 'predicted': rows['predicted'].astype(np.int64),
        'probabilities': pa.array(rows['probabilities'].astype(np.float32).tolist(),
                                  pa.list_(pa.float32())),
    }))
  with tf.io.gfile.GFile(os.path.join(evaluation.uri, layouts.SEASON_METRICS_FILE), 'w') as f:
    json.dump(result, f, indent=1)
  if tables:
    buffer = pa.BufferOutputStream()  # GFile is not a file pyarrow can write to
    pq.write_table(pa.concat_tables(tables), buffer)
    with tf.io.gfile.GFile(os.path.join(evaluation.uri, layouts.PREDICTIONS_FILE), 'wb') as f:
      f.write(buffer.getvalue().to_pybytes())
  for split, by_day in result['splits'].items():
    head = by_day.get(str(headline_day))
    if head:
      evaluation.set_float_custom_property(f'{split}_accuracy', head['accuracy'])
      evaluation.set_float_custom_property(f'{split}_macro_f1', head['macro_f1'])

