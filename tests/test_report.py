"""The HTML report on a small fixed run directory built here.

`make_run_dir` lays out what `croptfx run` leaves behind (run_summary.json,
raw and transformed TFRecords, the season evaluation) from generator rows,
without running the pipeline, so the test stays fast.
"""

import html.parser
import json
import os
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2

from croptfx import codec
from croptfx import errors
from croptfx import features
from croptfx.generate import part1
from croptfx import metrics as metrics_lib
from croptfx import records
from croptfx.report import build
from croptfx.report import sections
from croptfx.report import style
from croptfx.rows import encoding
from croptfx import run_summary

PIXELS_PER_YEAR = 48
YEAR_SPLITS = {2021: 'train', 2020: 'eval', 2019: 'test'}
AS_OF_DAYS = (120, 180, 240, 300)
QUARANTINED = {'null_value': 2, 'zero_scenes': 0, 'byte_length': 3,
               'non_finite_coordinate': 0, 'missing_label': 1, 'invalid_scl': 0,
               'date_outside_year': 4, 'no_data': 0, 'year_mismatch': 0,
               'year_not_in_splits': 0}
NOTES = {'unsorted_dates': 7, 'duplicate_dates': 11, 'unknown_cdl': 0}
# ExampleValidator's findings per split: {feature: short description}.
ANOMALIES = {'train': {}, 'eval': {'tiles': 'Unexpected string values'}, 'test': {}}
SECONDS = {'ParquetExampleGen': 12.5, 'StatisticsGen': 8.25, 'SchemaGen': 1.5,
           'ExampleValidator': 2.0, 'Transform': 41.75, 'Trainer': 95.0,
           'Evaluator': 30.5, 'SeasonEvaluator': 9.0, 'Pusher': 0.75}


