"""The run summary (`croptfx.run_summary.RunSummary`), read back from ML Metadata.

The executions of this pipeline run (its run id: `croptfx run` names it), a
cached one too, point at their output artifacts, never another run's; the
summary gathers the numbers a user asks for first (counts, band statistics,
metrics) and the paths of everything else.
"""

from typing import Any, Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from croptfx import layouts
from croptfx import outputs
from croptfx import run_summary

_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
# Executions whose outputs a run published (run now, or reused from the cache).
_PUBLISHED = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)
# TFX's context of one pipeline run, named by its run id.
PIPELINE_RUN_CONTEXT = 'pipeline_run'


def run_outputs(connection_config: metadata_store_pb2.ConnectionConfig,
                pipeline_name: str, run_id: str) -> Dict[str, Dict[str, Any]]:
  """{component id: {'execution': Execution, 'outputs': {key: [Artifact]}}} of
  the executions of one pipeline run (cached ones included: TFX records a
  cached execution in the run that reused it), never of another run."""
  store = metadata_store.MetadataStore(connection_config)
  run_context = store.get_context_by_type_and_name(PIPELINE_RUN_CONTEXT, run_id)
  if run_context is None:
    return {}
  prefix = f'{pipeline_name}.'
  result = {}
  for execution in sorted(store.get_executions_by_context(run_context.id), key=lambda e: e.id):
    if execution.last_known_state not in _PUBLISHED:
      continue
    nodes = [c.name[len(prefix):] for c in store.get_contexts_by_execution(execution.id)
             if c.name.startswith(prefix) and c.type_id != run_context.type_id]
    if not nodes:
      continue
    events = [e for e in store.get_events_by_execution_ids([execution.id])
              if e.type in _OUTPUT_EVENTS]
    by_id = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    outs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
    for event in events:
      key = event.path.steps[0].key if event.path.steps else ''
      outs.setdefault(key, []).append(by_id[event.artifact_id])
    result[nodes[0]] = {'execution': execution, 'outputs': outs}
  return result


def _uri(nodes, component_id: str, key: str) -> Optional[str]:
  artifacts = nodes.get(component_id, {}).get('outputs', {}).get(key)
  return artifacts[0].uri if artifacts else None


def _property(artifact, name):
  value = artifact.custom_properties.get(name) or artifact.properties.get(name)
  if value is None:
    return None
  return value.string_value or value.int_value or value.double_value


def build_summary(connection_config, pipeline_name: str, run_id: str,
                  component_seconds: Dict[str, float],
                  cached: List[str],
                  label_mapping: Optional[str] = None) -> run_summary.RunSummary:
  """The summary of the pipeline run `run_id` of `pipeline_name`."""
  nodes = run_outputs(connection_config, pipeline_name, run_id)
  summary = run_summary.RunSummary(label_mapping=label_mapping)
  examples_uri = _uri(nodes, 'ParquetExampleGen', 'examples')
  example_gen = nodes.get('ParquetExampleGen', {}).get('execution')
  if example_gen is not None and 'input_fingerprint' in example_gen.custom_properties:
    summary.data_fingerprint = example_gen.custom_properties['input_fingerprint'].string_value
  if examples_uri:
    counts = outputs.read_counts(examples_uri)
    summary.rows_read = counts['rows_read']
    summary.examples = counts['examples']
    summary.quarantined = counts['quarantined']
    summary.notes = counts.get('notes', {})
    summary.quarantine_dir = layouts.quarantine_dir(examples_uri)
  transform_uri = _uri(nodes, 'Transform', 'transform_graph')
  if transform_uri:
    stats = outputs.read_band_statistics(transform_uri)
    summary.band_mean, summary.band_std = stats['band_mean'], stats['band_std']
  season_uri = _uri(nodes, 'SeasonEvaluator', 'evaluation')
  evaluation = outputs.read_season_metrics(season_uri)
  if evaluation:
    summary.metrics = run_summary.summary_metrics(evaluation['splits'])
    summary.headline_as_of_day = evaluation['headline_day']
  training = outputs.read_training_info(_uri(nodes, 'Trainer', 'model_run'))
  if training:
    summary.model = training['model']
    summary.model_params = training['params']
    summary.train_seconds = training['train_seconds']
    summary.train_examples_per_second = training['examples_per_second']
  baseline_uri = _uri(nodes, 'TreeBaseline', 'evaluation')
  baseline = outputs.read_season_metrics(baseline_uri)
  if baseline:
    summary.baseline_metrics = run_summary.summary_metrics(baseline['splits'])
    summary.baseline_train_seconds = (outputs.read_baseline_training(baseline_uri)
                                      or {}).get('train_seconds')
  blessing = nodes.get('Evaluator', {}).get('outputs', {}).get('blessing')
  if blessing:
    summary.blessed = bool(_property(blessing[0], 'blessed'))
  pushed = nodes.get('Pusher', {}).get('outputs', {}).get('pushed_model')
  if pushed and _property(pushed[0], 'pushed'):
    summary.model_dir = _property(pushed[0], 'pushed_destination')
  summary.component_seconds = component_seconds
  summary.cached_components = cached
  summary.artifacts = {
      'examples': examples_uri,
      'statistics': _uri(nodes, 'StatisticsGen', 'statistics'),
      'schema': _uri(nodes, 'SchemaGen', 'schema'),
      'anomalies': _uri(nodes, 'ExampleValidator', 'anomalies'),
      'transform_graph': transform_uri,
      'transformed_examples': _uri(nodes, 'Transform', 'transformed_examples'),
      'model': _uri(nodes, 'Trainer', 'model'),
      'model_run': _uri(nodes, 'Trainer', 'model_run'),
      'evaluation': _uri(nodes, 'Evaluator', 'evaluation'),
      'season_evaluation': season_uri,
      'baseline_evaluation': baseline_uri,
  }
  return summary
