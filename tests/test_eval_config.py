"""The Evaluator's TFMA config: what it computes and what it blesses on.

Issue 20 cut the per-class binarized Precision/Recall metrics (nothing read
them; they took half of the Evaluator's time). The blessing must not move:
accuracy at the headline day, the same threshold, the same labels and weights.
"""

from croptfx.pipeline import configs
from croptfx.pipeline import pipeline
from croptfx.trainer import signatures

DAYS = [120, 180, 240, 300]


def _config(headline=240, threshold=0.6):
  return pipeline.make_eval_config(DAYS, headline, threshold)


def test_one_spec_per_day_with_accuracy_and_confusion_matrix_only():
  config = _config()
  assert [list(s.output_names) for s in config.metrics_specs] == [
      ['day_120'], ['day_180'], ['day_240'], ['day_300']]
  for spec in config.metrics_specs:
    assert [m.class_name for m in spec.metrics] == [
        'SparseCategoricalAccuracy', 'MultiClassConfusionMatrixPlot']
    assert not spec.HasField('binarize')
  assert not config.options.include_default_metrics.value


def test_threshold_only_on_headline_accuracy():
  config = _config(headline=180, threshold=0.73)
  thresholds = {}
  for spec in config.metrics_specs:
    for metric in spec.metrics:
      if metric.HasField('threshold'):
        thresholds[(spec.output_names[0], metric.class_name)] = (
            metric.threshold.value_threshold.lower_bound.value)
  assert thresholds == {('day_180', 'SparseCategoricalAccuracy'): 0.73}


def test_labels_weights_and_the_single_overall_slice():
  config = _config()
  (spec,) = config.model_specs
  assert spec.signature_name == signatures.EVAL_SIGNATURE == 'evaluate_transformed'
  assert list(spec.preprocessing_function_names) == ['eval_labels']
  assert dict(spec.label_keys) == {f'day_{d}': f'label_day_{d}' for d in DAYS}
  assert dict(spec.example_weight_keys) == {f'day_{d}': 'weight' for d in DAYS}
  (slicing,) = config.slicing_specs
  assert not slicing.feature_keys and not slicing.feature_values


def test_pipeline_defaults_bless_at_the_headline_day():
  config = pipeline.make_eval_config(configs.AS_OF_DAYS, configs.HEADLINE_AS_OF_DAY,
                                     configs.EVAL_ACCURACY_THRESHOLD)
  headline = [s for s in config.metrics_specs
              if s.output_names[0] == signatures.output_name(configs.HEADLINE_AS_OF_DAY)]
  (accuracy,) = [m for m in headline[0].metrics if m.HasField('threshold')]
  assert accuracy.class_name == 'SparseCategoricalAccuracy'
  assert accuracy.threshold.value_threshold.lower_bound.value == 0.6
