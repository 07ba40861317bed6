"""`croptfx run`: the whole pipeline on one machine, with progress and a summary.

Lays out the output directory, runs the pipeline under LocalDagRunner (or
BeamDagRunner; or LocalDagRunner with the Beam jobs on Beam's PortableRunner,
`pipeline/portable.py`), prints which component is running and how long each took,
keeps the full TFX/Beam/TF logs in `logs/run.log`, then writes
`run_summary.json` and the HTML report.
"""

import contextlib
import logging
import os
import re
import sys
import time
from typing import Dict, List, Optional

from croptfx import errors
from croptfx import layouts
from croptfx import paths
from croptfx import run_summary

_RUNNING = ('Component %s is running.', 'node %s is running.')
_FINISHED = ('Component %s is finished.', 'node %s is finished.')
_CACHED = 'A cached execution %d is used.'


class ProgressReporter(logging.Handler):
  """Turns the orchestrator's log lines into one console line per component."""

  def __init__(self, components: List[str], stream=None):
    super().__init__(level=logging.INFO)
    self._components = components
    self._stream = stream or sys.stdout
    self._started: Dict[str, float] = {}
    self._current: Optional[str] = None
    self.seconds: Dict[str, float] = {}
    self.cached: List[str] = []

  def emit(self, record: logging.LogRecord) -> None:
    if record.msg in _RUNNING and record.args:
      node = str(record.args[0])
      self._current = node
      self._started[node] = time.monotonic()
      self._stream.write(f'[{len(self._started)}/{len(self._components)}] {node} ... ')
      self._stream.flush()
    elif record.msg == _CACHED and self._current:
      self.cached.append(self._current)
    elif record.msg in _FINISHED and record.args:
      node = str(record.args[0])
      seconds = time.monotonic() - self._started.get(node, time.monotonic())
      self.seconds[node] = round(seconds, 2)
      note = ' (cached)' if node in self.cached else ''
      self._stream.write(f'done in {seconds:.1f}s{note}\n')
      self._stream.flush()


@contextlib.contextmanager
def _logging_to(log_path: str, verbose: bool):
  """Full logs to a file; the console only gets progress (or all, verbose).

  The root logger's handlers and level, and absl's verbosity, are put back
  afterwards, so a notebook or test calling `run_pipeline` keeps its own.
  """
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  root = logging.getLogger()
  saved_handlers, saved_level = list(root.handlers), root.level
  saved_absl = absl_logging.get_verbosity()
  for handler in saved_handlers:
    root.removeHandler(handler)
  file_handler = logging.FileHandler(log_path, mode='a', encoding='utf-8')
  file_handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s'))
  ours = [file_handler]
  if verbose:
    ours.append(logging.StreamHandler(sys.stderr))
  for handler in ours:
    root.addHandler(handler)
  root.setLevel(logging.INFO)
  absl_logging.set_verbosity(absl_logging.INFO)
  absl_logging.use_python_logging(quiet=True)
  logging.getLogger('absl').propagate = True
  try:
    yield
  finally:
    for handler in ours:
      root.removeHandler(handler)
    file_handler.close()
    for handler in saved_handlers:
      root.addHandler(handler)
    root.setLevel(saved_level)
    absl_logging.set_verbosity(saved_absl)


@contextlib.contextmanager
def _stderr_to_log(log_path: str, enabled: bool):
  """Points file descriptor 2, which child processes inherit, at the log."""
  if not enabled:
    yield
    return
  sys.stderr.flush()
  saved = os.dup(2)
  with open(log_path, 'ab') as log:
    os.dup2(log.fileno(), 2)
  try:
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)


def _check_data_path(data: str) -> None:
  """Fail early on a local path that does not exist and is not a glob
  (cloud URIs and globs: the ExampleGen lists them)."""
  if '://' in data or os.path.exists(data) or paths.has_glob_chars(data):
    return
  raise errors.InputDataError(data, 'no such file or directory')


