"""`croptfx bench --map`: the map job against the serving signature alone.

  F  map pixels/s: `croptfx map` (a fresh process, the Beam map job on the
     chosen runner) over a wall-to-wall area, rows predicted / seconds of the
     job step (reading, checking, encoding, RunInference, GeoParquet shards;
     the worker's model load included), against the limit: the pushed
     model's `serving_default` called in this process on batches of
     serialized examples encoded beforehand, at the job's batch size
     (one pass just before and one just after each map job; the mean: the
     machine may be shared). Target >= 0.7. Also CPU time per pixel of both,
     which the load of other processes changes much less.
  G  peak RSS of the `croptfx map` process tree (polled) at 10x the rows of
     1x. Target <= 1.3.

The model is a small one trained for the occasion (`croptfx run`, few
steps): the signature's cost per row depends on the network's shape, not on
how well it was trained.
"""

import dataclasses
import io
import os
import shutil
import tempfile
import time
from typing import Dict, List, Optional, Tuple

from croptfx.bench import benchmarks_file
from croptfx.bench import memory
from croptfx.bench import table
from croptfx.generate import part1
from croptfx import layouts
from croptfx.maps import model_handler
from croptfx.pipeline import configs
from croptfx.pipeline import run as run_lib
from croptfx.pipeline import run_config
from croptfx.rows import encoding
from croptfx.rows import reader

BEGIN = '<!-- croptfx bench --map: generated results begin -->'
END = '<!-- croptfx bench --map: generated results end -->'
AS_OF = '2021-07-15'
_MIB = 2**20


@dataclasses.dataclass(frozen=True)
class Sizes:
  one: Tuple[int, int]  # aoi of the 1x area
  ten: Tuple[int, int]  # about 10x its pixels
  train_pixels: int
  train_steps: int


FULL = Sizes(one=(200, 150), ten=(632, 475), train_pixels=300, train_steps=100)
QUICK = Sizes(one=(100, 75), ten=(316, 237), train_pixels=200, train_steps=60)


def _train(tmp: str, sizes: Sizes, log) -> str:
  data = os.path.join(tmp, 'train-data')
  part1.write_dataset(data, sizes.train_pixels, years=sorted(configs.YEAR_SPLITS), seed=0)
  summary = run_lib.run_pipeline(
      run_config.run_config(data, os.path.join(tmp, 'run'), report=False,
                            train_steps=sizes.train_steps, epochs=2, blessing_threshold=0.0),
      stream=io.StringIO())
  if not summary.get('model_dir'):
    raise RuntimeError('the bench model was not pushed')
  log(f'  model trained ({sizes.train_steps} steps)')
  return summary['model_dir']


class Limit:
  """`serving_default` alone on pre-encoded batches: the map job's limit."""

  def __init__(self, model_dir: str, data: str, batch_rows: int):
    self._model = model_handler.LoadedModel(model_dir)
    encoder = encoding.ExampleEncoder()
    examples: List[bytes] = []
    for f in reader.list_input_files(data):
      for batch in reader.read_batches(f.path, batch_rows):
        examples += encoder.encode(batch)
    self.rows = len(examples)
    self._batches = [examples[i:i + batch_rows] for i in range(0, len(examples), batch_rows)]
    self._model(self._batches[0], AS_OF)  # the first call optimizes the graph

  def measure(self) -> Dict[str, float]:
    """One pass: rows/s and CPU us per row (this process, every thread)."""
    start, cpu0 = time.perf_counter(), time.process_time()
    for batch in self._batches:
      self._model(batch, AS_OF)
    return {'rate': self.rows / (time.perf_counter() - start),
            'cpu_us': (time.process_time() - cpu0) / self.rows * 1e6}


def run_map_job(model_dir: str, data: str, output: str, runner: str,
                workers: Optional[int]) -> Dict[str, object]:
  """`croptfx map` in a fresh process; its summary and peak tree RSS."""
  summary, tracked = memory.run_croptfx(
      ['map', '--model', model_dir, '--data', data, '--as-of', AS_OF, '--output', output,
       '--runner', runner] + (['--workers', str(workers)] if workers else []),
      layouts.MapLayout(output).summary_path)
  cpu = summary['cpu_seconds']
  return {'summary': summary, 'peak_rss': tracked.peak_tree_rss, 'seconds': tracked.seconds,
          'processes': tracked.peak_processes,
          'job_rate': summary['predicted'] / summary['seconds']['job'],
          'job_cpu_us': (cpu['job'] + cpu['job_worker_processes']) / summary['predicted'] * 1e6}


