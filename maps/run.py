"""`croptfx map` and `croptfx predict`: run the map job, then assemble its outputs.

`run_map` checks the model and the input (every file's footer) before any
work, finds the grid the pixels lie on (`maps.pixel_grid`, from the lon/lat
columns alone), runs the Beam job of `maps.pipeline` on the chosen runner
(each pixel's cell goes into the shards), counts what it wrote (the shards
are the record: rows read = predicted + skipped, per reason, or the run
fails), then writes the rasters tile by tile, scored against a reference if
given, the quicklook and the map page (`maps.products`), and
`map_summary.json`.

`predict` is the same job on one in-memory worker, its shards merged into
one Parquet file: there is one way of predicting.
"""

import collections
import datetime
import gc
import logging
import os
import posixpath
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from apache_beam.io.filesystems import FileSystems
from apache_beam.options import pipeline_options
from apache_beam.utils import shared
import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from croptfx import errors
from croptfx import features
from croptfx.jobs import frame
from croptfx.jobs import progress as progress_lib
from croptfx.jobs import runners
from croptfx import layouts
from croptfx.maps import pipeline as pipeline_lib
from croptfx.maps import pixels as pixels_lib
from croptfx.maps import pixel_grid
from croptfx.maps import products
from croptfx import outputs
from croptfx import paths
from croptfx.rows import reader
from croptfx.rows import writer
from croptfx import serving_model

# The runners of `croptfx map`: every one (jobs.runners).
RUNNERS = runners.RUNNERS


def _clear_previous(layout: layouts.MapLayout) -> None:
  """Removes a map's files from its output: a previous map's before the job
  (shards would mix), or a failed job's partial ones."""
  stale = [p for p in layout.products if FileSystems.exists(p)]
  if paths.is_uri(layout.output):
    # Object stores have no directories: the shards are matched by pattern.
    stale += _list(layout.pixels_dir, hidden=True) + _list(layout.skipped_dir, hidden=True)
  else:
    # The output is the map's (locked while it runs): its shard directories
    # go whole, Beam's temporary files of a failed job with them.
    stale += [d for d in (layout.pixels_dir, layout.skipped_dir) if os.path.isdir(d)]
  if stale:
    FileSystems.delete(stale)


def _list(directory: str, hidden: bool = False) -> List[str]:
  """Parquet shards in `directory`, sorted (hidden temporary names only if
  `hidden`); none when it does not exist."""
  if not paths.is_uri(directory):
    # Listed, not matched: a directory named `map[1]` is read as written.
    if not os.path.isdir(directory):
      return []
    names = sorted(os.listdir(directory))
    return [os.path.join(directory, n) for n in names
            if (n.endswith('.parquet') and not n.startswith('.'))
            or (hidden and n.startswith('.') and n.endswith('.tmp'))]
  patterns = [directory.rstrip('/') + '/*.parquet']
  if hidden:
    patterns.append(directory.rstrip('/') + '/.*.tmp')
  found = []
  for result in FileSystems.match(patterns):
    found += [m.path for m in result.metadata_list]
  return sorted(p for p in found if hidden or not posixpath.basename(p).startswith('.'))


def _column_counts(files: Sequence[str], column: str) -> Dict[object, int]:
  """How often each value of one column occurs over Parquet files (streamed)."""
  counts = collections.Counter()
  for path in files:
    with FileSystems.open(path) as f:
      for batch in pq.ParquetFile(f).iter_batches(batch_size=1 << 16, columns=[column]):
        values = batch.column(0).value_counts()
        for value, n in zip(values.field(0).to_pylist(), values.field(1).to_pylist()):
          counts[value] += n
  return dict(counts)


def count_outputs(layout: layouts.MapLayout) -> Dict[str, object]:
  """Pixels per class and skipped rows per reason, read from the shards."""
  pixel_files = _list(layout.pixels_dir)
  by_index = _column_counts(pixel_files, 'class_index')
  unknown = set(by_index) - set(range(features.NUM_CLASSES))
  if unknown:
    raise errors.CroptfxError(f'pixel shards hold class indices {sorted(unknown)} '
                              f'outside 0..{features.NUM_CLASSES - 1}')
  by_reason = _column_counts(_list(layout.skipped_dir), 'reason')
  skipped = {reason: by_reason.get(reason, 0) for reason in pipeline_lib.SKIP_REASONS}
  skipped.update({r: n for r, n in by_reason.items() if r not in skipped})
  return {
      'pixel_files': pixel_files,
      'predicted': sum(by_index.values()),
      'pixels_per_class': {name: by_index.get(i, 0)
                           for i, name in enumerate(features.CLASS_NAMES)},
      'skipped': skipped,
  }


