"""`pipeline/portable.py` and `pipeline/kfp_replay.py` without a pipeline run.

The runs themselves (portable runner from the wheel, the compiled spec
replayed) are in tests/test_packaging.py.
"""

import json
import os
import socket

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from croptfx import errors
from croptfx.jobs import portable
from croptfx.pipeline import configs
from croptfx.pipeline import kfp_replay


def _accepts(port):
  try:
    with socket.create_connection(('localhost', port), timeout=1):
      return True
  except OSError:
    return False


def _ports(args):
  job = next(a for a in args if a.startswith('--job_endpoint='))
  worker = next(a for a in args if a.startswith('--environment_config='))
  return int(job.rsplit(':', 1)[1]), int(worker.rsplit(':', 1)[1])


def test_beam_args_exact():
  assert portable.beam_args(8099, 50000, configs.PIPELINE_IMAGE) == [
      '--runner=PortableRunner', '--job_endpoint=localhost:8099',
      '--environment_type=EXTERNAL', '--environment_config=localhost:50000',
      f'--sdk_container_image={configs.PIPELINE_IMAGE}']


def test_services_start_accept_connections_and_stop(tmp_path):
  with portable.services(str(tmp_path / 'logs'), configs.PIPELINE_IMAGE) as args:
    job_port, worker_port = _ports(args)
    assert job_port != worker_port
    assert _accepts(job_port) and _accepts(worker_port)
  assert not _accepts(job_port) and not _accepts(worker_port)
  with open(tmp_path / 'logs' / 'job_service.log') as f:
    assert f'Listening for beam jobs on port {job_port}' in f.read()


def test_services_stop_when_the_run_fails_and_name_the_workers_error(tmp_path):
  logs = tmp_path / 'logs'
  with pytest.raises(errors.CroptfxError) as raised:
    with portable.services(str(logs), configs.PIPELINE_IMAGE) as args:
      ports = _ports(args)
      # What an SDK worker prints when the image lacks the project.
      with open(logs / 'worker_pool.log', 'a') as f:
        f.write('Traceback (most recent call last):\n  File "<string>", line 1\n'
                "ModuleNotFoundError: No module named 'preprocessing'\n")
      raise errors.CroptfxError('_MultiThreadedRendezvous: Deadline Exceeded')
  assert str(raised.value) == (
      '_MultiThreadedRendezvous: Deadline Exceeded; the Beam worker pool reported: '
      "ModuleNotFoundError: No module named 'preprocessing'")
  assert not any(_accepts(p) for p in ports)


def test_worker_error_is_none_for_a_clean_log(tmp_path):
  path = tmp_path / 'worker_pool.log'
  path.write_text('INFO:root:Started worker pool servicer at port: localhost:1\n')
  assert portable.worker_error(str(path)) is None
  assert portable.worker_error(str(tmp_path / 'missing.log')) is None
  # An earlier run's error, before this run's offset, is not this run's.
  with open(path, 'a') as f:
    f.write("ModuleNotFoundError: No module named 'trainer'\n")
  assert portable.worker_error(str(path)) == "ModuleNotFoundError: No module named 'trainer'"
  assert portable.worker_error(str(path), offset=path.stat().st_size) is None


# kfp_replay on a hand-written two-task spec.

