"""How `croptfx run` turns a failure into one console line (issue 11).

Beam's multi-processing workers send an error back to the pipeline as text:
a RuntimeError holding the worker's whole traceback. These tests feed
`pipeline.run` such errors, as Beam 2.60 words them, without a pipeline;
test_reliability_files runs the real thing through the CLI.
"""

import io
import logging

import pytest

from croptfx import errors
from croptfx.pipeline import run as run_lib

# The shape of a worker error that reaches the runner (paths shortened).
REMOTE_TRACEBACK = '''Traceback (most recent call last):
  File "apache_beam/runners/common.py", line 1501, in process
  File "components/parquet_example_gen/reader.py", line 394, in read_batches
    raise InputDataError(path, f'cannot be read: {_first_line(e)}') from e
croptfx.errors.InputDataError: data/a.parquet: cannot be read: bad page

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "apache_beam/runners/worker/sdk_worker.py", line 311, in _execute
    response = task()
RuntimeError: croptfx.errors.InputDataError: data/a.parquet: cannot be read: bad page [while running 'ParquetToExamples/ReadValidateEncode/ParDo(_ReadValidateEncode)']
 [while running 'Run[ParquetExampleGen]']'''


def test_user_error_from_a_worker_traceback():
  wrapped = RuntimeError(REMOTE_TRACEBACK)
  error = run_lib._user_error_in(wrapped)
  assert isinstance(error, errors.CroptfxError)
  assert str(error) == 'data/a.parquet: cannot be read: bad page'


def test_user_error_deep_in_the_cause_chain():
  try:
    try:
      raise errors.InputDataError('data/b.parquet', 'missing required column',
                                  column='bands')
    except errors.InputDataError as e:
      raise RuntimeError('wrapped by the runner') from e
  except RuntimeError as e:
    error = run_lib._user_error_in(e)
  assert isinstance(error, errors.InputDataError)
  assert str(error) == "data/b.parquet: column 'bands': missing required column"


def test_other_worker_errors_become_their_last_error_line():
  text = REMOTE_TRACEBACK.replace(
      'croptfx.errors.InputDataError: data/a.parquet: cannot be read: bad page',
      'ZeroDivisionError: division by zero')
  wrapped = RuntimeError(text)
  assert run_lib._user_error_in(wrapped) is None
  line = run_lib._one_line(wrapped)
  assert line == ('RuntimeError: ZeroDivisionError: division by zero '
                  "[while running 'ParquetToExamples/ReadValidateEncode/"
                  "ParDo(_ReadValidateEncode)']")


def test_plain_errors_keep_their_first_line():
  assert run_lib._one_line(ValueError('bad value\nmore detail')) == (
      'ValueError: bad value')
  assert run_lib._one_line(KeyError()) == 'KeyError'


def test_failed_run_gives_the_caller_its_logging_back(tmp_path):
  """`run_pipeline` sends logs to run.log while it runs, and only then."""
  root = logging.getLogger()
  mine = logging.NullHandler()
  root.addHandler(mine)
  before_handlers, before_level = list(root.handlers), root.level
  try:
    (tmp_path / 'data').mkdir()  # empty: the ExampleGen stops the run
    with pytest.raises(errors.InputDataError, match='the directory holds no files'):
      run_lib.run_pipeline(str(tmp_path / 'data'), str(tmp_path / 'out'),
                           stream=io.StringIO(), report=False,
                           last_component='ParquetExampleGen')
    assert root.handlers == before_handlers
    assert root.level == before_level
    with open(tmp_path / 'out' / 'logs' / 'run.log', encoding='utf-8') as f:
      assert 'the directory holds no files' in f.read()
  finally:
    root.removeHandler(mine)
