"""Compiles the pipeline for Kubeflow Pipelines v2 / Vertex AI Pipelines.

Offline: writes the pipeline spec JSON, no cluster or network needed.

    croptfx compile --output croptfx.json --pipeline-root gs://bucket/croptfx \
        --data gs://bucket/parquet/ [--image IMAGE] [--beam-runner dataflow ...]

Components name their code by module path, and the image (see the Dockerfile)
has the project installed, so nothing is packaged or uploaded at compile time.
"""

import os
import tempfile
from typing import List, Optional

from tfx import v1 as tfx
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from croptfx import paths
from croptfx.pipeline import configs
from croptfx.pipeline import pipeline as pipeline_lib
from croptfx.pipeline import run_config


def create_kubeflow_pipeline(pipeline_root: str, data_path: str,
                             beam_pipeline_args: Optional[List[str]] = None,
                             train_steps: Optional[int] = None) -> tfx.dsl.Pipeline:
  """The pipeline with a cloud pipeline root (metadata: the KFP backend's)."""
  config = run_config.pipeline_config(data_path, train_steps=train_steps)
  return pipeline_lib.create_pipeline(
      config, pipeline_root=pipeline_root,
      serving_model_dir=os.path.join(pipeline_root, 'serving_model'),
      beam_pipeline_args=beam_pipeline_args)


def compile_pipeline(output: str, pipeline_root: str, data_path: str,
                     image: Optional[str] = None,
                     beam_pipeline_args: Optional[List[str]] = None,
                     train_steps: Optional[int] = None) -> str:
  """Writes the Kubeflow v2 pipeline spec JSON to `output` (whole or not at
  all); returns its absolute path."""
  output = os.path.abspath(output)
  with tempfile.TemporaryDirectory(prefix='croptfx-compile-') as tmp:
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
            default_image=image or configs.PIPELINE_IMAGE),
        output_dir=tmp, output_filename='pipeline.json')
    runner.run(create_kubeflow_pipeline(pipeline_root, data_path, beam_pipeline_args,
                                        train_steps), write_out=True)
    with open(os.path.join(tmp, 'pipeline.json'), 'rb') as f:
      paths.write_atomic(output, f.read())
  return output
