"""Measurements -> the figures, the ratios against their targets, the notes.

Targets (issue 9): B >= 5 x A and B >= 50% of C; D: the pipeline within
3 x the NumPy pass; E: peak RSS at 10x <= 1.5 x that at 1x. Issue 20: T,
the Trainer's training, >= 0.8 of T0, the same training step on batches in
memory.
"""

import dataclasses
import math
from typing import Any, Dict, List, Tuple

from croptfx.bench import benchmarks_file
from croptfx.bench import table
from croptfx.jobs import runners
from croptfx.pipeline import configs

_MIB = 2**20
_CASE_ORDER = {'A': 0, 'B': 1, 'C': 2, 'D': 3, 'E': 4, 'T': 5}


@dataclasses.dataclass
class Measurements:
  """Everything one `croptfx bench` session measured."""
  settings: Any  # bench.main.Settings
  rows: Dict[int, int]  # scale -> Parquet rows
  parquet_mib: Dict[int, float]
  beam: Dict[Tuple[int, bool], Any]  # (scale, statistics) -> BeamRun
  numpy_seconds: Dict[int, float]
  comparison: Any  # numpy_pass.Comparison at 1x
  loaders: Any  # measure.LoaderRates
  seconds: float = 0.0
  trainer: Any = None  # trainer_speed.TrainerRates (case T), when measured


def _loader_results(m: Measurements):
  rates = m.loaders.rates
  a, b, c = (table.median(rates[k]) for k in 'ABC')
  # B0/C0 read a copy in the other compression (GZIP unless the pipeline
  # wrote GZIP).
  copy_gzip = m.loaders.copy_compression == 'GZIP'
  copy = 'the GZIP copy' if copy_gzip else 'the uncompressed copy'

  def per_round(x, y):
    return table.median([table.safe_ratio(p, q)
                         for p, q in zip(rates[x], rates[y])])

  figures = [
      table.Figure('A', 'seed loader (pandas + tf.data parse)', a, '/s',
                   'examples/s, median of rounds'),
      table.Figure('B', 'Trainer input_fn (training mode)', b, '/s',
                   'examples/s, double crops dropped'),
      table.Figure('C', 'raw read of the transformed TFRecords', c, '/s',
                   f'records/s, {"uncompressed" if copy_gzip else "GZIP"}, '
                   'no parsing'),
  ]
  ratios = [
      table.Ratio('B / A', per_round('B', 'A'), '>=', 5.0,
                  'input_fn vs seed loader, median of rounds'),
      table.Ratio('B / C', per_round('B', 'C'), '>=', 0.5,
                  'input_fn vs raw read, median of rounds'),
  ]
  if 'B0' in rates and 'C0' in rates:
    other = ('COMPRESS_EXAMPLES = True' if copy_gzip else
             'COMPRESS_EXAMPLES = False')
    figures += [
        table.Figure('B', f'input_fn over {copy}',
                     table.median(rates['B0']), '/s',
                     f'same records; the pipeline\'s format with {other}'),
        table.Figure('C', f'raw read of {copy}',
                     table.median(rates['C0']), '/s',
                     f'records/s; the pipeline\'s format with {other}'),
    ]
    ratios.append(table.Ratio(
        f'B over {copy} / A', per_round('B0', 'A'),
        note=f'what B / A would be with {other} (reported only)'))
  return figures, ratios


def _trainer_results(m: Measurements):
  """T and T0 (when measured): figures and the T / T0 ratio."""
  t = m.trainer
  if t is None:
    return [], []
  rates = t.rates
  setting = (f'batch {t.batch_size}, {t.steps_per_execution} steps per '
             f'execution, median of {t.steps}-step epochs')
  figures = [
      table.Figure('T', 'Trainer: input_fn + fit', table.median(rates['T']), '/s',
                   f'examples/s read; {setting}'),
      table.Figure('T', 'the same fit on batches in memory',
                   table.median(rates['T0']), '/s',
                   'examples/s; the training step\'s limit on this CPU'),
  ]
  ratio = table.median([table.safe_ratio(p, q)
                        for p, q in zip(rates['T'], rates['T0'])])
  return figures, [table.Ratio('T / T0', ratio, '>=', 0.8,
                               'Trainer vs its in-memory limit, median of rounds')]


