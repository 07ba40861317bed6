"""Realistic synthetic Sentinel-2 pixel-year rows in the slides' Part-1 format.

Each row is one pixel in one season: the 12 L2A bands (reflectance x 10000,
uint16 big-endian, [N, 12]), the image dates (uint16 big-endian days since
1970-01-01), the Scene Classification per image (uint8), the tiles, the area
(`bbox`), the year and the pixel's Cropland Data Layer class name.

What makes it realistic enough to learn from and hard to get wrong:
- fields of pixels in a Mississippi-Delta-like county with uneven class shares,
  crop rotations (corn <-> soybeans, rice <-> soybeans), double crops;
- phenology per class (double-logistic greenness, rice flooding, winter wheat,
  hay cuts, cotton boll opening), per-field planting jitter, per-year shifts;
- a spectral mixture of soil, vegetation, water and built-up endmembers with
  per-class canopy tints and noise;
- ~5-day revisits per tile, scenes dropped when the tile is too cloudy or
  missing, tile overlaps giving duplicate dates (same orbit) or denser series
  (adjacent orbits), unsorted dates in some rows;
- clouds, cirrus, shadows, snow, no-data and saturated pixels with matching
  SCL values and bright/dark reflectance; SCL 4 only where the canopy is dense
  enough, as Sen2Cor does, so early growth is not flagged as vegetation.
Byte-for-byte deterministic for a fixed seed. The field, phenology and spectra
simulator is `simulate` (shared with `imagery`); this module lays pixels out
and delivers them as rows.
"""

import filecmp
import os
import re
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from croptfx import cdl as cdl_codes
from croptfx import codec
from croptfx import features
from croptfx.generate import cdl_raster
from croptfx.generate import simulate

DEFAULT_ROWS_PER_FILE = 5000

# County extent (degrees) and its 2 x 2 Sentinel-2 tiles. West tiles are seen
# from one relative orbit, east tiles from another (2 days apart); north/south
# neighbours share the orbit, so their overlap holds duplicate dates.
LON_RANGE = (-90.75, -90.15)
LAT_RANGE = (33.25, 33.75)
LON_SPLIT, LAT_SPLIT = -90.45, 33.50
OVERLAP = 0.04  # half-width of the tile overlap bands, degrees
TILES = {('W', 'S'): '15SXA_0', ('W', 'N'): '15SXB_0',
         ('E', 'S'): '15SYA_0', ('E', 'N'): '15SYB_0'}
ORBIT_OFFSET = {'W': 0, 'E': 2}
BBOX_BASE = 549301  # 3 x 3 areas: BBOX_BASE .. BBOX_BASE + 8
PIXELS_PER_FIELD = 6
PIXEL_DEG = 0.0001  # ~10 m

# The simulator's tables, under the names this module has always had.
FIELD_TYPES = simulate.FIELD_TYPES
PROFILES = simulate.PROFILES
YEAR_SHIFT_DAYS = simulate.YEAR_SHIFT_DAYS
YEAR_CLOUDINESS = simulate.YEAR_CLOUDINESS


def _distinct(lon: np.ndarray, lat: np.ndarray):
  """The coordinates with every repeated one moved a pixel east until it is
  free: two pixels on one spot would be one pixel-year twice, rows the
  ExampleGen must quarantine (`--bad` makes such rows on purpose)."""
  taken = set()
  lon = lon.copy()
  for i in range(len(lon)):
    while (lon[i], lat[i]) in taken:
      lon[i] = round(lon[i] + PIXEL_DEG, 6)
    taken.add((lon[i], lat[i]))
  return lon, lat


