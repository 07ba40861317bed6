"""The parts of `croptfx bench` that have a right answer (no timings).

- the seed loader: one example worked by hand (bucket pick, normalization,
  gating, one-hot), the double-crop filter, the batch shapes;
- the NumPy pass equals a real tf.Transform run on a tiny data set;
- the Trainer's input_fn (case B) reads every example of one or more files;
- tables, ratios against targets and the BENCHMARKS.md section.
"""

import os
import pickle

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import schema_utils
from tfx.components.trainer import fn_args_utils
from tfx.components.util import tfxio_utils
from tfx.types import standard_artifacts
from tfx_bsl.public import tfxio

from croptfx.bench import benchmarks_file
from croptfx.bench import main as bench_main
from croptfx.bench import memory
from croptfx.bench import numpy_pass
from croptfx.bench import seed_loader
from croptfx.bench import table
from croptfx.components.parquet_example_gen import transforms
from croptfx import features
from croptfx.generate import part1
from croptfx import outputs
from croptfx.pipeline import configs
from croptfx.preprocessing import preprocessing
from croptfx import records
from croptfx.rows import encoding
from croptfx.rows import reader
from croptfx.rows import validation
from croptfx.trainer import model
from croptfx.trainer import window
from tests.conftest import generated_data

CORN = features.CLASS_NAMES.index('Corn')
P = 18800  # prediction date, days since 1970-01-01


def _hand_example(scl_first=4, label=CORN):
  """Six images around the prediction date P; see the test for the answer."""
  ages = [2, 4, 7, -3, 179, 180]  # days before P; -3 is after P
  dates = tf.constant([P - a for a in ages])
  scl = tf.constant([scl_first, 8, 5, 4, 4, 4])
  # Image i, band j holds 100 (i + 1) + j.
  bands = tf.constant([[100 * (i + 1) + j for j in range(features.NUM_BANDS)]
                       for i in range(6)], tf.uint16)
  keys = tf.constant([0.2, 0.9, 0.5, 0.99, 0.1, 0.7])
  mean = tf.fill([features.NUM_BANDS], 100.0)
  std = tf.fill([features.NUM_BANDS], 2.0)
  return seed_loader.window_example(bands, dates, scl, label, P, keys, mean,
                                    std)


def test_seed_parse_worked_example():
  window, one_hot = _hand_example()
  window = window.numpy()
  assert window.shape == (features.WINDOW_BINS, features.NUM_BANDS)
  band = np.arange(features.NUM_BANDS)
  # Bucket 35 = ages 0..4: images 0 (key .2) and 1 (key .9) -> image 1.
  np.testing.assert_array_equal(window[35], (200 + band - 100) / 2)
  # Bucket 34 = ages 5..9: image 2 alone.
  np.testing.assert_array_equal(window[34], (300 + band - 100) / 2)
  # Bucket 0 = ages 175..179: image 4. Image 3 is after P, image 5 is 180
  # days old: outside the window despite their larger keys.
  np.testing.assert_array_equal(window[0], (500 + band - 100) / 2)
  empty = np.ones(features.WINDOW_BINS, bool)
  empty[[0, 34, 35]] = False
  assert not window[empty].any()
  # Last two images up to P: images 0 (SCL 4) and 1 (SCL 8): vegetation.
  np.testing.assert_array_equal(one_hot.numpy(), np.eye(7)[CORN])


def test_seed_gating_uses_the_last_two_images():
  # Image 0 not vegetation: the last two (ages 2 and 4) have none, older
  # vegetation (image 2 is SCL 5; image 4 is SCL 4) does not count.
  _, one_hot = _hand_example(scl_first=5)
  np.testing.assert_array_equal(one_hot.numpy(),
                                np.eye(7)[features.NO_CROPS_GROWING])
  # Not a crop: never gated.
  _, one_hot = _hand_example(scl_first=5, label=features.UNCULTIVATED)
  np.testing.assert_array_equal(one_hot.numpy(),
                                np.eye(7)[features.UNCULTIVATED])


