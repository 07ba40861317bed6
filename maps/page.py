"""`map.html`: the map's page, one self-contained HTML file.

Built with the run report's page (`report/page.py`): inline CSS and inline PNG
images, no scripts and no external resources, so it opens offline and can be
mailed. It shows the map
(`classes.tif`) and, with a reference, the reference's classes on the map's
grid (`reference.tif`) and where the two disagree (`disagreement.tif`) side
by side, then the scores of `map_summary.json`: overall accuracy, per class
producer's and user's accuracy, F1 and area in the map and the reference,
the confusion matrix, and the cells left out of the scores by reason.
"""

import base64
import io
import math
import os
from typing import Dict, Optional

import matplotlib

matplotlib.use('Agg')  # no display; must precede pyplot
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import rasterio  # pylint: disable=g-import-not-at-top,wrong-import-position
from rasterio.enums import Resampling  # pylint: disable=g-import-not-at-top,wrong-import-position

from croptfx import features  # pylint: disable=g-import-not-at-top,wrong-import-position
from croptfx import paths  # pylint: disable=g-import-not-at-top,wrong-import-position
from croptfx.maps import raster as raster_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from croptfx.report import page  # pylint: disable=g-import-not-at-top,wrong-import-position

# Panels are read decimated (nearest) to at most this many cells a side.
MAX_READ_PX = 900
PANEL_INCHES, DPI = 4.2, 110
_NOT_SCORED_NOTE = {
    'outside_reference': 'outside the reference raster',
    'background': 'background (code 0)',
    'nodata': "the reference's nodata value",
    'not_a_cdl_code': 'a value outside 0..255',
    'excluded': 'a class the label mapping excludes (double crops)',
}


def _read(path: str):
  with rasterio.open(path) as ds:
    scale = max(1, math.ceil(max(ds.width, ds.height) / MAX_READ_PX))
    shape = (math.ceil(ds.height / scale), math.ceil(ds.width / scale))
    return ds.read(1, out_shape=shape, resampling=Resampling.nearest)


def panel_png(path: str, colors: Dict[int, str]) -> str:
  """The raster at `path` as a PNG data URI: value -> colour, others white."""
  values = _read(path)
  rgb = np.full(values.shape + (3,), 255, np.uint8)
  for value, color in colors.items():
    rgb[values == value] = [int(color[k:k + 2], 16) for k in (1, 3, 5)]
  height, width = values.shape
  aspect = height / width
  fig = plt.figure(figsize=(PANEL_INCHES, PANEL_INCHES * aspect), dpi=DPI)
  ax = fig.add_axes([0, 0, 1, 1])
  ax.imshow(rgb, interpolation='nearest')
  ax.set_axis_off()
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png', dpi=DPI, metadata={'Software': None})
  plt.close(fig)
  return 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode('ascii')


def _pct(value: Optional[float]) -> str:
  return 'n/a' if value is None else f'{100 * value:.1f}%'


def _ha(value: Optional[float]) -> str:
  return 'n/a' if value is None else f'{value:,.1f}'


def _class_legend():
  return [(color, name) for name, color in features.CLASS_COLORS.items()]


def _shown(path: str, relative_to: Optional[str]) -> str:
  """A local path as seen from `relative_to` (the map's directory), so a page
  moved with its run and data still names them right; URIs as they are."""
  if relative_to is None or paths.is_uri(path) or paths.is_uri(relative_to):
    return path
  return os.path.relpath(path, relative_to)


