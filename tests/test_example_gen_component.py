"""ParquetExampleGen end to end: real DirectRunner runs of the executor.

Input: rows from `croptfx.generate` plus hand-made bad rows, in flat and
Hive layouts and both column spellings. Expected counts come from the rows
written, checked row by row with the plain reference in
test_example_gen_rows (not with the module under test).
"""

import collections
import glob
import json
import os
from typing import Dict, List, NamedTuple, Optional

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.components.example_gen import utils
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import base_beam_executor
from tfx.orchestration import metadata
from tfx.orchestration import pipeline
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner
from tfx.orchestration.local import local_dag_runner
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from croptfx import codec
from croptfx.components.parquet_example_gen.component import ParquetExampleGen
from croptfx.components.parquet_example_gen import counts as counts_lib
from croptfx.components.parquet_example_gen import driver
from croptfx.components.parquet_example_gen import executor
from croptfx.components.parquet_example_gen import splits
from croptfx.errors import InputDataError
from croptfx import features
from croptfx.generate import part1
from croptfx import layouts
from croptfx import outputs
from croptfx import paths
from croptfx import records
from croptfx.pipeline import configs
from croptfx.rows import encoding
from croptfx.rows import reader
from tests.test_example_gen_rows import make_table
from tests.test_example_gen_rows import pixel_row
from tests.test_example_gen_rows import reference_notes
from tests.test_example_gen_rows import reference_reason
from tests.test_example_gen_rows import write_parquet

YEARS = (2019, 2020, 2021)


class Written(NamedTuple):
  row: Dict  # as written, with the effective year
  source_file: str
  path_year: Optional[int]


def _bad_rows(year: int, seed: int) -> List[Dict]:
  """One row per row-level problem (and valid rows with notes) in `year`."""
  jan1 = codec.jan1_days(year)
  good = pixel_row(year, n=3, seed=seed)
  rows = [
      dict(good, bands=None),
      dict(good, num_scenes=0, bands=b'', img_dates=b'', scl_vals=b''),
      dict(good, bands=good['bands'][:-2]),
      dict(good, lon=float('nan')),
      dict(good, lat=None),
      dict(good, CDL=' '),
      dict(good, scl_vals=codec.encode_scl([4, 13, 4])),
      dict(good, img_dates=codec.encode_dates([jan1, jan1 + 1, jan1 + 400])),
      dict(good, bands=bytes(72)),
      # Valid, with notes.
      dict(good, CDL='Mystery Crop'),
      dict(good, img_dates=codec.encode_dates([jan1 + 50, jan1 + 8, jan1])),
      dict(good, img_dates=codec.encode_dates([jan1 + 8, jan1 + 8, jan1 + 9])),
  ]
  # Each its own pixel: copies of one pixel-year would be duplicates.
  for i, row in enumerate(rows):
    if row['lon'] == row['lon']:  # not NaN
      row['lon'] = good['lon'] + 0.001 * i
  return rows


def _generated_rows(seed: int) -> List[Dict]:
  return part1.generate_table(5, YEARS, seed=seed).to_pylist()


def _write_flat(root: str, **table_args) -> List[Written]:
  rows = _generated_rows(seed=1)
  parts = {
      os.path.join(root, 'part-0.parquet'): rows[:8] + _bad_rows(2021, 1),
      os.path.join(root, 'more', 'part-1.parquet'): (
          rows[8:] + _bad_rows(2019, 2) + [pixel_row(2018, seed=3)]),
  }
  written = []
  for path, part in parts.items():
    write_parquet(path, part, **table_args)
    written += [Written(r, path, None) for r in part]
  # Spark's markers are skipped (both would fail as Parquet).
  open(os.path.join(root, '_SUCCESS'), 'wb').close()
  with open(os.path.join(root, '.part-0.parquet.crc'), 'wb') as f:
    f.write(b'crc')
  return written


