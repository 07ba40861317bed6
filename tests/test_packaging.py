"""What a cluster runs, run here: the wheel-only environment (issue 17).

The project's wheel is built and installed with the lock into a fresh
virtual environment (`tests/wheel_env.py`: what the Docker image holds,
nothing of the checkout on sys.path), and from a directory outside the
repository:
  - `croptfx run --runner portable`: the Beam jobs go to a local job service
    and an EXTERNAL worker pool started from that environment, the path
    Dataflow Runner v2 takes;
  - the compiled Kubeflow v2 spec's data tasks (ExampleGen to Trainer) run as
    the spec writes their container commands, with ExecutorInputs built as a
    KFP launcher builds them (`pipeline/kfp_replay.py`).
Both are compared with the session's LocalDagRunner run on the same data
(`small_run`). The first session on a machine spends 2-3 minutes installing
the lock (pip's cache warm); later sessions reuse the environment.
"""

import glob
import json
import os
import pathlib
import re
import subprocess
import zipfile

import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tensorflow_metadata.proto.v0 import statistics_pb2

from croptfx import outputs
from croptfx.pipeline import kfp_replay
from croptfx import records
from tests import test_reliability_helpers as helpers
from tests import wheel_env

pytestmark = [pytest.mark.packaging, pytest.mark.pipeline]

PORTABLE_TRAIN_STEPS = 20
REPLAY_TASKS = ['ParquetExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator',
                'Transform', 'Trainer']
SPLITS = helpers.SPLITS


@pytest.fixture(scope='session')
def wheel(tmp_path_factory):
  return wheel_env.build_wheel(str(tmp_path_factory.mktemp('wheel')))


@pytest.fixture(scope='session')
def wheel_python(wheel):
  return wheel_env.wheel_env(wheel)


@pytest.fixture(scope='session')
def outside(tmp_path_factory):
  """A working directory outside the repository."""
  path = str(tmp_path_factory.mktemp('outside'))
  assert not os.path.abspath(path).startswith(wheel_env.REPO + os.sep)
  return path


def wheel_env_vars(python):
  """The wheel environment first on PATH (so `python` and `croptfx` are its),
  no PYTHONPATH, TF quiet."""
  env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
  env['PATH'] = os.path.dirname(python) + os.pathsep + env.get('PATH', '')
  env['TF_CPP_MIN_LOG_LEVEL'] = '3'
  return env


def run_in(python, args, cwd, timeout=900):
  return subprocess.run(args, cwd=cwd, env=wheel_env_vars(python), capture_output=True,
                        text=True, timeout=timeout, stdin=subprocess.DEVNULL)


# The wheel, the environment and the Dockerfile.


def test_the_installed_packages_are_the_repository_directories():
  with open(os.path.join(wheel_env.REPO, 'pyproject.toml'), 'rb') as f:
    config = _toml(f.read().decode())
  package_dir = config['tool']['setuptools']['package-dir']
  directories = {p.parent.name for p in pathlib.Path(wheel_env.REPO).glob('*/__init__.py')}
  directories -= {'tests'}
  assert set(package_dir.values()) == directories
  assert all(name == 'croptfx' or name == f'croptfx.{d}' for name, d in package_dir.items())
  subpackages = {f'croptfx.{p.parent.parent.name}.{p.parent.name}'
                 for p in pathlib.Path(wheel_env.REPO).glob('*/*/__init__.py')
                 if p.parent.parent.name in directories - {'croptfx'}}
  assert set(config['tool']['setuptools']['packages']) == set(package_dir) | subpackages


def test_wheel_installs_one_top_level_package(wheel):
  with zipfile.ZipFile(wheel) as zf:
    names = set(zf.namelist())
  assert {'croptfx/data/cdl_classes.json', 'croptfx/data/cdl_codes.csv'} <= names
  top = {n.split('/')[0] for n in names if not n.split('/')[0].endswith('.dist-info')}
  assert top == {'croptfx'}
  for package in ('components', 'components/parquet_example_gen', 'preprocessing', 'trainer',
                  'pipeline', 'report', 'bench', 'maps', 'rows', 'jobs', 'generate', 'cli'):
    assert f'croptfx/{package}/__init__.py' in names, package
  assert {'croptfx/jobs/portable.py', 'croptfx/pipeline/kfp_replay.py'} <= names


def test_dockerfile_copies_every_package_directory():
  with open(os.path.join(wheel_env.REPO, 'Dockerfile')) as f:
    copied = set(re.findall(r'^COPY (\w+) \./\1$', f.read(), re.M))
  directories = {p.parent.name for p in pathlib.Path(wheel_env.REPO).glob('*/__init__.py')}
  assert copied == directories - {'tests'}


