"""The in-season crop model: `run_fn` and `input_fn` for the TFX Trainer.

The Trainer reads the Transform output (whole-season calendar grids) through
the standard `input_fn`, drops double crops, draws a random prediction date per
example and epoch (the slides' augmentation), cuts the 180-day window ending
there and gates the label (`trainer.window`), and trains the architecture
named in its custom_config (`trainer.architectures`: the 1D-CNN of Part 3 of
the training, TempCNN, a GRU or a Transformer encoder). The exported model serves raw examples (`trainer.signatures`).
"""

import json
import time
from typing import Dict, List, Optional, Tuple

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras  # TFT's transform layer is a Keras 2 (tf_keras) layer.
from tfx import v1 as tfx
from tfx_bsl.public import tfxio
# pylint: disable=g-direct-tensorflow-import
from tensorflow.python.autograph.core import config as autograph_config
# pylint: enable=g-direct-tensorflow-import

from croptfx import features
from croptfx import outputs
from croptfx import records
from croptfx.trainer import architectures
from croptfx.trainer import hparams as hparams_lib
from croptfx.trainer import signatures
from croptfx.trainer import window

# TF 2.16's AutoGraph skips `keras` but not `tf_keras`, so every first
# training step transpiled ~1,300 Keras functions (35-55 s on 2 cores);
# declaring tf_keras graph-ready makes it ~2 s. Later TF versions do this.
if not any(getattr(rule, '_prefix', None) == 'tf_keras'
           for rule in autograph_config.CONVERSION_RULES):
  autograph_config.CONVERSION_RULES = (
      (autograph_config.DoNotConvert('tf_keras'),) + autograph_config.CONVERSION_RULES)


def _drop_excluded(batch: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """Removes double crops (excluded rows) from a batch."""
  keep = tf.reshape(tf.equal(batch[features.EXCLUDED], 0), [-1])
  return {k: tf.boolean_mask(v, keep) for k, v in batch.items()}


def input_fn(file_pattern: List[str],
             data_accessor: tfx.components.DataAccessor,
             tf_transform_output: tft.TFTransformOutput,
             batch_size: int,
             as_of_day: Optional[int] = None,
             shuffle: bool = True,
             num_epochs: Optional[int] = None,
             seed: Optional[int] = None) -> tf.data.Dataset:
  """(window inputs, gated label) batches from transformed examples.

  Args:
    file_pattern: transformed example files (fn_args.train_files / eval_files).
    data_accessor: the Trainer's DataAccessor.
    tf_transform_output: the Transform output (its transformed schema).
    batch_size: examples per batch before double crops are dropped.
    as_of_day: a fixed as-of day of year (1-based) for evaluation; None draws a
      random as-of bin per example every time it is read (training).
    shuffle: shuffle the examples.
    num_epochs: passes over the data; None repeats forever.
    seed: shuffle and as-of draw seed.
  """
  # A parallel interleave over a single file (what the DirectRunner writes)
  # only adds a hand-off per record: it cut the read rate by a third in
  # `croptfx bench`. None reads sequentially, in the same order.
  patterns = [file_pattern] if isinstance(file_pattern, str) else file_pattern
  num_files = sum(len(tf.io.gfile.glob(p)) for p in patterns)
  reader_num_threads = tf.data.AUTOTUNE if num_files > 1 else None
  dataset = data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(
          batch_size=batch_size, shuffle=shuffle, num_epochs=num_epochs,
          shuffle_seed=seed, shuffle_buffer_size=max(1000, 8 * batch_size),
          reader_num_threads=reader_num_threads),
      tf_transform_output.transformed_metadata.schema)
  dataset = dataset.map(_drop_excluded, num_parallel_calls=tf.data.AUTOTUNE)

  def to_model_inputs(batch):
    if as_of_day is None:
      as_of_bin = window.draw_as_of_bins(batch[features.FIRST_BIN], batch[features.LAST_BIN])
    else:
      as_of_bin = window.as_of_bins_for_day(as_of_day, batch[features.LABEL])
    return window.apply_window(batch, as_of_bin)

  # Random draws happen here, per example and per epoch, vectorized per batch.
  dataset = dataset.map(to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
      tf.data.AUTOTUNE)
  options = tf.data.Options()
  # No autotuning thread. Deleting an iterator waits for its optimization
  # loop, which sleeps up to a minute between passes: `fit` returned up to
  # 50 s after its last epoch, at random (BENCHMARKS.md, "The Trainer's
  # missing minute"). AUTOTUNE then means the default parallelism (the
  # cores) and a prefetch buffer that grows when the model waits.
  options.autotune.enabled = False
  if shuffle:
    # Shuffled batches may leave the parallel maps in any order: a slow
    # batch does not hold up the ones behind it. Evaluation keeps its order.
    options.deterministic = False
  return dataset.with_options(options)


