"""The report's matplotlib figures; each returns inline markup (SVG or PNG).

Functions take plain NumPy/dict inputs (see `data_stats`) so they are easy
to test and reuse; colours come from `style` only.
"""

import datetime
from typing import Mapping, Optional, Sequence

import numpy as np
from matplotlib import colors as mcolors
from matplotlib import lines as mlines
from matplotlib import ticker

from croptfx import features
from croptfx.report import data_stats
from croptfx.report import style

# Day of year (1-based) of the first of each month in a common year.
_MONTH_START = np.cumsum([1, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _month_axis(ax):
  """Month boundaries as ticks, month names centred between them."""
  ax.set_xlim(1, 366)
  ax.xaxis.set_major_locator(ticker.FixedLocator(_MONTH_START))
  ax.xaxis.set_major_formatter(ticker.NullFormatter())
  ax.xaxis.set_minor_locator(ticker.FixedLocator((_MONTH_START[:-1] + _MONTH_START[1:]) / 2))
  ax.xaxis.set_minor_formatter(ticker.FixedFormatter(data_stats.MONTHS))
  ax.tick_params(axis='x', which='minor', length=0)
  ax.grid(axis='x', which='major')


def day_label(day: int) -> str:
  """'30 Apr' for day 120: the date in a common year (a leap year: a day earlier)."""
  date = datetime.date(2001, 1, 1) + datetime.timedelta(days=int(day) - 1)
  return f'{date.day} {date:%b}'


@style.styled
def quarantine_bars(quarantined: Mapping[str, int]) -> str:
  reasons = list(quarantined)
  counts = np.array([quarantined[r] for r in reasons], float)
  fig, ax = style.new_figure(style.HALF_WIDTH, 0.28 * len(reasons) + 0.9)
  y = np.arange(len(reasons))[::-1]
  ax.barh(y, counts, color='#b2182b', height=0.65)
  ax.set_yticks(y, [r.replace('_', ' ') for r in reasons])
  for yi, c in zip(y, counts):
    ax.annotate(f'{int(c):,}', (c, yi), xytext=(3, 0), textcoords='offset points',
                va='center', fontsize=8)
  ax.set_xlim(0, max(1.0, counts.max()) * 1.18)
  ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
  ax.set_xlabel('rows quarantined')
  ax.set_title('Quarantined rows by reason', loc='left')
  ax.grid(axis='y', visible=False)
  return style.to_svg(fig)


def _split_legend(ax, loc='best'):
  ax.legend(title='split (year)', loc=loc, title_fontsize=8.5)


def _split_label(split: str, years: Mapping[str, Sequence[int]]) -> str:
  ys = years.get(split)
  return f'{split} ({", ".join(str(y) for y in ys)})' if ys else split


@style.styled
def acquisition_histograms(images: Mapping[str, np.ndarray], intervals: Mapping[str, np.ndarray],
                           years: Mapping[str, Sequence[int]]) -> str:
  """Images per pixel-year and days between consecutive distinct dates."""
  fig, (ax1, ax2) = style.new_figure(style.FULL_WIDTH, 3.1, ncols=2)
  order = list(images)
  nonempty = [v for v in images.values() if len(v)]
  low = min((int(v.min()) for v in nonempty), default=0)
  top = max((int(v.max()) for v in nonempty), default=1)
  step = max(1, int(np.ceil((top - low + 1) / 60)))  # at most ~60 bins
  edges = np.arange(low, top + step + 1, step) - 0.5
  for split, values in images.items():
    if len(values):
      ax1.hist(values, bins=edges, histtype='step', linewidth=1.6,
               color=style.split_color(split, order), label=_split_label(split, years),
               weights=np.full(len(values), 100.0 / len(values)))
  pad = max(2, (top - low) * 0.05)
  ax1.set_xlim(low - pad, top + pad)
  ax1.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
  ax1.set_xlabel('images per pixel-year (N, incl. cloudy and duplicates)')
  ax1.set_ylabel('pixels (%)')
  ax1.set_title('Images per pixel', loc='left')
  _split_legend(ax1, 'best')
  cap = 40
  edges = np.arange(0.5, cap + 1.5)
  for split, values in intervals.items():
    if len(values):
      clipped = np.minimum(values, cap)
      ax2.hist(clipped, bins=edges, histtype='step', linewidth=1.6,
               color=style.split_color(split, order), label=_split_label(split, years),
               weights=np.full(len(values), 100.0 / len(values)))
  ax2.set_xlim(0, cap + 1)
  ax2.xaxis.set_major_locator(ticker.MultipleLocator(5))
  ax2.set_xticks(list(range(0, cap, 5)) + [cap], [str(t) for t in range(0, cap, 5)] + [f'≥{cap}'])
  ax2.set_xlabel('days between consecutive distinct image dates')
  ax2.set_ylabel('intervals (%)')
  ax2.set_title('Revisit interval', loc='left')
  _split_legend(ax2, 'upper right')
  fig.tight_layout(w_pad=3)
  return style.to_svg(fig)


@style.styled
def cloud_share(by_split: Mapping[str, np.ndarray], years: Mapping[str, Sequence[int]]) -> str:
  fig, ax = style.new_figure(style.HALF_WIDTH, 3.1)
  order = list(by_split)
  months = np.arange(12)
  for split, share in by_split.items():
    ax.plot(months, 100 * share, marker='o', markersize=3.5, linewidth=1.6,
            color=style.split_color(split, order), label=_split_label(split, years))
  ax.set_xticks(months, data_stats.MONTHS)
  ax.set_ylim(0, 100)
  ax.yaxis.set_major_formatter(ticker.PercentFormatter(decimals=0))
  ax.set_ylabel('images not clear (SCL)')
  ax.set_title('Cloud, shadow, snow and no-data by month', loc='left')
  _split_legend(ax, 'upper center')
  return style.to_svg(fig)


@style.styled
def class_balance(by_split: Mapping[str, Mapping[str, int]]) -> str:
  """Stacked shares of classes (before gating) per split."""
  splits = list(by_split)
  fig, ax = style.new_figure(style.HALF_WIDTH, 0.45 * len(splits) + 1.3)
  y = np.arange(len(splits))[::-1]
  left = np.zeros(len(splits))
  totals = np.array([max(1, sum(by_split[s][c] for c in features.CLASS_NAMES))
                     for s in splits], float)
  for name in features.CLASS_NAMES:
    share = np.array([by_split[s][name] for s in splits]) / totals * 100
    if not share.any():
      continue
    ax.barh(y, share, left=left, color=style.CLASS_COLORS[name], label=name, height=0.6,
            edgecolor='white', linewidth=0.6)
    for yi, l, w in zip(y, left, share):
      if w >= 7:
        ax.text(l + w / 2, yi, f'{w:.0f}', ha='center', va='center', fontsize=7.5,
                color='white' if name in ('Soybeans', 'Cultivated', 'Cotton', 'Rice') else 'black')
    left += share
  ax.set_yticks(y, splits)
  ax.set_xlim(0, 100)
  ax.xaxis.set_major_formatter(ticker.PercentFormatter(decimals=0))
  ax.set_xlabel('share of examples (excluded double crops not counted)')
  ax.grid(axis='y', visible=False)
  ax.legend(loc='lower center', bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize=8,
            handlelength=1.0, columnspacing=0.9, handletextpad=0.4)
  ax.set_title('Classes per split (before gating)', loc='left', pad=34)
  return style.to_svg(fig)


@style.styled
def ndvi_curves(curves: data_stats.ClassCurves, title: str) -> str:
  fig, ax = style.new_figure(style.FULL_WIDTH, 3.8)
  days = data_stats.bin_center_day()
  for i, name in enumerate(features.CLASS_NAMES):
    if np.all(np.isnan(curves.mean[i])):
      continue
    color = style.CLASS_COLORS[name]
    ax.fill_between(days, curves.q25[i], curves.q75[i], color=color, alpha=0.13, linewidth=0)
    ax.plot(days, curves.mean[i], color=color, linewidth=2.0,
            label=f'{name} ({int(curves.pixels[i]):,} px)')
  _month_axis(ax)
  ax.set_xlabel('month (values in 5-day calendar bins)')
  ax.set_ylim(-0.2, 1.0)
  ax.set_ylabel('NDVI (B08 − B04) / (B08 + B04)')
  ax.set_title(title, loc='left')
  ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1.0), title='class (pixels)',
            title_fontsize=8.5)
  return style.to_svg(fig)


