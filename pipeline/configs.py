"""Pipeline configuration, in the style of TFX's taxi template.

Components name their code by module path (not `module_file`), so the same
pipeline compiles for Kubeflow Pipelines without packaging or uploading code:
the project is installed in the container image (see the Dockerfile).
"""

import os

from croptfx import features

PIPELINE_NAME = 'croptfx'

# Code the Transform and Trainer components import by module path.
PREPROCESSING_FN = 'preprocessing.preprocessing.preprocessing_fn'
RUN_FN = 'trainer.model.run_fn'

# Splits by season year (DESIGN.md section 4). Their roles (which split
# Transform analyzes and the Trainer fits, which one the Evaluator blesses
# on) follow from the mapping: `features.split_roles`.
YEAR_SPLITS = dict(features.DEFAULT_YEAR_SPLITS)

# Training: small defaults that keep the demo and CI fast on 2 CPU cores.
TRAIN_NUM_STEPS = 1500
EVAL_NUM_STEPS = 20
TRAINER_CONFIG = {'epochs': 15, 'batch_size': 128}

# Transform's own pre- and post-transform statistics. Off: StatisticsGen
# already describes the raw examples and nothing reads them, while at 60,000
# rows they cost 9-16 s and about 900 MiB of peak memory (BENCHMARKS.md).
TRANSFORM_STATISTICS = False

# Fixed as-of days of year for evaluation; the Evaluator blesses a model when
# the eval year's accuracy at the headline day reaches the threshold. The
# Trainer validates, and the SeasonEvaluator keeps per-pixel rows, at the
# headline day too (create_pipeline passes it to all three).
AS_OF_DAYS = list(features.EVAL_AS_OF_DAYS)
HEADLINE_AS_OF_DAY = features.HEADLINE_AS_OF_DAY
EVAL_ACCURACY_THRESHOLD = 0.6

# Container image with the project installed (Kubeflow / Dataflow workers).
GOOGLE_CLOUD_PROJECT = os.environ.get('GOOGLE_CLOUD_PROJECT', '')
PIPELINE_IMAGE = os.environ.get(
    'CROPTFX_IMAGE', f'gcr.io/{GOOGLE_CLOUD_PROJECT or "your-project"}/{PIPELINE_NAME}:latest')

# DirectRunner in multi-processing mode for the components' Beam jobs.
def direct_runner_args(workers: int):
  if workers <= 1:
    # The DirectRunner's defaults (one in-process worker). With no Beam
    # arguments TFX also skips packing the project as an sdist for workers,
    # 3-5 s per Beam component (BENCHMARKS.md).
    return []
  return ['--direct_running_mode=multi_processing', f'--direct_num_workers={workers}']
