"""A map scored against a reference: accuracies, F1 and areas per class.

What crop-mapping studies and acreage comparisons report, from a confusion
matrix whose rows are the reference's classes and columns the map's (cells
that have both): overall accuracy; per class the producer's accuracy (of
the reference's cells of a class, the share the map gives that class:
recall, 1 - omission error), the user's accuracy (of the map's cells of a
class, the share the reference agrees with: precision, 1 - commission
error) and F1, their harmonic mean; the macro F1 over the classes present in
either; and the area of each class in hectares in the map and in the
reference over the same cells. A ratio with nothing to divide is None.
"""

from typing import Dict, Optional, Sequence

import numpy as np


# Hectares are reported to 1e-6 ha (0.01 square metres).
HECTARE_DECIMALS = 6


def hectares(value: float) -> float:
  return round(float(value), HECTARE_DECIMALS)


def _ratio(num: float, den: float) -> Optional[float]:
  return float(num) / float(den) if den else None


def score(confusion: np.ndarray, area_ha: np.ndarray, class_names: Sequence[str]
          ) -> Dict[str, object]:
  """Scores from `confusion` (cells; [reference, map]) and `area_ha` (the
  same cells' area in hectares, [reference, map])."""
  confusion = np.asarray(confusion, dtype=np.int64)
  area_ha = np.asarray(area_ha, dtype=np.float64)
  k = len(class_names)
  if confusion.shape != (k, k) or area_ha.shape != (k, k):
    raise ValueError(f'confusion and area must be {k} x {k}')
  total = int(confusion.sum())
  reference, mapped = confusion.sum(axis=1), confusion.sum(axis=0)
  diagonal = np.diag(confusion)
  per_class, f1s = {}, []
  for i, name in enumerate(class_names):
    f1 = _ratio(2 * diagonal[i], reference[i] + mapped[i])
    per_class[name] = {
        'reference_cells': int(reference[i]), 'map_cells': int(mapped[i]),
        'agreeing_cells': int(diagonal[i]),
        'producers_accuracy': _ratio(diagonal[i], reference[i]),
        'users_accuracy': _ratio(diagonal[i], mapped[i]),
        'f1': f1,
        'map_ha': hectares(area_ha[:, i].sum()),
        'reference_ha': hectares(area_ha[i, :].sum()),
    }
    if f1 is not None:
      f1s.append(f1)
  return {
      'cells_compared': total,
      'overall_accuracy': _ratio(diagonal.sum(), total),
      'macro_f1': float(np.mean(f1s)) if f1s else None,
      'per_class': per_class,
      'confusion_matrix': {
          'rows': 'reference', 'columns': 'map', 'classes': list(class_names),
          'cells': confusion.tolist(),
      },
      'compared_ha': hectares(area_ha.sum()),
  }
