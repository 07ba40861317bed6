"""Sentinel-2 L2A scenes from STAC items: which asset is which band, and its scale.

ITEMS is what a STAC search gives: an ItemCollection JSON file (what
`pystac-client` saves), a directory of item JSON files, or a static catalog
(`catalog.json` / `collection.json` and the items it links); read with
pystac, locally or from a URI (`gs://`, `s3://` through Beam's file
systems, `http(s)://`). Relative asset hrefs are resolved against the item's
own location, or the ItemCollection file's directory.

Assets are chosen by the band they hold, never by their key (publishers key
them differently: Earth Search v1 `blue`, `nir08`, `scl`; Planetary
Computer `B02`, `B8A`, `SCL`): an asset's single band, from `eo:bands`
(STAC 1.0) or `bands` (STAC 1.1), names a band by its ESA name (`B8A`),
Earth Search's name (`nir08`) or an unambiguous common name
(`sentinel2.band_of_name`). Among several assets of one band (a 60 m
resampling, a JPEG2000 copy) the Cloud-Optimized GeoTIFF of the finest
resolution is taken. SCL: the asset whose band is named `SCL`, else the one
titled as the scene classification (neither publisher gives SCL a band
name). An item without every one of the 12 bands or without SCL is skipped
and counted, with one line saying what it lacks.

Harmonization (`harmonization`), per band asset: the value written is
reflectance x 10000 on the scale of baselines before 04.00,
  1. the asset's `raster:bands` scale/offset (STAC raster extension), when
     given: value = (DN x scale + offset) x 10000 (a missing scale is L2A's
     1/10000, a missing offset 0); Earth Search gives offset -0.1 for
     baseline 04.00 scenes, i.e. DN - 1000;
  2. else `s2:processing_baseline` >= 04.00: value = DN - 1000;
  3. else value = DN.
Values are rounded and clipped to 0..65535 (DNs below 1000 of an offset
scene, dark water, become 0, as ESA's harmonization does). A sample is
harmonized when a non-zero offset applied to it.
"""

import dataclasses
import datetime
import json
import logging
import os
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple
from urllib import parse as urlparse

from apache_beam.io.filesystems import FileSystems
from dateutil import parser as date_parser
import pystac
import shapely.geometry

from croptfx import errors
from croptfx import features
from croptfx import paths
from croptfx import sentinel2

RULE_RASTER_BANDS = 'raster:bands'
RULE_BASELINE = 's2:processing_baseline'
RULE_NONE = 'none'
# Why an item is not used, in the summary.
MISSING_BAND = 'missing_band'
MISSING_SCL = 'missing_scl'
NO_DATETIME = 'no_datetime'
DUPLICATE_ITEM = 'duplicate_item'
DUPLICATE_SCENE = 'duplicate_scene'
ITEM_SKIP_REASONS = (MISSING_BAND, MISSING_SCL, NO_DATETIME, DUPLICATE_ITEM, DUPLICATE_SCENE)
# Two items of one tile (and sequence) acquired this close are one scene
# (the same product listed twice, e.g. by two catalogs).
SAME_SCENE_SECONDS = 600
_SCL_TITLE = re.compile(r'\bSCL\b|scene classi?fi?cation', re.IGNORECASE)
_TILE_IN_ID = re.compile(r'(?:^|_)T?(\d{1,2}[C-HJ-NP-X][A-HJ-NP-Z]{2})(?=_|$)')
_SEQUENCE_IN_ID = re.compile(r'_(\d+)_L2A$')


@dataclasses.dataclass(frozen=True)
class Asset:
  """One raster of a scene and how its DNs become Part-1 values."""
  key: str  # the item's asset key (for messages)
  href: str  # absolute: a local path or a URI rasterio opens
  gain: float = 1.0  # value = DN x gain + bias (reflectance x 10000)
  bias: float = 0.0
  nodata: Optional[float] = None  # None: the file's own (L2A: 0)
  rule: str = RULE_NONE

  @property
  def harmonized(self) -> bool:
    return self.bias != 0.0


