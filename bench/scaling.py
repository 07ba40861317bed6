"""Per-component CPU cost per 1,000 rows, the inputs of SCALING.md.

    croptfx bench --scaling [--scaling-sizes 1000,4000] [--scaling-steps 100,400]

Runs the whole pipeline in this process (LocalDagRunner, Beam jobs in
memory on one worker, as `croptfx run`) at two data sizes, then `croptfx
predict` over the same rows, and records for each component its wall time
and the CPU time (every thread, of this process and of its child processes:
the portable runner's job service and workers) between the orchestrator's
"running" and "finished" lines. The difference between the two sizes gives
the marginal cost per 1,000 rows (fixed start-up costs cancel), and per
training step for the Trainer (its cost follows steps, not rows). Also
recorded: bytes per row of the ExampleGen output (serialized examples: what
its reshuffle moves) and of the Transform output, and the process's peak
RSS. Prints one JSON document.
"""

import datetime
import glob
import io
import json
import logging
import os
import resource
import tempfile
import threading
import time
from typing import Dict, Optional, Sequence


from croptfx.bench import memory
from croptfx.generate import part1
from croptfx.maps import run as map_run
from croptfx.pipeline import configs
from croptfx.pipeline import run as run_lib
from croptfx.pipeline import run_config
from croptfx import records

_RUNNING = ('Component %s is running.', 'node %s is running.')
_FINISHED = ('Component %s is finished.', 'node %s is finished.')


_TICKS = os.sysconf('SC_CLK_TCK')


def _process_cpu(pid: int) -> float:
  """utime + stime of a live process, seconds (0 if it is gone)."""
  try:
    with open(f'/proc/{pid}/stat', 'rb') as f:
      stat = f.read()
  except OSError:
    return 0.0
  fields = stat[stat.rindex(b')') + 2:].split()
  return (int(fields[11]) + int(fields[12])) / _TICKS


class TreeCpu:
  """CPU seconds of this process plus its descendants (the portable runner's
  job service, worker pool and SDK workers), polled from /proc every
  `interval` seconds; a child's last sample before it exits stands for its
  total, so up to `interval` per child process is missed."""

  def __init__(self, interval: float = 0.2):
    self._interval = interval
    self._seen: Dict[int, float] = {}
    self.peak_child_rss = 0  # bytes, the largest child process seen
    self._lock = threading.Lock()
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._poll, daemon=True)

  def _poll(self):
    me = os.getpid()
    while not self._stop.wait(self._interval):
      self.sample(me)

  def sample(self, me: int) -> None:
    for pid in memory.process_tree(me):
      if pid != me:
        cpu, rss = _process_cpu(pid), memory.rss_bytes(pid)
        with self._lock:
          self._seen[pid] = max(self._seen.get(pid, 0.0), cpu)
          self.peak_child_rss = max(self.peak_child_rss, rss)

  def seconds(self) -> float:
    self.sample(os.getpid())
    with self._lock:
      return time.process_time() + sum(self._seen.values())

  def __enter__(self):
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._stop.set()
    self._thread.join()


class CpuPerComponent(logging.Handler):
  """CPU seconds (this process and its children) and wall seconds between a
  component's start and end."""

  def __init__(self, tree: TreeCpu):
    super().__init__(level=logging.INFO)
    self._tree = tree
    self._start: Dict[str, tuple] = {}
    self.cpu: Dict[str, float] = {}
    self.wall: Dict[str, float] = {}

  def emit(self, record):
    if record.msg in _RUNNING and record.args:
      self._start[str(record.args[0])] = (self._tree.seconds(), time.monotonic())
    elif record.msg in _FINISHED and record.args:
      node = str(record.args[0])
      cpu, wall = self._start.pop(node)
      self.cpu[node] = round(self._tree.seconds() - cpu, 3)
      self.wall[node] = round(time.monotonic() - wall, 3)


def _record_bytes(uri: str) -> Dict[str, float]:
  """Serialized and on-disk bytes of an examples artifact."""
  files = sorted(glob.glob(os.path.join(uri, 'Split-*', '*')))
  serialized = serialized = 0
  for record in records.tfrecord_dataset(files):
    serialized += len(record.numpy())
    serialized += 1
  return {'records': serialized, 'serialized_bytes': serialized,
          'file_bytes': sum(os.path.getsize(f) for f in files)}


