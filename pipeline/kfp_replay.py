"""Replays tasks of a compiled Kubeflow Pipelines v2 spec on this machine.

What a KFP v2 / Vertex launcher does for each container task, without a
cluster: build the task's `ExecutorInput` from the spec, substitute it for
`{{$}}` in the container's command and arguments, and run them; first the
`lifecycle.preCacheCheck` command when there is one (the ExampleGen's
driver), then the executor. Each task's outputs feed its consumers' inputs.

How the ExecutorInput is built follows the KFP v2 backend
(kubeflow/pipelines, backend/src/v2):
  - run root `{pipeline root}/{pipeline name}/{run id}`
    (metadata/client.go, `GetPipeline`: `GenerateOutputURI(root, [name, runID])`);
  - task root `{run root}/{task}/{uuid}`, output artifact URI
    `{task root}/{output}`, output file `{task root}/output_metadata.json`
    (driver/driver.go, `provisionOutputs`);
  - input artifacts: the producer task's output artifact as recorded after it
    ran: the provisioned artifact with the URI and metadata of the executor's
    `ExecutorOutput` merged in (component/launcher_v2.go,
    `mergeRuntimeArtifacts`; driver/resolve.go hands it on), its type the
    producer's output definition;
  - parameters: the task's constant values. TFX 1.16 compiles them as
    `runtimeValue.constantValue` (the pipeline spec's older `Value`), which
    reach the container as `inputs.parameters` (what TFX's entrypoint reads
    when no inputs spec is passed, `kubeflow_v2_entrypoint_utils`);
  - `{{$}}` becomes the ExecutorInput as JSON (launcher_v2.go,
    `compileCmdAndArgs`).

Not replayed: caching, conditions, loops, importers and resolvers, and
parameters from other tasks' outputs (the croptfx pipeline has none).
"""

import dataclasses
import json
import os
import subprocess
import time
import uuid
from typing import Dict, List, Mapping, Optional, Sequence

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

INPUT_PLACEHOLDER = '{{$}}'
OUTPUT_FILE = 'output_metadata.json'


def load_pipeline_spec(path: str) -> pipeline_spec_pb2.PipelineSpec:
  """The spec's `pipelineSpec`, parsed strictly (unknown fields are errors).

  Accepts a PipelineJob JSON (what `croptfx compile` writes) or a bare
  PipelineSpec.
  """
  with open(path) as f:
    document = json.load(f)
  spec = document.get('pipelineSpec', document)
  return json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec(),
                               ignore_unknown_fields=False)


def pipeline_root(path: str) -> str:
  """The compiled pipeline root (runtimeConfig.gcsOutputDirectory)."""
  with open(path) as f:
    return json.load(f)['runtimeConfig']['gcsOutputDirectory']


def task_order(spec: pipeline_spec_pb2.PipelineSpec,
               tasks: Optional[Sequence[str]] = None) -> List[str]:
  """Root DAG tasks in dependency order (names sorted within a level).

  With `tasks`, only those, which must include every task they depend on.
  """
  dag = spec.root.dag.tasks
  wanted = list(tasks) if tasks is not None else list(dag)
  unknown = sorted(set(wanted) - set(dag))
  if unknown:
    raise ValueError(f'no task {unknown} in the spec; tasks: {sorted(dag)}')
  order, done = [], set()
  while len(order) < len(wanted):
    ready = sorted(t for t in wanted if t not in done
                   and set(_upstream(dag[t])) <= done)
    if not ready:
      missing = {t: sorted(set(_upstream(dag[t])) - set(wanted))
                 for t in wanted if t not in done}
      raise ValueError(f'tasks depend on tasks not replayed: {missing}')
    order.extend(ready)
    done.update(ready)
  return order


def _upstream(task: pipeline_spec_pb2.PipelineTaskSpec) -> List[str]:
  producers = {a.task_output_artifact.producer_task
               for a in task.inputs.artifacts.values()}
  return sorted(producers | set(task.dependent_tasks))


def executor_input(spec: pipeline_spec_pb2.PipelineSpec, task_name: str,
                   task_root: str,
                   produced: Mapping[str, Mapping[str, pipeline_spec_pb2.RuntimeArtifact]]
                   ) -> pipeline_spec_pb2.ExecutorInput:
  """The ExecutorInput a KFP v2 driver gives `task_name` (see module doc).

  Args:
    spec: the pipeline spec.
    task_name: a root DAG task.
    task_root: `{run root}/{task}/{uuid}`.
    produced: {producer task: {output key: RuntimeArtifact as recorded}}.
  """
  task = spec.root.dag.tasks[task_name]
  component = spec.components[task.component_ref.name]
  result = pipeline_spec_pb2.ExecutorInput()
  for name, param in task.inputs.parameters.items():
    kind = param.WhichOneof('kind')
    if kind != 'runtime_value':
      raise NotImplementedError(f'{task_name}.{name}: parameter source {kind}')
    value = param.runtime_value
    if value.WhichOneof('value') == 'constant_value':
      result.inputs.parameters[name].CopyFrom(value.constant_value)
    else:
      result.inputs.parameter_values[name].CopyFrom(value.constant)
  for name, source in task.inputs.artifacts.items():
    if source.WhichOneof('kind') != 'task_output_artifact':
      raise NotImplementedError(f'{task_name}.{name}: artifact source {source.WhichOneof("kind")}')
    ref = source.task_output_artifact
    result.inputs.artifacts[name].artifacts.add().CopyFrom(
        produced[ref.producer_task][ref.output_artifact_key])
  for name, definition in component.output_definitions.artifacts.items():
    artifact = result.outputs.artifacts[name].artifacts.add()
    artifact.name = name
    artifact.uri = f'{task_root.rstrip("/")}/{name}'
    artifact.type.CopyFrom(definition.artifact_type)
    if definition.HasField('metadata'):
      artifact.metadata.CopyFrom(definition.metadata)
  result.outputs.output_file = f'{task_root.rstrip("/")}/{OUTPUT_FILE}'
  return result


