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
import contextlib
import datetime
import json
import logging
import os
import posixpath
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Sequence

from croptfx import errors
from croptfx import features
from croptfx import layouts
from croptfx import paths
from croptfx import serving_model

RUNNERS = ('local', 'beam', 'dataflow')


def pipeline_options(runner: str, workers: Optional[int] = None,
                     dataflow: Optional[Dict[str, object]] = None,
                     extra_args: Sequence[str] = ()):
  """Beam PipelineOptions of the map job.

  Args:
    runner: 'local' (DirectRunner, one in-memory worker), 'beam' (DirectRunner
      multi-processing with `workers` processes, default 2) or 'dataflow'.
    workers: worker processes of the beam runner.
    dataflow: keyword arguments of `pipeline.dataflow.dataflow_beam_args`
      (project, region, temp_location, and optionally sdk_container_image,
      machine_type, max_num_workers, disk_size_gb); the CLI passes the
      project's image (`pipeline.configs.PIPELINE_IMAGE`) unless told another.
    extra_args: more Beam arguments, appended last.
  """
  from apache_beam.options import pipeline_options as options_lib  # pylint: disable=g-import-not-at-top
  if runner == 'local':
    if workers not in (None, 1):
      raise errors.CroptfxError('--runner local runs one in-memory worker; '
                                'use --runner beam for --workers')
    args = ['--runner=DirectRunner', '--direct_num_workers=1',
            '--direct_running_mode=in_memory']
  elif runner == 'beam':
    args = ['--runner=DirectRunner', '--direct_running_mode=multi_processing',
            f'--direct_num_workers={workers or 2}']
  elif runner == 'dataflow':
    from croptfx.jobs import dataflow as dataflow_lib  # pylint: disable=g-import-not-at-top
    kwargs = dict(dataflow or {})
    try:
      args = dataflow_lib.dataflow_beam_args(**kwargs)
    except (TypeError, ValueError) as e:
      raise errors.CroptfxError(str(e)) from None
    args.append('--job_name=croptfx-map-' + datetime.datetime.utcnow().strftime('%Y%m%d-%H%M%S'))
  else:
    raise errors.CroptfxError(f'unknown runner {runner!r} (one of {", ".join(RUNNERS)})')
  return options_lib.PipelineOptions(list(args) + list(extra_args))


def _is_remote(path: str) -> bool:
  return '://' in path


def _clear_previous(layout: layouts.MapLayout) -> None:
  """Removes a previous map's files from `output` (shards would mix)."""
  from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
  stale = [p for p in layout.products if FileSystems.exists(p)]
  # Object stores have no directories: the shards are matched by pattern.
  stale += _list(layout.pixels_dir, hidden=True) + _list(layout.skipped_dir, hidden=True)
  if stale:
    FileSystems.delete(stale)


def _list(directory: str, hidden: bool = False) -> List[str]:
  """Parquet shards in `directory`, sorted (hidden temporary names only if
  `hidden`); none when it does not exist."""
  from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
  if not _is_remote(directory):
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
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
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
  from croptfx.maps import pipeline as pipeline_lib  # pylint: disable=g-import-not-at-top
  skipped = {reason: by_reason.get(reason, 0) for reason in pipeline_lib.SKIP_REASONS}
  skipped.update({r: n for r, n in by_reason.items() if r not in skipped})
  return {
      'pixel_files': pixel_files,
      'predicted': sum(by_index.values()),
      'pixels_per_class': {name: by_index.get(i, 0)
                           for i, name in enumerate(features.CLASS_NAMES)},
      'skipped': skipped,
  }


@contextlib.contextmanager
def _logs_to(log_path: Optional[str]):
  """Beam, TensorFlow and absl logs to the map's log file, not the console."""
  if log_path is None:
    yield
    return
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  root = logging.getLogger()
  saved_handlers, saved_level = list(root.handlers), root.level
  handler = logging.FileHandler(log_path, mode='a', encoding='utf-8')
  handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s'))
  for h in saved_handlers:
    root.removeHandler(h)
  root.addHandler(handler)
  root.setLevel(logging.INFO)
  absl_logging.use_python_logging(quiet=True)
  try:
    yield
  finally:
    root.removeHandler(handler)
    handler.close()
    for h in saved_handlers:
      root.addHandler(h)
    root.setLevel(saved_level)