def _fields(rng, n_pixels: int):
  """Static field layout: type, location and pixel membership."""
  n_fields = max(1, n_pixels // PIXELS_PER_FIELD)
  shares = np.array([s for _, s, _ in FIELD_TYPES])
  field_type = rng.choice(len(FIELD_TYPES), size=n_fields, p=shares / shares.sum())
  field_lon = rng.uniform(LON_RANGE[0] + 0.002, LON_RANGE[1] - 0.002, n_fields)
  field_lat = rng.uniform(LAT_RANGE[0] + 0.002, LAT_RANGE[1] - 0.002, n_fields)
  # Every field gets at least one pixel; the rest go to random fields.
  pixel_field = np.concatenate([np.arange(min(n_fields, n_pixels)),
                                rng.integers(0, n_fields, max(0, n_pixels - n_fields))])
  pixel_field = np.sort(pixel_field)
  offsets = rng.integers(-15, 16, (n_pixels, 2)) * PIXEL_DEG
  lon, lat = _distinct(np.round(field_lon[pixel_field] + offsets[:, 0], 6),
                       np.round(field_lat[pixel_field] + offsets[:, 1], 6))
  return {
      'n_fields': n_fields, 'type': field_type, 'pixel_field': pixel_field,
      'lon': lon, 'lat': lat,
      'timing': rng.normal(0.0, 7.0, n_fields),  # planting date jitter, days
      'amp': rng.uniform(0.9, 1.05, n_fields),
      'soil': rng.uniform(0.8, 1.2, (n_fields, 12)) ** 0.3 * rng.uniform(0.75, 1.25, (n_fields, 1)),
  }


# Wall-to-wall areas (`aoi_layout`): cells of the CDL's national grid
# (EPSG:5070, 30 m, `cdl_raster`) around a centre in the county's south-west
# tile, their centres given as lon/lat rounded to 6 decimals, as Part-1 rows
# extracted from the CDL are; `write_dataset` writes each year's CDL raster
# of the area beside the rows.
AOI_PIXEL_M = cdl_raster.CELL_M
AOI_CENTRE = (-90.60, 33.38)
COORD_DECIMALS = 6
# Under the output directory; a name starting with '_' is skipped by the
# readers of the data (as Spark's _SUCCESS), so `--data OUT` reads the rows.
CDL_DIR = '_cdl'
AOI_PIXEL_HA = AOI_PIXEL_M ** 2 / 1e4
AOI_FIELD_HA = (5.0, 40.0)  # parcel sizes, log-uniform
AOI_ROAD_SPACING = (45, 70)  # pixels between section roads (~1.3-2.1 km)
AOI_BLOCK_PIXELS = 1024  # pixels simulated at once
# Parcels are crops, pasture, hay, fallow and ponds; forest, wetland and
# developed land come as shapes of their own (bayou, woods, a town, roads).
AOI_OVERLAY_TYPES = ('forest', 'wetland', 'open_space', 'low_intensity')
_TYPE = {name: i for i, (name, _, _) in enumerate(FIELD_TYPES)}


def aoi_transform(width: int, height: int):
  """The EPSG:5070 transform of a width x height area: the window of the CDL
  grid centred on the cell corner nearest to `AOI_CENTRE`."""
  return cdl_raster.snapped_transform(AOI_CENTRE[0], AOI_CENTRE[1], width, height)


def aoi_lonlat(width: int, height: int) -> Tuple[np.ndarray, np.ndarray]:
  """lon, lat of the area's cell centres, row-major from the north-west
  corner, rounded to `COORD_DECIMALS` (2e-3 of a cell at most)."""
  x, y = cdl_raster.cell_centres(aoi_transform(width, height), width, height)
  lon, lat = cdl_raster.to_lonlat(x, y)
  return np.round(lon, COORD_DECIMALS), np.round(lat, COORD_DECIMALS)


def _split_parcels(rng, parcel, ptype, top, left, bottom, right, next_id, parcel_types, p_types):
  """Splits one block between roads into parcels of 5-40 ha (some L-shaped,
  some with a ditch along a side); writes ids and types in place."""
  stack = [(top, left, bottom, right)]
  while stack:
    t, l, b, r = stack.pop()
    h, w = b - t, r - l
    if h <= 0 or w <= 0:
      continue
    target = np.exp(rng.uniform(*np.log(AOI_FIELD_HA))) / AOI_PIXEL_HA
    vertical = w >= h  # cut across the longer side
    long_side = w if vertical else h
    if h * w <= target or long_side < 8:
      parcel[t:b, l:r] = next_id
      ptype[t:b, l:r] = rng.choice(len(parcel_types), p=p_types)
      next_id += 1
      continue
    cut = int(round(long_side * rng.uniform(0.3, 0.7)))
    cut = min(max(cut, 4), long_side - 4)
    if vertical:
      first, second = (t, l, b, l + cut), (t, l + cut, b, r)
    else:
      first, second = (t, l, t + cut, r), (t + cut, l, b, r)
    if h * w <= 2.5 * target and min(h, w) >= 8 and rng.random() < 0.25:
      # An L-shaped field: `first` plus one end of `second`.
      st, sl, sb, sr = second
      if vertical:
        k = st + int(round((sb - st) * rng.uniform(0.3, 0.7)))
        arm, rest = (st, sl, k, sr), (k, sl, sb, sr)
      else:
        k = sl + int(round((sr - sl) * rng.uniform(0.3, 0.7)))
        arm, rest = (st, sl, sb, k), (st, k, sb, sr)
      kind = rng.choice(len(parcel_types), p=p_types)
      for ft, fl, fb, fr in (first, arm):
        parcel[ft:fb, fl:fr] = next_id
        ptype[ft:fb, fl:fr] = kind
      next_id += 1
      stack.append(rest)
      continue
    if rng.random() < 0.12 and long_side - cut >= 8:
      # A drainage ditch (grass strip) along the cut.
      st, sl, sb, sr = second
      ditch = (st, sl, sb, sl + 1) if vertical else (st, sl, st + 1, sr)
      parcel[ditch[0]:ditch[2], ditch[1]:ditch[3]] = next_id
      ptype[ditch[0]:ditch[2], ditch[1]:ditch[3]] = _TYPE['pasture']
      next_id += 1
      second = (st, sl + 1, sb, sr) if vertical else (st + 1, sl, sb, sr)
    stack.extend([second, first])
  return next_id


def _connected_parts(ids: np.ndarray) -> np.ndarray:
  """Labels 0.. of the 4-connected parts of equal `ids`, numbered in order of
  their first pixel (row-major)."""
  h, w = ids.shape
  label = np.arange(h * w).reshape(h, w)
  same_h = ids[:, 1:] == ids[:, :-1]
  same_v = ids[1:, :] == ids[:-1, :]
  while True:
    new = label.copy()
    # Each pixel takes the smallest label among itself and its neighbours of
    # the same id; then every label jumps to its own pixel's label.
    np.minimum(new[:, 1:], np.where(same_h, label[:, :-1], new[:, 1:]), out=new[:, 1:])
    np.minimum(new[:, :-1], np.where(same_h, label[:, 1:], new[:, :-1]), out=new[:, :-1])
    np.minimum(new[1:, :], np.where(same_v, label[:-1, :], new[1:, :]), out=new[1:, :])
    np.minimum(new[:-1, :], np.where(same_v, label[1:, :], new[:-1, :]), out=new[:-1, :])
    new = new.ravel()[new]
    if np.array_equal(new, label):
      break
    label = new
  return np.unique(label, return_inverse=True)[1].reshape(h, w)


def aoi_layout(width: int, height: int, seed: int = 0) -> Dict[str, np.ndarray]:
  """Every pixel of a width x height area, made of fields.

  Section roads on a jittered ~1.6 km grid split the area into blocks, each
  split into parcels of 5-40 ha (rectangles, some L-shaped, some with a ditch
  along one side); a bayou with wooded banks meanders across, woods and a
  small town sit among the fields. Each 4-connected piece of one parcel or
  shape is a field: one CDL class (rotating by year) and one phenology, the
  pixels jittered around it. Pixels are the centres of CDL cells
  (`aoi_transform`), in row-major order from the north-west corner; 'field_id'
  is the [height, width] field of each pixel.
  """
  if width < 1 or height < 1:
    raise ValueError(f'the area must be at least 1 x 1 pixels, got {width} x {height}')
  rng = np.random.default_rng([seed, 16])
  parcel_types = np.array([i for i, (name, _, _) in enumerate(FIELD_TYPES)
                           if name not in AOI_OVERLAY_TYPES])
  p_types = np.array([FIELD_TYPES[i][1] for i in parcel_types])
  p_types = p_types / p_types.sum()
  parcel = np.zeros((height, width), np.int64)
  ptype = np.zeros((height, width), np.int64)

  def road_lines(size):
    lines, x = [], int(rng.integers(0, AOI_ROAD_SPACING[0]))
    while x < size:
      lines.append(x)
      x += int(rng.integers(*AOI_ROAD_SPACING))
    return lines

  columns, rows = road_lines(width), road_lines(height)
  next_id = 1
  row_edges = [0] + rows + [height]
  col_edges = [0] + columns + [width]
  for top, bottom in zip(row_edges[:-1], row_edges[1:]):
    for left, right in zip(col_edges[:-1], col_edges[1:]):
      t = top + 1 if top in rows else top
      l = left + 1 if left in columns else left
      next_id = _split_parcels(rng, parcel, ptype, t, l, bottom, right, next_id,
                               parcel_types, p_types)
  yy, xx = np.mgrid[0:height, 0:width]

  def paint(mask, kind, rows=slice(None), cols=slice(None)):
    """Gives the pixels of `mask` (within the rows x cols window) a new id."""
    nonlocal next_id
    parcel[rows, cols][mask] = next_id
    ptype[rows, cols][mask] = _TYPE[kind]
    next_id += 1

  # A bayou across the area: wooded banks around open water.
  wavelength = rng.uniform(0.6, 1.2) * max(width, 60)
  centre = (height * rng.uniform(0.3, 0.7)
            + 0.12 * height * np.sin(2 * np.pi * xx / wavelength + rng.uniform(0, 2 * np.pi))
            + 0.05 * height * np.sin(2 * np.pi * xx / (wavelength / 2.7) + rng.uniform(0, 2 * np.pi)))
  half = 2.5 + 2.0 * (1 + np.sin(2 * np.pi * xx / (wavelength / 1.7)))  # 75-195 m
  distance = np.abs(yy - centre)
  paint(distance <= half, 'wetland')
  paint(distance <= 1.0, 'water')

  def window(cy, cx, reach):
    r0, r1 = max(int(cy - reach), 0), min(int(cy + reach) + 2, height)
    c0, c1 = max(int(cx - reach), 0), min(int(cx + reach) + 2, width)
    return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))

  # Woods: a few overlapping discs, about one wood per 40,000 pixels.
  for _ in range(int(round(width * height / 40000))):
    cy, cx = rng.uniform(0, height), rng.uniform(0, width)
    discs = [(rng.uniform(4, 12), *rng.normal(0, 8, 2)) for _ in range(4)]
    rs, cs = window(cy, cx, max(r + max(abs(oy), abs(ox)) for r, oy, ox in discs))
    wy, wx = yy[rs, cs], xx[rs, cs]
    wood = np.zeros(wy.shape, bool)
    for r, oy, ox in discs:
      wood |= (wy - cy - oy) ** 2 + (wx - cx - ox) ** 2 <= r * r
    paint(wood, 'forest', rs, cs)
  # A small town on a road crossing, lawns around it.
  if columns and rows and width * height >= 10000:
    cy, cx = rows[int(rng.integers(len(rows)))], columns[int(rng.integers(len(columns)))]
    ry, rx = rng.uniform(6, 12, 2)
    rs, cs = window(cy, cx, 1.3 * max(ry, rx))
    d = ((yy[rs, cs] - cy) / ry) ** 2 + ((xx[rs, cs] - cx) / rx) ** 2
    paint(d <= 1.6, 'open_space', rs, cs)
    paint(d <= 1.0, 'low_intensity', rs, cs)
  # Roads last: they cross everything (bridges over the bayou).
  for x in columns:
    paint(True, 'open_space', cols=slice(x, x + 1))
  for y in rows:
    paint(True, 'open_space', rows=slice(y, y + 1))
  field_id = _connected_parts(parcel)
  n_fields = int(field_id.max()) + 1
  first_pixel = np.unique(field_id.ravel(), return_index=True)[1]
  field_type = ptype.ravel()[first_pixel]
  lon, lat = aoi_lonlat(width, height)
  return {
      'n_fields': n_fields, 'type': field_type, 'pixel_field': field_id.ravel(),
      'field_id': field_id, 'lon': lon, 'lat': lat,
      'timing': rng.normal(0.0, 7.0, n_fields),
      'amp': rng.uniform(0.9, 1.05, n_fields),
      'soil': rng.uniform(0.8, 1.2, (n_fields, 12)) ** 0.3 * rng.uniform(0.75, 1.25, (n_fields, 1)),
  }