def _toml(text):
  """pyproject.toml as a dict (Python 3.10 has no tomllib; pip vendors tomli)."""
  from pip._vendor import tomli  # pylint: disable=g-import-not-at-top
  return tomli.loads(text)


def test_wheel_env_imports_the_installed_project_not_the_checkout(wheel_python, outside):
  code = ('import croptfx, json, importlib.resources as r; '
          'print(json.dumps([croptfx.__file__, '
          'r.files("croptfx").joinpath("data/cdl_classes.json").is_file()]))')
  out = run_in(wheel_python, ['python', '-c', code], outside)
  assert out.returncode == 0, out.stderr[-2000:]
  path, has_mapping = json.loads(out.stdout.strip().splitlines()[-1])
  assert os.path.realpath(path).startswith(
      os.path.realpath(os.path.dirname(os.path.dirname(wheel_python))))
  assert not os.path.realpath(path).startswith(wheel_env.REPO + os.sep)
  assert has_mapping


def _dockerfile_runs():
  with open(os.path.join(wheel_env.REPO, 'Dockerfile')) as f:
    text = f.read().replace('\\\n', ' ')
  return [line.strip()[4:] for line in text.splitlines() if line.strip().startswith('RUN ')]


def test_dockerfile_installs_the_lock_then_the_wheel_as_the_test_does():
  pip = [re.sub(r'\s+', ' ', part.strip()) for run in _dockerfile_runs()
         for part in run.split('&&') if re.search(r'\bpip (install|wheel)\b', part)]
  # pip itself, pinned as wheel_env.PIP pins it.
  assert any(wheel_env.PIP in p for p in pip), pip
  pip = [p for p in pip if wheel_env.PIP not in p]
  # The same three steps as tests/wheel_env.py: build the wheel, install the
  # lock, install the wheel without dependencies.
  assert [p for p in pip if 'pip wheel' in p] and 'pip wheel --no-deps' in pip[0]
  lock = [i for i, p in enumerate(pip) if '-r requirements.lock' in p]
  wheel = [i for i, p in enumerate(pip) if re.search(r'install .*--no-deps .*\.whl', p)]
  assert len(lock) == 1 and len(wheel) == 1 and lock[0] < wheel[0], pip
  # Nothing else is installed, and the checkout is not installed as source.
  assert len(pip) == 3, pip
  assert not any(re.search(r'install [^&]*(-e |\s\.$|\s\./?\s)', p) for p in pip), pip


# The compiled spec.


@pytest.fixture(scope='module')
def compiled(wheel_python, outside, small_data, tmp_path_factory):
  """`croptfx compile` in the wheel environment, for a local pipeline root."""
  root = tmp_path_factory.mktemp('kfp_root')
  path = os.path.join(str(root), 'croptfx.json')
  out = run_in(wheel_python, ['croptfx', 'compile', '--output', path,
                              '--pipeline-root', str(root / 'pipeline_root'),
                              '--data', small_data,
                              '--train-steps', str(PORTABLE_TRAIN_STEPS)], outside)
  assert out.returncode == 0, out.stderr[-3000:]
  return path


def spec_module_paths(path):
  """Every Python path the compiled spec names: executor classes, modules
  run with -m (executors, drivers), preprocessing_fn and run_fn."""
  spec = kfp_replay.load_pipeline_spec(path)
  from google.protobuf import json_format  # pylint: disable=g-import-not-at-top
  executors = json_format.MessageToDict(spec.deployment_spec)['executors']
  paths = set()
  for executor in executors.values():
    container = executor['container']
    commands = [container['command'] + container.get('args', [])]
    for hook in container.get('lifecycle', {}).values():
      commands.append(hook['command'] + hook.get('args', []))
    for command in commands:
      for flag in ('-m', '--executor_class_path'):
        if flag in command:
          paths.add(command[command.index(flag) + 1])
  for task in spec.root.dag.tasks.values():
    for name in ('preprocessing_fn', 'run_fn', 'module_path'):
      if name in task.inputs.parameters:
        paths.add(task.inputs.parameters[name].runtime_value.constant_value.string_value)
  return sorted(paths)


def test_spec_parses_strictly_with_kfp_pipeline_spec(compiled):
  spec = kfp_replay.load_pipeline_spec(compiled)
  assert set(spec.root.dag.tasks) >= set(REPLAY_TASKS)
  assert kfp_replay.task_order(spec, REPLAY_TASKS) == REPLAY_TASKS


