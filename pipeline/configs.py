"""Pipeline configuration, in the style of TFX's taxi template: the one home
of every default of `croptfx run`, `compile` and `generate`.

Components take these as required parameters (create_pipeline passes them);
nothing below this module has a default of its own.

Components name their code by module path (not `module_file`), so the same
pipeline compiles for Kubeflow Pipelines without packaging or uploading code:
the project is installed in the container image (see the Dockerfile).
"""

import os
from typing import Optional
from croptfx.trainer import hparams

PIPELINE_NAME = 'croptfx'

# Code the Transform and Trainer components import by module path.
PREPROCESSING_FN = 'croptfx.preprocessing.preprocessing.preprocessing_fn'
RUN_FN = 'croptfx.trainer.model.run_fn'

# Splits by season year, never by random row. Their roles (which split
# Transform analyzes and the Trainer fits, which one the Evaluator blesses
# on) follow from the mapping: `features.split_roles`. `croptfx generate`
# writes these years by default.
YEAR_SPLITS = {2021: 'train', 2020: 'eval', 2019: 'test'}

# `croptfx generate --imagery`: the area (CDL cells of 30 m), the seasons
# (2022 holds scenes of processing baseline 04.00, with the +1000 offset) and
# the days between acquisitions (Sentinel-2's 5 with two satellites).
IMAGERY_AREA = (48, 36)
IMAGERY_YEARS = (2021, 2022)
IMAGERY_REVISIT_DAYS = 5

# `croptfx extract`: cells per side of a chunk (the unit of the windowed
# reads: 256 CDL cells are 7.68 km, a 768 x 768 window of a 10 m band), of a
# block (the pixel-years grouped and packed together: 64 x 64 at most,
# smaller when many scenes meet the chunk, so that a block holds about
# `block_samples` samples, some 3 MB: packing it takes a few times that,
# whatever the number of scenes; BENCHMARKS.md, case Y) and the rows of a
# Parquet shard in bytes (a row holds all its samples: 16 MiB is some 7,000
# rows of a season seen every 5 days).
EXTRACT_CONFIG = {'chunk_cells': 256, 'block_cells': 64, 'block_samples': 100_000,
                  'shard_bytes': 16 << 20}

# Training: small defaults that keep the demo and CI fast on 2 CPU cores.
TRAIN_NUM_STEPS = 1500
EVAL_NUM_STEPS = 20
TRAINER_CONFIG = {
    'epochs': 15, 'batch_size': 128, 'seed': 42,
    # Training steps per call into the TF runtime: a small model's step is
    # short enough that Keras' per-step Python work was a quarter of it on 2
    # cores (BENCHMARKS.md, case T). XLA (`jit_compile`) was slower: not used.
    'steps_per_execution': 25,
}

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


def trainer_hparams(model: str = DEFAULT_MODEL, epochs: Optional[int] = None):
  """The Trainer's hyperparameters for architecture `model` (every value
  from this module; `epochs` overrides TRAINER_CONFIG's)."""
  config = MODEL_CONFIGS[model]
  return hparams.HParams(
      model=model, model_config=config['layers'], learning_rate=config['learning_rate'],
      epochs=epochs or TRAINER_CONFIG['epochs'], batch_size=TRAINER_CONFIG['batch_size'],
      seed=TRAINER_CONFIG['seed'], steps_per_execution=TRAINER_CONFIG['steps_per_execution'],
      as_of_days=AS_OF_DAYS, headline_day=HEADLINE_AS_OF_DAY)


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

# Fixed as-of days of year (1-based) for evaluation; the Evaluator blesses a
# model when the eval year's accuracy at the headline day reaches the
# threshold. The Trainer validates, and the SeasonEvaluator keeps per-pixel
# rows, at the headline day too (create_pipeline passes it to all three).
AS_OF_DAYS = (120, 180, 240, 300)
HEADLINE_AS_OF_DAY = 240
# The SeasonEvaluator's and the tree baseline's dense curve: every 15 days
# from day 90 (31 Mar) to day 330 (26 Nov); it holds the fixed days above.
SEASON_AS_OF_DAYS = tuple(range(90, 331, 15))
# The as-of days `croptfx compare` tabulates and MODELS.md averages over to
# choose the default model.
COMPARE_AS_OF_DAYS = (150, 180, 210, 240)
EVAL_ACCURACY_THRESHOLD = 0.6

# Container image with the project installed (Kubeflow / Dataflow workers).
GOOGLE_CLOUD_PROJECT = os.environ.get('GOOGLE_CLOUD_PROJECT', '')
PIPELINE_IMAGE = os.environ.get(
    'CROPTFX_IMAGE', f'gcr.io/{GOOGLE_CLOUD_PROJECT or "your-project"}/{PIPELINE_NAME}:latest')