def _tiles_of(lon: np.ndarray, lat: np.ndarray) -> List[Tuple[str, ...]]:
  """Tile keys seeing each pixel: one, or two in an overlap band."""
  result = []
  for x, y in zip(lon, lat):
    ew = 'W' if x < LON_SPLIT else 'E'
    ns = 'S' if y < LAT_SPLIT else 'N'
    keys = [(ew, ns)]
    if abs(y - LAT_SPLIT) < OVERLAP:  # same orbit: duplicate dates
      keys.append((ew, 'N' if ns == 'S' else 'S'))
    elif abs(x - LON_SPLIT) < OVERLAP:  # adjacent orbit: a denser series
      keys.append(('E' if ew == 'W' else 'W', ns))
    result.append(tuple(sorted(keys)))
  return result


def _bbox_of(lon, lat):
  col = np.clip(((lon - LON_RANGE[0]) / (LON_RANGE[1] - LON_RANGE[0]) * 3).astype(int), 0, 2)
  row = np.clip(((lat - LAT_RANGE[0]) / (LAT_RANGE[1] - LAT_RANGE[0]) * 3).astype(int), 0, 2)
  return BBOX_BASE + 3 * row + col


def _observe(rng, refl, water, doy, cover):
  """Clouds, shadows, snow, no-data and SCL for a [P, N] block of images,
  each pixel's sky drawn on its own (a row is one pixel)."""
  p, n = refl.shape[:2]
  scl = simulate.clear_scl(rng, refl, water)
  u = rng.random((p, n))
  f = cover[None, :]
  opaque_hi = u < 0.45 * f
  opaque_med = (u >= 0.45 * f) & (u < 0.72 * f)
  cirrus = (u >= 0.72 * f) & (u < 0.82 * f)
  shadow = (u >= 0.82 * f) & (u < 0.95 * f)
  out = simulate.atmosphere(rng, refl, opaque_hi | opaque_med, cirrus, shadow)
  scl[opaque_hi] = 9
  scl[opaque_med] = 8
  scl[cirrus] = 10
  scl[shadow] = 3
  snowy = (doy[None, :] < 60) & (rng.random((p, n)) < 0.02) & ~(opaque_hi | opaque_med)
  out = np.where(snowy[..., None], simulate.SNOW * rng.uniform(0.85, 1.05, (p, n, 1)), out)
  scl[snowy] = 11
  nodata = rng.random((p, n)) < 0.004
  out[nodata] = 0
  scl[nodata] = 0
  saturated = rng.random((p, n)) < 0.002
  out[saturated] = 16000
  scl[saturated] = 1
  return np.clip(np.rint(out), 0, 65535).astype(np.uint16), scl


