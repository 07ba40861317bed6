"""A reference raster of CDL codes, read on the map's grid: what each cell is.

`Reference(path, grid)` opens a raster of CDL codes (the CDL of the map's
year, or any single-band integer raster of CDL codes, in any CRS and on any
grid) and reads it on the map's grid through GDAL's warper (a WarpedVRT with
nearest-neighbour resampling and, in effect, the exact transformation:
an approximation error of at most 1e-6 cells), a window at a time: each map cell takes the value of the
reference cell that contains the map cell's centre. On the same grid (a CDL
and a map on CDL cells) that is the reference's own cell.

A code becomes a class name through the official code list (`croptfx.cdl`),
and the name a class through the run's label mapping
(`features.load_label_mapping`). A cell is left out of the scores, and
counted, for the first reason that applies: `outside_reference` (its centre
is outside the reference raster), `background` (code 0, the CDL's background,
also its nodata value), `nodata` (the reference's nodata value, when it is
not 0), `not_a_cdl_code` (a value outside 0..255), `excluded` (the mapping
excludes the name: double crops, never trained on). A code the official list
does not hold maps to the mapping's default class as any unknown name does:
scored, and counted as `unknown_code`.
"""

from typing import Dict, Optional, Tuple

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

from croptfx import cdl
from croptfx import errors
from croptfx import features
from croptfx.maps import grid as grid_lib

SCORED = 0
REASONS = ('outside_reference', 'background', 'nodata', 'not_a_cdl_code', 'excluded')
REASON_CODE = {r: i + 1 for i, r in enumerate(REASONS)}
UNKNOWN_CODE = 'unknown_code'
# Written where the warp finds no reference cell; no CDL code is negative.
_OUTSIDE = -1
# The warper's approximation error, in reference cells: small enough to be
# the exact transformation (rasterio refuses 0).
WARP_TOLERANCE = 1e-6
RESAMPLING = 'nearest: each map cell takes the reference cell holding its centre'


def class_table(label_mapping: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
  """(class per code 0..255, EXCLUDED_LABEL for excluded names; unknown code?)."""
  codes = cdl.code_list()
  mapping = features.load_label_mapping(label_mapping)
  classes = np.empty(256, np.int16)
  unknown = np.zeros(256, bool)
  for code in range(256):
    label, _, _ = mapping.lookup(codes.name(code))
    classes[code] = label
    unknown[code] = not codes.is_known(code)
  return classes, unknown


def check(path: str) -> None:
  """`path` is a single-band integer raster with a CRS (a one-line error)."""
  try:
    with rasterio.open(path) as ds:
      dtype, crs, transform = ds.dtypes[0], ds.crs, ds.transform
  except rasterio.errors.RasterioIOError as e:
    raise errors.CroptfxError(f'--reference {path}: not a raster rasterio can open '
                              f'({str(e).splitlines()[0]})') from None
  if not np.issubdtype(np.dtype(dtype), np.integer):
    raise errors.CroptfxError(f'--reference {path}: holds {dtype} values; a reference '
                              'holds CDL codes (integers)')
  if crs is None:
    raise errors.CroptfxError(f'--reference {path}: the raster has no CRS')
  if transform.is_identity:
    raise errors.CroptfxError(f'--reference {path}: the raster has no geotransform')


class Reference:
  """A reference raster on a map's grid; `read(window)` gives classes and reasons."""

  def __init__(self, path: str, grid: grid_lib.Grid, label_mapping: Optional[str] = None):
    check(path)
    self.path = path
    self.label_mapping = label_mapping or features.DEFAULT_LABEL_MAPPING_PATH
    self._classes, self._unknown = class_table(label_mapping)
    self._src = rasterio.open(path)
    self.nodata = self._src.nodata
    # src_nodata=None: a 0 is a code (background) to count, not a hole to
    # fill; only cells beyond the reference get _OUTSIDE.
    self._vrt = WarpedVRT(self._src, crs=grid.crs, transform=grid.transform,
                          width=grid.width, height=grid.height, src_nodata=None,
                          nodata=_OUTSIDE, dtype='int32', resampling=Resampling.nearest,
                          tolerance=WARP_TOLERANCE)

  def info(self) -> Dict[str, object]:
    t = self._src.transform
    code = self._src.crs.to_epsg()
    return {'path': self.path, 'crs': f'EPSG:{code}' if code else self._src.crs.to_wkt(),
            'transform': list(t)[:6], 'width': self._src.width, 'height': self._src.height,
            'nodata': self.nodata, 'resampling': RESAMPLING,
            'label_mapping': self.label_mapping}

  def codes(self, window) -> np.ndarray:
    """The reference's values on a window of the map's grid (int32, -1 beyond it)."""
    return self._vrt.read(1, window=window)

  def read(self, window) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(class, reason, unknown) per cell of `window` (a rasterio Window of the
    map's grid): class index or -1 where not scored, the reason code
    (`SCORED` or 1 + index in `REASONS`), and whether the code is unlisted."""
    return self.classify(self.codes(window))

  def classify(self, values: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = np.asarray(values)
    in_range = (values >= 0) & (values <= 255)
    code = np.where(in_range, values, 0).astype(np.uint8)
    classes = self._classes[code]
    reason = np.full(values.shape, SCORED, np.uint8)
    # The first reason that applies wins: assigned last to first.
    reason[classes == features.EXCLUDED_LABEL] = REASON_CODE['excluded']
    reason[~in_range] = REASON_CODE['not_a_cdl_code']
    if self.nodata is not None and self.nodata != cdl.BACKGROUND:
      reason[values == self.nodata] = REASON_CODE['nodata']
    reason[values == cdl.BACKGROUND] = REASON_CODE['background']
    reason[values == _OUTSIDE] = REASON_CODE['outside_reference']
    classes = np.where(reason == SCORED, classes, -1).astype(np.int16)
    unknown = (reason == SCORED) & self._unknown[code]
    return classes, reason, unknown

  def close(self) -> None:
    self._vrt.close()
    self._src.close()