def create_local_pipeline(data: str, layout: layouts.RunLayout, year_splits: Dict[int, str],
                          train_steps: Optional[int] = None,
                          epochs: Optional[int] = None,
                          label_mapping: Optional[str] = None,
                          beam_pipeline_args: Optional[List[str]] = None,
                          accuracy_threshold: Optional[float] = None,
                          last_component: Optional[str] = None,
                          model: Optional[str] = None):
  """The pipeline with a local output directory and SQLite ML Metadata."""
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  from croptfx.pipeline import configs  # pylint: disable=g-import-not-at-top
  from croptfx.pipeline import pipeline as pipeline_lib  # pylint: disable=g-import-not-at-top
  trainer_config = dict(configs.TRAINER_CONFIG)
  if epochs:
    trainer_config['epochs'] = epochs
  return pipeline_lib.create_pipeline(
      pipeline_name=configs.PIPELINE_NAME,
      pipeline_root=os.path.abspath(layout.pipeline_root),
      data_path=data if '://' in data else os.path.abspath(data),
      preprocessing_fn=configs.PREPROCESSING_FN,
      run_fn=configs.RUN_FN,
      train_args=tfx.proto.TrainArgs(num_steps=train_steps or configs.TRAIN_NUM_STEPS),
      eval_args=tfx.proto.EvalArgs(num_steps=configs.EVAL_NUM_STEPS),
      eval_accuracy_threshold=(configs.EVAL_ACCURACY_THRESHOLD if accuracy_threshold is None
                               else accuracy_threshold),
      serving_model_dir=os.path.abspath(layout.serving_model_dir),
      year_splits=year_splits,
      as_of_days=configs.AS_OF_DAYS,
      headline_day=configs.HEADLINE_AS_OF_DAY,
      trainer_config=trainer_config,
      label_mapping=os.path.abspath(label_mapping) if label_mapping else None,
      metadata_connection_config=tfx.orchestration.metadata
      .sqlite_metadata_connection_config(os.path.abspath(layout.metadata_path)),
      beam_pipeline_args=beam_pipeline_args,
      transform_statistics=configs.TRANSFORM_STATISTICS,
      compress_examples=configs.COMPRESS_EXAMPLES,
      last_component=last_component,
      model_config=configs.model_trainer_config(model or configs.DEFAULT_MODEL),
      season_as_of_days=configs.SEASON_AS_OF_DAYS,
      baseline_config=configs.BASELINE_CONFIG)


def _dag_runner(runner: str):
  """LocalDagRunner (in-process), or BeamDagRunner whose components' Beam jobs
  use the DirectRunner in multi-processing mode (configs.direct_runner_args)."""
  if runner == 'beam':
    from tfx.orchestration.beam import beam_dag_runner  # pylint: disable=g-import-not-at-top
    return beam_dag_runner.BeamDagRunner()
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  return tfx.orchestration.LocalDagRunner()


def run_pipeline(data: str, output: str, runner: str = 'local', workers: Optional[int] = None,
                 year_splits: Optional[Dict[int, str]] = None,
                 train_steps: Optional[int] = None, epochs: Optional[int] = None,
                 label_mapping: Optional[str] = None, verbose: bool = False,
                 report: bool = True, stream=None,
                 accuracy_threshold: Optional[float] = None,
                 last_component: Optional[str] = None,
                 model: Optional[str] = None) -> Dict[str, object]:
  """Runs the pipeline; returns the run summary as written to run_summary.json."""
  stream = stream or sys.stdout
  if workers is None:
    # In-memory is fastest for a laptop-sized run; the Beam runner shows off
    # (and tests) multi-processing.
    workers = 2 if runner == 'beam' else 1
  layout = layouts.RunLayout(output)
  # A failed run must not leave the previous run's summary and report
  # reading as current: they are renamed `*.previous` before anything else.
  previous = (paths.move_aside([layout.summary_path, layout.report_path])
              if os.path.isdir(output) else [])
  try:
    _check_data_path(data)
    if runner == 'portable' and workers != 1:
      raise errors.CroptfxError(
          '--workers applies to the local and beam runners; with --runner portable '
          'the worker pool starts the SDK workers the job service asks for')
    os.makedirs(output, exist_ok=True)
    with _logging_to(layout.log_path, verbose):
      if previous:
        logging.info('Renamed the previous run summary and report: %s', previous)
      return _run(data, layout, runner, workers, year_splits, train_steps, epochs,
                  label_mapping, verbose, report, stream, accuracy_threshold,
                  last_component, model)
  except errors.CroptfxError as e:
    if os.path.exists(layout.summary_path):  # the report failed, not the run
      raise
    note = 'no run summary was written'
    if isinstance(e, errors.InputDataError):
      raise errors.InputDataError(e.path, f'{e.problem}; {note}', e.column) from None
    raise errors.CroptfxError(f'{e}; {note}') from None


def _run(data, layout, runner, workers, year_splits, train_steps, epochs,
         label_mapping, verbose, report, stream, accuracy_threshold,
         last_component, model) -> Dict[str, object]:
  """`run_pipeline` with the logs already going to `layout.log_path`."""
  from croptfx.pipeline import configs  # pylint: disable=g-import-not-at-top
  with contextlib.ExitStack() as services:
    if runner == 'portable':
      # A job service and an EXTERNAL worker pool, for the whole run.
      from croptfx.jobs import portable  # pylint: disable=g-import-not-at-top
      beam_args = services.enter_context(
          portable.services(os.path.dirname(layout.log_path), configs.PIPELINE_IMAGE))
    else:
      beam_args = configs.direct_runner_args(workers)
    return _run_with(data, layout, runner, workers, year_splits, train_steps, epochs,
                     label_mapping, verbose, report, stream, accuracy_threshold,
                     last_component, beam_args, model)