def generate_table(pixels_per_year: int, years: Iterable[int],
                   seed: int = 0) -> pa.Table:
  """Rows for the same `pixels_per_year` pixels in each year, in year order."""
  if pixels_per_year < 1:
    raise ValueError('pixels_per_year must be at least 1')
  rng = np.random.default_rng(seed)
  return _table(_fields(rng, pixels_per_year), years, seed)


def generate_aoi_table(width: int, height: int, years: Iterable[int],
                       seed: int = 0) -> pa.Table:
  """Rows for every pixel of a width x height area (see `aoi_layout`), in year
  order and, within a year, row by row from the north-west corner."""
  layout = aoi_layout(width, height, seed)
  return _table(layout, years, seed, max_block=AOI_BLOCK_PIXELS)


def _table(layout, years: Iterable[int], seed: int, max_block: Optional[int] = None) -> pa.Table:
  """The rows of `layout`'s pixels in each year; `max_block` caps the pixels
  simulated at once (memory grows with pixels x images x bands)."""
  years = [int(y) for y in years]
  n_pixels = len(layout['lon'])
  tile_keys = _tiles_of(layout['lon'], layout['lat'])
  bbox = _bbox_of(layout['lon'], layout['lat'])
  pf = layout['pixel_field']
  columns: Dict[str, list] = {name: [] for name in features.RAW_COLUMNS}
  for year in years:
    yrng = np.random.default_rng([seed, year])
    cloudiness = YEAR_CLOUDINESS.get(year, 1.0)
    schedules = {key: simulate.tile_schedule(yrng, year, ORBIT_OFFSET[key[0]], np.array(cloudiness))
                 for key in sorted(TILES)}
    cdl = simulate.cdl_names(layout['type'][pf], pf, year)
    year_shift = YEAR_SHIFT_DAYS.get(year, float(yrng.normal(3.0, 6.0)))
    rows: Dict[int, Tuple] = {}
    # Pixels seen by the same tiles share dates: one vectorized block each.
    for keys in sorted(set(tile_keys)):
      in_group = np.array([k == keys for k in tile_keys])
      for class_name in sorted(set(cdl[in_group])):
        idx = np.flatnonzero(in_group & (cdl == class_name))
        step = max_block or len(idx)
        for start in range(0, len(idx), step):
          rows.update(_simulate_block(yrng, idx[start:start + step], keys, schedules,
                                      class_name, year, year_shift, layout))
    jan1 = codec.jan1_days(year)
    for i in range(n_pixels):
      bands, days, scl, tiles = rows[i]
      columns[features.LON].append(float(layout['lon'][i]))
      columns[features.LAT].append(float(layout['lat'][i]))
      columns[features.NUM_SCENES].append(len(days))
      columns[features.BANDS].append(codec.encode_bands(bands))
      columns[features.IMG_DATES].append(codec.encode_dates(days))
      columns[features.SCL_VALS].append(codec.encode_scl(scl))
      columns[features.TILES].append(','.join(tiles).encode())
      columns[features.BBOX].append(int(bbox[i]))
      columns[features.YEAR].append(year)
      columns[features.CDL].append(str(cdl[i]))
      assert days.min() >= jan1 and days.max() < jan1 + codec.days_in_year(year)
  return pa.table({name: pa.array(columns[name], type=SCHEMA.field(name).type)
                   for name in features.RAW_COLUMNS}, schema=SCHEMA)


