"""The map's pixel table: its Arrow schema, WKB points and GeoParquet shards.

One row per mapped pixel: lon, lat, year, as_of, class, class_index,
probabilities (one per class, `features.CLASS_NAMES` order), confidence (the
top probability), the pixel's cell of the map's grid (`maps.pixel_grid`):
row, col, and x, y, the cell's centre in the grid's CRS (all null when the
pixels lie on no grid), and `geometry`, the pixel's centre as a WKB point.
Each shard carries the `geo` file metadata of GeoParquet 1.0
(https://geoparquet.org/releases/v1.0.0/): WKB encoding, geometry type Point,
no `crs` (which means OGC:CRS84, lon/lat in degrees) and the shard's bbox, so
geopandas, DuckDB's spatial extension, QGIS and GDAL open the files as points;
and a `croptfx` key with the grid (CRS, transform, size), which row, col, x
and y refer to.
"""

import datetime
import json
import uuid
from typing import Dict, List, Optional, Sequence

import numpy as np
import pyarrow as pa

from croptfx import features
from croptfx.rows import writer
from croptfx.maps import grid as grid_lib

CLASS = 'class'
CLASS_INDEX = 'class_index'
PROBABILITIES = 'probabilities'
CONFIDENCE = 'confidence'
AS_OF = 'as_of'
GEOMETRY = 'geometry'
ROW, COL, X, Y = 'row', 'col', 'x', 'y'
GEOPARQUET_VERSION = '1.0.0'
# The file metadata key of the grid the cell columns refer to.
GRID_METADATA_KEY = b'croptfx'

# Without `geometry`: what a prediction is; the shards add the point.
PREDICTION_SCHEMA = pa.schema([
    (features.LON, pa.float64()), (features.LAT, pa.float64()),
    (features.YEAR, pa.int64()), (AS_OF, pa.date32()),
    (CLASS, pa.string()), (CLASS_INDEX, pa.int64()),
    (PROBABILITIES, pa.list_(pa.float32())), (CONFIDENCE, pa.float32()),
])
# The pixel's cell: row and column of the map's raster, and the cell's
# centre in the grid's CRS; null without a grid.
CELL_FIELDS = (pa.field(ROW, pa.int64()), pa.field(COL, pa.int64()),
               pa.field(X, pa.float64()), pa.field(Y, pa.float64()))
SCHEMA = pa.schema(list(PREDICTION_SCHEMA) + list(CELL_FIELDS)
                   + [pa.field(GEOMETRY, pa.binary())])

# Little-endian WKB Point: byte order 1, type 1, x, y (21 bytes).
_WKB_POINT = np.dtype([('order', 'u1'), ('type', '<u4'), ('x', '<f8'), ('y', '<f8')])
WKB_POINT_BYTES = _WKB_POINT.itemsize
_CLASS_NAMES = pa.array(features.CLASS_NAMES, pa.string())


def wkb_points(lon: np.ndarray, lat: np.ndarray) -> pa.Array:
  """WKB points (x = lon, y = lat) as one binary array, without a Python loop."""
  points = np.empty(len(lon), _WKB_POINT)
  points['order'] = 1
  points['type'] = 1
  points['x'] = lon
  points['y'] = lat
  offsets = np.arange(0, WKB_POINT_BYTES * len(lon) + 1, WKB_POINT_BYTES, dtype=np.int32)
  return pa.Array.from_buffers(pa.binary(), len(lon),
                               [None, pa.py_buffer(offsets), pa.py_buffer(points.tobytes())])


