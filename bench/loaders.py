"""Cases B and C: the Trainer's input_fn and the raw-read limit, and a timer.

B builds `fn_args` the way TFX's Trainer does (`fn_args_utils.
get_common_fn_args` over the Transform's artifacts), so `input_fn` reads
through the same DataAccessor (`tfxio_utils` TFExampleRecord factory) as in
the pipeline. C reads the same TFRecords with `tf.data` and no
parsing, batched like B so both pay the same per-batch Python cost.

The records are the Transform's own files: uncompressed as `croptfx run`
writes them (`pipeline.configs.COMPRESS_EXAMPLES`). B and C are also run over
a copy in the other compression (GZIP, or inflated when the pipeline wrote
GZIP), to show what it costs (reported, not judged).
"""

import dataclasses
import gzip
import os
import resource
import shutil
import time
from typing import Callable, List, Optional, Sequence

import tensorflow as tf

from tfx.components.trainer import fn_args_utils
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.proto import trainer_pb2
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.utils import proto_utils
import tensorflow_transform as tft

from croptfx import features
from croptfx import layouts
from croptfx import records
from croptfx.trainer import model


def trainer_fn_args(transformed_examples_uri: str, transform_graph_uri: str):
  """FnArgs as the Trainer executor builds them (train and eval splits)."""
  examples = standard_artifacts.Examples()
  examples.uri = transformed_examples_uri
  examples.split_names = artifact_utils.encode_split_names(
      sorted(records.split_dirs(transformed_examples_uri)))
  # As the Transform executor records it in ML Metadata.
  examples_utils.set_payload_format(examples,
                                    example_gen_pb2.FORMAT_TF_EXAMPLE)
  graph = standard_artifacts.TransformGraph()
  graph.uri = transform_graph_uri
  fn_args = fn_args_utils.get_common_fn_args(
      {specs.EXAMPLES_KEY: [examples], specs.TRANSFORM_GRAPH_KEY: [graph]},
      {specs.TRAIN_ARGS_KEY: proto_utils.proto_to_json(
          trainer_pb2.TrainArgs(splits=[features.TRAIN_SPLIT])),
       specs.EVAL_ARGS_KEY: proto_utils.proto_to_json(
           trainer_pb2.EvalArgs(splits=[features.EVAL_SPLIT]))})
  # The Trainer executor sets the deprecated alias too; run_fn reads it.
  fn_args.transform_output = fn_args.transform_graph_path
  return fn_args


def trainer_dataset(fn_args, batch_size: int, seed: Optional[int] = None,
                    files: Optional[Sequence[str]] = None) -> tf.data.Dataset:
  """B: `trainer.model.input_fn` in training mode (random as-of dates).

  `files` replaces the train split's files (e.g. a copy in the other
  compression).
  """
  return model.input_fn(list(files) if files else fn_args.train_files,
                        fn_args.data_accessor,
                        tft.TFTransformOutput(fn_args.transform_graph_path),
                        batch_size, seed=seed)


def raw_dataset(files, batch_size: int) -> tf.data.Dataset:
  """C: the records of `files` (compression from their names), batched,
  never parsed."""
  return (records.tfrecord_dataset(files)
          .repeat()
          .batch(batch_size)
          .prefetch(tf.data.AUTOTUNE))


def other_compression_copy(files: Sequence[str], out_dir: str) -> List[str]:
  """The TFRecord `files` in `out_dir` in the other compression: GZIP ones
  inflated, uncompressed ones gzipped (`.gz`, zlib's default level, as Beam
  writes); the same records."""
  os.makedirs(out_dir, exist_ok=True)
  gz = layouts.GZIP_SUFFIX
  inflate = records.record_compression(files) == 'GZIP'
  copies = []
  for path in files:
    name = os.path.basename(path)
    copy = os.path.join(out_dir, name[:-len(gz)] if inflate else name + gz)
    with (gzip.open(path, 'rb') if inflate else open(path, 'rb')) as src, \
        (open(copy, 'wb') if inflate else gzip.open(copy, 'wb', compresslevel=6)) as dst:
      shutil.copyfileobj(src, dst, 2**20)
    copies.append(copy)
  return copies


def batch_size_of(element) -> int:
  """Examples in one batch: (features, labels) pairs or a tensor."""
  if isinstance(element, tuple):
    element = element[-1]
  return int(element.shape[0])


@dataclasses.dataclass
class Throughput:
  examples: int
  seconds: float
  cpu_seconds: float = 0.0  # this process, every thread, while timed

  @property
  def per_second(self) -> float:
    return self.examples / self.seconds if self.seconds else 0.0

  @property
  def cpu_per_example(self) -> float:
    """CPU seconds per example: the work, whatever the parallelism."""
    return self.cpu_seconds / self.examples if self.examples else 0.0


def _cpu_seconds() -> float:
  usage = resource.getrusage(resource.RUSAGE_SELF)
  return usage.ru_utime + usage.ru_stime


def measure_throughput(make_dataset: Callable[[], tf.data.Dataset], seconds: float,
            warmup_batches: int = 5) -> Throughput:
  """Examples per second of a fresh dataset after a warm-up.

  The warm-up (first batches: graph tracing, file opening, filling the
  shuffle and prefetch buffers) is excluded; then batches are pulled for at
  least `seconds`.
  """
  iterator = iter(make_dataset())
  for _ in range(warmup_batches):
    next(iterator)
  count = 0
  start, cpu = time.perf_counter(), _cpu_seconds()
  while True:
    count += batch_size_of(next(iterator))
    elapsed = time.perf_counter() - start
    if elapsed >= seconds:
      return Throughput(count, elapsed, _cpu_seconds() - cpu)