SCHEMA = features.file_schema()


def _simulate_block(rng, idx, keys, schedules, class_name, year, year_shift, layout):
  """Images of the pixels `idx` (same tiles, same class) in one year."""
  profile = PROFILES[class_name]
  parts = [(TILES[k], schedules[k]) for k in keys]
  days = np.concatenate([s['days'] for _, s in parts])
  cover = np.concatenate([s['cover'] for _, s in parts])
  tile_of = np.concatenate([[t] * len(s['days']) for t, s in parts])
  order = np.argsort(days, kind='stable')  # interleaved by date
  days, cover, tile_of = days[order], cover[order], tile_of[order]
  doy = (days - codec.jan1_days(year)).astype(float)
  field = layout['pixel_field'][idx]
  shift = (layout['timing'][field] + (year_shift if profile.shifts else 0.0)
           + rng.normal(0, 2.0, len(idx)))[:, None]
  amp = layout['amp'][field][:, None] * rng.uniform(0.97, 1.03, (len(idx), 1))
  moisture = rng.uniform(0.85, 1.15, (1, len(days))) * rng.uniform(0.95, 1.05, (len(idx), len(days)))
  refl, water = simulate.surface(profile, doy[None, :], shift, amp, layout['soil'][field], moisture, rng)
  bands, scl = _observe(rng, refl, water, doy, cover)
  # Overlapping tiles on the same orbit image the same date twice: the two
  # L2A products differ slightly (processing, co-registration).
  dup = np.concatenate([[False], days[1:] == days[:-1]])
  if dup.any():
    jitter = rng.normal(1.0, 0.01, (len(idx), int(dup.sum()), 12))
    bands[:, dup] = np.clip(bands[:, dup] * jitter, 0, 65535).astype(np.uint16)
  out = {}
  two_tiles = len(keys) > 1
  unsorted_rows = rng.random(len(idx)) < (0.3 if two_tiles else 0.05)
  for j, i in enumerate(idx):
    perm = np.arange(len(days))
    if unsorted_rows[j]:
      if two_tiles:  # tile by tile, as some exports concatenate them
        perm = np.argsort(tile_of != tile_of[0], kind='stable')
      else:  # a reprocessed scene appended at the end
        k = int(rng.integers(0, len(days)))
        perm = np.concatenate([np.delete(perm, k), [k]])
    out[int(i)] = (bands[j, perm], days[perm], scl[j, perm], list(tile_of[perm]))
  return out


