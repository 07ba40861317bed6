"""ParquetExampleGen: binary-safe Part-1 Parquet -> tf.Examples split by year.

Modules:
  component   ParquetExampleGen (a FileBasedExampleGen) and its spec
  executor    the TFX executor: checks the input, runs the pipeline, records
              the counts in ML Metadata
  transforms  the Beam pipeline (read, validate, encode, quarantine, counts)
  driver      input fingerprint over every file read (caching)
  reader      list input files, check footers, stream normalized batches
  validation  vectorized row checks (reasons and notes)
  encoding    normalized batches -> serialized tf.Examples
  counts      counts.json / quarantine layout, `read_counts`
  splits      the year -> split mapping

Only `component` and `executor` import TFX/TensorFlow, so Beam workers,
prediction and benchmarks stay light; the names below load lazily.
"""

_LAZY = {
    'ParquetExampleGen': 'component',
    'read_counts': 'counts',
}


def __getattr__(name):
  if name in _LAZY:
    import importlib  # pylint: disable=g-import-not-at-top
    module = importlib.import_module(f'{__name__}.{_LAZY[name]}')
    return getattr(module, name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
