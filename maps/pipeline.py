"""The map job: Parquet pixel-years -> classes as of a date -> GeoParquet shards.

One Beam pipeline, the same on the in-memory DirectRunner, multi-processing
and Dataflow:

  input files (checked footers, `reader.check_input_files`)
    -> Reshuffle                         spread the files over workers
    -> ReadCheckEncode                   per record batch: ExampleGen's reader,
                                         its row checks (prediction rules) and
                                         its encoder; bad rows tagged `skipped`
    -> RunInference(ServingModelHandler) batches of rows, one `serving_default`
                                         call per batch, model loaded once per
                                         worker
    -> WritePixels                       GeoParquet shards under pixels/, each
                                         pixel with its cell of the map's grid
                                         (found before the job, `maps.pixel_grid`)
  skipped rows (normalized columns, source_file, reason) -> skipped/*.parquet

Everything moves as record batches (thousands of rows per element), so Beam
and Python cost per batch, not per pixel, and a worker holds at most a few
batches and one shard's rows: memory does not grow with the input.

A row is skipped, with the first reason that applies, for the reasons of
`validation.check_rows(for_prediction=True)` or, after those,
`as_of_outside_year`: the as-of date is not in the row's season year (the
model reads a season up to a day of that year; another year's date has no
meaning for it).
"""

import datetime
import queue
import threading
from typing import Iterator, List, Optional

import apache_beam as beam
from apache_beam.ml.inference import base as inference_base
from apache_beam.transforms import window as beam_window
from apache_beam.utils import windowed_value
import numpy as np
import pyarrow as pa

from croptfx import features
from croptfx.jobs import progress as progress_lib
from croptfx import layouts
from croptfx.maps import grid as grid_lib
from croptfx.maps import model_handler as handler_lib
from croptfx.maps import pixels as pixels_lib
from croptfx.rows import encoding
from croptfx.rows import quarantine
from croptfx.rows import reader
from croptfx.rows import validation

# The map's own rule: the model reads a season up to a day of that season's
# year; another year's date has no meaning for it.
AS_OF_OUTSIDE_YEAR = 'as_of_outside_year'
# Every reason a row may be skipped for, in the order they are checked: the
# row checks a prediction applies (no year -> split mapping; duplicates are
# judged by the ExampleGen over a whole training input, not here), then the
# as-of date.
SKIP_REASONS = tuple(
    r for r in validation.REASONS
    if r not in ('year_not_in_splits', validation.DUPLICATE,
                 validation.CONFLICTING_DUPLICATE)) + (AS_OF_OUTSIDE_YEAR,)
SKIPPED_SCHEMA = quarantine.QUARANTINE_SCHEMA
# Rows read per record batch: one RunInference element.
DEFAULT_BATCH_ROWS = 4096
# Record batches read ahead of RunInference by a background thread.
DEFAULT_PREFETCH_BATCHES = 2
# Rows a writer buffers before it writes a shard (about 8 MB of columns):
# bounds a worker's memory and keeps shards a useful size.
DEFAULT_SHARD_ROWS = 100_000

_SKIPPED_TAG = 'skipped'
_METRICS = 'croptfx_map'


# Rows read so far in this process (`croptfx map`'s live count).
ROWS_READ = progress_lib.Counter()


def skip_reasons(batch: pa.RecordBatch, path_year: Optional[int],
                 as_of: datetime.date,
                 cast_faults: Optional[np.ndarray] = None) -> np.ndarray:
  """Reason each row is skipped ('' for rows to map), as an object array.

  `cast_faults`: the rows whose value the reader could not cast
  (`reader.Rows.cast_faults`), skipped as `undecodable_value`.
  """
  checks = validation.check_rows(batch, path_year=path_year, for_prediction=True,
                                 cast_faults=cast_faults)
  reasons = checks.reasons.copy()
  reasons[checks.valid & as_of_outside_year(batch, as_of)] = AS_OF_OUTSIDE_YEAR
  return reasons


def as_of_outside_year(batch: pa.RecordBatch, as_of: datetime.date) -> np.ndarray:
  """Rows (bool) whose `year` is not the year of the as-of date (nulls are
  the row checks' `null_value`)."""
  years = batch.column(features.YEAR).fill_null(0).to_numpy(zero_copy_only=False)
  return years.astype(np.int64) != as_of.year


def prefetch(items: Iterator[object], depth: int) -> Iterator[object]:
  """Yields `items`, produced by a background thread up to `depth` ahead.

  The map job's consumer of a record batch is RunInference, downstream in
  the same fused stage: while TensorFlow runs a batch (without the GIL), the
  thread reads, checks and encodes the next ones (pyarrow and the C++
  encoder release the GIL too), so the two overlap on two cores. At most
  `depth` batches wait, so memory stays bounded. An error in the thread is
  raised here; stopping early stops the thread.
  """
  done = object()
  queue_ = queue.Queue(maxsize=depth)
  stop = threading.Event()

  def put(item) -> bool:
    while not stop.is_set():
      try:
        queue_.put(item, timeout=0.1)
        return True
      except queue.Full:
        continue
    return False

  def produce():
    try:
      for item in items:
        if not put((True, item)):
          return
    except BaseException as e:  # pylint: disable=broad-except
      put((False, e))
      return
    put((True, done))

  thread = threading.Thread(target=produce, name='croptfx-map-read', daemon=True)
  thread.start()
  try:
    while True:
      ok, item = queue_.get()
      if not ok:
        raise item
      if item is done:
        return
      yield item
  finally:
    stop.set()
    thread.join()


