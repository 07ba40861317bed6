"""Odd arguments: refused at parse time or before any work, in one line (issue 15).

Every numeric argument is checked by argparse (`croptfx/cli.py`); where
outputs go and what `--model` is are checked before the pipeline or a
prediction starts. Each case runs the CLI in a child process, as a user
does (nothing imports the CLI), and asserts the exit status, the single
stderr line and that nothing was written.
"""

import concurrent.futures
import json
import os
import subprocess
import sys

import pytest

from tests import test_reliability_helpers as helpers


def _cli(argv, cwd=None):
  """(exit status, stderr lines, stdout) of `croptfx argv` in a child process."""
  result = subprocess.run([sys.executable, '-m', 'croptfx.cli', *argv], cwd=cwd,
                          capture_output=True, text=True, env=helpers.child_env(),
                          timeout=300)
  return (result.returncode, [l for l in result.stderr.splitlines() if l.strip()],
          result.stdout)


RUN = ['run', '--data', 'data', '--output', 'out']
PREDICT = ['predict', '--model', 'm', '--data', 'd', '--as-of', '2021-06-01',
           '--output', 'o.parquet']

# (argv, the message after "argument X: ").
BAD_NUMBERS = [
    (RUN + ['--train-steps', '0'], "--train-steps: must be a positive integer, got '0'"),
    (RUN + ['--train-steps', '-3'], "--train-steps: must be a positive integer, got '-3'"),
    (RUN + ['--train-steps', '1.5'], "--train-steps: must be a positive integer, got '1.5'"),
    (RUN + ['--epochs', '0'], "--epochs: must be a positive integer, got '0'"),
    (RUN + ['--workers', '0'], "--workers: must be a positive integer, got '0'"),
    (RUN + ['--blessing-threshold', '1.5'],
     "--blessing-threshold: must be a number from 0 to 1, got '1.5'"),
    (RUN + ['--blessing-threshold', 'nan'],
     "--blessing-threshold: must be a number from 0 to 1, got 'nan'"),
    (['generate', 'o', '--pixels-per-year', '-5'],
     "--pixels-per-year: must be a positive integer, got '-5'"),
    (['generate', 'o', '--pixels-per-year', '5', '--rows-per-file', '0'],
     "--rows-per-file: must be a positive integer, got '0'"),
    (['generate', 'o', '--pixels-per-year', '5', '--seed', '-1'],
     "--seed: must be an integer >= 0, got '-1'"),
    (PREDICT + ['--batch-size', '0'], "--batch-size: must be a positive integer, got '0'"),
    (PREDICT + ['--batch-size', '-3'], "--batch-size: must be a positive integer, got '-3'"),
    (['bench', '--pixels-per-year', '0'],
     "--pixels-per-year: must be a positive integer, got '0'"),
    (['compile', '--output', 's.json', '--pipeline-root', 'gs://b/r', '--data', 'gs://b/d',
      '--train-steps', '0'], "--train-steps: must be a positive integer, got '0'"),
    (PREDICT[:6] + ['2018-02-30', '--output', 'o.parquet'],
     "--as-of: must be a date YYYY-MM-DD, got '2018-02-30'"),
]

BAD_SPLITS = [
    (RUN + ['--years', '2021,2020', '--year-splits', '2021=train,2020=eval'],
     '--year-splits: not allowed with argument --years'),
    (RUN + ['--year-splits', '2021=train,2020=eval,2021=test'],
     "--year-splits: year 2021 is given twice in '2021=train,2020=eval,2021=test'"),
    (RUN + ['--years', '2021,2020,2021'], "--years: year 2021 is given twice in '2021,2020,2021'"),
    (RUN + ['--years', '2021'], "--years: takes two or three years (train,eval[,test]), got '2021'"),
    (RUN + ['--years', '2021,2020,2019,2018'],
     "--years: takes two or three years (train,eval[,test]), got '2021,2020,2019,2018'"),
    (RUN + ['--year-splits', '2021=train,2020=train'],
     '--year-splits: year splits need at least two split names (a train and an eval split)'),
    (RUN + ['--year-splits', '2021=a/b,2020=eval'],
     "--year-splits: split name 'a/b' must be letters, digits"),
    (RUN + ['--year-splits', '2021'], "--year-splits: takes YEAR=SPLIT pairs"),
]

