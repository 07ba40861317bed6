"""The pushed model's contract, checked without loading it.

A model `croptfx map` and `croptfx predict` can use is a SavedModel with a
`serving_default` signature taking serialized raw examples and an as-of date
(`trainer/signatures.py` exports it). `check` reads the SavedModel proto only,
so a wrong `--model` (a run directory, a Transform graph, a Trainer's model
directory) is named for what it is before any work starts.
"""

import os
from typing import Iterable

from croptfx import errors
from croptfx import layouts
from croptfx import paths
from croptfx import run_summary


def check(model_dir: str, signature: str = 'serving_default',
                        inputs: Iterable[str] = ('examples', 'as_of_date')) -> None:
  """Refuses, in one line, a --model that is not a pushed model.

  Reads the SavedModel's proto only (no graph is loaded), so a run directory,
  a Transform graph or a Trainer's model directory is named for what it is
  before any work.

  Raises:
    CroptfxError: not a SavedModel, or no `signature` taking `inputs`.
  """
  if not os.path.isdir(model_dir) and not paths.is_uri(model_dir):
    raise errors.InputDataError(model_dir, 'no such model directory')
  if os.path.exists(os.path.join(model_dir, layouts.SUMMARY_FILE)):
    summary = run_summary.read_summary(model_dir)
    hint = (f'; its pushed model is {summary.model_dir}' if summary and summary.model_dir
            else '; that run pushed no model')
    raise errors.InputDataError(model_dir, f'is a run directory, not a model{hint}')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  # pylint: disable=g-direct-tensorflow-import
  from tensorflow.python.saved_model import loader_impl
  # pylint: enable=g-direct-tensorflow-import
  if not tf.saved_model.contains_saved_model(model_dir):
    if tf.io.gfile.isdir(os.path.join(model_dir, 'transform_fn')):
      raise errors.InputDataError(
          model_dir, f'is a Transform graph, not a pushed model (use the model_dir of '
          f'{layouts.SUMMARY_FILE})')
    raise errors.InputDataError(
        model_dir, f'is not a SavedModel directory (use the model_dir of {layouts.SUMMARY_FILE})')
  try:
    saved_model = loader_impl.parse_saved_model(model_dir)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.InputDataError(model_dir, f'cannot read the SavedModel: {e}') from None
  found = {}
  for meta_graph in saved_model.meta_graphs:
    found.update(meta_graph.signature_def)
  if signature not in found:
    raise errors.InputDataError(
        model_dir, f'is a SavedModel without a {signature!r} signature (a Transform graph '
        'or a model not exported by this project?); use the model_dir of ' + layouts.SUMMARY_FILE)
  missing = sorted(set(inputs) - set(found[signature].inputs))
  if missing:
    raise errors.InputDataError(
        model_dir, f'its {signature!r} signature does not take {", ".join(missing)}; '
        'not a model exported by this project')
