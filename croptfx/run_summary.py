"""`run_summary.json`: what a run produced, in one file (`RunSummary`).

Written by `croptfx run` (`pipeline/summary.py` builds it from ML Metadata),
read by the report, `croptfx compare`, the benchmarks and the tests.
"""

import dataclasses
import json
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional

from croptfx import features
from croptfx import layouts
from croptfx import paths





def _present_f1(m: Mapping[str, Any]) -> Dict[str, float]:
  """{class: F1} of the classes present in the labels or the predictions (the
  ones macro-F1 averages); an absent class has no score."""
  predicted = [sum(col) for col in zip(*m['confusion_matrix'])] if m.get('confusion_matrix') \
      else [0] * len(features.CLASS_NAMES)
  return {name: c['f1'] for i, (name, c) in enumerate(m['per_class'].items())
          if c['support'] > 0 or (i < len(predicted) and predicted[i] > 0)}


def summary_metrics(splits: Mapping[str, Mapping[str, Mapping[str, Any]]]
                    ) -> Dict[str, Dict[str, Dict[str, Any]]]:
  """A season metrics.json's {split: {day: full metrics}} -> the summary's
  {split: {day: {accuracy, macro_f1, examples, per_class_f1}}}."""
  return {
      split: {day: {'accuracy': m['accuracy'], 'macro_f1': m['macro_f1'],
                    'examples': m['examples'], 'per_class_f1': _present_f1(m)}
              for day, m in by_day.items()}
      for split, by_day in splits.items()}


@dataclasses.dataclass
class RunSummary:
  """What a run produced (`run_summary.json`).

  A section the run did not reach (a pipeline stopped after Transform, a
  summary of an older run) is None; it is left out of the JSON file, and the
  report says what is missing.
  """
  label_mapping: Optional[str] = None
  # The data read (--data) and the fingerprint of its files' content (the
  # ExampleGen's input fingerprint): runs compare only over the same data.
  data: Optional[str] = None
  data_fingerprint: Optional[str] = None
  # The splits: {"2021": "train", ...} and their roles
  # (`features.SplitRoles.to_dict`: train, eval, others).
  year_splits: Optional[Dict[str, str]] = None
  split_roles: Optional[Dict[str, Any]] = None
  # ParquetExampleGen (counts.json).
  rows_read: Optional[int] = None
  examples: Optional[Dict[str, int]] = None
  quarantined: Optional[Dict[str, int]] = None
  notes: Optional[Dict[str, int]] = None
  quarantine_dir: Optional[str] = None
  # Transform: the train year's band statistics.
  band_mean: Optional[List[float]] = None
  band_std: Optional[List[float]] = None
  # SeasonEvaluator: {split: {as-of day: {accuracy, macro_f1, examples,
  # per_class_f1: {class name: F1}}}}.
  metrics: Optional[Dict[str, Dict[str, Dict[str, Any]]]] = None
  headline_as_of_day: Optional[int] = None
  # Trainer: the architecture, its parameter count, the fit's wall time and
  # training examples per second (croptfx compare).
  model: Optional[str] = None
  model_params: Optional[int] = None
  train_seconds: Optional[float] = None
  train_examples_per_second: Optional[float] = None
  # TreeBaseline: the same metrics for gradient-boosted trees on the same
  # windows, and its fit time.
  baseline_metrics: Optional[Dict[str, Dict[str, Dict[str, Any]]]] = None
  baseline_train_seconds: Optional[float] = None
  # Evaluator and Pusher.
  blessed: Optional[bool] = None
  model_dir: Optional[str] = None
  # The run: TFX's pipeline-run id (the executions the summary is built from).
  run_id: Optional[str] = None
  component_seconds: Optional[Dict[str, float]] = None
  cached_components: Optional[List[str]] = None
  artifacts: Optional[Dict[str, Optional[str]]] = None
  wall_seconds: Optional[float] = None
  runner: Optional[str] = None

  # Written even when None: "no pushed model" and "the bundled mapping" are
  # answers, not missing sections.
  _ALWAYS = ('label_mapping', 'model_dir')

  def to_dict(self) -> Dict[str, Any]:
    return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None or f.name in self._ALWAYS}

  @classmethod
  def from_dict(cls, data: Mapping[str, Any]) -> 'RunSummary':
    """Known keys; unknown ones (a newer writer) are ignored."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})

  def artifact(self, name: str) -> Optional[str]:
    """URI of one artifact named in the summary, or None."""
    return (self.artifacts or {}).get(name)

  def roles(self) -> features.SplitRoles:
    """The run's split roles (a summary without them: the defaults')."""
    if self.split_roles:
      return features.SplitRoles(self.split_roles['train'], self.split_roles['eval'],
                                 tuple(self.split_roles.get('others') or ()))
    if self.year_splits:
      return features.split_roles({int(y): n for y, n in self.year_splits.items()})
    # An old summary without splits: the names' own roles.
    return features.SplitRoles(features.TRAIN_SPLIT, features.EVAL_SPLIT,
                               (features.TEST_SPLIT,))

  def headline_split(self, available: Iterable[str]) -> Optional[str]:
    """The split a report leads with: the first held-out one (never trained
    on nor blessed on), else the eval split; None if neither is available."""
    available = set(available)
    roles = self.roles()
    return next((s for s in roles.others + (roles.eval,) if s in available), None)


def write_summary(path: str, summary: RunSummary) -> None:
  paths.write_atomic(path, json.dumps(summary.to_dict(), indent=1))  # never half-written


def read_summary(run_dir: str) -> Optional[RunSummary]:
  """The summary of the run in `run_dir`, or None if it has none."""
  path = os.path.join(run_dir, layouts.SUMMARY_FILE)
  if not os.path.exists(path):
    return None
  with open(path, encoding='utf-8') as f:
    return RunSummary.from_dict(json.load(f))