@dataclasses.dataclass(frozen=True)
class Scene:
  """One item: a Sentinel-2 L2A scene of one tile on one date."""
  item_id: str
  tile: str  # MGRS_SEQ, e.g. '16SBC_0' (Part-1's `tiles`)
  day: int  # acquisition date (UTC), days since 1970-01-01
  seconds: float  # acquisition time, seconds since 1970-01-01T00:00Z
  bbox: Optional[Tuple[float, float, float, float]]  # lon/lat, from the item
  bands: Tuple[Asset, ...]  # features.BAND_NAMES order
  scl: Asset
  footprint: Optional[bytes] = None  # WKB of the item's lon/lat geometry

  @property
  def year(self) -> int:
    return features.date_from_days(self.day).year

  @property
  def assets(self) -> Tuple[Asset, ...]:
    return self.bands + (self.scl,)

  @property
  def harmonized(self) -> bool:
    return any(a.harmonized for a in self.bands)


@dataclasses.dataclass
class Catalog:
  """The scenes of ITEMS and the items not used, by reason."""
  scenes: List[Scene]
  items_read: int
  skipped: Dict[str, int]
  messages: List[str]  # one line per skipped item


def redact(href: str) -> str:
  """An href fit for logs: no query string or fragment (signed URLs carry
  their credentials there) and no user:password@."""
  parts = urlparse.urlsplit(href)
  if not parts.scheme or len(parts.scheme) == 1:  # a local path (or C:\...)
    return href
  netloc = parts.netloc.rsplit('@', 1)[-1]
  return urlparse.urlunsplit((parts.scheme, netloc, parts.path, '', ''))


def _is_remote(href: str) -> bool:
  return paths.is_uri(href) and not href.startswith('file://')


def _stac_io():
  """pystac's StacIO, with `gs://` and `s3://` read through Beam's file systems."""

  class _BeamStacIO(pystac.stac_io.DefaultStacIO):

    def read_text_from_href(self, href: str) -> str:
      if paths.is_uri(href) and not href.startswith(('http://', 'https://', 'file://')):
        with FileSystems.open(href) as f:
          return f.read().decode('utf-8')
      return super().read_text_from_href(href)

  return _BeamStacIO()


def _read_json(href: str) -> Dict[str, object]:
  return json.loads(_stac_io().read_text(href))


def _json_files(directory: str) -> List[str]:
  if _is_remote(directory):
    found = FileSystems.match([directory.rstrip('/') + '/**.json'])[0].metadata_list
    return sorted(m.path for m in found)
  files = []
  for root, dirs, names in os.walk(directory):
    dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
    files += [os.path.join(root, n) for n in names if n.endswith('.json') and not n.startswith('.')]
  return sorted(files)


def _is_dir(path: str) -> bool:
  """A local directory, or a URI ending in '/' (object stores have no
  directories to ask about)."""
  return path.endswith('/') if _is_remote(path) else os.path.isdir(path)


def read_item_dicts(source: str) -> List[Tuple[Dict[str, object], str]]:
  """Every item of ITEMS as (item dict as written, the href its relative
  hrefs are resolved against).

  Raises:
    CroptfxError: ITEMS does not exist, is not JSON, or is not STAC.
  """
  source = source[len('file://'):] if source.startswith('file://') else source
  if not _is_remote(source) and not os.path.exists(source):
    raise errors.CroptfxError(f'--items {source}: no such file or directory')
  if _is_dir(source):
    if not _is_remote(source):
      for name in ('catalog.json', 'collection.json'):
        if os.path.exists(os.path.join(source, name)):
          return _items_of_file(os.path.join(source, name))
    files = _json_files(source)
    if not files:
      raise errors.CroptfxError(f'--items {redact(source)}: the directory holds no .json files')
    found = []
    for path in files:
      found += _items_of_file(path)
    return found
  return _items_of_file(source)