def _write_hive(root: str, **table_args) -> List[Written]:
  rows = _generated_rows(seed=2)
  written = []
  by_year = collections.defaultdict(list)
  for r in rows:
    by_year[r['year']].append(r)
  by_year[2020] += _bad_rows(2020, 4)
  by_year[2018].append(pixel_row(2018, seed=5))
  for year, part in by_year.items():
    path = os.path.join(root, f'year={year}', 'part-00000.parquet')
    write_parquet(path, part, drop_year=True, **table_args)
    written += [Written(dict(r, year=year), path, year) for r in part]
  # A file that keeps its year column: one row disagrees with the directory.
  path = os.path.join(root, 'year=2021', 'part-00001.parquet')
  part = [pixel_row(2021, seed=6), pixel_row(2020, seed=6)]
  write_parquet(path, part, **table_args)
  written += [Written(r, path, 2021) for r in part]
  return written


def _exec_properties(input_base: str, year_splits=None, **extra):
  props = {
      standard_component_specs.INPUT_BASE_KEY: input_base,
      standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(
          utils.make_default_input_config()),
      standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(
          example_gen_pb2.Output()),
      standard_component_specs.OUTPUT_DATA_FORMAT_KEY:
          example_gen_pb2.FORMAT_TF_EXAMPLE,
      standard_component_specs.OUTPUT_FILE_FORMAT_KEY:
          example_gen_pb2.FORMAT_TFRECORDS_GZIP,
      executor.YEAR_SPLITS_KEY: splits.year_splits_json(
          year_splits or configs.YEAR_SPLITS),
  }
  props.update(extra)
  return props


def _run(input_base: str, out_uri: str, beam_args=(), **props):
  examples = standard_artifacts.Examples()
  examples.uri = out_uri
  context = base_beam_executor.BaseBeamExecutor.Context(
      beam_pipeline_args=list(beam_args))
  executor.Executor(context).Do(
      {}, {standard_component_specs.EXAMPLES_KEY: [examples]},
      _exec_properties(input_base, **props))
  return examples


def _expected(written: List[Written], year_splits):
  mapping = features.load_label_mapping()
  examples = collections.defaultdict(list)
  quarantined = []
  notes = collections.Counter()
  for w in written:
    reason = reference_reason(w.row, year_splits, w.path_year)
    if reason:
      quarantined.append((w.source_file, reason, w.row))
    else:
      examples[year_splits[w.row['year']]].append(w.row)
      notes.update(k for k, v in reference_notes(w.row, mapping).items() if v)
  return examples, quarantined, notes


def _row_key(row: Dict):
  tiles = row['tiles']
  return (row['lon'], row['lat'], row['num_scenes'], row['bands'],
          row['img_dates'], row['scl_vals'],
          tiles.encode() if isinstance(tiles, str) else tiles, row['bbox'],
          row['year'], row['CDL'].encode())


def _read_examples(split_uri: str) -> List[tf.train.Example]:
  dataset = records.tfrecord_dataset(paths.list_dir_files(split_uri))
  return [tf.train.Example.FromString(r.numpy()) for r in dataset]


def _example_key(example: tf.train.Example):
  f = example.features.feature
  assert sorted(f.keys()) == sorted(features.RAW_COLUMNS)
  value = lambda k: (f[k].bytes_list.value if f[k].HasField('bytes_list')
                     else f[k].int64_list.value)
  assert all(len(value(k)) == 1 for k in features.RAW_COLUMNS)
  for k in ('lon', 'lat', 'bands', 'img_dates', 'scl_vals', 'tiles', 'CDL'):
    assert f[k].HasField('bytes_list'), k
  for k in ('num_scenes', 'bbox', 'year'):
    assert f[k].HasField('int64_list'), k
  b = lambda k: f[k].bytes_list.value[0]
  i = lambda k: f[k].int64_list.value[0]
  assert len(b('lon')) == len(b('lat')) == features.COORD_BYTES
  return (codec.decode_coord(b('lon')), codec.decode_coord(b('lat')),
          i('num_scenes'), b('bands'), b('img_dates'), b('scl_vals'),
          b('tiles'), i('bbox'), i('year'), b('CDL'))