def compile_command(command: Sequence[str], args: Sequence[str],
                    executor_input_: pipeline_spec_pb2.ExecutorInput) -> List[str]:
  """command + args with `{{$}}` replaced by the ExecutorInput JSON."""
  text = json.dumps(json_format.MessageToDict(executor_input_), separators=(',', ':'))
  return [part.replace(INPUT_PLACEHOLDER, text) for part in list(command) + list(args)]


def recorded_outputs(executor_input_: pipeline_spec_pb2.ExecutorInput
                     ) -> Dict[str, pipeline_spec_pb2.RuntimeArtifact]:
  """The task's output artifacts as the launcher records them: provisioned,
  with the ExecutorOutput's URI and metadata merged in."""
  executor_output = pipeline_spec_pb2.ExecutorOutput()
  path = executor_input_.outputs.output_file
  if os.path.exists(path):
    with open(path) as f:
      json_format.Parse(f.read(), executor_output, ignore_unknown_fields=True)
  result = {}
  for name, artifacts in executor_input_.outputs.artifacts.items():
    artifact = pipeline_spec_pb2.RuntimeArtifact()
    artifact.CopyFrom(artifacts.artifacts[0])
    written = executor_output.artifacts.get(name)
    if written is not None and written.artifacts:
      src = written.artifacts[0]
      if src.uri:
        artifact.uri = src.uri
      for key, value in src.metadata.fields.items():
        artifact.metadata.fields[key].CopyFrom(value)
    result[name] = artifact
  return result


@dataclasses.dataclass
class TaskRun:
  """One replayed task."""
  task: str
  executor_input: pipeline_spec_pb2.ExecutorInput
  commands: List[List[str]]
  returncodes: List[int]
  seconds: float
  log_path: str
  outputs: Dict[str, pipeline_spec_pb2.RuntimeArtifact]

  @property
  def ok(self) -> bool:
    return all(code == 0 for code in self.returncodes)


def replay(spec_path: str, tasks: Optional[Sequence[str]] = None,
           run_id: str = 'replay', cwd: Optional[str] = None,
           env: Optional[Mapping[str, str]] = None,
           logs_dir: Optional[str] = None) -> List[TaskRun]:
  """Runs `tasks` of the compiled spec in order; stops at the first failure.

  Commands run as the spec writes them (`python -m ...`), so `env`'s PATH
  decides which interpreter, as the image's PATH does in a container.
  """
  spec = load_pipeline_spec(spec_path)
  run_root = f'{pipeline_root(spec_path).rstrip("/")}/{spec.pipeline_info.name}/{run_id}'
  logs_dir = logs_dir or os.path.join(run_root, 'logs')
  os.makedirs(logs_dir, exist_ok=True)
  produced: Dict[str, Dict[str, pipeline_spec_pb2.RuntimeArtifact]] = {}
  runs = []
  for task_name in task_order(spec, tasks):
    task = spec.root.dag.tasks[task_name]
    executor_label = spec.components[task.component_ref.name].executor_label
    executors = json_format.MessageToDict(spec.deployment_spec)['executors']
    container = executors[executor_label]['container']
    task_root = f'{run_root}/{task_name}/{uuid.uuid4()}'
    exec_input = executor_input(spec, task_name, task_root, produced)
    steps = []
    pre_cache = container.get('lifecycle', {}).get('preCacheCheck')
    if pre_cache:
      steps.append(compile_command(pre_cache['command'], pre_cache.get('args', []), exec_input))
    steps.append(compile_command(container['command'], container.get('args', []), exec_input))
    log_path = os.path.join(logs_dir, f'{task_name}.log')
    codes = []
    start = time.monotonic()
    with open(log_path, 'w') as log:
      for command in steps:
        log.write(f'$ {command[:3]} ...\n')
        log.flush()
        code = subprocess.run(command, cwd=cwd, env=dict(env) if env else None,
                              stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL).returncode
        codes.append(code)
        if code:
          break
    run = TaskRun(task_name, exec_input, steps, codes, round(time.monotonic() - start, 2),
                  log_path, recorded_outputs(exec_input) if all(c == 0 for c in codes) else {})
    runs.append(run)
    if not run.ok:
      break
    produced[task_name] = run.outputs
  return runs
