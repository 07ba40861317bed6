"""The measurements of each case, run by `bench.main.collect`."""

import dataclasses
import functools
import json
import os
import sys
import time
from typing import Any, Dict, List

import numpy as np

from croptfx.bench import loaders
from croptfx.bench import memory
from croptfx.bench import numpy_pass
from croptfx.bench import seed_loader
from croptfx.bench import table
from croptfx.bench import trainer_speed
from croptfx import features
from croptfx import layouts
from croptfx import outputs
from croptfx.pipeline import configs
from croptfx import records
from croptfx.rows import reader


@dataclasses.dataclass
class BeamRun:
  """One ExampleGen + Transform child process (see `beam_part`)."""
  scale: int
  statistics: bool
  result: Dict[str, Any]  # `beam_part.BeamPartResult` as a dict
  tracked: memory.Tracked

  @property
  def seconds(self) -> float:
    return (self.result['example_gen_seconds'] +
            self.result['transform_seconds'])


def time_beam_part(data_dir: str, output_dir: str, statistics: bool,
              tmp_dir: str, scale: int) -> BeamRun:
  """D and E: the Beam part in a fresh process, its tree's RSS polled."""
  result_path = output_dir + '.json'
  cmd = [sys.executable, '-m', 'croptfx.bench.beam_part', '--data', data_dir,
         '--output', output_dir, '--result', result_path]
  if not statistics:
    cmd.append('--no-statistics')
  # TMPDIR: TFX packs itself into a temporary sdist per executor.
  env = dict(os.environ, TMPDIR=tmp_dir, TF_CPP_MIN_LOG_LEVEL='3',
             PYTHONWARNINGS='ignore')
  tracked = memory.run_tracked(cmd, env=env)
  if tracked.returncode:
    tail = '\n'.join(tracked.stderr.strip().splitlines()[-15:])
    raise RuntimeError(f'the Beam part failed (exit {tracked.returncode}):\n'
                       f'{tail}')
  with open(result_path, encoding='utf-8') as f:
    return BeamRun(scale, statistics, json.load(f), tracked)


def time_numpy_pass(data_dir: str, repeats: int):
  """(median seconds, last result) of the NumPy pass over `data_dir`."""
  seconds, result = [], None
  for _ in range(repeats):
    start = time.perf_counter()
    result = numpy_pass.run(data_dir, configs.YEAR_SPLITS)
    seconds.append(time.perf_counter() - start)
  return table.median(seconds), result


def compare_with_transform(result, beam: BeamRun):
  """NumPy pass vs the Transform output over every split (summed counts),
  with the rows each dropped (the ExampleGen's counts.json)."""
  transformed_uri = beam.result['transformed_examples_uri']
  total = numpy_pass.Comparison(0, 0, 0, result.rows_read, result.dropped,
                                beam.result['counts']['quarantined'])
  for split, outs in result.splits.items():
    transformed = records.read_examples(layouts.split_dir(transformed_uri, split),
                                          features.transformed_feature_spec())
    c = numpy_pass.compare(outs, transformed)
    total = numpy_pass.Comparison(
        total.rows_transform + c.rows_transform,
        total.rows_numpy + c.rows_numpy,
        total.rows_identical + c.rows_identical, total.rows_read,
        total.dropped, total.example_gen_dropped)
  return total


# The loader cases; B0 and C0 are B and C over a copy of the same records in
# the other compression (GZIP when the pipeline writes them uncompressed, as
# `croptfx run` does): reported, not judged.
LOADER_CASES = ('A', 'B', 'C', 'B0', 'C0')


@dataclasses.dataclass
class LoaderRates:
  """Examples (records for C) per second of each case, one per round."""
  rates: Dict[str, List[float]]
  train_rows: int
  # CPU seconds of this process per example, every thread, one per round.
  cpu_per_example: Dict[str, List[float]] = dataclasses.field(
      default_factory=dict)
  # Compression of the B0/C0 copy ('GZIP' or ''); B and C read the other.
  copy_compression: str = 'GZIP'


def loader_rates(data_dir: str, beam: BeamRun, batch_size: int, rounds: int,
            seconds: float, log, tmp_dir: str) -> LoaderRates:
  """The loader cases on the train year, in rounds of rotating order."""

  train_year = [year for year, split in configs.YEAR_SPLITS.items()
                if split == features.TRAIN_SPLIT][0]
  with log.step('  loading the train year into pandas (not timed)'):
    frame = seed_loader.load_frame(
        [f.path for f in reader.list_input_files(data_dir)], train_year)
  graph_uri = beam.result['transform_graph_uri']
  transformed_uri = beam.result['transformed_examples_uri']
  # A normalizes with the same train-year statistics as the Transform.
  stats = outputs.read_band_statistics(graph_uri)
  mean, std = np.array(stats['band_mean']), np.array(stats['band_std'])
  fn_args = loaders.trainer_fn_args(transformed_uri, graph_uri)
  train_files = records.split_files(transformed_uri, features.TRAIN_SPLIT)
  copy_files = loaders.other_compression_copy(
      train_files, os.path.join(tmp_dir, 'copy-train'))
  datasets = {
      'A': lambda r: seed_loader.make_dataset(frame, mean, std, batch_size),
      'B': lambda r: loaders.trainer_dataset(fn_args, batch_size, seed=r),
      'C': lambda r: loaders.raw_dataset(train_files, batch_size),
      'B0': lambda r: loaders.trainer_dataset(fn_args, batch_size, seed=r,
                                                  files=copy_files),
      'C0': lambda r: loaders.raw_dataset(copy_files, batch_size),
  }
  assert tuple(datasets) == LOADER_CASES
  rates = {name: [] for name in datasets}
  cpu = {name: [] for name in datasets}
  for r in range(rounds):
    # Rotated so that no case always runs right after the same one.
    k = r % len(datasets)
    names = list(datasets)[k:] + list(datasets)[:k]
    with log.step(f'  round {r + 1}/{rounds} ({", ".join(names)})'):
      for name in names:
        throughput = loaders.measure_throughput(
            functools.partial(datasets[name], r), seconds)
        rates[name].append(throughput.per_second)
        cpu[name].append(throughput.cpu_per_example)
  return LoaderRates(rates, len(frame), cpu,
                     records.record_compression(copy_files))


def trainer_rates(beam: BeamRun, rounds: int, steps: int, log):
  """T and T0 on the 1x train split, with `croptfx run`'s Trainer settings."""
  fn_args = loaders.trainer_fn_args(beam.result['transformed_examples_uri'],
                                    beam.result['transform_graph_uri'])
  # As `croptfx run` configures the Trainer: its settings and the default
  # architecture's (without the latter the model cannot be built).
  hparams = configs.trainer_hparams(configs.DEFAULT_MODEL)
  return trainer_speed.rates(fn_args, hparams, rounds, steps, log)