def build_keras_model(hparams: hparams_lib.HParams, train_steps: Optional[int] = None) -> keras.Model:
  """The architecture `hparams.model` (trainer.architectures), compiled.

  With `train_steps` the learning rate decays to zero over them (cosine):
  the last epochs settle instead of jumping between minima (BENCHMARKS.md).
  """
  model = architectures.build(hparams.model, hparams.model_config)
  learning_rate = hparams.learning_rate
  if train_steps:
    learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, train_steps)
  model.compile(
      optimizer=keras.optimizers.Adam(learning_rate),
      loss=keras.losses.SparseCategoricalCrossentropy(),
      metrics=[keras.metrics.SparseCategoricalAccuracy(name='accuracy')],
      steps_per_execution=hparams.steps_per_execution)
  return model


# TFX Trainer will call this function.
def run_fn(fn_args: tfx.components.FnArgs):
  """Trains the model and exports it with its serving signatures."""
  hparams = hparams_lib.HParams.from_custom_config(fn_args.custom_config)
  logging.info('Trainer hyperparameters: %s', json.dumps(hparams.to_custom_config()))
  keras.utils.set_random_seed(hparams.seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)

  # num_epochs None repeats the examples before they are batched, so a train
  # split smaller than one batch (60 pixels, batch 128) still gives full
  # batches (tests/test_reliability_splits.py); an empty split never gets
  # here (the ExampleGen stops the run).
  train_dataset = input_fn(fn_args.train_files, fn_args.data_accessor,
                           tf_transform_output, hparams.batch_size, seed=hparams.seed)
  eval_dataset = input_fn(fn_args.eval_files, fn_args.data_accessor,
                          tf_transform_output, hparams.batch_size,
                          as_of_day=hparams.headline_day, shuffle=False)

  epochs = max(1, min(hparams.epochs, fn_args.train_steps))
  steps_per_epoch = max(1, fn_args.train_steps // epochs)
  model = build_keras_model(hparams, train_steps=epochs * steps_per_epoch)
  model.summary(print_fn=logging.info)
  start = time.monotonic()
  model.fit(
      train_dataset,
      epochs=epochs,
      steps_per_epoch=steps_per_epoch,
      validation_data=eval_dataset,
      validation_steps=fn_args.eval_steps,
      callbacks=[
          keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq='epoch'),
          # Epoch lines go to the run log, not the console of `croptfx run`.
          keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: logging.info(
              'epoch %d/%d: %s', epoch + 1, epochs,
              ', '.join(f'{k}={v:.4f}' for k, v in (logs or {}).items()))),
      ],
      verbose=0)
  fit_seconds = time.monotonic() - start
  # For `croptfx compare`: size and cost of the model (fit time includes the
  # per-epoch validation; examples are batches x batch size drawn).
  outputs.write_training_info(fn_args.model_run_dir, {
      'model': hparams.model, 'params': int(model.count_params()),
      'train_seconds': round(fit_seconds, 2),
      'train_examples': epochs * steps_per_epoch * hparams.batch_size,
      'examples_per_second': round(epochs * steps_per_epoch * hparams.batch_size
                                   / max(fit_seconds, 1e-9), 1)})

  # No traces of the Keras layers' call functions: every consumer (TFMA, the
  # SeasonEvaluator, serving, `croptfx predict`) calls the signatures, and
  # tracing each layer took 4-5 s of the Trainer (BENCHMARKS.md).
  model.save(fn_args.serving_model_dir, save_format='tf', save_traces=False,
             signatures=signatures.make_signatures(model, tf_transform_output,
                                                   hparams.as_of_days))
  # What a map needs to know of the model beyond its signatures: the as-of
  # days it was trained for (a map outside them is warned about).
  first_day, last_day = trained_as_of_days(fn_args.train_files)
  outputs.write_model_info(fn_args.serving_model_dir, {
      'model': hparams.model, 'as_of_day_range': [first_day, last_day]})


def trained_as_of_days(file_pattern) -> Tuple[int, int]:
  """The first and last as-of day of year training drew windows at: from 30
  days after the earliest first image (`window.draw_as_of_bins`) to the
  latest last image of the kept train examples."""
  patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
  files = [f for pattern in patterns for f in tf.io.gfile.glob(pattern)]
  spec = {k: tf.io.FixedLenFeature([], tf.int64)
          for k in (features.FIRST_BIN, features.LAST_BIN, features.EXCLUDED)}
  low, high = None, None
  for batch in records.tfrecord_dataset(files).batch(4096):
    parsed = tf.io.parse_example(batch, spec)
    keep = (parsed[features.EXCLUDED] == 0).numpy()
    first, last = parsed[features.FIRST_BIN].numpy()[keep], parsed[features.LAST_BIN].numpy()[keep]
    if not len(first):
      continue
    earliest = int(np.minimum(first + features.MIN_BINS_AFTER_FIRST_IMAGE, last).min())
    low = earliest if low is None else min(low, earliest)
    high = int(last.max()) if high is None else max(high, int(last.max()))
  if low is None:
    raise ValueError(f'no kept train examples in {patterns}')
  return features.day_for_as_of_bin(low), features.day_for_as_of_bin(high)