def prediction_table(lon: np.ndarray, lat: np.ndarray, year: np.ndarray,
                     as_of: datetime.date, probabilities: np.ndarray,
                     class_index: np.ndarray) -> pa.Table:
  """Rows of the pixel table from the serving signature's outputs.

  probabilities: rows x classes; class_index: the signature's own argmax
  (its class name is looked up here, the same `features.CLASS_NAMES`).
  """
  probabilities = np.ascontiguousarray(probabilities, dtype=np.float32)
  n, k = len(class_index), features.NUM_CLASSES
  probabilities = probabilities.reshape(n, k)
  class_index = np.asarray(class_index, np.int64)
  values = pa.array(probabilities.reshape(-1), pa.float32())
  offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
  return pa.Table.from_arrays([
      pa.array(lon, pa.float64()), pa.array(lat, pa.float64()),
      pa.array(year, pa.int64()),
      pa.array(np.full(n, features.days_since_epoch(as_of), np.int32), pa.date32()),
      _CLASS_NAMES.take(pa.array(class_index)),
      pa.array(class_index, pa.int64()),
      pa.ListArray.from_arrays(offsets, values),
      pa.array(probabilities.max(axis=1) if n else np.zeros(0, np.float32), pa.float32()),
  ], schema=PREDICTION_SCHEMA)


def geo_metadata(bbox: Sequence[float]) -> Dict[bytes, bytes]:
  """The `geo` key of a GeoParquet 1.0 file's metadata (crs omitted: OGC:CRS84)."""
  return {b'geo': json.dumps({
      'version': GEOPARQUET_VERSION,
      'primary_column': GEOMETRY,
      'columns': {GEOMETRY: {
          'encoding': 'WKB',
          'geometry_types': ['Point'],
          'bbox': [float(v) for v in bbox],
      }},
  }).encode()}


def with_geometry(table: pa.Table) -> pa.Table:
  """The prediction table plus its WKB points, schema with the `geo` metadata."""
  lon = table.column(features.LON).to_numpy()
  lat = table.column(features.LAT).to_numpy()
  bbox = ([lon.min(), lat.min(), lon.max(), lat.max()] if len(lon)
          else [0.0, 0.0, 0.0, 0.0])
  table = table.append_column(GEOMETRY, wkb_points(lon, lat))
  return table.replace_schema_metadata(geo_metadata(bbox))


def cell_columns(lon: np.ndarray, lat: np.ndarray,
                 grid: Optional[grid_lib.Grid]) -> List[pa.Array]:
  """row, col, x, y of each pixel's cell of `grid` (nulls without one)."""
  if grid is None:
    return [pa.nulls(len(lon), f.type) for f in CELL_FIELDS]
  rows, cols, x, y = grid.locate(lon, lat)
  return [pa.array(rows, pa.int64()), pa.array(cols, pa.int64()),
          pa.array(x, pa.float64()), pa.array(y, pa.float64())]


def with_cells(table: pa.Table, grid: Optional[grid_lib.Grid]) -> pa.Table:
  """The prediction table plus each pixel's cell, then its WKB points; the
  schema's metadata holds the `geo` key and the grid."""
  lon = table.column(features.LON).to_numpy()
  lat = table.column(features.LAT).to_numpy()
  for field, column in zip(CELL_FIELDS, cell_columns(lon, lat, grid)):
    table = table.append_column(field, column)
  table = with_geometry(table)
  metadata = dict(table.schema.metadata)
  metadata[GRID_METADATA_KEY] = json.dumps({'grid': grid.to_dict() if grid else None}).encode()
  return table.replace_schema_metadata(metadata)


def write_shard(table: pa.Table, prefix: str, grid: Optional[grid_lib.Grid] = None) -> str:
  """Writes one GeoParquet shard `<prefix>-<unique>.parquet`, whole or not at
  all (`writer.write_parquet`), so a reader listing the directory never sees
  half a file."""
  return writer.write_parquet(with_cells(table, grid), f'{prefix}-{uuid.uuid4().hex}.parquet')


def write_table(table: pa.Table, path: str) -> str:
  """Writes prediction rows as one local GeoParquet file (`croptfx predict`)."""
  return writer.write_parquet(with_geometry(table.select(PREDICTION_SCHEMA.names)), path)
