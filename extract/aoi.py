"""The area to extract: a lon/lat box or a GeoJSON polygon (WGS84, RFC 7946).

`--aoi WEST,SOUTH,EAST,NORTH` (degrees) or `--aoi FILE.geojson` (a Polygon
or MultiPolygon geometry, a Feature, or a FeatureCollection, whose polygons
are united). A pixel belongs to the area when its cell centre, in lon/lat,
is inside (a box includes its edges).
"""

import dataclasses
import json
import os
from typing import Optional, Tuple

import numpy as np
import shapely
import shapely.geometry

from croptfx import errors


@dataclasses.dataclass(frozen=True)
class Aoi:
  """An area in lon/lat: its bounds and, for a polygon, its WKB."""
  bounds: Tuple[float, float, float, float]  # west, south, east, north
  wkb: Optional[bytes] = None  # None: the box is the area
  source: str = ''  # as given, for the summary

  def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Which points are in the area (bool array)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    west, south, east, north = self.bounds
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    if self.wkb is None or not inside.any():
      return inside
    geometry = shapely.from_wkb(self.wkb)
    shapely.prepare(geometry)
    rows = np.flatnonzero(inside)
    inside[rows] = shapely.contains_xy(geometry, lon[rows], lat[rows]) | shapely.intersects_xy(
        geometry.boundary, lon[rows], lat[rows])
    return inside

  def intersects_box(self, west: float, south: float, east: float, north: float) -> bool:
    """Whether the area meets a lon/lat box (a chunk's or a scene's bounds)."""
    w, s, e, n = self.bounds
    if west > e or east < w or south > n or north < s:
      return False
    if self.wkb is None:
      return True
    return bool(shapely.from_wkb(self.wkb).intersects(shapely.box(west, south, east, north)))

  def to_dict(self):
    return {'source': self.source, 'bounds': list(self.bounds),
            'polygon': self.wkb is not None}


def from_bbox(west: float, south: float, east: float, north: float, source: str = '') -> Aoi:
  if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
    raise errors.CroptfxError(
        f'--aoi {source or (west, south, east, north)}: needs WEST < EAST within -180..180 and '
        'SOUTH < NORTH within -90..90 (degrees)')
  return Aoi((float(west), float(south), float(east), float(north)), None,
             source or f'{west},{south},{east},{north}')


def parse(text: str) -> Aoi:
  """`W,S,E,N` or the path of a GeoJSON file (see the module doc).

  Raises:
    CroptfxError: neither four numbers nor a readable GeoJSON polygon.
  """
  parts = [p.strip() for p in text.split(',')]
  if len(parts) == 4 and not os.path.exists(text):
    try:
      values = [float(p) for p in parts]
    except ValueError:
      values = None
    if values is not None:
      return from_bbox(*values, source=text)
  if not os.path.exists(text):
    raise errors.CroptfxError(
        f'--aoi {text}: neither WEST,SOUTH,EAST,NORTH in degrees nor an existing GeoJSON file')
  return read_geojson(text)


def read_geojson(path: str) -> Aoi:
  try:
    with open(path, encoding='utf-8') as f:
      doc = json.load(f)
  except (OSError, ValueError) as e:
    raise errors.CroptfxError(f'--aoi {path}: not a readable GeoJSON file ({e})') from None
  if not isinstance(doc, dict):
    raise errors.CroptfxError(f'--aoi {path}: not a GeoJSON object')
  if doc.get('type') == 'FeatureCollection':
    geometries = [f.get('geometry') for f in doc.get('features', []) if isinstance(f, dict)]
  elif doc.get('type') == 'Feature':
    geometries = [doc.get('geometry')]
  else:
    geometries = [doc]
  polygons = []
  for geometry in geometries:
    try:
      shape = shapely.geometry.shape(geometry) if geometry else None
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException):
      shape = None
    if shape is not None and shape.geom_type in ('Polygon', 'MultiPolygon') and not shape.is_empty:
      polygons.append(shape if shape.is_valid else shape.buffer(0))
  if not polygons:
    raise errors.CroptfxError(f'--aoi {path}: holds no Polygon or MultiPolygon')
  area = shapely.union_all(polygons)
  west, south, east, north = area.bounds
  if not (-180 <= west and east <= 180 and -90 <= south and north <= 90):
    raise errors.CroptfxError(f'--aoi {path}: coordinates are not lon/lat degrees '
                              '(GeoJSON is WGS84)')
  return Aoi((west, south, east, north), shapely.to_wkb(area), path)
