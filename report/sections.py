"""The report's sections, each built from the run's inputs (`Inputs`).

A section shows what exists and lists what it could not show in `missing`,
so a partial run still gives a useful page.
"""

import dataclasses
import os
from typing import Dict, List, Optional

import numpy as np

from croptfx import features
from croptfx.report import data_stats
from croptfx.report import figures
from croptfx.report import load
from croptfx.report import page
from croptfx.report import style
from croptfx import paths
from croptfx import run_summary

MAX_MAP_POINTS = 40000
# Section id -> heading, in page order.
TITLES = {
    'data': '1. The data',
    'season': '2. Season profiles',
    'model': '3. The model through the season',
    'maps': '4. Maps',
    'run': '5. Run details and where to look deeper',
}
# Notes of ParquetExampleGen: rows kept, but worth knowing about.
_NOTE_MEANING = {
    'unsorted_dates': 'image dates not in time order (sorted by Transform)',
    'duplicate_dates': 'the same date twice (overlapping tiles; one image picked per bin)',
    'unknown_cdl': 'CDL name not in the label mapping (mapped to the default class)',
}


@dataclasses.dataclass
class Inputs:
  """Everything a section may draw; absent inputs are None or empty."""
  run_dir: str
  summary: run_summary.RunSummary
  raw: Dict[str, load.RawSample]
  transformed: Dict[str, Dict[str, np.ndarray]]
  season: Optional[Dict[str, object]]
  anomalies: Optional[Dict[str, List[tuple]]]  # {split: [(feature, description)]}
  predictions: Optional[object]  # pandas.DataFrame
  sample_rows: int
  mapping: object  # features.LabelMapping

  def artifact(self, name: str) -> Optional[str]:
    return self.summary.artifact(name)

  def rel(self, path: Optional[str]) -> Optional[str]:
    """`path` relative to the run directory (cloud URIs unchanged)."""
    if not path:
      return None
    if paths.is_uri(path):
      return path
    return os.path.relpath(path, self.run_dir)

  def headline_day(self) -> Optional[int]:
    """The run's headline as-of day (its summary, else its season metrics)."""
    day = self.summary.headline_as_of_day
    if day is None and self.season:
      day = self.season.get('headline_day')
    return None if day is None else int(day)

  def split_years(self) -> Dict[str, List[int]]:
    years = {s: r.year for s, r in self.raw.items() if len(r)}
    for s, t in self.transformed.items():
      if t:
        years.setdefault(s, t[features.YEAR])
    return data_stats.split_years(years)

  def sample_note(self, by_split: Dict[str, int], what: str) -> Optional[page.Markup]:
    """Says which splits were sampled, when any was."""
    examples = self.summary.examples or {}
    sampled = [s for s, n in by_split.items()
               if n >= self.sample_rows and examples.get(s, n + 1) > n]
    if not sampled:
      return None
    parts = ', '.join(f'{s} {by_split[s]:,} of {examples[s]:,}' if s in examples
                      else f'{s} first {by_split[s]:,}' for s in sampled)
    return page.note(f'Sampled {what}: the first {self.sample_rows:,} examples per split, '
                     f'interleaved across files ({parts}).')


def _artifact_missing(inputs: Inputs, name: str, what: str) -> str:
  uri = inputs.artifact(name)
  if not uri:
    return f'{what}: artifacts.{name} is not in run_summary.json'
  return f'{what}: nothing readable at {inputs.rel(uri)}'


