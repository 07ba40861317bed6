"""Helpers shared by the reliability tests (issue 11). No tests here.

Reading the outputs of a real run back (transformed examples keyed by pixel,
ML Metadata executions and artifacts) and running the pipeline in a child
process the way a user's shell would.
"""

import collections
import os
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from croptfx import features
from croptfx import layouts
from croptfx import records

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
# The console script next to the interpreter, as a user runs it.
CROPTFX = os.path.join(os.path.dirname(sys.executable), 'croptfx')

DATA_COMPONENTS = ['ParquetExampleGen', 'StatisticsGen', 'SchemaGen',
                   'ExampleValidator', 'Transform']
SPLITS = ('train', 'eval', 'test')

Key = Tuple[float, float, int]


def child_env() -> Dict[str, str]:
  """Environment of a child process: the repo importable, TF quiet."""
  env = dict(os.environ)
  env['PYTHONPATH'] = os.pathsep.join(
      [REPO] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  return env


def run_pipeline_code(data: str, output: str, **kwargs) -> str:
  """`python -c` source running `croptfx.pipeline.run.run_pipeline` quietly."""
  args = ', '.join(f'{k}={v!r}' for k, v in sorted(kwargs.items()))
  return ('import io\n'
          'from croptfx.pipeline import run, run_config\n'
          f'run.run_pipeline(run_config.run_config({data!r}, {output!r}, report=False, '
          f'{args}), stream=io.StringIO())\n')


def run_cli(*argv: str, timeout: float = 900) -> Tuple[int, str, List[str]]:
  """`croptfx ARGV` as a user's shell runs it: (exit status, stdout, stderr lines)."""
  done = subprocess.run([CROPTFX, *argv], capture_output=True, text=True,
                        timeout=timeout, env=child_env())
  return done.returncode, done.stdout, done.stderr.strip().splitlines()


def small_file_system(path, size: str):
  """A tmpfs of `size` mounted at `path` (to fill a disk); skips the test
  where mounting is not allowed. The caller unmounts it."""
  path.mkdir()
  done = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(path)],
                        capture_output=True, text=True)
  if done.returncode:
    pytest.skip(f'a small file system is needed and mount failed: {done.stderr.strip()}')
  return path


def run_python(code: str, timeout: float = 900) -> subprocess.CompletedProcess:
  return run_python_args(code, [], timeout)


def run_python_args(code: str, args: Sequence[str],
                    timeout: float = 900) -> subprocess.CompletedProcess:
  """`python -c code args...` from the repo, output captured."""
  return subprocess.run([PYTHON, '-c', code, *args], cwd=REPO,
                        env=child_env(), capture_output=True, text=True,
                        timeout=timeout)


# Transformed examples.


def pixel_key(lon, lat, year) -> Key:
  """A row's id in the Transform output (lon/lat pass through as float32)."""
  return (float(np.float32(lon)), float(np.float32(lat)), int(year))


def count_records(uri: str, split: str) -> int:
  dataset = records.tfrecord_dataset(records.split_files(uri, split))
  return int(dataset.reduce(np.int64(0), lambda n, _: n + 1).numpy())


def read_transformed(uri: str, splits: Sequence[str] = SPLITS
                     ) -> Dict[str, Dict[Key, List[Dict[str, np.ndarray]]]]:
  """{split: {pixel key: [decoded example, ...]}} of a transformed_examples
  artifact; a list per key because two pixels may share a key."""
  result = {}
  for split in splits:
    arrays = records.read_examples(layouts.split_dir(uri, split),
                                     features.transformed_feature_spec())
    by_key = collections.defaultdict(list)
    for i in range(len(arrays[features.YEAR])):
      example = {k: v[i] for k, v in arrays.items()}
      by_key[pixel_key(example[features.LON], example[features.LAT],
                       example[features.YEAR])].append(example)
    result[split] = dict(by_key)
  return result


def canonical(example: Dict[str, np.ndarray]) -> Tuple[bytes, ...]:
  """Bit-exact form of a decoded example (floats compared by their bytes)."""
  return tuple(np.ascontiguousarray(example[k]).tobytes()
               for k in sorted(features.transformed_feature_spec()))


def assert_same_transformed(got, want) -> int:
  """Asserts two `read_transformed` results are bit-identical, pixel by
  pixel; returns the number of examples compared."""
  assert sorted(got) == sorted(want)
  n = 0
  for split in want:
    assert sorted(got[split]) == sorted(want[split]), split
    for key, examples in want[split].items():
      assert (sorted(canonical(e) for e in got[split][key]) ==
              sorted(canonical(e) for e in examples)), (split, key)
      n += len(examples)
  return n


# ML Metadata.


def store_of(output: str) -> metadata_store.MetadataStore:
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = layouts.RunLayout(output).metadata_path
  config.sqlite.connection_mode = 1  # READONLY
  return metadata_store.MetadataStore(config)


def state_name(execution) -> str:
  return metadata_store_pb2.Execution.State.Name(execution.last_known_state)


def component_of(execution) -> str:
  """'croptfx.components.parquet_example_gen.component.ParquetExampleGen' -> last
  part; TFX's own types ('tfx.components.transform.component.Transform')
  alike."""
  return execution.type.rsplit('.', 1)[-1]


def executions_by_component(output: str) -> Dict[str, List[Tuple[int, str]]]:
  """{component: [(execution id, state), ...]} in execution id order."""
  store = store_of(output)
  result = collections.defaultdict(list)
  for execution in sorted(store.get_executions(), key=lambda e: e.id):
    result[component_of(execution)].append((execution.id, state_name(execution)))
  return dict(result)


def output_artifacts(output: str, execution_id: int):
  """Artifacts an execution published (OUTPUT events)."""
  store = store_of(output)
  events = [e for e in store.get_events_by_execution_ids([execution_id])
            if e.type in (metadata_store_pb2.Event.OUTPUT,
                          metadata_store_pb2.Event.DECLARED_OUTPUT)]
  return store.get_artifacts_by_id([e.artifact_id for e in events])


def live_artifacts(output: str, type_name: Optional[str] = None):
  store = store_of(output)
  artifacts = (store.get_artifacts_by_type(type_name) if type_name
               else store.get_artifacts())
  return [a for a in artifacts if a.state == metadata_store_pb2.Artifact.LIVE]