@pytest.mark.parametrize('name,keep', [
    ('Corn', True), ('Soybeans', True), ('Dbl Crop WinWht/Soybeans', False),
    ('dbl_crop oats-corn', False), ('  Dbl Crop Triticale/Corn', False)])
def test_seed_filter_double_croppings(name, keep):
  assert bool(seed_loader.filter_double_croppings(
      {features.CDL: tf.constant(name)})) == keep


def test_seed_dataset_shapes(tmp_path):
  summary = part1.write_dataset(str(tmp_path), 20, years=[2021])
  frame = seed_loader.load_frame(summary['files'], 2021)
  assert len(frame) == 20
  mean = np.full(features.NUM_BANDS, 1000.0)
  std = np.full(features.NUM_BANDS, 500.0)
  window, one_hot = next(iter(seed_loader.make_dataset(frame, mean, std, 4)))
  assert window.shape == (4, features.WINDOW_BINS, features.NUM_BANDS)
  assert window.dtype == tf.float32
  assert one_hot.shape == (4, features.NUM_CLASSES)
  np.testing.assert_array_equal(tf.reduce_sum(one_hot, axis=1), np.ones(4))


def _tft_outputs(data_dir, tmp_dir, example_gen=False):
  """preprocessing_fn in tf.Transform on ExampleGen's examples, by split.

  example_gen: the examples come from the ExampleGen's own Beam transform
  (duplicate rule included; its counts.json written under `tmp_dir`/examples);
  otherwise every valid row is encoded here.

  Returns the outputs (NumPy arrays by feature, by split) and the directory
  of the transform graph.
  """
  splits = dict(configs.YEAR_SPLITS)
  examples = {name: [] for name in splits.values()}
  encoder = encoding.ExampleEncoder()
  for f in reader.list_input_files(data_dir) if not example_gen else []:
    for batch in reader.read_batches(f.path):
      valid = validation.check_rows(batch, splits).valid
      year = batch.column(features.YEAR).to_numpy()
      for y, name in splits.items():
        rows = np.flatnonzero(valid & (year == y))
        examples[name] += encoder.encode(batch.take(pa.array(rows)))
  spec = {k: tf.io.FixedLenFeature([1], v.dtype)
          for k, v in preprocessing.RAW_FEATURE_SPEC.items()}
  source = tfxio.TFExampleBeamRecord(
      physical_format='inmem', telemetry_descriptors=['croptfx-test'],
      schema=schema_utils.schema_from_feature_spec(spec))
  graph_dir = os.path.join(tmp_dir, 'transform_graph')
  with beam.Pipeline() as p:
    with tft_beam.Context(temp_dir=os.path.join(tmp_dir, 'tft')):
      metadata = source.TensorAdapterConfig()
      if example_gen:
        serialized = p | 'ExampleGen' >> transforms.ParquetToExamples(
            reader.check_input_files(reader.list_input_files(data_dir)),
            splits, examples_uri=os.path.join(tmp_dir, 'examples'))
      else:
        serialized = {name: p | f'Create{name}' >> beam.Create(rows)
                      for name, rows in examples.items()}
      data = {name: rows | f'Decode{name}' >> source.BeamSource()
              for name, rows in serialized.items()}
      transform_fn = ((data['train'], metadata)
                      | tft_beam.AnalyzeDataset(preprocessing.preprocessing_fn))
      _ = transform_fn | tft_beam.WriteTransformFn(graph_dir)
      for name, pcoll in data.items():
        transformed, _ = (((pcoll, metadata), transform_fn)
                          | f'Transform{name}' >> tft_beam.TransformDataset())
        _ = (transformed | f'Pickle{name}' >> beam.Map(pickle.dumps)
             | f'Write{name}' >> beam.io.WriteToTFRecord(
                 os.path.join(tmp_dir, name), shard_name_template=''))
  outs = {}
  for name in examples:
    instances = [pickle.loads(r.numpy()) for r in
                 tf.data.TFRecordDataset(os.path.join(tmp_dir, name))]
    outs[name] = {k: np.stack([i[k] for i in instances])
                     for k in preprocessing.TRANSFORMED_FEATURE_SPEC}
  return outs, graph_dir


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
  """40 generated pixels x 3 years, the NumPy pass and tf.Transform on it."""
  tmp, data_dir = generated_data(tmp_path_factory, 'bench', 40, seed=3, rows_per_file=50)
  result = numpy_pass.run(data_dir, configs.YEAR_SPLITS, batch_rows=32)
  transformed, graph_dir = _tft_outputs(data_dir, str(tmp))
  return result, transformed, graph_dir, tmp


