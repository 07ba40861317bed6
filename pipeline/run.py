"""`croptfx run`: the whole pipeline on one machine, with progress and a summary.

Runs in the job frame (`jobs.frame`: output lock, logs in `logs/run.log`,
one error line per cause), checks that ML Metadata and the artifacts on disk
agree (`state.check`), runs the pipeline under LocalDagRunner (or
BeamDagRunner) with the components' Beam jobs on the chosen runner
(`jobs.runners`), prints one line per component, then writes
`run_summary.json` from this run's executions only, and the HTML report.
"""

import datetime
import logging
import os
import sys
import time
from typing import Dict, List, Optional

from tfx import v1 as tfx
from tfx.dsl.compiler import compiler
from tfx.dsl.compiler import constants
from tfx.orchestration.beam import beam_dag_runner
from tfx.orchestration.portable import runtime_parameter_utils

from croptfx.jobs import frame
from croptfx.jobs import progress as progress_lib
from croptfx.jobs import runners
from croptfx import layouts
from croptfx import paths
from croptfx.pipeline import configs
from croptfx.pipeline import pipeline as pipeline_lib
from croptfx.pipeline import run_config
from croptfx.pipeline import state
from croptfx.pipeline import summary as summary_lib
from croptfx.report import build as report_build
from croptfx import run_summary

_RUNNING = ('Component %s is running.', 'node %s is running.')
_FINISHED = ('Component %s is finished.', 'node %s is finished.')
_CACHED = 'A cached execution %d is used.'


class ComponentProgress(logging.Handler):
  """Turns the orchestrator's log lines into one progress line per component."""

  def __init__(self, progress: progress_lib.Progress):
    super().__init__(level=logging.INFO)
    self._progress = progress
    self._current: Optional[str] = None
    self.cached: List[str] = []

  def emit(self, record: logging.LogRecord) -> None:
    if record.msg in _RUNNING and record.args:
      self._current = str(record.args[0])
      self._progress.begin(self._current, self._current)
    elif record.msg == _CACHED and self._current:
      self.cached.append(self._current)
    elif record.msg in _FINISHED and record.args:
      node = str(record.args[0])
      self._progress.end(' (cached)' if node in self.cached else '')


def _dag_runner(runner: runners.Runner):
  """BeamDagRunner for the beam runner (components as Beam tasks, their Beam
  jobs multi-processing), LocalDagRunner otherwise."""
  if runner.name == 'beam':
    return beam_dag_runner.BeamDagRunner()
  return tfx.orchestration.LocalDagRunner()


def new_run_id() -> str:
  """This run's id: TFX's pipeline-run context, the summary's `run_id`."""
  return datetime.datetime.now().strftime('%Y%m%d-%H%M%S.%f')


def local_pipeline(config: run_config.RunConfig, output: str,
                   beam_pipeline_args: Optional[List[str]] = None):
  """The pipeline with its files under `output` and SQLite ML Metadata."""
  layout = layouts.RunLayout(output)
  return pipeline_lib.create_pipeline(
      config.pipeline, pipeline_root=layout.pipeline_root,
      serving_model_dir=layout.serving_model_dir,
      metadata_connection_config=tfx.orchestration.metadata
      .sqlite_metadata_connection_config(layout.metadata_path),
      beam_pipeline_args=beam_pipeline_args)


def _execute(dag_runner, dsl_pipeline, run_id: str) -> None:
  """Runs `dsl_pipeline` as the pipeline run `run_id` (TFX would name the
  run itself, and the summary could not tell this run's executions)."""
  ir = compiler.Compiler().compile(dsl_pipeline)
  runtime_parameter_utils.substitute_runtime_parameter(
      ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
  dag_runner.run_with_ir(ir)


def run_pipeline(config: run_config.RunConfig, stream=None) -> Dict[str, object]:
  """Runs the pipeline; returns the run summary as written to run_summary.json."""
  stream = stream or sys.stdout
  layout = layouts.RunLayout(config.output)
  with frame.Job('run', config.output, log_path=layout.log_path,
                 results=[layout.summary_path, layout.report_path], stream=stream,
                 verbose=config.verbose, failure_note='no run summary was written') as job:
    return _run(config, layout, job)


def _run(config: run_config.RunConfig, layout: layouts.RunLayout,
         job: frame.Job) -> Dict[str, object]:
  state.check(layout, configs.PIPELINE_NAME, job.progress.write)
  run_id = new_run_id()
  start = time.monotonic()
  with runners.beam_args(config.runner, os.path.dirname(layout.log_path)) as beam_args:
    # TFX and Beam see the output through a path without glob characters.
    tfx_output = paths.glob_free_alias(layout.output)
    dsl_pipeline = local_pipeline(config, tfx_output, beam_args)
    job.progress.total = len(dsl_pipeline.components)
    job.progress.write(f'croptfx run: {len(dsl_pipeline.components)} components, '
                       f'{config.runner.describe()}; logs in {layout.log_path}')
    reporter = ComponentProgress(job.progress)
    root = logging.getLogger()
    root.addHandler(reporter)
    try:
      _execute(_dag_runner(config.runner), dsl_pipeline, run_id)
    finally:
      root.removeHandler(reporter)
  summary = summary_lib.build_summary(
      dsl_pipeline.metadata_connection_config, configs.PIPELINE_NAME, run_id,
      job.progress.seconds, reporter.cached, config.pipeline.label_mapping)
  summary.run_id = run_id
  summary.data = config.pipeline.data
  summary.wall_seconds = round(time.monotonic() - start, 2)
  summary.runner = config.runner.name
  summary.year_splits = {str(y): name for y, name in config.pipeline.year_splits.items()}
  summary.split_roles = config.pipeline.roles.to_dict()
  if tfx_output != layout.output:
    summary = _real_paths(summary, tfx_output, layout.output)
  job.write_summary(layout.summary_path, summary.to_dict())
  job.progress.write(f'croptfx run: finished in {summary.wall_seconds:.0f}s\n'
                     f'  summary: {layout.summary_path}\n'
                     f'  model:   {summary.model_dir or "not pushed (not blessed)"}')
  if config.report:
    job.progress.write(f'  report:  {report_build.write_report(layout.output)}')
  return summary.to_dict()


def _real_paths(summary: run_summary.RunSummary, alias: str,
                real: str) -> run_summary.RunSummary:
  """The summary with the paths under `alias` written under `real`."""
  def fix(path):
    return real + path[len(alias):] if isinstance(path, str) and (
        path == alias or path.startswith(alias + os.sep)) else path
  summary.artifacts = {k: fix(v) for k, v in (summary.artifacts or {}).items()} or None
  summary.model_dir = fix(summary.model_dir)
  summary.quarantine_dir = fix(summary.quarantine_dir)
  return summary
