"""The croptfx TFX pipeline definition.

ParquetExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator ->
Transform -> Trainer -> Evaluator -> Pusher, plus SeasonEvaluator (accuracy
against the as-of date for the report) and TreeBaseline (gradient-boosted
trees on the same windows: the reference curve). Runners: `run.py` (LocalDagRunner or
BeamDagRunner, `croptfx run`) and `kubeflow_v2_runner.py` (`croptfx compile`).
"""

from typing import List, Optional, Sequence

from google.protobuf import wrappers_pb2
from ml_metadata.proto import metadata_store_pb2
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from croptfx import fingerprint
from croptfx.components import pusher as pusher_lib
from croptfx.components import season_evaluator
from croptfx.components import transform as transform_lib
from croptfx.components import tree_baseline
from croptfx.components.parquet_example_gen import component as parquet_example_gen
from croptfx.pipeline import configs
from croptfx.pipeline import run_config
from croptfx.trainer import signatures


# The modules each component's code starts from (the ones TFX imports by
# path, and the component's own); the fingerprint follows their imports.
CODE_ENTRY_MODULES = {
    'ParquetExampleGen': ('croptfx.components.parquet_example_gen.executor',
                          'croptfx.components.parquet_example_gen.driver'),
    'Transform': ('croptfx.preprocessing.preprocessing', 'croptfx.components.transform'),
    'Trainer': ('croptfx.trainer.model',),
    'SeasonEvaluator': ('croptfx.components.season_evaluator',),
    'TreeBaseline': ('croptfx.components.tree_baseline',),
}


def make_eval_config(as_of_days: Sequence[int], headline_day: int,
                     accuracy_threshold: float) -> tfma.EvalConfig:
  """TFMA config: one model output per fixed as-of day, labels from the model.

  The model's `eval_labels` signature (a TFMA preprocessing function) gives
  the gated label at each as-of day and a weight that is 0 for double crops.
  Per day: accuracy (thresholded at the headline day, the blessing) and the
  multi-class confusion matrix, which holds every class's precision and
  recall. Binarized per-class Precision/Recall metrics were dropped: nothing
  read them and they were most of the Evaluator's time (BENCHMARKS.md).
  """
  outputs = [signatures.output_name(d) for d in as_of_days]
  metrics_specs = []
  for day, output in zip(as_of_days, outputs):
    accuracy = tfma.MetricConfig(class_name='SparseCategoricalAccuracy')
    if day == headline_day:
      accuracy.threshold.CopyFrom(tfma.MetricThreshold(
          value_threshold=tfma.GenericValueThreshold(
              lower_bound={'value': accuracy_threshold})))
    metrics_specs.append(tfma.MetricsSpec(
        output_names=[output],
        metrics=[accuracy,
                 tfma.MetricConfig(class_name='MultiClassConfusionMatrixPlot')]))
  return tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(
          signature_name=signatures.EVAL_SIGNATURE,
          preprocessing_function_names=[signatures.EVAL_LABELS_SIGNATURE],
          label_keys={o: signatures.label_name(d) for o, d in zip(outputs, as_of_days)},
          example_weight_keys={o: signatures.WEIGHT for o in outputs})],
      slicing_specs=[tfma.SlicingSpec()],
      metrics_specs=metrics_specs,
      # The Keras model's compiled metrics score its own single output, not
      # the per-day outputs of the evaluation signature.
      options=tfma.Options(include_default_metrics=wrappers_pb2.BoolValue(value=False)))