def measure_size(work: str, pixels_per_year: int, train_steps: int,
                 runner: str = 'local', last_component: Optional[str] = None
                 ) -> Dict[str, object]:
  data = os.path.join(work, f'data_{pixels_per_year}')
  rows = part1.write_dataset(data, pixels_per_year, years=sorted(configs.YEAR_SPLITS), seed=11)['rows']
  output = os.path.join(work, f'run_{pixels_per_year}')
  tree = TreeCpu()
  handler = CpuPerComponent(tree)

  # run_pipeline installs its own log handlers for the run; its progress
  # reporter sees every orchestrator line, so the recorder rides on it.
  class _Recording(run_lib.ProgressReporter):
    def emit(self, record):
      handler.emit(record)
      super().emit(record)

  saved = run_lib.ComponentProgress
  run_lib.ComponentProgress = _Recording
  try:
    with tree:
      summary = run_lib.run_pipeline(
          run_config.run_config(data, output, runner=runner, report=False,
                                train_steps=train_steps, blessing_threshold=0.0,
                                last_component=last_component),
          stream=io.StringIO())
  finally:
    run_lib.ComponentProgress = saved
  result = {
      'pixels_per_year': pixels_per_year, 'rows': rows, 'train_steps': train_steps,
      'runner': runner, 'cpu_seconds': handler.cpu, 'wall_seconds': handler.wall,
      'examples_bytes': _record_bytes(summary['artifacts']['examples']),
      'peak_rss_mib': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
      # The portable runner's largest child: an SDK worker (or the job service).
      'peak_child_rss_mib': round(tree.peak_child_rss / 2**20),
  }
  if last_component:
    return result
  cpu0, wall0 = time.process_time(), time.monotonic()
  # The map job on one in-memory worker; rows of other years are skipped
  # (as_of_outside_year), so 'rows' counts the 2021 rows predicted.
  predicted = map_run.predict(summary['model_dir'], data, datetime.date(2021, 8, 28),
                              os.path.join(work, f'pred_{pixels_per_year}.parquet'))
  predict_cpu, predict_wall = time.process_time() - cpu0, time.monotonic() - wall0
  result.update({
      'predict': {'rows': predicted['predicted'], 'cpu_seconds': round(predict_cpu, 3),
                  'wall_seconds': round(predict_wall, 3)},
      'transformed_bytes': _record_bytes(summary['artifacts']['transformed_examples']),
      'peak_rss_mib': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
  })
  return result


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
  result = {'per_1000_rows': per_1000,
            'examples_serialized_bytes_per_row': round(
                large['examples_bytes']['serialized_bytes'] / large['examples_bytes']['records']),
            'examples_file_bytes_per_row': round(
                large['examples_bytes']['file_bytes'] / large['examples_bytes']['records'])}
  if 'predict' not in large:
    return result
  steps = large['train_steps'] - small['train_steps']
  if steps:
    result['trainer_per_step'] = {
        kind: round((large[kind]['Trainer'] - small[kind]['Trainer']) / steps, 4)
        for kind in ('cpu_seconds', 'wall_seconds')}
  result['predict_per_1000_rows'] = {
      kind: round((large['predict'][kind] - small['predict'][kind]) / rows * 1000, 4)
      for kind in ('cpu_seconds', 'wall_seconds')}
  for key in ('serialized_bytes', 'file_bytes'):
    result[f'transformed_{key}_per_row'] = round(
        large['transformed_bytes'][key] / large['transformed_bytes']['records'])
  return result


# Projection assumptions (SCALING.md states why; none is measured here).
VCPUS_PER_WORKER = 4        # e2-standard-4, pipeline/dataflow.py's default
UTILIZATION = 0.7           # share of worker vCPU time doing pipeline work
STARTUP_MINUTES = 4.0       # per Dataflow job: VMs up, image pulled
TARGET_WORK_MINUTES = 10.0  # workers per job chosen to finish in about this
MAX_WORKERS = 100
BEAM_COMPONENTS = ('ParquetExampleGen', 'StatisticsGen', 'Transform', 'Evaluator')


def project(per_1000: Dict[str, float], rows: int, fn_api_factor: float = 1.0
            ) -> Dict[str, object]:
  """Dataflow workers, wall time and vCPU-hours for `rows` pixel-years.

  `per_1000`: measured CPU seconds per 1,000 rows per Beam component. Each
  Beam component is one Dataflow job; they run one after another.
  """
  jobs = {}
  for name in BEAM_COMPONENTS:
    cpu = per_1000[name] * rows / 1000 * fn_api_factor
    per_worker = VCPUS_PER_WORKER * UTILIZATION
    workers = max(1, min(MAX_WORKERS, -(-cpu // (per_worker * TARGET_WORK_MINUTES * 60))))
    work_seconds = cpu / (workers * per_worker)
    jobs[name] = {'cpu_hours': cpu / 3600, 'workers': int(workers),
                  'minutes': STARTUP_MINUTES + work_seconds / 60,
                  'vcpu_hours': workers * VCPUS_PER_WORKER *
                                (STARTUP_MINUTES * 60 + work_seconds) / 3600}
  return {'jobs': jobs,
          'cpu_hours': sum(j['cpu_hours'] for j in jobs.values()),
          'minutes': sum(j['minutes'] for j in jobs.values()),
          'vcpu_hours': sum(j['vcpu_hours'] for j in jobs.values()),
          'max_workers': max(j['workers'] for j in jobs.values())}


def main(pixels_per_year: Sequence[int], train_steps: Sequence[int], runner: str = 'local',
         last_component: Optional[str] = None) -> int:
  """Measures each size and prints one JSON document (`croptfx bench --scaling`)."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  with tempfile.TemporaryDirectory(prefix='croptfx-scaling-') as work:
    sizes = [measure_size(work, p, s, runner, last_component)
             for p, s in zip(pixels_per_year, train_steps)]
  print(json.dumps({'sizes': sizes, 'marginal': marginal(sizes[0], sizes[-1])}, indent=1))
  return 0
