"""`croptfx predict`: raw Part-1 Parquet -> class per pixel, as of a date.

Reads the rows with ParquetExampleGen's reader (same column spellings, Hive
years, cloud URIs), checks them with its validation (bad rows are skipped and
counted by reason, not a crash; a row whose year is not the as-of date's
is skipped as `as_of_outside_year`; nothing predictable is an error), encodes them as the raw tf.Examples the
pipeline emits and calls the pushed model's `serving_default` signature in
batches. Writes one row per predicted pixel: lon, lat, year, class,
class_index, probabilities.
"""

import collections
import datetime
import os
import sys
from typing import Dict, List

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf
import tqdm

from components.parquet_example_gen import encoding
from components.parquet_example_gen import reader
from components.parquet_example_gen import validation
from croptfx import artifacts
from croptfx import errors
from croptfx import features
from trainer import signatures

OUTPUT_SCHEMA = pa.schema([
    (features.LON, pa.float64()), (features.LAT, pa.float64()), (features.YEAR, pa.int64()),
    ('class', pa.string()), ('class_index', pa.int64()),
    ('probabilities', pa.list_(pa.float32())),
])


def _load_serving_fn(model_dir: str):
  if not tf.saved_model.contains_saved_model(model_dir):
    raise errors.InputDataError(model_dir, 'is not a SavedModel directory (use run_summary.json model_dir)')
  # TF globs the variables' path: `run[1]/serving_model/...` is read
  # through a glob-free link.
  loaded = tf.saved_model.load(artifacts.glob_free_alias(model_dir))
  if signatures.SERVING_SIGNATURE not in loaded.signatures:
    raise errors.InputDataError(model_dir, f'has no {signatures.SERVING_SIGNATURE!r} signature')
  return loaded, loaded.signatures[signatures.SERVING_SIGNATURE]


def predict(model_dir: str, data: str, as_of: datetime.date, output: str,
            batch_size: int = 1024, progress: bool = True) -> Dict[str, object]:
  """Predicts every valid row of `data`; returns counts (predicted, skipped)."""
  loaded, serve = _load_serving_fn(model_dir)  # keep `loaded` alive while serving
  layouts = reader.check_input_files(reader.list_input_files(data),
                                     optional=validation.PREDICTION_OPTIONAL_COLUMNS)
  encoder = encoding.ExampleEncoder()
  as_of_date = tf.constant([as_of.isoformat()])
  columns: Dict[str, List] = {name: [] for name in OUTPUT_SCHEMA.names}
  skipped = collections.Counter()
  total = sum(layout.num_rows for layout in layouts)
  bar = tqdm.tqdm(total=total, unit='rows', disable=not progress, file=sys.stderr,
                  desc='croptfx predict')
  for layout in layouts:
    for batch, cast_faults, _ in reader.read_rows(layout.path, batch_size, layout):
      checks = validation.check_rows(batch, path_year=layout.path_year, for_prediction=True,
                                     cast_faults=cast_faults)
      skipped.update(checks.reason_counts())
      # A date outside the row's season cannot be windowed: a row fault.
      outside = checks.valid & validation.as_of_outside_year(batch, as_of)
      skipped[validation.AS_OF_OUTSIDE_YEAR] += int(outside.sum())
      rows = np.flatnonzero(checks.valid & ~outside)
      if rows.size:
        good = batch.take(pa.array(rows))
        out = serve(examples=tf.constant(encoder.encode(good)), as_of_date=as_of_date)
        columns[features.LON].extend(good.column(features.LON).to_pylist())
        columns[features.LAT].extend(good.column(features.LAT).to_pylist())
        columns[features.YEAR].extend(good.column(features.YEAR).to_pylist())
        columns['class'].extend(v.decode() for v in out[signatures.CLASS_NAME].numpy())
        columns['class_index'].extend(out[signatures.CLASS_INDEX].numpy().tolist())
        columns['probabilities'].extend(out[signatures.PROBABILITIES].numpy().tolist())
      bar.update(batch.num_rows)
  bar.close()
  del loaded
  table = pa.table(columns, schema=OUTPUT_SCHEMA)
  if not table.num_rows:
    detail = ', '.join(f'{r}={n}' for r, n in sorted(skipped.items()) if n)
    raise errors.CroptfxError(
        f'nothing to predict as of {as_of}: {total} rows read, none predictable'
        + (f' ({detail})' if detail else '') + f'; {output} not written')
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  pq.write_table(table, output)
  return {'rows_read': total, 'predicted': table.num_rows,
          'skipped': {reason: n for reason, n in skipped.items() if n}}