def check_inputs(model: str, data: str):
  """The model is a pushed model with its signature; every input file is Parquet with
  the columns a prediction needs. Returns the files' layouts."""
  # The SavedModel's proto only: the workers load the model, the driver
  # need not load it a second time to check it.
  serving_model.check(model)
  return reader.check_input_files(reader.list_input_files(data),
                                  optional=features.PREDICTION_OPTIONAL_COLUMNS)


def run_job(model: str, file_layouts, as_of: datetime.date, output: str,
            beam_args: Sequence[str], **job_args) -> None:
  """Runs the Beam map job into `output` (pixels/ and skipped/)."""
  layout = layouts.MapLayout(output)
  _clear_previous(layout)
  try:
    with beam.Pipeline(options=pipeline_options.PipelineOptions(list(beam_args))) as p:
      _ = p | 'MapPixels' >> pipeline_lib.MapPixels(  # pylint: disable=no-value-for-parameter
          file_layouts, model, as_of, layout, **job_args)
  finally:
    _release_models()


def _release_models() -> None:
  """Frees the model an in-memory worker keeps cached after the job.

  Beam's `Shared` keeps the last loaded object alive for reuse; left until
  interpreter exit, TensorFlow's function objects print ignored errors from
  their finalizers as modules are torn down.
  """
  shared_map = getattr(shared, '_shared_map', None)
  if shared_map is not None and hasattr(shared_map, '_keepalive'):
    shared_map._keepalive = (None, None)  # pylint: disable=protected-access
  gc.collect()


def as_of_warnings(model: str, as_of: datetime.date) -> List[str]:
  """Why a map as of `as_of` may not be what the model learned: the date is
  outside the as-of days of year it was trained for (its model info)."""
  info = outputs.read_model_info(model) if not paths.is_uri(model) else None
  if not info or not info.get('as_of_day_range'):
    return []
  first, last = info['as_of_day_range']
  day = as_of.timetuple().tm_yday
  if first <= day <= last:
    return []
  return [f'as of {as_of} (day {day}) is outside the as-of days the model was trained '
          f'for ({first} to {last}); its classes there are extrapolation']


def _reconcile(rows_read: int, counts: Dict[str, object]) -> None:
  skipped = sum(counts['skipped'].values())
  if rows_read != counts['predicted'] + skipped:
    raise errors.CroptfxError(
        f'counts do not reconcile: {rows_read} rows read, {counts["predicted"]} '
        f'predicted + {skipped} skipped')


def _log_path(layout: layouts.MapLayout, command: str) -> str:
  """The map's log: in the output, or a local temporary file for an object
  store output (the summary names it)."""
  if not paths.is_uri(layout.output):
    return layout.log_path
  return os.path.join(tempfile.mkdtemp(prefix=f'croptfx-{command}-logs-'), 'map.log')


def run_map(model: str, data: str, as_of: datetime.date, output: str,
            runner: Optional[runners.Runner] = None, stream=None, quiet: bool = False,
            verbose: bool = False, grid_crs: Optional[str] = None,
            like: Optional[str] = None, reference: Optional[str] = None,
            label_mapping: Optional[str] = None, **job_args) -> Dict[str, object]:
  """`croptfx map`: see the module doc. Returns the map summary as written.

  Args:
    model: the pushed SavedModel directory (run_summary.json model_dir).
    data: Parquet file, directory, glob, Hive tree or gs:// / s3:// URI.
    as_of: the date the map is made as of.
    output: the map's directory (`layouts.MapLayout`), local or gs://.
    runner: where the job runs (`jobs.runners.check`); default local.
    stream: where progress goes (default stdout).
    quiet: no progress lines.
    verbose: logs on the console too.
    grid_crs, like: the map's grid from the user (`maps.pixel_grid`): a CRS
      to fit the pixels in, or a template raster; default: detected.
    reference, label_mapping: a raster of CDL codes to score the map
      against, and the CDL name -> class mapping (default the bundled one).
    job_args: batch_rows, min_batch_rows, max_batch_rows, shard_rows of
      `maps.pipeline.MapPixels`.
  """
  runner = runner or runners.check('local', supported=RUNNERS)
  data, output = paths.absolute(data), paths.absolute(output)
  layout = layouts.MapLayout(output)
  log_path = _log_path(layout, 'map')
  with frame.Job('map', output, log_path=log_path, results=[layout.summary_path],
                 stream=stream, quiet=quiet, verbose=verbose, steps=5) as job:
    job.on_failure(lambda: _clear_previous(layout))
    return _map(model, data, as_of, layout, runner, job, log_path,
                {'grid_crs': grid_crs, 'like': like, 'reference': reference,
                 'label_mapping': label_mapping}, **job_args)