def _day_ticks(ax, all_days: Sequence[int]) -> None:
  """As-of days and their dates under the axis; every other one on a dense curve."""
  shown = list(all_days) if len(all_days) <= 9 else list(all_days)[::2]
  ax.set_xticks(shown, [f'{d}\n{day_label(d)}' for d in shown])
  if all_days:
    pad = max(10, (all_days[-1] - all_days[0]) * 0.05)
    ax.set_xlim(all_days[0] - pad, all_days[-1] + pad)
  ax.set_xlabel('as-of day of year (date)')


@style.styled
def season_curve(by_split: Mapping[str, Mapping[int, Mapping[str, float]]],
                 headline_day: Optional[int], years: Mapping[str, Sequence[int]],
                 baseline: Optional[Mapping[str, Mapping[int, Mapping[str, float]]]] = None,
                 ) -> str:
  """Accuracy and macro-F1 against the as-of day, one line per split; the tree
  baseline's curve of each split dashed in the same colour."""
  fig, axes = style.new_figure(style.FULL_WIDTH, 3.4, ncols=2, sharey=True)
  order = list(by_split)
  all_days = sorted({d for by_day in by_split.values() for d in by_day})
  dense = len(all_days) > 9
  for ax, key, title in zip(axes, ('accuracy', 'macro_f1'), ('Accuracy', 'Macro-F1')):
    for split, by_day in by_split.items():
      days = sorted(by_day)
      values = [by_day[d][key] for d in days]
      color = style.split_color(split, order)
      ax.plot(days, values, marker='o', linewidth=2, markersize=3.5 if dense else 5,
              color=color, label=_split_label(split, years))
      base = (baseline or {}).get(split)
      if base:
        base_days = sorted(base)
        ax.plot(base_days, [base[d][key] for d in base_days], linestyle='--', linewidth=1.4,
                color=color, alpha=0.8, label=f'{split}: tree baseline')
    if headline_day is not None:
      ax.axvline(headline_day, color='#888888', linestyle='--', linewidth=1)
      ax.annotate('headline date', (headline_day, 0.03), xytext=(-4, 0), ha='right',
                  textcoords='offset points', fontsize=8, color='#666666')
    _day_ticks(ax, all_days)
    ax.set_ylim(0, 1.05)
    ax.set_title(title, loc='left')
  axes[0].set_ylabel('score (0–1)')
  handles, labels = axes[0].get_legend_handles_labels()
  fig.tight_layout(w_pad=2, rect=(0, 0, 1, 0.88 if baseline else 0.92))
  fig.legend(handles, labels, loc='upper right', ncol=min(len(labels), 4),
             title='split (year)', title_fontsize=8.5, bbox_to_anchor=(1.0, 1.0),
             alignment='right')
  return style.to_svg(fig)


