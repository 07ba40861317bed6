"""Scale: 100,002 generated rows through ExampleGen and Transform, with
every row accounted for and memory bounded (issue 11).

Marked `scale` (and `pipeline`): it takes minutes. The run happens in a
child process whose peak memory is measured two ways: the kernel's
`ru_maxrss` of the child (the largest single process) and the peak of the
summed RSS of the child's whole process tree, polled from /proc. Only the
robust facts are asserted (exact counts, a generous memory bound); the
numbers are printed for the record (`pytest -s`).
"""

import collections
import json

import pyarrow.parquet as pq
import pytest

from croptfx.bench import memory
from tests import test_reliability_helpers as helpers

pytestmark = [pytest.mark.scale, pytest.mark.pipeline]

PIXELS_PER_YEAR = 33334  # x 3 years = 100,002 rows
MEMORY_BOUND_BYTES = 8 * 2**30

_RUN = """
import io, json, sys
from croptfx.generate import part1
from croptfx.pipeline import configs, run, run_config
data, output = sys.argv[1:3]
part1.write_dataset(data, pixels_per_year=int(sys.argv[3]), years=sorted(configs.YEAR_SPLITS),
                    seed=3)
summary = run.run_pipeline(run_config.run_config(data, output, report=False,
                                                 last_component='Transform'),
                           stream=io.StringIO())
print('SUMMARY ' + json.dumps(summary))
"""


@pytest.fixture(scope='module')
def scale_run(tmp_path_factory):
  data = str(tmp_path_factory.mktemp('scale_data'))
  output = str(tmp_path_factory.mktemp('scale_run'))
  # A fresh child, so RUSAGE_CHILDREN covers this run alone.
  code = (
      'import resource, subprocess, sys\n'
      'result = subprocess.run(sys.argv[1:])\n'
      'print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_CHILDREN)'
      '.ru_maxrss)\n'
      'sys.exit(result.returncode)\n')
  command = [helpers.PYTHON, '-c', code, helpers.PYTHON, '-c', _RUN, data,
             output, str(PIXELS_PER_YEAR)]
  # The process tree's summed RSS, polled (Beam may start workers).
  tracked = memory.run_tracked(command, env=helpers.child_env(),
                               cwd=helpers.REPO, interval=0.5)
  assert tracked.returncode == 0, tracked.stderr[-3000:]
  lines = tracked.stdout.splitlines()
  summary = json.loads([l for l in lines if l.startswith('SUMMARY ')][-1][8:])
  maxrss = 1024 * int([l for l in lines if l.startswith('MAXRSS_KB')][-1]
                      .split()[1])
  print(f'\nscale: {summary["rows_read"]} rows, generate + ExampleGen + '
        f'Transform in {tracked.seconds:.0f}s (components: '
        f'{summary["component_seconds"]}); peak RSS {maxrss / 2**30:.2f} GiB '
        f'(largest process), {tracked.peak_tree_rss / 2**30:.2f} GiB (process tree)')
  return {'data': data, 'summary': summary, 'maxrss': maxrss,
          'tree_peak': tracked.peak_tree_rss, 'seconds': tracked.seconds}


@pytest.fixture(scope='module')
def expected(scale_run):
  """Examples per year and duplicates, from the Parquet files with pandas.

  At 33,334 pixels a year the generator places some pixels of a year on
  the same coordinates; the duplicate rule (README, Guarantees) keeps one
  of identical copies and quarantines every copy that differs.
  """
  frame = pq.read_table(scale_run['data']).to_pandas()
  key = ['lon', 'lat', 'year']
  size = frame.groupby(key)[key[0]].transform('size')
  # Rows with a twin equal in every column.
  identical = frame.duplicated(keep=False)
  groups = frame.assign(size=size, identical=identical).groupby(key)
  all_identical = groups['identical'].transform('all')
  single = size == 1
  kept_identical = (size > 1) & all_identical & ~frame.duplicated(keep='first')
  kept = frame[single | kept_identical]
  return {'rows_per_year': collections.Counter(frame['year'].tolist()),
          'examples': collections.Counter(kept['year'].tolist()),
          'duplicate': int(((size > 1) & all_identical).sum() - kept_identical.sum()),
          'conflicting_duplicate': int(((size > 1) & ~all_identical).sum())}


def test_every_row_is_accounted_for(scale_run, expected):
  # Rows per year counted from the Parquet files themselves.
  years = expected['rows_per_year']
  assert years == {2019: PIXELS_PER_YEAR, 2020: PIXELS_PER_YEAR,
                   2021: PIXELS_PER_YEAR}
  summary = scale_run['summary']
  assert summary['rows_read'] == 3 * PIXELS_PER_YEAR == 100_002
  examples = expected['examples']
  assert summary['examples'] == {'train': examples[2021], 'eval': examples[2020],
                                 'test': examples[2019]}
  quarantined = {r: n for r, n in summary['quarantined'].items() if n}
  want = {r: expected[r] for r in ('duplicate', 'conflicting_duplicate') if expected[r]}
  assert quarantined == want
  assert summary['rows_read'] == (sum(summary['examples'].values()) +
                                  sum(summary['quarantined'].values()))


def test_every_example_is_transformed(scale_run, expected):
  uri = scale_run['summary']['artifacts']['transformed_examples']
  year_of = {'train': 2021, 'eval': 2020, 'test': 2019}
  for split in helpers.SPLITS:
    assert helpers.count_records(uri, split) == expected['examples'][year_of[split]], split


def test_memory_stays_bounded(scale_run):
  assert 0 < scale_run['maxrss'] < MEMORY_BOUND_BYTES
  assert 0 < scale_run['tree_peak'] < MEMORY_BOUND_BYTES