def _items_of_file(path: str) -> List[Tuple[Dict[str, object], str]]:
  try:
    doc = _read_json(path)
  except (OSError, ValueError) as e:
    first = str(e).splitlines()[0] if str(e) else type(e).__name__
    raise errors.CroptfxError(f'--items {redact(path)}: not a readable JSON file ({first})') from None
  kind = doc.get('type') if isinstance(doc, dict) else None
  try:
    if kind == 'FeatureCollection':
      pystac.ItemCollection.from_dict(doc)  # checks every feature is an item
      return [(item, path) for item in doc['features']]
    if kind == 'Feature':
      pystac.Item.from_dict(doc)
      return [(doc, path)]
    if kind in ('Catalog', 'Collection'):
      catalog = pystac.read_file(path, stac_io=_stac_io())
      return [(item.to_dict(include_self_link=False, transform_hrefs=False),
               item.get_self_href() or path) for item in catalog.get_items(recursive=True)]
  except (pystac.STACError, KeyError, TypeError, ValueError) as e:
    first = str(e).splitlines()[0] if str(e) else type(e).__name__
    raise errors.CroptfxError(f'--items {redact(path)}: not valid STAC ({first})') from None
  raise errors.CroptfxError(
      f'--items {redact(path)}: not a STAC ItemCollection, Item or Catalog (type {kind!r})')


def _absolute(href: str, base: str) -> str:
  """`href` resolved against the file `base` (an item or a collection file)."""
  if href.startswith('file://'):
    return href[len('file://'):]
  if paths.is_uri(href) or os.path.isabs(href):
    return href
  if _is_remote(base):
    return urlparse.urljoin(base, href)
  return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(base)), href))


def _bands_of(asset: Dict[str, object]) -> List[Dict[str, object]]:
  bands = asset.get('eo:bands') or asset.get('bands') or []
  return [b for b in bands if isinstance(b, dict)]


def band_of_asset(asset: Dict[str, object]) -> Optional[str]:
  """The L2A band (or 'SCL') a single-band asset holds, or None."""
  bands = _bands_of(asset)
  if len(bands) > 1:
    return None  # a composite (e.g. the true-colour image)
  if bands:
    band = bands[0]
    for name in (band.get('name'), band.get('common_name'), band.get('eo:common_name')):
      if isinstance(name, str) and sentinel2.band_of_name(name):
        return sentinel2.band_of_name(name)
    return None
  if _SCL_TITLE.search(str(asset.get('title', ''))):
    return sentinel2.SCL
  return None


def _resolution(asset: Dict[str, object]) -> float:
  """The asset's pixel size (metres), from what the item says; inf if nothing."""
  raster = (asset.get('raster:bands') or [{}])[0] or {}
  for value in (asset.get('gsd'), raster.get('spatial_resolution'),
                asset.get('raster:spatial_resolution')):
    if isinstance(value, (int, float)) and value > 0:
      return float(value)
  transform = asset.get('proj:transform')
  if isinstance(transform, list) and transform and isinstance(transform[0], (int, float)):
    return abs(float(transform[0]))
  return float('inf')


def _preference(key: str, asset: Dict[str, object]) -> Tuple[int, float, str]:
  """Sort key among assets of one band: GeoTIFFs first, then finest."""
  kind = str(asset.get('type', '')).lower()
  return (0 if 'tiff' in kind else 1 if not kind else 2, _resolution(asset), key)