def _quarantine_key(source_file, reason, row):
  return repr((source_file, reason, int(row['num_scenes']), row['bands'],
               row['img_dates'], row['CDL']))


@pytest.mark.parametrize('layout,slides_columns,year_splits', [
    ('flat', False, None),
    ('hive', True, {2021: 'train', 2020: 'eval'}),
])
def test_run_counts_examples_and_quarantine(tmp_path, layout, slides_columns,
                                            year_splits):
  root = str(tmp_path / 'in')
  if layout == 'flat':  # standard names, tiles as binary
    written = _write_flat(root, tiles_binary=True)
  else:  # the slides' names, tiles as string, int32 scenes
    written = _write_hive(root, slides_columns=True,
                          num_scenes_type=pa.int32())
  year_splits = year_splits or configs.YEAR_SPLITS
  out = str(tmp_path / 'examples')
  artifact = _run(root, out, year_splits=year_splits)

  want_examples, want_quarantined, want_notes = _expected(written, year_splits)
  names = ['train', 'eval', 'test'][:len(set(year_splits.values()))]
  assert artifact_utils.decode_split_names(artifact.split_names) == names

  # Counts: exact, reconciled, identical in counts.json and in MLMD.
  counts = outputs.read_counts(out)
  reasons = collections.Counter(r for _, r, _ in want_quarantined)
  assert counts == {
      'rows_read': len(written),
      'files': len({w.source_file for w in written}),
      'rows_by_year': {str(y): n for y, n in collections.Counter(
          w.row['year'] for w in written if w.row['year'] is not None).items()},
      'examples': {n: len(want_examples[n]) for n in names},
      'quarantined': {r: reasons[r] for r in counts_lib.zero_counts(
          [])['quarantined']},
      'notes': {n: want_notes[n] for n in
                ('unsorted_dates', 'duplicate_dates', 'unknown_cdl')},
  }
  assert sum(counts['examples'].values()) + sum(
      counts['quarantined'].values()) == counts['rows_read']
  expected_reasons = {'null_value', 'zero_scenes', 'byte_length',
                      'non_finite_coordinate', 'missing_label', 'invalid_scl',
                      'date_outside_year', 'no_data', 'year_not_in_splits'}
  if layout == 'hive':
    expected_reasons.add('year_mismatch')
  assert {r for r, n in counts['quarantined'].items() if n} == expected_reasons
  assert all(counts['notes'].values())
  assert json.loads(artifact.get_string_custom_property('counts')) == counts
  assert artifact.get_int_custom_property('rows_read') == len(written)
  for name in names:
    assert artifact.get_int_custom_property(
        f'examples_{name}') == counts['examples'][name]
  for reason, n in counts['quarantined'].items():
    assert artifact.get_int_custom_property(f'quarantined_{reason}') == n
  for note, n in counts['notes'].items():
    assert artifact.get_int_custom_property(note) == n
  assert artifact.get_string_custom_property('payload_format') == (
      'FORMAT_TF_EXAMPLE')

  # Examples: every input byte and the float64 coordinates kept exactly.
  for name in names:
    got = sorted(_example_key(e) for e in _read_examples(
        artifact_utils.get_split_uri([artifact], name)))
    assert got == sorted(_row_key(r) for r in want_examples[name])
  assert not glob.glob(os.path.join(out, 'Split-test')) or 'test' in names

  # Quarantine: readable with pandas, normalized columns + source_file/reason.
  frame = pq.read_table(os.path.join(out, 'quarantine')).to_pandas()
  assert list(frame.columns) == list(features.RAW_COLUMNS) + [
      'source_file', 'reason']
  got = sorted(_quarantine_key(r['source_file'], r['reason'], r)
               for r in frame.to_dict('records'))
  assert got == sorted(_quarantine_key(*q) for q in want_quarantined)
  row = frame[frame.reason == 'year_not_in_splits'].iloc[0]
  assert row['year'] == 2018 and row['source_file'].startswith(root)


