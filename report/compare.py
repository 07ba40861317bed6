"""`croptfx compare RUN_DIR... --output compare.html`: runs side by side.

Reads only each run's `run_summary.json` (model name, parameters, training
time, the dense in-season metrics with per-class F1, the tree baseline's
metrics) and writes one self-contained page like the report: inline SVG
figures, no scripts. Every number in the tables has an id so tests (and
readers with a parser) can take them back out.
"""

import datetime
import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

from croptfx import errors
from croptfx import features
from croptfx import layouts
from croptfx import paths
from croptfx.report import figures
from croptfx.report import page
from croptfx import run_summary

BASELINE = 'tree baseline'


def _days(by_day) -> Dict[int, dict]:
  return {int(d): m for d, m in (by_day or {}).items()}


def run_labels(run_dirs: Sequence[str], summaries: Sequence[run_summary.RunSummary]) -> List[str]:
  """'MODEL (DIR)' per run; the directory's base name, or the path if names clash."""
  names = [os.path.basename(os.path.normpath(d)) for d in run_dirs]
  if len(set(names)) < len(names):
    names = [os.path.normpath(d) for d in run_dirs]
  return [f'{s.model or "model"} ({n})' for s, n in zip(summaries, names)]


def load_runs(run_dirs: Sequence[str], allow_different_data: bool = False
              ) -> List[Tuple[str, run_summary.RunSummary]]:
  """(label, summary) per run.

  Refused: a directory without a summary or metrics, the same run twice, and
  (unless `allow_different_data`) runs whose data differ (their
  `data_fingerprint`), or whose summaries cannot tell (older runs).
  """
  real = [os.path.realpath(d) for d in run_dirs]
  twice = next((d for i, d in enumerate(run_dirs) if real[i] in real[:i]), None)
  if twice is not None:
    raise errors.CroptfxError(f'{twice} is given twice; compare different runs')
  summaries = []
  for run_dir in run_dirs:
    summary = run_summary.read_summary(run_dir)
    if summary is None:
      raise errors.CroptfxError(
          f'{run_dir}: no {layouts.SUMMARY_FILE} (not a finished `croptfx run --output`)')
    if not summary.metrics:
      raise errors.CroptfxError(f'{run_dir}: {layouts.SUMMARY_FILE} has no in-season metrics')
    summaries.append(summary)
  if not allow_different_data:
    data = {(s.data_fingerprint, json.dumps(s.year_splits, sort_keys=True)): d
            for d, s in zip(run_dirs, summaries)}
    if len(data) > 1 or any(s.data_fingerprint is None for s in summaries):
      which = '; '.join(f'{d}: {s.data or "data not recorded"} '
                        f'({s.data_fingerprint or "no fingerprint"})'
                        for d, s in zip(run_dirs, summaries))
      raise errors.CroptfxError(
          f'the runs did not read the same data and splits, so their scores are not '
          f'comparable ({which}); add --allow-different-data to compare them anyway')
  return list(zip(run_labels(run_dirs, summaries), summaries))


def mean_macro_f1(by_day, days: Sequence[int]) -> Optional[float]:
  """Macro-F1 averaged over `days` (the default-model rule), None if a day is missing."""
  by_day = _days(by_day)
  if not all(d in by_day for d in days):
    return None
  return sum(by_day[d]['macro_f1'] for d in days) / len(days)


def _fmt(value, digits=3) -> str:
  return '–' if value is None else page.fmt_float(value, digits)



def _score_cells(split: str, key: str, by_day, days) -> list:
  """Accuracy and macro-F1 at each day, then the mean macro-F1, as cells."""
  cells = []
  for d in days:
    m = by_day.get(d)
    cells += [page.Cell(_fmt(m and m['accuracy']), id=f'{split}-{key}-{d}-accuracy'),
              page.Cell(_fmt(m and m['macro_f1']), id=f'{split}-{key}-{d}-macro-f1')]
  return cells + [page.Cell(_fmt(mean_macro_f1(by_day, days)), id=f'{split}-{key}-mean-macro-f1')]

