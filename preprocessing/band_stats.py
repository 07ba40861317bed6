"""Reading back the band statistics a Transform output was normalized with.

`preprocessing.normalize.band_statistics` writes them, next to the graph, as
the JSON asset `BAND_STATISTICS_FILE` of the transform_fn SavedModel (key
`BAND_STATISTICS_KEY` in the asset map), so they travel with the graph:
{'band_names', 'num_values', 'band_mean', 'band_std'}.
"""

import json
import os
from typing import Dict, List

import tensorflow as tf
import tensorflow_transform as tft

from croptfx import features

BAND_STATISTICS_KEY = 'band_statistics'
BAND_STATISTICS_FILE = 'croptfx_band_statistics.json'


def read_band_statistics(transform_output_dir: str) -> Dict[str, List[float]]:
  """Band mean/std the Transform output was normalized with.

  Args:
    transform_output_dir: the Transform graph directory (what
      `tft.TFTransformOutput` takes; the `transform_graph` artifact URI).

  Returns:
    {'band_mean': [NUM_BANDS floats], 'band_std': [NUM_BANDS floats]} in
    `features.BAND_NAMES` order, the exact values used in the graph.
  """
  tft_output = tft.TFTransformOutput(transform_output_dir)
  # The asset map names the file; without it (an older TFT, a partial copy)
  # the file still sits under its own name in the assets directory.
  path = tft_output.vocabulary_file_by_name(BAND_STATISTICS_KEY)
  if path is None:
    path = os.path.join(tft_output.transform_savedmodel_dir,
                        tf.saved_model.ASSETS_DIRECTORY, BAND_STATISTICS_FILE)
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(
        f'{transform_output_dir}: no {BAND_STATISTICS_FILE} asset; was the '
        'graph made by preprocessing.preprocessing.preprocessing_fn?')
  with tf.io.gfile.GFile(path) as f:
    stats = json.load(f)
  if stats.get('band_names') != list(features.BAND_NAMES):
    raise ValueError(f'{path}: bands {stats.get("band_names")} are not '
                     f'{list(features.BAND_NAMES)}')
  return {'band_mean': [float(v) for v in stats['band_mean']],
          'band_std': [float(v) for v in stats['band_std']]}
