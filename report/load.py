"""Reading a run's files: the summary and samples of the artifacts it names.

Everything is optional: a reader returns None (or an empty result) when its
input is missing, and the page says so. Large splits are sampled (the first
`limit` examples, interleaved across the split's files) so the report stays
fast on big runs.
"""

import dataclasses
import json
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from croptfx import codec
from croptfx import features

SUMMARY_FILE = 'run_summary.json'
ANOMALIES_FILE = 'SchemaDiff.pb'  # what TFX's ExampleValidator writes per split
SEASON_METRICS_FILE = 'metrics.json'  # components.season_evaluator.METRICS_FILE
PREDICTIONS_FILE = 'predictions.parquet'  # ...season_evaluator.PREDICTIONS_FILE
SPLIT_PREFIX = 'Split-'
DEFAULT_SAMPLE_ROWS = 3000
_BATCH = 512


def read_summary(run_dir: str) -> Optional[Dict[str, object]]:
  path = os.path.join(run_dir, SUMMARY_FILE)
  if not os.path.exists(path):
    return None
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def _gfile():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


def split_dirs(artifact_uri: Optional[str]) -> Dict[str, str]:
  """{split name: directory} of an Examples artifact, in a stable order."""
  if not artifact_uri:
    return {}
  gfile = _gfile()
  if not gfile.isdir(artifact_uri):
    return {}
  result = {}
  for name in sorted(gfile.listdir(artifact_uri)):
    name = name.rstrip('/')
    if name.startswith(SPLIT_PREFIX):
      result[name[len(SPLIT_PREFIX):]] = os.path.join(artifact_uri, name)
  return _ordered(result)


def _ordered(by_split: Dict[str, str]) -> Dict[str, str]:
  """train, eval, test first, then any other split alphabetically."""
  known = (features.TRAIN_SPLIT, features.EVAL_SPLIT, features.TEST_SPLIT)
  keys = [k for k in known if k in by_split]
  keys += sorted(k for k in by_split if k not in known)
  return {k: by_split[k] for k in keys}


def _records(split_dir: str, limit: int) -> List[bytes]:
  """Up to `limit` serialized examples, interleaved across the files."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  files = sorted(tf.io.gfile.glob(os.path.join(split_dir, '*')))
  if not files:
    return []
  dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
      lambda f: tf.data.TFRecordDataset(f, compression_type='GZIP'),
      cycle_length=len(files), block_length=1)
  # One batch fetched whole: iterating to the end makes TF log a warning.
  batch = dataset.take(limit).batch(limit)
  batch = batch.concatenate(tf.data.Dataset.from_tensors(tf.constant([], tf.string)))
  return list(batch.take(1).get_single_element().numpy())


def _parse(records: List[bytes], spec) -> Dict[str, np.ndarray]:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  parts: Dict[str, List[np.ndarray]] = {k: [] for k in spec}
  for start in range(0, len(records), _BATCH):
    parsed = tf.io.parse_example(records[start:start + _BATCH], spec)
    for key in spec:
      parts[key].append(parsed[key].numpy())
  return {k: np.concatenate(v) for k, v in parts.items()}


@dataclasses.dataclass
class RawSample:
  """Decoded raw examples of one split (one entry per pixel-year)."""
  dates: List[np.ndarray]  # days since 1970-01-01, as stored (maybe unsorted)
  scl: List[np.ndarray]
  bands: List[np.ndarray]  # [N, 12] uint16
  year: np.ndarray
  cdl: np.ndarray  # object array of str

  def __len__(self):
    return len(self.dates)


def read_raw(split_dir: str, limit: int = DEFAULT_SAMPLE_ROWS) -> RawSample:
  from preprocessing import preprocessing  # pylint: disable=g-import-not-at-top
  spec = {k: preprocessing.RAW_FEATURE_SPEC[k] for k in (
      features.BANDS, features.IMG_DATES, features.SCL_VALS, features.YEAR, features.CDL)}
  records = _records(split_dir, limit)
  if not records:
    return RawSample([], [], [], np.zeros(0, np.int64), np.zeros(0, object))
  parsed = _parse(records, spec)
  return RawSample(
      dates=[codec.decode_dates(b) for b in parsed[features.IMG_DATES]],
      scl=[codec.decode_scl(b) for b in parsed[features.SCL_VALS]],
      bands=[codec.decode_bands(b) for b in parsed[features.BANDS]],
      year=parsed[features.YEAR].astype(np.int64),
      cdl=np.array([b.decode('utf-8', 'replace') for b in parsed[features.CDL]],
                   dtype=object))


def read_transformed(split_dir: str, limit: int = DEFAULT_SAMPLE_ROWS) -> Dict[str, np.ndarray]:
  """Transformed examples: grid [n, bins, bands], observed, label, ..."""
  from preprocessing import preprocessing  # pylint: disable=g-import-not-at-top
  spec = {k: preprocessing.TRANSFORMED_FEATURE_SPEC[k] for k in (
      features.GRID, features.OBSERVED, features.LABEL, features.EXCLUDED, features.YEAR)}
  records = _records(split_dir, limit)
  if not records:
    return {}
  return _parse(records, spec)


def read_season_metrics(season_uri: Optional[str]) -> Optional[Dict[str, object]]:
  if not season_uri:
    return None
  path = os.path.join(season_uri, SEASON_METRICS_FILE)
  gfile = _gfile()
  if not gfile.exists(path):
    return None
  with gfile.GFile(path) as f:
    return json.load(f)


def read_predictions(season_uri: Optional[str]):
  """The headline-day predictions as a pandas DataFrame, or None."""
  if not season_uri:
    return None
  path = os.path.join(season_uri, PREDICTIONS_FILE)
  gfile = _gfile()
  if not gfile.exists(path):
    return None
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  # Read whole: pyarrow cannot seek in a GFile (and the file is one row per pixel).
  with gfile.GFile(path, 'rb') as f:
    data = f.read()
  table = pq.read_table(pa.BufferReader(data),
                        columns=['split', 'lon', 'lat', 'true', 'predicted'])
  return table.to_pandas()


def read_anomalies(anomalies_uri: Optional[str]) -> Dict[str, List[Tuple[str, str]]]:
  """{split: [(feature, short description)]} found by ExampleValidator."""
  from tensorflow_metadata.proto.v0 import anomalies_pb2  # pylint: disable=g-import-not-at-top
  gfile = _gfile()
  result = {}
  for split, path in split_dirs(anomalies_uri).items():
    path = os.path.join(path, ANOMALIES_FILE)
    if not gfile.exists(path):
      continue
    anomalies = anomalies_pb2.Anomalies()
    with gfile.GFile(path, 'rb') as f:
      anomalies.ParseFromString(f.read())
    found = [(name, info.short_description or info.description)
             for name, info in sorted(anomalies.anomaly_info.items())]
    if anomalies.HasField('dataset_anomaly_info'):
      info = anomalies.dataset_anomaly_info
      found.append(('(dataset)', info.short_description or info.description))
    result[split] = found
  return result
