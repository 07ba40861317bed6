"""Per-component CPU cost per 1,000 rows, the inputs of SCALING.md.

    python -m bench.scaling [--pixels-per-year 1000,4000] [--train-steps 100,400]

Runs the whole pipeline in this process (LocalDagRunner, Beam jobs in
memory on one worker, as `croptfx run`) at two data sizes, then `croptfx
predict` over the same rows, and records for each component its wall time
and this process's CPU time (every thread) between the orchestrator's
"running" and "finished" lines. The difference between the two sizes gives
the marginal cost per 1,000 rows (fixed start-up costs cancel), and per
training step for the Trainer (its cost follows steps, not rows). Also
recorded: bytes per row of the ExampleGen output (serialized examples: what
its reshuffle moves) and of the Transform output, and the process's peak
RSS. Prints one JSON document.
"""

import argparse
import datetime
import glob
import io
import json
import logging
import os
import resource
import sys
import tempfile
import time
from typing import Dict, List, Optional

from croptfx import generate

_RUNNING = ('Component %s is running.', 'node %s is running.')
_FINISHED = ('Component %s is finished.', 'node %s is finished.')


class CpuPerComponent(logging.Handler):
  """Process CPU seconds and wall seconds between a component's start and end."""

  def __init__(self):
    super().__init__(level=logging.INFO)
    self._start: Dict[str, tuple] = {}
    self.cpu: Dict[str, float] = {}
    self.wall: Dict[str, float] = {}

  def emit(self, record):
    if record.msg in _RUNNING and record.args:
      self._start[str(record.args[0])] = (time.process_time(), time.monotonic())
    elif record.msg in _FINISHED and record.args:
      node = str(record.args[0])
      cpu, wall = self._start.pop(node)
      self.cpu[node] = round(time.process_time() - cpu, 3)
      self.wall[node] = round(time.monotonic() - wall, 3)


def _record_bytes(uri: str) -> Dict[str, float]:
  """Serialized and on-disk (GZIP) bytes of an examples artifact."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  files = sorted(glob.glob(os.path.join(uri, 'Split-*', '*')))
  serialized = records = 0
  for record in tf.data.TFRecordDataset(files, compression_type='GZIP'):
    serialized += len(record.numpy())
    records += 1
  return {'records': records, 'serialized_bytes': serialized,
          'file_bytes': sum(os.path.getsize(f) for f in files)}


def measure_size(work: str, pixels_per_year: int, train_steps: int) -> Dict[str, object]:
  from pipeline import run as run_lib  # pylint: disable=g-import-not-at-top
  from trainer import predict as predict_lib  # pylint: disable=g-import-not-at-top
  data = os.path.join(work, f'data_{pixels_per_year}')
  rows = generate.write_dataset(data, pixels_per_year, seed=11)['rows']
  output = os.path.join(work, f'run_{pixels_per_year}')
  handler = CpuPerComponent()

  # run_pipeline installs its own log handlers for the run; its progress
  # reporter sees every orchestrator line, so the recorder rides on it.
  class _Recording(run_lib.ProgressReporter):
    def emit(self, record):
      handler.emit(record)
      super().emit(record)

  saved = run_lib.ProgressReporter
  run_lib.ProgressReporter = _Recording
  try:
    summary = run_lib.run_pipeline(data, output, train_steps=train_steps,
                                   accuracy_threshold=0.0, report=False,
                                   stream=io.StringIO())
  finally:
    run_lib.ProgressReporter = saved
  cpu0, wall0 = time.process_time(), time.monotonic()
  predicted = predict_lib.predict(summary['model_dir'], data, datetime.date(2021, 8, 28),
                                  os.path.join(work, f'pred_{pixels_per_year}.parquet'),
                                  progress=False)
  predict_cpu, predict_wall = time.process_time() - cpu0, time.monotonic() - wall0
  return {
      'pixels_per_year': pixels_per_year, 'rows': rows, 'train_steps': train_steps,
      'cpu_seconds': handler.cpu, 'wall_seconds': handler.wall,
      'predict': {'rows': predicted['predicted'], 'cpu_seconds': round(predict_cpu, 3), 'wall_seconds': round(predict_wall, 3),
},
      'examples_bytes': _record_bytes(summary['artifacts']['examples']),
      'transformed_bytes': _record_bytes(summary['artifacts']['transformed_examples']),
      'peak_rss_mib': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
  }


def marginal(small: Dict, large: Dict) -> Dict[str, object]:
  """Per 1,000 rows (per training step for the Trainer), large minus small."""
  rows = large['rows'] - small['rows']
  per_1000 = {}
  for name in large['cpu_seconds']:
    if name == 'Trainer':
      continue
    per_1000[name] = {
        kind: round((large[kind][name] - small[kind][name]) / rows * 1000, 4)
        for kind in ('cpu_seconds', 'wall_seconds')}
  steps = large['train_steps'] - small['train_steps']
  trainer = {kind: round((large[kind]['Trainer'] - small[kind]['Trainer']) / steps, 4)
             for kind in ('cpu_seconds', 'wall_seconds')} if steps else None
  p_rows = large['rows'] - small['rows']
  predict = {kind: round((large['predict'][kind] - small['predict'][kind]) / p_rows * 1000, 4)
             for kind in ('cpu_seconds', 'wall_seconds')}
  return {'per_1000_rows': per_1000, 'trainer_per_step': trainer,
          'predict_per_1000_rows': predict,
          'examples_serialized_bytes_per_row': round(
              large['examples_bytes']['serialized_bytes'] / large['examples_bytes']['records']),
          'examples_file_bytes_per_row': round(
              large['examples_bytes']['file_bytes'] / large['examples_bytes']['records']),
          'transformed_serialized_bytes_per_row': round(
              large['transformed_bytes']['serialized_bytes'] / large['transformed_bytes']['records']),
          'transformed_file_bytes_per_row': round(
              large['transformed_bytes']['file_bytes'] / large['transformed_bytes']['records'])}


def _ints(text: str) -> List[int]:
  return [int(v) for v in text.split(',')]


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(prog='python -m bench.scaling')
  parser.add_argument('--pixels-per-year', type=_ints, default=[1000, 4000])
  parser.add_argument('--train-steps', type=_ints, default=[100, 400])
  args = parser.parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  with tempfile.TemporaryDirectory(prefix='croptfx-scaling-') as work:
    sizes = [measure_size(work, p, s) for p, s in zip(args.pixels_per_year, args.train_steps)]
  print(json.dumps({'sizes': sizes, 'marginal': marginal(sizes[0], sizes[-1])}, indent=1))
  return 0


if __name__ == '__main__':
  sys.exit(main())