def _write_if_changed(table: pa.Table, path: str) -> None:
  """Writes `table` unless `path` already holds exactly these bytes.

  Re-generating the same data set then leaves the files (and their mtimes)
  alone, so a pipeline re-run over them is served from TFX's cache.
  """
  buffer = pa.BufferOutputStream()
  pq.write_table(table, buffer, compression='snappy')
  data = buffer.getvalue().to_pybytes()
  if os.path.exists(path) and os.path.getsize(path) == len(data):
    with open(path, 'rb') as f:
      if f.read() == data:
        return
  with open(path, 'wb') as f:
    f.write(data)


def _remove_stale_parts(out_dir: str, written: List[str]) -> None:
  """Deletes part files and CDL rasters of an earlier, different data set in
  `out_dir`."""
  keep = {os.path.abspath(p) for p in written}
  for dirpath, _, names in os.walk(out_dir):
    for name in names:
      path = os.path.abspath(os.path.join(dirpath, name))
      stale = (re.fullmatch(r'part-\d{5}\.parquet', name)
               or (os.path.basename(dirpath) == CDL_DIR
                   and re.fullmatch(r'cdl_\d+\.tif', name)))
      if stale and path not in keep:
        os.remove(path)


def cdl_path(out_dir: str, year: int) -> str:
  """Where `write_dataset` puts the CDL raster of an area's `year`."""
  return os.path.join(out_dir, CDL_DIR, f'cdl_{year}.tif')