def test_every_module_path_in_the_spec_imports_in_the_wheel_env(compiled, wheel_python, outside):
  paths = spec_module_paths(compiled)
  # The project's own and TFX's: what the image must hold.
  assert {'croptfx.components.parquet_example_gen.executor.Executor',
          'croptfx.preprocessing.preprocessing.preprocessing_fn', 'croptfx.trainer.model.run_fn',
          'tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor',
          'tfx.orchestration.kubeflow.v2.file_based_example_gen.driver'} <= set(paths)
  # A module path imports as a module; otherwise its last part is an
  # attribute of the module before it.
  code = '''
import importlib, json, sys
kinds = {}
for path in json.loads(sys.argv[1]):
  try:
    importlib.import_module(path)
    kinds[path] = 'module'
  except ModuleNotFoundError:
    module, _, name = path.rpartition('.')
    obj = getattr(importlib.import_module(module), name)
    kinds[path] = 'class' if isinstance(obj, type) else type(obj).__name__
print(json.dumps(kinds))
'''
  out = run_in(wheel_python, ['python', '-c', code, json.dumps(paths)], outside)
  assert out.returncode == 0, out.stderr[-3000:]
  kinds = json.loads(out.stdout.strip().splitlines()[-1])
  assert sorted(kinds) == paths
  assert kinds['croptfx.preprocessing.preprocessing.preprocessing_fn'] == 'function'
  assert kinds['croptfx.trainer.model.run_fn'] == 'function'
  assert kinds['croptfx.components.parquet_example_gen.executor.Executor'] == 'class'
  executors = [p for p in paths if p.rpartition('.')[2].endswith('Executor')]
  # One executor class per component: ExampleGen, StatisticsGen, SchemaGen,
  # ExampleValidator, Transform, Trainer, Evaluator, Pusher, SeasonEvaluator,
  # TreeBaseline.
  assert len(executors) == 10, executors
  assert all(kinds[p] == 'class' for p in executors), executors
  assert kinds['tfx.orchestration.kubeflow.v2.file_based_example_gen.driver'] == 'module'


# Reading outputs back.


def examples_of(uri, split):
  """The split's examples, parsed (serialized map order may differ)."""
  files = sorted(glob.glob(os.path.join(uri, f'Split-{split}', '*')))
  serialized = records.tfrecord_dataset(files)
  return sorted(tf.train.Example.FromString(r.numpy()).SerializeToString(deterministic=True)
                for r in serialized)


def proto_of(cls, path):
  message = cls()
  with open(path, 'rb') as f:
    message.ParseFromString(f.read())
  return message


# `croptfx run --runner portable` from the wheel.


@pytest.fixture(scope='module')
def portable_run(wheel_python, outside, small_data, tmp_path_factory):
  output = str(tmp_path_factory.mktemp('portable_run'))
  out = run_in(wheel_python, ['croptfx', 'run', '--runner', 'portable', '--data', small_data,
                              '--output', output, '--train-steps', str(PORTABLE_TRAIN_STEPS),
                              '--blessing-threshold', '0', '--no-report'], outside)
  assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-2000:])
  with open(os.path.join(output, 'run_summary.json')) as f:
    return {'output': output, 'summary': json.load(f), 'stdout': out.stdout}


def test_portable_run_uses_the_job_service_and_worker_pool(portable_run):
  logs = os.path.join(portable_run['output'], 'logs')
  with open(os.path.join(logs, 'job_service.log')) as f:
    jobs = f.read().count('Running job')
  with open(os.path.join(logs, 'worker_pool.log')) as f:
    workers = f.read().count('Starting worker')
  # The Beam components: ExampleGen, StatisticsGen, Transform, Evaluator.
  assert jobs == 4
  assert workers >= jobs
  assert portable_run['summary']['runner'] == 'portable'
  assert 'portable runner' in portable_run['stdout']


def test_portable_counts_and_band_statistics_equal_the_local_run(portable_run, small_run):
  got, want = portable_run['summary'], small_run['summary']
  for key in ('rows_read', 'examples', 'quarantined', 'notes'):
    assert got[key] == want[key], key
  assert sum(got['examples'].values()) == got['rows_read'] - sum(got['quarantined'].values())
  assert (outputs.read_band_statistics(got['artifacts']['transform_graph']) ==
          outputs.read_band_statistics(want['artifacts']['transform_graph']))
  assert got['band_mean'] == want['band_mean'] and got['band_std'] == want['band_std']


def test_portable_transformed_values_equal_the_local_run(portable_run, small_run):
  got = helpers.read_transformed(portable_run['summary']['artifacts']['transformed_examples'])
  want = helpers.read_transformed(small_run['summary']['artifacts']['transformed_examples'])
  assert helpers.assert_same_transformed(got, want) == small_run['summary']['rows_read']