def _map(model, data, as_of, layout, runner, job, log_path, grid_args, **job_args):
  """`run_map` inside its job frame."""
  start = time.monotonic()
  progress = job.progress
  reference = grid_args['reference']
  with progress.step('check', 'checking the model and the input files'):
    file_layouts = check_inputs(model, data)
    products.check_rasters(grid_args['like'], reference)
  with progress.step('grid', "finding the pixels' grid"):
    choice = pixel_grid.find_grid(file_layouts, as_of, grid_args['grid_crs'], grid_args['like'])
  rows_read = sum(l.num_rows for l in file_layouts)
  warnings = as_of_warnings(model, as_of)
  for warning in warnings:
    logging.warning(warning)
    progress.write(f'warning: {warning}')
  with progress.step('job', f'map job: {rows_read:,} rows in {len(file_layouts)} files as of '
                     f'{as_of}, {runner.describe()}'):
    with progress_lib.live_count(progress, pipeline_lib.ROWS_READ, rows_read, 'rows read',
                                 in_process=runner.name == 'local'):
      cpu0, children0 = time.process_time(), os.times()
      job_name = 'croptfx-map-' + datetime.datetime.utcnow().strftime('%Y%m%d-%H%M%S')
      with runners.beam_args(runner, os.path.dirname(log_path), job_name) as beam_args:
        # Beam matches its temporary files' names as patterns when it
        # renames them: an output like `map[1]` is reached through a
        # glob-free link.
        run_job(model, file_layouts, as_of, paths.glob_free_alias(layout.output), beam_args,
                grid=choice.grid, **job_args)
      children = os.times()
      cpu = {'job': round(time.process_time() - cpu0, 2),
             'job_worker_processes': round(
                 children.children_user + children.children_system
                 - children0.children_user - children0.children_system, 2)}
    counts = count_outputs(layout)
    _reconcile(rows_read, counts)
  with progress.step('rasters', f'rasters from {counts["predicted"]:,} pixels'
                     + (f', scored against {reference}' if reference else '')):
    rasters = products.write_rasters(counts['pixel_files'], layout, choice, reference,
                                     grid_args['label_mapping'])
  page_path = quicklook_path = None
  if rasters['written']:
    with progress.step('quicklook', 'quicklook and map page'):
      quicklook_path = products.write_quicklook(layout, f'Crop classes as of {as_of}')
      page_path = products.write_page(layout, as_of, model, data, choice, rasters,
                                      counts['pixels_per_class'])
  else:
    logging.warning('No raster written: %s', rasters['reason'])
    progress.write(f'[5/5] no raster written: {rasters["reason"]}')
  skipped = {r: n for r, n in counts['skipped'].items()}
  summary = {
      'model': model, 'data': data, 'as_of': as_of.isoformat(), **runner.to_dict(),
      'warnings': warnings,
      'input_files': len(file_layouts), 'rows_read': rows_read,
      'predicted': counts['predicted'], 'skipped': skipped,
      'skipped_total': sum(skipped.values()),
      'pixels_per_class': counts['pixels_per_class'],
      'pixel_files': len(counts['pixel_files']),
      **products.summary_fields(choice, rasters),
      'files': {'pixels': layout.pixels_dir, 'skipped': layout.skipped_dir,
                'classes_tif': rasters['classes_tif'],
                'confidence_tif': rasters['confidence_tif'],
                'reference_tif': rasters['reference_tif'],
                'disagreement_tif': rasters['disagreement_tif'],
                'quicklook': quicklook_path, 'map_page': page_path, 'log': log_path},
      'seconds': dict(progress.seconds, total=round(time.monotonic() - start, 2)),
      # CPU time of the job step: this process (every thread; all of the
      # work on the local runner) and its finished worker processes (beam).
      'cpu_seconds': cpu,
  }
  job.write_summary(layout.summary_path, summary)
  detail = ', '.join(f'{r}={n}' for r, n in skipped.items() if n)
  progress.write(
      f'croptfx map: {summary["predicted"]} of {rows_read} rows mapped as of {as_of}'
      + (f'; skipped {summary["skipped_total"]} ({detail})' if detail else '')
      + f'\n  summary:   {layout.summary_path}\n  pixels:    {layout.pixels_dir}/'
      + (f'\n  rasters:   {rasters["classes_tif"]}, {rasters["confidence_tif"]} '
         f'({choice.grid.crs}, {choice.grid.width} x {choice.grid.height} cells)'
         f'\n  quicklook: {quicklook_path}\n  page:      {page_path}' if rasters['written']
         else f'\n  rasters:   not written: {rasters["reason"]}')
      + (f'\n  scores:    overall accuracy {rasters["reference"]["overall_accuracy"]:.3f} '
         f'over {rasters["reference"]["cells_compared"]:,} cells against {reference}'
         if rasters['reference'] and rasters['reference']['overall_accuracy'] is not None
         else ''))
  return summary


