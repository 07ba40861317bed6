"""`croptfx generate DIR --imagery`: what the real sources deliver, simulated.

The same fields and phenology as the Part-1 rows (`part1.aoi_layout`,
`simulate`), delivered the way a user with real data gets them:

  DIR/cdl/YYYY_30m_cdls.tif      the Cropland Data Layer of each year: EPSG:5070,
                                 30 m on the national grid, real CDL codes and
                                 the official colour table (`cdl_raster`)
  DIR/scenes/TILE/YYYY/ID/*.tif  Sentinel-2 L2A scenes as Cloud-Optimized
                                 GeoTIFFs in their UTM zone: B02 B03 B04 B08
                                 at 10 m, B05 B06 B07 B8A B11 B12 and SCL at
                                 20 m, B01 B09 at 60 m (uint16 DN, nodata 0)
  DIR/stac/earth-search.json     the scenes as a STAC ItemCollection in Earth
                                 Search v1's conventions (assets keyed by
                                 common name, `raster:bands` scale/offset)
  DIR/stac/planetary-computer.json  and in Planetary Computer's (assets keyed
                                 B02 ... SCL, `s2:processing_baseline`, no
                                 scale/offset)
  DIR/imagery.json               what was made: the area, tiles, scenes, files

The area is a W x H window of the CDL grid centred on the boundary of UTM
zones 15 and 16 (90 W) in the Mississippi Delta, so it is seen by two MGRS
tiles of two zones, 15SYT and 16SBC. A real tile is 109.8 km square; only
a window of each tile's grid around the area is written (its corner on the
tile's 60 m grid, so the 10, 20 and 60 m grids nest as in the real
product): tile 15's window holds the west 60% of the area, tile 16's the
east 60%, and the middle fifth is in both. One orbit images both tiles on
the same dates (every `revisit_days`), so pixels of the overlap have every
date twice, once per tile (the duplicate dates the ExampleGen already
handles); the two tiles' products of a date differ slightly (other pixel
grids, other noise).

Clouds are one field per date on the ground (smooth blobs in EPSG:5070, the
same in both tiles), decided per 60 m cell so that every band and the SCL
agree: opaque cloud (SCL 9 high / 8 medium probability, the cloud
spectrum), thin cirrus (10, added to the surface), cloud shadow (3, the
surface darkened, the cloud field shifted away from the sun). Some scenes
of tile 16 end at the swath edge: no data (0, SCL 0) east of a slanted line.
Scenes of processing baseline 04.00 and later (from 25 January 2022) carry
the +1000 offset in their DNs, as ESA's do. Byte-for-byte deterministic for
a seed (the COGs' pixels; the files' metadata holds no time).
"""

import dataclasses
import datetime
import json
import math
import os
from typing import Dict, Iterable, List, Sequence, Tuple

import affine
import numpy as np
import pyproj
from rasterio import shutil as rio_shutil
from rasterio import warp
import rasterio.io

from croptfx import cdl
from croptfx import codec
from croptfx import features
from croptfx import sentinel2
from croptfx.generate import cdl_raster
from croptfx.generate import part1
from croptfx.generate import simulate

AREA_CENTRE = (-90.0, 33.5)  # lon, lat: on the zone 15/16 boundary
ZONES = (15, 16)
# Share of the area's columns each tile's window holds (west, east).
TILE_COLUMNS = ((0.0, 0.6), (0.4, 1.0))
WINDOW_MARGIN_M = 60.0
# The orbit's first acquisition day of a year (day index from 1 January).
ORBIT_OFFSET = 1
ACQUISITION_TIME = datetime.time(16, 48, 21, 24000)  # UTC, ~10:30 solar time
RELATIVE_ORBIT = 126
PLATFORMS = ('sentinel-2a', 'sentinel-2b')
# Baselines by date (the ESA history, simplified).
BASELINES = ((datetime.date(2021, 6, 30), '02.14'),
             (sentinel2.OFFSET_SINCE, '03.00'),
             (datetime.date(2022, 12, 13), '04.00'),
             (datetime.date.max, '05.09'))
