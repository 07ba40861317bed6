"""The pipeline's Beam part: ParquetExampleGen + Transform, as `croptfx run`.

Runs the two real TFX executors on the DirectRunner with the Beam arguments
`croptfx run` gives them (`jobs.runners.direct_args`), the
preprocessing_fn by module path and Transform statistics on or off
(`croptfx run`: `pipeline.configs.TRANSFORM_STATISTICS`), the records
uncompressed or GZIP (`croptfx run`: `pipeline.configs.COMPRESS_EXAMPLES`),
and times each. The raw schema is what SchemaGen infers ([1]-shaped features);
StatisticsGen, SchemaGen and ExampleValidator are not part of the timing.

Also a command, so memory can be measured in a fresh process per data size:

  python -m bench.beam_part --data DIR --output DIR --result FILE.json [--compress-examples]
"""

import argparse
import dataclasses
import json
import os
import resource
import sys
import time
from typing import Any, Dict, List, Optional

from tensorflow_transform.tf_metadata import schema_utils
from tfx.components.example_gen import utils as eg_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.proto import transform_pb2
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.utils import io_utils
from tfx.utils import proto_utils
# Imported before the RSS baseline is taken (`main`), so the baseline holds
# the libraries and the steps' peaks are the data's.
import apache_beam  # pylint: disable=unused-import
import tensorflow as tf
import tensorflow_transform  # pylint: disable=unused-import

from croptfx.components.parquet_example_gen import executor as eg_executor
from croptfx.components.parquet_example_gen import splits as splits_lib
from croptfx.components import transform as tx_executor
from croptfx import features
from croptfx import outputs
from croptfx.jobs import runners
from croptfx.pipeline import configs


@dataclasses.dataclass
class BeamPartResult:
  """Seconds per step (executor set-up is inside the step that pays it)."""
  example_gen_seconds: float
  transform_seconds: float
  # Constructing each executor: TFX packs itself into an sdist for Beam
  # workers whenever Beam arguments are given (also on the DirectRunner).
  executor_init_seconds: float
  examples_uri: str
  transform_graph_uri: str
  transformed_examples_uri: str
  counts: Dict[str, Any]
  baseline_rss: int = 0  # bytes after imports, before the first step
  max_rss_self: int = 0  # bytes, ru_maxrss of this process
  max_rss_children: int = 0  # bytes, ru_maxrss of its largest child


def _artifact(cls, uri: str):
  artifact = cls()
  artifact.uri = uri
  return artifact


def write_raw_schema(schema_dir: str) -> None:
  """The raw schema as SchemaGen infers it (infer_feature_shape=True)."""
  spec = {key: tf.io.FixedLenFeature([1], value.dtype)
          for key, value in features.raw_feature_spec().items()}
  io_utils.write_pbtxt_file(os.path.join(schema_dir, 'schema.pbtxt'),
                            schema_utils.schema_from_feature_spec(spec))


