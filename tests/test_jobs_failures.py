"""jobs/failures.py: any failure -> one error, one line, the exit code of its cause.

Beam's multi-processing workers send an error back to the pipeline as text:
a RuntimeError holding the worker's whole traceback. These tests feed
`failures` such errors, as Beam 2.60 words them, without a pipeline;
test_reliability_files runs the real thing through the CLI.
"""

import errno
import os

from croptfx import errors
from croptfx.jobs import failures

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
  error = failures.user_error_in(wrapped)
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
    error = failures.user_error_in(e)
  assert isinstance(error, errors.InputDataError)
  assert str(error) == "data/b.parquet: column 'bands': missing required column"


def test_other_worker_errors_become_their_last_error_line():
  text = REMOTE_TRACEBACK.replace(
      'croptfx.errors.InputDataError: data/a.parquet: cannot be read: bad page',
      'ZeroDivisionError: division by zero')
  wrapped = RuntimeError(text)
  assert failures.user_error_in(wrapped) is None
  line = failures.one_line(wrapped)
  assert line == ('RuntimeError: ZeroDivisionError: division by zero '
                  "[while running 'ParquetToExamples/ReadValidateEncode/"
                  "ParDo(_ReadValidateEncode)']")


def test_plain_errors_keep_their_first_line():
  assert failures.one_line(ValueError('bad value\nmore detail')) == (
      'ValueError: bad value')
  assert failures.one_line(KeyError()) == 'KeyError'


def test_a_full_disk_is_exit_4_naming_the_file_system(tmp_path):
  error = failures.translate(OSError(errno.ENOSPC, 'No space left on device'),
                             output=str(tmp_path / 'out'))
  assert isinstance(error, errors.NoSpaceError) and error.exit_code == errors.NO_SPACE == 4
  mount = failures.mount_point(str(tmp_path))
  assert str(error).startswith(f'no space left on device: the file system at {mount} '
                               f'(holding {tmp_path / "out"}) is full')
  remote = RuntimeError(REMOTE_TRACEBACK.replace(
      'croptfx.errors.InputDataError: data/a.parquet: cannot be read: bad page',
      "OSError: [Errno 28] No space left on device: '/x/y'"))
  assert failures.translate(remote, output=str(tmp_path)).exit_code == 4
  assert os.path.ismount(mount) and str(tmp_path).startswith(mount)


def test_interrupts_and_remote_errors_keep_their_exit_code():
  assert failures.translate(KeyboardInterrupt()).exit_code == errors.INTERRUPTED == 130
  # Beam's workers turn Ctrl-C into a RuntimeError naming it.
  wrapped = RuntimeError('KeyboardInterrupt')
  assert isinstance(failures.translate(wrapped), errors.Interrupted)
  terminated = errors.Interrupted(errors.TERMINATED)
  assert failures.translate(terminated) is terminated and terminated.exit_code == 143
  busy = RuntimeError(REMOTE_TRACEBACK.replace('InputDataError', 'OutputBusyError'))
  error = failures.translate(busy)
  assert error.exit_code == errors.BUSY and str(error) == (
      'data/a.parquet: cannot be read: bad page')


def test_other_errors_are_exit_1_naming_the_log():
  error = failures.translate(ValueError('bad value\nmore'), log_path='/out/logs/run.log')
  assert isinstance(error, errors.JobFailedError) and error.exit_code == errors.FAILED == 1
  assert str(error) == 'ValueError: bad value (full log: /out/logs/run.log)'
  assert failures.translate(errors.InputDataError('a.parquet', 'bad')).exit_code == 2