@pytest.mark.pipeline
def test_multi_processing_direct_runner(tmp_path):
  root = str(tmp_path / 'in')
  written = _write_flat(root)
  artifact = _run(root, str(tmp_path / 'examples'), beam_args=[
      '--direct_running_mode=multi_processing', '--direct_num_workers=2'])
  counts = outputs.read_counts(artifact.uri)
  want_examples, want_quarantined, _ = _expected(
      written, configs.YEAR_SPLITS)
  assert counts['examples'] == {n: len(v) for n, v in want_examples.items()}
  assert sum(counts['quarantined'].values()) == len(want_quarantined)
  got = sorted(_example_key(e) for e in _read_examples(
      artifact_utils.get_split_uri([artifact], 'train')))
  assert got == sorted(_row_key(r) for r in want_examples['train'])


def test_globs_and_single_files(tmp_path):
  root = str(tmp_path / 'in')
  _write_hive(root)
  listed = lambda base: [os.path.relpath(f.path, root)
                         for f in reader.list_input_files(base)]
  all_files = ['year=2018/part-00000.parquet', 'year=2019/part-00000.parquet',
               'year=2020/part-00000.parquet', 'year=2021/part-00000.parquet',
               'year=2021/part-00001.parquet']
  assert listed(root) == all_files
  assert listed(root + '/') == all_files
  assert listed(root + '/year=202*') == all_files[2:]  # matches directories
  assert listed(root + '/**/part-00001.parquet') == all_files[-1:]
  assert listed(root + '/year=2019/part-00000.parquet') == all_files[1:2]
  files = reader.list_input_files(root)
  assert all(f.size == os.path.getsize(f.path) for f in files)


# Errors: one line naming the file (and column), nothing written.


def _assert_stops(tmp_path, input_base, *fragments):
  out = tmp_path / 'examples'
  with pytest.raises(InputDataError) as error:
    _run(input_base, str(out))
  message = str(error.value)
  assert '\n' not in message
  for fragment in fragments:
    assert fragment in message, (fragment, message)
  assert not out.exists() or not any(out.iterdir())
  return message


def _good_file(path):
  return write_parquet(str(path), [pixel_row(seed=i) for i in range(20)])


def test_error_truncated_file(tmp_path):
  _good_file(tmp_path / 'in' / 'a.parquet')
  bad = _good_file(tmp_path / 'in' / 'b.parquet')
  with open(bad, 'r+b') as f:
    f.truncate(os.path.getsize(bad) - 100)
  _assert_stops(tmp_path, str(tmp_path / 'in'), bad,
                'not a readable Parquet file')


def test_error_zero_byte_file(tmp_path):
  _good_file(tmp_path / 'in' / 'a.parquet')
  bad = tmp_path / 'in' / 'year=2021' / 'b.parquet'
  bad.parent.mkdir()
  bad.write_bytes(b'')
  _assert_stops(tmp_path, str(tmp_path / 'in'), str(bad), '0 bytes')


def test_error_not_parquet(tmp_path):
  bad = tmp_path / 'in' / 'a.parquet'
  bad.parent.mkdir()
  bad.write_text('lon,lat\n1,2\n')
  _assert_stops(tmp_path, str(tmp_path / 'in'), str(bad),
                'not a readable Parquet file')


def test_error_missing_column(tmp_path):
  bad = str(tmp_path / 'in' / 'a.parquet')
  os.makedirs(os.path.dirname(bad))
  table = pq.read_table(_good_file(bad))
  pq.write_table(table.drop(['bands']), bad)
  _assert_stops(tmp_path, bad, bad, "column 'bands'", 'missing')


