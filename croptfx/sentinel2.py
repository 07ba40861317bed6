"""Sentinel-2 L2A as its publishers describe it: bands, names, grids, offsets.

One table of the 12 L2A bands of the Part-1 `bands` column (in
`features.BAND_NAMES` order): the ESA band name, the STAC common name, the
name Earth Search v1 gives the band (its asset key and `eo:bands` name), the
native resolution, centre wavelength and bandwidth. `croptfx extract` picks
an item's assets by these names, `croptfx generate --imagery` writes items
with them, so the two read the same table.

The digital numbers (DN) of L2A reflectance are reflectance x 10000
(`QUANTIFICATION_VALUE`). From processing baseline 04.00 (products from 25
January 2022 on) ESA adds `BOA_ADD_OFFSET` (1000) to them so that negative
reflectance can be stored: reflectance = (DN - 1000) / 10000. The Part-1
rows keep the earlier scale (reflectance x 10000), so such DNs are
harmonized by subtracting 1000 (`extract.items` states the rule).
"""

import dataclasses
import datetime
import re
from typing import Optional, Tuple

from croptfx import features

QUANTIFICATION_VALUE = 10000
BOA_ADD_OFFSET = 1000
# The first processing baseline whose DNs carry the offset, and the day
# ESA started producing it.
OFFSET_BASELINE = (4, 0)
OFFSET_SINCE = datetime.date(2022, 1, 25)
# The grid of every band: a tile is 109.8 km square (10980 x 10980 pixels at
# 10 m, 5490 at 20 m, 1830 at 60 m), its corner on the 60 m grid.
RESOLUTIONS = (10, 20, 60)
TILE_SIZE_M = 109800
SCL = 'SCL'
SCL_RESOLUTION = 20


@dataclasses.dataclass(frozen=True)
class Band:
  name: str  # ESA's, e.g. 'B8A'
  common_name: str  # STAC eo common name
  earth_search: str  # Earth Search v1 asset key and eo:bands name
  resolution: int  # metres
  center_wavelength: float  # micrometres
  full_width_half_max: float
  description: str


BANDS: Tuple[Band, ...] = (
    Band('B01', 'coastal', 'coastal', 60, 0.443, 0.027, 'Coastal aerosol (band 1)'),
    Band('B02', 'blue', 'blue', 10, 0.49, 0.098, 'Blue (band 2)'),
    Band('B03', 'green', 'green', 10, 0.56, 0.045, 'Green (band 3)'),
    Band('B04', 'red', 'red', 10, 0.665, 0.038, 'Red (band 4)'),
    Band('B05', 'rededge', 'rededge1', 20, 0.704, 0.019, 'Red edge 1 (band 5)'),
    Band('B06', 'rededge', 'rededge2', 20, 0.74, 0.018, 'Red edge 2 (band 6)'),
    Band('B07', 'rededge', 'rededge3', 20, 0.783, 0.028, 'Red edge 3 (band 7)'),
    Band('B08', 'nir', 'nir', 10, 0.842, 0.145, 'NIR 1 (band 8)'),
    Band('B8A', 'nir08', 'nir08', 20, 0.865, 0.033, 'NIR 2 (band 8A)'),
    Band('B09', 'nir09', 'nir09', 60, 0.945, 0.026, 'NIR 3 (band 9)'),
    Band('B11', 'swir16', 'swir16', 20, 1.61, 0.143, 'SWIR 1 (band 11)'),
    Band('B12', 'swir22', 'swir22', 20, 2.19, 0.242, 'SWIR 2 (band 12)'),
)
assert tuple(b.name for b in BANDS) == features.BAND_NAMES


def band_of_name(name: str) -> Optional[str]:
  """The ESA band name a publisher's band name stands for ('B8A', 'nir08',
  'B8a' -> 'B8A'; 'B8' -> 'B08'), or None. SCL is 'SCL'. Common names that
  several bands share ('rededge') stand for none."""
  key = name.strip().lower()
  if key == SCL.lower():
    return SCL
  match = re.fullmatch(r'b0?(\d{1,2}a?)', key)
  if match:
    wanted = match.group(1).upper()
    for band in BANDS:
      if band.name.lstrip('B').lstrip('0') == wanted.lstrip('0'):
        return band.name
    return None
  for band in BANDS:
    if key == band.earth_search:
      return band.name
  shared = [band.name for band in BANDS if band.common_name == key]
  return shared[0] if len(shared) == 1 else None


def baseline_tuple(baseline: object) -> Optional[Tuple[int, int]]:
  """'04.00' (or 4.0, '4.00') -> (4, 0); None when it does not parse."""
  match = re.fullmatch(r'\s*0*(\d+)\.(\d+)\s*', str(baseline))
  return (int(match.group(1)), int(match.group(2))) if match else None


def baseline_has_offset(baseline: object) -> bool:
  """Whether DNs of processing baseline `baseline` carry `BOA_ADD_OFFSET`."""
  parsed = baseline_tuple(baseline)
  return parsed is not None and parsed >= OFFSET_BASELINE
