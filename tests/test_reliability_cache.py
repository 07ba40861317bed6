"""Cache invalidation: a change re-runs what it feeds and nothing else
(issue 11).

One output directory, runs up to the Trainer with tiny training, in order:
  fresh      everything runs
  unchanged  everything is served from the cache
  input      one Parquet file rewritten with one row changed: the ExampleGen
             and everything downstream re-run
  code       the preprocessing code's fingerprint changes: Transform and
             Trainer re-run, the four upstream components are cached
  parameter  the code as before, train steps change: only the Trainer
             re-runs (Transform is the cached one from before the edit)
Components name their code by module path, so TFX's own cache key does not
see code edits; `croptfx.fingerprint.component_fingerprint` goes into the
exec properties instead. The fingerprint itself is checked on a temporary
package, never on the real tree.
"""

import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from croptfx import features
from croptfx import fingerprint
from croptfx.generate import part1
from croptfx.pipeline import pipeline as pipeline_lib
from tests import test_reliability_helpers as helpers
from tests.conftest import YEARS, run_small_pipeline

PIXELS_PER_YEAR = 30
TRAIN_STEPS = 20
COMPONENTS = helpers.DATA_COMPONENTS + ['Trainer']
UPSTREAM = helpers.DATA_COMPONENTS[:-1]
EDIT = '-edited'


def _change_one_row(data: str):
  """Gives one eval-year row another crop; returns (file, key, new label)."""
  mapping = features.load_label_mapping()
  for name in sorted(os.listdir(data)):
    path = os.path.join(data, name)
    table = pq.read_table(path)
    rows = table.to_pylist()
    for i, row in enumerate(rows):
      label, excluded, _ = mapping.lookup(row[features.CDL])
      if row[features.YEAR] != 2020 or excluded:
        continue
      new_cdl = 'Rice' if label != features.CLASS_NAMES.index('Rice') else 'Corn'
      cdl = table.column(features.CDL).to_pylist()
      cdl[i] = new_cdl
      table = table.set_column(table.column_names.index(features.CDL),
                               features.CDL, pa.array(cdl, pa.string()))
      pq.write_table(table, path)
      key = helpers.pixel_key(row[features.LON], row[features.LAT], 2020)
      return path, key, mapping.lookup(new_cdl)[0]
  raise AssertionError('no eval-year row to change')


def _edited_fingerprint(original):
  def component_fingerprint(modules, files=()):
    modules = list(modules)
    value = original(modules, files)
    return value + EDIT if 'croptfx.preprocessing.preprocessing' in modules else value
  return component_fingerprint


@pytest.fixture(scope='module')
def cache_runs(tmp_path_factory):
  data = str(tmp_path_factory.mktemp('cache_data'))
  part1.write_dataset(data, PIXELS_PER_YEAR, years=YEARS, seed=9, rows_per_file=40)
  output = str(tmp_path_factory.mktemp('cache_run'))

  def run(**kwargs):
    options = dict(train_steps=TRAIN_STEPS, epochs=1,
                   last_component='Trainer')
    options.update(kwargs)
    summary = run_small_pipeline(data, output, **options)
    summary['_states'] = helpers.executions_by_component(output)
    return summary

  runs = {'fresh': run(), 'unchanged': run()}
  changed = _change_one_row(data)
  runs['input'] = run()
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(fingerprint, 'component_fingerprint',
                  _edited_fingerprint(fingerprint.component_fingerprint))
    runs['code'] = run()
  runs['parameter'] = run(train_steps=TRAIN_STEPS + 1)
  return {'output': output, 'runs': runs, 'changed': changed}


def _ran(summary):
  return [c for c in COMPONENTS if c not in summary['cached_components']]


@pytest.mark.pipeline
def test_fresh_run_runs_everything(cache_runs):
  fresh = cache_runs['runs']['fresh']
  assert fresh['cached_components'] == []
  assert sorted(fresh['component_seconds']) == sorted(COMPONENTS)
  assert fresh['rows_read'] == 3 * PIXELS_PER_YEAR


@pytest.mark.pipeline
def test_unchanged_rerun_reuses_everything(cache_runs):
  fresh, again = (cache_runs['runs'][k] for k in ('fresh', 'unchanged'))
  assert again['cached_components'] == COMPONENTS
  progress = [l for l in again['_progress'].splitlines() if l.startswith('[')]
  assert len(progress) == len(COMPONENTS)
  assert all(l.endswith('(cached)') for l in progress), progress
  assert again['artifacts'] == fresh['artifacts']
  assert {c: [s for _, s in runs] for c, runs in again['_states'].items()} == {
      c: ['COMPLETE', 'CACHED'] for c in COMPONENTS}


@pytest.mark.pipeline
def test_one_changed_row_reruns_example_gen_and_everything_after(cache_runs):
  runs = cache_runs['runs']
  before, after = runs['unchanged'], runs['input']
  assert after['cached_components'] == []
  for key in ('examples', 'transformed_examples', 'model'):
    assert after['artifacts'][key] != before['artifacts'][key], key
  assert after['rows_read'] == before['rows_read']
  assert after['examples'] == before['examples']
  # Only that row's label moved: the train year, and so the band
  # statistics, are untouched, every other example is bit-identical.
  _, key, new_label = cache_runs['changed']
  old = helpers.read_transformed(before['artifacts']['transformed_examples'])
  new = helpers.read_transformed(after['artifacts']['transformed_examples'])
  assert after['band_mean'] == before['band_mean']
  (changed,), = [new['eval'][key]]
  assert changed[features.LABEL] == new_label != old['eval'][key][0][
      features.LABEL]
  old['eval'][key][0][features.LABEL] = new_label
  helpers.assert_same_transformed(new, old)


