"""Markdown tables for MODELS.md from run directories (what compare.html shows).

  python tools/models_table.py RUN_DIR...
"""

import sys

from croptfx.pipeline import configs
from croptfx.report import compare


def main(run_dirs):
  runs = compare.load_runs(run_dirs)
  days = configs.COMPARE_AS_OF_DAYS
  for split in ('eval', 'test'):
    print(f'\n{split} split (accuracy / macro-F1):\n')
    print('| model | parameters | train s | examples/s | '
          + ' | '.join(f'day {d}' for d in days) + f' | mean macro-F1 {days[0]}-{days[-1]} |')
    print('|---' * (len(days) + 5) + '|')
    rows = [(s.model, f'{s.model_params:,}', f'{s.train_seconds:.0f}',
             f'{s.train_examples_per_second:,.0f}', s.metrics[split]) for _, s in runs]
    base = next((s for _, s in runs if (s.baseline_metrics or {}).get(split)), None)
    if base:
      rows.append(('tree baseline', '–', f'{base.baseline_train_seconds:.0f}', '–',
                   base.baseline_metrics[split]))
    for name, params, seconds, rate, by_day in rows:
      cells = [f"{by_day[str(d)]['accuracy']:.3f} / {by_day[str(d)]['macro_f1']:.3f}"
               for d in days]
      print(f'| {name} | {params} | {seconds} | {rate} | ' + ' | '.join(cells)
            + f' | {compare.mean_macro_f1(by_day, days):.3f} |')


if __name__ == '__main__':
  main(sys.argv[1:])
