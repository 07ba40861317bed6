"""A PNG quicklook of a class raster: the classes' colours and a legend."""

import math

import matplotlib

matplotlib.use('Agg')  # no display; must precede pyplot
import matplotlib.patches as mpatches  # pylint: disable=g-import-not-at-top,wrong-import-position
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
from matplotlib.colors import ListedColormap  # pylint: disable=g-import-not-at-top,wrong-import-position

from rasterio.enums import Resampling
import rasterio

from croptfx import features  # pylint: disable=g-import-not-at-top,wrong-import-position

# Output size in pixels (figure inches x DPI), fixed so pages can lay it out.
WIDTH_PX, HEIGHT_PX, DPI = 1000, 700, 100
# Larger rasters are read decimated (nearest) from their overviews.
MAX_READ_PX = 1600


def _read_classes(classes_tif: str):
  with rasterio.open(classes_tif) as ds:
    scale = max(1, math.ceil(max(ds.width, ds.height) / MAX_READ_PX))
    shape = (math.ceil(ds.height / scale), math.ceil(ds.width / scale))
    classes = ds.read(1, out_shape=shape, resampling=Resampling.nearest)
    return classes, ds.bounds, ds.nodata


def write_quicklook(classes_tif: str, png_path: str, title: str = '') -> str:
  """Writes the class raster as a PNG with a legend of class names and shares."""
  classes, bounds, nodata = _read_classes(classes_tif)
  valid = classes != nodata if nodata is not None else np.ones(classes.shape, bool)
  valid &= classes < features.NUM_CLASSES
  shown = np.ma.masked_array(classes, mask=~valid)
  cmap = ListedColormap(list(features.CLASS_COLORS.values()))
  cmap.set_bad((1, 1, 1, 0))  # nodata: the white page shows through
  counts = np.bincount(classes[valid], minlength=features.NUM_CLASSES)
  fig = plt.figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
  ax = fig.add_axes([0.1, 0.08, 0.59, 0.82])
  ax.imshow(shown, cmap=cmap, vmin=-0.5, vmax=features.NUM_CLASSES - 0.5,
            interpolation='nearest', interpolation_stage='data',
            extent=(bounds.left, bounds.right, bounds.bottom, bounds.top))
  # Degrees of longitude are shorter than degrees of latitude away from the
  # equator: scale the axes so fields keep their shape.
  mid_lat = (bounds.top + bounds.bottom) / 2
  ax.set_aspect(1 / max(math.cos(math.radians(mid_lat)), 1e-6))
  ax.set_xlabel('longitude (degrees)')
  ax.set_ylabel('latitude (degrees)')
  ax.ticklabel_format(useOffset=False)
  ax.tick_params(labelsize=8)
  if title:
    ax.set_title(title, fontsize=11, fontweight='bold', loc='left')
  total = max(int(counts.sum()), 1)
  handles = [mpatches.Patch(facecolor=color, edgecolor='#555555', linewidth=0.5,
                            label=f'{name} ({100 * counts[i] / total:.1f}%)')
             for i, (name, color) in enumerate(features.CLASS_COLORS.items())]
  if (~valid).any():
    handles.append(mpatches.Patch(facecolor='white', edgecolor='#555555', linewidth=0.5,
                                  label='no data'))
  fig.legend(handles=handles, loc='center left', bbox_to_anchor=(0.72, 0.5),
             frameon=False, fontsize=9, title='Class (share of mapped cells)',
             title_fontsize=9)
  fig.savefig(png_path, dpi=DPI, metadata={'Software': None})
  plt.close(fig)
  return png_path