@pytest.mark.pipeline
def test_code_fingerprint_change_reruns_transform_and_trainer(cache_runs):
  runs = cache_runs['runs']
  before, after = runs['input'], runs['code']
  assert after['cached_components'] == UPSTREAM
  assert _ran(after) == ['Transform', 'Trainer']
  assert after['artifacts']['examples'] == before['artifacts']['examples']
  assert (after['artifacts']['transformed_examples'] !=
          before['artifacts']['transformed_examples'])
  # The Transform exec property carries the fingerprint, so it is part of
  # TFX's cache key (here: the edited one, then the real one).
  store = helpers.store_of(cache_runs['output'])
  transform_ids = [i for i, s in after['_states']['Transform']
                   if s == 'COMPLETE']
  configs = [e.custom_properties['custom_config'].string_value
             for e in store.get_executions_by_id(transform_ids)]
  real = fingerprint.component_fingerprint(pipeline_lib.CODE_ENTRY_MODULES['Transform'])
  assert [f'"code_fingerprint": "{real}"' in c for c in configs] == [
      True, True, False]
  assert f'"code_fingerprint": "{real}{EDIT}"' in configs[-1]


@pytest.mark.pipeline
def test_parameter_change_reruns_only_the_trainer(cache_runs):
  runs = cache_runs['runs']
  after = runs['parameter']
  assert after['cached_components'] == helpers.DATA_COMPONENTS
  assert _ran(after) == ['Trainer']
  # The code is back to the real fingerprint, so the cache serves the
  # Transform output made before the edit, not the edited code's.
  assert (after['artifacts']['transformed_examples'] ==
          runs['input']['artifacts']['transformed_examples'] !=
          runs['code']['artifacts']['transformed_examples'])
  models = {runs[k]['artifacts']['model'] for k in ('input', 'code')}
  assert after['artifacts']['model'] not in models


# The fingerprint, on a temporary package.


@pytest.fixture
def probe_package(tmp_path, monkeypatch):
  """A package `fpprobe`: `entry` imports `used` (inside a function), and
  `unused` is imported by nothing."""
  root = tmp_path / 'src' / 'fpprobe'
  root.mkdir(parents=True)
  (root / '__init__.py').write_text('')
  (root / 'entry.py').write_text('def f():\n  from fpprobe import used\n  return used.X\n')
  (root / 'used.py').write_text('X = 1\n')
  (root / 'unused.py').write_text('Y = 1\n')
  monkeypatch.syspath_prepend(str(root.parent))
  yield root
  for name in [m for m in sys.modules if m.split('.')[0] == 'fpprobe']:
    sys.modules.pop(name)


def test_imported_modules_follow_imports_inside_functions(probe_package):
  assert fingerprint.imported_modules(['fpprobe.entry'], package='fpprobe') == [
      'fpprobe', 'fpprobe.entry', 'fpprobe.used']


def test_component_fingerprint_follows_what_the_entry_imports(probe_package):
  def value():
    return fingerprint.component_fingerprint(['fpprobe.entry'], package='fpprobe')
  first = value()
  assert first == value()
  used = probe_package / 'used.py'
  used.write_text('X = 2\n')
  edited = value()
  assert edited != first
  # Content, not modification time: undoing the edit undoes the change.
  used.write_text('X = 1\n')
  assert value() == first
  # A module nothing imports does not count; once imported, it does.
  (probe_package / 'unused.py').write_text('Y = 2\n')
  assert value() == first
  (probe_package / 'entry.py').write_text(
      'from fpprobe import unused\ndef f():\n  from fpprobe import used\n  return used.X\n')
  with_import = value()
  assert with_import not in (first, edited)
  (probe_package / 'unused.py').write_text('Y = 3\n')
  assert value() != with_import


def test_component_fingerprint_covers_data_files(tmp_path):
  mapping = tmp_path / 'mapping.json'
  mapping.write_text('{"mapping": {"Corn": ["Corn"]}}')
  first = fingerprint.component_fingerprint(['croptfx.features'], [str(mapping)])
  mapping.write_text('{"mapping": {"Rice": ["Corn"]}}')
  assert fingerprint.component_fingerprint(['croptfx.features'], [str(mapping)]) != first
  assert fingerprint.component_fingerprint(['croptfx.features'], [None]) == (
      fingerprint.component_fingerprint(['croptfx.features']))


def test_the_pipeline_fingerprints_every_module_a_component_imports():
  modules = fingerprint.imported_modules(pipeline_lib.CODE_ENTRY_MODULES['Transform'])
  for name in ('croptfx.preprocessing.pick', 'croptfx.preprocessing.labels',
               'croptfx.features', 'croptfx.components.transform'):
    assert name in modules
  assert 'croptfx.trainer.model' not in modules


def test_transform_exec_property_carries_the_preprocessing_fingerprint(
    tmp_path):
  from croptfx.pipeline import run as run_lib  # pylint: disable=g-import-not-at-top
  from croptfx.pipeline import run_config  # pylint: disable=g-import-not-at-top
  (tmp_path / 'data').mkdir()
  dsl_pipeline = run_lib.local_pipeline(
      run_config.run_config(str(tmp_path / 'data'), str(tmp_path / 'out'),
                            last_component='Transform'), str(tmp_path / 'out'))
  transform, = [c for c in dsl_pipeline.components if c.id == 'Transform']
  real = fingerprint.component_fingerprint(pipeline_lib.CODE_ENTRY_MODULES['Transform'])
  assert f'"code_fingerprint": "{real}"' in transform.exec_properties[
      'custom_config']