# An empty path would mean the current directory (`run --output ''` would
# write a whole run there): every path and value argument refuses it.
MAP = ['map', '--model', 'm', '--data', 'd', '--as-of', '2021-06-01', '--output', 'o']
EXTRACT = ['extract', '--items', 'i.json', '--labels', '2021=c.tif', '--output', 'o']
COMPILE = ['compile', '--output', 's.json', '--pipeline-root', 'gs://b/r', '--data', 'gs://b/d']
BLANK_PATHS = [
    (argv[:i + 1] + [blank] + argv[i + 2:], f"{argv[i]}: must be a path or URI, got '{blank}'")
    for argv in (RUN, PREDICT, MAP, EXTRACT, COMPILE)
    for i in range(len(argv) - 1)
    if argv[i] in ('--data', '--output', '--model', '--items', '--pipeline-root')
    for blank in ('', ' ')
] + [
    (['generate', '', '--pixels-per-year', '5'], "out: must be a path or URI, got ''"),
    (['compare', '', '--output', 'c.html'], "RUN_DIR: must be a path or URI, got ''"),
    (MAP + ['--reference', ''], "--reference: must be a path or URI, got ''"),
    (MAP + ['--like', ''], "--like: must be a path or URI, got ''"),
    (RUN + ['--label-mapping', ''], "--label-mapping: must be a path or URI, got ''"),
    (COMPILE + ['--project', ''], "--project: must be a non-empty value, got ''"),
    (EXTRACT[:4] + ['2021='] + EXTRACT[5:], "--labels: takes YEAR=PATH pairs"),
    # Checking a CRS imports libraries that warn at import: still one line.
    (MAP + ['--grid-crs', 'EPSG:999999'], '--grid-crs: not a CRS pyproj knows'),
    (EXTRACT + ['--aoi', ''],
     "--aoi: must be WEST,SOUTH,EAST,NORTH or a GeoJSON file, got ''"),
]


@pytest.mark.parametrize('argv,message', BAD_NUMBERS + BAD_SPLITS + BLANK_PATHS,
                         ids=lambda x: ' '.join(x) if isinstance(x, list) else None)
def test_bad_arguments_are_refused_at_parse_time_in_one_line(tmp_path, argv, message):
  status, lines, out = _cli(argv, cwd=tmp_path)  # nothing may appear there
  assert status == 2
  assert len(lines) == 1, lines
  assert lines[0].startswith(f'croptfx {argv[0]}: error: argument {message}'), lines[0]
  assert lines[0].endswith(f'(see croptfx {argv[0]} --help)')
  assert out == ''
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('argv,error', [
    (RUN + ['--train-steps', '1', '--epochs', '2', '--workers', '3',
            '--blessing-threshold', '0', '--year-splits', '2021=fit,2020=valid,2019=holdout'],
     'croptfx run: error: data: no such file or directory'),
    (RUN + ['--years', '2020,2019', '--blessing-threshold', '1'],
     'croptfx run: error: data: no such file or directory'),
    (PREDICT + ['--batch-size', '1'], 'croptfx predict: error: m: no such model directory'),
])
def test_good_values_pass_parsing(tmp_path, argv, error):
  # Accepted: the command gets past argparse to its first check of the paths.
  status, lines, _ = _cli(argv, cwd=tmp_path)
  assert (status, lines) == (2, [error])
  assert os.listdir(tmp_path) == []


def test_the_console_script_prints_one_line(tmp_path):
  result = subprocess.run([helpers.CROPTFX, 'run', '--data', str(tmp_path), '--output',
                           str(tmp_path / 'out'), '--train-steps', '0'],
                          capture_output=True, text=True, env=helpers.child_env(), timeout=120)
  assert result.returncode == 2
  assert result.stdout == ''
  assert result.stderr.splitlines() == [
      "croptfx run: error: argument --train-steps: must be a positive integer, got '0' "
      "(see croptfx run --help)"]
  assert not (tmp_path / 'out').exists()