def _run_with(data, layout, runner, workers, year_splits, train_steps, epochs,
              label_mapping, verbose, report, stream, accuracy_threshold,
              last_component, beam_args, model) -> Dict[str, object]:
  """`_run` with the components' Beam arguments chosen."""
  from croptfx import features  # pylint: disable=g-import-not-at-top
  from croptfx.pipeline import configs  # pylint: disable=g-import-not-at-top
  from croptfx.pipeline import summary as summary_lib  # pylint: disable=g-import-not-at-top
  year_splits = dict(year_splits or configs.YEAR_SPLITS)
  # TFX and Beam see the output through a path without glob characters.
  tfx_output = paths.glob_free_alias(layout.output)
  dsl_pipeline = create_local_pipeline(
      data, layouts.RunLayout(tfx_output), year_splits, train_steps, epochs,
      label_mapping, beam_args, accuracy_threshold, last_component, model)
  components = [c.id for c in dsl_pipeline.components]
  progress = ProgressReporter(components, stream)
  root = logging.getLogger()
  root.addHandler(progress)
  stream.write(f'croptfx run: {len(components)} components, {runner} runner; '
               f'logs in {layout.log_path}\n')
  start = time.monotonic()
  try:
    # Multi-processing Beam workers print their tracebacks to the stderr
    # they inherit, out of reach of the logging handlers.
    with _stderr_to_log(layout.log_path, enabled=workers > 1 and not verbose):
      _dag_runner(runner).run(dsl_pipeline)
  except errors.CroptfxError as e:
    stream.write('failed\n')
    logging.error('Pipeline failed: %s', e)
    raise
  except Exception as e:  # pylint: disable=broad-except
    stream.write('failed\n')
    logging.exception('Pipeline failed')
    cause = _user_error_in(e)
    if cause is not None:
      raise cause from None
    raise errors.CroptfxError(
        f'{_one_line(e)} (full log: {layout.log_path})') from None
  finally:
    root.removeHandler(progress)
  summary = summary_lib.build_summary(
      dsl_pipeline.metadata_connection_config, configs.PIPELINE_NAME,
      progress.seconds, progress.cached,
      os.path.abspath(label_mapping) if label_mapping else None)
  summary.wall_seconds = round(time.monotonic() - start, 2)
  summary.runner = runner
  summary.year_splits = {str(y): name for y, name in year_splits.items()}
  summary.split_roles = features.split_roles(year_splits).to_dict()
  if tfx_output != os.path.abspath(layout.output):
    summary = _real_paths(summary, tfx_output, os.path.abspath(layout.output))
  run_summary.write_summary(layout.summary_path, summary)
  stream.write(f'croptfx run: finished in {summary.wall_seconds:.0f}s\n'
               f'  summary: {layout.summary_path}\n'
               f'  model:   {summary.model_dir or "not pushed (not blessed)"}\n')
  if report and not last_component:
    from croptfx.report import build as report_build  # pylint: disable=g-import-not-at-top
    stream.write(f'  report:  {report_build.write_report(layout.output)}\n')
  return summary.to_dict()


def _real_paths(summary: run_summary.RunSummary, alias: str, real: str) -> run_summary.RunSummary:
  """The summary with the paths under `alias` written under `real`."""
  def fix(path):
    return real + path[len(alias):] if isinstance(path, str) and (
        path == alias or path.startswith(alias + os.sep)) else path
  summary.artifacts = {k: fix(v) for k, v in (summary.artifacts or {}).items()} or None
  summary.model_dir = fix(summary.model_dir)
  summary.quarantine_dir = fix(summary.quarantine_dir)
  return summary


def _user_error_in(exc: BaseException) -> Optional[errors.CroptfxError]:
  """A CroptfxError raised inside a component, however the runner wrapped it."""
  seen = set()
  chain = []
  while exc is not None and id(exc) not in seen:
    seen.add(id(exc))
    if isinstance(exc, errors.CroptfxError):
      return exc
    chain.append(exc)
    exc = exc.__cause__ or exc.__context__
  # Beam's multi-processing workers send an error back as text (a
  # RuntimeError holding the remote traceback), so the type is lost; the
  # error line it ends with still names the file.
  for wrapped in chain:
    found = _REMOTE_USER_ERROR.findall(str(wrapped))
    if found:
      return errors.CroptfxError(found[-1].strip())
  return None


# 'croptfx.errors.InputDataError: <message>', as a traceback's last line
# prints it; Beam may append ' [while running ...]' to the line.
_REMOTE_USER_ERROR = re.compile(
    r'croptfx\.errors\.\w+: (.*?)(?: \[while running .*)?$', re.MULTILINE)


def _one_line(exc: BaseException) -> str:
  """An unexpected error in one console line; run.log has the traceback.

  A remote traceback (Beam's multi-processing workers) is summarized by its
  last error line, other messages by their first line.
  """
  lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
  if not lines:
    return type(exc).__name__
  if 'Traceback (most recent call last)' in str(exc):
    lines = [line for line in lines if not line.startswith('[while running')]
    line = lines[-1] if lines else type(exc).__name__
  else:
    line = lines[0]
  if line.startswith(f'{type(exc).__name__}:'):
    return line
  return f'{type(exc).__name__}: {line}'
