"""`croptfx bench`: the loaders and the pipeline's Beam part, side by side.

One session, one generated data set (1x, and 10x the pixels for the scaling
cases); every case runs in this process or in a fresh child process:
  A  the seed's in-memory loader (`seed_loader`)              examples/s
  B  the Trainer's `input_fn` over the Transform output      examples/s
  C  the same TFRecords read without parsing                  records/s
  (B and C also over a GZIP copy of the records, reported only)
  D  ExampleGen + Transform (DirectRunner) against one pyarrow + NumPy
     pass computing the same grids (`numpy_pass`), at 1x and 10x
  E  peak RSS of the Beam part at 1x and 10x, each in a fresh process
  T  the Trainer's training (`input_fn` + `fit`) against the same `fit` on
     batches held in memory (`trainer_speed`)
The machine may be shared, so targets are judged on ratios of cases
measured side by side: A, B and C alternate in rounds (medians of per-round
ratios); the NumPy pass is timed before and after the Beam runs.
"""

import dataclasses
import os
import shutil
import sys
import tempfile
import time
from typing import Optional, Tuple

from absl import logging as absl_logging
import tensorflow as tf

from croptfx.bench import benchmarks_file
from croptfx.bench import measure
from croptfx.bench import results
from croptfx.generate import part1
from croptfx.pipeline import configs

DEFAULT_PIXELS_PER_YEAR = 2000
QUICK_PIXELS_PER_YEAR = 500
SCALE = 10
_MIB = 2**20


@dataclasses.dataclass(frozen=True)
class Settings:
  pixels_per_year: int
  quick: bool
  rounds: int  # A/B/C rounds
  loader_seconds: float  # timed seconds per case and round
  numpy_repeats: int
  trainer_rounds: int = 3  # T/T0 rounds
  trainer_steps: int = 100  # timed steps per epoch
  # Transform statistics as `croptfx run` sets them first and, in full
  # runs, the other way too.
  statistics_variants: Tuple[bool, ...] = (
      configs.TRANSFORM_STATISTICS, not configs.TRANSFORM_STATISTICS)
  batch_size: int = configs.TRAINER_CONFIG['batch_size']
  scale: int = SCALE


def settings_for(pixels_per_year: Optional[int], quick: bool) -> Settings:
  if pixels_per_year is not None and pixels_per_year < 10:
    raise ValueError('--pixels-per-year must be at least 10')
  if quick:
    return Settings(pixels_per_year or QUICK_PIXELS_PER_YEAR, True, rounds=3,
                    loader_seconds=1.5, numpy_repeats=3,
                    trainer_rounds=2, trainer_steps=50,
                    statistics_variants=(configs.TRANSFORM_STATISTICS,))
  return Settings(pixels_per_year or DEFAULT_PIXELS_PER_YEAR, False,
                  rounds=5, loader_seconds=3.0, numpy_repeats=5)


def command_line(pixels_per_year: Optional[int], quick: bool,
                 output: Optional[str]) -> str:
  """The command as a reader would type it (no local paths)."""
  parts = ['croptfx', 'bench']
  if pixels_per_year is not None:
    parts += ['--pixels-per-year', str(pixels_per_year)]
  if quick:
    parts.append('--quick')
  if output:
    parts += ['--output', os.path.basename(output)]
  return ' '.join(parts)


class Log:
  """One console line per step, with its duration."""

  def __init__(self, stream=None):
    self._stream = stream or sys.stdout
    self._start = time.perf_counter()

  def write(self, text: str, end: str = '\n') -> None:
    self._stream.write(text + end)
    self._stream.flush()

  def step(self, message: str) -> '_Step':
    return _Step(self, message)

  @property
  def elapsed(self) -> float:
    return time.perf_counter() - self._start