def skipped_path_of(output: str) -> str:
  """Where `croptfx predict` writes the rows it skipped."""
  return os.path.splitext(output)[0] + '.skipped.parquet'


def predict(model: str, data: str, as_of: datetime.date, output: str,
            batch_size: int = 1024, stream=None, verbose: bool = False) -> Dict[str, object]:
  """`croptfx predict`: the map job on one in-memory worker -> one Parquet file.

  The file holds the pixel table (`maps.pixels.SCHEMA`, GeoParquet);
  skipped rows, if any, go to `<output stem>.skipped.parquet` with their
  source file and reason. A previous call's files are moved aside first
  (`*.previous`), so what is there after a failure is never taken for this
  call's. Returns rows_read, predicted, skipped (non-zero reasons) and the paths.
  """
  data, output = paths.absolute(data), paths.absolute(output)
  directory, name = os.path.split(output)
  skipped_path = skipped_path_of(output)
  with tempfile.TemporaryDirectory(prefix='croptfx-predict-logs-') as logs_dir:
    with frame.Job('predict', output, log_path=os.path.join(logs_dir, 'predict.log'),
                   lock_path=os.path.join(directory, f'.{name}.croptfx.lock'),
                   what=f'--output {output}', results=[output, skipped_path],
                   stream=stream, verbose=verbose, quiet=True) as job:
      job.on_failure(lambda: [os.remove(p) for p in (output, skipped_path)
                              if os.path.exists(p)])
      return _predict(model, data, as_of, output, skipped_path, batch_size)


def _predict(model, data, as_of, output, skipped_path, batch_size):
  """`predict` inside its job frame."""
  file_layouts = check_inputs(model, data)
  rows_read = sum(l.num_rows for l in file_layouts)
  with tempfile.TemporaryDirectory(dir=os.path.dirname(output),
                                   prefix='.croptfx-predict-') as tmp:
    run_job(model, file_layouts, as_of, paths.glob_free_alias(tmp),
            runners.direct_args(1), batch_rows=batch_size)
    layout = layouts.MapLayout(tmp)
    counts = count_outputs(layout)
    _reconcile(rows_read, counts)
    skipped = {r: n for r, n in counts['skipped'].items() if n}
    if not counts['predicted']:
      detail = ', '.join(f'{r}={n}' for r, n in sorted(skipped.items()))
      raise errors.CroptfxError(
          f'nothing to predict as of {as_of}: {rows_read} rows read, none predictable'
          + (f' ({detail})' if detail else '') + f'; {output} not written')
    tables = [pq.read_table(f).select(pixels_lib.PREDICTION_SCHEMA.names)
              .replace_schema_metadata(None) for f in counts['pixel_files']]
    table = (pa.concat_tables(tables) if tables
             else pixels_lib.PREDICTION_SCHEMA.empty_table())
    pixels_lib.write_table(table, output)
    if skipped:
      writer.write_parquet(
          pa.concat_tables([pq.read_table(f) for f in _list(layout.skipped_dir)]
                           ).cast(pipeline_lib.SKIPPED_SCHEMA), skipped_path)
    else:
      skipped_path = None
  return {'rows_read': rows_read, 'predicted': counts['predicted'], 'skipped': skipped,
          'output': output, 'skipped_file': skipped_path,
          'warnings': as_of_warnings(model, as_of)}