def _raster_scale_offset(asset: Dict[str, object]) -> Tuple[Optional[float], Optional[float]]:
  """scale, offset of a band asset (raster extension v1 `raster:bands`, v2
  `bands[].raster:scale` or the asset's own `raster:scale`)."""
  places = []
  raster = asset.get('raster:bands')
  if isinstance(raster, list) and raster and isinstance(raster[0], dict):
    places.append((raster[0], 'scale', 'offset'))
  bands = _bands_of(asset)
  if bands:
    places.append((bands[0], 'raster:scale', 'raster:offset'))
  places.append((asset, 'raster:scale', 'raster:offset'))
  for place, scale_key, offset_key in places:
    scale, offset = place.get(scale_key), place.get(offset_key)
    if scale is not None or offset is not None:
      return scale, offset
  return None, None


def _nodata(asset: Dict[str, object]) -> Optional[float]:
  raster = asset.get('raster:bands')
  places = [raster[0]] if isinstance(raster, list) and raster and isinstance(raster[0], dict) else []
  places += _bands_of(asset)[:1] + [asset]
  for place in places:
    value = place.get('nodata', place.get('raster:nodata'))
    if isinstance(value, (int, float)):
      return float(value)
  return None


def harmonization(asset: Dict[str, object], baseline: object) -> Tuple[float, float, str]:
  """gain, bias and the rule that gave them: value = DN x gain + bias
  (reflectance x 10000 on the pre-04.00 scale; see the module doc)."""
  scale, offset = _raster_scale_offset(asset)
  if scale is not None or offset is not None:
    scale = 1.0 / sentinel2.QUANTIFICATION_VALUE if scale is None else float(scale)
    offset = 0.0 if offset is None else float(offset)
    q = sentinel2.QUANTIFICATION_VALUE
    # Rounded to 9 decimals: 0.0001 x 10000 is 1.0000000000000002 in floats.
    return round(scale * q, 9), round(offset * q, 9), RULE_RASTER_BANDS
  if sentinel2.baseline_has_offset(baseline):
    return 1.0, -float(sentinel2.BOA_ADD_OFFSET), RULE_BASELINE
  return 1.0, 0.0, RULE_NONE


def tile_of(item: Dict[str, object]) -> str:
  """`MGRS_SEQ` of an item, as Part 1 writes tiles ('16SBC_0')."""
  props = item.get('properties', {})
  mgrs = props.get('s2:mgrs_tile')
  if not mgrs and all(k in props for k in ('mgrs:utm_zone', 'mgrs:latitude_band',
                                           'mgrs:grid_square')):
    mgrs = f"{int(props['mgrs:utm_zone'])}{props['mgrs:latitude_band']}{props['mgrs:grid_square']}"
  if not mgrs and str(props.get('grid:code', '')).startswith('MGRS-'):
    mgrs = str(props['grid:code'])[len('MGRS-'):]
  if not mgrs:
    match = _TILE_IN_ID.search(str(item.get('id', '')))
    mgrs = match.group(1) if match else 'unknown'
  mgrs = str(mgrs).upper()
  if re.fullmatch(r'T\d{1,2}[A-Z]{3}', mgrs):
    mgrs = mgrs[1:]  # the SAFE spelling, T16SBC
  if re.fullmatch(r'\d[A-Z]{3}', mgrs):
    mgrs = '0' + mgrs  # the zone with two digits, as ESA names tiles
  sequence = props.get('s2:sequence')
  if sequence is None:
    match = _SEQUENCE_IN_ID.search(str(item.get('id', '')))
    sequence = match.group(1) if match else 0
  return f'{mgrs}_{int(sequence)}'


def _acquisition(item: Dict[str, object]) -> Optional[datetime.datetime]:
  """The item's datetime (or start_datetime) in UTC; a time without a zone is UTC."""
  props = item.get('properties', {})
  text = props.get('datetime') or props.get('start_datetime')
  if not text:
    return None
  moment = date_parser.isoparse(str(text))
  if moment.tzinfo is None:
    return moment.replace(tzinfo=datetime.timezone.utc)
  return moment.astimezone(datetime.timezone.utc)


def _footprint(item: Dict[str, object]) -> Optional[bytes]:
  geometry = item.get('geometry')
  if not geometry:
    return None
  return shapely.geometry.shape(geometry).wkb


