"""Shared fixtures: one small generated data set and one real pipeline run.

The pipeline fixtures run the real components (DirectRunner, LocalDagRunner,
SQLite ML Metadata) once per test session; the tests that need a trained
model or transformed examples share them, which keeps CI well under its
time budget.
"""

import io
import os

import pytest

# TensorFlow's C++ logs and Google clients' Python-version warnings are noise.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

SMALL_PIXELS_PER_YEAR = 80
SMALL_TRAIN_STEPS = 60
SMALL_EPOCHS = 3


@pytest.fixture(scope='session')
def small_data(tmp_path_factory):
  """80 pixels x 2019..2021, flat layout, two files."""
  from croptfx.generate import part1  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp('small_data')
  part1.write_dataset(str(root), SMALL_PIXELS_PER_YEAR, seed=5, rows_per_file=130)
  return str(root)


def run_small_pipeline(data, output, **kwargs):
  """Runs the pipeline quietly (progress into a buffer); returns the summary."""
  from croptfx.pipeline import run as run_lib  # pylint: disable=g-import-not-at-top
  stream = io.StringIO()
  options = dict(train_steps=SMALL_TRAIN_STEPS, epochs=SMALL_EPOCHS,
                 accuracy_threshold=0.0, report=False)
  options.update(kwargs)
  summary = run_lib.run_pipeline(data, output, stream=stream, **options)
  summary['_progress'] = stream.getvalue()
  return summary


@pytest.fixture(scope='session')
def small_run(small_data, tmp_path_factory):
  """The whole pipeline, LocalDagRunner, on `small_data`."""
  output = str(tmp_path_factory.mktemp('small_run'))
  return {'output': output, 'data': small_data,
          'summary': run_small_pipeline(small_data, output)}