def _write_cdls(out_dir: str, table: pa.Table, width: int, height: int) -> Dict[int, str]:
  """Each year's CDL of the area: the code of every pixel's CDL name
  (`croptfx.cdl`), on the area's EPSG:5070 window; files with the same bytes
  are left alone. `table` holds the area's rows in `generate_aoi_table`'s
  order (year, then row-major)."""
  codes = cdl_codes.code_list()
  transform = aoi_transform(width, height)
  years = np.asarray(table.column(features.YEAR))
  names = np.asarray(table.column(features.CDL).to_pylist(), dtype=object)
  written = {}
  for year in sorted(set(years.tolist())):
    grid = np.array([codes.code(n) for n in names[years == year]], np.uint8)
    path = cdl_path(out_dir, year)
    fresh = path + '.new.tif'
    cdl_raster.write_cdl(fresh, grid.reshape(height, width), transform, year)
    if os.path.exists(path) and filecmp.cmp(fresh, path, shallow=False):
      os.remove(fresh)
    else:
      os.replace(fresh, path)
    written[year] = path
  return written


# What `--bad` adds per year: reason -> how to break a copy of a good row
# (the ExampleGen's `validation.REASONS` a single file can produce; a
# duplicate adds one copy, a conflicting duplicate two rows).
BAD_ROWS = ('byte_length', 'zero_scenes', 'non_finite_coordinate', 'coordinate_out_of_range',
            'missing_label', 'invalid_scl', 'date_outside_year', 'no_data', 'duplicate',
            'conflicting_duplicate')


def with_bad_rows(table: pa.Table) -> Tuple[pa.Table, Dict[str, int]]:
  """`table` plus, per year, rows quarantined for each reason of BAD_ROWS
  (made from that year's first rows); returns the table and rows per reason."""
  rows = table.to_pylist()
  extra, counts = [], {reason: 0 for reason in BAD_ROWS}
  by_year = {}
  for index, row in enumerate(rows):
    by_year.setdefault(row[features.YEAR], []).append(index)
  for year in sorted(by_year):
    donors = iter(by_year[year])

    def copy(**changes):
      return dict(rows[next(donors)], **changes)
    extra += [
        copy(bands=b'\x00'),  # byte_length
        copy(num_scenes=0, bands=b'', img_dates=b'', scl_vals=b''),  # zero_scenes
        copy(lon=float('nan')),  # non_finite_coordinate
        copy(lat=91.0),  # coordinate_out_of_range
        copy(CDL=' '),  # missing_label
    ]
    row = copy()
    extra.append(dict(row, scl_vals=b'\x0c' * row[features.NUM_SCENES]))  # invalid_scl
    row = copy()
    extra.append(dict(row, img_dates=codec.encode_dates(  # date_outside_year
        [codec.jan1_days(year) - 1] * row[features.NUM_SCENES])))
    row = copy()
    extra.append(dict(row, bands=bytes(len(row[features.BANDS]))))  # no_data
    # The donors of the duplicates leave the good rows: both copies of each
    # pixel-year are bad (duplicate: one copy kept, one quarantined).
    twin = next(donors)
    extra.append(dict(rows[twin]))  # duplicate (its donor is kept)
    pair = next(donors)
    extra.append(dict(rows[pair], CDL='Rice' if rows[pair][features.CDL] != 'Rice' else 'Corn'))
    for reason in BAD_ROWS:
      counts[reason] += 2 if reason == 'conflicting_duplicate' else 1
  bad = pa.Table.from_pylist(extra, schema=table.schema)
  return pa.concat_tables([table, bad]), counts