def _cpu_note(m: Measurements) -> List[str]:
  cpu = getattr(m.loaders, 'cpu_per_example', None) or {}
  parts = [f'{name} {table.median(values) * 1e6:.0f} us'
           for name, values in cpu.items() if values]
  if not parts:
    return []
  return ['CPU time per example (this process, every thread, median of '
          'rounds; B0/C0: over the copy in the other compression): ' +
          ', '.join(parts) + '.']


def _beam_results(m: Measurements, statistics: bool):
  """D and E of one Transform statistics setting."""
  big = m.settings.scale
  short = 'stats on' if statistics else 'stats off'
  label = f'Transform statistics {short[6:]}'
  if statistics == configs.TRANSFORM_STATISTICS:
    label = f'as `croptfx run` ({label})'
  runs = {scale: m.beam[(scale, statistics)] for scale in (1, big)}
  figures, ratios = [], []
  for scale, run in runs.items():
    r = run.result
    figures.append(table.Figure(
        'D', f'ExampleGen + Transform {scale}x, {short}', run.seconds, 's',
        f'ExampleGen {r["example_gen_seconds"]:.1f} s + Transform '
        f'{r["transform_seconds"]:.1f} s, each with executor set-up'))
    ratios.append(table.Ratio(
        f'D {scale}x: pipeline / NumPy, {short}',
        table.safe_ratio(run.seconds, m.numpy_seconds[scale]), '<=', 3.0,
        label))
  rows = [m.rows[1], m.rows[big]]
  fixed, per_row = table.linear_fit(rows, [runs[1].seconds,
                                           runs[big].seconds])
  np_fixed, np_per_row = table.linear_fit(
      rows, [m.numpy_seconds[1], m.numpy_seconds[big]])
  name = f'D per row (marginal): pipeline / NumPy, {short}'
  if per_row > 0 and np_per_row > 0:
    ratios.append(table.Ratio(name, per_row / np_per_row, note=(
        f'pipeline {fixed:.1f} s + {per_row * 1e4:.2f} s per 10k rows; '
        f'NumPy {np_fixed:.2f} s + {np_per_row * 1e4:.2f} s per 10k rows')))
  else:  # The noise was larger than the difference the data size made.
    ratios.append(table.Ratio(name, math.nan,
                              note='n/a: 10x not slower than 1x (noise)'))
  for scale, run in runs.items():
    figures.append(table.Figure(
        'E', f'peak RSS {scale}x, {short}',
        run.tracked.peak_tree_rss / _MIB, 'MiB',
        f'process tree, polled; ru_maxrss '
        f'{run.result["max_rss_self"] / _MIB:,.0f} MiB; after imports '
        f'{run.result["baseline_rss"] / _MIB:,.0f} MiB'))
  peak = {k: v.tracked.peak_tree_rss for k, v in runs.items()}
  base = {k: v.result['baseline_rss'] for k, v in runs.items()}
  ratios.append(table.Ratio(f'E: peak RSS {big}x / 1x, {short}',
                            table.safe_ratio(peak[big], peak[1]), '<=', 1.5,
                            label))
  ratios.append(table.Ratio(
      f'E: growth over the imports {big}x / 1x, {short}',
      table.safe_ratio(peak[big] - base[big], peak[1] - base[1]),
      note='peak minus RSS after imports'))
  return figures, ratios


