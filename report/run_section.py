"""The report's last section: run status, timings and where to look deeper.

The commands that open the TFX outputs (TensorBoard, TFDV, TFMA) use paths
relative to the run directory, so the page stays valid when it is moved
together with the run.
"""

from typing import List, Optional

from croptfx import layouts
from croptfx import records
from croptfx.report import figures
from croptfx.report import page
from croptfx.report import sections


def _split_names(uri: Optional[str]) -> List[str]:
  return list(records.split_dirs(uri)) if uri else []


def run_section(inputs: sections.Inputs) -> page.Section:
  s = inputs.summary
  sec = page.Section('run', sections.TITLES['run'],
                     'Timings, the pushed model, and the commands that open the full TFX '
                     'outputs (paths are relative to the run directory; run the commands '
                     'from there).')
  body: List[page.Markup] = []
  rows = [['runner', page.Cell(str(s.runner or 'n/a'), id='runner')],
          ['wall time (s)', page.Cell(page.fmt_float(s.wall_seconds, 1) if s.wall_seconds is not None
                                 else 'n/a', id='wall-seconds')]]
  if s.blessed is not None:
    rows.append(['blessed by the Evaluator',
                 page.Cell('yes' if s.blessed else 'no', id='blessed',
                      cls='good' if s.blessed else 'bad')])
  model_dir = s.model_dir
  rows.append(['pushed model', page.Cell(page.link(inputs.rel(model_dir)) if model_dir else
                                    'not pushed', id='model-dir')])
  status = page.table(None, rows, table_id='run-table', numeric=[])
  seconds = s.component_seconds or {}
  cached = s.cached_components or []
  if seconds:
    timing = page.svg_figure(figures.timings(seconds, cached))
    status += page.table(
        ['component', 'seconds'],
        [[name + (' (cached)' if name in cached else ''),
          page.Cell(page.fmt_float(v, 1), id=f'seconds-{page.slug(name)}')]
         for name, v in seconds.items()], table_id='timings-table')
  else:
    timing = page.Markup('')
    sec.missing.append('component timings: component_seconds is not in run_summary.json')
  body.append(page.grid(status, timing))
  body.append(page.Markup('<h3>Tools</h3>'))
  body.append(_tool_links(inputs, sec))
  sec.body = page.Markup('').join(body)
  return sec



def _tool(out: List[page.Markup], sec: page.Section, path: Optional[str], title: str,
          note: str, code: str, missing: Optional[str]) -> None:
  """A tool's paragraph (its name, what it shows, the artifact) and its code,
  or the reason it is missing (if the section lists it)."""
  if not path:
    if missing:
      sec.missing.append(missing)
    return
  out.append(page.Markup('<p><strong>{}</strong> ({}): {}</p>').format(
      title, note, page.link(path)))
  out.append(page.code(code))

def _tool_links(inputs: sections.Inputs, sec: page.Section) -> page.Markup:
  out: List[page.Markup] = []
  logdir = inputs.rel(inputs.artifact('model_run'))
  _tool(out, sec, logdir, 'TensorBoard', 'training curves', f'tensorboard --logdir {logdir}',
        'TensorBoard logs: artifacts.model_run is not in run_summary.json')
  stats = inputs.rel(inputs.artifact('statistics'))
  anomalies = inputs.rel(inputs.artifact('anomalies'))
  schema = inputs.rel(inputs.artifact('schema'))
  if stats or anomalies or schema:
    out.append(page.Markup('<p><strong>TensorFlow Data Validation</strong> (in a notebook): '
                      'statistics {}, schema {}, anomalies {}</p>').format(
                          page.link(stats), page.link(schema), page.link(anomalies)))
    splits = (_split_names(inputs.artifact('statistics'))
              or list((inputs.summary.examples or {}))
              or list(inputs.summary.roles().names))
    lines = ['import tensorflow_data_validation as tfdv']
    if stats:
      names = {split: f'stats_{page.slug(split).replace("-", "_")}' for split in splits}
      for split in splits:
        lines.append(f"{names[split]} = tfdv.load_stats_binary("
                     f"'{layouts.split_dir(stats, split)}/{layouts.STATISTICS_FILE}')")
      if len(splits) > 1:
        a, b = splits[0], splits[1]
        lines.append(f"tfdv.visualize_statistics(lhs_statistics={names[a]}, "
                     f"rhs_statistics={names[b]}, lhs_name='{a}', rhs_name='{b}')")
      else:
        lines.append(f'tfdv.visualize_statistics({names[splits[0]]})')
    if schema:
      lines.append(f"tfdv.display_schema(tfdv.load_schema_text('{schema}/schema.pbtxt'))")
    if anomalies:
      anomaly_splits = _split_names(inputs.artifact('anomalies')) or splits
      for split in anomaly_splits:
        lines.append(f"tfdv.display_anomalies(tfdv.load_anomalies_binary("
                     f"'{layouts.split_dir(anomalies, split)}/{layouts.ANOMALIES_FILE}'))")
    out.append(page.code('\n'.join(lines)))
  else:
    sec.missing.append('TFDV statistics, schema and anomalies: not in run_summary.json artifacts')
  evaluation = inputs.rel(inputs.artifact('evaluation'))
  _tool(out, sec, evaluation, 'TensorFlow Model Analysis',
        "in a notebook; the Evaluator's accuracy and confusion matrix per as-of day",
        'import tensorflow_model_analysis as tfma\n'
        f"result = tfma.load_eval_result('{evaluation}')\n"
        'tfma.view.render_slicing_metrics(result)',
        'TFMA results: artifacts.evaluation is not in run_summary.json')
  season = inputs.rel(inputs.artifact('season_evaluation'))
  _tool(out, sec, season, 'In-season evaluation', "this page's model numbers",
        'import json, pandas as pd\n'
        f"metrics = json.load(open('{season}/{layouts.SEASON_METRICS_FILE}'))\n"
        f"predictions = pd.read_parquet('{season}/{layouts.PREDICTIONS_FILE}')", None)
  return page.Markup('').join(out)