def _table(runs, split: str, days: Sequence[int]) -> page.Markup:
  headers = ['run', 'parameters', 'train time (s)', 'examples/s']
  for d in days:
    headers += [f'day {d} accuracy', f'day {d} macro-F1']
  headers.append(f'mean macro-F1 {days[0]}-{days[-1]}')
  rows = []
  for label, s in runs:
    key = page.slug(label)
    by_day = _days((s.metrics or {}).get(split))
    row = [page.Cell(label, id=f'{split}-{key}-label'),
           page.Cell(page.fmt_int(s.model_params) if s.model_params is not None else '–',
                     id=f'{split}-{key}-params'),
           page.Cell(_fmt(s.train_seconds, 1), id=f'{split}-{key}-train-seconds'),
           page.Cell(_fmt(s.train_examples_per_second, 0), id=f'{split}-{key}-examples-per-s')]
    rows.append(row + _score_cells(split, key, by_day, days))
  # Each run's own baseline: trained on that run's data (the same when the
  # data are; `--allow-different-data` may compare runs whose are not).
  for label, s in runs:
    if not (s.baseline_metrics or {}).get(split):
      continue
    key = page.slug(f'{label} {BASELINE}')
    row = [page.Cell(f'{label} {BASELINE}', id=f'{split}-{key}-label'), page.Cell('–'),
           page.Cell(_fmt(s.baseline_train_seconds, 1), id=f'{split}-{key}-train-seconds'),
           page.Cell('–')]
    rows.append(row + _score_cells(split, key, _days(s.baseline_metrics[split]), days))
  return page.table(headers, rows, table_id=f'compare-table-{split}',
                    caption=f'{split} split: scores at the as-of days; training time is the '
                            "Trainer's fit (with per-epoch validation), the baseline's "
                            'its fit')


def _section(runs, split: str, days: Sequence[int]) -> page.Section:
  sec = page.Section(f'split-{page.slug(split)}', f'{split} split',
                     'Accuracy and macro-F1 against the as-of date, each run a line, the '
                     'tree baseline dashed; then per-class F1 of each run; then the table.')
  curves = {label: _days(s.metrics[split]) for label, s in runs if (s.metrics or {}).get(split)}
  baselines = {f'{label} {BASELINE}': _days(s.baseline_metrics[split]) for label, s in runs
               if (s.baseline_metrics or {}).get(split)}
  body: List[page.Markup] = []
  if curves:
    body.append(page.svg_figure(figures.compare_curves(curves, baselines)))
    f1 = {label: {d: m.get('per_class_f1', {}) for d, m in by_day.items()}
          for label, by_day in curves.items()}
    if any(v for by_day in f1.values() for v in by_day.values()):
      body.append(page.svg_figure(
          figures.per_class_f1(f1, titles={label: label for label in f1}),
          'Per-class F1 against the as-of date, one panel per run: when each crop '
          'becomes separable.'))
    else:
      sec.missing.append('per-class F1: the summaries have no per_class_f1 (older runs)')
  body.append(_table(runs, split, days))
  sec.body = page.Markup('').join(body)
  return sec


def render_compare(run_dirs: Sequence[str], days: Sequence[int],
                   allow_different_data: bool = False) -> str:
  """The page; `days` are the as-of days tabulated (pipeline/configs.py
  COMPARE_AS_OF_DAYS for `croptfx compare`)."""
  runs = load_runs(run_dirs, allow_different_data)
  splits = [s for s in features.SPLIT_ORDER
            if any(s in (summary.metrics or {}) for _, summary in runs)]
  splits += sorted({s for _, summary in runs for s in summary.metrics or {}} - set(splits))
  sections = [_section(runs, split, days) for split in splits]
  generated = datetime.datetime.now().strftime('%Y-%m-%d %H:%M')
  return page.render('croptfx model comparison',
                     f'{len(runs)} runs · report generated {generated}', page.Markup(''),
                     sections, 'Made by croptfx compare from the runs\' run_summary.json.')


def write_compare(run_dirs: Sequence[str], output: str, days: Sequence[int],
                  allow_different_data: bool = False) -> str:
  """Writes the comparison page to `output`; returns its path."""
  html = render_compare(run_dirs, days, allow_different_data)
  paths.write_atomic(output, html)
  return output
