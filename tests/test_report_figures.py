"""report/figures.py: the report's figures, from plain inputs."""

import re

import numpy as np

from croptfx.report import figures


def test_day_label_is_the_date_in_a_common_year():
  assert [figures.day_label(d) for d in (1, 90, 120, 240, 365)] == [
      '1 Jan', '31 Mar', '30 Apr', '28 Aug', '31 Dec']


def _lines(svg):
  """The data lines of a figure: matplotlib's SVG ids for Line2D artists."""
  return re.findall(r'id="[^"]*line2d_\d+"', svg)


def test_compare_curves_draw_every_run_and_every_runs_baseline():
  days = {d: {'accuracy': d / 400, 'macro_f1': d / 500} for d in (150, 180, 210)}
  runs = {'cnn (a)': days, 'gru (b)': days}
  alone = figures.compare_curves(runs)
  with_baselines = figures.compare_curves(
      runs, {'cnn (a) tree baseline': days, 'gru (b) tree baseline': days})
  assert alone.startswith('<svg') and with_baselines.startswith('<svg')
  # Two more lines in each of the two panels (accuracy, macro-F1), and two
  # more legend entries.
  assert len(_lines(with_baselines)) - len(_lines(alone)) == 2 * 2 + 2
  assert with_baselines.count('stroke-dasharray') > alone.count('stroke-dasharray')


def test_confusion_matrices_one_panel_per_split():
  cm = np.arange(49).reshape(7, 7)
  one = figures.confusion_matrices({'test': cm}, 240)
  two = figures.confusion_matrices({'eval': cm, 'test': cm}, 240)
  assert one.startswith('<svg') and two.startswith('<svg')
  # A matrix per split, and one colour bar for all.
  axes = lambda svg: len(re.findall(r'id="[^"]*axes_\d+"', svg))
  assert (axes(one), axes(two)) == (1 + 1, 2 + 1)