def data_section(inputs: Inputs) -> page.Section:
  s = inputs.summary
  sec = page.Section('data', TITLES['data'],
                     'How many pixel-years came in, which were set aside and why, and what '
                     'the Sentinel-2 series look like: how many images, how often, how '
                     'cloudy. Look for splits (years) that differ.')
  body: List[page.Markup] = []
  counts, quarantine = page.Markup(''), page.Markup('')
  if s.rows_read is not None or s.examples is not None:
    examples = s.examples or {}
    quarantined_total = sum((s.quarantined or {}).values())
    rows = []
    if s.rows_read is not None:
      rows.append([page.Cell('rows read'), page.Cell(page.fmt_int(s.rows_read), id='rows-read')])
    for split, n in examples.items():
      rows.append([page.Cell(f'examples: {split}'),
                   page.Cell(page.fmt_int(n), id=f'examples-{page.slug(split)}')])
    rows.append([page.Cell('examples: total', cls='total'),
                 page.Cell(page.fmt_int(sum(examples.values())), id='examples-total')])
    if s.quarantined is not None:
      rows.append([page.Cell('rows quarantined'),
                   page.Cell(page.fmt_int(quarantined_total), id='quarantined-total')])
    counts = page.table(['', 'rows'], rows, table_id='counts-table', caption='Rows and examples')
    if s.rows_read is not None and s.quarantined is not None:
      ok = s.rows_read == sum(examples.values()) + quarantined_total
      counts += page.note('rows read = examples + quarantined: '
                          + ('reconciles.' if ok else 'DOES NOT reconcile; check the run log.'))
  else:
    sec.missing.append('row counts: rows_read and examples are not in run_summary.json')
  if s.quarantined is not None:
    q = s.quarantined
    quarantine = page.table(
        ['reason', 'rows'],
        [[r.replace('_', ' '), page.Cell(page.fmt_int(n), id=f'quarantined-{page.slug(r)}')]
         for r, n in q.items()], table_id='quarantine-table', caption='Quarantined rows per reason')
    if s.quarantine_dir:
      quarantine += page.note(page.Markup('Quarantined rows with their reason: ')
                              + page.link(inputs.rel(s.quarantine_dir)))
  else:
    sec.missing.append('quarantine counts: quarantined is not in run_summary.json')
  notes = s.notes or {}
  notes_table = page.table(
      ['kept, with a note', 'rows', 'meaning'],
      [[n.replace('_', ' '), page.Cell(page.fmt_int(v), id=f'note-{page.slug(n)}'),
        page.Cell(_NOTE_MEANING.get(n, ''), cls='muted')] for n, v in notes.items()],
      table_id='notes-table', caption='Rows kept, with a note', numeric=[1]) if notes else ''
  if s.quarantined and sum(s.quarantined.values()):
    chart = page.svg_figure(figures.quarantine_bars(s.quarantined))
  elif s.quarantined is not None:
    chart = page.note('No row was quarantined.')
  else:
    chart = page.Markup('')
  # Counts and their reasons on the left; checks and the chart on the right.
  checks = page.Markup(notes_table) + _validation(inputs) + chart
  body.append(page.grid(counts + quarantine, checks))

  raw = {k: v for k, v in inputs.raw.items() if len(v)}
  years = inputs.split_years()
  if raw:
    note = inputs.sample_note({k: len(v) for k, v in raw.items()}, 'raw examples')
    if note:
      body.append(note)
    body.append(page.Markup('<h3>Acquisitions</h3>'))
    body.append(page.svg_figure(
        figures.acquisition_histograms(
            {k: data_stats.images_per_pixel(v) for k, v in raw.items()},
            {k: data_stats.revisit_intervals(v) for k, v in raw.items()}, years),
        'Left: images per pixel-year as stored (cloudy and duplicate-date images included). '
        'Right: days between consecutive distinct dates; 5 days is the revisit of one relative '
        'orbit with both Sentinel-2 satellites, 2–3 days appear where tiles of two orbits '
        'overlap, multiples of 5 are scenes missing (too cloudy, not delivered, outages).'))
    scl_codes = ', '.join(map(str, features.SCL_NOT_CLEAR))
    cloud = page.svg_figure(
        figures.cloud_share({k: data_stats.cloud_share_by_month(v)[0] for k, v in raw.items()},
                            years),
        'Share of all images (pixel × date) per calendar month whose SCL is no data, '
        f'saturated, cloud shadow, cloud, cirrus or snow (SCL {scl_codes}).')
  else:
    sec.missing.append(_artifact_missing(inputs, 'examples', 'raw examples (images per pixel, '
                                         'revisit interval, cloud share)'))
    cloud = page.Markup('')
  transformed = {k: v for k, v in inputs.transformed.items() if v}
  if transformed:
    balance = page.svg_figure(
        figures.class_balance({k: data_stats.class_counts(v) for k, v in transformed.items()}),
        'Labels from the Transform output (the run\'s label mapping), before the in-season '
        '"No Crops Growing" gating.')
    note = inputs.sample_note({k: len(v[features.LABEL]) for k, v in transformed.items()},
                              'transformed examples')
    if note:
      balance += note
  else:
    sec.missing.append(_artifact_missing(inputs, 'transformed_examples', 'class balance'))
    balance = page.Markup('')
  if cloud or balance:
    body.append(page.Markup('<h3>Clouds and classes</h3>'))
    body.append(page.grid(cloud, balance))
  sec.body = page.Markup('').join(body)
  return sec


