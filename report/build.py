"""`write_report(run_dir)`: the run's single-file HTML report.

Reads `run_dir/run_summary.json` and what it points at, draws the figures
with matplotlib (Agg) and writes `run_dir/report.html`: inline CSS, inline
SVG/PNG figures, no scripts and no external resources, so it opens offline
and can be mailed or attached as it is.
"""

import datetime
import logging
import os
import time
from typing import Callable, Dict, List, Optional

from croptfx import errors
from croptfx import features
from croptfx import layouts
from croptfx import outputs
from croptfx import paths
from croptfx import records
from croptfx.report import load
from croptfx.report import page
from croptfx.report import run_section
from croptfx.report import sections
from croptfx import run_summary


# Section id (sections.TITLES) -> builder, in page order.
_SECTIONS: Dict[str, Callable[[sections.Inputs], page.Section]] = {
    'data': sections.data_section,
    'season': sections.season_section,
    'model': sections.model_section,
    'maps': sections.maps_section,
    'run': run_section.run_section,
}


def load_inputs(run_dir: str, summary: run_summary.RunSummary, sample_rows: int,
                problems: Optional[List[str]] = None) -> sections.Inputs:
  """Reads the samples and evaluation files the summary points at.

  An unreadable input is logged and described in `problems` (when given),
  and left out: it must not hide the rest of the report.
  """
  uris = summary.artifacts or {}
  problems = [] if problems is None else problems

  def attempt(what, read, *args):
    try:
      return read(*args)
    except Exception as e:  # pylint: disable=broad-except
      logging.exception('report: cannot read %s', what)
      problems.append(f'{what} could not be read ({type(e).__name__}: {e})')
      return None

  def read_splits(name, reader):
    result = {}
    for split, path in (attempt(f'artifacts.{name}', records.split_dirs,
                                uris.get(name)) or {}).items():
      value = attempt(f'the {split} split of artifacts.{name}', reader, path, sample_rows)
      if value is not None:
        result[split] = value
    return result

  season_uri = uris.get('season_evaluation')
  return sections.Inputs(
      run_dir=run_dir, summary=summary,
      raw=read_splits('examples', load.read_raw),
      transformed=read_splits('transformed_examples', load.read_transformed),
      season=attempt('the season evaluation metrics', outputs.read_season_metrics, season_uri),
      anomalies=attempt('the ExampleValidator anomalies', load.read_anomalies,
                        uris.get('anomalies')),
      predictions=attempt('the season evaluation predictions', load.read_predictions,
                          season_uri),
      sample_rows=sample_rows,
      mapping=features.load_label_mapping(summary.label_mapping))


def _section(section_id: str, inputs: sections.Inputs) -> page.Section:
  try:
    return _SECTIONS[section_id](inputs)
  except Exception as e:  # pylint: disable=broad-except
    # Show the failure where the section would be, and keep the other ones.
    logging.exception('report: section %s failed', section_id)
    return page.Section(section_id, sections.TITLES[section_id], '', missing=[
        f'this section could not be drawn ({type(e).__name__}: {e})'])


def _cards(inputs: sections.Inputs) -> page.Markup:
  s = inputs.summary
  cards = []

  def card(label, value, card_id, cls=''):
    cards.append(page.card(value, label, card_id, cls))

  if s.rows_read is not None:
    card('rows read', page.fmt_int(s.rows_read), 'card-rows-read')
  if s.examples:
    card('examples', page.fmt_int(sum(s.examples.values())), 'card-examples')
  if s.quarantined is not None:
    card('quarantined', page.fmt_int(sum(s.quarantined.values())), 'card-quarantined')
  metrics = s.metrics or {}
  day = inputs.headline_day()
  split = s.headline_split(metrics)
  head = (metrics.get(split) or {}).get(str(day)) if split else None
  if head:
    card(f'{split} accuracy, day {day}', page.fmt_float(head['accuracy']), 'card-accuracy')
    card(f'{split} macro-F1, day {day}', page.fmt_float(head['macro_f1']), 'card-macro-f1')
  if s.blessed is not None:
    card('blessed', 'yes' if s.blessed else 'no', 'card-blessed',
         'good' if s.blessed else 'bad')
  return page.cards(cards)


def render_report(run_dir: str, sample_rows: int = load.DEFAULT_SAMPLE_ROWS) -> str:
  """The report's HTML text for the run in `run_dir`."""
  if not os.path.isdir(run_dir):
    raise errors.CroptfxError(f'{run_dir}: no such run directory')
  summary = run_summary.read_summary(run_dir)
  layout = layouts.RunLayout(run_dir)
  if summary is None and not any(os.path.exists(p) for p in (
      layout.metadata_path, layout.log_path, layout.pipeline_root)):
    # Not a run that failed (it would have its log): never drop a report
    # into a data directory given by mistake.
    raise errors.CroptfxError(
        f'{run_dir}: not a `croptfx run --output` directory (no {layouts.SUMMARY_FILE}, '
        'metadata.db or logs/run.log)')
  run_name = os.path.basename(os.path.normpath(os.path.abspath(run_dir)))
  title = f'croptfx run report: {run_name}'
  generated = datetime.datetime.now().strftime('%Y-%m-%d %H:%M')
  if summary is None:
    section = page.Section('run', 'Run', 'Nothing to show yet.', missing=[
        f'{layouts.SUMMARY_FILE} is not in the run directory: the run did not finish '
        '(see logs/run.log)'])
    return page.render(title, f'report generated {generated}', page.Markup(''), [section], '')
  problems: List[str] = []
  inputs = load_inputs(run_dir, summary, sample_rows, problems)
  built = [_section(section_id, inputs) for section_id in _SECTIONS]
  parts = [f'run directory {run_name}']
  if summary.runner is not None:
    parts.append(f'{summary.runner} runner')
  if summary.wall_seconds is not None:
    parts.append(f'{summary.wall_seconds:.0f} s wall time')
  parts.append(f'report generated {generated}')
  footer = ('Made by croptfx report from run_summary.json and the pipeline artifacts it names. '
            'Class colours follow the Cropland Data Layer legend and are the same in every '
            'figure.')
  return page.render(title, ' · '.join(parts), _cards(inputs), built, footer, problems)


def write_report(run_dir: str, sample_rows: int = load.DEFAULT_SAMPLE_ROWS) -> str:
  """Writes `run_dir/report.html` and returns its path."""
  start = time.monotonic()
  html = render_report(run_dir, sample_rows)
  path = layouts.RunLayout(run_dir).report_path
  paths.write_atomic(path, html)  # never a half-written report
  logging.info('report: wrote %s in %.1fs', path, time.monotonic() - start)
  return path