def test_numpy_pass_equals_transform(tiny):
  result, transformed, _, _ = tiny
  assert result.rows_read == 120
  assert set(result.splits) == set(transformed)
  for split, outs in result.splits.items():
    comparison = numpy_pass.compare(outs, transformed[split])
    assert comparison.rows_transform == 40
    assert comparison.equal, (split, comparison)
    assert outs[features.OBSERVED].sum() > 40 * 20


def test_numpy_pass_drops_rows_as_the_example_gen_does(tmp_path):
  """An identical copy (the first by file, row kept), a conflicting pair
  (both dropped) and a blank label: the NumPy pass keeps and
  counts exactly what the ExampleGen's Beam transform does, and its grids
  equal tf.Transform's on that ExampleGen's examples."""
  splits = dict(configs.YEAR_SPLITS)
  train_year = [y for y, s in splits.items() if s == features.TRAIN_SPLIT][0]
  table = part1.generate_table(12, sorted(splits), 3)
  keys = list(zip(table.column(features.LON).to_pylist(),
                  table.column(features.LAT).to_pylist(),
                  table.column(features.YEAR).to_pylist()))
  assert len(set(keys)) == 36  # no pixel-year twice before the copies
  train = [i for i, k in enumerate(keys) if k[2] == train_year]
  same, conflict = train[0], train[1]
  other = table.take([conflict]).set_column(
      table.schema.get_field_index(features.BBOX), features.BBOX,
      pa.array([table.column(features.BBOX)[conflict].as_py() + 1],
               table.schema.field(features.BBOX).type))
  unlabelled = table.take([train[2]]).set_column(
      table.schema.get_field_index(features.CDL), features.CDL,
      pa.array([' '], table.schema.field(features.CDL).type))
  data_dir = tmp_path / 'data'
  data_dir.mkdir()
  # The copy comes first in file order: the two are identical, so either
  # one kept gives the same row.
  pq.write_table(pa.concat_tables([table.take([same]), other, unlabelled]),
                 data_dir / 'part-0.parquet')
  pq.write_table(table, data_dir / 'part-1.parquet')

  result = numpy_pass.run(str(data_dir), splits, batch_rows=8)
  assert result.rows_read == 39
  assert {r: n for r, n in result.dropped.items() if n} == {
      'duplicate': 1, 'conflicting_duplicate': 2, 'missing_label': 1}
  assert result.rows_kept == 35 == result.rows_read - sum(
      result.dropped.values())
  kept = set()
  for outs in result.splits.values():
    kept |= set(zip(outs[features.LON].tolist(),
                    outs[features.LAT].tolist(),
                    outs[features.YEAR].tolist()))
  def as_output(k):  # lon and lat come out as float32
    return float(np.float32(k[0])), float(np.float32(k[1])), k[2]
  assert kept == {as_output(k) for i, k in enumerate(keys) if i != conflict}
  assert len(result.splits[features.TRAIN_SPLIT][features.LABEL]) == 11

  # Band moments of the 11 kept train rows, by hand (the conflicting pair out).
  rows = [i for i in train if i != conflict]
  bands = np.concatenate([
      np.frombuffer(table.column(features.BANDS)[i].as_py(), '>u2')
      for i in rows]).reshape(-1, features.NUM_BANDS).astype(np.float64)
  np.testing.assert_allclose(result.band_mean, bands.mean(axis=0), rtol=1e-12)
  np.testing.assert_allclose(result.band_std, bands.std(axis=0), rtol=1e-9)

  transformed, _ = _tft_outputs(str(data_dir), str(tmp_path), example_gen=True)
  counts = outputs.read_counts(str(tmp_path / 'examples'))
  assert counts['quarantined'] == result.dropped
  for split, outs in result.splits.items():
    comparison = numpy_pass.compare(outs, transformed[split])
    assert comparison.rows_transform == (11 if split == features.TRAIN_SPLIT
                                         else 12)
    assert comparison.equal, (split, comparison)


