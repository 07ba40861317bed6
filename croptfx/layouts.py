"""Where a command keeps its files: the output contract of run and map.

  <output>/                       one `croptfx run` (`RunLayout`)
    run_summary.json              `run_summary.RunSummary`
    report.html                   the report
    logs/run.log                  full TFX/Beam/TF logs
    metadata.db                   ML Metadata (SQLite)
    serving_model/<version>/      the pushed model
    pipeline/<Component>/...      the artifacts, named in run_summary.json

  Examples artifact (ParquetExampleGen, Transform)
    Split-<name>/*                TFRecords of one split: uncompressed, or GZIP
                                  when every name ends in .gz (`records.record_compression`)
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
    classes.tif, confidence.tif   Cloud-Optimized GeoTIFFs on the pixels' grid, in its CRS
    reference.tif, disagreement.tif  with --reference: its classes on the map's grid, and
                                  where the map agrees with it
    quicklook.png                 classes.tif with a legend
    map.html                      the map page: map, reference, disagreement, scores
    logs/map.log                  Beam/TF logs of the map job

  <output>/                       one `croptfx extract` (`ExtractLayout`): Part-1 data
    year=YYYY/part-*.parquet      the rows, Hive-partitioned by year
    extract_summary.json          pixels, scenes, samples, skipped by reason, reconciled
    _logs/extract.log             Beam/GDAL logs of the extraction job
    _extract/                     the job's plan and counts while it runs (removed after)
  Names starting with '_' or '.' are not data to the readers (as Spark's
  `_SUCCESS`), and neither is `extract_summary.json`, so `croptfx run --data
  <output>` reads the rows alone.

Names and paths only (the standard library): the readers of these files are in
`croptfx.records` (TFRecords), `croptfx.outputs` (what components write) and
`croptfx.run_summary`.
"""

import dataclasses
import posixpath
from typing import Optional

from croptfx import paths

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
# A pushed model's facts beyond its signatures (the as-of days it was
# trained for), in the SavedModel's `assets.extra` directory.
MODEL_INFO_FILE = 'croptfx_model.json'
# The TreeBaseline's artifact holds its metrics in the SeasonEvaluator's
# format (SEASON_METRICS_FILE) and its training facts here.
BASELINE_TRAINING_FILE = 'baseline_training.json'
# What TFX's StatisticsGen and ExampleValidator write per split.
STATISTICS_FILE = 'FeatureStats.pb'
ANOMALIES_FILE = 'SchemaDiff.pb'

# Under a run's output directory.
SUMMARY_FILE = 'run_summary.json'
REPORT_FILE = 'report.html'


def _under(*parts: str, doc: Optional[str] = None) -> property:
  """A layout's file or directory: `parts` under its output."""
  return property(lambda self: paths.join(self.output, *parts), doc=doc)


@dataclasses.dataclass(frozen=True)
class RunLayout:
  """Where a run keeps its files, under one output directory."""
  output: str

  pipeline_root = _under('pipeline')
  metadata_path = _under('metadata.db')
  serving_model_dir = _under('serving_model')
  summary_path = _under(SUMMARY_FILE)
  report_path = _under(REPORT_FILE)
  log_path = _under('logs', 'run.log')


# Under a map's output directory.
MAP_SUMMARY_FILE = 'map_summary.json'
MAP_PIXELS_DIR = 'pixels'
MAP_PIXELS_PREFIX = 'pixels'
MAP_SKIPPED_DIR = 'skipped'
MAP_SKIPPED_PREFIX = 'skipped'
MAP_CLASSES_TIF = 'classes.tif'
MAP_CONFIDENCE_TIF = 'confidence.tif'
MAP_QUICKLOOK = 'quicklook.png'
MAP_REFERENCE_TIF = 'reference.tif'
MAP_DISAGREEMENT_TIF = 'disagreement.tif'
MAP_PAGE = 'map.html'


@dataclasses.dataclass(frozen=True)
class MapLayout:
  """Where a map keeps its files, under one output directory (local or a URI)."""
  output: str

  summary_path = _under(MAP_SUMMARY_FILE)
  pixels_dir = _under(MAP_PIXELS_DIR)
  pixels_prefix = _under(MAP_PIXELS_DIR, MAP_PIXELS_PREFIX,
                         doc='Shard names start with this (then a unique part and `.parquet`).')
  skipped_dir = _under(MAP_SKIPPED_DIR)
  skipped_prefix = _under(MAP_SKIPPED_DIR, MAP_SKIPPED_PREFIX)
  classes_tif = _under(MAP_CLASSES_TIF)
  confidence_tif = _under(MAP_CONFIDENCE_TIF)
  quicklook_path = _under(MAP_QUICKLOOK)
  reference_tif = _under(MAP_REFERENCE_TIF)
  disagreement_tif = _under(MAP_DISAGREEMENT_TIF)
  page_path = _under(MAP_PAGE)
  log_path = _under('logs', 'map.log')

  @property
  def products(self):
    """Every file of a map but the shards and the log: what a new map replaces."""
    return [self.summary_path, self.classes_tif, self.confidence_tif, self.reference_tif,
            self.disagreement_tif, self.quicklook_path, self.page_path]


# Under an extraction's output directory (a Part-1 data directory).
EXTRACT_SUMMARY_FILE = 'extract_summary.json'
EXTRACT_LOG_DIR = '_logs'
EXTRACT_WORK_DIR = '_extract'


@dataclasses.dataclass(frozen=True)
class ExtractLayout:
  """Where an extraction keeps its files, under one output directory."""
  output: str

  summary_path = _under(EXTRACT_SUMMARY_FILE)
  log_path = _under(EXTRACT_LOG_DIR, 'extract.log')
  work_dir = _under(EXTRACT_WORK_DIR)
  counts_path = _under(EXTRACT_WORK_DIR, 'counts.json')
  unreadable_path = _under(EXTRACT_WORK_DIR, 'unreadable.json')
  plan_path = _under(EXTRACT_WORK_DIR, 'plan.pickle',
                     doc='The chunks and scenes the workers read (pickled `extract.pipeline.Plan`).')

  def year_dir(self, year: int) -> str:
    return paths.join(self.output, f'year={year}')


# --- inside artifacts ---------------------------------------------------------

def split_dir(artifact_uri: str, split: str) -> str:
  return posixpath.join(artifact_uri, SPLIT_PREFIX + split)


def counts_path(examples_uri: str) -> str:
  return posixpath.join(examples_uri, COUNTS_FILE)


def quarantine_dir(examples_uri: str) -> str:
  return posixpath.join(examples_uri, QUARANTINE_DIR)


def quarantine_prefix(examples_uri: str) -> str:
  return posixpath.join(quarantine_dir(examples_uri), QUARANTINE_PREFIX)
