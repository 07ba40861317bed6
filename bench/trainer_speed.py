"""Case T: training inside the Trainer against the training step's own limit.

T   examples/s of `model.fit` fed by `trainer.model.input_fn`, as `run_fn`
    trains (same model, compile settings, batch size and Transform output)
T0  examples/s of the same `fit` over batches of that `input_fn` held in
    memory (read once, cached, repeated): the training step alone, the limit
    on this CPU
Both count examples read (before double crops are dropped), so T / T0 is the
share of the limit the Trainer reaches. Rounds alternate the two; the first
epoch of every fit (tracing, filling buffers) is not timed.
"""

import dataclasses
import time
from typing import Dict, List
import tensorflow_transform as tft
import tf_keras as keras
from croptfx.bench import table
from croptfx.trainer import model

# Batches held in memory for T0: enough that batch sizes vary as they do in
# training (double crops dropped), few enough to read in a second.
CACHED_BATCHES = 20
CASES = ('T', 'T0')


@dataclasses.dataclass
class TrainerRates:
  """Examples/s of each case, one per round."""
  rates: Dict[str, List[float]]
  batch_size: int
  steps: int  # timed steps per epoch
  steps_per_execution: int


def _epoch_seconds(model, dataset, steps: int, epochs: int) -> List[float]:
  """Seconds of each epoch of one `fit`, the first (warm-up) left out."""
  seconds = []

  class _Timer(keras.callbacks.Callback):

    def on_epoch_begin(self, epoch, logs=None):
      self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
      seconds.append(time.perf_counter() - self.start)

  model.fit(dataset, epochs=epochs, steps_per_epoch=steps, callbacks=[_Timer()],
            verbose=0)
  return seconds[1:]


def trainer_rate(fn_args, hparams, in_memory: bool, steps: int,
                 timed_epochs: int = 2) -> float:
  """Examples/s of one fresh model trained as `run_fn` trains it (T or T0)."""
  dataset = model.input_fn(fn_args.train_files, fn_args.data_accessor,
                           tft.TFTransformOutput(fn_args.transform_graph_path),
                           hparams.batch_size, seed=hparams.seed)
  if in_memory:
    dataset = dataset.take(CACHED_BATCHES).cache().repeat()
  keras_model = model.build_keras_model(hparams)
  seconds = _epoch_seconds(keras_model, dataset, steps, 1 + timed_epochs)
  return steps * hparams.batch_size / table.median(seconds)


def rates(fn_args, hparams, rounds: int, steps: int, log) -> TrainerRates:
  """T and T0 in `rounds` rounds, alternating which goes first."""
  result = {name: [] for name in CASES}
  for r in range(rounds):
    names = CASES if r % 2 == 0 else CASES[::-1]
    with log.step(f'  round {r + 1}/{rounds} ({", ".join(names)})'):
      for name in names:
        result[name].append(trainer_rate(fn_args, hparams, name == 'T0', steps))
  return TrainerRates(result, hparams.batch_size, steps, hparams.steps_per_execution)
