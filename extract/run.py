"""`croptfx extract`: plan the work, run the Beam job, count what it wrote.

Runs in the job frame every command shares (`jobs.frame`: the output's
lock, logs to `DIR/_logs/extract.log`, one error line and its exit code,
partial shards removed on failure, the summary written last):

  [1/3] check       the labels (readable, north-up, their grid), the area,
                    the items (their scenes of the years, assets by band),
                    the output; the chunks and the work items. All before
                    any sample is read; a problem is one line, exit 2.
  [2/3] job         `extract.pipeline.Extract` on the chosen runner.
  [3/3] count       the shards read back (rows and samples per year) against
                    the job's counts: cells in the area = pixels + label
                    nodata; pixels = rows + pixels without a sample, per
                    reason; rows and samples = what the shards hold. Counts
                    that do not reconcile fail the job (exit 1), and so does
                    an extraction without a row (exit 2); neither writes a
                    summary.
  DIR/extract_summary.json: written last, and only for a finished job.

A previous extraction's shards and summary in DIR are removed when the job
starts (not moved aside as `*.previous`: a file beside the rows would be
read as data by `croptfx run --data DIR`).
"""

import collections
import contextlib
import dataclasses
import datetime
import json
import logging
import os
import re
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options import pipeline_options
import pyarrow.parquet as pq

from croptfx import errors
from croptfx import features
from croptfx import layouts
from croptfx import paths
from croptfx.extract import chunks as chunks_lib
from croptfx.extract import items as items_lib
from croptfx.extract import pipeline as pipeline_lib
from croptfx.jobs import frame
from croptfx.jobs import progress as progress_lib
from croptfx.jobs import runners

RUNNERS = ('local', 'beam', 'portable', 'dataflow')
SHARD_NAME = re.compile(r'^(part-[0-9a-f]{32}\.parquet|\.part-[0-9a-f]{32}\.parquet\.tmp)$')
# What an extraction leaves in its output directory; anything else there
# would be read as data by `croptfx run --data DIR`.
_OWN_ENTRIES = (layouts.EXTRACT_SUMMARY_FILE,)
_YEAR_DIR = re.compile(r'^year=\d{1,4}$')


@dataclasses.dataclass
class Plan:
  """What the job will do, decided before it starts."""
  years: List[int]
  grid: chunks_lib.Grid
  labels: Dict[int, chunks_lib.Label]
  catalog: items_lib.Catalog
  chunks: List[chunks_lib.Chunk]
  scenes_of_chunk: List[List[int]]

  @property
  def scene_items(self) -> int:
    """Work items (chunk x scene)."""
    return sum(len(s) for s in self.scenes_of_chunk)

  @property
  def work_items(self) -> int:
    """Every work item, the chunks' label items included."""
    return self.scene_items + len(self.chunks)


def check_output(output: str) -> None:
  """The output is a new or empty directory, or a previous extraction's.

  Raises:
    CroptfxError: a file, or a directory holding other files (they would be
      read as data beside the rows).
  """
  if paths.is_uri(output):
    return
  if os.path.exists(output) and not os.path.isdir(output):
    raise errors.CroptfxError(f'--output {output} is an existing file; it must be a directory')
  if not os.path.isdir(output):
    return
  for name in sorted(os.listdir(output)):
    path = os.path.join(output, name)
    if name in _OWN_ENTRIES or name.startswith(('.', '_')):  # not data to the readers
      continue
    if _YEAR_DIR.match(name) and os.path.isdir(path) and all(
        SHARD_NAME.match(n) for n in os.listdir(path)):
      continue
    raise errors.CroptfxError(
        f'--output {output} holds {name}, which is not an extraction\'s: `croptfx run` would '
        'read it as data; give a new or empty directory, or a previous extraction\'s')