class _Progress:
  """One console line per step, with its duration."""

  def __init__(self, stream, steps: int, quiet: bool = False):
    self._stream, self._steps, self._quiet = stream, steps, quiet
    self._step = 0
    self.seconds: Dict[str, float] = {}

  @contextlib.contextmanager
  def step(self, name: str, text: str):
    self._step += 1
    self._header = f'[{self._step}/{self._steps}] {text} ... '
    self._updated = 0
    self.write(self._header, end='')
    start = time.monotonic()
    try:
      yield
    except BaseException:
      self.write('failed')
      raise
    self.seconds[name] = round(time.monotonic() - start, 2)
    done = f'done in {self.seconds[name]:.1f}s'
    if self._updated:  # rewrite the line the progress updates used
      done = '\r' + self._header + done.ljust(self._updated)
    self.write(done)

  def update(self, text: str) -> None:
    """Rewrites the current step's line with `text` after its header."""
    self._updated = max(self._updated, len(text))
    self.write('\r' + self._header + text, end='')

  def write(self, text: str, end: str = '\n'):
    if not self._quiet:
      self._stream.write(text + end)
      self._stream.flush()


@contextlib.contextmanager
def _rows_progress(progress: _Progress, total: int, enabled: bool, interval: float = 1.0):
  """Rows read so far, on the step's line, while the in-memory job runs."""
  if not enabled:
    yield
    return
  from croptfx.maps import pipeline as pipeline_lib  # pylint: disable=g-import-not-at-top
  pipeline_lib.ROWS_READ.reset()
  stop = threading.Event()

  def report():
    while not stop.wait(interval):
      rows = pipeline_lib.ROWS_READ.rows
      progress.update(f'{rows:,} of {total:,} rows read ({100 * rows / max(total, 1):.0f}%)')

  thread = threading.Thread(target=report, daemon=True)
  thread.start()
  try:
    yield
  finally:
    stop.set()
    thread.join()


def check_inputs(model: str, data: str):
  """The model is a pushed model with its signature; every input file is Parquet with
  the columns a prediction needs. Returns the files' layouts."""
  from croptfx.rows import reader  # pylint: disable=g-import-not-at-top
  from croptfx.rows import validation  # pylint: disable=g-import-not-at-top
  # The SavedModel's proto only: the workers load the model, the driver
  # need not load it a second time to check it.
  serving_model.check(model)
  return reader.check_input_files(reader.list_input_files(data),
                                  optional=validation.PREDICTION_OPTIONAL_COLUMNS)


def run_job(model: str, file_layouts, as_of: datetime.date, output: str, options,
            **job_args) -> None:
  """Runs the Beam map job into `output` (pixels/ and skipped/); `job_args`
  go to `maps.pipeline.MapPixels` (batch sizes, the grid)."""
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  from croptfx.maps import pipeline as pipeline_lib  # pylint: disable=g-import-not-at-top
  layout = layouts.MapLayout(output)
  _clear_previous(layout)
  try:
    with beam.Pipeline(options=options) as p:
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
  import gc  # pylint: disable=g-import-not-at-top
  from apache_beam.utils import shared  # pylint: disable=g-import-not-at-top
  shared_map = getattr(shared, '_shared_map', None)
  if shared_map is not None and hasattr(shared_map, '_keepalive'):
    shared_map._keepalive = (None, None)  # pylint: disable=protected-access
  gc.collect()


def _reconcile(rows_read: int, counts: Dict[str, object]) -> None:
  skipped = sum(counts['skipped'].values())
  if rows_read != counts['predicted'] + skipped:
    raise errors.CroptfxError(
        f'counts do not reconcile: {rows_read} rows read, {counts["predicted"]} '
        f'predicted + {skipped} skipped')


def _write_text(path: str, text: str) -> None:
  if _is_remote(path):
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
    with FileSystems.create(path) as f:
      f.write(text.encode())
  else:
    paths.write_atomic(path, text)