def render(results: Dict[str, object], command: str, machine: Dict[str, str]) -> str:
  jobs = results['jobs']
  figures = []
  for (scale, runner), job in jobs.items():
    s = job['summary']
    figures.append(table.Figure(
        'F', f'map job, {runner}, {scale}x ({s["predicted"]:,} pixels)', job['job_rate'], '/s',
        f"job step {s['seconds']['job']:.1f} s, {job['job_cpu_us']:.0f} us CPU per pixel; "
        f"whole command {job['seconds']:.1f} s"))
    figures.append(table.Figure(
        'F', 'limit around it', job['limit']['rate'], '/s',
        f"mean of the passes just before and after, {job['limit']['cpu_us']:.0f} us CPU per row"))
  for (scale, runner), job in jobs.items():
    figures.append(table.Figure('G', f'peak RSS of croptfx map, {runner}, {scale}x',
                                job['peak_rss'] / _MIB, 'MiB',
                                f"{job['processes']} processes at most"))
  ratios = []
  for runner in results['runners']:
    ten, one = jobs[(10, runner)], jobs[(1, runner)]
    ratios.append(table.Ratio(f'F map job ({runner}, 10x) / limit',
                              table.safe_ratio(ten['job_rate'], ten['limit']['rate']), '>=', 0.7,
                              'pixels/s against the limit measured around the job'))
    ratios.append(table.Ratio(f'F limit / map job CPU per pixel ({runner}, 10x)',
                              table.safe_ratio(ten['limit']['cpu_us'], ten['job_cpu_us']),
                              note='CPU time: what the ratio is without the load of others'))
    ratios.append(table.Ratio(f'F map job ({runner}, 1x) / limit',
                              table.safe_ratio(one['job_rate'], one['limit']['rate']),
                              note='reported: the fixed start-up weighs more'))
    ratios.append(table.Ratio(f'G peak RSS ({runner}) 10x / 1x',
                              table.safe_ratio(ten['peak_rss'], one['peak_rss']), '<=', 1.3))
  return benchmarks_file.results_section(
      'Latest map results', command, results['seconds'], machine,
      table.figures_table(figures), table.ratios_table(ratios),
      f"Limit: `serving_default` alone on {results['batch_rows']}-row batches encoded "
      "beforehand, one pass over the 1x area just before and one just after each map job.")


def main(quick: bool, output: Optional[str], runners: Tuple[str, ...] = ('local', 'beam')) -> int:
  """`croptfx bench --map` (arguments parsed by croptfx/cli.py)."""
  sizes = QUICK if quick else FULL
  case = benchmarks_file.Case.begin('--map', quick, output)

  log = case.log

  batch_rows = model_handler.DEFAULT_MIN_BATCH_ROWS
  tmp = tempfile.mkdtemp(prefix='croptfx-bench-map-')
  try:
    log(f'croptfx bench --map: training a small model, areas {sizes.one} and {sizes.ten}')
    model_dir = _train(tmp, sizes, log)
    data = {}
    for scale, aoi in ((1, sizes.one), (10, sizes.ten)):
      data[scale] = os.path.join(tmp, f'area-{scale}x')
      written = part1.write_dataset(data[scale], aoi=aoi, years=[2021], seed=7,
                                       rows_per_file=20000)
      log(f'  {scale}x area: {written["rows"]} rows')
    limit = Limit(model_dir, data[1], batch_rows)
    jobs = {}
    for runner in runners:
      for scale in (1, 10):
        before = limit.measure()
        job = run_map_job(model_dir, data[scale], os.path.join(tmp, f'map-{runner}-{scale}x'),
                          runner, 2 if runner == 'beam' else None)
        after = limit.measure()
        job['limit'] = {k: (before[k] + after[k]) / 2 for k in before}
        jobs[(scale, runner)] = job
        log(f"  map {runner} {scale}x: {job['job_rate']:,.0f} pixels/s "
            f"(limit {before['rate']:,.0f}/s before, {after['rate']:,.0f}/s after), "
            f"peak RSS {job['peak_rss'] / _MIB:,.0f} MiB")
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  section = render({'batch_rows': batch_rows, 'jobs': jobs, 'runners': runners,
                    'seconds': case.seconds}, case.command, case.machine)
  log('\n' + section)
  benchmarks_file.write_benchmarks(case.output, section, BEGIN, END)
  log(f'croptfx bench --map: wrote {case.output}')
  return 0