def _validation(inputs: Inputs) -> page.Markup:
  """ExampleValidator's verdict against the schema, per split."""
  if not inputs.anomalies:
    return page.Markup('')
  rows = [[split, page.Cell(page.fmt_int(len(found)), id=f'anomalies-{page.slug(split)}'),
           page.Cell('; '.join(f'{name}: {text}' for name, text in found) or 'none',
                cls='muted' if not found else None)]
          for split, found in inputs.anomalies.items()]
  return page.table(['split', 'anomalies', 'what'], rows, table_id='anomalies-table',
                    caption='ExampleValidator: examples checked against the inferred schema',
                    numeric=[1])


def season_section(inputs: Inputs) -> page.Section:
  s = inputs.summary
  sec = page.Section('season', TITLES['season'],
                     'Mean NDVI per class through the train year: the phenology the model has '
                     'to tell apart. Curves that overlap early in the season are why in-season '
                     'accuracy starts low.')
  body: List[page.Markup] = []
  split = s.roles().train
  raw = inputs.raw.get(split)
  transformed = inputs.transformed.get(split)
  years = inputs.split_years().get(split, [])
  year_text = ', '.join(map(str, years)) or split
  if raw is not None and len(raw):
    curves = data_stats.ndvi_curves_from_raw(raw, inputs.mapping)
    source = ('Decoded from the raw examples: clear images only (SCL not in '
              f'{", ".join(map(str, features.SCL_NOT_CLEAR))}), binned in calendar 5-day bins; '
              'classes from the CDL name through the label mapping'
              + ('' if inputs.summary.label_mapping else ' (the default mapping: this '
                 'run summary names no other)')
              + '; double crops left out.')
  elif transformed and s.band_mean and s.band_std:
    curves = data_stats.ndvi_curves_from_grid(transformed, s.band_mean, s.band_std)
    source = ('De-normalized from the Transform grid (x · std + mean) of the observed bins; '
              'a bin whose images were all cloudy keeps a cloudy pick, so dips can be clouds.')
  else:
    curves = None
    sec.missing.append(_artifact_missing(inputs, 'examples', 'NDVI curves of the train split'))
  if curves is not None:
    body.append(page.svg_figure(
        figures.ndvi_curves(curves, f'Mean NDVI by class, {split} split ({year_text})'),
        source + f' Lines: mean per bin (bins with fewer than {data_stats.MIN_VALUES_PER_BIN} '
        'values are left out); bands: 25–75th percentile. "No Crops Growing" is an in-season '
        'state (gated), not a land cover, so it has no curve.'))
    if raw is not None and len(raw):
      note = inputs.sample_note({split: len(raw)}, 'raw examples')
      if note:
        body.append(note)
  if s.band_mean and s.band_std:
    body.append(page.Markup('<h3>Band normalization</h3>'))
    body.append(page.note('Transform normalizes every band with the train-split mean and '
                          'standard deviation of all observed (pixel, image) values, '
                          'reflectance × 10000; the same values are applied to every split '
                          'and at serving time.'))
    bands = features.BAND_NAMES
    rows = [
        ['centre (nm)'] + [str(style.BAND_WAVELENGTH_NM.get(b, '')) for b in bands],
        ['mean'] + [page.Cell(page.fmt_float(v, 1), id=f'band-mean-{page.slug(b)}')
                    for b, v in zip(bands, s.band_mean)],
        ['std'] + [page.Cell(page.fmt_float(v, 1), id=f'band-std-{page.slug(b)}')
                   for b, v in zip(bands, s.band_std)],
    ]
    body.append(page.table(['band'] + list(bands), rows, table_id='band-table'))
  else:
    sec.missing.append('band normalization: band_mean / band_std are not in run_summary.json')
  sec.body = page.Markup('').join(body)
  return sec


