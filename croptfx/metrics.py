"""Classification metrics in NumPy (season evaluator, report, benchmarks)."""

from typing import Dict

import numpy as np

from croptfx import features


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray,
                     num_classes: int = features.NUM_CLASSES) -> np.ndarray:
  """[true class, predicted class] counts."""
  cm = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(cm, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
  return cm


def summarize(cm: np.ndarray) -> Dict[str, object]:
  """Accuracy, macro-F1 and per-class precision/recall/F1/support.

  Macro-F1 averages the F1 of the classes that occur in the labels or the
  predictions (as scikit-learn does for the labels it sees); a class absent
  from both says nothing about the model.
  """
  cm = np.asarray(cm, np.float64)
  total = cm.sum()
  tp = np.diag(cm)
  support = cm.sum(axis=1)
  predicted = cm.sum(axis=0)
  with np.errstate(divide='ignore', invalid='ignore'):
    precision = np.where(predicted > 0, tp / predicted, 0.0)
    recall = np.where(support > 0, tp / support, 0.0)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
  present = (support > 0) | (predicted > 0)
  return {
      'examples': int(total),
      'accuracy': float(tp.sum() / total) if total else 0.0,
      'macro_f1': float(f1[present].mean()) if present.any() else 0.0,
      'per_class': {
          name: {'precision': float(precision[i]), 'recall': float(recall[i]),
                 'f1': float(f1[i]), 'support': int(support[i])}
          for i, name in enumerate(features.CLASS_NAMES[:cm.shape[0]])},
      'confusion_matrix': cm.astype(np.int64).tolist(),
  }
