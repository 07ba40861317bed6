"""Determinism: the same data transforms to the same examples, bit for bit,
whatever the runner (issue 11), and what exactly is byte-identical (issue 15).

Records, not files, are compared: which file a record lands in and the
order within a file depend on the runner's bundles. The ExampleGen's
serialized records are byte-identical from run to run (their feature map
is written in key order). Transform's records are written by tf.Transform,
whose protobuf map order is a hash order that changes from process to
process; they are byte-identical after re-serialization in key order
(protobuf's deterministic serialization), and equal after parsing.

Three Transform outputs on `small_data` are compared pixel by pixel (keyed
by lon, lat, year; file and record order may differ between runs): the
session's full LocalDagRunner run (`small_run`), a second LocalDagRunner
run into its own output directory, and a BeamDagRunner run whose Beam jobs
use the DirectRunner in multi-processing mode with 2 workers. The Beam run
is also the project's "BeamDagRunner multi-processing run on a tiny data
set" test, so its summary is checked too.
"""

import collections

import pytest
import tensorflow as tf

from croptfx import features
from croptfx import records
from croptfx.rows import encoding
from tests import test_reliability_helpers as helpers
from tests.conftest import SMALL_PIXELS_PER_YEAR, run_small_pipeline

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope='module')
def reference(small_run):
  summary = small_run['summary']
  return {'summary': summary, 'transformed': helpers.read_transformed(
      summary['artifacts']['transformed_examples'])}


@pytest.fixture(scope='module')
def local_again(small_data, tmp_path_factory):
  output = str(tmp_path_factory.mktemp('determinism_local'))
  return run_small_pipeline(small_data, output, last_component='Transform')


@pytest.fixture(scope='module')
def beam_run(small_data, tmp_path_factory):
  output = str(tmp_path_factory.mktemp('determinism_beam'))
  summary = run_small_pipeline(small_data, output, runner='beam', workers=2,
                               last_component='Transform')
  return {'output': output, 'summary': summary}


def test_reference_has_every_pixel(reference):
  # 80 pixel-years per split, none lost before the comparison.
  transformed = reference['transformed']
  for split in helpers.SPLITS:
    assert sum(len(v) for v in transformed[split].values()) == (
        SMALL_PIXELS_PER_YEAR)


def test_local_dag_runner_twice_gives_identical_examples(reference,
                                                         local_again):
  assert local_again['cached_components'] == []  # a fresh output directory
  got = helpers.read_transformed(
      local_again['artifacts']['transformed_examples'])
  n = helpers.assert_same_transformed(got, reference['transformed'])
  assert n == 3 * SMALL_PIXELS_PER_YEAR
  for key in ('band_mean', 'band_std'):
    assert local_again[key] == reference['summary'][key]


def test_beam_dag_runner_multi_processing_gives_identical_examples(
    reference, beam_run):
  summary = beam_run['summary']
  got = helpers.read_transformed(summary['artifacts']['transformed_examples'])
  n = helpers.assert_same_transformed(got, reference['transformed'])
  assert n == 3 * SMALL_PIXELS_PER_YEAR
  for key in ('band_mean', 'band_std'):
    assert summary[key] == reference['summary'][key]


def test_beam_dag_runner_multi_processing_summary(beam_run):
  summary = beam_run['summary']
  assert summary['runner'] == 'beam'
  assert summary['rows_read'] == 3 * SMALL_PIXELS_PER_YEAR
  assert summary['examples'] == dict.fromkeys(helpers.SPLITS,
                                              SMALL_PIXELS_PER_YEAR)
  assert sum(summary['quarantined'].values()) == 0
  assert summary['cached_components'] == []
  assert sorted(summary['component_seconds']) == sorted(
      helpers.DATA_COMPONENTS)
  assert summary['model_dir'] is None  # stopped at Transform
  progress = [l for l in summary['_progress'].splitlines()
              if l.startswith('[')]
  # One line per component (the Beam runner may order the independent
  # ExampleValidator and Transform either way).
  assert [l.split('] ')[0] for l in progress] == [f'[{i}/5' for i in
                                                  range(1, 6)]
  assert sorted(l.split('] ')[1].split(' ... ')[0] for l in progress) == (
      sorted(helpers.DATA_COMPONENTS))
  assert all(' ... done in ' in l and 'cached' not in l for l in progress)
  assert len(summary['band_mean']) == features.NUM_BANDS
  # Every component ran and published in ML Metadata.
  states = helpers.executions_by_component(beam_run['output'])
  assert {c: [s for _, s in runs] for c, runs in states.items()} == {
      c: ['COMPLETE'] for c in helpers.DATA_COMPONENTS}


def _records(uri, canonical=False):
  """{split: Counter of serialized records} of an examples artifact."""
  result = {}
  for split in helpers.SPLITS:
    dataset = records.tfrecord_dataset(records.split_files(uri, split))
    serialized = (bytes(r) for r in dataset.as_numpy_iterator())
    result[split] = collections.Counter(
        encoding.canonical_example(r) if canonical else r for r in serialized)
  return result


def test_example_gen_records_are_byte_identical_across_runs(reference, local_again, beam_run):
  want = _records(reference['summary']['artifacts']['examples'])
  assert {s: sum(c.values()) for s, c in want.items()} == dict.fromkeys(
      helpers.SPLITS, SMALL_PIXELS_PER_YEAR)
  for summary in (local_again, beam_run['summary']):
    assert _records(summary['artifacts']['examples']) == want
  # They are already in the canonical form (sorted feature keys).
  for serialized in want.values():
    for record in serialized:
      assert record == tf.train.Example.FromString(record).SerializeToString(
          deterministic=True)


def test_transformed_records_are_byte_identical_after_canonical_serialization(
    reference, local_again, beam_run):
  want = _records(reference['summary']['artifacts']['transformed_examples'], canonical=True)
  for summary in (local_again, beam_run['summary']):
    uri = summary['artifacts']['transformed_examples']
    assert _records(uri, canonical=True) == want
    # The canonical form is protobuf's deterministic serialization.
    for serialized in _records(uri).values():
      for record in list(serialized)[:20]:
        assert encoding.canonical_example(record) == tf.train.Example.FromString(
            record).SerializeToString(deterministic=True)
