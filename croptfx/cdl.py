"""The Cropland Data Layer's code list: raster code -> class name and colour.

USDA NASS publishes the CDL as one uint8 GeoTIFF a year whose cell values
are codes (1 Corn, 2 Cotton, 5 Soybeans, 26 Dbl Crop WinWht/Soybeans,
176 Grassland/Pasture, ...; 0 is the background outside the survey). The
Part-1 rows carry the class *name* (`CDL` column), and the label mapping
(`data/cdl_classes.json`) groups names into the training classes, so a code
becomes a name here, then a class there.

`data/cdl_codes.csv` holds the official list (code, name, colour of the
CDL's own colour table), as in the attribute table that ships with every
CDL raster. It is the one place a code becomes a name: the extraction job
(`croptfx extract`), the map scores against a reference CDL, the generator's
CDL rasters and their colour tables all read it.
"""

import csv
import dataclasses
import functools
import os
from typing import Dict, Mapping, Tuple

CODES_PATH = os.path.join(os.path.dirname(__file__), 'data', 'cdl_codes.csv')
BACKGROUND = 0
# The one national grid of every CDL raster: EPSG:5070 (NAD83 / Conus
# Albers), 30 m cells whose edges lie 15 m off the multiples of 30 m (the
# national product's upper-left corner, metres). Part-1 pixels extracted
# from a CDL sit at these cells' centres.
GRID_CRS = 'EPSG:5070'
GRID_CELL_M = 30.0
GRID_ORIGIN = (-2356095.0, 3172605.0)
# The name an unlisted code gets: says what it is, and maps to the label
# mapping's default class as any unknown name does (counted `unknown_cdl`).
UNKNOWN_NAME = 'Unknown CDL code {code}'


@dataclasses.dataclass(frozen=True)
class CodeList:
  """Code -> name and code -> colour of the CDL, and names back to codes."""
  names: Mapping[int, str]
  colors: Mapping[int, str]  # '#rrggbb'
  # A few names come twice (Barren 65 and 131, Shrubland 64 and 152: the
  # pre-2007 and the NLCD-based codes); the current (higher) code is kept.
  codes_by_name: Mapping[str, int]

  def name(self, code: int) -> str:
    """The class name of `code`; an unlisted code gets `UNKNOWN_NAME`."""
    code = int(code)
    return self.names.get(code) or UNKNOWN_NAME.format(code=code)

  def is_known(self, code: int) -> bool:
    return int(code) in self.names

  def code(self, name: str) -> int:
    """The code of a class name (exact spelling of the list).

    Raises:
      KeyError: a name the list does not hold.
    """
    return self.codes_by_name[name]

  def colormap(self) -> Dict[int, Tuple[int, int, int, int]]:
    """GDAL colour table: code -> RGBA, background transparent."""
    table = {code: tuple(int(color[k:k + 2], 16) for k in (1, 3, 5)) + (255,)
             for code, color in self.colors.items()}
    table[BACKGROUND] = (0, 0, 0, 0)
    return table


@functools.lru_cache(maxsize=1)
def code_list() -> CodeList:
  """The official CDL code list (`data/cdl_codes.csv`)."""
  names, colors = {}, {}
  with open(CODES_PATH, encoding='utf-8', newline='') as f:
    for row in csv.DictReader(f):
      code = int(row['code'])
      if not 0 <= code <= 255 or code in names:
        raise ValueError(f'{CODES_PATH}: code {code} is out of 0..255 or listed twice')
      names[code] = row['name']
      colors[code] = row['color']
  return CodeList(names=names, colors=colors,
                  codes_by_name={name: code for code, name in sorted(names.items())})