SWATH_EDGE_SHARE = 0.15  # scenes of the east tile cut by the swath edge
CLOUD_BLOBS = 6
SHADOW_SHIFT_M = (-150.0, 150.0)  # shadows fall north-west of clouds (sun in the south-east)
COG_TYPE = 'image/tiff; application=geotiff; profile=cloud-optimized'
STAC_VERSION = '1.0.0'
EXTENSIONS = {
    'eo': 'https://stac-extensions.github.io/eo/v1.1.0/schema.json',
    'proj': 'https://stac-extensions.github.io/projection/v1.1.0/schema.json',
    'raster': 'https://stac-extensions.github.io/raster/v1.1.0/schema.json',
    'mgrs': 'https://stac-extensions.github.io/mgrs/v1.0.0/schema.json',
    'sat': 'https://stac-extensions.github.io/sat/v1.0.0/schema.json',
}
PUBLISHERS = ('earth-search', 'planetary-computer')
SUMMARY_FILE = 'imagery.json'
_MGRS_COLUMNS = ('ABCDEFGH', 'JKLMNPQR', 'STUVWXYZ')
_MGRS_ROWS = 'ABCDEFGHJKLMNPQRSTUV'
_LATITUDE_BANDS = 'CDEFGHJKLMNPQRSTUVWX'


@dataclasses.dataclass(frozen=True)
class Tile:
  """A Sentinel-2 tile: its MGRS name, UTM zone and upper-left corner."""
  name: str  # e.g. '16SBC'
  zone: int
  ulx: float
  uly: float

  @property
  def epsg(self) -> int:
    return 32600 + self.zone  # northern hemisphere

  @property
  def crs(self) -> str:
    return f'EPSG:{self.epsg}'


