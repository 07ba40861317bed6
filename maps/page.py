"""`map.html`: the map's page, one self-contained HTML file.

Like the run report: inline CSS and inline PNG images, no scripts and no
external resources, so it opens offline and can be mailed. It shows the map
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

import jinja2
import markupsafe
import matplotlib

matplotlib.use('Agg')  # no display; must precede pyplot
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import rasterio  # pylint: disable=g-import-not-at-top,wrong-import-position
from rasterio.enums import Resampling  # pylint: disable=g-import-not-at-top,wrong-import-position

from croptfx import features  # pylint: disable=g-import-not-at-top,wrong-import-position
from croptfx.maps import raster as raster_lib  # pylint: disable=g-import-not-at-top,wrong-import-position

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


_CSS = """
body { margin:0; background:#f5f7f8; color:#1d2327;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 26px 30px 44px; background:#fff; }
h1 { font-size: 24px; margin: 0 0 2px; }
h2 { font-size: 19px; margin: 32px 0 6px; padding-top: 12px; border-top: 1px solid #dfe3e6; }
.sub, .note, figcaption, caption { color: #667075; }
.note { font-size: 13.5px; }
.panels { display:flex; flex-wrap:wrap; gap: 14px; align-items:flex-start; }
figure { margin: 6px 0; flex: 1 1 300px; }
figure img { max-width: 100%; height: auto; display:block; border:1px solid #dfe3e6; }
figcaption { font-size: 13px; margin-top: 4px; }
.legend span.swatch { display:inline-block; width:11px; height:11px; border-radius:2px;
  margin:0 5px 0 10px; vertical-align:-1px; border:1px solid #999; }
.cards { display:flex; flex-wrap:wrap; gap:10px; margin: 14px 0 4px; }
.card { border:1px solid #dfe3e6; border-radius:8px; padding:8px 14px; min-width:130px; }
.card .value { font-size: 21px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .label { font-size: 12.5px; color: #667075; }
table { border-collapse: collapse; margin: 10px 0 14px; font-size: 13.5px;
  font-variant-numeric: tabular-nums; }
caption { text-align: left; font-size: 13px; padding-bottom: 4px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #dfe3e6; text-align: right; }
th:first-child { text-align: left; }
thead th { border-bottom: 2px solid #c5ccd0; }
td.diag { font-weight: 700; }
code { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 0.92em; }
"""

_TEMPLATE = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<link rel="icon" href="data:,">
<style>{{ css }}</style>
</head>
<body>
<main>
<h1 id="map-title">{{ title }}</h1>
<p class="sub">{{ subtitle }}</p>
{% if cards %}
<div class="cards">{% for value, label, id in cards %}
<div class="card" id="{{ id }}"><div class="value">{{ value }}</div><div class="label">{{ label }}</div></div>
{% endfor %}</div>
{% endif %}
<h2>The map{% if reference %}, the reference and where they disagree{% endif %}</h2>
<div class="panels">
{% for p in panels %}
<figure id="{{ p.id }}"><img src="{{ p.src }}" alt="{{ p.title }}"><figcaption><strong>{{ p.title }}</strong> ({{ p.file }})<br>
<span class="legend">{% for color, label in p.legend %}<span class="swatch" style="background:{{ color }}"></span>{{ label }}{% endfor %}</span></figcaption></figure>
{% endfor %}
</div>
<p class="note">{{ grid_note }}</p>
{% if reference %}
<h2>Scores against the reference</h2>
<p class="note">{{ reference_note }}</p>
<table id="per-class"><caption>Per class, over the {{ compared }} cells compared</caption>
<thead><tr><th>class</th><th>producer's accuracy</th><th>user's accuracy</th><th>F1</th>
<th>reference cells</th><th>map cells</th><th>reference ha</th><th>map ha</th></tr></thead>
<tbody>{% for row in per_class %}<tr>{% for cell in row %}{% if loop.first %}<th>{{ cell }}</th>{% else %}<td>{{ cell }}</td>{% endif %}{% endfor %}</tr>
{% endfor %}</tbody></table>
<table id="confusion"><caption>Confusion matrix, cells: rows the reference, columns the map</caption>
<thead><tr><th>reference \\ map</th>{% for name in classes %}<th>{{ name }}</th>{% endfor %}</tr></thead>
<tbody>{% for name, row in confusion %}<tr><th>{{ name }}</th>{% for value, diagonal in row %}<td{% if diagonal %} class="diag"{% endif %}>{{ value }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
<table id="not-scored"><caption>Mapped cells left out of the scores</caption>
<thead><tr><th>reason</th><th>cells</th></tr></thead>
<tbody>{% for label, value in not_scored %}<tr><th>{{ label }}</th><td>{{ value }}</td></tr>{% endfor %}</tbody></table>
{% else %}
<h2>Classes</h2>
<table id="per-class"><thead><tr><th>class</th><th>cells</th><th>ha</th></tr></thead>
<tbody>{% for row in per_class %}<tr>{% for cell in row %}{% if loop.first %}<th>{{ cell }}</th>{% else %}<td>{{ cell }}</td>{% endif %}{% endfor %}</tr>
{% endfor %}</tbody></table>
{% endif %}
<p class="note">Written by <code>croptfx map</code>; every number is in <code>map_summary.json</code>.</p>
</main>
</body>
</html>
""")


def _class_legend():
  return [(color, name) for name, color in features.CLASS_COLORS.items()]


def write_page(path: str, summary: Dict[str, object], classes_tif: str,
               reference_tif: Optional[str] = None,
               disagreement_tif: Optional[str] = None) -> str:
  """Writes the page for a map whose rasters are at the given local paths;
  `summary` is `map_summary.json`'s content."""
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
    reference_note = (f'Reference {reference["path"]} ({reference["crs"]}), resampled '
                      f'{reference["resampling"]}; CDL codes -> names (official code list) '
                      f'-> classes ({reference["label_mapping"]}). Producer\'s accuracy: of '
                      "the reference's cells of a class, the share the map gives it (recall); "
                      "user's accuracy: of the map's cells of a class, the share the reference "
                      'agrees with (precision).')
  html = _TEMPLATE.render(
      css=markupsafe.Markup(_CSS), title=f'Crop map as of {summary["as_of"]}',
      subtitle=f'model {summary["model"]}; data {summary["data"]}',
      cards=cards, panels=panels, reference=bool(reference), grid_note=grid_note,
      reference_note=reference_note, per_class=per_class, classes=features.CLASS_NAMES,
      confusion=confusion, not_scored=not_scored,
      compared=f'{reference["cells_compared"]:,}' if reference else 0)
  tmp = path + '.tmp'
  with open(tmp, 'w', encoding='utf-8') as f:
    f.write(html)
  os.replace(tmp, path)
  return path