def _metric_days(by_day: Dict[str, Dict[str, float]]) -> Dict[int, Dict[str, float]]:
  return {int(d): m for d, m in by_day.items()}


def model_section(inputs: Inputs) -> page.Section:
  s = inputs.summary
  day = inputs.headline_day()
  sec = page.Section('model', TITLES['model'],
                     'Accuracy and macro-F1 if the map were made on a given date of the '
                     'season, on years the model never saw (eval, test): how early can '
                     'each crop be mapped? Then where the errors are at the headline date.')
  body: List[page.Markup] = []
  metrics = s.metrics
  if not metrics and inputs.season:
    metrics = inputs.season.get('splits')
  years = inputs.split_years()
  if metrics:
    curve = {split: _metric_days(by_day) for split, by_day in metrics.items() if by_day}
    baseline = {split: _metric_days(by_day)
                for split, by_day in (s.baseline_metrics or {}).items() if by_day}
    body.append(page.svg_figure(
        figures.season_curve(curve, day, years, baseline=baseline or None),
        'Each point is the model evaluated with only the images up to that as-of date, and the '
        'label gated as of then: early in the season, and again after harvest, many crop '
        'pixels are "No Crops Growing", so the class mix changes along the curve. Macro-F1 '
        'weighs every class alike, so rare crops count.'
        + (' Dashed: gradient-boosted trees (TreeBaseline) on the same windows, the '
           'reference.' if baseline else '')))
    f1_curves = _per_class_f1_curves(inputs, metrics)
    if f1_curves:
      body.append(page.svg_figure(
          figures.per_class_f1(f1_curves, day),
          'Per-class F1 against the as-of date: when each crop becomes separable. A class '
          'absent from both the labels and the predictions at a date has no point.'))
    else:
      sec.missing.append('per-class F1 against the as-of date: no per-class scores in '
                         'run_summary.json or the season evaluation')
    # One row per as-of day, the splits side by side: easy to read across.
    splits = list(curve)
    headers = ['as-of day']
    for split in splits:
      headers += [f'{split} examples', f'{split} accuracy', f'{split} macro-F1']
    rows = []
    for d in sorted({d for by_day in curve.values() for d in by_day}):
      row = [page.Cell(f'{d} ({figures.day_label(d)})')]
      for split in splits:
        m = curve[split].get(d)
        prefix = f'metric-{page.slug(split)}-{d}'
        if m is None:
          row += ['–'] * 3
          continue
        row += [page.Cell(page.fmt_int(m.get('examples', 0)), id=f'{prefix}-examples'),
                page.Cell(page.fmt_float(m['accuracy']), id=f'{prefix}-accuracy'),
                page.Cell(page.fmt_float(m['macro_f1']), id=f'{prefix}-macro-f1')]
      rows.append(row)
    body.append(page.table(headers, rows, table_id='metrics-table'))
  else:
    sec.missing.append('in-season metrics: metrics is not in run_summary.json and no '
                       'season evaluation was found')
  by_split = (inputs.season or {}).get('splits') or {}
  at_day = {split: by_day[str(day)] for split, by_day in by_split.items() if str(day) in by_day}
  if at_day:
    body.append(page.Markup('<h3>Confusion at the headline date</h3>'))
    body.append(page.svg_figure(
        figures.confusion_matrices(
            {split: np.asarray(m['confusion_matrix']) for split, m in at_day.items()}, day),
        'Rows: true class, columns: predicted class; colour is the share of the row (recall), '
        'numbers are pixel counts.'))
    body.append(_per_class_table(at_day, day))
  else:
    sec.missing.append(_artifact_missing(inputs, 'season_evaluation',
                                         f'confusion matrix and per-class scores at day {day}'))
  sec.body = page.Markup('').join(body)
  return sec


