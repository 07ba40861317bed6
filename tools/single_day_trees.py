"""Evidence for MODELS.md: what the data supports at one as-of day.

For each day: HistGradientBoosting trained on the train year's windows at that
single day, scored on the test year; and the same trained and scored on the
test year itself (5-fold cross-validation), an optimistic ceiling for a model
that knew that year's phenology.

  python tools/single_day_trees.py TRANSFORMED_EXAMPLES_URI [DAY ...]
"""

import sys

import numpy as np
import threadpoolctl
from sklearn import ensemble
from sklearn import model_selection

from croptfx.components import tree_baseline
from croptfx import metrics
from croptfx import records


def _fit(x, y):
  model = ensemble.HistGradientBoostingClassifier(max_iter=100, early_stopping=False,
                                                  random_state=0)
  return model.fit(x, y)


def main(uri, days):
  splits = {s: tree_baseline.load_batches(records.split_files(uri, s))
            for s in ('train', 'test')}
  print('| as-of day | train year -> test year: accuracy / macro-F1 | '
        'test year, 5-fold CV: accuracy / macro-F1 |')
  print('|---|---|---|')
  with threadpoolctl.threadpool_limits(1, user_api='openmp'):
    for day in days:
      x_train, y_train = tree_baseline.rows_at_day(splits['train'], day)
      x_test, y_test = tree_baseline.rows_at_day(splits['test'], day)
      across = metrics.summarize(metrics.confusion_matrix(
          y_test, tree_baseline.predict_classes(_fit(x_train, y_train), x_test)))
      predicted = np.zeros_like(y_test)
      folds = model_selection.StratifiedKFold(5, shuffle=True, random_state=0)
      for fit_idx, score_idx in folds.split(x_test, y_test):
        model = _fit(x_test[fit_idx], y_test[fit_idx])
        predicted[score_idx] = tree_baseline.predict_classes(model, x_test[score_idx])
      within = metrics.summarize(metrics.confusion_matrix(y_test, predicted))
      print(f"| {day} | {across['accuracy']:.3f} / {across['macro_f1']:.3f} | "
            f"{within['accuracy']:.3f} / {within['macro_f1']:.3f} |", flush=True)


if __name__ == '__main__':
  main(sys.argv[1], [int(d) for d in sys.argv[2:]] or [150, 180, 210, 240])
