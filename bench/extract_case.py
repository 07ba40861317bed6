"""`croptfx bench --extract`: the extraction's sampling against bare reads.

  X  scene-samples per second of the extraction's sampling path
     (`extract.sample.scene_blocks` over every work item: one windowed read
     per asset, the pixel centres moved into the scene's UTM zone, the
     nearest cells picked, harmonized), against the limit: the bare
     windowed reads of the same assets with rasterio in a loop (open, read
     the window covering the chunk, close; 13 assets a work item), under
     the same GDAL settings, in this process. A scene-sample is one pixel
     seen by one scene. Rounds alternate limit and sampling; the ratio of
     each round's pair, the median reported. Target >= 0.5. Also the whole
     `croptfx extract` job step (Beam, grouping, packing, shards) against
     the same limit, reported.
  Y  peak RSS of the `croptfx extract` process tree (polled), local runner,
     with 2N scenes against N over the same area (a revisit of 5 days
     against 10). Target <= 1.2.

The imagery is `croptfx generate --imagery` of one season (2022: offsets to
harmonize), made for the occasion.
"""

import dataclasses
import math
import os
import shutil
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import rasterio
from rasterio import warp
from rasterio import windows

from croptfx import layouts
from croptfx.bench import benchmarks_file
from croptfx.bench import memory
from croptfx.bench import table
from croptfx.extract import run as run_lib
from croptfx.extract import sample
from croptfx.generate import imagery
from croptfx.pipeline import configs

BEGIN = '<!-- croptfx bench --extract: generated results begin -->'
END = '<!-- croptfx bench --extract: generated results end -->'
YEAR = 2022
_MIB = 2**20


@dataclasses.dataclass(frozen=True)
class Sizes:
  area: Tuple[int, int]  # CDL cells
  revisit_days: Tuple[int, int]  # N scenes, 2N scenes
  rounds: int


FULL = Sizes(area=(120, 90), revisit_days=(10, 5), rounds=3)
QUICK = Sizes(area=(60, 45), revisit_days=(20, 10), rounds=2)


def _plan(summary: Dict[str, object]):
  """The extraction's plan of the imagery (labels of YEAR)."""
  config = configs.EXTRACT_CONFIG
  return run_lib.make_plan(summary['catalogs']['earth-search'],
                           {YEAR: summary['labels'][str(YEAR)]}, None, None, [YEAR],
                           chunk_cells=config['chunk_cells'], block_cells=config['block_cells'],
                           block_samples=config['block_samples'])


def _work(plan) -> List[Tuple[object, object]]:
  return [(plan.chunks[c], plan.catalog.scenes[s])
          for c, scenes in enumerate(plan.scenes_of_chunk) for s in scenes]


def sampling_pass(work) -> Dict[str, float]:
  """The extraction's sampling path over every work item."""
  sample.POINTS = sample._PointCache()  # pylint: disable=protected-access  (cold, as a worker starts)
  samples = 0
  start = time.perf_counter()
  for chunk, scene in work:
    blocks, failed, _ = sample.scene_blocks(chunk, scene)
    if failed is not None:
      raise RuntimeError(failed.line)
    samples += sum(len(b.cells) + len(b.nodata_cells) for _, b in blocks)
  return {'seconds': time.perf_counter() - start, 'samples': samples}


def bare_reads(work) -> Dict[str, float]:
  """The limit: rasterio opens each asset and reads the window covering the
  chunk, nothing else."""
  bounds_cache = {}
  pixels = 0
  start = time.perf_counter()
  with rasterio.Env(**sample.GDAL_OPTIONS):
    for chunk, scene in work:
      grid = chunk.grid
      box = (grid.x0 + chunk.col0 * grid.res, grid.y0 - (chunk.row0 + chunk.height) * grid.res,
             grid.x0 + (chunk.col0 + chunk.width) * grid.res, grid.y0 - chunk.row0 * grid.res)
      for asset in scene.assets:
        with rasterio.open(asset.href) as ds:
          key = (box, ds.crs.to_wkt())
          if key not in bounds_cache:
            bounds_cache[key] = warp.transform_bounds(grid.crs, ds.crs, *box)
          w = windows.from_bounds(*bounds_cache[key], transform=ds.transform)
          c0, r0 = math.floor(w.col_off), math.floor(w.row_off)
          c1, r1 = math.ceil(w.col_off + w.width), math.ceil(w.row_off + w.height)
          window = windows.Window(c0, r0, c1 - c0, r1 - r0).intersection(
              windows.Window(0, 0, ds.width, ds.height))
          pixels += ds.read(1, window=window).size
  return {'seconds': time.perf_counter() - start, 'pixels': pixels}


def run_extract(summary: Dict[str, object], output: str) -> Dict[str, object]:
  """`croptfx extract` in a fresh process: its summary and peak tree RSS."""
  extract_summary, tracked = memory.run_croptfx(
      ['extract', '--items', summary['catalogs']['earth-search'], '--labels',
       f"{YEAR}={summary['labels'][str(YEAR)]}", '--output', output],
      layouts.ExtractLayout(output).summary_path)
  return {'summary': extract_summary, 'peak_rss': tracked.peak_tree_rss,
          'seconds': tracked.seconds}


