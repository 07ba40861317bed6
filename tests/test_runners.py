"""Kubeflow v2 compilation (offline) and the Dataflow arguments."""

import importlib
import json
import os
import subprocess
import sys

import pytest

from croptfx.jobs import dataflow

COMPONENTS = {'ParquetExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator',
              'Transform', 'Trainer', 'Evaluator', 'Pusher', 'SeasonEvaluator',
              'TreeBaseline'}


@pytest.fixture(scope='module')
def spec(tmp_path_factory):
  path = tmp_path_factory.mktemp('kfp') / 'croptfx.json'
  # The CLI, as a user runs it, with no network access needed.
  out = subprocess.run(
      [sys.executable, '-m', 'croptfx.cli', 'compile', '--output', str(path),
       '--pipeline-root', 'gs://bucket/croptfx', '--data', 'gs://bucket/parquet/',
       '--image', 'gcr.io/project/croptfx:1'],
      capture_output=True, text=True, check=True)
  assert 'wrote the Kubeflow Pipelines v2 spec' in out.stdout
  with open(path) as f:
    return json.load(f)


def _constant(spec, task, name):
  params = spec['pipelineSpec']['root']['dag']['tasks'][task]['inputs']['parameters']
  return params[name]['runtimeValue']['constantValue']['stringValue']


def test_every_component_is_a_task(spec):
  assert set(spec['pipelineSpec']['root']['dag']['tasks']) == COMPONENTS
  assert set(spec['pipelineSpec']['deploymentSpec']['executors']) == {
      f'{c}_executor' for c in COMPONENTS}


def test_pipeline_root_and_image(spec):
  assert spec['runtimeConfig']['gcsOutputDirectory'] == 'gs://bucket/croptfx'
  images = {e['container']['image'] for e in spec['pipelineSpec']['deploymentSpec']['executors'].values()}
  assert images == {'gcr.io/project/croptfx:1'}
  assert _constant(spec, 'ParquetExampleGen', 'input_base') == 'gs://bucket/parquet/'


@pytest.mark.parametrize('task, name', [('Transform', 'preprocessing_fn'), ('Trainer', 'run_fn')])
def test_module_paths_resolve(spec, task, name):
  module_name, _, function_name = _constant(spec, task, name).rpartition('.')
  assert callable(getattr(importlib.import_module(module_name), function_name))


def test_year_splits_travel_with_the_spec(spec):
  assert json.loads(_constant(spec, 'ParquetExampleGen', 'year_splits')) == {
      '2021': 'train', '2020': 'eval', '2019': 'test'}


def test_records_compression_travels_with_the_spec(spec):
  """Both writers get configs.COMPRESS_EXAMPLES; Transform runs the
  project's executor (components/transform.py) under TFX's component id."""
  from croptfx.pipeline import configs  # pylint: disable=g-import-not-at-top
  executors = spec['pipelineSpec']['deploymentSpec']['executors']
  args = executors['Transform_executor']['container']['args']
  assert args[args.index('--executor_class_path') + 1] == 'croptfx.components.transform.Executor'
  assert json.loads(_constant(spec, 'Transform', 'custom_config'))[
      'compress_examples'] is configs.COMPRESS_EXAMPLES is False
  params = spec['pipelineSpec']['root']['dag']['tasks']['ParquetExampleGen']['inputs'][
      'parameters']
  assert params['compress_examples']['runtimeValue']['constantValue'] == {'intValue': '0'}


def test_compile_with_dataflow_puts_args_in_the_spec(tmp_path):
  from croptfx.pipeline import kubeflow_v2_runner  # pylint: disable=g-import-not-at-top
  args = dataflow.Settings.check('p', 'us-central1', 'gs://bucket/croptfx').beam_args(
      'gcr.io/p/croptfx:1')
  path = kubeflow_v2_runner.compile_pipeline(
      str(tmp_path / 'spec.json'), 'gs://bucket/croptfx', 'gs://bucket/data/',
      image='gcr.io/p/croptfx:1', beam_pipeline_args=args)
  text = open(path).read()
  assert text.count('--runner=DataflowRunner') >= 4  # every Beam component


# `croptfx compile --output`: a file it can write, written whole.


@pytest.mark.parametrize('output, message', [
    ('', "argument --output: must be a path or URI, got ''"),
    ('{tmp}', '--output {tmp} is a directory; give the file to write'),
    ('/dev/full', '--output /dev/full is not a regular file'),
    ('/proc/croptfx/spec.json', 'cannot write --output /proc/croptfx/spec.json: '),
])
def test_compile_refuses_outputs_it_cannot_write(tmp_path, output, message):
  output = output.format(tmp=tmp_path)
  done = subprocess.run(
      [sys.executable, '-m', 'croptfx.cli', 'compile', '--output', output,
       '--pipeline-root', 'gs://bucket/croptfx', '--data', 'gs://bucket/parquet/'],
      capture_output=True, text=True)
  assert done.returncode == 2 and done.stdout == ''
  lines = done.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(
      'croptfx compile: error: ' + message.format(tmp=tmp_path)), lines


def test_compile_writes_the_spec_whole(tmp_path, monkeypatch):
  from croptfx import paths  # pylint: disable=g-import-not-at-top
  from croptfx.pipeline import kubeflow_v2_runner  # pylint: disable=g-import-not-at-top
  target = tmp_path / 'spec.json'
  target.write_text('{"an": "older spec"}')

  def full_disk(path, data):
    raise OSError(28, 'No space left on device')
  monkeypatch.setattr(paths, 'write_atomic', full_disk)
  with pytest.raises(OSError):
    kubeflow_v2_runner.compile_pipeline(str(target), 'gs://b/root', 'gs://b/data/')
  assert json.loads(target.read_text()) == {'an': 'older spec'}
  assert sorted(os.listdir(tmp_path)) == ['spec.json']
