"""A run's state on disk: ML Metadata and the artifacts it names must agree.

TFX trusts its store: an artifact directory is `pipeline/<Component>/<key>/
<execution id>`, and a cached result is reused if the store says so. Two
ways this can lie, both handled before a run starts (`check`):

- The store was deleted or replaced (users delete `metadata.db` to "reset
  the cache", or put an older copy back). ML Metadata then numbers executions
  from 1 again and the new outputs land in the old directories beside the old
  files: Transform would read two data sets' records. The store and the
  pipeline root carry one identity (`STORE_ID_FILE` and a context of type
  `STORE_CONTEXT_TYPE`, written when they start out together); when the two
  differ, or an artifact directory belongs to an execution the store does not
  know, `pipeline/` and the store are moved aside (`*.orphaned-<time>`) and
  the run starts clean.
- An artifact the store calls live lost its files (a split directory or the
  model deleted): TFX would serve it from the cache forever. Such artifacts
  are marked DELETED, so their component and everything after it run again.

A store that cannot be read stops the run with one line naming it and what
to do.
"""

import datetime
import os
import re
from typing import Callable, List
import uuid

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.types import artifact_utils

from croptfx import errors
from croptfx import layouts
from croptfx import paths

# The identity shared by a store and its pipeline root.
STORE_ID_FILE = '.croptfx_store_id'
STORE_CONTEXT_TYPE = 'croptfx_store'
# TFX's artifact types whose content this module checks beyond existence.
_EXAMPLES = 'Examples'
_REQUIRED_SUBDIRS = {
    'TransformGraph': ('transform_fn', 'transformed_metadata'),
    'Model': ('Format-Serving',),
}


def _store_id(store):
  """The identity recorded in the store, or None."""
  try:
    contexts = store.get_contexts_by_type(STORE_CONTEXT_TYPE)
  except Exception:  # pylint: disable=broad-except  (no such type yet)
    return None
  return contexts[0].name if contexts else None


def _disk_id(layout: layouts.RunLayout):
  try:
    with open(os.path.join(layout.pipeline_root, STORE_ID_FILE), encoding='utf-8') as f:
      return f.read().strip() or None
  except OSError:
    return None


def _bind(store, layout: layouts.RunLayout) -> None:
  """Gives the store and the pipeline root one identity (a new one if the
  store has none)."""
  identity = _store_id(store)
  if identity is None:
    identity = uuid.uuid4().hex
    type_id = store.put_context_type(metadata_store_pb2.ContextType(name=STORE_CONTEXT_TYPE))
    store.put_contexts([metadata_store_pb2.Context(type_id=type_id, name=identity)])
  if _disk_id(layout) != identity:
    os.makedirs(layout.pipeline_root, exist_ok=True)
    paths.write_atomic(os.path.join(layout.pipeline_root, STORE_ID_FILE), identity)


def _store(metadata_path: str, create: bool = False):
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = metadata_path
  modes = metadata_store_pb2.SqliteMetadataSourceConfig
  config.sqlite.connection_mode = modes.READWRITE_OPENCREATE if create else modes.READWRITE
  try:
    return metadata_store.MetadataStore(config)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.CroptfxError(
        f'{metadata_path}: not a readable ML Metadata store ({str(e).splitlines()[0]}); '
        'move it aside or delete it: the next run starts clean and runs every '
        'component again') from None


def artifact_dirs(pipeline_root: str) -> List[tuple]:
  """(component, output key, execution id, path) of every artifact directory
  under a pipeline root (TFX's `<Component>/<key>/<execution id>`)."""
  found = []
  if not os.path.isdir(pipeline_root):
    return found
  for component in sorted(os.listdir(pipeline_root)):
    component_dir = os.path.join(pipeline_root, component)
    if component.startswith('.') or not os.path.isdir(component_dir):
      continue
    for key in sorted(os.listdir(component_dir)):
      key_dir = os.path.join(component_dir, key)
      if key.startswith('.') or not os.path.isdir(key_dir):
        continue
      for name in sorted(os.listdir(key_dir)):
        if re.fullmatch(r'\d+', name) and os.path.isdir(os.path.join(key_dir, name)):
          found.append((component, key, int(name), os.path.join(key_dir, name)))
  return found