def scene_of(item: Dict[str, object], base: str) -> Tuple[Optional[Scene], Optional[str], str]:
  """The scene of one item dict, or why it cannot be used.

  Returns:
    (scene, None, '') or (None, reason, a one-line message).
  """
  item_id = str(item.get('id', '?'))
  assets = item.get('assets', {}) or {}
  props = item.get('properties', {}) or {}
  chosen: Dict[str, Tuple[Tuple[int, float, str], str]] = {}
  for key, asset in assets.items():
    if not isinstance(asset, dict) or not asset.get('href'):
      continue
    band = band_of_asset(asset)
    if band is None:
      continue
    rank = _preference(key, asset)
    if band not in chosen or rank < chosen[band][0]:
      chosen[band] = (rank, key)
  missing = [b for b in features.BAND_NAMES if b not in chosen]
  if missing:
    return None, MISSING_BAND, f'item {item_id}: no asset of band {", ".join(missing)}'
  if sentinel2.SCL not in chosen:
    return None, MISSING_SCL, f'item {item_id}: no SCL asset (scene classification)'
  moment = _acquisition(item)
  if moment is None:
    return None, NO_DATETIME, f'item {item_id}: no datetime'
  baseline = props.get('s2:processing_baseline')

  def asset_of(band: str) -> Asset:
    key = chosen[band][1]
    asset = assets[key]
    gain, bias, rule = (harmonization(asset, baseline) if band != sentinel2.SCL
                        else (1.0, 0.0, RULE_NONE))
    return Asset(key=key, href=_absolute(str(asset['href']), base), gain=gain, bias=bias,
                 nodata=_nodata(asset), rule=rule)

  bbox = item.get('bbox')
  return Scene(
      item_id=item_id, tile=tile_of(item), day=features.days_since_epoch(moment.date()),
      seconds=moment.timestamp(),
      bbox=tuple(float(v) for v in bbox[:2] + bbox[-2:]) if bbox and len(bbox) in (4, 6) else None,
      bands=tuple(asset_of(b) for b in features.BAND_NAMES), scl=asset_of(sentinel2.SCL),
      footprint=_footprint(item)), None, ''


def load_catalog(source: str, years: Optional[Iterable[int]] = None) -> Catalog:
  """The scenes of ITEMS (of `years`, if given), in item order.

  Items without every band, SCL or a date are skipped and counted with a
  line each; an item id seen before, or a second item of the same tile
  (and sequence) acquired within `SAME_SCENE_SECONDS` of a first (the same
  product listed twice), is skipped and counted.
  """
  item_dicts = read_item_dicts(source)
  wanted = None if years is None else set(int(y) for y in years)
  scenes, seen = [], set()
  times: Dict[str, List[float]] = {}
  skipped = {reason: 0 for reason in ITEM_SKIP_REASONS}
  skipped['outside_years'] = 0
  messages = []
  for item, base in item_dicts:
    item_id = str(item.get('id', '?'))
    if item_id in seen:
      skipped[DUPLICATE_ITEM] += 1
      continue
    seen.add(item_id)
    scene, reason, message = scene_of(item, base)
    if scene is None:
      skipped[reason] += 1
      messages.append(message)
      logging.warning('croptfx extract: %s', message)
      continue
    if wanted is not None and scene.year not in wanted:
      skipped['outside_years'] += 1
      continue
    if any(abs(scene.seconds - t) < SAME_SCENE_SECONDS for t in times.get(scene.tile, ())):
      skipped[DUPLICATE_SCENE] += 1
      continue
    times.setdefault(scene.tile, []).append(scene.seconds)
    scenes.append(scene)
  return Catalog(scenes=scenes, items_read=len(item_dicts), skipped=skipped, messages=messages)


def scene_years(scenes: Sequence[Scene]) -> List[int]:
  return sorted({s.year for s in scenes})
