"""TFRecords between components: uncompressed by default, GZIP when asked.

The ExampleGen and the Transform (`components/transform.py`) run as
`croptfx run` runs them (`bench.beam_part`), once uncompressed and once GZIP
(the GZIP Transform is TFX's own code path); both ways must hold exactly the
same serialized records, and every reader takes the compression from the
file names (`croptfx.artifacts.record_compression`).
"""

import collections
import gzip
import os

import pytest
import tensorflow as tf

from croptfx import features
from croptfx import layouts
from croptfx import records
from croptfx.pipeline import configs
from tests.conftest import generated_data

GZIP_MAGIC = b'\x1f\x8b'


def test_record_compression_from_names():
  assert records.record_compression(['a/x-00000-of-00002.gz', 'b/y.gz']) == 'GZIP'
  assert records.record_compression(['a/x-00000-of-00001', 'a/gz']) == ''
  assert records.record_compression([]) == ''
  with pytest.raises(ValueError, match=r'mix GZIP \(a\.gz\) and uncompressed \(b\)'):
    records.record_compression(['a.gz', 'b'])


def test_tfrecord_dataset_reads_both(tmp_path):
  serialized = [b'first', b'', b'\x1f\x8b not gzip']
  for name, options in (('plain', None), ('zipped.gz', 'GZIP')):
    with tf.io.TFRecordWriter(str(tmp_path / name), options=options) as writer:
      for record in serialized:
        writer.write(record)
  for name in ('plain', 'zipped.gz'):
    got = [r.numpy() for r in records.tfrecord_dataset([tmp_path / name])]
    assert got == serialized
  # Uncompressed TFRecords: 8 bytes length, 4 CRC, the record, 4 CRC.
  assert os.path.getsize(tmp_path / 'plain') == sum(16 + len(r) for r in serialized)


def _records(uri, canonical=False):
  """{split: [serialized records, sorted]} and {split: [file names]}.

  `canonical`: each Example re-serialized with sorted map keys (TFX's
  Transform encodes the feature map in hash order, which changes from run
  to run; the ExampleGen's bytes are canonical already).
  """
  serialized, names = {}, {}
  for split in records.split_dirs(uri):
    files = records.split_files(uri, split)
    names[split] = [os.path.basename(f) for f in files]
    serialized[split] = sorted(
        tf.train.Example.FromString(r.numpy()).SerializeToString(deterministic=True)
        if canonical else r.numpy() for r in records.tfrecord_dataset(files))
  return serialized, names


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """ExampleGen + Transform on 30 generated pixels x 3 years, both ways."""
  from croptfx.bench import beam_part  # pylint: disable=g-import-not-at-top
  tmp, data_dir = generated_data(tmp_path_factory, 'records', 30, seed=5, rows_per_file=40)
  return {compress: beam_part.run(data_dir, str(tmp / f'out-{compress}'),
                                  statistics=False, compress=compress)
          for compress in (False, True)}


@pytest.mark.pipeline
def test_example_gen_writes_uncompressed_by_default_and_gzip_when_asked(runs):
  plain, plain_names = _records(runs[False].examples_uri)
  zipped, zipped_names = _records(runs[True].examples_uri)
  splits = list(configs.YEAR_SPLITS.values())
  assert sorted(plain) == sorted(zipped) == sorted(splits)
  for split in splits:
    # Two files a split: the rows without copies, the ones the duplicate rule kept.
    assert plain_names[split] == ['data_tfrecord-00000-of-00001',
                                  'data_tfrecord_resolved-00000-of-00001']
    assert zipped_names[split] == [n + '.gz' for n in plain_names[split]]
    # Byte-identical payload, as many records as counts.json says.
    assert plain[split] == zipped[split]
    assert len(plain[split]) == runs[False].counts['examples'][split] == (
        runs[True].counts['examples'][split])
    directory = layouts.split_dir(runs[False].examples_uri, split)
    for name in plain_names[split]:
      with open(os.path.join(directory, name), 'rb') as f:
        assert f.read(2) != GZIP_MAGIC
    assert sum(os.path.getsize(os.path.join(directory, n)) for n in plain_names[split]) == sum(
        16 + len(r) for r in plain[split])
    zipped_directory = layouts.split_dir(runs[True].examples_uri, split)
    for name in plain_names[split]:
      with gzip.open(os.path.join(zipped_directory, name + '.gz'), 'rb') as f:
        assert len(f.read()) == os.path.getsize(os.path.join(directory, name))
  assert sum(len(v) for v in plain.values()) == 90 - sum(
      runs[False].counts['quarantined'].values())


@pytest.mark.pipeline
def test_transform_writes_the_same_records_uncompressed(runs):
  """The uncompressed Transform output holds exactly the records of TFX's
  own GZIP path (`components.transform.Executor` delegates to it)."""
  plain, plain_names = _records(runs[False].transformed_examples_uri, canonical=True)
  zipped, zipped_names = _records(runs[True].transformed_examples_uri, canonical=True)
  assert sorted(plain) == sorted(zipped) == sorted(configs.YEAR_SPLITS.values())
  for split in plain:
    assert plain_names[split] == ['transformed_examples-00000-of-00001']
    assert zipped_names[split] == ['transformed_examples-00000-of-00001.gz']
    assert plain[split] == zipped[split]
    assert len(plain[split]) == runs[False].counts['examples'][split]
    path = os.path.join(layouts.split_dir(runs[False].transformed_examples_uri, split),
                        plain_names[split][0])
    assert os.path.getsize(path) == sum(16 + len(r) for r in plain[split])  # same lengths
  # Real transformed examples: every key of the transformed spec, one per pixel.
  parsed = records.read_examples(
      layouts.split_dir(runs[False].transformed_examples_uri, features.TRAIN_SPLIT),
      features.transformed_feature_spec())
  keys = collections.Counter(zip(parsed[features.LON].reshape(-1).tolist(),
                                 parsed[features.LAT].reshape(-1).tolist()))
  assert len(keys) == runs[False].counts['examples'][features.TRAIN_SPLIT]
  assert set(keys.values()) == {1}


def test_transform_executor_reads_compress_examples_from_custom_config():
  from croptfx.components import transform  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_component_specs as specs  # pylint: disable=g-import-not-at-top
  assert transform.compress_examples({}) is False
  assert transform.compress_examples({specs.CUSTOM_CONFIG_KEY: None}) is False
  assert transform.compress_examples(
      {specs.CUSTOM_CONFIG_KEY: '{"label_mapping": null}'}) is False
  assert transform.compress_examples(
      {specs.CUSTOM_CONFIG_KEY: '{"compress_examples": true}'}) is True
  assert transform.Transform.EXECUTOR_SPEC.executor_class is transform.Executor