@style.styled
def per_class_f1(by_split: Mapping[str, Mapping[int, Mapping[str, float]]],
                 headline_day: Optional[int] = None,
                 titles: Optional[Mapping[str, str]] = None) -> str:
  """Per-class F1 against the as-of day, one panel per split (or run): when
  each crop becomes separable. `by_split`: {panel: {day: {class name: F1}}}."""
  panels = list(by_split)
  fig, axes = style.new_figure(style.FULL_WIDTH, 3.4, ncols=max(1, len(panels)),
                               sharey=True)
  axes = np.atleast_1d(axes)
  for ax, panel in zip(axes, panels):
    by_day = by_split[panel]
    days = sorted(by_day)
    for name in features.CLASS_NAMES:
      values = [by_day[d].get(name) for d in days]
      points = [(d, v) for d, v in zip(days, values) if v is not None]
      if not points:
        continue
      ax.plot([p[0] for p in points], [p[1] for p in points], marker='o', markersize=3,
              linewidth=1.6, color=style.CLASS_COLORS[name], label=name)
    if headline_day is not None:
      ax.axvline(headline_day, color='#888888', linestyle='--', linewidth=1)
    _day_ticks(ax, days)
    ax.set_ylim(0, 1.05)
    ax.set_title((titles or {}).get(panel, panel), loc='left')
  axes[0].set_ylabel('F1 (0–1)')
  handles, labels = axes[0].get_legend_handles_labels()
  fig.tight_layout(w_pad=2, rect=(0, 0, 1, 0.86))
  fig.legend(handles, labels, loc='upper right', ncol=4, title='class', title_fontsize=8.5,
             bbox_to_anchor=(1.0, 1.0), alignment='right')
  return style.to_svg(fig)