def test_error_missing_year_without_hive_directory(tmp_path):
  bad = write_parquet(str(tmp_path / 'in' / 'a.parquet'), [pixel_row()],
                      drop_year=True)
  _assert_stops(tmp_path, str(tmp_path / 'in'), bad, "column 'year'")


@pytest.mark.parametrize('column,array', [
    ('bands', pa.array(np.arange(20), pa.int64())),
    ('lon', pa.array(['-90.1'] * 20)),
    ('img dates', pa.array(['x'] * 20)),
])
def test_error_wrong_type(tmp_path, column, array):
  bad = str(tmp_path / 'in' / 'a.parquet')
  os.makedirs(os.path.dirname(bad))
  table = pq.read_table(_good_file(bad))
  if column == 'img dates':  # the slides' spelling, as a string
    table = table.drop(['img_dates']).append_column(column, array)
  else:
    table = table.set_column(table.column_names.index(column), column, array)
  pq.write_table(table, bad)
  _assert_stops(tmp_path, str(tmp_path / 'in'), bad, f"column '{column}'",
                'has type')


def test_error_empty_directory(tmp_path):
  (tmp_path / 'in').mkdir()
  _assert_stops(tmp_path, str(tmp_path / 'in'), str(tmp_path / 'in'),
                'holds no files')


def test_error_glob_matches_nothing(tmp_path):
  _good_file(tmp_path / 'in' / 'a.parquet')
  pattern = str(tmp_path / 'in' / '*.csv')
  _assert_stops(tmp_path, pattern, pattern, 'matches no files')


def test_error_path_does_not_exist(tmp_path):
  missing = str(tmp_path / 'nope')
  _assert_stops(tmp_path, missing, missing, 'no such file or directory')


# Caching: the driver's fingerprint covers every file read.