def _write_examples(outs, paths):
  """Transformed outputs as tf.Examples, rows dealt over `paths` (GZIP
  when the names end in .gz)."""
  writers = [tf.io.TFRecordWriter(p, options=records.record_compression([p]))
             for p in paths]
  n = len(outs[features.LABEL])
  for i in range(n):
    feature = {}
    for key, values in outs.items():
      value = np.asarray(values[i]).reshape(-1)
      if value.dtype.kind == 'f':
        feature[key] = tf.train.Feature(
            float_list=tf.train.FloatList(value=value))
      else:
        feature[key] = tf.train.Feature(
            int64_list=tf.train.Int64List(value=value))
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    writers[i * len(paths) // n].write(example.SerializeToString())
  for w in writers:
    w.close()


@pytest.mark.parametrize('num_files,suffix', [(1, ''), (2, ''), (1, '.gz'), (2, '.gz')])
def test_input_fn_reads_every_example_in_order(tiny, num_files, suffix):
  """B's input_fn (one file: sequential read; more: parallel interleave),
  over uncompressed and GZIP files (tfx_bsl goes by the names)."""
  _, transformed, graph_dir, tmp = tiny
  train = transformed[features.TRAIN_SPLIT]
  split_dir = tmp / f'examples-{num_files}{suffix}' / 'Split-train'
  split_dir.mkdir(parents=True)
  _write_examples(train, [str(split_dir / f'part-{i}{suffix}')
                          for i in range(num_files)])
  artifact = standard_artifacts.Examples()
  artifact.uri = str(split_dir.parent)
  factory = tfxio_utils.get_tf_dataset_factory_from_artifact([artifact], [])
  accessor = fn_args_utils.DataAccessor(
      tf_dataset_factory=factory, record_batch_factory=None,
      data_view_decode_fn=None)
  dataset = model.input_fn([str(split_dir / '*')], accessor,
                           tft.TFTransformOutput(graph_dir), 16,
                           as_of_day=240, shuffle=False, num_epochs=1)
  got = [(x[features.WINDOW].numpy(), y.numpy()) for x, y in dataset]
  keep = train[features.EXCLUDED] == 0
  want_x, want_y = window.apply_window(
      {k: tf.constant(v[keep]) for k, v in train.items()},
      window.as_of_bins_for_day(240, tf.constant(train[features.LABEL][keep])))
  got_x = np.concatenate([g[0] for g in got])
  got_y = np.concatenate([g[1] for g in got])
  assert len(got_y) == keep.sum() > 30
  if num_files == 1:  # Read in file order.
    np.testing.assert_array_equal(got_x, want_x[features.WINDOW])
    np.testing.assert_array_equal(got_y, want_y)
  else:  # Interleaved: the same examples.
    order = np.lexsort(got_x.reshape(len(got_x), -1).T)
    want = want_x[features.WINDOW].numpy()
    np.testing.assert_array_equal(
        got_x[order], want[np.lexsort(want.reshape(len(want), -1).T)])


def test_numpy_pass_pick_follows_the_rule():
  # Bin 0 of 2021: three clear images on days 1, 2, 2 (positions 2, 0, 1
  # by date, then position) and a cloudy one; the hash picks among them.
  jan1 = 18628  # 2021-01-01
  rows = pa.RecordBatch.from_pydict({
      features.LON: [-90.5], features.LAT: [33.4], features.NUM_SCENES: [4],
      features.BANDS: [np.arange(48, dtype='>u2').tobytes()],
      features.IMG_DATES: [np.array([jan1 + 1, jan1 + 1, jan1, jan1 + 2],
                                    '>u2').tobytes()],
      features.SCL_VALS: [bytes([4, 5, 4, 9])],
      features.TILES: ['x'], features.BBOX: [1], features.YEAR: [2021],
      features.CDL: ['Corn']}, schema=reader.NORMALIZED_SCHEMA)
  part = numpy_pass.pick_batch(rows, features.load_label_mapping())
  h = numpy_pass._mix(numpy_pass.pixel_hash(-90.5, 33.4, 2021), 0)
  picked = [2, 0, 1][int(h) % 3]
  np.testing.assert_array_equal(part.raw[0, 0],
                                np.arange(12) + 12 * picked)
  assert part.observed[0].sum() == 1 and part.first_bin[0] == 0


def test_table_formatting_and_targets():
  assert table.Ratio('B / A', 6.0, '>=', 5.0).met is True
  assert table.Ratio('B / C', 0.4, '>=', 0.5).met is False
  assert table.Ratio('E', 1.5, '<=', 1.5).met is True
  assert table.Ratio('info', 2.0).met is None
  assert table.Ratio('nan', float('nan'), '<=', 3.0).met is None
  assert table.format_ratio(0.5123) == '0.51x'
  assert table.format_ratio(12.34) == '12.3x'
  assert table.format_ratio(123.4) == '123x'
  assert table.format_value(12345.6, '/s') == '12,346/s'
  assert table.format_value(2048, 'MiB') == '2,048 MiB'
  assert table.format_value(3.14159, 's') == '3.14 s'
  assert table.format_value(31.4159, 's') == '31.4 s'
  text = table.ratios_table([table.Ratio('B / A', 6.0, '>=', 5.0, 'x'),
                             table.Ratio('D', 40.0, '<=', 3.0)])
  lines = text.splitlines()
  assert lines[0].startswith('| ratio') and len({len(l) for l in lines}) == 1
  assert '| >= 5.00x | yes' in lines[2] and '| <= 3.00x | NO ' in lines[3]
  assert lines[1].split('|')[2].strip().endswith(':')  # value right-aligned
  assert table.median([3, 1, 2, float('nan')]) == 2
  assert table.median([4, 1]) == 2.5
  fixed, slope = table.linear_fit([1000, 10000], [12.0, 30.0])
  assert fixed == pytest.approx(10.0) and slope == pytest.approx(0.002)


def test_benchmarks_section_is_replaced_and_the_rest_kept(tmp_path):
  path = str(tmp_path / 'BENCHMARKS.md')
  benchmarks_file.write_benchmarks(path, 'first')
  text = open(path, encoding='utf-8').read()
  assert text.startswith(benchmarks_file.TITLE) and 'first' in text
  with open(path, 'a', encoding='utf-8') as f:
    f.write('\n## Analysis\nhand-written\n')
  benchmarks_file.write_benchmarks(path, 'second')
  text = open(path, encoding='utf-8').read()
  assert 'second' in text and 'first' not in text
  assert text.index(benchmarks_file.END) < text.index('hand-written')


def test_command_line_and_settings():
  assert (bench_main.command_line(None, True, None) ==
          'croptfx bench --quick')
  assert (bench_main.command_line(300, False, '/some/dir/BENCH.md') ==
          'croptfx bench --pixels-per-year 300 --output BENCH.md')
  assert bench_main.settings_for(None, True).pixels_per_year == (
      bench_main.QUICK_PIXELS_PER_YEAR)
  with pytest.raises(ValueError):
    bench_main.settings_for(5, False)


def test_memory_of_this_process_tree():
  assert memory.tree_rss_bytes(os.getpid()) >= memory.rss_bytes(
      os.getpid()) > 10 * 2**20
  assert os.getpid() in memory.process_tree(os.getpid())


def _fake_measurements():
  """Measurements of a made-up full run (every case, both statistics)."""
  from croptfx.bench import measure  # pylint: disable=g-import-not-at-top
  from croptfx.bench import results  # pylint: disable=g-import-not-at-top
  settings = bench_main.settings_for(100, False)
  beam = {}
  for scale, seconds in ((1, 20.0), (10, 40.0)):
    for statistics in (True, False):
      result = {'example_gen_seconds': seconds / 4,
                'transform_seconds': seconds * 3 / 4 + statistics,
                'executor_init_seconds': 2.0, 'max_rss_self': 2**30,
                'baseline_rss': 2**29}
      tracked = memory.Tracked(0, seconds, (1 + scale / 10) * 2**30, 1, '',
                               '')
      beam[(scale, statistics)] = measure.BeamRun(scale, statistics, result,
                                                  tracked)
  rates = {'A': [10.0, 11.0, 12.0], 'B': [60.0, 40.0, 61.0],
           'C': [100.0, 100.0, 100.0], 'B0': [90.0] * 3, 'C0': [500.0] * 3}
  cpu = {k: [1e-4] * 3 for k in rates}
  dropped = {r: 0 for r in validation.REASONS}
  dropped.update(duplicate=1, conflicting_duplicate=2)
  return results.Measurements(
      settings, {1: 300, 10: 3000}, {1: 1.0, 10: 10.0}, beam,
      {1: 1.0, 10: 4.0},
      numpy_pass.Comparison(300, 300, 300, 303, dropped, dict(dropped)),
      measure.LoaderRates(rates, 100, cpu), seconds=90.0)


def test_summary_judges_every_target_and_reports_the_rest():
  from croptfx.bench import results  # pylint: disable=g-import-not-at-top
  m = _fake_measurements()
  _, ratios, notes = results.summarize(m)
  by_name = {r.name: r for r in ratios}
  # Medians of per-round ratios: B/A 6, 3.6, 5.1 -> 5.08.
  assert by_name['B / A'].value == pytest.approx(61 / 12)
  assert by_name['B / A'].met and by_name['B / C'].met
  assert by_name['B over the GZIP copy / A'].met is None
  assert by_name['D 1x: pipeline / NumPy, stats on'].met is False
  assert by_name['E: peak RSS 10x / 1x, stats off'].value == pytest.approx(
      2 / 1.1)
  assert sum(r.met is not None for r in ratios) == 2 + 2 * (2 + 1)
  # Exactly one Transform statistics setting is labelled as `croptfx run`.
  assert [by_name[f'D 10x: pipeline / NumPy, stats {s}'].note.startswith(
      'as `croptfx run`') for s in ('on', 'off')].count(True) == 1
  assert any(n.startswith('CPU time per example') and 'B0 100 us' in n
             for n in notes)
  assert ('NumPy pass rows (1x): 303 read = 300 kept + 3 dropped by the '
          "ExampleGen's rules (duplicate 1, conflicting_duplicate 2); the "
          'ExampleGen quarantined the same.') in notes
  m.comparison.example_gen_dropped['duplicate'] = 0
  assert any("the ExampleGen's counts DIFFER" in n
             for n in results.summarize(m)[2])
  text = results.render(m, 'croptfx bench', {'cores': '2'})
  assert '(2 of 8 met)' in text and '| B / A ' in text


def test_trainer_case_ratio_is_the_median_of_per_round_ratios():
  """T / T0 (issue 20): judged against 0.8, absent when not measured."""
  from croptfx.bench import results  # pylint: disable=g-import-not-at-top
  from croptfx.bench import trainer_speed  # pylint: disable=g-import-not-at-top
  m = _fake_measurements()
  _, ratios, _ = results.summarize(m)
  assert 'T / T0' not in {r.name for r in ratios}
  # Per round: 0.9, 0.5, 0.85 -> median 0.85 (the median of the rates would
  # give 1,800 / 2,000 = 0.9).
  m.trainer = trainer_speed.TrainerRates(
      {'T': [1800.0, 1000.0, 1700.0], 'T0': [2000.0, 2000.0, 2000.0]},
      batch_size=128, steps=100, steps_per_execution=25)
  figures, ratios, _ = results.summarize(m)
  by_name = {r.name: r for r in ratios}
  assert by_name['T / T0'].value == pytest.approx(0.85)
  assert by_name['T / T0'].met is True
  assert [f.value for f in figures if f.case == 'T'] == [1700.0, 2000.0]
  m.trainer.rates['T'] = [1500.0, 1000.0, 1700.0]  # 0.75, 0.5, 0.85 -> 0.75
  assert {r.name: r for r in results.summarize(m)[1]}['T / T0'].met is False
  text = results.render(m, 'croptfx bench', {'cores': '2'})
  assert '(2 of 9 met)' in text and '| T / T0 ' in text