def make_plan(items: str, labels: Optional[Dict[int, str]] = None,
              grid: Optional[Tuple[str, float]] = None, aoi=None,
              years: Optional[Sequence[int]] = None,
              *, chunk_cells: int, block_cells: int, block_samples: int) -> Plan:
  """Checks the inputs and plans the work (nothing is sampled).

  Args:
    items: ITEMS (see `items`).
    labels: year -> label raster; or None with `grid`.
    grid: (CRS, resolution) of an area to map (needs `aoi`).
    aoi: an `aoi.Aoi`; default the label rasters' extent.
    years: the seasons to extract; default every label year (or every year
      of the items on a grid).

  Raises:
    CroptfxError: see the checks in the module doc.
  """
  if (labels is None) == (grid is None):
    raise errors.CroptfxError('give either --labels or --grid')
  if grid is not None and aoi is None:
    raise errors.CroptfxError('--grid needs --aoi: the area to map')
  label_of: Dict[int, chunks_lib.Label] = {}
  grids: Dict[int, chunks_lib.Grid] = {}
  if labels is not None:
    wanted = sorted(years) if years else sorted(labels)
    missing = [y for y in wanted if y not in labels]
    if missing:
      raise errors.CroptfxError(
          f'--years {",".join(map(str, wanted))}: no --labels for {", ".join(map(str, missing))}')
    for year in wanted:
      grids[year], label_of[year] = chunks_lib.inspect_label(year, labels[year])
  else:
    crs, res = grid
    try:
      the_grid = chunks_lib.grid_for(crs, res)
    except Exception as e:  # pylint: disable=broad-except  (pyproj's CRSError)
      raise errors.CroptfxError(f'--grid {crs},{res}: unknown CRS ({e})') from None
    wanted = sorted(years) if years else None
  catalog = items_lib.load_catalog(items, wanted)
  if wanted is None:
    wanted = items_lib.scene_years(catalog.scenes)
  if grid is not None:
    grids = {y: the_grid for y in wanted}
  if not catalog.scenes:
    skipped = ', '.join(f'{k}={v}' for k, v in catalog.skipped.items() if v)
    raise errors.CroptfxError(
        f'--items {items_lib.redact(items)}: no usable Sentinel-2 L2A scene of '
        f'{", ".join(map(str, wanted)) or "any year"} among {catalog.items_read} items'
        + (f' ({skipped})' if skipped else ''))
  all_chunks = []
  for year in wanted:
    all_chunks += chunks_lib.plan_chunks(year, grids[year], label_of.get(year), aoi,
                                         chunk_cells, block_cells)
  if not all_chunks:
    where = f'--aoi {aoi.source}' if aoi is not None else 'the area'
    raise errors.CroptfxError(f'{where} holds no cell of the label rasters\' grid'
                              if labels is not None else f'{where} holds no cell of the grid')
  scenes_of_chunk = chunks_lib.scenes_per_chunk(all_chunks, catalog.scenes)
  all_chunks = [dataclasses.replace(chunk, block_cells=chunks_lib.block_side(
      len(scenes), block_cells, block_samples)) for chunk, scenes in zip(all_chunks,
                                                                          scenes_of_chunk)]
  return Plan(years=list(wanted), grid=grids[wanted[0]], labels=label_of, catalog=catalog,
              chunks=all_chunks, scenes_of_chunk=scenes_of_chunk)


def _clear_previous(layout: layouts.ExtractLayout) -> None:
  """Removes an extraction's shards, summary and work files from its output:
  a previous extraction's before the job (shards would mix), or a failed
  job's partial ones."""
  stale = []
  if paths.is_uri(layout.output):
    for result in FileSystems.match([layout.output.rstrip('/') + '/year=*/*part-*',
                                     layout.work_dir + '/*', layout.summary_path]):
      stale += [m.path for m in result.metadata_list]
    if stale:
      FileSystems.delete(stale)
    return
  if not os.path.isdir(layout.output):
    return
  for name in os.listdir(layout.output):
    path = os.path.join(layout.output, name)
    if _YEAR_DIR.match(name) and os.path.isdir(path):
      for shard in os.listdir(path):
        if SHARD_NAME.match(shard):
          os.remove(os.path.join(path, shard))
      if not os.listdir(path):
        os.rmdir(path)
  for path in (layout.summary_path, layout.counts_path, layout.unreadable_path,
               layout.plan_path):
    if os.path.exists(path):
      os.remove(path)