# Where outputs go.


def test_run_output_that_is_a_file_is_refused(tmp_path):
  data = tmp_path / 'data'
  data.mkdir()
  output = tmp_path / 'out.txt'
  output.write_text('keep me')
  status, lines, _ = _cli(['run', '--data', str(data), '--output', str(output)])
  assert status == 2
  assert lines == [f'croptfx run: error: --output {output} is an existing file; it must be '
                   'a directory (new, or a previous output)']
  assert output.read_text() == 'keep me'


@pytest.mark.parametrize('where', ['inside', 'same', 'inside_glob_base'])
def test_run_output_inside_the_data_is_refused(tmp_path, where):
  data = tmp_path / 'data'
  (data / 'year=2021').mkdir(parents=True)
  data_arg = str(data / '**' / '*.parquet') if where == 'inside_glob_base' else str(data)
  output = data if where == 'same' else data / 'runs' / 'out'
  status, lines, _ = _cli(['run', '--data', data_arg, '--output', str(output)])
  assert status == 2
  assert len(lines) == 1
  assert lines[0] == (f'croptfx run: error: --output {output} is inside --data {data_arg}: '
                      'the command would read its own files as input; choose an output directory '
                      'outside the data')
  assert not (data / 'runs').exists()
  assert sorted(os.listdir(data)) == ['year=2021']


def test_predict_output_that_is_a_directory_is_refused(tmp_path):
  status, lines, _ = _cli(['predict', '--model', str(tmp_path), '--data', str(tmp_path),
                                    '--as-of', '2021-06-01', '--output', str(tmp_path)])
  assert status == 2
  assert lines == [f'croptfx predict: error: --output {tmp_path} is a directory; give the '
                   'file to write']


def _saved_model(path, with_serving: bool, inputs=('examples', 'as_of_date')):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  module = tf.Module()
  signatures = None
  if with_serving:
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=n) for n in inputs])
    def serve(*args):
      return {'out': tf.strings.length(args[0])}
    module.serve = serve
    signatures = {'serving_default': serve}
  tf.saved_model.save(module, str(path), signatures=signatures)
  return str(path)


def test_predict_model_that_is_not_a_pushed_model_is_named_in_one_line(tmp_path):
  out = tmp_path / 'p.parquet'
  run_dir = tmp_path / 'run'
  run_dir.mkdir()
  (run_dir / 'run_summary.json').write_text(json.dumps({'model_dir': '/r/serving_model/17'}))
  graph = tmp_path / 'transform_graph'
  _saved_model(graph / 'transform_fn', with_serving=False)
  (graph / 'transformed_metadata').mkdir()
  other = _saved_model(tmp_path / 'other', with_serving=True, inputs=('x',))
  cases = {
      str(run_dir): 'is a run directory, not a model; its pushed model is /r/serving_model/17',
      str(graph): 'is a Transform graph, not a pushed model (use the model_dir of '
                  'run_summary.json)',
      str(graph / 'transform_fn'): "is a SavedModel without a 'serving_default' signature",
      str(tmp_path / 'nope'): 'no such model directory',
      str(tmp_path): 'is not a SavedModel directory (use the model_dir of run_summary.json)',
      other: "its 'serving_default' signature does not take as_of_date, examples",
  }

  def predict(model):
    return _cli(['predict', '--model', model, '--data', str(tmp_path),
                 '--as-of', '2021-06-01', '--output', str(out)])

  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    results = dict(zip(cases, pool.map(predict, cases)))
  for model, problem in cases.items():
    status, lines, _ = results[model]
    assert status == 2, model
    assert len(lines) == 1, lines
    assert lines[0].startswith(f'croptfx predict: error: {model}: {problem}'), lines[0]
  assert not out.exists()
