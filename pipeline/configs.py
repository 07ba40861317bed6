"""Pipeline configuration, in the style of TFX's taxi template.

Components name their code by module path (not `module_file`), so the same
pipeline compiles for Kubeflow Pipelines without packaging or uploading code:
the project is installed in the container image (see the Dockerfile).
"""

import os

from croptfx import features

PIPELINE_NAME = 'croptfx'

# Code the Transform and Trainer components import by module path.
PREPROCESSING_FN = 'croptfx.preprocessing.preprocessing.preprocessing_fn'
RUN_FN = 'croptfx.trainer.model.run_fn'

# Splits by season year (DESIGN.md section 4). Their roles (which split
# Transform analyzes and the Trainer fits, which one the Evaluator blesses
# on) follow from the mapping: `features.split_roles`.
YEAR_SPLITS = dict(features.DEFAULT_YEAR_SPLITS)

# Training: small defaults that keep the demo and CI fast on 2 CPU cores.
TRAIN_NUM_STEPS = 1500
EVAL_NUM_STEPS = 20
TRAINER_CONFIG = {'epochs': 15, 'batch_size': 128}

# The in-season architectures (trainer/architectures.py, `croptfx run
# --model`): the learning rate and the builder's hyperparameters of each. All
# are small enough to train on 2 CPU cores in about the 1D-CNN's time
# (MODELS.md has their parameter counts and training times).
MODEL_CONFIGS = {
    'cnn': {'learning_rate': 2e-3,
            'layers': {'filters': 64, 'dense_units': 128, 'dropout': 0.2}},
    # Pelletier et al. 2019: 3 conv blocks of 64 filters, kernel 5; dense 256.
    'tempcnn': {'learning_rate': 1e-3,
                'layers': {'filters': 64, 'kernel_size': 5, 'blocks': 3,
                           'dense_units': 256, 'dropout': 0.2}},
    'gru': {'learning_rate': 2e-3,
            'layers': {'units': 64, 'layers': 2, 'dense_units': 64, 'dropout': 0.2}},
    'transformer': {'learning_rate': 1e-3,
                    'layers': {'d_model': 64, 'heads': 4, 'layers': 2, 'ff_units': 128,
                               'dense_units': 64, 'dropout': 0.1}},
}
# The best macro-F1 averaged over days 150-240 on the eval year (MODELS.md).
DEFAULT_MODEL = 'transformer'


def model_trainer_config(model: str):
  """The Trainer custom_config entries of one architecture."""
  config = MODEL_CONFIGS[model]
  return {'model': model, 'learning_rate': config['learning_rate'],
          'model_config': dict(config['layers'])}


# The tree baseline (components/tree_baseline.py): one HistGradientBoosting
# model on windows at `draws_per_pixel` random as-of dates per train pixel.
BASELINE_CONFIG = {'draws_per_pixel': 4, 'max_iter': 40, 'learning_rate': 0.15, 'seed': 0}

# Transform's own pre- and post-transform statistics. Off: StatisticsGen
# already describes the raw examples and nothing reads them, while at 60,000
# rows they cost 9-16 s and about 900 MiB of peak memory (BENCHMARKS.md).
TRANSFORM_STATISTICS = False

# TFRecords between components (ExampleGen -> StatisticsGen, Transform;
# Transform -> Trainer, Evaluator, SeasonEvaluator, TreeBaseline). False:
# uncompressed. Beam's GZIP runs in Python (about half of the ExampleGen +
# Transform cost per row) and one thread inflates a split when it is read
# (the cap on the Trainer's reader); uncompressed files are 1.69x (raw) and
# 1.37x (transformed) GZIP's size on the demo data: 27.8 MB against 16.5 MB
# and 34.7 MB against 25.3 MB for 9,000 rows (BENCHMARKS.md, "Uncompressed
# records between components"). True writes GZIP `.gz` files as stock TFX.
COMPRESS_EXAMPLES = False

# Fixed as-of days of year for evaluation; the Evaluator blesses a model when
# the eval year's accuracy at the headline day reaches the threshold. The
# Trainer validates, and the SeasonEvaluator keeps per-pixel rows, at the
# headline day too (create_pipeline passes it to all three).
AS_OF_DAYS = list(features.EVAL_AS_OF_DAYS)
HEADLINE_AS_OF_DAY = features.HEADLINE_AS_OF_DAY
# The SeasonEvaluator's and the tree baseline's dense curve: every 15 days
# from day 90 to day 330.
SEASON_AS_OF_DAYS = list(features.SEASON_AS_OF_DAYS)
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