def run(data_dir: str, output_dir: str, workers: int = 1,
        statistics: bool = True,
        beam_args: Optional[List[str]] = None,
        compress: bool = configs.COMPRESS_EXAMPLES) -> BeamPartResult:
  """ExampleGen then Transform on `data_dir`; artifacts under `output_dir`."""
  # Beam before TFX: some TFX modules import a partly initialized Beam.

  beam_args = list(beam_args if beam_args is not None else
                   runners.direct_args(workers))
  year_splits = dict(configs.YEAR_SPLITS)
  split_names = splits_lib.split_names(year_splits)

  def context():
    return base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=list(beam_args), tmp_dir=output_dir)

  examples = _artifact(standard_artifacts.Examples,
                       os.path.join(output_dir, 'examples'))
  start = time.perf_counter()
  example_gen = eg_executor.Executor(context())
  init_seconds = time.perf_counter() - start
  example_gen.Do({}, {specs.EXAMPLES_KEY: [examples]}, {
      specs.INPUT_BASE_KEY: data_dir,
      specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(
          eg_utils.make_default_input_config()),
      specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(
          example_gen_pb2.Output()),
      specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
      specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
      eg_executor.YEAR_SPLITS_KEY: splits_lib.year_splits_json(year_splits),
      eg_executor.COMPRESS_EXAMPLES_KEY: int(compress),
  })
  example_gen_seconds = time.perf_counter() - start

  schema = _artifact(standard_artifacts.Schema,
                     os.path.join(output_dir, 'schema'))
  os.makedirs(schema.uri, exist_ok=True)
  write_raw_schema(schema.uri)
  outs = {
      specs.TRANSFORM_GRAPH_KEY: standard_artifacts.TransformGraph,
      specs.TRANSFORMED_EXAMPLES_KEY: standard_artifacts.Examples,
      specs.PRE_TRANSFORM_SCHEMA_KEY: standard_artifacts.Schema,
      specs.PRE_TRANSFORM_STATS_KEY: standard_artifacts.ExampleStatistics,
      specs.POST_TRANSFORM_SCHEMA_KEY: standard_artifacts.Schema,
      specs.POST_TRANSFORM_STATS_KEY: standard_artifacts.ExampleStatistics,
      specs.POST_TRANSFORM_ANOMALIES_KEY: standard_artifacts.ExampleAnomalies,
  }
  output_dict = {key: [_artifact(cls, os.path.join(output_dir, key))]
                 for key, cls in outs.items()}
  start = time.perf_counter()
  transform = tx_executor.Executor(context())
  init_seconds += time.perf_counter() - start
  transform.Do(
      {specs.EXAMPLES_KEY: [examples], specs.SCHEMA_KEY: [schema]},
      output_dict, {
          specs.PREPROCESSING_FN_KEY: configs.PREPROCESSING_FN,
          specs.SPLITS_CONFIG_KEY: proto_utils.proto_to_json(
              transform_pb2.SplitsConfig(analyze=[features.TRAIN_SPLIT],
                                         transform=split_names)),
          specs.CUSTOM_CONFIG_KEY: json.dumps({
              'label_mapping': None, tx_executor.COMPRESS_EXAMPLES_KEY: compress}),
          specs.DISABLE_STATISTICS_KEY: int(not statistics),
      })
  transform_seconds = time.perf_counter() - start
  return BeamPartResult(
      example_gen_seconds=example_gen_seconds,
      transform_seconds=transform_seconds,
      executor_init_seconds=init_seconds,
      examples_uri=examples.uri,
      transform_graph_uri=output_dict[specs.TRANSFORM_GRAPH_KEY][0].uri,
      transformed_examples_uri=(
          output_dict[specs.TRANSFORMED_EXAMPLES_KEY][0].uri),
      counts=outputs.read_counts(examples.uri))


def _self_rss() -> int:
  with open('/proc/self/statm', 'rb') as f:
    return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--data', required=True)
  parser.add_argument('--output', required=True)
  parser.add_argument('--result', required=True, help='JSON file to write')
  parser.add_argument('--workers', type=int, default=1)
  parser.add_argument('--no-statistics', action='store_true')
  parser.add_argument('--compress-examples', action='store_true',
                      help='GZIP TFRecords (default: configs.COMPRESS_EXAMPLES)')
  args = parser.parse_args(argv)
  # Import what the run needs first, so the baseline holds the libraries.
  baseline = _self_rss()
  result = run(args.data, args.output, workers=args.workers,
               statistics=not args.no_statistics,
               compress=args.compress_examples or configs.COMPRESS_EXAMPLES)
  result.baseline_rss = baseline
  result.max_rss_self = resource.getrusage(
      resource.RUSAGE_SELF).ru_maxrss * 1024
  result.max_rss_children = resource.getrusage(
      resource.RUSAGE_CHILDREN).ru_maxrss * 1024
  with open(args.result, 'w', encoding='utf-8') as f:
    json.dump(dataclasses.asdict(result), f, indent=1)
  return 0


if __name__ == '__main__':
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  sys.exit(main())