def _write_tfrecords(path, serialized):
  """TFRecords as the pipeline writes them: GZIP if the name ends in .gz."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with tf.io.TFRecordWriter(path, options=records.record_compression([path])) as writer:
    for record in serialized:
      writer.write(record)


def _write_anomalies(split_dir, found):
  anomalies = anomalies_pb2.Anomalies()
  for feature, text in found.items():
    anomalies.anomaly_info[feature].short_description = text
  os.makedirs(split_dir, exist_ok=True)
  with open(os.path.join(split_dir, 'SchemaDiff.pb'), 'wb') as f:
    f.write(anomalies.SerializeToString())


def _transformed_example(row, mean, std, mapping):
  """A simplified Transform of one row (the report reads, never checks, it)."""
  bands = codec.decode_bands(row[features.BANDS]).astype(np.float64)
  dates = codec.decode_dates(row[features.IMG_DATES])
  scl = codec.decode_scl(row[features.SCL_VALS])
  year = int(row[features.YEAR])
  bins = codec.calendar_bin(dates, year)
  grid = np.zeros((features.BINS_PER_YEAR, features.NUM_BANDS), np.float32)
  observed = np.zeros(features.BINS_PER_YEAR, np.int64)
  vegetation = np.zeros(features.BINS_PER_YEAR, np.int64)
  for b in np.unique(bins):
    positions = np.flatnonzero(bins == b)
    clear = [p for p in positions if scl[p] not in features.SCL_NOT_CLEAR]
    p = (clear or list(positions))[0]
    grid[b] = (bands[p] - mean) / std
    observed[b] = 1
    vegetation[b] = int(scl[p] == features.SCL_VEGETATION)
  label, excluded, known = mapping.lookup(row[features.CDL])
  feature = {
      features.GRID: tf.train.Feature(float_list=tf.train.FloatList(value=grid.ravel())),
      features.OBSERVED: tf.train.Feature(int64_list=tf.train.Int64List(value=observed)),
      features.VEGETATION: tf.train.Feature(int64_list=tf.train.Int64List(value=vegetation)),
      features.LON: tf.train.Feature(float_list=tf.train.FloatList(value=[row[features.LON]])),
      features.LAT: tf.train.Feature(float_list=tf.train.FloatList(value=[row[features.LAT]])),
  }
  ints = {features.FIRST_BIN: bins.min(), features.LAST_BIN: bins.max(),
          features.LABEL: label, features.EXCLUDED: int(excluded),
          features.KNOWN_CDL: int(known), features.YEAR: year,
          features.BBOX: row[features.BBOX]}
  for key, value in ints.items():
    feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
  return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _predict(true, day, rng):
  """Predictions that get better through the season, like a real model."""
  wrong = rng.random(len(true)) < {120: 0.6, 180: 0.35, 240: 0.2, 300: 0.15}[day]
  return np.where(wrong, rng.integers(0, features.NUM_CLASSES, len(true)), true)


def make_run_dir(run_dir, pixels_per_year=PIXELS_PER_YEAR):
  """Writes a small finished run; returns its run_summary dictionary."""
  table = part1.generate_table(pixels_per_year, sorted(YEAR_SPLITS), seed=7)
  rows = table.to_pylist()
  pipeline = os.path.join(run_dir, 'pipeline')
  uris = {
      'examples': os.path.join(pipeline, 'ParquetExampleGen', 'examples', '1'),
      'statistics': os.path.join(pipeline, 'StatisticsGen', 'statistics', '2'),
      'schema': os.path.join(pipeline, 'SchemaGen', 'schema', '3'),
      'anomalies': os.path.join(pipeline, 'ExampleValidator', 'anomalies', '4'),
      'transform_graph': os.path.join(pipeline, 'Transform', 'transform_graph', '5'),
      'transformed_examples': os.path.join(pipeline, 'Transform', 'transformed_examples', '5'),
      'model': os.path.join(pipeline, 'Trainer', 'model', '6'),
      'model_run': os.path.join(pipeline, 'Trainer', 'model_run', '6'),
      'evaluation': os.path.join(pipeline, 'Evaluator', 'evaluation', '7'),
      'season_evaluation': os.path.join(pipeline, 'SeasonEvaluator', 'evaluation', '8'),
  }
  for path in uris.values():
    os.makedirs(path, exist_ok=True)
  encoder = encoding.ExampleEncoder()
  mapping = features.load_label_mapping()
  train = [r for r in rows if YEAR_SPLITS[r[features.YEAR]] == 'train']
  values = np.concatenate([codec.decode_bands(r[features.BANDS]) for r in train]).astype(float)
  mean, std = values.mean(axis=0), values.std(axis=0)
  rng = np.random.default_rng(0)
  season = {'as_of_days': list(AS_OF_DAYS), 'headline_day': 240, 'splits': {}}
  prediction_tables = []
  for year, split in YEAR_SPLITS.items():
    part = table.filter(pa.compute.equal(table[features.YEAR], year))
    _write_tfrecords(os.path.join(uris['examples'], f'Split-{split}',
                                  'data_tfrecord-00000-of-00001'),
                     encoder.encode(part.to_batches()[0] if part.num_rows else part))
    split_rows = [r for r in rows if r[features.YEAR] == year]
    _write_tfrecords(
        os.path.join(uris['transformed_examples'], f'Split-{split}',
                     'transformed_examples-00000-of-00001.gz'),
        [_transformed_example(r, mean, std, mapping) for r in split_rows])
    os.makedirs(os.path.join(uris['statistics'], f'Split-{split}'), exist_ok=True)
    _write_anomalies(os.path.join(uris['anomalies'], f'Split-{split}'), ANOMALIES[split])
    if split == 'train':
      continue
    kept = [r for r in split_rows if not mapping.lookup(r[features.CDL])[1]]
    true = np.array([mapping.lookup(r[features.CDL])[0] for r in kept])
    by_day = {}
    for day in AS_OF_DAYS:
      predicted = _predict(true, day, rng)
      by_day[str(day)] = metrics_lib.summarize(metrics_lib.confusion_matrix(true, predicted))
      if day == 240:
        prediction_tables.append(pa.table({
            'split': [split] * len(kept),
            'lon': [r[features.LON] for r in kept], 'lat': [r[features.LAT] for r in kept],
            'year': [year] * len(kept), 'bbox': [r[features.BBOX] for r in kept],
            'true': true.astype(np.int64), 'predicted': predicted.astype(np.int64),
            'probabilities': pa.array(
                np.eye(features.NUM_CLASSES, dtype=np.float32)[predicted].tolist(),
                pa.list_(pa.float32())),
        }))
    season['splits'][split] = by_day
  with open(os.path.join(uris['season_evaluation'], 'metrics.json'), 'w') as f:
    json.dump(season, f)
  pq.write_table(pa.concat_tables(prediction_tables),
                 os.path.join(uris['season_evaluation'], 'predictions.parquet'))
  examples = {split: sum(1 for r in rows if r[features.YEAR] == year)
              for year, split in YEAR_SPLITS.items()}
  summary = {
      'rows_read': sum(examples.values()) + sum(QUARANTINED.values()),
      'examples': examples,
      'quarantined': QUARANTINED,
      'notes': NOTES,
      'quarantine_dir': os.path.join(uris['examples'], 'quarantine'),
      'band_mean': [float(v) for v in mean],
      'band_std': [float(v) for v in std],
      'metrics': {split: {day: {k: m[k] for k in ('accuracy', 'macro_f1', 'examples')}
                          for day, m in by_day.items()}
                  for split, by_day in season['splits'].items()},
      'headline_as_of_day': 240,
      'blessed': True,
      'model_dir': os.path.join(run_dir, 'serving_model', '1700000000'),
      'component_seconds': SECONDS,
      'cached_components': ['SchemaGen'],
      'wall_seconds': 215.4,
      'runner': 'local',
      'artifacts': uris,
  }
  with open(os.path.join(run_dir, 'run_summary.json'), 'w') as f:
    json.dump(summary, f, indent=1)
  return summary


class _Collector(html.parser.HTMLParser):
  """Text of every element with an id, and every src/href value."""

  def __init__(self):
    super().__init__()
    self.text_by_id = {}
    self.srcs, self.hrefs = [], []
    self._open = []  # [(tag, id)]

  def handle_starttag(self, tag, attrs):
    attrs = dict(attrs)
    if 'src' in attrs:
      self.srcs.append(attrs['src'])
    if 'href' in attrs:
      self.hrefs.append(attrs['href'])
    if tag in ('img', 'br', 'meta', 'link', 'path', 'use', 'rect', 'stop', 'line'):
      return
    self._open.append((tag, attrs.get('id')))
    if attrs.get('id'):
      self.text_by_id.setdefault(attrs['id'], '')

  def handle_endtag(self, tag):
    while self._open:
      open_tag, _ = self._open.pop()
      if open_tag == tag:
        break

  def handle_data(self, data):
    for _, element_id in self._open:
      if element_id:
        self.text_by_id[element_id] += data


def _parse(text):
  collector = _Collector()
  collector.feed(text)
  return collector


def _number(text):
  return float(text.strip().replace(',', ''))


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  run_dir = str(tmp_path_factory.mktemp('run'))
  summary = make_run_dir(run_dir)
  path = build.write_report(run_dir)
  with open(path, encoding='utf-8') as f:
    text = f.read()
  return run_dir, summary, path, text


def test_writes_report_html_in_run_dir(run):
  run_dir, _, path, text = run
  assert path == os.path.join(run_dir, 'report.html')
  assert text.startswith('<!DOCTYPE html>')
  assert 'id="report-title"' in text
  assert 'could not be drawn' not in text
  assert 'missing-summary' not in text  # a complete run lacks nothing


def test_figures_are_inline(run):
  text = run[3]
  # quarantine, acquisitions, cloud share, class balance, NDVI, season curve,
  # per-class F1 against the as-of date, confusion, timings as SVG; the maps
  # as one PNG.
  assert text.count('<svg') == 9
  assert text.count('<img src="data:image/png;base64,') == 1


def test_no_external_references(run):
  run_dir, _, _, text = run
  assert 'http' not in text.lower()
  assert '<script' not in text.lower()
  assert '@import' not in text
  assert not re.findall(r'url\((?!#)', text)  # only in-document references
  collector = _parse(text)
  assert collector.srcs and all(s.startswith('data:') for s in collector.srcs)
  for href in collector.hrefs:
    assert '://' not in href and not href.startswith('/'), href
  assert os.path.abspath(run_dir) not in text  # paths are relative to the run


def test_ids_are_unique_and_references_resolve(run):
  text = run[3]
  ids = re.findall(r'\bid="([^"]+)"', text)
  assert len(ids) == len(set(ids))
  references = set(re.findall(r'(?:href="#|url\(#)([^")]+)', text))
  assert references and references <= set(ids)


def test_count_tables_match_summary(run):
  _, summary, _, text = run
  ids = _parse(text).text_by_id
  assert _number(ids['rows-read']) == summary['rows_read']
  for split, n in summary['examples'].items():
    assert _number(ids[f'examples-{split}']) == n
  assert _number(ids['examples-total']) == sum(summary['examples'].values())
  for reason, n in summary['quarantined'].items():
    assert _number(ids[f'quarantined-{reason.replace("_", "-")}']) == n
  assert _number(ids['quarantined-total']) == sum(QUARANTINED.values())
  for note, n in NOTES.items():
    assert _number(ids[f'note-{note.replace("_", "-")}']) == n
  assert 'reconciles.' in text
  for split, found in ANOMALIES.items():
    assert _number(ids[f'anomalies-{split}']) == len(found)
  assert 'tiles: Unexpected string values' in text


def test_band_and_metric_tables_match_summary(run):
  _, summary, _, text = run
  ids = _parse(text).text_by_id
  for i, band in enumerate(features.BAND_NAMES):
    assert _number(ids[f'band-mean-{band.lower()}']) == round(summary['band_mean'][i], 1)
    assert _number(ids[f'band-std-{band.lower()}']) == round(summary['band_std'][i], 1)
  for split, by_day in summary['metrics'].items():
    for day, m in by_day.items():
      prefix = f'metric-{split}-{day}'
      assert _number(ids[f'{prefix}-accuracy']) == round(m['accuracy'], 3)
      assert _number(ids[f'{prefix}-macro-f1']) == round(m['macro_f1'], 3)
      assert _number(ids[f'{prefix}-examples']) == m['examples']
  assert _number(ids['card-accuracy']) == round(summary['metrics']['test']['240']['accuracy'], 3)


def test_per_class_table_matches_season_metrics(run):
  run_dir, summary, _, text = run
  with open(os.path.join(summary['artifacts']['season_evaluation'], 'metrics.json')) as f:
    season = json.load(f)
  ids = _parse(text).text_by_id
  for split in ('eval', 'test'):
    for name, m in season['splits'][split]['240']['per_class'].items():
      prefix = f'pc-{split}-{re.sub("[^a-z0-9]+", "-", name.lower())}'
      predicted = np.asarray(season['splits'][split]['240']['confusion_matrix'])[
          :, features.CLASS_NAMES.index(name)].sum()
      if not m['support'] and not predicted:
        assert f'{prefix}-recall' not in ids  # shown as a dash
        continue
      assert _number(ids[f'{prefix}-recall']) == round(m['recall'], 3)
      assert _number(ids[f'{prefix}-precision']) == round(m['precision'], 3)
      assert _number(ids[f'{prefix}-support']) == m['support']
  assert run_dir  # fixture used


def test_run_details_and_tool_commands(run):
  _, summary, _, text = run
  ids = _parse(text).text_by_id
  for component, seconds in SECONDS.items():
    assert _number(ids[f'seconds-{component.lower()}']) == round(seconds, 1)
  assert ids['model-dir'].strip() == os.path.join('serving_model', '1700000000')
  assert ids['blessed'].strip() == 'yes'
  rel = os.path.join('pipeline', 'Trainer', 'model_run', '6')
  assert f'tensorboard --logdir {rel}' in text
  assert 'tfdv.load_stats_binary(&#39;pipeline/StatisticsGen/statistics/2/Split-train/' in text
  assert 'tfma.load_eval_result(&#39;pipeline/Evaluator/evaluation/7&#39;)' in text
  assert summary['runner'] == ids['runner'].strip()


def test_sampling_is_said_on_the_page(run):
  run_dir, summary = run[0], run[1]
  inputs = build.load_inputs(run_dir, run_summary.RunSummary.from_dict(summary), sample_rows=10)
  assert {len(raw) for raw in inputs.raw.values()} == {10}
  section = sections.data_section(inputs)
  assert 'Sampled raw examples: the first 10 examples per split' in section.body
  assert not section.missing


def test_partial_summary_renders_with_missing_notes(tmp_path):
  summary = {'rows_read': 105, 'examples': {'train': 60, 'eval': 40},
             'quarantined': {'null_value': 5}, 'runner': 'local'}
  with open(tmp_path / 'run_summary.json', 'w') as f:
    json.dump(summary, f)
  path = build.write_report(str(tmp_path))
  with open(path, encoding='utf-8') as f:
    text = f.read()
  ids = _parse(text).text_by_id
  assert _number(ids['rows-read']) == 105
  assert _number(ids['quarantined-null-value']) == 5
  assert 'This run is incomplete' in text
  for what in ('raw examples', 'NDVI curves', 'in-season metrics', 'confusion matrix',
               'per-pixel predictions', 'TensorBoard logs', 'TFMA results',
               'band_mean / band_std'):
    assert what in ids['missing-summary'], what
  assert 'could not be drawn' not in text
  assert text.count('<svg') == 1  # the quarantine chart


def test_unreadable_inputs_are_named_and_the_rest_renders(run, tmp_path):
  run_dir, summary = run[0], run[1]
  season_dir = str(tmp_path / 'season')
  os.makedirs(season_dir)
  with open(os.path.join(season_dir, 'metrics.json'), 'w') as f:
    f.write('{not json')
  broken = dict(summary, artifacts=dict(summary['artifacts'], season_evaluation=season_dir,
                                        examples=None, transformed_examples=None))
  broken_dir = str(tmp_path / 'run')
  os.makedirs(broken_dir)
  with open(os.path.join(broken_dir, 'run_summary.json'), 'w') as f:
    json.dump(broken, f)
  text = build.render_report(broken_dir)
  ids = _parse(text).text_by_id
  assert 'the season evaluation metrics could not be read (JSONDecodeError' in ids[
      'missing-summary']
  assert 'id="metrics-table"' in text  # from run_summary.json, still shown
  assert 'could not be drawn' not in text
  assert run_dir


def test_missing_summary_and_missing_dir(tmp_path):
  # A data directory given by mistake: refused, nothing written.
  with pytest.raises(errors.CroptfxError, match=(
      r'not a `croptfx run --output` directory \(no run_summary.json, metadata.db or '
      r'logs/run.log\)')):
    build.write_report(str(tmp_path))
  assert os.listdir(tmp_path) == []
  # A run that failed before its summary: its log says so, the report too.
  (tmp_path / 'logs').mkdir()
  (tmp_path / 'logs' / 'run.log').write_text('Transform failed\n')
  text = build.render_report(str(tmp_path))
  assert ('run_summary.json is not in the run directory: the run did not finish '
          '(see logs/run.log)') in text
  with pytest.raises(errors.CroptfxError, match='no such run directory'):
    build.render_report(str(tmp_path / 'nope'))


def test_one_class_palette():
  assert tuple(style.CLASS_COLORS) == features.CLASS_NAMES
  assert len(set(style.CLASS_COLORS.values())) == features.NUM_CLASSES