def test_fingerprint_covers_hive_files(tmp_path):
  root = str(tmp_path / 'in')
  _write_hive(root)
  first = driver.input_fingerprint(root)
  assert first == driver.input_fingerprint(root)
  assert first.startswith('files:5,')
  (tmp_path / 'in' / '_SUCCESS').write_bytes(b'')  # skipped, as when read
  assert driver.input_fingerprint(root) == first
  inner = os.path.join(root, 'year=2020', 'part-00000.parquet')
  stat = os.stat(inner)
  # A touch is not a change; changed bytes with the same size and mtime are.
  os.utime(inner, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
  assert driver.input_fingerprint(root) == first
  data = bytearray(open(inner, 'rb').read())
  data[len(data) // 2] ^= 0xFF
  with open(inner, 'wb') as f:
    f.write(bytes(data))
  os.utime(inner, ns=(stat.st_atime_ns, stat.st_mtime_ns))
  assert os.path.getsize(inner) == stat.st_size
  changed = driver.input_fingerprint(root)
  assert changed != first
  os.rename(inner, inner + '.moved.parquet')
  assert driver.input_fingerprint(root) not in (first, changed)


@pytest.mark.pipeline
def test_local_dag_runner_cache_hit_and_invalidation(tmp_path):
  root = str(tmp_path / 'in')
  written = _write_hive(root)
  connection = metadata.sqlite_metadata_connection_config(
      str(tmp_path / 'mlmd.sqlite'))

  def run():
    local_dag_runner.LocalDagRunner().run(pipeline.Pipeline(
        pipeline_name='example_gen_cache',
        pipeline_root=str(tmp_path / 'root'),
        components=[ParquetExampleGen(input_base=root, year_splits=configs.YEAR_SPLITS,
                                      compress_examples=False)],
        enable_cache=True, metadata_connection_config=connection))
    store = metadata_store.MetadataStore(connection)
    return [metadata_store_pb2.Execution.State.Name(e.last_known_state)
            for e in store.get_executions()]

  assert run() == ['COMPLETE']
  assert run() == ['COMPLETE', 'CACHED']
  inner = os.path.join(root, 'year=2020', 'part-00000.parquet')
  stat = os.stat(inner)
  os.utime(inner, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a touch: cached
  assert run() == ['COMPLETE', 'CACHED', 'CACHED']
  pq.write_table(pq.read_table(inner).slice(1), inner)  # one row fewer: runs
  assert run() == ['COMPLETE', 'CACHED', 'CACHED', 'COMPLETE']
  store = metadata_store.MetadataStore(connection)
  first, second = store.get_artifacts_by_type('Examples')
  assert second.uri != first.uri
  assert second.custom_properties['rows_read'].int_value == len(written) - 1
  assert json.loads(second.custom_properties['counts'].string_value) == (
      outputs.read_counts(second.uri))


def test_compiles_for_kubeflow_v2(tmp_path):
  output = str(tmp_path / 'pipeline.json')
  example_gen = ParquetExampleGen(
      input_base='gs://bucket/pixels', compress_examples=False,
      year_splits={2021: 'train', 2020: 'eval'}, batch_rows=1000)
  kubeflow_v2_dag_runner.KubeflowV2DagRunner(
      config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
          default_image='img'),
      output_filename=output).run(pipeline.Pipeline(
          pipeline_name='example-gen', pipeline_root='gs://bucket/root',
          components=[example_gen]))
  spec = json.load(open(output))['pipelineSpec']
  container = spec['deploymentSpec']['executors'][
      'ParquetExampleGen_executor']['container']
  assert ('croptfx.components.parquet_example_gen.executor.Executor' in
          container['args'])
  assert 'preCacheCheck' in container['lifecycle']  # a FileBasedExampleGen
  parameters = spec['root']['dag']['tasks']['ParquetExampleGen']['inputs'][
      'parameters']
  value = lambda name: parameters[name]['runtimeValue']['constantValue']
  assert json.loads(value('year_splits')['stringValue']) == {
      '2021': 'train', '2020': 'eval'}
  assert value('input_base')['stringValue'] == 'gs://bucket/pixels'
  assert value('batch_rows')['intValue'] == '1000'
  assert 'label_mapping' not in parameters  # None: the bundled mapping


def test_component_parameters():
  example_gen = ParquetExampleGen(input_base='data', year_splits=configs.YEAR_SPLITS,
                                  compress_examples=False)
  assert isinstance(example_gen, FileBasedExampleGen)
  assert example_gen.driver_class is driver.Driver
  props = example_gen.exec_properties
  assert json.loads(props['year_splits']) == {
      '2021': 'train', '2020': 'eval', '2019': 'test'}
  assert props['label_mapping'] is None
  output_config = example_gen_pb2.Output()
  proto_utils.json_to_proto(props['output_config'], output_config)
  assert [s.name for s in output_config.split_config.splits] == [
      'train', 'eval', 'test']
  assert ParquetExampleGen(input_base='data', compress_examples=False, year_splits={
      2018: 'extra', 2019: 'test', 2021: 'train'}).exec_properties[
          'output_config'].count('name') == 3
  # Role order (features.split_roles): train by name; no split is named
  # eval, so the next name in the order given has the eval role.
  assert splits.split_names({2018: 'extra', 2019: 'test', 2021: 'train'}) == [
      'train', 'extra', 'test']
  with pytest.raises(ValueError, match='at least two split names'):
    splits.parse_year_splits({2021: 'train', 2020: 'train'})
  with pytest.raises(ValueError, match='not a year'):
    splits.parse_year_splits({'twenty': 'train'})
  with pytest.raises(ValueError, match='split name'):
    splits.parse_year_splits({2021: 'a/b'})


def _entries(example: bytes):
  """The feature-map entries of a serialized Example, as written."""
  from google.protobuf.internal import decoder  # pylint: disable=g-import-not-at-top
  length, pos = decoder._DecodeVarint(example, 1)  # pylint: disable=protected-access
  end, entries = pos + length, []
  while pos < end:
    size, body = decoder._DecodeVarint(example, pos + 1)  # pylint: disable=protected-access
    entries.append(example[pos:body + size])
    pos = body + size
  return example[:example.index(entries[0])], entries


def test_encoded_examples_are_canonical_bytes():
  # Protobuf writes map entries in hash order, which differs from process to
  # process; the encoder's bytes must be the sorted-key form, whatever
  # order the C++ encoder produced.
  batch = reader.normalize(make_table([pixel_row(2021, seed=i) for i in range(20)]))
  examples = encoding.ExampleEncoder().encode(batch)
  for example in examples:
    parsed = tf.train.Example.FromString(example)
    assert example == parsed.SerializeToString(deterministic=True)
    header, entries = _entries(example)
    assert len(entries) == len(features.RAW_COLUMNS)
    shuffled = header + b''.join(entries[::-1])
    assert shuffled != example
    assert tf.train.Example.FromString(shuffled) == parsed
    assert encoding.canonical_example(shuffled) == example
  # Not an Example's layout: unchanged.
  assert encoding.canonical_example(b'') == b''
  assert encoding.canonical_example(b'\x12\x00') == b'\x12\x00'
  # The map job's encoding (no re-ordering): the same examples once parsed,
  # the canonical bytes once re-ordered.
  fast = encoding.ExampleEncoder().encode(batch, canonical=False)
  assert len(fast) == len(examples)
  for raw, example in zip(fast, examples):
    assert tf.train.Example.FromString(raw) == tf.train.Example.FromString(example)
    assert encoding.canonical_example(raw) == example


# Hostile input (issue 15): literal paths, duplicates, empty files and splits.


def test_existing_paths_are_read_literally_only_missing_ones_are_globs(tmp_path):
  # `data[1]` exists: it is that directory, never the pattern that matches
  # its sibling `data1`.
  literal = write_parquet(str(tmp_path / 'data[1]' / 'a.parquet'), _three_years(0))
  sibling = write_parquet(str(tmp_path / 'data1' / 'b.parquet'),
                          [pixel_row(seed=10 + i) for i in range(5)])
  odd_file = write_parquet(str(tmp_path / 'x*?.parquet'), [pixel_row(seed=20)])
  write_parquet(str(tmp_path / 'xab.parquet'), [pixel_row(seed=21)])
  listed = lambda base: [f.path for f in reader.list_input_files(base)]
  assert listed(str(tmp_path / 'data[1]')) == [literal]
  assert listed(str(tmp_path / 'data[1]') + '/') == [literal]
  assert listed(odd_file) == [odd_file]
  # Paths that do not exist are globs.
  assert listed(str(tmp_path / 'data[12]')) == [sibling]
  assert listed(str(tmp_path / 'data*')) == [sibling, literal]
  artifact = _run(str(tmp_path / 'data[1]'), str(tmp_path / 'examples'))
  counts = outputs.read_counts(artifact.uri)
  assert counts['rows_read'] == 6 and counts['files'] == 1
  assert counts['examples'] == {'train': 2, 'eval': 2, 'test': 2}


def _three_years(seed):
  return [pixel_row(year, seed=seed + i) for year in YEARS for i in range(2)]


def test_duplicates_across_files_and_a_file_of_zero_rows(tmp_path):
  root = tmp_path / 'in'
  r1, r2, r3 = (pixel_row(2021, seed=s) for s in (101, 102, 103))
  good = _three_years(200)
  write_parquet(str(root / 'a.parquet'), [r1, r2, dict(r1), r3] + good)
  # b: another identical copy of r1, and r2 with another label.
  write_parquet(str(root / 'b.parquet'), [dict(r2, CDL='Rice'), dict(r1)])
  write_parquet(str(root / 'c' / 'empty.parquet'), [])
  artifact = _run(str(root), str(tmp_path / 'examples'))
  counts = outputs.read_counts(artifact.uri)
  assert counts['rows_read'] == 4 + 6 + 2
  assert counts['files'] == 3
  assert counts['examples'] == {'train': 2 + 2, 'eval': 2, 'test': 2}  # r1 once, r3
  reasons = {r: n for r, n in counts['quarantined'].items() if n}
  assert reasons == {'duplicate': 2, 'conflicting_duplicate': 2}
  counts_lib.check_reconciled(counts)
  # The quarantined copies, with their file and every value as written.
  table = pq.read_table(layouts.quarantine_dir(artifact.uri)).to_pylist()
  got = sorted((os.path.basename(r['source_file']), r['reason'], r['CDL'],
                r['lon'], r['bands'] == r1['bands']) for r in table)
  assert got == sorted([
      ('a.parquet', 'duplicate', 'Corn', r1['lon'], True),  # row 2 of a
      ('b.parquet', 'duplicate', 'Corn', r1['lon'], True),
      ('a.parquet', 'conflicting_duplicate', 'Corn', r2['lon'], False),
      ('b.parquet', 'conflicting_duplicate', 'Rice', r2['lon'], False)])
  for row in table:
    want = r1 if row['lon'] == r1['lon'] else r2
    for key in ('lat', 'num_scenes', 'bands', 'img_dates', 'scl_vals', 'tiles',
                'bbox', 'year'):
      assert row[key] == want[key], key
  # The kept copy of r1 is an example once.
  train = [tf.train.Example.FromString(r.numpy()) for r in records.tfrecord_dataset(
      records.split_files(artifact.uri, 'train'))]
  lons = [codec.decode_coord(e.features.feature['lon'].bytes_list.value[0])
          for e in train]
  assert sorted(lons) == sorted([r1['lon'], r3['lon']] +
                                [r['lon'] for r in good if r['year'] == 2021])


@pytest.mark.parametrize('case', ['year_missing', 'all_quarantined'])
def test_error_empty_split_names_split_and_year(tmp_path, case):
  root = tmp_path / 'in'
  rows = [r for r in _three_years(300) if r['year'] != 2019]
  if case == 'all_quarantined':
    rows += [pixel_row(2019, seed=400 + i, CDL=' ') for i in range(3)]
    fragment = "split 'test' (year 2019) is empty: all 3 rows of 2019 were quarantined"
  else:
    fragment = "split 'test' (year 2019) is empty: the data has no rows of 2019"
  write_parquet(str(root / 'a.parquet'), rows)
  with pytest.raises(InputDataError) as error:
    _run(str(root), str(tmp_path / 'examples'))
  message = str(error.value)
  assert '\n' not in message
  assert message.startswith(f'{root}: {fragment}'), message


# The generator's rows: all kept, unless bad rows are asked for.


def test_generated_rows_are_all_kept_and_bad_ones_quarantined_by_reason(tmp_path):
  clean = str(tmp_path / 'clean')
  part1.write_dataset(clean, 400, years=YEARS, seed=7)
  counts = outputs.read_counts(_run(clean, str(tmp_path / 'out-clean')).uri)
  assert counts['rows_read'] == 1200 and sum(counts['quarantined'].values()) == 0
  bad = str(tmp_path / 'bad')
  summary = part1.write_dataset(bad, 400, years=YEARS, seed=7, bad=True)
  assert summary['bad_rows'] == {reason: (2 if reason == 'conflicting_duplicate' else 1) * 3
                                 for reason in part1.BAD_ROWS}
  counts = outputs.read_counts(_run(bad, str(tmp_path / 'out-bad')).uri)
  quarantined = {r: n for r, n in counts['quarantined'].items() if n}
  assert quarantined == summary['bad_rows']
  # One extra row per reason and year (a conflicting pair is a good row's twin).
  assert counts['rows_read'] == summary['rows'] == 1200 + len(part1.BAD_ROWS) * 3
