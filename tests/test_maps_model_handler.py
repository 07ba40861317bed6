"""maps/model_handler.py: RunInference over batches of rows, one signature call each."""

import datetime

import numpy as np
import pytest

from croptfx import errors
from croptfx.maps import model_handler


class _FakeModel:
  """Class i of row r: probabilities one-hot at (r + offset) % 7, by call."""

  def __init__(self):
    self.calls = []

  def __call__(self, examples, as_of):
    self.calls.append((list(examples), as_of))
    rows = np.array([int(e.decode()) for e in examples])
    probabilities = np.eye(7, dtype=np.float32)[rows % 7]
    return {'probabilities': probabilities, 'class_index': (rows % 7).astype(np.int64)}


def _rows(values, source='f.parquet'):
  return model_handler.EncodedRows(
      examples=[str(v).encode() for v in values], lon=np.array(values, float),
      lat=np.array(values, float) + 0.5, year=np.full(len(values), 2021), source_file=source)


def test_one_call_per_batch_and_results_split_back_per_element():
  handler = model_handler.ServingModelHandler('/m', datetime.date(2021, 7, 15))
  model = _FakeModel()
  batch = [_rows([1, 2, 3]), _rows([]), _rows([9, 10])]
  results = list(handler.run_inference(batch, model))
  assert model.calls == [([b'1', b'2', b'3', b'9', b'10'], '2021-07-15')]
  assert len(results) == 2  # the empty element has no result
  assert results[0].example.num_rows == 3 and not results[0].example.examples
  assert results[0].inference['class_index'].tolist() == [1, 2, 3]
  assert results[1].inference['class_index'].tolist() == [2, 3]
  assert results[1].example.lon.tolist() == [9.0, 10.0]
  assert results[1].model_id == '/m'


def test_batches_are_sized_in_rows_and_bytes_without_pickling():
  handler = model_handler.ServingModelHandler('/m', datetime.date(2021, 7, 15), 5, 50)
  assert handler.batch_elements_kwargs() == {
      'min_batch_size': 5, 'max_batch_size': 50, 'element_size_fn': model_handler.rows_of}
  assert model_handler.rows_of(_rows([1, 2, 3])) == 3
  assert handler.get_num_bytes([_rows([1, 22]), _rows([333])]) == 1 + 2 + 3
  with pytest.raises(ValueError, match='0 < min_batch_rows <= max_batch_rows'):
    model_handler.ServingModelHandler('/m', datetime.date(2021, 7, 15), 10, 5)


def test_a_directory_without_a_model_is_named(tmp_path):
  with pytest.raises(errors.InputDataError, match='is not a SavedModel directory'):
    model_handler.LoadedModel(str(tmp_path))