def _per_class_f1_curves(inputs: Inputs, metrics) -> Dict[str, Dict[int, Dict[str, float]]]:
  """{split: {day: {class: F1}}} from the summary, or the season metrics."""
  curves = {}
  for split, by_day in metrics.items():
    days = {int(d): m['per_class_f1'] for d, m in by_day.items() if 'per_class_f1' in m}
    if days:
      curves[split] = days
  if not curves and inputs.season:
    for split, by_day in (inputs.season.get('splits') or {}).items():
      curves[split] = {int(d): run_summary.summary_metrics({split: {d: m}})[split][d]
                       ['per_class_f1'] for d, m in by_day.items()}
  return curves


def _per_class_table(at_day, day) -> page.Markup:
  splits = list(at_day)
  headers = ['class']
  for split in splits:
    headers += [f'{split} precision', f'{split} recall', f'{split} F1', f'{split} support']
  rows = []
  for name in features.CLASS_NAMES:
    row = [page.Cell(page.swatch(style.CLASS_COLORS[name], name))]
    for split in splits:
      m = at_day[split]['per_class'].get(name)
      prefix = f'pc-{page.slug(split)}-{page.slug(name)}'
      column = np.asarray(at_day[split]['confusion_matrix'])[:, features.CLASS_NAMES.index(name)]
      if m is None or (not m['support'] and not column.sum()):  # absent: no score
        row += [page.Cell('–')] * 4
        continue
      row += [page.Cell(page.fmt_float(m['precision']), id=f'{prefix}-precision'),
              page.Cell(page.fmt_float(m['recall']), id=f'{prefix}-recall'),
              page.Cell(page.fmt_float(m['f1']), id=f'{prefix}-f1'),
              page.Cell(page.fmt_int(m['support']), id=f'{prefix}-support')]
    rows.append(row)
  return page.table(headers, rows, table_id='per-class-table',
                    caption=f'Per-class scores at day {day} ({figures.day_label(day)}); '
                            'support = true pixels of the class; – = class neither present '
                            'nor predicted')


def maps_section(inputs: Inputs) -> page.Section:
  day = inputs.headline_day()
  when = f' (day {day}, {figures.day_label(day)})' if day is not None else ''
  sec = page.Section('maps', TITLES['maps'],
                     f'Every evaluated pixel at its location, at the headline date{when}: '
                     'the reference label, the model\'s class, and where the two disagree. '
                     'Errors along field edges are expected; errors covering whole fields '
                     'are not.')
  df = inputs.predictions
  if df is None or not len(df) or day is None:
    sec.missing.append(_artifact_missing(inputs, 'season_evaluation',
                                         'per-pixel predictions (predictions.parquet)'))
    return sec
  splits = list(df['split'].unique())
  split = inputs.summary.headline_split(splits) or splits[0]
  part = df[df['split'] == split]
  total = len(part)
  if total > MAX_MAP_POINTS:
    part = part.sample(MAX_MAP_POINTS, random_state=0)
  years = inputs.split_years().get(split, [])
  title = f'{split} split' + (f' ({", ".join(map(str, years))})' if years else '')
  png = figures.prediction_maps(part['lon'].to_numpy(), part['lat'].to_numpy(),
                                part['true'].to_numpy(np.int64),
                                part['predicted'].to_numpy(np.int64), title)
  caption = f'{len(part):,} pixels' + (f' (a random {len(part):,} of {total:,})'
                                       if total > len(part) else '')
  sec.body = page.png_figure(png, f'Maps of true and predicted classes, {title}',
                             caption + '; square markers, longitude scaled by cos(latitude).')
  return sec