def write_page(path: str, summary: Dict[str, object], classes_tif: str,
               reference_tif: Optional[str] = None,
               disagreement_tif: Optional[str] = None,
               relative_to: Optional[str] = None) -> str:
  """Writes the page for a map whose rasters are at the given local paths;
  `summary` is `map_summary.json`'s content. Local paths of the model, data
  and reference are shown relative to `relative_to` when given."""
  class_colors = dict(enumerate(features.CLASS_COLORS.values()))
  panels = [{'id': 'map-panel', 'title': f'Map as of {summary["as_of"]}',
             'file': 'classes.tif', 'src': panel_png(classes_tif, class_colors),
             'legend': _class_legend()}]
  grid = summary['grid']
  raster = summary['raster']
  reference = raster.get('reference')
  per_class, confusion, not_scored, cards = [], [], [], []
  if reference:
    panels.append({'id': 'reference-panel', 'title': 'Reference',
                   'file': 'reference.tif', 'src': panel_png(reference_tif, class_colors),
                   'legend': _class_legend() + [('#ffffff', 'not scored')]})
    panels.append({'id': 'disagreement-panel', 'title': 'Map against reference',
                   'file': 'disagreement.tif',
                   'src': panel_png(disagreement_tif, raster_lib.DISAGREEMENT_COLORS),
                   'legend': [(raster_lib.DISAGREEMENT_COLORS[k], v)
                              for k, v in raster_lib.DISAGREEMENT_NAMES.items()]})
    for name, s in reference['per_class'].items():
      per_class.append([name, _pct(s['producers_accuracy']), _pct(s['users_accuracy']),
                        _pct(s['f1']), f'{s["reference_cells"]:,}', f'{s["map_cells"]:,}',
                        _ha(s['reference_ha']), _ha(s['map_ha'])])
    matrix = reference['confusion_matrix']
    confusion = [(name, [(f'{v:,}', i == j) for j, v in enumerate(row)])
                 for i, (name, row) in enumerate(zip(matrix['classes'], matrix['cells']))]
    not_scored = [(_NOT_SCORED_NOTE.get(r, r), f'{n:,}')
                  for r, n in reference['not_scored'].items()]
    not_scored.append(('scored, code not in the official list (default class)',
                       f'{reference["unknown_code_cells"]:,}'))
    cards = [(_pct(reference['overall_accuracy']), 'overall accuracy', 'card-oa'),
             (_pct(reference['macro_f1']), 'macro F1', 'card-f1'),
             (f'{reference["cells_compared"]:,}', 'cells compared', 'card-cells')]
  else:
    areas = raster.get('map_area_ha') or {}
    for name, cells in summary['pixels_per_class'].items():
      per_class.append([name, f'{cells:,}', _ha(areas.get(name))])
  unit = {'metre': 'm', 'degrees': 'degrees'}.get(grid['units'], grid['units'])
  how = {'detected': 'detected from the pixels', 'grid_crs': 'fitted in --grid-crs',
         'like': 'from --like'}.get(grid['how'], grid['how'])
  grid_note = (f'Grid: {grid["crs"]}, {grid["cell_size"][0]:g} {unit} x '
               f'{grid["cell_size"][1]:g} {unit} cells, {grid["width"]:,} x '
               f'{grid["height"]:,} cells ({how}); {raster["cells_filled"]:,} cells '
               'hold a pixel; white: no pixel.')
  reference_note = ''
  if reference:
    reference_note = (f'Reference {_shown(reference["path"], relative_to)} '
                      f'({reference["crs"]}), resampled '
                      f'{reference["resampling"]}; CDL codes -> names (official code list) '
                      f'-> classes ({reference["label_mapping"]}). Producer\'s accuracy: of '
                      "the reference's cells of a class, the share the map gives it (recall); "
                      "user's accuracy: of the map's cells of a class, the share the reference "
                      'agrees with (precision).')
  sections = [page.Section(
      'map', 'The map' + (', the reference and where they disagree' if reference else ''),
      grid_note, page.grid(*[page.png_figure(
          p['src'], p['title'], page.Markup('<strong>{}</strong> ({})<br>').format(
              p['title'], p['file']) + page.Markup(' ').join(
                  page.swatch(color, label) for color, label in p['legend']))
                             for p in panels]))]
  if reference:
    diagonal = [[page.Cell(value, cls='diag' if on_diagonal else None)
                 for value, on_diagonal in row] for _, row in confusion]
    sections.append(page.Section(
        'scores', 'Scores against the reference', reference_note,
        page.table(['class', "producer's accuracy", "user's accuracy", 'F1',
                    'reference cells', 'map cells', 'reference ha', 'map ha'], per_class,
                   'per-class', f'Per class, over the {reference["cells_compared"]:,} '
                   'cells compared')
        + page.table(['reference \\ map'] + list(features.CLASS_NAMES),
                     [[name] + row for (name, _), row in zip(confusion, diagonal)],
                     'confusion', 'Confusion matrix, cells: rows the reference, columns '
                     'the map')
        + page.table(['reason', 'cells'], not_scored, 'not-scored',
                     'Mapped cells left out of the scores')))
  else:
    sections.append(page.Section('classes', 'Classes', 'Cells and area of each class.',
                                 page.table(['class', 'cells', 'ha'], per_class, 'per-class')))
  html = page.render(f'Crop map as of {summary["as_of"]}',
                     f'model {_shown(summary["model"], relative_to)}; '
                     f'data {_shown(summary["data"], relative_to)}'
                     + (' (paths relative to this page)' if relative_to else ''),
                     page.cards([page.card(value, label, card_id)
                                 for value, label, card_id in cards]),
                     sections, 'Written by croptfx map; every number is in map_summary.json.')
  paths.write_atomic(path, html)
  return path