def _shards(layout: layouts.ExtractLayout) -> List[str]:
  if paths.is_uri(layout.output):
    found = FileSystems.match([layout.output.rstrip('/') + '/year=*/part-*.parquet'])
    return sorted(m.path for m in found[0].metadata_list)
  shards = []
  for name in sorted(os.listdir(layout.output)) if os.path.isdir(layout.output) else []:
    path = os.path.join(layout.output, name)
    if _YEAR_DIR.match(name) and os.path.isdir(path):
      shards += [os.path.join(path, n) for n in sorted(os.listdir(path))
                 if n.startswith('part-') and n.endswith('.parquet')]
  return shards


def count_shards(layout: layouts.ExtractLayout) -> Dict[str, object]:
  """Rows and samples per year, read back from the written shards."""
  rows, samples = collections.Counter(), collections.Counter()
  files = _shards(layout)
  for path in files:
    with FileSystems.open(path) as f:
      for batch in pq.ParquetFile(f).iter_batches(
          batch_size=1 << 16, columns=[features.YEAR, features.NUM_SCENES]):
        years = batch.column(0).to_numpy()
        scenes = batch.column(1).to_numpy()
        for year in set(years.tolist()):
          rows[year] += int((years == year).sum())
          samples[year] += int(scenes[years == year].sum())
  return {'files': files, 'rows_by_year': dict(rows), 'samples_by_year': dict(samples),
          'rows': sum(rows.values()), 'samples': sum(samples.values())}


def _read_json(path: str):
  with FileSystems.open(path) as f:
    return json.loads(f.read().decode('utf-8'))


def reconcile(counts: Dict[str, object], shards: Dict[str, object]) -> Dict[str, object]:
  """The checks the counts must pass, each with its two sides."""
  pixel_reasons = counts['outside_scenes'] + counts['nodata_only'] + counts['unreadable_asset']
  checks = {
      'cells_in_area = pixels + label_nodata': (
          counts['cells_in_area'], counts['pixels'] + counts['label_nodata']),
      'pixels = rows + pixels skipped': (counts['pixels'], counts['rows'] + pixel_reasons),
      'rows = rows in the shards': (counts['rows'], shards['rows']),
      'samples = samples in the shards': (counts['samples'], shards['samples']),
      'rows per year = rows in the shards per year': (
          {str(k): v for k, v in sorted(counts['rows_by_year'].items())},
          {str(k): v for k, v in sorted(shards['rows_by_year'].items())}),
  }
  return {'reconciled': all(a == b for a, b in checks.values()),
          'checks': {name: {'left': a, 'right': b, 'ok': a == b}
                     for name, (a, b) in checks.items()}}


def _log_path(layout: layouts.ExtractLayout) -> str:
  """The log: in the output, or a local temporary file for an object store
  output (the summary names it)."""
  if not paths.is_uri(layout.output):
    return layout.log_path
  return os.path.join(tempfile.mkdtemp(prefix='croptfx-extract-logs-'), 'extract.log')


