"""`croptfx bench --map-raster`: the map's grid and raster steps alone.

  H  the steps of `croptfx map` after the job and the one before it, on pixel
     shards made here (the job's columns: lon, lat, year, class_index,
     confidence, row, col) over a wall-to-wall area of CDL cells (EPSG:5070,
     30 m), scored against a CDL of the area: `maps.pixel_grid.find_grid`
     (two passes over lon/lat) and `maps.raster.write_map_rasters` (the
     tiled COGs, the reference's scores), each in a fresh process whose
     peak RSS is polled (`bench.memory`). Pairs of sizes, 1x and 10x the
     pixels, measured in the same session:
       demo      the demo's area (120 x 90 cells) and 10x it;
       regional  1024 x 1024 cells (one tile of `maps.raster.TILE`) and 10x
                 (3238 x 3238, 4 x 4 tiles): memory bounded by a tile, not
                 by the map;
       large     2048 x 2048 and 10x (6476 x 6476: 42 million pixels, 16
                 counties), not in --quick.
     Targets: peak RSS of the raster step 10x / 1x <= 1.3 (each pair);
     reported: the grid step's, and seconds per million pixels of each step.

Classes are fields of 17 x 23 cells; the reference agrees with the map in
about 70% of the cells and holds background and double crops, so every
branch of the scoring runs.
"""

import dataclasses
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import affine
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import rasterio
from rasterio.windows import Window

from croptfx import cdl
from croptfx import features
from croptfx.bench import benchmarks_file
from croptfx.bench import memory
from croptfx.bench import table
from croptfx.maps import grid as grid_lib
from croptfx.maps import pixel_grid
from croptfx.maps import raster
from croptfx.rows import reader

TILE = raster.TILE

BEGIN = '<!-- croptfx bench --map-raster: generated results begin -->'
END = '<!-- croptfx bench --map-raster: generated results end -->'
_MIB = 2**20
# The national CDL grid's corner and a window of it in the Mississippi Delta.
_WEST, _NORTH = -2356095.0 + 30 * 95000, 3172605.0 - 30 * 67000
SHARD_ROWS = 1_000_000
YEAR = 2021


@dataclasses.dataclass(frozen=True)
class Pair:
  name: str
  one: Tuple[int, int]  # width, height of the 1x area
  ten: Tuple[int, int]  # about 10x its cells


FULL = (Pair('demo', (120, 90), (380, 284)), Pair('regional', (1024, 1024), (3238, 3238)),
        Pair('large', (2048, 2048), (6476, 6476)))
QUICK = (Pair('demo', (120, 90), (380, 284)), Pair('regional', (1024, 1024), (3238, 3238)))