@style.styled
def compare_curves(by_run: Mapping[str, Mapping[int, Mapping[str, float]]],
                   baselines: Optional[Mapping[str, Mapping[int, Mapping[str, float]]]] = None
                   ) -> str:
  """Accuracy and macro-F1 of several runs (one split) against the as-of day,
  each run's tree baseline dashed in its run's colour."""
  fig, axes = style.new_figure(style.FULL_WIDTH, 3.4, ncols=2, sharey=True)
  all_days = sorted({d for by_day in by_run.values() for d in by_day})
  palette = style.SERIES_COLORS
  for ax, key, title in zip(axes, ('accuracy', 'macro_f1'), ('Accuracy', 'Macro-F1')):
    for i, (run, by_day) in enumerate(by_run.items()):
      days = sorted(by_day)
      ax.plot(days, [by_day[d][key] for d in days], marker='o', markersize=3.5,
              linewidth=2, color=palette[i % len(palette)], label=run)
    for i, (name, baseline) in enumerate((baselines or {}).items()):
      days = sorted(baseline)
      ax.plot(days, [baseline[d][key] for d in days], linestyle='--', linewidth=1.6,
              color=palette[i % len(palette)], alpha=0.8, label=name)
    _day_ticks(ax, all_days)
    ax.set_ylim(0, 1.05)
    ax.set_title(title, loc='left')
  axes[0].set_ylabel('score (0–1)')
  handles, labels = axes[0].get_legend_handles_labels()
  fig.tight_layout(w_pad=2, rect=(0, 0, 1, 0.88))
  fig.legend(handles, labels, loc='upper right', ncol=min(len(labels), 5), title='run',
             title_fontsize=8.5, bbox_to_anchor=(1.0, 1.0), alignment='right')
  return style.to_svg(fig)


@style.styled
def confusion_matrices(by_split: Mapping[str, np.ndarray], day: int) -> str:
  """Row-normalized colour (recall), counts written in the cells."""
  splits = list(by_split)
  n = len(splits)
  fig, axes = style.new_figure(style.FULL_WIDTH if n > 1 else 6.0, 4.6, ncols=n, squeeze=False,
                               sharey=True)
  names = list(features.CLASS_NAMES)
  for ax, split in zip(axes[0], splits):
    cm = np.asarray(by_split[split], float)
    rows = cm.sum(axis=1, keepdims=True)
    with np.errstate(invalid='ignore', divide='ignore'):
      share = np.where(rows > 0, cm / rows, 0.0)
    # Vector cells (not imshow): crisp at any zoom, no resampling.
    image = ax.pcolormesh(np.arange(cm.shape[1] + 1) - 0.5, np.arange(cm.shape[0] + 1) - 0.5,
                          share, cmap='Blues', vmin=0, vmax=1)
    ax.set_aspect('equal')
    ax.set_xlim(-0.5, cm.shape[1] - 0.5)
    ax.set_ylim(cm.shape[0] - 0.5, -0.5)
    for t in range(cm.shape[0]):
      for p in range(cm.shape[1]):
        if cm[t, p]:
          ax.text(p, t, f'{int(cm[t, p]):,}', ha='center', va='center', fontsize=7.5,
                  color='white' if share[t, p] > 0.55 else '#222222')
    ax.set_xticks(range(len(names)), names, rotation=35, ha='right')
    ax.set_yticks(range(len(names)), names)
    for label, name in zip(ax.get_yticklabels(), names):
      label.set_color(_dark(style.CLASS_COLORS[name]))
    if ax is not axes[0][0]:
      ax.tick_params(axis='y', labelleft=False)
    for label, name in zip(ax.get_xticklabels(), names):
      label.set_color(_dark(style.CLASS_COLORS[name]))
    ax.grid(False)
    ax.set_xlabel('predicted class')
    if ax is axes[0][0]:
      ax.set_ylabel('true class')
    ax.set_title(f'{split}: as of day {day} ({day_label(day)})', loc='left')
  bar = fig.colorbar(image, ax=axes[0].tolist(), fraction=0.025, pad=0.02)
  bar.set_label('share of the true class (recall)')
  return style.to_svg(fig)


