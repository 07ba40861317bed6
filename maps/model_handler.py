"""A Beam RunInference ModelHandler for the pushed model's `serving_default`.

The signature takes serialized raw tf.Examples and an as-of date
(`trainer/signatures.py`), so the handler is small: load the SavedModel once
per worker process (RunInference keeps it in a `Shared` handle), and call the
signature on a batch. An element is an `EncodedRows`, the valid rows of one
record batch already encoded (the map job works on record batches, not on
single rows, so no Python runs per pixel); RunInference batches elements by
their row count (`element_size_fn`) between `min_batch_rows` and
`max_batch_rows`, and `run_inference` makes ONE signature call per batch.
"""

import dataclasses
import datetime
import pickle
from typing import Any, Dict, Iterable, List, Optional, Sequence

import apache_beam as beam
from apache_beam.ml.inference import base
import numpy as np

import tensorflow as tf

from croptfx import errors
from croptfx import paths
from croptfx.trainer import signatures

# Rows per signature call. 4,096 amortizes the call's fixed cost (1,024 to
# 16,384 rows a call run at the same rows/s here, `croptfx bench --map`),
# while a larger batch only adds memory: TensorFlow's intermediates for
# 16,384 rows (the [rows, 73, 12] grids and the window) cost about 300 MiB
# more peak RSS. Equal to the map job's record batch, so a batch is one
# record batch, or the small batches at the ends of files put together.
DEFAULT_MIN_BATCH_ROWS = 4096
DEFAULT_MAX_BATCH_ROWS = 4096


@dataclasses.dataclass
class EncodedRows:
  """Valid rows of one record batch: their serialized raw examples and keys."""
  examples: List[bytes]
  lon: np.ndarray  # float64
  lat: np.ndarray  # float64
  year: np.ndarray  # int64
  source_file: str = ''

  @property
  def num_rows(self) -> int:
    return len(self.lon)

  def without_examples(self) -> 'EncodedRows':
    """The keys only: what follows the model needs no examples, and the
    runner would copy them (its element-size sampling pickles elements)."""
    return dataclasses.replace(self, examples=[])


class EncodedRowsCoder(beam.coders.Coder):
  """Pickles `EncodedRows`, but estimates their size without pickling.

  The DirectRunner samples the size of elements by encoding them with the
  coder: with the default pickling coder that copied megabytes of examples
  per sampled batch (about 2 us per mapped pixel).
  """

  def encode(self, value):
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

  def decode(self, encoded):
    return pickle.loads(encoded)

  def estimate_size(self, value) -> int:
    return sum(map(len, value.examples)) + 24 * value.num_rows

  def is_deterministic(self) -> bool:
    return False

  def to_type_hint(self):
    return EncodedRows


beam.coders.registry.register_coder(EncodedRows, EncodedRowsCoder)


def rows_of(element: EncodedRows) -> int:
  """RunInference's `element_size_fn`: batches are sized in rows."""
  return element.num_rows


class LoadedModel:
  """The SavedModel (kept alive) and its serving signature."""

  def __init__(self, model_dir: str):
    if not tf.saved_model.contains_saved_model(model_dir):
      raise errors.InputDataError(
          model_dir, 'is not a SavedModel directory (use run_summary.json model_dir)')
    # TF globs the variables' path: `run[1]/serving_model/...` is read
    # through a glob-free link.
    self.saved_model = tf.saved_model.load(paths.glob_free_alias(model_dir))
    if signatures.SERVING_SIGNATURE not in self.saved_model.signatures:
      raise errors.InputDataError(
          model_dir, f'has no {signatures.SERVING_SIGNATURE!r} signature')
    self.serve = self.saved_model.signatures[signatures.SERVING_SIGNATURE]

  def __call__(self, examples: Sequence[bytes], as_of: str) -> Dict[str, np.ndarray]:
    """Probabilities (rows x classes, float32) and class_index (int64)."""
    out = self.serve(**{signatures.EXAMPLES_INPUT: tf.constant(examples, tf.string),
                        signatures.AS_OF_DATE_INPUT: tf.constant([as_of])})
    return {'probabilities': out[signatures.PROBABILITIES].numpy(),
            'class_index': out[signatures.CLASS_INDEX].numpy()}


class ServingModelHandler(base.ModelHandler[EncodedRows, base.PredictionResult, LoadedModel]):
  """RunInference over `EncodedRows`: one `serving_default` call per batch."""

  def __init__(self, model_dir: str, as_of: datetime.date,
               min_batch_rows: int = DEFAULT_MIN_BATCH_ROWS,
               max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS):
    super().__init__()
    if not 0 < min_batch_rows <= max_batch_rows:
      raise ValueError(f'need 0 < min_batch_rows <= max_batch_rows, got '
                       f'{min_batch_rows}, {max_batch_rows}')
    self._model_dir = model_dir
    self._as_of = as_of.isoformat()
    self._min_batch_rows = min_batch_rows
    self._max_batch_rows = max_batch_rows

  def load_model(self) -> LoadedModel:
    return LoadedModel(self._model_dir)

  def run_inference(self, batch: Sequence[EncodedRows], model: LoadedModel,
                    inference_args: Optional[Dict[str, Any]] = None
                    ) -> Iterable[base.PredictionResult]:
    batch = [element for element in batch if element.num_rows]
    if not batch:
      return []
    examples = batch[0].examples if len(batch) == 1 else [
        example for element in batch for example in element.examples]
    out = model(examples, self._as_of)
    results, start = [], 0
    for element in batch:
      end = start + element.num_rows
      results.append(base.PredictionResult(
          element.without_examples(), {name: values[start:end] for name, values in out.items()},
          self._model_dir))
      start = end
    return results

  def get_num_bytes(self, batch: Sequence[EncodedRows]) -> int:
    # The default pickles the whole batch just to measure it.
    return sum(sum(map(len, element.examples)) for element in batch)

  def get_metrics_namespace(self) -> str:
    return 'croptfx_map'

  def batch_elements_kwargs(self) -> Dict[str, Any]:
    return {'min_batch_size': self._min_batch_rows,
            'max_batch_size': self._max_batch_rows,
            'element_size_fn': rows_of}
