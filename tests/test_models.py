"""The model choice, the dense season curve and its metrics, `croptfx compare`.

Fast tests (no pipeline run): every architecture maps the window inputs to 7
probabilities; per-class and macro-F1 equal scikit-learn's on hand-made labels;
the as-of day list; compare.html holds the numbers of the summaries it read.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from croptfx import features
from croptfx import metrics
from croptfx.pipeline import configs
from croptfx.pipeline import run_config
from croptfx import run_summary


# --- architectures ------------------------------------------------------------

def test_registry_and_configs_name_the_same_models():
  from croptfx.trainer import architectures  # pylint: disable=g-import-not-at-top
  assert architectures.NAMES == ('cnn', 'tempcnn', 'gru', 'transformer')
  assert tuple(configs.MODEL_CONFIGS) == architectures.NAMES
  assert configs.DEFAULT_MODEL in architectures.NAMES
  bad = _cli('run', '--data', 'd', '--output', 'o', '--model', 'lstm9')
  assert bad.returncode == 2
  assert ("argument --model: invalid choice: 'lstm9' (choose from 'cnn', 'tempcnn', 'gru', "
          "'transformer')") in bad.stderr


def _cli(*args):
  return subprocess.run([sys.executable, '-m', 'croptfx.cli', *args], capture_output=True,
                        text=True, timeout=300, check=False)


def _window_batch(n=5, seed=0):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  return {
      features.WINDOW: tf.constant(rng.normal(size=(n, features.WINDOW_BINS, features.NUM_BANDS)),
                                   tf.float32),
      features.WINDOW_OBSERVED: tf.constant(rng.integers(0, 2, (n, features.WINDOW_BINS)),
                                            tf.float32),
      features.WINDOW_VEGETATION: tf.constant(rng.integers(0, 2, (n, features.WINDOW_BINS)),
                                              tf.float32),
      features.AS_OF_DAY: tf.constant(rng.integers(35, 366, n), tf.float32),
  }


@pytest.mark.parametrize('name', tuple(configs.MODEL_CONFIGS))
def test_architecture_maps_window_inputs_to_7_probabilities(name):
  from croptfx.trainer import model as model_lib  # pylint: disable=g-import-not-at-top
  hparams = configs.trainer_hparams(name)
  assert hparams.model == name
  model = model_lib.build_keras_model(hparams)
  assert sorted(model.input_names) == sorted(
      [features.WINDOW, features.WINDOW_OBSERVED, features.WINDOW_VEGETATION,
       features.AS_OF_DAY])
  batch = _window_batch()
  probabilities = model(batch, training=False).numpy()
  assert probabilities.shape == (5, features.NUM_CLASSES)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
  assert (probabilities >= 0).all()
  # The as-of day is an input that matters: moving it changes the output.
  moved = dict(batch, **{features.AS_OF_DAY: batch[features.AS_OF_DAY] * 0 + 100.0})
  assert not np.allclose(model(moved, training=False).numpy(), probabilities)


def test_tempcnn_is_pelletier_shaped():
  from croptfx.trainer import architectures  # pylint: disable=g-import-not-at-top
  import tf_keras as keras  # pylint: disable=g-import-not-at-top
  model = architectures.build('tempcnn', configs.MODEL_CONFIGS['tempcnn']['layers'])
  convs = [l for l in model.layers if isinstance(l, keras.layers.Conv1D)]
  assert [(c.filters, c.kernel_size[0]) for c in convs] == [(64, 5)] * 3
  norms = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
  assert len(norms) == 4  # three conv blocks and the dense layer
  dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
  assert [d.units for d in dense] == [256, features.NUM_CLASSES]
  # 14 channels in (12 bands + 2 masks): conv weights 5*14*64, 5*64*64 twice.
  assert convs[0].count_params() == 5 * 14 * 64


def test_unknown_architecture_is_a_clear_error():
  from croptfx.trainer import architectures  # pylint: disable=g-import-not-at-top
  with pytest.raises(ValueError, match="unknown model 'resnet'; one of cnn, tempcnn"):
    architectures.build('resnet', {})


# --- metrics ------------------------------------------------------------------

def test_per_class_and_macro_f1_equal_sklearn_on_hand_made_labels():
  # Class 6 (Rice) never occurs nor is predicted; class 5 (Cotton) is only
  # predicted (a false positive), class 2 only occurs (always missed).
  y_true = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 4, 4, 4, 4])
  y_pred = np.array([0, 0, 1, 1, 1, 0, 3, 4, 3, 4, 4, 5, 4])
  summary = metrics.summarize(metrics.confusion_matrix(y_true, y_pred))
  present = sorted(set(y_true) | set(y_pred))
  expected = sk_metrics.f1_score(y_true, y_pred, labels=present, average=None)
  for label, f1 in zip(present, expected):
    assert summary['per_class'][features.CLASS_NAMES[label]]['f1'] == pytest.approx(f1)
  assert summary['macro_f1'] == pytest.approx(
      sk_metrics.f1_score(y_true, y_pred, labels=present, average='macro'))
  assert summary['accuracy'] == pytest.approx(sk_metrics.accuracy_score(y_true, y_pred))
  # By hand: Corn precision 2/2, recall 2/3 -> F1 0.8; Soybeans 3/4 and 3/4.
  assert summary['per_class']['Corn']['f1'] == pytest.approx(0.8)
  assert summary['per_class']['Soybeans']['f1'] == pytest.approx(0.75)
  # The summary keeps the F1 of present classes only: Rice has no score.
  f1 = run_summary.summary_metrics({'test': {'180': summary}})['test']['180']['per_class_f1']
  assert sorted(f1) == sorted(features.CLASS_NAMES[i] for i in present)
  assert f1['Cotton'] == 0.0 and f1['Cultivated'] == 0.0


# --- the as-of days -------------------------------------------------------------

def test_season_as_of_days_every_15_days_from_90_to_330():
  expected = [90, 105, 120, 135, 150, 165, 180, 195, 210, 225, 240, 255, 270, 285, 300, 315,
              330]
  assert list(configs.SEASON_AS_OF_DAYS) == expected
  assert configs.SEASON_AS_OF_DAYS == tuple(expected)
  assert set(configs.COMPARE_AS_OF_DAYS) <= set(expected)
  assert set(configs.AS_OF_DAYS) <= set(expected)
  assert configs.HEADLINE_AS_OF_DAY in expected


def test_pipeline_runs_the_baseline_and_passes_the_model(tmp_path):
  from croptfx.pipeline import run as run_lib  # pylint: disable=g-import-not-at-top
  (tmp_path / 'data').mkdir()
  dsl = run_lib.local_pipeline(
      run_config.run_config(str(tmp_path / 'data'), str(tmp_path / 'out'), model='gru'),
      str(tmp_path / 'out'))
  by_id = {c.id: c for c in dsl.components}
  assert 'TreeBaseline' in by_id
  trainer_config = json.loads(by_id['Trainer'].exec_properties['custom_config'])
  assert trainer_config['model'] == 'gru'
  assert trainer_config['model_config'] == configs.MODEL_CONFIGS['gru']['layers']
  assert trainer_config['learning_rate'] == configs.MODEL_CONFIGS['gru']['learning_rate']
  days = ','.join(str(d) for d in configs.SEASON_AS_OF_DAYS)
  assert by_id['SeasonEvaluator'].exec_properties['as_of_days'] == days
  assert by_id['TreeBaseline'].exec_properties['as_of_days'] == days
  assert by_id['TreeBaseline'].exec_properties['max_iter'] == configs.BASELINE_CONFIG['max_iter']