def _dark(color: str) -> tuple:
  """A colour darkened enough to be read as text on white."""
  r, g, b = mcolors.to_rgb(color)
  return (r * 0.75, g * 0.75, b * 0.75)


@style.styled
def prediction_maps(lon: np.ndarray, lat: np.ndarray, true: np.ndarray,
                    predicted: np.ndarray, title: str) -> str:
  """True class, predicted class and disagreement, as a PNG (dense points)."""
  fig, axes = style.new_figure(style.FULL_WIDTH, 4.0, ncols=3, sharex=True, sharey=True)
  palette = np.array([style.CLASS_COLORS[n] for n in features.CLASS_NAMES])
  # Marker area (pt^2) shrinks with the pixel count so dense maps do not blot.
  size = float(np.clip(4000.0 / max(1, len(lon)) ** 0.8, 1.5, 16))
  wrong = true != predicted
  panels = (
      ('True class', palette[true]),
      ('Predicted class', palette[predicted]),
      (f'Disagreement ({wrong.mean() * 100 if len(wrong) else 0:.1f}% of pixels)',
       np.where(wrong, style.DISAGREE_COLOR, style.AGREE_COLOR)),
  )
  for ax, (panel_title, colors) in zip(axes, panels):
    order = np.argsort(wrong, kind='stable') if panel_title.startswith('Dis') else slice(None)
    ax.scatter(lon[order], lat[order], c=colors[order], s=size, linewidths=0, marker='s')
    ax.set_title(panel_title, loc='left')
    ax.set_aspect(1.0 / np.cos(np.deg2rad(np.nanmean(lat) if len(lat) else 0.0)))
    ax.grid(False)
    ax.set_xlabel('longitude (°)')
    ax.tick_params(labelsize=7.5)
  axes[0].set_ylabel('latitude (°)')
  present = sorted(set(np.unique(true)) | set(np.unique(predicted)))
  handles = [mlines.Line2D([], [], marker='s', linestyle='', markersize=7,
                           color=palette[i], label=features.CLASS_NAMES[i]) for i in present]
  handles += [mlines.Line2D([], [], marker='s', linestyle='', markersize=7, color=c, label=l)
              for c, l in ((style.AGREE_COLOR, 'agree'), (style.DISAGREE_COLOR, 'disagree'))]
  fig.suptitle(title, x=0.01, ha='left', fontsize=10.5, fontweight='bold')
  fig.tight_layout()
  # Below the figure; bbox_inches='tight' grows the image to include it.
  fig.legend(handles=handles, loc='upper center', ncol=len(handles), fontsize=8,
             bbox_to_anchor=(0.5, 0.0), handletextpad=0.3, columnspacing=1.1)
  return style.to_png_data_uri(fig)


@style.styled
def timings(seconds: Mapping[str, float], cached: Sequence[str]) -> str:
  names = list(seconds)
  values = np.array([seconds[n] for n in names], float)
  fig, ax = style.new_figure(style.HALF_WIDTH, 0.27 * len(names) + 0.9)
  y = np.arange(len(names))[::-1]
  colors = ['#bbbbbb' if n in cached else '#4a6f8a' for n in names]
  ax.barh(y, values, color=colors, height=0.65)
  ax.set_yticks(y, names)
  for yi, v, n in zip(y, values, names):
    ax.annotate(f'{v:.1f} s' + (' (cached)' if n in cached else ''), (v, yi), xytext=(3, 0),
                textcoords='offset points', va='center', fontsize=7.5)
  ax.set_xlim(0, max(1.0, values.max() if len(values) else 1.0) * 1.3)
  ax.set_xlabel('seconds')
  ax.set_title('Time per component', loc='left')
  ax.grid(axis='y', visible=False)
  return style.to_svg(fig)