def create_pipeline(
    config: run_config.PipelineConfig,
    pipeline_root: str,
    serving_model_dir: str,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
  """Implements the in-season crop-type pipeline with TFX.

  Everything the pipeline computes comes from `config`, built and checked
  once (`run_config.pipeline_config`). The splits' roles come from its year
  splits (`features.split_roles`, the one rule): the train split is what
  Transform analyzes and the Trainer fits; the eval split is what the Trainer
  validates on and the Evaluator blesses on; the SeasonEvaluator and the
  TreeBaseline score the eval split and every other one at the season's
  as-of days. The headline day goes to the Trainer (validation), the
  Evaluator (blessing threshold) and the SeasonEvaluator (per-pixel rows).

  `config.last_component` (a component id, e.g. 'Transform') stops the
  pipeline there: the data part alone, for benchmarks and reliability checks.
  """
  roles = config.roles
  splits = list(roles.names)
  as_of_days = list(config.as_of_days)
  season_as_of_days = ','.join(str(d) for d in config.season_as_of_days)

  # Code named by module path is not in TFX's cache key: fingerprint it, with
  # every project module it imports (CODE_ENTRY_MODULES).
  code = {component: fingerprint.component_fingerprint(modules, [config.label_mapping])
          for component, modules in CODE_ENTRY_MODULES.items()}

  # Reads the Parquet (binary columns, Hive layouts, cloud URIs), splits by
  # year and quarantines bad rows with a reason.
  example_gen = parquet_example_gen.ParquetExampleGen(
      input_base=config.data, year_splits=dict(config.year_splits),
      label_mapping=config.label_mapping, code_fingerprint=code['ParquetExampleGen'],
      compress_examples=config.compress_examples)

  statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs['examples'])
  schema_gen = tfx.components.SchemaGen(
      statistics=statistics_gen.outputs['statistics'], infer_feature_shape=True)
  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs['statistics'], schema=schema_gen.outputs['schema'])

  # Band statistics from the train year only; every split is transformed.
  # TFX's Transform with an executor that can write uncompressed records.
  transform = transform_lib.Transform(
      examples=example_gen.outputs['examples'],
      schema=schema_gen.outputs['schema'],
      preprocessing_fn=configs.PREPROCESSING_FN,
      splits_config=tfx.proto.SplitsConfig(analyze=[roles.train], transform=splits),
      custom_config={'label_mapping': config.label_mapping,
                     'code_fingerprint': code['Transform'],
                     transform_lib.COMPRESS_EXAMPLES_KEY: bool(config.compress_examples)},
      disable_statistics=not config.transform_statistics)

  trainer = tfx.components.Trainer(
      run_fn=configs.RUN_FN,
      examples=transform.outputs['transformed_examples'],
      transform_graph=transform.outputs['transform_graph'],
      schema=schema_gen.outputs['schema'],
      train_args=tfx.proto.TrainArgs(splits=[roles.train], num_steps=config.train_steps),
      eval_args=tfx.proto.EvalArgs(splits=[roles.eval], num_steps=config.eval_steps),
      custom_config={**config.hparams.to_custom_config(),
                     'code_fingerprint': code['Trainer']})

  evaluator = tfx.components.Evaluator(
      examples=transform.outputs['transformed_examples'],
      model=trainer.outputs['model'],
      example_splits=[roles.eval],
      eval_config=make_eval_config(as_of_days, config.headline_day,
                                   config.blessing_threshold))

  pusher = pusher_lib.Pusher(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'],
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)))

  # Accuracy and macro-F1 against the as-of date, for every split but train.
  season = season_evaluator.SeasonEvaluator(
      examples=transform.outputs['transformed_examples'],
      model=trainer.outputs['model'],
      splits=','.join(roles.evaluated),
      as_of_days=season_as_of_days,
      headline_day=config.headline_day,
      code_fingerprint=code['SeasonEvaluator'])

  components = [example_gen, statistics_gen, schema_gen, example_validator, transform,
                trainer, evaluator, pusher, season]
  if config.baseline is not None:
    # The reference curve: gradient-boosted trees on the same windows.
    components.append(tree_baseline.TreeBaseline(
        examples=transform.outputs['transformed_examples'],
        train_split=roles.train,
        splits=','.join(roles.evaluated),
        as_of_days=season_as_of_days,
        code_fingerprint=code['TreeBaseline'],
        **config.baseline))
  if config.last_component:
    ids = [c.id for c in components]
    if config.last_component not in ids:
      raise ValueError(f'unknown component {config.last_component!r}; one of {ids}')
    components = components[:ids.index(config.last_component) + 1]
  return tfx.dsl.Pipeline(
      pipeline_name=configs.PIPELINE_NAME,
      pipeline_root=pipeline_root,
      components=components,
      enable_cache=enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=beam_pipeline_args)
