"""Rows that are not used, kept with their reason: the quarantine table.

The ExampleGen writes the rows it quarantines, the map job the rows it skips
and the extraction job the samples it drops, all in this one table: the
normalized input columns (`reader.NORMALIZED_SCHEMA`) plus the file the row
came from and the reason (`validation.REASONS`, or the job's own).
"""

from typing import Sequence

import pyarrow as pa

from croptfx.rows import reader

SOURCE_FILE = 'source_file'
REASON = 'reason'
QUARANTINE_SCHEMA = reader.NORMALIZED_SCHEMA.append(
    pa.field(SOURCE_FILE, pa.string())).append(pa.field(REASON, pa.string()))


def quarantine_table(rows: pa.RecordBatch, source_file: str,
                     reasons: Sequence[str]) -> pa.Table:
  """Quarantined rows: their normalized columns plus source_file, reason."""
  n = rows.num_rows
  return pa.Table.from_arrays(
      rows.columns + [pa.array([source_file] * n, pa.string()),
                      pa.array(list(reasons), pa.string())],
      schema=QUARANTINE_SCHEMA)
