"""pipeline/summary.py: the summary is built from one pipeline run's
executions (its run id), never the newest execution of each component."""

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from croptfx.pipeline import summary

PIPELINE = 'croptfx'


def _store(path):
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = str(path)
  config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
  return config, metadata_store.MetadataStore(config)


def _type(store, put, cls, name):
  t = cls()
  t.name = name
  return put(t)


def _execute(store, types, contexts, state, uri):
  """One execution in `contexts` (its run's and its node's), with one output
  artifact at `uri`."""
  execution = metadata_store_pb2.Execution(type_id=types['execution'],
                                           last_known_state=state)
  artifact = metadata_store_pb2.Artifact(type_id=types['artifact'], uri=uri,
                                         state=metadata_store_pb2.Artifact.LIVE)
  event = metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)
  event.path.steps.add().key = 'examples'
  execution_id, _, _ = store.put_execution(execution, [(artifact, event)],
                                           store.get_contexts_by_id(contexts))
  return execution_id


def test_run_outputs_are_the_runs_own(tmp_path):
  config, store = _store(tmp_path / 'metadata.db')
  types = {
      'execution': _type(store, store.put_execution_type, metadata_store_pb2.ExecutionType,
                         'ParquetExampleGen'),
      'artifact': _type(store, store.put_artifact_type, metadata_store_pb2.ArtifactType,
                        'Examples'),
  }
  run_type = _type(store, store.put_context_type, metadata_store_pb2.ContextType,
                   summary.PIPELINE_RUN_CONTEXT)
  node_type = _type(store, store.put_context_type, metadata_store_pb2.ContextType, 'node')
  first, second = store.put_contexts([
      metadata_store_pb2.Context(type_id=run_type, name='20261205-010000.0'),
      metadata_store_pb2.Context(type_id=run_type, name='20261205-020000.0')])
  gen, stats = store.put_contexts([
      metadata_store_pb2.Context(type_id=node_type, name=f'{PIPELINE}.ParquetExampleGen'),
      metadata_store_pb2.Context(type_id=node_type, name=f'{PIPELINE}.StatisticsGen')])
  complete = metadata_store_pb2.Execution.COMPLETE
  _execute(store, types, [first, gen], complete, '/a/examples/1')
  _execute(store, types, [first, stats], complete, '/a/statistics/2')
  # The second run: the ExampleGen cached, then a failed StatisticsGen.
  cached = _execute(store, types, [second, gen], metadata_store_pb2.Execution.CACHED,
                    '/a/examples/3')
  _execute(store, types, [second, stats], metadata_store_pb2.Execution.FAILED,
           '/a/statistics/4')
  nodes = summary.run_outputs(config, PIPELINE, '20261205-020000.0')
  assert set(nodes) == {'ParquetExampleGen'}  # not the first run's StatisticsGen
  assert nodes['ParquetExampleGen']['execution'].id == cached
  assert [a.uri for a in nodes['ParquetExampleGen']['outputs']['examples']] == [
      '/a/examples/3']
  first_run = summary.run_outputs(config, PIPELINE, '20261205-010000.0')
  assert {k: v['outputs']['examples'][0].uri for k, v in first_run.items()} == {
      'ParquetExampleGen': '/a/examples/1', 'StatisticsGen': '/a/statistics/2'}
  assert summary.run_outputs(config, PIPELINE, 'no-such-run') == {}
