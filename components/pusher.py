"""Pusher: TFX's Pusher, publishing the serving model whole or not at all.

TFX 1.16's Pusher copies the model file by file into
`<base_directory>/<version>/` (saved_model.pb last), then archives it into
the `pushed_model` artifact. A failure in between (a full disk) leaves a
`<version>/` directory without `saved_model.pb` or with a truncated
variables file, or a complete serving model of a run whose Pusher failed;
TF Serving and every "highest version" loader would take it.

This executor archives first, then copies the serving model into a hidden
sibling (`.<version>.incomplete`) and renames it to `<version>` only once
every file is written; on failure the hidden copy is removed, so a
`<version>/` directory exists only for a push that succeeded. The blessing
check, the version (a UNIX timestamp) and the artifact's custom properties
are TFX's (the component id stays `Pusher`).
"""

import os
import time
from typing import Any, Dict, List

from absl import logging
from tfx import types as tfx_types
from tfx.components.pusher import component as tfx_component
from tfx.components.pusher import executor as tfx_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import proto_utils

INCOMPLETE_SUFFIX = '.incomplete'


def staging_dir(base_directory: str, version: str) -> str:
  """Where a push is assembled before it is renamed into place."""
  return os.path.join(base_directory, f'.{version}{INCOMPLETE_SUFFIX}')


def copy_model(model_path: str, destination: str) -> None:
  """Copies a SavedModel, saved_model.pb last (TF Serving's 'complete' mark)."""
  io_utils.copy_dir(model_path, destination, deny_regex_patterns=[r'saved_model\.pb'])
  saved_model = os.path.join(model_path, 'saved_model.pb')
  if fileio.exists(saved_model):
    io_utils.copy_file(saved_model, os.path.join(destination, 'saved_model.pb'))


def publish(model_path: str, base_directory: str, version: str) -> str:
  """Copies the model to `<base_directory>/<version>` atomically; returns it.

  An existing version is kept as it is (TFX's rule: the same model pushed
  twice in one second).
  """
  serving_path = os.path.join(base_directory, version)
  if fileio.exists(serving_path):
    logging.info('Destination directory %s already exists, skipping current push.',
                 serving_path)
    return serving_path
  staging = staging_dir(base_directory, version)
  try:
    if fileio.exists(staging):
      fileio.rmtree(staging)
    copy_model(model_path, staging)
    fileio.rename(staging, serving_path)
  except BaseException:
    if fileio.exists(staging):
      fileio.rmtree(staging)
    raise
  return serving_path


class Executor(tfx_executor.Executor):
  """TFX's Pusher executor, pushing to a file system atomically."""

  def Do(self, input_dict: Dict[str, List[tfx_types.Artifact]],
         output_dict: Dict[str, List[tfx_types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    model_push = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.PUSHED_MODEL_KEY])
    if not self.CheckBlessing(input_dict):
      self._MarkNotPushed(model_push)
      return
    model_path = self.GetModelPath(input_dict)
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
    if destination.WhichOneof('destination') != 'filesystem':
      raise NotImplementedError('croptfx pushes to a file system only')
    versioning = destination.filesystem.versioning
    if versioning not in (pusher_pb2.Versioning.AUTO, pusher_pb2.Versioning.UNIX_TIMESTAMP):
      raise NotImplementedError(f'Invalid Versioning {versioning}')
    version = str(int(time.time()))
    # The archive first: a failure there leaves no serving model behind.
    io_utils.copy_dir(model_path, model_push.uri)
    serving_path = publish(model_path, destination.filesystem.base_directory, version)
    logging.info('Model written to serving path %s.', serving_path)
    self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=version)


class Pusher(tfx_component.Pusher):
  """TFX's Pusher component with this module's executor (same id)."""

  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
