"""The Cropland Data Layer's grid, and CDL GeoTIFFs of generated areas.

USDA NASS publishes the CDL as one raster a year on one national grid:
EPSG:5070 (NAD83 / Conus Albers), 30 m cells whose edges lie 15 m off the
multiples of 30 m (the national product's upper-left corner is
-2,356,095 m, 3,172,605 m), uint8 codes (`croptfx.cdl`) with the CDL colour
table, 0 the background. Part-1 rows built from it have their lon/lat at
those cells' centres, so a generated area on this grid looks like real rows:
regular in EPSG:5070, not in lon/lat.
"""

import os
from typing import Tuple

import affine
import numpy as np

import pyproj
import rasterio

from croptfx import cdl

CRS = cdl.GRID_CRS
CELL_M = cdl.GRID_CELL_M
# Upper-left corner of the national CDL raster (metres, EPSG:5070).
ORIGIN = cdl.GRID_ORIGIN
NODATA = cdl.BACKGROUND
BLOCK = 256


def _transformer(source: str, target: str):
  return pyproj.Transformer.from_crs(source, target, always_xy=True)


def to_lonlat(x: np.ndarray, y: np.ndarray, crs: str = CRS) -> Tuple[np.ndarray, np.ndarray]:
  """Points of `crs` (metres) -> lon, lat in degrees (WGS84)."""
  return _transformer(crs, 'EPSG:4326').transform(np.asarray(x, float), np.asarray(y, float))


def from_lonlat(lon: np.ndarray, lat: np.ndarray, crs: str = CRS) -> Tuple[np.ndarray, np.ndarray]:
  """lon, lat in degrees (WGS84) -> points of `crs` (metres)."""
  return _transformer('EPSG:4326', crs).transform(np.asarray(lon, float), np.asarray(lat, float))


def snapped_transform(centre_lon: float, centre_lat: float, width: int, height: int
                      ) -> affine.Affine:
  """The transform of a `width` x `height` window of the CDL grid whose
  centre is the cell corner nearest to (centre_lon, centre_lat)."""
  if width < 1 or height < 1:
    raise ValueError(f'the area must be at least 1 x 1 cells, got {width} x {height}')
  x, y = from_lonlat(centre_lon, centre_lat)
  col = round((float(x) - ORIGIN[0]) / CELL_M) - width // 2
  row = round((ORIGIN[1] - float(y)) / CELL_M) - height // 2
  return affine.Affine(CELL_M, 0.0, ORIGIN[0] + col * CELL_M,
                       0.0, -CELL_M, ORIGIN[1] - row * CELL_M)


def cell_centres(transform: affine.Affine, width: int, height: int
                 ) -> Tuple[np.ndarray, np.ndarray]:
  """x, y (the transform's CRS) of every cell centre, row-major from the
  north-west corner: arrays of height * width."""
  cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
  x, y = transform @ (cols.ravel(), rows.ravel())
  return np.asarray(x), np.asarray(y)


def write_cdl(path: str, codes: np.ndarray, transform: affine.Affine, year: int,
              crs: str = CRS) -> str:
  """Writes one year's CDL: uint8 codes [height, width] as a tiled GeoTIFF
  with the CDL colour table, nodata = background, as NASS distributes it."""
  codes = np.asarray(codes)
  if codes.ndim != 2 or codes.dtype != np.uint8:
    raise ValueError(f'codes must be a 2-D uint8 array, got {codes.dtype} {codes.shape}')
  height, width = codes.shape
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tiled = width >= BLOCK and height >= BLOCK
  profile = dict(driver='GTiff', width=width, height=height, count=1, dtype='uint8',
                 crs=crs, transform=transform, nodata=NODATA, compress='deflate',
                 tiled=tiled, **({'blockxsize': BLOCK, 'blockysize': BLOCK} if tiled else {}))
  code_list = cdl.code_list()
  tmp = path + '.tmp'
  with rasterio.open(tmp, 'w', **profile) as dst:
    dst.write(codes, 1)
    dst.write_colormap(1, code_list.colormap())
    dst.update_tags(YEAR=str(year), SOURCE='croptfx generate (synthetic CDL)')
  os.replace(tmp, path)
  return path