# The compiled Kubeflow spec, replayed.


@pytest.fixture(scope='module')
def replayed(compiled, wheel_python, outside):
  runs = kfp_replay.replay(compiled, REPLAY_TASKS, run_id='replay-1', cwd=outside,
                           env=wheel_env_vars(wheel_python))
  return {run.task: run for run in runs}


def test_replay_every_task_exits_0(replayed):
  failed = {t: (r.returncodes, r.log_path) for t, r in replayed.items() if not r.ok}
  assert not failed
  assert list(replayed) == REPLAY_TASKS
  # The ExampleGen ran its pre-cache driver, then its executor.
  assert [c[2] for c in replayed['ParquetExampleGen'].commands] == [
      'tfx.orchestration.kubeflow.v2.file_based_example_gen.driver',
      'tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor']


def test_replay_executor_inputs_follow_the_launcher(replayed, compiled):
  root = kfp_replay.pipeline_root(compiled)
  transform = replayed['Transform'].executor_input
  examples = transform.inputs.artifacts['examples'].artifacts[0]
  # The producer's recorded output: its URI under the run root, its type,
  # the split names its executor wrote.
  assert examples.uri == replayed['ParquetExampleGen'].outputs['examples'].uri
  assert re.fullmatch(re.escape(f'{root}/croptfx/replay-1/ParquetExampleGen/') +
                      r'[0-9a-f-]{36}/examples', examples.uri)
  assert 'title: tfx.Examples' in examples.type.instance_schema
  assert json.loads(examples.metadata.fields['split_names'].string_value) == list(SPLITS)
  assert (transform.inputs.parameters['preprocessing_fn'].string_value ==
          'croptfx.preprocessing.preprocessing.preprocessing_fn')
  graph = transform.outputs.artifacts['transform_graph'].artifacts[0].uri
  assert os.path.dirname(graph) == os.path.dirname(transform.outputs.output_file)
  trainer = replayed['Trainer'].executor_input
  assert (json.loads(trainer.inputs.parameters['train_args'].string_value)['num_steps'] ==
          PORTABLE_TRAIN_STEPS)


def test_replay_outputs_equal_the_local_run(replayed, small_run):
  local = small_run['summary']['artifacts']
  out = {t: {k: a.uri for k, a in r.outputs.items()} for t, r in replayed.items()}
  with open(os.path.join(out['ParquetExampleGen']['examples'], 'counts.json')) as f:
    counts = json.load(f)
  for key in ('rows_read', 'examples', 'quarantined', 'notes'):
    assert counts[key] == small_run['summary'][key], key
  for split in SPLITS:
    assert (examples_of(out['ParquetExampleGen']['examples'], split) ==
            examples_of(local['examples'], split)), split
    stats = f'Split-{split}/FeatureStats.pb'
    assert (proto_of(statistics_pb2.DatasetFeatureStatisticsList,
                     os.path.join(out['StatisticsGen']['statistics'], stats)) ==
            proto_of(statistics_pb2.DatasetFeatureStatisticsList,
                     os.path.join(local['statistics'], stats))), split
    diff = f'Split-{split}/SchemaDiff.pb'
    anomalies = out['ExampleValidator']['anomalies']
    assert (proto_of(anomalies_pb2.Anomalies, os.path.join(anomalies, diff)) ==
            proto_of(anomalies_pb2.Anomalies, os.path.join(local['anomalies'], diff))), split
  with open(os.path.join(out['SchemaGen']['schema'], 'schema.pbtxt')) as f, \
      open(os.path.join(local['schema'], 'schema.pbtxt')) as g:
    assert f.read() == g.read()
  assert (outputs.read_band_statistics(out['Transform']['transform_graph']) ==
          outputs.read_band_statistics(local['transform_graph']))
  got = helpers.read_transformed(out['Transform']['transformed_examples'])
  want = helpers.read_transformed(local['transformed_examples'])
  assert helpers.assert_same_transformed(got, want) == small_run['summary']['rows_read']


def test_replay_trainer_model_has_the_local_models_signatures(replayed, small_run):
  # Weights differ (20 steps here, the local run's 60); the exported
  # interface must not.
  def signatures(model_uri):
    model = tf.saved_model.load(os.path.join(model_uri, 'Format-Serving'))
    return {name: (sorted(fn.structured_input_signature[1]),
                   sorted(fn.structured_outputs))
            for name, fn in model.signatures.items()}
  got = signatures(replayed['Trainer'].outputs['model'].uri)
  want = signatures(small_run['summary']['artifacts']['model'])
  assert 'serving_default' in got
  assert got == want