def run_extract(items: str, output: str, *, labels: Optional[Dict[int, str]] = None,
                grid: Optional[Tuple[str, float]] = None, aoi=None,
                years: Optional[Sequence[int]] = None,
                runner: Optional[runners.Runner] = None, chunk_cells: int, block_cells: int,
                block_samples: int, shard_bytes: int, stream=None, quiet: bool = False,
                verbose: bool = False) -> Dict[str, object]:
  """`croptfx extract` (see the module doc). Returns the summary as written.

  Args:
    items, labels, grid, aoi, years, chunk_cells, block_cells, block_samples:
      see `make_plan`
      (the CLI passes pipeline/configs.py's EXTRACT_CONFIG).
    output: the data directory to write (local or a URI).
    runner: where the job runs (`jobs.runners.check`); default local.
    shard_bytes: the rows a Parquet shard holds, in (Arrow) bytes.
    stream: where progress goes (default stdout); quiet: none; verbose: logs
      on the console too.
  """
  runner = runner or runners.check('local', supported=RUNNERS)
  items = items if paths.is_uri(items) else os.path.abspath(items)
  output = paths.absolute(output)
  check_output(output)
  if not paths.is_uri(output):
    os.makedirs(output, exist_ok=True)
  layout = layouts.ExtractLayout(output)
  log_path = _log_path(layout)
  with frame.Job('extract', output, log_path=log_path, stream=stream, quiet=quiet,
                 verbose=verbose, steps=3) as job:
    job.on_failure(lambda: _clear_previous(layout))
    return _extract(items, labels, grid, aoi, years, runner,
                    dict(chunk_cells=chunk_cells, block_cells=block_cells,
                         block_samples=block_samples), shard_bytes, layout, job, log_path)


def _extract(items, labels, grid, aoi, years, runner, sizes, shard_bytes, layout, job, log_path):
  """`run_extract` inside its job frame."""
  progress = job.progress
  start = time.monotonic()
  with progress.step('check', 'checking the labels, the area and the items'):
    plan = make_plan(items, labels, grid, aoi, years, **sizes)
  for line in plan.catalog.messages[:5]:
    progress.write(f'  skipped {line}')
  if len(plan.catalog.messages) > 5:
    progress.write(f'  ... and {len(plan.catalog.messages) - 5} more items skipped '
                   '(extract_summary.json lists them)')
  with progress.step('job', f'extract job: {len(plan.chunks)} chunks x '
                     f'{len(plan.catalog.scenes)} scenes = {plan.scene_items} work items, '
                     f'{runner.describe()}'):
    job_seconds = _run_job(plan, layout, aoi, labels is not None, runner, shard_bytes,
                           log_path, progress)
  with progress.step('count', 'counting the shards'):
    counts = _read_json(layout.counts_path)
    unreadable = _read_json(layout.unreadable_path)
    shards = count_shards(layout)
    checked = reconcile(counts, shards)
  summary = _summary(items, layout.output, labels, aoi, runner, plan, counts, unreadable,
                     shards, checked, progress, job_seconds, time.monotonic() - start, log_path)
  logging.info('extract summary: %s', json.dumps(summary))
  if not checked['reconciled']:
    bad = [f'{name}: {c["left"]} != {c["right"]}' for name, c in checked['checks'].items()
           if not c['ok']]
    raise errors.JobFailedError(f'counts do not reconcile ({"; ".join(bad)}); no summary was '
                                f'written (full log: {log_path})')
  if not summary['rows']:
    raise errors.CroptfxError(
        f'no row extracted: {summary["pixels"]} pixels, none with a sample '
        f'({_skipped_text(summary)}); no summary was written')
  _remove_work_files(layout)
  job.write_summary(layout.summary_path, summary)
  _report(summary, layout, progress)
  return summary


def _run_job(plan, layout, aoi, with_labels, runner, shard_bytes, log_path, progress) -> float:
  _clear_previous(layout)
  start = time.monotonic()
  job_name = 'croptfx-extract-' + datetime.datetime.utcnow().strftime('%Y%m%d-%H%M%S')
  with progress_lib.live_count(progress, pipeline_lib.WORK_DONE, plan.work_items,
                               'work items', in_process=runner.name == 'local'):
    with runners.beam_args(runner, os.path.dirname(log_path), job_name) as beam_args:
      # Beam matches its temporary files' names as patterns: an output like
      # `data[1]` is reached through a glob-free link.
      target = paths.glob_free_alias(layout.output)
      job_layout = layouts.ExtractLayout(target)
      pipeline_lib.write_plan(job_layout.plan_path, pipeline_lib.Plan(
          plan.chunks, plan.catalog.scenes, plan.scenes_of_chunk))
      options = pipeline_options.PipelineOptions(list(beam_args))
      with beam.Pipeline(options=options) as p:
        _ = p | 'Extract' >> pipeline_lib.Extract(  # pylint: disable=no-value-for-parameter
            job_layout.plan_path, len(plan.chunks), target, job_layout.counts_path,
            job_layout.unreadable_path, aoi, with_labels, shard_bytes)
  return time.monotonic() - start