def _notes(m: Measurements) -> List[str]:
  big = m.settings.scale
  notes = []
  if len(m.settings.statistics_variants) > 1:
    on, off = m.beam[(big, True)], m.beam[(big, False)]
    extra_mib = (on.tracked.peak_tree_rss - off.tracked.peak_tree_rss) / _MIB
    notes.append(f'Transform statistics at {big}x: '
                 f'{on.seconds - off.seconds:+.1f} s, {extra_mib:+,.0f} MiB '
                 'peak RSS.')
  else:
    on = configs.TRANSFORM_STATISTICS
    notes.append('Quick run: the Beam part ran only as `croptfx run` runs it '
                 f'(Transform statistics {"on" if on else "off"}); a full run '
                 f'also measures it {"without" if on else "with"} them.')
  setup = table.median([b.result['executor_init_seconds']
                        for b in m.beam.values()])
  args = runners.direct_args(1)
  notes.append(
      f'Executor set-up inside the D times: {setup:.2f} s per ExampleGen + '
      'Transform run (median). TFX packs itself as an sdist for Beam '
      'whenever it is given Beam arguments; `croptfx run` on one worker gives '
      + (f'`{" ".join(args)}`.' if args else 'none.'))
  notes += _cpu_note(m)
  c = m.comparison
  verdict = 'equal' if c.equal else 'NOT EQUAL'
  notes.append(
      f'NumPy grids vs the Transform output (1x, every split): '
      f'{c.rows_identical:,} of {c.rows_transform:,} rows bit-identical '
      f'(NumPy pass: {c.rows_numpy:,} rows): {verdict}.')
  if c.rows_read:
    dropped = sum(c.dropped.values())
    reasons = ', '.join(f'{reason} {n:,}' for reason, n in c.dropped.items()
                        if n) or 'none'
    notes.append(
        f'NumPy pass rows (1x): {c.rows_read:,} read = {c.rows_numpy:,} kept '
        f'+ {dropped:,} dropped by the ExampleGen\'s rules ({reasons}); '
        + ('the ExampleGen quarantined the same.'
           if c.example_gen_dropped == c.dropped else
           f'the ExampleGen\'s counts DIFFER: {c.example_gen_dropped}.'))
  return notes


def summarize(m: Measurements):
  """(figures, ratios, notes)."""
  figures, ratios = _loader_results(m)
  f, r = _trainer_results(m)
  figures += f
  ratios += r
  for statistics in m.settings.statistics_variants:
    f, r = _beam_results(m, statistics)
    figures += f
    ratios += r
  for scale in (1, m.settings.scale):
    figures.append(table.Figure(
        'D', f'NumPy pass {scale}x', m.numpy_seconds[scale], 's',
        f'{m.rows[scale]:,} rows, {m.parquet_mib[scale]:.0f} MiB Parquet; '
        'median, timed before and after the Beam runs'))
  figures.sort(key=lambda f: _CASE_ORDER[f.case])
  return figures, ratios, _notes(m)


def render(m: Measurements, command: str, machine: Dict[str, str]) -> str:
  """The generated section of BENCHMARKS.md (also printed)."""
  figures, ratios, notes = summarize(m)
  s = m.settings
  judged = [r for r in ratios if r.met is not None]
  lines = [
      '## Latest results',
      '',
      f'Command: `{command}` (took {m.seconds / 60:.1f} min)',
      '',
      benchmarks_file.machine_lines(machine),
      '',
      f'Data: generated Part-1 rows (`croptfx generate`), '
      f'{s.pixels_per_year:,} pixels per year x {len(configs.YEAR_SPLITS)} '
      f'years = {m.rows[1]:,} rows ({m.parquet_mib[1]:.0f} MiB Parquet) at '
      f'1x, {m.rows[s.scale]:,} rows ({m.parquet_mib[s.scale]:.0f} MiB) at '
      f'{s.scale}x. A, B and C read the 1x train year '
      f'({m.loaders.train_rows:,} rows), batch size {s.batch_size}, '
      f'{s.rounds} rounds of {s.loader_seconds:g} s per case.',
      '',
      '### Measurements',
      '',
      table.figures_table(figures),
      '',
      f'### Ratios and targets ({sum(r.met for r in judged)} of '
      f'{len(judged)} met)',
      '',
      table.ratios_table(ratios),
      '',
  ]
  lines += [f'- {n}' for n in notes]
  return '\n'.join(lines) + '\n'
