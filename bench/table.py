"""Figures, ratios against their targets, and Markdown tables of both.

The same tables go to the terminal and to BENCHMARKS.md.
"""

import dataclasses
import math
from typing import List, Optional, Sequence

_OPS = {'>=': lambda value, target: value >= target,
        '<=': lambda value, target: value <= target}


@dataclasses.dataclass(frozen=True)
class Figure:
  """One absolute measurement."""
  case: str
  name: str
  value: float
  unit: str  # '/s', 's', 'MiB', 'rows', 'x', ''
  note: str = ''


@dataclasses.dataclass(frozen=True)
class Ratio:
  """A ratio of two measurements and, optionally, its target."""
  name: str
  value: float
  op: Optional[str] = None  # '>=' or '<='; None: reported, no target
  target: Optional[float] = None
  note: str = ''

  @property
  def met(self) -> Optional[bool]:
    """True/False against the target; None without a target or a value."""
    if self.op is None or self.value is None or math.isnan(self.value):
      return None
    return _OPS[self.op](self.value, self.target)


def format_value(value: Optional[float], unit: str) -> str:
  """A number with its unit, rounded for reading."""
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return 'n/a'
  if unit == '/s':
    return f'{value:,.0f}/s'
  if unit == 's':
    return f'{value:.2f} s' if value < 10 else f'{value:.1f} s'
  if unit == 'MiB':
    return f'{value:,.0f} MiB'
  if unit == 'x':
    return format_ratio(value)
  if unit == 'rows':
    return f'{value:,.0f}'
  if unit == 'ms':
    return f'{value:.1f} ms'
  return f'{value:g}{(" " + unit) if unit else ""}'


def format_ratio(value: Optional[float]) -> str:
  if value is None or math.isnan(value):
    return 'n/a'
  if value >= 100:
    return f'{value:.0f}x'
  if value >= 10:
    return f'{value:.1f}x'
  return f'{value:.2f}x'


def format_target(ratio: Ratio) -> str:
  if ratio.op is None:
    return ''
  return f'{ratio.op} {format_ratio(ratio.target)}'


def format_met(met: Optional[bool]) -> str:
  return {True: 'yes', False: 'NO', None: ''}[met]


def markdown_table(headers: Sequence[str],
                   rows: Sequence[Sequence[str]],
                   align: Optional[str] = None) -> str:
  """A Markdown table padded to aligned columns.

  Args:
    headers: column titles.
    rows: cells as strings.
    align: one letter per column, 'l' or 'r' (default: all left).
  """
  align = align or 'l' * len(headers)
  widths = [max([len(h)] + [len(r[i]) for r in rows])
            for i, h in enumerate(headers)]

  def line(cells):
    padded = [c.rjust(w) if a == 'r' else c.ljust(w)
              for c, w, a in zip(cells, widths, align)]
    return '| ' + ' | '.join(padded) + ' |'

  rule = ['-' * (w - 1) + ':' if a == 'r' else '-' * w
          for w, a in zip(widths, align)]
  return '\n'.join([line(headers), '| ' + ' | '.join(rule) + ' |'] +
                   [line(r) for r in rows])


def figures_table(figures: Sequence[Figure]) -> str:
  return markdown_table(
      ['case', 'measurement', 'value', 'note'],
      [[f.case, f.name, format_value(f.value, f.unit), f.note]
       for f in figures], align='llrl')


def ratios_table(ratios: Sequence[Ratio]) -> str:
  return markdown_table(
      ['ratio', 'value', 'target', 'met', 'note'],
      [[r.name, format_ratio(r.value), format_target(r), format_met(r.met),
        r.note] for r in ratios], align='lrrll')


def median(values: Sequence[float]) -> float:
  values = sorted(v for v in values if v is not None and not math.isnan(v))
  if not values:
    return math.nan
  mid = len(values) // 2
  return values[mid] if len(values) % 2 else (values[mid - 1] +
                                              values[mid]) / 2


def safe_ratio(numerator: float, denominator: float) -> float:
  if not denominator or math.isnan(numerator) or math.isnan(denominator):
    return math.nan
  return numerator / denominator


def linear_fit(xs: List[float], ys: List[float]):
  """(fixed, per unit) of y = fixed + per_unit * x through two points."""
  (x0, x1), (y0, y1) = xs, ys
  slope = safe_ratio(y1 - y0, x1 - x0)
  return y0 - slope * x0, slope