class _Step:

  def __init__(self, log: Log, message: str):
    self._log, self._message = log, message

  def __enter__(self):
    self._start = time.perf_counter()
    self._log.write(f'{self._message} ... ', end='')
    return self

  def __exit__(self, exc_type, *unused):
    self._log.write('failed' if exc_type else
                    f'{time.perf_counter() - self._start:.1f} s')


def collect(settings: Settings, tmp: str, log: Log) -> results.Measurements:
  """Runs every case; data and artifacts go to `tmp`."""
  rows, parquet_mib, beam, numpy_seconds = {}, {}, {}, {}
  comparison = None
  as_run = settings.statistics_variants[0]  # as `croptfx run`
  for scale in (1, settings.scale):
    data_dir = os.path.join(tmp, f'data-{scale}x')
    pixels = settings.pixels_per_year * scale
    with log.step(f'generating {scale}x data ({pixels} pixels x '
                  f'{len(configs.YEAR_SPLITS)} years)'):
      written = part1.write_dataset(data_dir, pixels,
                                       years=sorted(configs.YEAR_SPLITS))
    rows[scale] = written['rows']
    parquet_mib[scale] = sum(os.path.getsize(f)
                             for f in written['files']) / _MIB
    with log.step(f'D {scale}x: NumPy pass'):
      before, result = measure.time_numpy_pass(data_dir, settings.numpy_repeats)
    for statistics in settings.statistics_variants:
      label = 'with' if statistics else 'without'
      with log.step(f'D/E {scale}x: ExampleGen + Transform {label} '
                    'Transform statistics, fresh process'):
        beam[(scale, statistics)] = measure.time_beam_part(
            data_dir, os.path.join(tmp, f'beam-{scale}x-{label}-statistics'),
            statistics, tmp, scale)
    with log.step(f'D {scale}x: NumPy pass again'):
      after, _ = measure.time_numpy_pass(data_dir, settings.numpy_repeats)
    numpy_seconds[scale] = (before + after) / 2
    if scale == 1:
      with log.step('D 1x: NumPy grids against the Transform output'):
        comparison = measure.compare_with_transform(result, beam[(1, as_run)])
  log.write('A/B/C: loaders on the 1x train year, alternating')
  loader_rates = measure.loader_rates(
      os.path.join(tmp, 'data-1x'), beam[(1, as_run)], settings.batch_size,
      settings.rounds, settings.loader_seconds, log, tmp)
  log.write('T: the Trainer\'s training against the in-memory limit, alternating')
  trainer_rates = measure.trainer_rates(beam[(1, as_run)], settings.trainer_rounds,
                                        settings.trainer_steps, log)
  return results.Measurements(settings, rows, parquet_mib, beam,
                              numpy_seconds, comparison, loader_rates,
                              trainer=trainer_rates)


def _quiet_libraries() -> None:
  """TF deprecation notes and TFX info lines would bury the table."""
  absl_logging.set_verbosity(absl_logging.ERROR)
  tf.get_logger().setLevel('ERROR')


def main(pixels_per_year: Optional[int], quick: bool, output: Optional[str]) -> None:
  """`croptfx bench` (arguments parsed by croptfx/cli.py)."""
  settings = settings_for(pixels_per_year, quick)
  command = command_line(pixels_per_year, quick, output)
  output = output or 'BENCHMARKS.md'
  machine = benchmarks_file.machine_info()
  _quiet_libraries()
  log = Log()
  log.write(f'croptfx bench: {settings.pixels_per_year} pixels per year, '
            f'{"quick" if settings.quick else "full"} run')
  tmp = tempfile.mkdtemp(prefix='croptfx-bench-')
  try:
    m = collect(settings, tmp, log)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  m.seconds = log.elapsed
  section = results.render(m, command, machine)
  log.write('\n' + section)
  benchmarks_file.write_benchmarks(output, section)
  log.write(f'croptfx bench: wrote {output}')
  if not m.comparison.equal:
    log.write('croptfx bench: WARNING: the NumPy pass and the Transform '
              'output differ (see the notes above)')