def _remove_work_files(layout: layouts.ExtractLayout) -> None:
  stale = [p for p in (layout.counts_path, layout.unreadable_path, layout.plan_path)
           if FileSystems.exists(p)]
  if stale:
    FileSystems.delete(stale)
  if not paths.is_uri(layout.output) and os.path.isdir(layout.work_dir):
    with contextlib.suppress(OSError):
      os.rmdir(layout.work_dir)


def _skipped_text(summary: Dict[str, object]) -> str:
  parts = [f'{k}={v}' for k, v in summary['skipped']['pixels'].items() if v]
  return ', '.join(parts) or 'none skipped'


def _summary(items, output, labels, aoi, runner, plan, counts, unreadable, shards, checked,
             progress, job_seconds, total_seconds, log_path):
  scenes_by_year = collections.Counter(s.year for s in plan.catalog.scenes)
  skipped_items = dict(plan.catalog.skipped)
  return {
      'items': items_lib.redact(items),
      'labels': ({str(y): items_lib.redact(p) for y, p in sorted(labels.items())
                  if y in plan.years} if labels else None),
      'grid': plan.grid.to_dict(),
      'aoi': aoi.to_dict() if aoi is not None else None,
      'years': plan.years,
      **runner.to_dict(),
      'items_read': plan.catalog.items_read,
      'scenes': len(plan.catalog.scenes),
      'scenes_by_year': {str(y): n for y, n in sorted(scenes_by_year.items())},
      'scenes_sampled': len(counts['scenes_sampled']),
      'items_skipped': skipped_items,
      'items_skipped_lines': plan.catalog.messages,
      'chunks': len(plan.chunks),
      'work_items': plan.scene_items,
      'cells_in_area': counts['cells_in_area'],
      'pixels': counts['pixels'],
      'rows': shards['rows'],
      'rows_by_year': {str(y): n for y, n in sorted(shards['rows_by_year'].items())},
      'samples': shards['samples'],
      'harmonized_samples': counts['harmonized_samples'],
      'skipped': {
          'pixels': {'label_nodata': counts['label_nodata'],
                     'outside_scenes': counts['outside_scenes'],
                     'nodata_only': counts['nodata_only'],
                     'unreadable_asset': counts['unreadable_asset']},
          'samples': {'nodata': counts['nodata_samples'],
                      'unreadable_asset': counts['unreadable_samples']},
      },
      'unreadable_assets': [f'{line} ({n} work item{"s" if n != 1 else ""})'
                            for line, n in unreadable],
      'unknown_cdl': dict(sorted(counts['unknown_cdl'].items())),
      **checked,
      'files': {'shards': len(shards['files']), 'output': output, 'log': log_path},
      'seconds': dict(progress.seconds, job=round(job_seconds, 2), total=round(total_seconds, 2)),
  }


def _report(summary: Dict[str, object], layout: layouts.ExtractLayout,
            progress: progress_lib.Progress) -> None:
  for line in summary['unreadable_assets'][:10]:
    progress.write(f'  unreadable: {line}')
  if len(summary['unreadable_assets']) > 10:
    progress.write(f'  ... and {len(summary["unreadable_assets"]) - 10} more unreadable assets '
                   '(extract_summary.json lists them)')
  years = ', '.join(f'{y}: {n:,}' for y, n in summary['rows_by_year'].items())
  progress.write(
      f'croptfx extract: {summary["rows"]:,} rows ({years}) from {summary["pixels"]:,} pixels and '
      f'{summary["scenes_sampled"]:,} scenes; {summary["samples"]:,} samples, '
      f'{summary["harmonized_samples"]:,} harmonized; skipped pixels: {_skipped_text(summary)}'
      + f'\n  data:    {layout.output}/year=YYYY/'
      + f'\n  summary: {layout.summary_path}')