def make_area(directory: str, width: int, height: int, seed: int = 0) -> Dict[str, object]:
  """Pixel shards and a reference CDL of a width x height area; streamed a
  band of rows at a time, so making a big area needs no big memory."""
  os.makedirs(os.path.join(directory, 'pixels'), exist_ok=True)
  codes = cdl.code_list()
  # Map class -> the CDL code the reference gives a field of it.
  class_codes = np.array([codes.code(n) for n in (
      'Fallow/Idle Cropland', 'Grassland/Pasture', 'Winter Wheat', 'Corn', 'Soybeans',
      'Cotton', 'Rice')], np.uint8)
  others = np.array([0, codes.code('Dbl Crop WinWht/Soybeans'), codes.code('Corn'),
                     codes.code('Soybeans')], np.uint8)
  to_lonlat = pyproj.Transformer.from_crs('EPSG:5070', 'EPSG:4326', always_xy=True)
  rng = np.random.default_rng(seed)
  band = max(1, SHARD_ROWS // width)
  reference = os.path.join(directory, 'cdl.tif')
  transform = (30.0, 0.0, _WEST, 0.0, -30.0, _NORTH)
  profile = dict(driver='GTiff', width=width, height=height, count=1, dtype='uint8',
                 crs='EPSG:5070', transform=affine.Affine(*transform), nodata=0,
                 tiled=True, blockxsize=256, blockysize=256, compress='deflate')
  with rasterio.open(reference, 'w', **profile) as ref:
    for i, top in enumerate(range(0, height, band)):
      rows, cols = np.meshgrid(np.arange(top, min(top + band, height)), np.arange(width),
                               indexing='ij')
      rows, cols = rows.ravel(), cols.ravel()
      classes = (rows // 17 * 5 + cols // 23 * 3) % features.NUM_CLASSES
      ref_codes = np.where(rng.random(len(rows)) < 0.7, class_codes[classes],
                           others[rng.integers(0, len(others), len(rows))])
      ref.write(ref_codes.reshape(-1, width), 1,
                window=Window(0, top, width, len(rows) // width))
      x, y = _WEST + (cols + 0.5) * 30, _NORTH - (rows + 0.5) * 30
      lon, lat = to_lonlat.transform(x, y)
      order = rng.permutation(len(rows))  # shards in no particular order
      pq.write_table(pa.table({
          'lon': np.round(np.asarray(lon), 6)[order], 'lat': np.round(np.asarray(lat), 6)[order],
          'year': np.full(len(rows), YEAR), 'class_index': classes[order],
          'confidence': rng.random(len(rows)).astype(np.float32)[order],
          'row': rows[order], 'col': cols[order]}),
          os.path.join(directory, 'pixels', f'pixels-{i:05d}.parquet'))
  return {'reference': reference, 'transform': transform, 'width': width, 'height': height}


def step_main(argv: List[str]) -> int:
  """A child process: `grid DIR` or `raster DIR OUT`; one JSON line on stdout.

  The grid step writes the grid it found to DIR/grid.json (checked against
  the area's), the raster step reads it: each step in a process of its own,
  so each has its own peak RSS.
  """
  step, directory = argv[0], argv[1]
  with open(os.path.join(directory, 'area.json'), encoding='utf-8') as f:
    area = json.load(f)
  pixels_dir = os.path.join(directory, 'pixels')
  files = [os.path.join(pixels_dir, n) for n in sorted(os.listdir(pixels_dir))]
  grid_path = os.path.join(directory, 'grid.json')
  start, cpu = time.perf_counter(), time.process_time()
  if step == 'grid':
    layouts = [reader.FileLayout(p, {'lon': 'lon', 'lat': 'lat', 'year': 'year'}, None,
                                 pq.read_metadata(p).num_rows) for p in files]
    choice = pixel_grid.find_grid(layouts, datetime.date(YEAR, 7, 15))
    g = choice.grid
    if g is None or list(g.transform)[:6] != area['transform'] or (
        g.width, g.height) != (area['width'], area['height']):
      raise RuntimeError(f'the grid found is not the area\'s: {choice.to_dict()}')
    with open(grid_path, 'w', encoding='utf-8') as f:
      json.dump(dataclasses.asdict(g), f)
    result = {'pixels': choice.pixels}
  else:
    with open(grid_path, encoding='utf-8') as f:
      g = grid_lib.Grid(**json.load(f))
    written = raster.write_map_rasters(files, argv[2], g, reference=area['reference'])
    if not written['written']:
      raise RuntimeError(f'no raster written: {written["reason"]}')
    result = {'pixels': written['pixels'], 'tiles': written['tiles']['count'],
              'overall_accuracy': written['reference']['overall_accuracy']}
  result['seconds'] = time.perf_counter() - start
  # CPU time (every thread of this process): what the load of other
  # processes on a shared machine changes much less than wall time.
  result['cpu_seconds'] = time.process_time() - cpu
  print(json.dumps(result))
  return 0


def _measure(step: str, *args: str) -> Dict[str, object]:
  env = dict(os.environ, PYTHONWARNINGS='ignore')
  cmd = [sys.executable, '-m', 'croptfx.bench.raster_case', step, *args]
  tracked = memory.run_tracked(cmd, env=env)
  if tracked.returncode:
    raise RuntimeError(f'the {step} step failed (exit {tracked.returncode}): '
                       f'{tracked.stderr.strip()[-2000:]}')
  result = json.loads(tracked.stdout.strip().splitlines()[-1])
  result['peak_rss'] = tracked.peak_tree_rss
  return result


def render(results: Dict[Tuple[str, int], Dict[str, Dict[str, object]]], pairs,
           command: str, machine: Dict[str, str], seconds: float) -> str:
  figures, ratios = [], []
  for pair in pairs:
    for scale in (1, 10):
      r = results[(pair.name, scale)]
      w, h = pair.one if scale == 1 else pair.ten
      m = r['raster']['pixels'] / 1e6
      figures.append(table.Figure(
          'H', f'raster step, {pair.name} {scale}x ({w} x {h} = {r["raster"]["pixels"]:,} pixels)',
          r['raster']['seconds'] / m, 's',
          f"per million pixels ({r['raster']['seconds']:.2f} s, "
          f"{r['raster']['cpu_seconds'] / m:.2f} s CPU per million, {r['raster']['tiles']} "
          f"tiles); peak RSS {r['raster']['peak_rss'] / _MIB:,.0f} MiB"))
      figures.append(table.Figure(
          'H', f'grid step, {pair.name} {scale}x', r['grid']['seconds'] / m, 's',
          f"per million pixels ({r['grid']['seconds']:.2f} s, "
          f"{r['grid']['cpu_seconds'] / m:.2f} s CPU per million); "
          f"peak RSS {r['grid']['peak_rss'] / _MIB:,.0f} MiB"))
    one, ten = results[(pair.name, 1)], results[(pair.name, 10)]
    for step in ('raster', 'grid'):
      ratios.append(table.Ratio(
          f'H peak RSS of the {step} step ({pair.name}) 10x / 1x',
          table.safe_ratio(ten[step]['peak_rss'], one[step]['peak_rss']),
          *(('<=', 1.3) if step == 'raster' else (None, None)),
          'a fresh process each' if step == 'raster' else 'reported'))
    ratios.append(table.Ratio(
        f'H raster step CPU seconds per pixel ({pair.name}) 10x / 1x',
        table.safe_ratio(ten['raster']['cpu_seconds'] / ten['raster']['pixels'],
                         one['raster']['cpu_seconds'] / one['raster']['pixels']),
        note='about 1 or less: linear in the pixels'))
  return benchmarks_file.results_section(
      'Latest raster-step results', command, seconds, machine,
      table.figures_table(figures), table.ratios_table(ratios),
      'Each step of each size in a fresh process (`python -m croptfx.bench.raster_case`): '
      "the grid found from the shards' lon/lat (a sample, then every pixel); then classes, "
      'confidence, reference and disagreement COGs written tile by tile '
      f'({TILE} x {TILE} cells) and scored against the area\'s CDL.')


def main(quick: bool, output: Optional[str]) -> int:
  """`croptfx bench --map-raster` (arguments parsed by the CLI)."""
  pairs = QUICK if quick else FULL
  case = benchmarks_file.Case.begin('--map-raster', quick, output)
  tmp = tempfile.mkdtemp(prefix='croptfx-bench-raster-')
  results = {}
  try:
    for pair in pairs:
      for scale, (w, h) in ((1, pair.one), (10, pair.ten)):
        directory = os.path.join(tmp, f'{pair.name}-{scale}x')
        area = make_area(directory, w, h)
        with open(os.path.join(directory, 'area.json'), 'w', encoding='utf-8') as f:
          json.dump(area, f)
        r = {'grid': _measure('grid', directory),
             'raster': _measure('raster', directory, os.path.join(directory, 'map'))}
        results[(pair.name, scale)] = r
        print(f"  {pair.name} {scale}x ({w} x {h}): raster {r['raster']['seconds']:.2f} s, "
              f"peak RSS {r['raster']['peak_rss'] / _MIB:,.0f} MiB; grid "
              f"{r['grid']['seconds']:.2f} s, {r['grid']['peak_rss'] / _MIB:,.0f} MiB", flush=True)
        shutil.rmtree(directory, ignore_errors=True)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  section = render(results, pairs, case.command, case.machine, case.seconds)
  print('\n' + section)
  benchmarks_file.write_benchmarks(case.output, section, BEGIN, END)
  print(f'croptfx bench --map-raster: wrote {case.output}')
  return 0


if __name__ == '__main__':
  sys.exit(step_main(sys.argv[1:]))