def run_map(model: str, data: str, as_of: datetime.date, output: str,
            runner: str = 'local', workers: Optional[int] = None,
            dataflow: Optional[Dict[str, object]] = None,
            beam_args: Sequence[str] = (), stream=None, quiet: bool = False,
            grid_crs: Optional[str] = None, like: Optional[str] = None,
            reference: Optional[str] = None, label_mapping: Optional[str] = None,
            **job_args) -> Dict[str, object]:
  """`croptfx map`: see the module doc. Returns the map summary as written.

  Args:
    model: the pushed SavedModel directory (run_summary.json model_dir).
    data: Parquet file, directory, glob, Hive tree or gs:// / s3:// URI.
    as_of: the date the map is made as of.
    output: the map's directory (`layouts.MapLayout`), local or gs://.
    runner, workers, dataflow, beam_args: see `pipeline_options`.
    stream: where progress goes (default stdout).
    quiet: no progress lines.
    grid_crs, like: the map's grid from the user (`maps.pixel_grid`): a CRS
      to fit the pixels in, or a template raster; default: detected.
    reference, label_mapping: a raster of CDL codes to score the map
      against, and the CDL name -> class mapping (default the bundled one).
    job_args: batch_rows, min_batch_rows, max_batch_rows, shard_rows of
      `maps.pipeline.MapPixels`.
  """
  stream = stream or sys.stdout
  options = pipeline_options(runner, workers, dataflow, beam_args)
  layout = layouts.MapLayout(output)
  if not _is_remote(output):
    os.makedirs(output, exist_ok=True)
  log_path = None if _is_remote(output) else layout.log_path
  progress = _Progress(stream, 5, quiet)
  from croptfx.maps import pixel_grid  # pylint: disable=g-import-not-at-top
  from croptfx.maps import products  # pylint: disable=g-import-not-at-top
  start = time.monotonic()
  with _logs_to(log_path):
    with progress.step('check', 'checking the model and the input files'):
      file_layouts = check_inputs(model, data)
      products.check_rasters(like, reference)
    with progress.step('grid', "finding the pixels' grid"):
      choice = pixel_grid.find_grid(file_layouts, as_of, grid_crs, like)
    rows_read = sum(l.num_rows for l in file_layouts)
    where = (f'{workers or 2} worker processes' if runner == 'beam' else
             'one in-memory worker' if runner == 'local' else 'Dataflow')
    with progress.step('job', f'map job: {rows_read:,} rows in {len(file_layouts)} files as of '
                       f'{as_of}, {runner} runner ({where})'):
      try:
        # A line updated in place needs a terminal; other runners' workers
        # count in their own processes.
        with _rows_progress(progress, rows_read, runner == 'local' and not quiet
                            and getattr(stream, 'isatty', lambda: False)()):
          cpu0, children0 = time.process_time(), os.times()
          # Beam matches its temporary files' names as patterns when it
          # renames them: an output like `map[1]` is reached through a
          # glob-free link.
          run_job(model, file_layouts, as_of, paths.glob_free_alias(output), options,
                  grid=choice.grid, **job_args)
          children = os.times()
          cpu = {'job': round(time.process_time() - cpu0, 2),
                 'job_worker_processes': round(
                     children.children_user + children.children_system
                     - children0.children_user - children0.children_system, 2)}
      except errors.CroptfxError:
        raise
      except Exception as e:  # pylint: disable=broad-except
        logging.exception('map job failed')
        raise errors.CroptfxError(_one_line(e) + (f' (full log: {log_path})' if log_path
                                                  else '')) from None
      counts = count_outputs(layout)
      _reconcile(rows_read, counts)
    with progress.step('rasters', f'rasters from {counts["predicted"]:,} pixels'
                       + (f', scored against {reference}' if reference else '')):
      rasters = products.write_rasters(counts['pixel_files'], layout, choice, reference,
                                       label_mapping)
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
      'model': model, 'data': data, 'as_of': as_of.isoformat(), 'runner': runner,
      'workers': (workers or 2) if runner == 'beam' else (1 if runner == 'local' else None),
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
  _write_text(layout.summary_path, json.dumps(summary, indent=2) + '\n')
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


def _one_line(exc: BaseException) -> str:
  """An unexpected error in one console line; the log has the traceback."""
  lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
  if 'Traceback (most recent call last)' in str(exc):
    lines = [l for l in lines if not l.startswith('[while running')][-1:]
  line = lines[0] if lines else type(exc).__name__
  return line if line.startswith(type(exc).__name__) else f'{type(exc).__name__}: {line}'


def predict(model: str, data: str, as_of: datetime.date, output: str,
            batch_size: int = 1024) -> Dict[str, object]:
  """`croptfx predict`: the map job on one in-memory worker -> one Parquet file.

  The file holds the pixel table (`maps.pixels.SCHEMA`, GeoParquet);
  skipped rows, if any, go to `<output stem>.skipped.parquet` with their
  source file and reason. Returns rows_read, predicted, skipped (non-zero
  reasons) and the paths.
  """
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  from croptfx.maps import pipeline as pipeline_lib  # pylint: disable=g-import-not-at-top
  from croptfx.maps import pixels as pixels_lib  # pylint: disable=g-import-not-at-top
  file_layouts = check_inputs(model, data)
  rows_read = sum(l.num_rows for l in file_layouts)
  directory = os.path.dirname(os.path.abspath(output))
  os.makedirs(directory, exist_ok=True)
  with tempfile.TemporaryDirectory(dir=directory, prefix='.croptfx-predict-') as tmp:
    with _logs_to(os.path.join(tmp, 'logs', 'map.log')):
      run_job(model, file_layouts, as_of, paths.glob_free_alias(tmp), pipeline_options('local'),
              batch_rows=batch_size)
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
    skipped_path = None
    if skipped:
      skipped_path = os.path.splitext(output)[0] + '.skipped.parquet'
      pq.write_table(pa.concat_tables([pq.read_table(f) for f in _list(layout.skipped_dir)]
                                      ).cast(pipeline_lib.SKIPPED_SCHEMA), skipped_path)
  return {'rows_read': rows_read, 'predicted': counts['predicted'], 'skipped': skipped,
          'output': output, 'skipped_file': skipped_path}
