"""Colours and figure styling shared by every figure, and inline encoding.

The class palette comes from `features.CLASS_COLORS`, keyed by
`features.CLASS_NAMES`, so a class has the same colour in every figure, table
and map.
"""

import base64
import functools
import io
import itertools
import re

import matplotlib

matplotlib.use('Agg')  # no display; must precede pyplot
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

from croptfx import features  # pylint: disable=g-import-not-at-top,wrong-import-position

# The class palette, keyed by class name (defined in croptfx.features).
CLASS_COLORS = features.CLASS_COLORS

# Splits are years; kept apart from the class colours (greys and two blues).
SPLIT_COLORS = {
    features.TRAIN_SPLIT: '#555555',
    features.EVAL_SPLIT: '#1f6fb4',
    features.TEST_SPLIT: '#e07b00',
}
OTHER_SPLIT_COLORS = ('#7b3294', '#008837', '#c51b7d')
# Runs overlaid in `croptfx compare` (Okabe-Ito, colour-blind safe; the
# baseline is a dashed grey).
SERIES_COLORS = ('#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9',
                 '#000000')
# Disagreement map: correct pixels recede, errors stand out in any palette.
AGREE_COLOR = '#d4d4d4'
DISAGREE_COLOR = '#111111'

# Nominal centre wavelengths of the Sentinel-2 MSI bands (nm), for tables.
BAND_WAVELENGTH_NM = {
    'B01': 443, 'B02': 490, 'B03': 560, 'B04': 665, 'B05': 705, 'B06': 740,
    'B07': 783, 'B08': 842, 'B8A': 865, 'B09': 945, 'B11': 1610, 'B12': 2190,
}

# Figure widths in inches at 100 dpi: the page column is ~1000 px wide.
FULL_WIDTH = 10.0
HALF_WIDTH = 4.9

_RC = {
    'font.family': 'DejaVu Sans',
    'font.size': 9.5,
    'axes.titlesize': 10.5,
    'axes.titleweight': 'bold',
    'axes.labelsize': 9.5,
    'axes.spines.top': False,
    'axes.spines.right': False,
    'axes.grid': True,
    'grid.color': '#e6e6e6',
    'grid.linewidth': 0.8,
    'axes.axisbelow': True,
    'legend.frameon': False,
    'legend.fontsize': 8.5,
    'figure.dpi': 100,
    'savefig.dpi': 100,
    'svg.fonttype': 'path',  # text as outlines: no font needed to view
}
_METADATA = {'Format': None, 'Type': None, 'Creator': None, 'Date': None}
_figure_ids = itertools.count()


def split_color(split, order=()):
  if split in SPLIT_COLORS:
    return SPLIT_COLORS[split]
  others = [s for s in order if s not in SPLIT_COLORS]
  index = others.index(split) if split in others else 0
  return OTHER_SPLIT_COLORS[index % len(OTHER_SPLIT_COLORS)]


def styled(plot_fn):
  """Runs a figure function under the report's rcParams (not the global ones).

  Most rcParams are read when artists are created, so the whole function,
  not only the savefig, runs inside the context.
  """
  @functools.wraps(plot_fn)
  def wrapper(*args, **kwargs):
    with plt.rc_context(_RC):
      return plot_fn(*args, **kwargs)
  return wrapper


def new_figure(width=FULL_WIDTH, height=3.2, **subplots_kwargs):
  return plt.subplots(figsize=(width, height), **subplots_kwargs)


def to_svg(fig) -> str:
  """Inline <svg> markup of `fig`; closes it.

  Drops the XML prolog and the namespace URIs (HTML5 knows <svg> without
  them) and prefixes every id and in-figure reference, so figures sharing
  one page never share an id (matplotlib names font glyphs alike in each).
  """
  buffer = io.StringIO()
  fig.savefig(buffer, format='svg', metadata=_METADATA, bbox_inches='tight')
  plt.close(fig)
  svg = buffer.getvalue()
  svg = svg[svg.index('<svg'):]
  svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', '', svg)
  prefix = f'f{next(_figure_ids)}-'
  svg = re.sub(r'\bid="', f'id="{prefix}', svg)
  svg = re.sub(r'(href="#|url\(#)', rf'\g<1>{prefix}', svg)
  return svg.replace('<svg ', '<svg class="figure" role="img" ', 1)


def to_png_data_uri(fig, dpi=110) -> str:
  """data:image/png;base64 URI of `fig` (for dense scatter maps); closes it."""
  buffer = io.BytesIO()
  with plt.rc_context(_RC):
    fig.savefig(buffer, format='png', dpi=dpi, bbox_inches='tight', metadata={'Software': None})
  plt.close(fig)
  return 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode('ascii')