class _ReadCheckEncode(beam.DoFn):
  """One input file -> EncodedRows per record batch, skipped rows tagged."""

  def __init__(self, as_of: datetime.date, batch_rows: int, prefetch_batches: int):
    self._as_of = as_of
    self._batch_rows = batch_rows
    self._prefetch_batches = prefetch_batches
    self._encoder = None
    self._rows_read = beam.metrics.Metrics.counter(_METRICS, 'rows_read')
    self._rows_skipped = beam.metrics.Metrics.counter(_METRICS, 'rows_skipped')

  def setup(self):
    self._encoder = encoding.ExampleEncoder()

  def _prepare(self, layout: reader.FileLayout):
    """(rows read, EncodedRows or None, skipped table or None) per record batch."""
    for batch, cast_faults, _ in reader.read_rows(layout.path, self._batch_rows, layout):
      reasons = skip_reasons(batch, layout.path_year, self._as_of, cast_faults)
      encoded = skipped = None
      good = np.flatnonzero(reasons == '')
      if good.size:
        rows = batch.take(pa.array(good)) if good.size < batch.num_rows else batch
        encoded = handler_lib.EncodedRows(
            examples=self._encoder.encode(rows, canonical=False),
            lon=rows.column(features.LON).to_numpy(zero_copy_only=False),
            lat=rows.column(features.LAT).to_numpy(zero_copy_only=False),
            year=rows.column(features.YEAR).to_numpy(zero_copy_only=False),
            source_file=layout.path)
      bad = np.flatnonzero(reasons != '')
      if bad.size:
        skipped = quarantine.quarantine_table(
            batch.take(pa.array(bad)), layout.path, reasons[bad])
      yield batch.num_rows, encoded, skipped

  def process(self, layout: reader.FileLayout) -> Iterator[object]:
    prepared = self._prepare(layout)
    if self._prefetch_batches:
      prepared = prefetch(prepared, self._prefetch_batches)
    # Beam's metrics and outputs belong to this (the bundle's) thread.
    for rows_read, encoded, skipped in prepared:
      self._rows_read.inc(rows_read)
      ROWS_READ.add(rows_read)
      if encoded is not None:
        yield encoded
      if skipped is not None:
        self._rows_skipped.inc(skipped.num_rows)
        yield beam.pvalue.TaggedOutput(_SKIPPED_TAG, skipped)


class _WritePixels(beam.DoFn):
  """Predictions -> GeoParquet shards of about `shard_rows` rows.

  Buffers prediction tables until they hold `shard_rows` rows (so a shard
  has less than `shard_rows` + one record batch), then writes them, and what
  is left at the end of each bundle; outputs the shard paths.
  """

  def __init__(self, prefix: str, as_of: datetime.date, shard_rows: int,
               grid: Optional[grid_lib.Grid] = None):
    self._prefix = prefix
    self._as_of = as_of
    self._shard_rows = shard_rows
    self._grid = grid
    self._tables: List[pa.Table] = []
    self._rows = 0
    self._predicted = beam.metrics.Metrics.counter(_METRICS, 'rows_predicted')

  def start_bundle(self):
    self._tables, self._rows = [], 0

  def _flush(self) -> Optional[str]:
    if not self._rows:
      return None
    table = pa.concat_tables(self._tables)
    self._tables, self._rows = [], 0
    return pixels_lib.write_shard(table, self._prefix, self._grid)

  def process(self, result: inference_base.PredictionResult) -> Iterator[str]:
    rows: handler_lib.EncodedRows = result.example
    self._tables.append(pixels_lib.prediction_table(
        rows.lon, rows.lat, rows.year, self._as_of,
        result.inference['probabilities'], result.inference['class_index']))
    self._rows += rows.num_rows
    self._predicted.inc(rows.num_rows)
    if self._rows >= self._shard_rows:
      yield self._flush()

  def finish_bundle(self):
    path = self._flush()
    if path:
      yield windowed_value.WindowedValue(
          path, beam_window.GlobalWindow().max_timestamp(), [beam_window.GlobalWindow()])


@beam.ptransform_fn
def MapPixels(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline,
    file_layouts: List[reader.FileLayout],
    model_dir: str,
    as_of: datetime.date,
    layout: layouts.MapLayout,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    min_batch_rows: int = handler_lib.DEFAULT_MIN_BATCH_ROWS,
    max_batch_rows: int = handler_lib.DEFAULT_MAX_BATCH_ROWS,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    prefetch_batches: int = DEFAULT_PREFETCH_BATCHES,
    grid: Optional[grid_lib.Grid] = None) -> beam.pvalue.PCollection:
  """Checked input files -> pixel shards and skipped rows under `layout`.

  `grid`: the map's grid; each pixel's row, col, x, y in it go into the
  shards (null without a grid).

  Returns:
    The PCollection of written pixel shard paths.
  """
  outputs = (
      pipeline
      | 'InputFiles' >> beam.Create(file_layouts)
      # Spreads files over workers (Create alone may keep one bundle).
      | 'SpreadFiles' >> beam.Reshuffle()
      | 'ReadCheckEncode' >> beam.ParDo(
          _ReadCheckEncode(as_of, batch_rows, prefetch_batches)
      ).with_output_types(handler_lib.EncodedRows).with_outputs(
          _SKIPPED_TAG, main='rows'))
  _ = (outputs[_SKIPPED_TAG]
       | 'WriteSkipped' >> beam.io.parquetio.WriteToParquetBatched(
           layout.skipped_prefix, SKIPPED_SCHEMA, codec='snappy',
           file_name_suffix='.parquet'))
  handler = handler_lib.ServingModelHandler(model_dir, as_of, min_batch_rows, max_batch_rows)
  return (outputs['rows']
          | 'RunInference' >> inference_base.RunInference(handler)
          | 'WritePixels' >> beam.ParDo(_WritePixels(layout.pixels_prefix, as_of, shard_rows,
                                                     grid)))
