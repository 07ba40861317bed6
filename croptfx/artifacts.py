"""A run's files: their names, where they sit, and how they are read and written.

The one home of the output contract. `pipeline/run.py` and the components
write through it; `report/`, `bench/` and the tests read through it.

  <output>/                       one `croptfx run` (`RunLayout`)
    run_summary.json              `RunSummary`
    report.html                   the report
    logs/run.log                  full TFX/Beam/TF logs
    metadata.db                   ML Metadata (SQLite)
    serving_model/<version>/      the pushed model
    pipeline/<Component>/...      the artifacts, named in run_summary.json

  Examples artifact (ParquetExampleGen, Transform)
    Split-<name>/*                TFRecords of one split: uncompressed, or GZIP
                                  when every name ends in .gz (`record_compression`)
    counts.json                   ExampleGen only: rows read, per split, per reason
    quarantine/quarantine-*.parquet  ExampleGen only: bad rows with their reason
  transform_graph artifact
    transform_fn/assets/croptfx_band_statistics.json  band mean/std
  InSeasonEvaluation artifact (SeasonEvaluator)
    metrics.json, predictions.parquet

  <output>/                       one `croptfx map` (`MapLayout`)
    map_summary.json              rows read, predicted, skipped by reason, per class
    pixels/pixels-*.parquet       GeoParquet shards, one row per mapped pixel
    skipped/skipped-*.parquet     rows not mapped, with source_file and reason
    classes.tif, confidence.tif   Cloud-Optimized GeoTIFFs (pixels on a regular grid)
    quicklook.png                 classes.tif with a legend
    logs/map.log                  Beam/TF logs of the map job

Imports only the standard library and `croptfx.features`; TensorFlow,
tf.Transform, Beam and NumPy are imported inside the readers that need them.
"""

import dataclasses
import json
import os
import posixpath
from typing import Any, Dict, Iterable, List, Mapping, Optional

from croptfx import features

# Inside artifacts.
SPLIT_PREFIX = 'Split-'
# TFRecord files ending in this are GZIP-compressed, the others are not: the
# rule TFX's readers apply (Beam's AUTO compression, tfx_bsl's dataset).
GZIP_SUFFIX = '.gz'
COUNTS_FILE = 'counts.json'
QUARANTINE_DIR = 'quarantine'
QUARANTINE_PREFIX = 'quarantine'
# The band statistics travel with the Transform graph as a TFT asset, under
# this key in the asset map and this file name in the assets directory.
BAND_STATISTICS_KEY = 'band_statistics'
BAND_STATISTICS_FILE = 'croptfx_band_statistics.json'
SEASON_METRICS_FILE = 'metrics.json'
PREDICTIONS_FILE = 'predictions.parquet'
# The Trainer's model_run artifact: architecture, parameters, training time.
TRAINING_FILE = 'croptfx_training.json'
# The TreeBaseline's artifact holds its metrics in the SeasonEvaluator's
# format (SEASON_METRICS_FILE) and its training facts here.
BASELINE_TRAINING_FILE = 'baseline_training.json'
# What TFX's StatisticsGen and ExampleValidator write per split.
STATISTICS_FILE = 'FeatureStats.pb'
ANOMALIES_FILE = 'SchemaDiff.pb'

# Under a run's output directory.
SUMMARY_FILE = 'run_summary.json'
REPORT_FILE = 'report.html'


@dataclasses.dataclass(frozen=True)
class RunLayout:
  """Where a run keeps its files, under one output directory."""
  output: str

  @property
  def pipeline_root(self):
    return os.path.join(self.output, 'pipeline')

  @property
  def metadata_path(self):
    return os.path.join(self.output, 'metadata.db')

  @property
  def serving_model_dir(self):
    return os.path.join(self.output, 'serving_model')

  @property
  def summary_path(self):
    return os.path.join(self.output, SUMMARY_FILE)

  @property
  def report_path(self):
    return os.path.join(self.output, REPORT_FILE)

  @property
  def log_path(self):
    return os.path.join(self.output, 'logs', 'run.log')


