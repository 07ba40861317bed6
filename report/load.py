"""The report's samples of the artifacts a run summary names.

The run's files are named and read in `croptfx.artifacts`; this module
decodes what the report draws.

Everything is optional: a reader returns None (or an empty result) when its
input is missing, and the page says so. Large splits are sampled (the first
`limit` examples, interleaved across the split's files) so the report stays
fast on big runs.
"""

import dataclasses
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from tensorflow_metadata.proto.v0 import anomalies_pb2
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf

from croptfx import codec
from croptfx import features
from croptfx import layouts
from croptfx import records

DEFAULT_SAMPLE_ROWS = 3000



def _gfile():
  return tf.io.gfile


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
  spec = features.raw_feature_spec()
  parsed = records.read_examples(split_dir, {k: spec[k] for k in (
      features.BANDS, features.IMG_DATES, features.SCL_VALS, features.YEAR, features.CDL)},
                                   limit)
  if not parsed:
    return RawSample([], [], [], np.zeros(0, np.int64), np.zeros(0, object))
  return RawSample(
      dates=[codec.decode_dates(b) for b in parsed[features.IMG_DATES]],
      scl=[codec.decode_scl(b) for b in parsed[features.SCL_VALS]],
      bands=[codec.decode_bands(b) for b in parsed[features.BANDS]],
      year=parsed[features.YEAR].astype(np.int64),
      cdl=np.array([b.decode('utf-8', 'replace') for b in parsed[features.CDL]],
                   dtype=object))


def read_transformed(split_dir: str, limit: int = DEFAULT_SAMPLE_ROWS) -> Dict[str, np.ndarray]:
  """Transformed examples: grid [n, bins, bands], observed, label, ..."""
  spec = features.transformed_feature_spec()
  return records.read_examples(split_dir, {k: spec[k] for k in (
      features.GRID, features.OBSERVED, features.LABEL, features.EXCLUDED, features.YEAR)},
                                 limit)


def read_predictions(season_uri: Optional[str]):
  """The headline-day predictions as a pandas DataFrame, or None."""
  if not season_uri:
    return None
  path = os.path.join(season_uri, layouts.PREDICTIONS_FILE)
  gfile = _gfile()
  if not gfile.exists(path):
    return None
  # Read whole: pyarrow cannot seek in a GFile (and the file is one row per pixel).
  with gfile.GFile(path, 'rb') as f:
    data = f.read()
  table = pq.read_table(pa.BufferReader(data),
                        columns=['split', features.LON, features.LAT, 'true', 'predicted'])
  return table.to_pandas()


def read_anomalies(anomalies_uri: Optional[str]) -> Dict[str, List[Tuple[str, str]]]:
  """{split: [(feature, short description)]} found by ExampleValidator."""
  gfile = _gfile()
  result = {}
  for split, path in records.split_dirs(anomalies_uri).items():
    path = os.path.join(path, layouts.ANOMALIES_FILE)
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
