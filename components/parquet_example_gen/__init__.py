"""ParquetExampleGen: binary-safe Part-1 Parquet -> tf.Examples split by year.

Modules:
  component   ParquetExampleGen (a FileBasedExampleGen) and its spec
  executor    the TFX executor: checks the input, runs the pipeline, records
              the counts in ML Metadata
  transforms  the Beam pipeline (read, validate, encode, duplicate rule,
              quarantine, counts)
  driver      input fingerprint of the content of every file read (caching)
  counts      counts.json (`croptfx.outputs.read_counts` reads it back)
  splits      the year -> split mapping

Reading, checking and encoding rows is `croptfx.rows`, shared with the map and
extraction jobs. Only `component`, `executor` and `driver` import TFX, so Beam
workers, prediction and benchmarks stay light; the component class loads
lazily from here.
"""


def __getattr__(name):
  if name == 'ParquetExampleGen':
    import importlib  # pylint: disable=g-import-not-at-top
    return importlib.import_module(f'{__name__}.component').ParquetExampleGen
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