# --- paths: literal when they exist --------------------------------------------

GLOB_CHARS = '*?[]'


def has_glob_chars(path: str) -> bool:
  return any(ch in path for ch in GLOB_CHARS)


def escape_glob(path: str) -> str:
  """`path` as a Beam/fnmatch pattern matching exactly itself: every glob
  character in a one-character class (`out[1]` -> `out[[]1[]]`)."""
  return ''.join(f'[{ch}]' if ch in GLOB_CHARS else ch for ch in path)


def literal_or_pattern(path: str, exists: bool) -> str:
  """The pattern that names `path`: an existing path is taken literally
  (its glob characters escaped); only a path that does not exist is a glob."""
  return escape_glob(path) if exists else path


def list_dir_files(directory: str) -> List[str]:
  """The files directly in `directory`, sorted; no glob, so a directory
  name holding `[`, `*` or `?` is read as written."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not tf.io.gfile.isdir(directory):
    return []
  paths = [posixpath.join(directory, name.rstrip('/'))
           for name in tf.io.gfile.listdir(directory)]
  return sorted(p for p in paths if not tf.io.gfile.isdir(p))


def glob_free_alias(directory: str) -> str:
  """A path to `directory` without glob characters, for tools that glob it.

  TFX and Beam treat artifact paths as patterns in places (Beam renames its
  temporary files with a match on the destination), so an output directory
  like `out[1]` breaks them. It is reached through a symbolic link under
  the system temp directory, named by a hash of its absolute path (the same
  link every run, so the cache still hits); a path without glob characters
  is returned as it is.
  """
  import hashlib  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  if '://' in directory:  # an object store path: no local link can help
    return directory
  target = os.path.abspath(directory)
  if not has_glob_chars(target):
    return target
  links = os.path.join(tempfile.gettempdir(), 'croptfx-output-links')
  os.makedirs(links, exist_ok=True)
  link = os.path.join(links, hashlib.sha256(target.encode('utf-8')).hexdigest()[:16])
  if os.path.islink(link) and os.readlink(link) == target:
    return link
  tmp = f'{link}.{os.getpid()}'
  os.symlink(target, tmp)
  os.replace(tmp, link)  # atomic, also over a stale link
  return link


def move_aside(paths: Iterable[str], suffix: str = '.previous') -> List[str]:
  """Renames the files that exist to `<path><suffix>`; returns the new names."""
  moved = []
  for path in paths:
    if os.path.exists(path):
      os.replace(path, path + suffix)
      moved.append(path + suffix)
  return moved


# --- the pushed model ----------------------------------------------------------

def check_serving_model(model_dir: str, signature: str = 'serving_default',
                        inputs: Iterable[str] = ('examples', 'as_of_date')) -> None:
  """Refuses, in one line, a --model that is not a pushed model.

  Reads the SavedModel's proto only (no graph is loaded), so a run directory,
  a Transform graph or a Trainer's model directory is named for what it is
  before any work.

  Raises:
    CroptfxError: not a SavedModel, or no `signature` taking `inputs`.
  """
  from croptfx import errors  # pylint: disable=g-import-not-at-top
  if not os.path.isdir(model_dir) and '://' not in model_dir:
    raise errors.InputDataError(model_dir, 'no such model directory')
  if os.path.exists(os.path.join(model_dir, SUMMARY_FILE)):
    summary = read_summary(model_dir)
    hint = (f'; its pushed model is {summary.model_dir}' if summary and summary.model_dir
            else '; that run pushed no model')
    raise errors.InputDataError(model_dir, f'is a run directory, not a model{hint}')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  # pylint: disable=g-direct-tensorflow-import
  from tensorflow.python.saved_model import loader_impl
  # pylint: enable=g-direct-tensorflow-import
  if not tf.saved_model.contains_saved_model(model_dir):
    if tf.io.gfile.isdir(os.path.join(model_dir, 'transform_fn')):
      raise errors.InputDataError(
          model_dir, f'is a Transform graph, not a pushed model (use the model_dir of '
          f'{SUMMARY_FILE})')
    raise errors.InputDataError(
        model_dir, f'is not a SavedModel directory (use the model_dir of {SUMMARY_FILE})')
  try:
    saved_model = loader_impl.parse_saved_model(model_dir)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.InputDataError(model_dir, f'cannot read the SavedModel: {e}') from None
  found = {}
  for meta_graph in saved_model.meta_graphs:
    found.update(meta_graph.signature_def)
  if signature not in found:
    raise errors.InputDataError(
        model_dir, f'is a SavedModel without a {signature!r} signature (a Transform graph '
        'or a model not exported by this project?); use the model_dir of ' + SUMMARY_FILE)
  missing = sorted(set(inputs) - set(found[signature].inputs))
  if missing:
    raise errors.InputDataError(
        model_dir, f'its {signature!r} signature does not take {", ".join(missing)}; '
        'not a model exported by this project')

# Under a map's output directory.
MAP_SUMMARY_FILE = 'map_summary.json'
MAP_PIXELS_DIR = 'pixels'
MAP_PIXELS_PREFIX = 'pixels'
MAP_SKIPPED_DIR = 'skipped'
MAP_SKIPPED_PREFIX = 'skipped'
MAP_CLASSES_TIF = 'classes.tif'
MAP_CONFIDENCE_TIF = 'confidence.tif'
MAP_QUICKLOOK = 'quicklook.png'


@dataclasses.dataclass(frozen=True)
class MapLayout:
  """Where a map keeps its files, under one output directory (local or a URI)."""
  output: str

  def _join(self, *parts: str) -> str:
    if '://' in self.output:
      return posixpath.join(self.output, *parts)
    return os.path.join(self.output, *parts)

  @property
  def summary_path(self):
    return self._join(MAP_SUMMARY_FILE)

  @property
  def pixels_dir(self):
    return self._join(MAP_PIXELS_DIR)

  @property
  def pixels_prefix(self):
    """Shard names start with this (then a unique part and `.parquet`)."""
    return self._join(MAP_PIXELS_DIR, MAP_PIXELS_PREFIX)

  @property
  def skipped_dir(self):
    return self._join(MAP_SKIPPED_DIR)

  @property
  def skipped_prefix(self):
    return self._join(MAP_SKIPPED_DIR, MAP_SKIPPED_PREFIX)

  @property
  def classes_tif(self):
    return self._join(MAP_CLASSES_TIF)

  @property
  def confidence_tif(self):
    return self._join(MAP_CONFIDENCE_TIF)

  @property
  def quicklook_path(self):
    return self._join(MAP_QUICKLOOK)

  @property
  def log_path(self):
    return self._join('logs', 'map.log')


def write_atomic(path: str, text: str) -> None:
  """Writes a local text file whole or not at all (temp file, then rename)."""
  tmp = path + '.tmp'
  with open(tmp, 'w', encoding='utf-8') as f:
    f.write(text)
  os.replace(tmp, path)


# --- splits ----------------------------------------------------------------

def ordered_splits(names: Iterable[str]) -> List[str]:
  """train, eval, test first (`features.SPLIT_ORDER`), then others by name."""
  names = set(names)
  return ([n for n in features.SPLIT_ORDER if n in names] +
          sorted(n for n in names if n not in features.SPLIT_ORDER))


def split_dir(artifact_uri: str, split: str) -> str:
  return posixpath.join(artifact_uri, SPLIT_PREFIX + split)


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
    if name.startswith(SPLIT_PREFIX):
      found[name[len(SPLIT_PREFIX):]] = os.path.join(artifact_uri, name)
  return {split: found[split] for split in ordered_splits(found)}


def split_files(artifact_uri: str, split: str) -> List[str]:
  """The files of one split, sorted."""
  return list_dir_files(os.path.join(artifact_uri, SPLIT_PREFIX + split))


def record_compression(files: Iterable[str]) -> str:
  """The `compression_type` of TFRecord `files`, from their names.

  'GZIP' when every name ends in `GZIP_SUFFIX`, '' when none does (also for
  no files), as tfx_bsl's `detect_compression_type` decides.

  Raises:
    ValueError: some files are GZIP and some are not.
  """
  files = [str(f) for f in files]
  gzipped = [f for f in files if f.endswith(GZIP_SUFFIX)]
  if not gzipped:
    return ''
  if len(gzipped) == len(files):
    return 'GZIP'
  plain = next(f for f in files if not f.endswith(GZIP_SUFFIX))
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
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  files = list_dir_files(split_directory)
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


# --- ParquetExampleGen: counts and quarantine --------------------------------

def counts_path(examples_uri: str) -> str:
  return posixpath.join(examples_uri, COUNTS_FILE)


def quarantine_dir(examples_uri: str) -> str:
  return posixpath.join(examples_uri, QUARANTINE_DIR)


def quarantine_prefix(examples_uri: str) -> str:
  return posixpath.join(quarantine_dir(examples_uri), QUARANTINE_PREFIX)


def read_counts(examples_uri: str) -> Dict[str, Any]:
  """The counts of the ExampleGen run that wrote the artifact at this URI.

  Read with Beam's file systems, as the executor writes them (gs://, s3://).
  """
  from apache_beam.io.filesystem import CompressionTypes  # pylint: disable=g-import-not-at-top
  from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
  with FileSystems.open(counts_path(examples_uri), 'application/json',
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
  path = tft_output.vocabulary_file_by_name(BAND_STATISTICS_KEY)
  if path is None:
    path = os.path.join(tft_output.transform_savedmodel_dir,
                        tf.saved_model.ASSETS_DIRECTORY, BAND_STATISTICS_FILE)
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(
        f'{transform_output_dir}: no {BAND_STATISTICS_FILE} asset; was the '
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
  path = os.path.join(season_uri, SEASON_METRICS_FILE)
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

def write_training_info(model_run_uri: str, info: Mapping[str, Any]) -> None:
  """{model, params, train_seconds, train_examples, examples_per_second}."""
  _write_json(model_run_uri, TRAINING_FILE, info)


def read_training_info(model_run_uri: Optional[str]) -> Optional[Dict[str, Any]]:
  return _read_json(model_run_uri, TRAINING_FILE)


# --- TreeBaseline ------------------------------------------------------------

def write_baseline_training(baseline_uri: str, info: Mapping[str, Any]) -> None:
  _write_json(baseline_uri, BASELINE_TRAINING_FILE, info)


def read_baseline_training(baseline_uri: Optional[str]) -> Optional[Dict[str, Any]]:
  return _read_json(baseline_uri, BASELINE_TRAINING_FILE)


def _present_f1(m: Mapping[str, Any]) -> Dict[str, float]:
  """{class: F1} of the classes present in the labels or the predictions (the
  ones macro-F1 averages); an absent class has no score."""
  predicted = [sum(col) for col in zip(*m['confusion_matrix'])] if m.get('confusion_matrix') \
      else [0] * len(features.CLASS_NAMES)
  return {name: c['f1'] for i, (name, c) in enumerate(m['per_class'].items())
          if c['support'] > 0 or (i < len(predicted) and predicted[i] > 0)}


def summary_metrics(splits: Mapping[str, Mapping[str, Mapping[str, Any]]]
                    ) -> Dict[str, Dict[str, Dict[str, Any]]]:
  """A season metrics.json's {split: {day: full metrics}} -> the summary's
  {split: {day: {accuracy, macro_f1, examples, per_class_f1}}}."""
  return {
      split: {day: {'accuracy': m['accuracy'], 'macro_f1': m['macro_f1'],
                    'examples': m['examples'], 'per_class_f1': _present_f1(m)}
              for day, m in by_day.items()}
      for split, by_day in splits.items()}


# --- run_summary.json --------------------------------------------------------

@dataclasses.dataclass
class RunSummary:
  """What a run produced (`run_summary.json`).

  A section the run did not reach (a pipeline stopped after Transform, a
  summary of an older run) is None; it is left out of the JSON file, and the
  report says what is missing.
  """
  label_mapping: Optional[str] = None
  # The splits: {"2021": "train", ...} and their roles
  # (`features.SplitRoles.to_dict`: train, eval, others).
  year_splits: Optional[Dict[str, str]] = None
  split_roles: Optional[Dict[str, Any]] = None
  # ParquetExampleGen (counts.json).
  rows_read: Optional[int] = None
  examples: Optional[Dict[str, int]] = None
  quarantined: Optional[Dict[str, int]] = None
  notes: Optional[Dict[str, int]] = None
  quarantine_dir: Optional[str] = None
  # Transform: the train year's band statistics.
  band_mean: Optional[List[float]] = None
  band_std: Optional[List[float]] = None
  # SeasonEvaluator: {split: {as-of day: {accuracy, macro_f1, examples,
  # per_class_f1: {class name: F1}}}}.
  metrics: Optional[Dict[str, Dict[str, Dict[str, Any]]]] = None
  headline_as_of_day: Optional[int] = None
  # Trainer: the architecture, its parameter count, the fit's wall time and
  # training examples per second (croptfx compare).
  model: Optional[str] = None
  model_params: Optional[int] = None
  train_seconds: Optional[float] = None
  train_examples_per_second: Optional[float] = None
  # TreeBaseline: the same metrics for gradient-boosted trees on the same
  # windows, and its fit time.
  baseline_metrics: Optional[Dict[str, Dict[str, Dict[str, Any]]]] = None
  baseline_train_seconds: Optional[float] = None
  # Evaluator and Pusher.
  blessed: Optional[bool] = None
  model_dir: Optional[str] = None
  # The run.
  component_seconds: Optional[Dict[str, float]] = None
  cached_components: Optional[List[str]] = None
  artifacts: Optional[Dict[str, Optional[str]]] = None
  wall_seconds: Optional[float] = None
  runner: Optional[str] = None

  # Written even when None: "no pushed model" and "the bundled mapping" are
  # answers, not missing sections.
  _ALWAYS = ('label_mapping', 'model_dir')

  def to_dict(self) -> Dict[str, Any]:
    return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None or f.name in self._ALWAYS}

  @classmethod
  def from_dict(cls, data: Mapping[str, Any]) -> 'RunSummary':
    """Known keys; unknown ones (a newer writer) are ignored."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})

  def artifact(self, name: str) -> Optional[str]:
    """URI of one artifact named in the summary, or None."""
    return (self.artifacts or {}).get(name)

  def roles(self) -> features.SplitRoles:
    """The run's split roles (a summary without them: the defaults')."""
    if self.split_roles:
      return features.SplitRoles(self.split_roles['train'], self.split_roles['eval'],
                                 tuple(self.split_roles.get('others') or ()))
    if self.year_splits:
      return features.split_roles({int(y): n for y, n in self.year_splits.items()})
    return features.split_roles(features.DEFAULT_YEAR_SPLITS)

  def headline_split(self, available: Iterable[str]) -> Optional[str]:
    """The split a report leads with: the first held-out one (never trained
    on nor blessed on), else the eval split; None if neither is available."""
    available = set(available)
    roles = self.roles()
    return next((s for s in roles.others + (roles.eval,) if s in available), None)


def write_summary(path: str, summary: RunSummary) -> None:
  write_atomic(path, json.dumps(summary.to_dict(), indent=1))  # never half-written


def read_summary(run_dir: str) -> Optional[RunSummary]:
  """The summary of the run in `run_dir`, or None if it has none."""
  path = os.path.join(run_dir, SUMMARY_FILE)
  if not os.path.exists(path):
    return None
  with open(path, encoding='utf-8') as f:
    return RunSummary.from_dict(json.load(f))