def write_dataset(out_dir: str, pixels_per_year: Optional[int] = None, *,
                  years: Iterable[int],
                  seed: int = 0, layout: str = 'flat',
                  rows_per_file: int = DEFAULT_ROWS_PER_FILE,
                  slides_columns: bool = False,
                  aoi: Optional[Tuple[int, int]] = None,
                  bad: bool = False) -> Dict[str, object]:
  """Writes the data set as Parquet files; returns a summary of what was written.

  Either `pixels_per_year` pixels in fields scattered over the county, or
  `aoi=(width, height)`: every pixel of a wall-to-wall area, the cells of
  the CDL's EPSG:5070 30 m grid (`aoi_layout`), and each year's CDL raster
  of the area in `<out_dir>/_cdl/cdl_<year>.tif` (the reference of a map).
  layout='flat': `part-00000.parquet`, ... with a `year` column and the years
  shuffled across files; layout='hive': `year=YYYY/part-00000.parquet` without
  the year column, as Spark writes partitioned tables.
  slides_columns: use the slides' spellings `# scenes` and `img dates`.
  bad: add, per year, one row for each quarantine reason a file can hold
  (`BAD_ROWS`), so the ExampleGen's quarantine can be seen at work; without
  it every row is one the ExampleGen keeps.
  """
  if (pixels_per_year is None) == (aoi is None):
    raise ValueError('give either pixels_per_year or aoi')
  if layout not in ('flat', 'hive'):
    raise ValueError(f"layout must be 'flat' or 'hive', not {layout!r}")
  if rows_per_file < 1:
    raise ValueError('rows_per_file must be at least 1')
  if aoi is not None:
    table = generate_aoi_table(aoi[0], aoi[1], years, seed)
  else:
    table = generate_table(pixels_per_year, years, seed)
  os.makedirs(out_dir, exist_ok=True)
  cdl_files = _write_cdls(out_dir, table, *aoi) if aoi is not None else {}
  bad_rows = {}
  if bad:
    table, bad_rows = with_bad_rows(table)
  if slides_columns:
    renames = {v: k for k, v in features.COLUMN_ALIASES.items()}
    table = table.rename_columns([renames.get(n, n) for n in table.column_names])
  files = []
  if layout == 'flat':
    order = np.random.default_rng([seed, 1]).permutation(table.num_rows)
    table = table.take(pa.array(order))
    parts = [('', table)]
  else:
    year_col = np.asarray(table.column(features.YEAR))
    parts = [(f'{features.YEAR}={y}', table.filter(pa.array(year_col == y)).drop([features.YEAR]))
             for y in sorted(set(year_col.tolist()))]
  for subdir, part in parts:
    target = os.path.join(out_dir, subdir) if subdir else out_dir
    os.makedirs(target, exist_ok=True)
    for k, start in enumerate(range(0, part.num_rows, rows_per_file)):
      path = os.path.join(target, f'part-{k:05d}.parquet')
      _write_if_changed(part.slice(start, rows_per_file), path)
      files.append(path)
  _remove_stale_parts(out_dir, files + list(cdl_files.values()))
  cdl = table.column(features.CDL).to_pylist()
  summary = {'rows': table.num_rows, 'files': files,
             'years': sorted(set(int(y) for y in years)),
             'cdl_counts': {name: cdl.count(name) for name in sorted(set(cdl))},
             'bad_rows': bad_rows}
  if aoi is not None:
    summary['aoi'] = {'width': aoi[0], 'height': aoi[1], 'crs': cdl_raster.CRS,
                      'cell_m': AOI_PIXEL_M, 'transform': list(aoi_transform(*aoi))[:6],
                      'cdl': cdl_files}
  return summary