def mgrs_tile(zone: int, lon: float, lat: float) -> Tile:
  """The tile of UTM zone `zone` whose 100 km MGRS square holds (lon, lat).

  Letters by the MGRS rules (column letters in three sets by zone, row
  letters offset by 5 in even zones); the corner is the square's west edge
  on the 60 m grid and 40 m above its north edge, as real tiles' are within
  a few tens of metres, the tile reaching 109.8 km east and south from it.
  """
  easting, northing = (float(v) for v in cdl_raster.from_lonlat(lon, lat, f'EPSG:{32600 + zone}'))
  column = _MGRS_COLUMNS[(zone - 1) % 3][int(easting // 100000) - 1]
  row = _MGRS_ROWS[(int(northing // 100000) + (5 if zone % 2 == 0 else 0)) % 20]
  band = _LATITUDE_BANDS[int((lat + 80) // 8)]
  west, north = (easting // 100000) * 100000, (northing // 100000 + 1) * 100000
  return Tile(f'{zone}{band}{column}{row}', zone, math.floor(west / 60) * 60, north + 40)


@dataclasses.dataclass(frozen=True)
class Window:
  """The part of a tile written: 10 m pixels from (x0, y0), a multiple of 60 m."""
  tile: Tile
  x0: float
  y0: float
  width: int  # 10 m pixels, a multiple of 6
  height: int

  def transform(self, resolution: int) -> affine.Affine:
    return affine.Affine(resolution, 0.0, self.x0, 0.0, -resolution, self.y0)

  def shape(self, resolution: int) -> Tuple[int, int]:
    return self.height * 10 // resolution, self.width * 10 // resolution

  def centres(self, resolution: int) -> Tuple[np.ndarray, np.ndarray]:
    """x, y of every pixel centre at `resolution`, [rows, cols] arrays."""
    rows, cols = self.shape(resolution)
    x = self.x0 + (np.arange(cols) + 0.5) * resolution
    y = self.y0 - (np.arange(rows) + 0.5) * resolution
    return np.meshgrid(x, y)

  def lonlat_bounds(self) -> Tuple[float, float, float, float]:
    x1, y1 = self.x0 + self.width * 10, self.y0 - self.height * 10
    return tuple(warp.transform_bounds(self.tile.crs, 'EPSG:4326', self.x0, y1, x1, self.y0,
                                       densify_pts=21))


@dataclasses.dataclass(frozen=True)
class Scene:
  """One acquisition of one tile."""
  tile: Tile
  day: int  # days since 1970-01-01
  cover: float  # the share of the area under cloud the sky is drawn with
  index: int  # acquisition number in the year (platform, swath edge)

  @property
  def date(self) -> datetime.date:
    return features.date_from_days(self.day)

  @property
  def baseline(self) -> str:
    return next(b for until, b in BASELINES if self.date < until)

  @property
  def offset(self) -> int:
    return sentinel2.BOA_ADD_OFFSET if sentinel2.baseline_has_offset(self.baseline) else 0

  @property
  def platform(self) -> str:
    return PLATFORMS[self.index % 2]

  @property
  def earth_search_id(self) -> str:
    return f'S2{self.platform[-1].upper()}_{self.tile.name}_{self.date:%Y%m%d}_0_L2A'

  @property
  def planetary_computer_id(self) -> str:
    processed = self.date + datetime.timedelta(days=1)
    return (f'S2{self.platform[-1].upper()}_MSIL2A_{self.date:%Y%m%d}T164839_'
            f'R{RELATIVE_ORBIT:03d}_T{self.tile.name}_{processed:%Y%m%d}T011543')

  @property
  def datetime(self) -> str:
    return (datetime.datetime.combine(self.date, ACQUISITION_TIME)
            .isoformat(timespec='milliseconds') + 'Z')


def area_transform(width: int, height: int) -> affine.Affine:
  """The CDL grid window of the area (EPSG:5070)."""
  return cdl_raster.snapped_transform(AREA_CENTRE[0], AREA_CENTRE[1], width, height)


def tile_windows(width: int, height: int) -> List[Window]:
  """Each tile's window: its share of the area's columns plus a margin,
  snapped outwards to the tile's 60 m grid."""
  transform = area_transform(width, height)
  windows = []
  for zone, (first, last) in zip(ZONES, TILE_COLUMNS):
    tile = mgrs_tile(zone, *AREA_CENTRE)
    c0, c1 = int(round(first * width)), int(round(last * width))
    xs, ys = transform @ (np.array([c0, c1, c1, c0], float), np.array([0, 0, height, height], float))
    lon, lat = cdl_raster.to_lonlat(xs, ys)
    ux, uy = cdl_raster.from_lonlat(lon, lat, tile.crs)
    x0 = tile.ulx + math.floor((ux.min() - WINDOW_MARGIN_M - tile.ulx) / 60) * 60
    x1 = tile.ulx + math.ceil((ux.max() + WINDOW_MARGIN_M - tile.ulx) / 60) * 60
    y0 = tile.uly - math.floor((tile.uly - uy.max() - WINDOW_MARGIN_M) / 60) * 60
    y1 = tile.uly - math.ceil((tile.uly - uy.min() + WINDOW_MARGIN_M) / 60) * 60
    windows.append(Window(tile, x0, y0, int(round((x1 - x0) / 10)), int(round((y0 - y1) / 10))))
  return windows


def _block_mean(values: np.ndarray, factor: int) -> np.ndarray:
  """Mean over factor x factor blocks of the leading two axes."""
  rows, cols = values.shape[0] // factor, values.shape[1] // factor
  return values.reshape(rows, factor, cols, factor, *values.shape[2:]).mean(axis=(1, 3))


def _upsample(values: np.ndarray, factor: int) -> np.ndarray:
  return np.repeat(np.repeat(values, factor, axis=0), factor, axis=1)


class _Area:
  """The area's fields and their truth: the layout on the CDL grid."""

  def __init__(self, width: int, height: int, seed: int):
    self.width, self.height = width, height
    self.transform = area_transform(width, height)
    self.layout = part1.aoi_layout(width, height, seed)
    # The sky is judged over the area's cell centres (both tiles alike).
    x, y = cdl_raster.cell_centres(self.transform, width, height)
    self.cell_x, self.cell_y = x, y

  def class_names(self, year: int) -> np.ndarray:
    """CDL class name of every field in `year`."""
    n = self.layout['n_fields']
    return simulate.cdl_names(self.layout['type'], np.arange(n), year)

  def codes(self, year: int) -> np.ndarray:
    """The CDL raster of `year`: uint8 codes [height, width]."""
    code_list = cdl.code_list()
    per_field = np.array([code_list.code(name) for name in self.class_names(year)], np.uint8)
    return per_field[self.layout['field_id']]

  def fields_at(self, x: np.ndarray, y: np.ndarray, crs: str) -> np.ndarray:
    """The field of the CDL cell under each point (clamped into the area)."""
    ax, ay = pyproj.Transformer.from_crs(crs, cdl_raster.CRS, always_xy=True).transform(x, y)
    col, row = ~self.transform @ (np.asarray(ax), np.asarray(ay))
    col = np.clip(np.floor(col).astype(int), 0, self.width - 1)
    row = np.clip(np.floor(row).astype(int), 0, self.height - 1)
    return self.layout['field_id'][row, col]


class _Sky:
  """The clouds of one date, on the ground (EPSG:5070), for every tile."""

  def __init__(self, area: _Area, cover: float, rng):
    span = 1000.0 + 30.0 * max(area.width, area.height)
    cx, cy = area.cell_x.mean(), area.cell_y.mean()
    self.blobs = [(cx + rng.uniform(-span, span), cy + rng.uniform(-span, span),
                   rng.uniform(150, 700), rng.uniform(0.5, 1.0)) for _ in range(CLOUD_BLOBS)]
    self.cirrus_blobs = [(cx + rng.uniform(-span, span), cy + rng.uniform(-span, span),
                          rng.uniform(300, 900), 1.0) for _ in range(2)]
    f = self._field(self.blobs, area.cell_x, area.cell_y)
    g = self._field(self.cirrus_blobs, area.cell_x, area.cell_y)
    cirrus_cover = 0.15 * cover if rng.random() < 0.5 else 0.0
    self.cloud = np.quantile(f, 1 - cover) if cover > 0.01 else np.inf
    self.thick = np.quantile(f, 1 - 0.6 * cover) if cover > 0.01 else np.inf
    self.cirrus = np.quantile(g, 1 - cirrus_cover) if cirrus_cover > 0.01 else np.inf

  @staticmethod
  def _field(blobs, x, y):
    total = np.zeros(np.shape(x))
    for bx, by, radius, weight in blobs:
      total += weight * np.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * radius ** 2))
    return total

  def classes(self, x: np.ndarray, y: np.ndarray) -> Dict[str, np.ndarray]:
    """Masks at points of EPSG:5070: opaque_hi, opaque_med, cirrus, shadow."""
    f = self._field(self.blobs, x, y)
    opaque_hi = f > self.thick
    opaque_med = (f > self.cloud) & ~opaque_hi
    opaque = opaque_hi | opaque_med
    cirrus = (self._field(self.cirrus_blobs, x, y) > self.cirrus) & ~opaque
    shaded = self._field(self.blobs, x - SHADOW_SHIFT_M[0], y - SHADOW_SHIFT_M[1]) > self.cloud
    return {'opaque_hi': opaque_hi, 'opaque_med': opaque_med, 'cirrus': cirrus,
            'shadow': shaded & ~opaque & ~cirrus}


class _TileSimulator:
  """Surface and observations of one tile window in one year."""

  def __init__(self, area: _Area, window: Window, year: int, seed: int, tile_index: int):
    self.area, self.window, self.year = area, window, year
    self.rng = np.random.default_rng([seed, year, 40 + tile_index])
    x, y = window.centres(10)
    self.field = area.fields_at(x, y, window.tile.crs)  # [rows, cols] at 10 m
    layout = area.layout
    shape = self.field.shape
    self.shift = layout['timing'][self.field] + self.rng.normal(0, 2.0, shape)
    self.amp = layout['amp'][self.field] * self.rng.uniform(0.97, 1.03, shape)
    self.names = area.class_names(year)[self.field]
    to_area = pyproj.Transformer.from_crs(window.tile.crs, cdl_raster.CRS, always_xy=True)
    x60, y60 = window.centres(60)
    self.ground60 = to_area.transform(x60, y60)  # the sky is decided per 60 m cell

  def observe(self, scene: Scene, sky: _Sky, year_shift: float) -> Dict[str, np.ndarray]:
    """DNs of every band at its resolution and the SCL (20 m) of `scene`."""
    rng, layout = self.rng, self.area.layout
    doy = float(scene.day - codec.jan1_days(self.year))
    rows, cols = self.field.shape
    refl = np.zeros((rows, cols, features.NUM_BANDS))
    water = np.zeros((rows, cols))
    scene_moisture = rng.uniform(0.85, 1.15)
    for name in sorted(set(self.names.ravel())):
      where = self.names == name
      profile = simulate.PROFILES[name]
      shift = self.shift[where] + (year_shift if profile.shifts else 0.0)
      moisture = scene_moisture * rng.uniform(0.95, 1.05, (int(where.sum()), 1))
      r, w = simulate.surface(profile, np.array([[doy]]), shift[:, None], self.amp[where][:, None],
                              layout['soil'][self.field[where]], moisture, rng)
      refl[where], water[where] = r[:, 0], w[:, 0]
    scl = simulate.clear_scl(rng, _block_mean(refl, 2), _block_mean(water, 2))
    masks = sky.classes(*self.ground60)
    at = {k: _upsample(v, 6) for k, v in masks.items()}
    refl = simulate.atmosphere(rng, refl, at['opaque_hi'] | at['opaque_med'], at['cirrus'],
                               at['shadow'])
    for key, value in (('opaque_hi', 9), ('opaque_med', 8), ('cirrus', 10), ('shadow', 3)):
      scl[_upsample(masks[key], 3)] = value
    nodata60 = self._swath_edge(scene)
    scl[_upsample(nodata60, 3)] = 0
    dn = {}
    for band_index, band in enumerate(sentinel2.BANDS):
      values = _block_mean(refl[..., band_index], band.resolution // 10)
      values = np.clip(np.rint(values), 1, 65535 - scene.offset) + scene.offset
      values[_upsample(nodata60, 60 // band.resolution)] = 0
      dn[band.name] = values.astype(np.uint16)
    dn[sentinel2.SCL] = scl
    return dn

  def _swath_edge(self, scene: Scene) -> np.ndarray:
    """60 m cells beyond the swath edge (no data) in some east-tile scenes."""
    rows, cols = self.window.shape(60)
    edge_rng = np.random.default_rng([scene.day, 77])
    if self.window.tile.zone != ZONES[1] or edge_rng.random() >= SWATH_EDGE_SHARE:
      return np.zeros((rows, cols), bool)
    yy, xx = np.mgrid[0:rows, 0:cols]
    position = edge_rng.uniform(0.3, 0.7) * cols
    return xx - position > 0.2 * (yy - rows / 2)


def _write_cog(path: str, values: np.ndarray, window: Window, resolution: int) -> None:
  """One band as a Cloud-Optimized GeoTIFF (deflate, nodata 0), atomically."""
  rows, cols = values.shape
  profile = dict(driver='GTiff', width=cols, height=rows, count=1, dtype=values.dtype.name,
                 crs=window.tile.crs, transform=window.transform(resolution), nodata=0)
  tmp = path + '.tmp'
  with rasterio.io.MemoryFile() as memory:
    with memory.open(**profile) as dst:
      dst.write(values, 1)
    with memory.open() as src:
      rio_shutil.copy(src, tmp, driver='COG', compress='DEFLATE', predictor=2,
                      blocksize=512, overview_resampling='nearest')
  os.replace(tmp, path)


def _lonlat_polygon(window: Window) -> Dict[str, object]:
  """The window's footprint as a GeoJSON polygon (corners, counter-clockwise)."""
  x1, y1 = window.x0 + window.width * 10, window.y0 - window.height * 10
  xs = np.array([window.x0, x1, x1, window.x0, window.x0])
  ys = np.array([y1, y1, window.y0, window.y0, y1])
  lon, lat = cdl_raster.to_lonlat(xs, ys, window.tile.crs)
  return {'type': 'Polygon',
          'coordinates': [[[round(float(a), 8), round(float(b), 8)] for a, b in zip(lon, lat)]]}


def _asset_grid(window: Window, resolution: int, publisher: str) -> Dict[str, object]:
  rows, cols = window.shape(resolution)
  grid = {'proj:shape': [rows, cols],
          'proj:transform': [resolution, 0, window.x0, 0, -resolution, window.y0]}
  if publisher == 'planetary-computer':
    grid['gsd'] = float(resolution)
    grid['proj:bbox'] = [window.x0, window.y0 - rows * resolution,
                         window.x0 + cols * resolution, window.y0]
  else:
    grid['gsd'] = resolution
  return grid


def item_dict(scene: Scene, window: Window, hrefs: Dict[str, str], cloud_cover: float,
              publisher: str) -> Dict[str, object]:
  """The STAC item of `scene` in a publisher's conventions (STAC 1.0.0)."""
  geometry = _lonlat_polygon(window)
  lons = [p[0] for p in geometry['coordinates'][0]]
  lats = [p[1] for p in geometry['coordinates'][0]]
  properties = {
      'datetime': scene.datetime,
      'platform': scene.platform,
      'constellation': 'sentinel-2',
      'instruments': ['msi'],
      'eo:cloud_cover': round(cloud_cover, 4),
      'proj:epsg': window.tile.epsg,
      's2:processing_baseline': scene.baseline,
      's2:product_type': 'S2MSI2A',
  }
  assets = {}
  if publisher == 'earth-search':
    extensions = [EXTENSIONS[k] for k in ('eo', 'proj', 'raster', 'mgrs')]
    properties.update({'mgrs:utm_zone': window.tile.zone,
                       'mgrs:latitude_band': window.tile.name[2],
                       'mgrs:grid_square': window.tile.name[3:],
                       's2:sequence': '0'})
    for band in sentinel2.BANDS:
      assets[band.earth_search] = {
          'href': hrefs[band.name], 'type': COG_TYPE,
          'title': f'{band.description} - {band.resolution}m',
          'eo:bands': [{'name': band.earth_search, 'common_name': band.common_name,
                        'description': band.description,
                        'center_wavelength': band.center_wavelength,
                        'full_width_half_max': band.full_width_half_max}],
          **_asset_grid(window, band.resolution, publisher),
          'raster:bands': [{'nodata': 0, 'data_type': 'uint16', 'bits_per_sample': 15,
                            'spatial_resolution': band.resolution,
                            'scale': 1 / sentinel2.QUANTIFICATION_VALUE,
                            'offset': (-scene.offset / sentinel2.QUANTIFICATION_VALUE
                                     if scene.offset else 0.0)}],
          'roles': ['data', 'reflectance']}
    assets['scl'] = {
        'href': hrefs[sentinel2.SCL], 'type': COG_TYPE,
        'title': 'Scene classification map (SCL)',
        **_asset_grid(window, sentinel2.SCL_RESOLUTION, publisher),
        'raster:bands': [{'nodata': 0, 'data_type': 'uint8',
                          'spatial_resolution': sentinel2.SCL_RESOLUTION}],
        'roles': ['data', 'reflectance']}
    item_id = scene.earth_search_id
  else:
    extensions = [EXTENSIONS[k] for k in ('eo', 'proj', 'sat')]
    properties.update({'s2:mgrs_tile': window.tile.name, 'sat:orbit_state': 'descending',
                       'sat:relative_orbit': RELATIVE_ORBIT})
    for band in sentinel2.BANDS:
      assets[band.name] = {
          'href': hrefs[band.name], 'type': COG_TYPE,
          'title': f'Band {band.name.lstrip("B0")} - {band.common_name} - {band.resolution}m',
          'roles': ['data'],
          **_asset_grid(window, band.resolution, publisher),
          'eo:bands': [{'name': band.name, 'common_name': band.common_name,
                        'description': band.description,
                        'center_wavelength': band.center_wavelength,
                        'full_width_half_max': band.full_width_half_max}]}
    assets[sentinel2.SCL] = {
        'href': hrefs[sentinel2.SCL], 'type': COG_TYPE,
        'title': 'Scene classification map (SCL)', 'roles': ['data'],
        **_asset_grid(window, sentinel2.SCL_RESOLUTION, publisher)}
    item_id = scene.planetary_computer_id
  return {'type': 'Feature', 'stac_version': STAC_VERSION, 'stac_extensions': extensions,
          'id': item_id, 'geometry': geometry,
          'bbox': [min(lons), min(lats), max(lons), max(lats)],
          'properties': properties, 'links': [], 'assets': assets}


def _scenes(year: int, seed: int, revisit_days: int, windows: Sequence[Window]) -> List[Scene]:
  """The acquisitions of `year`: one orbit images every tile on the same dates."""
  rng = np.random.default_rng([seed, year, 3])
  cloudiness = np.array(simulate.YEAR_CLOUDINESS.get(year, 1.0))
  schedule = simulate.tile_schedule(rng, year, ORBIT_OFFSET, cloudiness, revisit_days)
  return [Scene(w.tile, int(day), float(cover), i)
          for i, (day, cover) in enumerate(zip(schedule['days'], schedule['cover']))
          for w in windows]


def write_imagery(out_dir: str, *, area: Tuple[int, int], years: Iterable[int],
                  revisit_days: int, seed: int = 0) -> Dict[str, object]:
  """Writes the imagery of an area (see the module doc); returns its summary.

  The defaults of `croptfx generate --imagery` are pipeline/configs.py's
  IMAGERY_AREA, IMAGERY_YEARS and IMAGERY_REVISIT_DAYS.

  Args:
    out_dir: the directory to write into.
    area: (width, height) of the area in CDL cells (30 m).
    years: the seasons to image.
    seed: the simulator's seed (the same seed gives the same files).
    revisit_days: days between acquisitions (5 is Sentinel-2's).
  """
  width, height = area
  if width < 2 or height < 2:
    raise ValueError(f'the area must be at least 2 x 2 cells, got {width} x {height}')
  if revisit_days < 1:
    raise ValueError('revisit_days must be at least 1')
  years = sorted(int(y) for y in years)
  truth = _Area(width, height, seed)
  windows = tile_windows(width, height)
  os.makedirs(out_dir, exist_ok=True)
  labels, scenes_made = {}, []
  items = {publisher: [] for publisher in PUBLISHERS}
  for year in years:
    labels[year] = cdl_raster.write_cdl(
        os.path.join(out_dir, 'cdl', f'{year}_30m_cdls.tif'), truth.codes(year),
        truth.transform, year)
    yrng = np.random.default_rng([seed, year])
    year_shift = simulate.YEAR_SHIFT_DAYS.get(year, float(yrng.normal(3.0, 6.0)))
    simulators = {w.tile.name: _TileSimulator(truth, w, year, seed, i)
                  for i, w in enumerate(windows)}
    skies: Dict[int, _Sky] = {}
    for scene in _scenes(year, seed, revisit_days, windows):
      if scene.day not in skies:
        skies[scene.day] = _Sky(truth, scene.cover, np.random.default_rng([seed, scene.day, 5]))
      window = next(w for w in windows if w.tile == scene.tile)
      dn = simulators[scene.tile.name].observe(scene, skies[scene.day], year_shift)
      folder = os.path.join(out_dir, 'scenes', scene.tile.name, str(year), scene.earth_search_id)
      os.makedirs(folder, exist_ok=True)
      hrefs = {}
      for band in sentinel2.BANDS:
        hrefs[band.name] = os.path.abspath(os.path.join(folder, f'{band.name}.tif'))
        _write_cog(hrefs[band.name], dn[band.name], window, band.resolution)
      hrefs[sentinel2.SCL] = os.path.abspath(os.path.join(folder, 'SCL.tif'))
      _write_cog(hrefs[sentinel2.SCL], dn[sentinel2.SCL], window, sentinel2.SCL_RESOLUTION)
      scl = dn[sentinel2.SCL]
      valid = scl > 0
      cloudy = np.isin(scl, (8, 9, 10)) & valid
      cloud_cover = 100.0 * cloudy.sum() / max(int(valid.sum()), 1)
      for publisher in PUBLISHERS:
        items[publisher].append(item_dict(scene, window, hrefs, cloud_cover, publisher))
      scenes_made.append({
          'tile': scene.tile.name, 'date': scene.date.isoformat(), 'baseline': scene.baseline,
          'offset': scene.offset, 'cloud_cover': round(cloud_cover, 2),
          'no_data_pixels_20m': int((~valid).sum()),
          'ids': {'earth-search': scene.earth_search_id,
                  'planetary-computer': scene.planetary_computer_id}})
  catalogs = {}
  for publisher in PUBLISHERS:
    catalogs[publisher] = os.path.join(out_dir, 'stac', f'{publisher}.json')
    os.makedirs(os.path.dirname(catalogs[publisher]), exist_ok=True)
    _write_json(catalogs[publisher], {'type': 'FeatureCollection', 'features': items[publisher]})
  lon, lat = cdl_raster.to_lonlat(*cdl_raster.cell_centres(truth.transform, width, height))
  summary = {
      'area': {'width': width, 'height': height, 'crs': cdl_raster.CRS,
               'transform': list(truth.transform)[:6],
               'cell_centres_lonlat_bounds': [float(lon.min()), float(lat.min()),
                                              float(lon.max()), float(lat.max())]},
      'years': years, 'seed': seed, 'revisit_days': revisit_days,
      'tiles': [{'name': w.tile.name, 'epsg': w.tile.epsg, 'x0': w.x0, 'y0': w.y0,
                 'width_10m': w.width, 'height_10m': w.height,
                 'lonlat_bounds': list(w.lonlat_bounds())} for w in windows],
      'scenes': scenes_made,
      'labels': {str(y): os.path.abspath(p) for y, p in labels.items()},
      'catalogs': {k: os.path.abspath(p) for k, p in catalogs.items()},
      'cdl_cells': {str(y): _cell_counts(truth.codes(y)) for y in years},
  }
  _write_json(os.path.join(out_dir, SUMMARY_FILE), summary)
  return summary


def _cell_counts(codes: np.ndarray) -> Dict[str, int]:
  values, counts = np.unique(codes, return_counts=True)
  code_list = cdl.code_list()
  return {code_list.name(v): int(n) for v, n in zip(values, counts)}


def _write_json(path: str, doc: object) -> None:
  tmp = path + '.tmp'
  with open(tmp, 'w', encoding='utf-8') as f:
    json.dump(doc, f, indent=1)
    f.write('\n')
  os.replace(tmp, path)


def labels_argument(summary: Dict[str, object]) -> str:
  """The `--labels` value of `croptfx extract` for the written CDLs."""
  return ','.join(f'{year}={path}' for year, path in summary['labels'].items())


def extract_command(summary: Dict[str, object], output: str,
                    publisher: str = 'earth-search') -> List[str]:
  """The `croptfx extract` arguments that turn the imagery into Part-1 rows."""
  return ['croptfx', 'extract', '--items', summary['catalogs'][publisher],
          '--labels', labels_argument(summary), '--output', output]