def render(results: Dict[str, object], command: str, machine: Dict[str, str]) -> str:
  figures, ratios = [], []
  rate = results['rate']
  figures.append(table.Figure('X', f"sampling path ({rate['work_items']} work items, "
                              f"{rate['samples']:,} scene-samples)", rate['sampling_rate'], '/s',
                              'median round'))
  figures.append(table.Figure('X', 'limit: bare windowed reads of the same assets',
                              rate['limit_rate'], '/s',
                              f"{rate['reads']:,} reads of {rate['window_pixels'] / 1e6:.1f} M "
                              'pixels a round'))
  figures.append(table.Figure('X', 'whole croptfx extract job step', rate['job_rate'], '/s',
                              f"job {rate['job_seconds']:.1f} s, local runner, Beam included"))
  for label, job in results['jobs'].items():
    s = job['summary']
    figures.append(table.Figure('Y', f"peak RSS of croptfx extract, {label} ({s['scenes']} scenes, "
                                f"{s['samples']:,} samples)", job['peak_rss'] / _MIB, 'MiB',
                                f"whole command {job['seconds']:.1f} s"))
  ratios.append(table.Ratio('X sampling path / bare reads', rate['ratio'], '>=', 0.5,
                            'scene-samples/s, median of the rounds '
                            f"({', '.join(f'{r:.2f}' for r in rate['ratios'])})"))
  ratios.append(table.Ratio('X whole job step / bare reads',
                            table.safe_ratio(rate['job_rate'], rate['limit_rate']),
                            note='reported: Beam, grouping, packing and shards included'))
  one, two = results['jobs']['N'], results['jobs']['2N']
  ratios.append(table.Ratio('Y peak RSS 2N scenes / N scenes',
                            table.safe_ratio(two['peak_rss'], one['peak_rss']), '<=', 1.2))
  return benchmarks_file.results_section(
      'Latest extraction results', command, results['seconds'], machine,
      table.figures_table(figures), table.ratios_table(ratios),
      f"Imagery: `croptfx generate --imagery --aoi {results['area'][0]}x{results['area'][1]} "
      f"--years {YEAR}`, revisits of {results['revisit_days'][0]} and "
      f"{results['revisit_days'][1]} days (N and 2N scenes); COGs on local disk.")


def main(quick: bool, output: Optional[str]) -> int:
  """`croptfx bench --extract` (arguments parsed by the CLI)."""
  sizes = QUICK if quick else FULL
  case = benchmarks_file.Case.begin('--extract', quick, output)

  log = case.log

  tmp = tempfile.mkdtemp(prefix='croptfx-bench-extract-')
  try:
    made = {}
    for label, revisit in zip(('N', '2N'), sizes.revisit_days):
      made[label] = imagery.write_imagery(os.path.join(tmp, f'imagery-{label}'), area=sizes.area,
                                          years=(YEAR,), revisit_days=revisit, seed=0)
      log(f"  imagery {label}: {len(made[label]['scenes'])} scenes of a "
          f'{sizes.area[0]} x {sizes.area[1]} cell area')
    work = _work(_plan(made['2N']))
    bare_reads(work[:2])  # warm the imports and the GDAL drivers
    ratios, sampling, limits = [], [], []
    for i in range(sizes.rounds):
      limit = bare_reads(work)
      sampled = sampling_pass(work)
      limits.append(limit)
      sampling.append(sampled)
      ratios.append(limit['seconds'] / sampled['seconds'])
      log(f"  round {i + 1}: sampling {sampled['seconds']:.2f} s, bare reads "
          f"{limit['seconds']:.2f} s, ratio {ratios[-1]:.2f}")
    samples = sampling[0]['samples']
    jobs = {}
    for label in ('N', '2N'):
      jobs[label] = run_extract(made[label], os.path.join(tmp, f'extract-{label}'))
      log(f"  croptfx extract {label}: {jobs[label]['summary']['samples']:,} samples, peak RSS "
          f"{jobs[label]['peak_rss'] / _MIB:,.0f} MiB")
    job = jobs['2N']['summary']
    rate = {
        'work_items': len(work), 'samples': samples, 'reads': 13 * len(work),
        'window_pixels': limits[0]['pixels'],
        'sampling_rate': samples / table.median([s['seconds'] for s in sampling]),
        'limit_rate': samples / table.median([l['seconds'] for l in limits]),
        'ratio': table.median(ratios), 'ratios': ratios,
        'job_seconds': job['seconds']['job'],
        'job_rate': (job['samples'] + job['skipped']['samples']['nodata']) / job['seconds']['job'],
    }
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  section = render({'rate': rate, 'jobs': jobs, 'area': sizes.area,
                    'revisit_days': sizes.revisit_days,
                    'seconds': case.seconds}, case.command, case.machine)
  log('\n' + section)
  benchmarks_file.write_benchmarks(case.output, section, BEGIN, END)
  log(f'croptfx bench --extract: wrote {case.output}')
  return 0