def _move_aside(layout: layouts.RunLayout, why: str, say: Callable[[str], None]) -> None:
  stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
  moved = []
  for path in (layout.pipeline_root, layout.metadata_path):
    if os.path.exists(path):
      target = f'{path}.orphaned-{stamp}'
      os.replace(path, target)
      moved.append(os.path.basename(target))
  say(f'{why}: moved {" and ".join(moved)} aside; this run starts clean')


def _incomplete(artifact, type_name: str):
  """Why a live artifact's files are not whole, or None."""
  uri = artifact.uri
  if not uri or paths.is_uri(uri):
    return None  # object stores: TFX's own existence check
  if not os.path.isdir(uri):
    return 'its directory is gone'
  if type_name == _EXAMPLES:
    names = artifact.properties.get('split_names') or artifact.custom_properties.get(
        'split_names')
    for split in artifact_utils.decode_split_names(names.string_value) if names else []:
      directory = layouts.split_dir(uri, split)
      if not os.path.isdir(directory) or not os.listdir(directory):
        return f'{os.path.basename(directory)} is missing or empty'
  for name in _REQUIRED_SUBDIRS.get(type_name, ()):
    if not os.path.isdir(os.path.join(uri, name)) or not os.listdir(os.path.join(uri, name)):
      return f'{name} is missing or empty'
  return None


def check(layout: layouts.RunLayout, pipeline_name: str,
          say: Callable[[str], None]) -> None:
  """Makes the store and the artifact directories agree before a run.

  Args:
    layout: the run's files.
    pipeline_name: TFX's pipeline name (the store's node contexts).
    say: writes one line for the user (what was moved or will re-run).
  """
  on_disk = artifact_dirs(layout.pipeline_root)
  if not os.path.exists(layout.metadata_path):
    if on_disk:
      _move_aside(layout, f'{layout.metadata_path} is missing but {layout.pipeline_root} '
                  f'holds {len(on_disk)} artifact directories of earlier runs', say)
    _bind(_store(layout.metadata_path, create=True), layout)
    return
  store = _store(layout.metadata_path)
  if on_disk and _store_id(store) != _disk_id(layout):
    _move_aside(layout, f'{layout.metadata_path} does not know the artifacts under '
                f'{layout.pipeline_root} (another store made them: it was replaced)', say)
    _bind(_store(layout.metadata_path, create=True), layout)
    return
  node_of_execution = {}
  prefix = f'{pipeline_name}.'
  for context in store.get_contexts_by_type('node'):
    if context.name.startswith(prefix):
      for execution in store.get_executions_by_context(context.id):
        node_of_execution[execution.id] = context.name[len(prefix):]
  unknown = [path for component, _, execution_id, path in on_disk
             if node_of_execution.get(execution_id) != component]
  if unknown:
    _move_aside(layout, f'{layout.metadata_path} does not know {len(unknown)} artifact '
                f'directories under {layout.pipeline_root} (e.g. '
                f'{os.path.relpath(unknown[0], layout.output)}): the store was replaced', say)
    _bind(_store(layout.metadata_path, create=True), layout)
    return
  _bind(store, layout)
  types = {t.id: t.name for t in store.get_artifact_types()}
  stale = []
  for artifact in store.get_artifacts():
    if artifact.state != metadata_store_pb2.Artifact.LIVE:
      continue
    why = _incomplete(artifact, types.get(artifact.type_id, ''))
    if why:
      artifact.state = metadata_store_pb2.Artifact.DELETED
      stale.append(artifact)
      say(f'{os.path.relpath(artifact.uri, layout.output)}: {why}; its component and '
          'the ones after it run again')
  if stale:
    store.put_artifacts(stale)
