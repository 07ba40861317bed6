"""`croptfx bench --extract`: its two passes read the same assets, and the
table holds the targets of X and Y. (The speed itself is measured by the
bench, never asserted in a test.)"""

import pytest

from croptfx.bench import extract_case
from croptfx.generate import imagery


@pytest.fixture(scope='module')
def made(tmp_path_factory):
  return imagery.write_imagery(str(tmp_path_factory.mktemp('imagery')), area=(10, 8),
                               years=(extract_case.YEAR,), revisit_days=60, seed=0)


def test_sampling_and_bare_reads_cover_the_same_work(made):
  plan = extract_case._plan(made)  # pylint: disable=protected-access
  work = extract_case._work(plan)  # pylint: disable=protected-access
  assert len(work) == plan.scene_items == len(made['scenes']) * len(plan.chunks)
  sampled = extract_case.sampling_pass(work)
  bare = extract_case.bare_reads(work)
  # Every cell of the area is in both tiles' windows or one of them.
  cells = 10 * 8
  assert cells * len(made['scenes']) // 2 <= sampled['samples'] <= cells * len(made['scenes'])
  assert bare['pixels'] > sampled['samples']  # 13 windows a work item, 10 m ones the largest


def test_render_has_the_targets():
  rate = {'work_items': 4, 'samples': 1000, 'reads': 52, 'window_pixels': 10**6,
          'sampling_rate': 600.0, 'limit_rate': 1000.0, 'ratio': 0.6, 'ratios': [0.55, 0.6, 0.7],
          'job_seconds': 2.0, 'job_rate': 400.0}
  jobs = {label: {'summary': {'scenes': scenes, 'samples': 10 * scenes}, 'peak_rss': rss,
                  'seconds': 5.0}
          for label, scenes, rss in (('N', 10, 300 * 2**20), ('2N', 20, 330 * 2**20))}
  text = extract_case.render({'rate': rate, 'jobs': jobs, 'area': (6, 5), 'revisit_days': (10, 5),
                              'seconds': 60}, 'croptfx bench --extract', {'cpu': 'x'})
  assert '| X sampling path / bare reads    | 0.60x | >= 0.50x | yes |' in text
  assert '| Y peak RSS 2N scenes / N scenes | 1.10x | <= 1.20x | yes |' in text
