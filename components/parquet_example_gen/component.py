"""ParquetExampleGen: the project's binary-safe, year-split ExampleGen.

Stock ParquetExampleGen decodes binary columns as UTF-8 and fails on the
packed bands. This component reads the Part-1 Parquet rows (a directory,
Hive partitions, a glob or a cloud URI), writes raw tf.Examples split by
season year, quarantines bad rows with a reason and records the counts (see
`executor` and `counts`).

It subclasses FileBasedExampleGen, so the Kubeflow Pipelines v2 compiler
treats it as a file-based ExampleGen; its parameters are plain exec
properties (`year_splits` as JSON), so it compiles and caches like one.

  example_gen = ParquetExampleGen(input_base='gs://bucket/pixels',
                                  year_splits={2021: 'train', 2020: 'eval'})
"""

from typing import Mapping, Optional, Union

from tfx import types
from tfx.components.example_gen import component
from tfx.components.example_gen import utils
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.types.component_spec import ExecutionParameter

from croptfx.components.parquet_example_gen import driver
from croptfx.components.parquet_example_gen import executor
from croptfx.components.parquet_example_gen import splits


CODE_FINGERPRINT_KEY = 'code_fingerprint'


class ParquetExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
  """FileBasedExampleGen's spec plus the year split and label mapping."""

  PARAMETERS = {
      **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
      # JSON {"2021": "train", ...}; a str so every orchestrator carries it.
      executor.YEAR_SPLITS_KEY: ExecutionParameter(type=str),
      # CDL mapping file for the unknown_cdl count; default the bundled one.
      executor.LABEL_MAPPING_KEY: ExecutionParameter(type=str, optional=True),
      executor.BATCH_ROWS_KEY: ExecutionParameter(type=int, optional=True),
      # 1: GZIP TFRecords; 0 or absent: uncompressed (an int, as TFX's own
      # flags such as Transform's disable_statistics).
      executor.COMPRESS_EXAMPLES_KEY: ExecutionParameter(type=int, optional=True),
      # Fingerprint of the reading code: part of the cache key, so a code
      # change re-runs the component (the executor does not read it).
      CODE_FINGERPRINT_KEY: ExecutionParameter(type=str, optional=True),
  }


class ParquetExampleGen(component.FileBasedExampleGen):
  """Part-1 Parquet -> raw tf.Examples split by year, bad rows quarantined.

  Outputs `examples` (standard Examples) with splits named by `year_splits`
  (train, eval, test first), plus `quarantine/` and `counts.json` inside the
  artifact and the counts as custom properties.
  """

  SPEC_CLASS = ParquetExampleGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
  DRIVER_CLASS = driver.Driver

  def __init__(self,
               input_base: str,
               year_splits: Union[Mapping[int, str], str],
               compress_examples: bool,
               label_mapping: Optional[str] = None,
               batch_rows: Optional[int] = None,
               code_fingerprint: Optional[str] = None):
    """Constructs a ParquetExampleGen.

    Args:
      input_base: a directory (read recursively, Hive partitions included),
        a glob (`*`, or `**` across directories) or a file; local, `gs://`
        or `s3://`.
      year_splits: season year -> split name (or its JSON); rows of other
        years are quarantined as `year_not_in_splits` (`croptfx run`
        passes pipeline/configs.py YEAR_SPLITS unless told otherwise).
      label_mapping: CDL mapping file (see `croptfx.features`) used to count
        unknown CDL names; default the bundled mapping.
      batch_rows: rows per record batch read (bounds worker memory); default
        `reader.DEFAULT_BATCH_ROWS`.
      code_fingerprint: changes when the code reading the data changes, so
        that TFX's cache does not serve results of older code.
      compress_examples: write the splits as GZIP TFRecords (`.gz`) instead
        of uncompressed ones (`pipeline.configs.COMPRESS_EXAMPLES`).
    """
    year_splits = splits.parse_year_splits(year_splits)
    names = splits.split_names(year_splits)
    # Mirrors the splits in output_config for tools that read it; the
    # executor splits by year, never by hash.
    output_config = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=1)
            for name in names
        ]))
    spec = ParquetExampleGenSpec(
        input_base=input_base,
        input_config=utils.make_default_input_config(),
        output_config=output_config,
        custom_config=None,
        range_config=None,
        output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
        # TFX 1.16's only TFRecord file format; the readers take the
        # compression from the file names (`compress_examples` sets them).
        output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        year_splits=splits.year_splits_json(year_splits),
        label_mapping=label_mapping,
        batch_rows=batch_rows,
        code_fingerprint=code_fingerprint,
        compress_examples=int(bool(compress_examples)),
        examples=types.Channel(type=standard_artifacts.Examples))
    # FileBasedExampleGen.__init__ would build its own spec without our
    # parameters, so initialize the Beam component directly.
    base_beam_component.BaseBeamComponent.__init__(self, spec=spec)
