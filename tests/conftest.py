"""Shared fixtures: one small generated data set and one real pipeline run.

The pipeline fixtures run the real components (DirectRunner, LocalDagRunner,
SQLite ML Metadata) once per test session; the tests that need a trained
model or transformed examples share them, which keeps CI well under its
time budget.
"""

import io
import os

import pytest

from croptfx.pipeline import configs

# TensorFlow's C++ logs and Google clients' Python-version warnings are noise.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

# The years the generator writes for the tests: the pipeline's own.
YEARS = tuple(sorted(configs.YEAR_SPLITS))
SMALL_PIXELS_PER_YEAR = 80
SMALL_TRAIN_STEPS = 60
SMALL_EPOCHS = 3


def generated_data(tmp_path_factory, name: str, pixels_per_year: int, seed: int,
                   rows_per_file: int):
  """(a new temporary directory, its `data` subdirectory of generated rows)."""
  from croptfx.generate import part1  # pylint: disable=g-import-not-at-top
  tmp = tmp_path_factory.mktemp(name)
  data_dir = str(tmp / 'data')
  part1.write_dataset(data_dir, pixels_per_year, years=YEARS, seed=seed,
                      rows_per_file=rows_per_file)
  return tmp, data_dir


@pytest.fixture(scope='session')
def small_data(tmp_path_factory):
  """80 pixels x 2019..2021, flat layout, two files."""
  from croptfx.generate import part1  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp('small_data')
  part1.write_dataset(str(root), SMALL_PIXELS_PER_YEAR, years=YEARS, seed=5,
                      rows_per_file=130)
  return str(root)


def run_small_pipeline(data, output, runner='local', workers=None, report=False,
                       verbose=False, **pipeline_options):
  """Runs the pipeline quietly (progress into a buffer); returns the summary.

  `pipeline_options` are `run_config.pipeline_config`'s (train_steps,
  epochs, year_splits, model, ...), small by default.
  """
  from croptfx.pipeline import run as run_lib  # pylint: disable=g-import-not-at-top
  from croptfx.pipeline import run_config  # pylint: disable=g-import-not-at-top
  stream = io.StringIO()
  options = dict(train_steps=SMALL_TRAIN_STEPS, epochs=SMALL_EPOCHS, blessing_threshold=0.0)
  options.update(pipeline_options)
  config = run_config.run_config(data, output, runner=runner, workers=workers,
                                 report=report, verbose=verbose, **options)
  summary = run_lib.run_pipeline(config, stream=stream)
  summary['_progress'] = stream.getvalue()
  return summary


@pytest.fixture(scope='session')
def small_run(small_data, tmp_path_factory):
  """The whole pipeline, LocalDagRunner, on `small_data`."""
  output = str(tmp_path_factory.mktemp('small_run'))
  return {'output': output, 'data': small_data,
          'summary': run_small_pipeline(small_data, output)}