_TYPE = {'schemaTitle': 'tfx.Examples'}
SPEC = {
    'pipelineInfo': {'name': 'p'},
    'schemaVersion': '2.0.0', 'sdkVersion': 'test',
    'deploymentSpec': {'executors': {
        'A_executor': {'container': {'image': 'i', 'command': ['python', '-m', 'a'],
                                     'args': ['--json', '{{$}}', '--x=1']}},
        'B_executor': {'container': {'image': 'i', 'command': ['python'], 'args': ['{{$}}']}}}},
    'components': {
        'A': {'executorLabel': 'A_executor',
              'inputDefinitions': {'parameters': {'n': {'type': 'INT'}}},
              'outputDefinitions': {'artifacts': {'out': {'artifactType': _TYPE}}}},
        'B': {'executorLabel': 'B_executor',
              'inputDefinitions': {'artifacts': {'examples': {'artifactType': _TYPE}}},
              'outputDefinitions': {'artifacts': {'stats': {'artifactType': _TYPE}}}}},
    'root': {'dag': {'tasks': {
        'B': {'taskInfo': {'name': 'B'}, 'componentRef': {'name': 'B'}, 'dependentTasks': ['A'],
              'inputs': {'artifacts': {'examples': {'taskOutputArtifact': {
                  'producerTask': 'A', 'outputArtifactKey': 'out'}}}}},
        'A': {'taskInfo': {'name': 'A'}, 'componentRef': {'name': 'A'},
              'inputs': {'parameters': {'n': {'runtimeValue': {
                  'constantValue': {'intValue': '7'}}}}}}}}},
}


def _spec():
  return json_format.ParseDict(SPEC, pipeline_spec_pb2.PipelineSpec())


def test_task_order_follows_dependencies():
  assert kfp_replay.task_order(_spec()) == ['A', 'B']
  with pytest.raises(ValueError, match='depend on tasks not replayed'):
    kfp_replay.task_order(_spec(), ['B'])
  with pytest.raises(ValueError, match=r"no task \['C'\]"):
    kfp_replay.task_order(_spec(), ['C'])


def test_strict_parse_refuses_unknown_fields(tmp_path):
  path = tmp_path / 'spec.json'
  path.write_text(json.dumps({'pipelineSpec': dict(SPEC, extra=1)}))
  with pytest.raises(json_format.ParseError, match='extra'):
    kfp_replay.load_pipeline_spec(str(path))


def test_executor_input_as_the_launcher_builds_it(tmp_path):
  spec = _spec()
  a = kfp_replay.executor_input(spec, 'A', '/pipeline_root/run/A/u1', {})
  assert json_format.MessageToDict(a) == {
      'inputs': {'parameters': {'n': {'intValue': '7'}}},
      'outputs': {'artifacts': {'out': {'artifacts': [
          {'name': 'out', 'uri': '/pipeline_root/run/A/u1/out', 'type': _TYPE}]}},
                  'outputFile': '/pipeline_root/run/A/u1/output_metadata.json'}}
  # A's executor wrote its output metadata: the recorded artifact merges it.
  os.makedirs(tmp_path / 'A')
  a.outputs.output_file = str(tmp_path / 'A' / 'output_metadata.json')
  with open(a.outputs.output_file, 'w') as f:
    json.dump({'artifacts': {'out': {'artifacts': [
        {'uri': '/pipeline_root/run/A/u1/out', 'metadata': {'split_names': '["train"]'}}]}}}, f)
  recorded = kfp_replay.recorded_outputs(a)
  b = kfp_replay.executor_input(spec, 'B', '/pipeline_root/run/B/u2', {'A': recorded})
  assert json_format.MessageToDict(b)['inputs'] == {'artifacts': {'examples': {'artifacts': [
      {'name': 'out', 'uri': '/pipeline_root/run/A/u1/out', 'type': _TYPE,
       'metadata': {'split_names': '["train"]'}}]}}}
  command = kfp_replay.compile_command(['python', '-m', 'a'], ['--json', '{{$}}', '--x=1'], b)
  assert command[:4] == ['python', '-m', 'a', '--json'] and command[5] == '--x=1'
  assert json_format.Parse(command[4], pipeline_spec_pb2.ExecutorInput()) == b


def test_portable_refuses_workers_before_starting_anything(tmp_path, small_data):
  from croptfx.pipeline import run_config  # pylint: disable=g-import-not-at-top
  with pytest.raises(errors.CroptfxError, match='--workers applies to --runner beam'):
    run_config.run_config(small_data, str(tmp_path / 'out'), runner='portable', workers=2)
  assert not (tmp_path / 'out').exists()
