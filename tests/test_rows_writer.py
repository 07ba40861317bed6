"""rows.writer: a Parquet file is written whole or not at all."""

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from croptfx.rows import writer


def test_writes_the_table_and_leaves_no_temporary_file(tmp_path):
  table = pa.table({'lon': [1.5, -2.25], 'CDL': ['Corn', 'Soybeans']})
  path = str(tmp_path / 'a.parquet')
  assert writer.write_parquet(table, path) == path
  assert pq.read_table(path).to_pydict() == {'lon': [1.5, -2.25], 'CDL': ['Corn', 'Soybeans']}
  assert os.listdir(tmp_path) == ['a.parquet']


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
  path = str(tmp_path / 'a.parquet')
  writer.write_parquet(pa.table({'x': [1, 2, 3]}), path)
  with pytest.raises(Exception):
    writer.write_parquet('not a table', path)
  assert pq.read_table(path).to_pydict() == {'x': [1, 2, 3]}
  assert os.listdir(tmp_path) == ['a.parquet']


def test_replaces_an_existing_file_whole(tmp_path):
  path = str(tmp_path / 'a.parquet')
  writer.write_parquet(pa.table({'x': list(range(1000))}), path)
  writer.write_parquet(pa.table({'x': [7]}), path)
  assert pq.read_table(path).to_pydict() == {'x': [7]}
