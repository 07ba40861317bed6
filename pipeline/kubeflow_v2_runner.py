"""Compiles the pipeline for Kubeflow Pipelines v2 / Vertex AI Pipelines.

Offline: writes the pipeline spec JSON, no cluster or network needed.

    croptfx compile --output croptfx.json --pipeline-root gs://bucket/croptfx \
        --data gs://bucket/parquet/ [--image IMAGE] [--beam-runner dataflow ...]

Components name their code by module path, and the image (see the Dockerfile)
has the project installed, so nothing is packaged or uploaded at compile time.
"""

import os
from typing import List, Optional

from tfx import v1 as tfx
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from croptfx.pipeline import configs
from croptfx.pipeline import pipeline as pipeline_lib


def create_kubeflow_pipeline(pipeline_root: str, data_path: str,
                             beam_pipeline_args: Optional[List[str]] = None,
                             train_steps: Optional[int] = None) -> tfx.dsl.Pipeline:
  """The pipeline with a cloud pipeline root (metadata: the KFP backend's)."""
  return pipeline_lib.create_pipeline(
      pipeline_name=configs.PIPELINE_NAME,
      pipeline_root=pipeline_root,
      data_path=data_path,
      preprocessing_fn=configs.PREPROCESSING_FN,
      run_fn=configs.RUN_FN,
      train_args=tfx.proto.TrainArgs(num_steps=train_steps or configs.TRAIN_NUM_STEPS),
      eval_args=tfx.proto.EvalArgs(num_steps=configs.EVAL_NUM_STEPS),
      eval_accuracy_threshold=configs.EVAL_ACCURACY_THRESHOLD,
      serving_model_dir=os.path.join(pipeline_root, 'serving_model'),
      year_splits=configs.YEAR_SPLITS,
      as_of_days=configs.AS_OF_DAYS,
      headline_day=configs.HEADLINE_AS_OF_DAY,
      trainer_config=configs.TRAINER_CONFIG,
      model_config=configs.model_trainer_config(configs.DEFAULT_MODEL),
      season_as_of_days=configs.SEASON_AS_OF_DAYS,
      baseline_config=configs.BASELINE_CONFIG,
      beam_pipeline_args=beam_pipeline_args,
      transform_statistics=configs.TRANSFORM_STATISTICS,
      compress_examples=configs.COMPRESS_EXAMPLES)


def compile_pipeline(output: str, pipeline_root: str, data_path: str,
                     image: Optional[str] = None,
                     beam_pipeline_args: Optional[List[str]] = None,
                     train_steps: Optional[int] = None) -> str:
  """Writes the Kubeflow v2 pipeline spec JSON to `output`; returns its path."""
  runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
      config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
          default_image=image or configs.PIPELINE_IMAGE),
      output_dir=os.path.dirname(os.path.abspath(output)),
      output_filename=os.path.basename(output))
  runner.run(create_kubeflow_pipeline(pipeline_root, data_path, beam_pipeline_args,
                                      train_steps), write_out=True)
  return os.path.abspath(output)
