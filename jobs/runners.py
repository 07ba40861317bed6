"""Where a command's Beam jobs run: one runner choice, one set of rules.

  local      the DirectRunner in this process (one in-memory worker)
  beam       the DirectRunner with `workers` processes (multi-processing)
  portable   Beam's PortableRunner on a local job service, SDK workers from
             an EXTERNAL worker pool (`jobs.portable`): what Dataflow Runner v2
             and Flink do, on one machine
  dataflow   Google Cloud Dataflow (`jobs.dataflow`), workers in the project's
             container image

`Runner` is checked once, when the command's arguments are (`check`), and
`beam_args` gives the Beam arguments (starting and always stopping the
services a runner needs) for TFX's `beam_pipeline_args` or a Beam pipeline's
options alike.
"""

import contextlib
import dataclasses
from typing import Iterator, List, Optional, Sequence

from croptfx import errors
from croptfx.jobs import dataflow as dataflow_lib
from croptfx.jobs import portable

RUNNERS = ('local', 'beam', 'portable', 'dataflow')
# What each runner is, for --help.
DESCRIPTIONS = {
    'local': 'the DirectRunner, one in-memory worker',
    'beam': 'the DirectRunner with --workers processes',
    'portable': "Beam's PortableRunner on a local job service and an EXTERNAL worker "
                'pool, the path Dataflow Runner v2 takes',
    'dataflow': 'Google Cloud Dataflow, workers in the project image',
}
# Worker processes of the beam runner when --workers is not given.
DEFAULT_BEAM_WORKERS = 2


@dataclasses.dataclass(frozen=True)
class Runner:
  """A checked runner choice."""
  name: str
  # DirectRunner processes: 1 for local, >= 1 for beam; None otherwise.
  workers: Optional[int] = None
  # The Dataflow settings of --runner dataflow.
  dataflow: Optional[dataflow_lib.Settings] = None
  # The project's container image: the Dataflow workers' container; on the
  # portable runner a marker telling TFX the workers already have the code.
  image: str = ''

  def describe(self) -> str:
    """'beam runner (2 worker processes)', for progress lines."""
    where = {'local': 'one in-memory worker',
             'beam': f'{self.workers} worker processes',
             'portable': 'job service and worker pool',
             'dataflow': 'Google Cloud Dataflow'}[self.name]
    return f'{self.name} runner ({where})'

  def to_dict(self) -> dict:
    """What summaries record of the runner."""
    return {'runner': self.name, 'workers': self.workers}


def check(name: str, workers: Optional[int] = None,
          dataflow: Optional[dataflow_lib.Settings] = None, image: str = '',
          supported: Sequence[str] = RUNNERS) -> Runner:
  """The one rule for a runner and its flags; a CroptfxError says what is wrong.

  --workers applies to the beam runner (local runs one in-memory worker, so
  `--workers 1` is accepted there); Dataflow settings to the dataflow runner.
  """
  if name not in supported:
    raise errors.CroptfxError(f'--runner {name} is not available here; '
                              f'one of {", ".join(supported)}')
  if name == 'local':
    if workers not in (None, 1):
      raise errors.CroptfxError('--workers applies to --runner beam (DirectRunner '
                                'processes); --runner local runs one in-memory worker')
    workers = 1
  elif name == 'beam':
    workers = DEFAULT_BEAM_WORKERS if workers is None else workers
    if workers < 1:
      raise errors.CroptfxError(f'--workers must be a positive integer, got {workers}')
  elif workers is not None:
    raise errors.CroptfxError(f'--workers applies to --runner beam (DirectRunner '
                              f'processes), not --runner {name}')
  if (name == 'dataflow') != (dataflow is not None):
    raise errors.CroptfxError('Dataflow settings apply to --runner dataflow only'
                              if dataflow is not None else
                              '--runner dataflow needs --project, --region and a gs:// output')
  return Runner(name=name, workers=workers, dataflow=dataflow, image=image)


def direct_args(workers: int) -> List[str]:
  """DirectRunner arguments: none for one in-memory worker (the DirectRunner's
  defaults; with no Beam arguments TFX also skips packing the project as an
  sdist for workers, 3-5 s per Beam component: BENCHMARKS.md), else
  multi-processing with `workers` processes."""
  if workers <= 1:
    return []
  return ['--direct_running_mode=multi_processing', f'--direct_num_workers={workers}']


@contextlib.contextmanager
def beam_args(runner: Runner, logs_dir: str, job_name: str = '') -> Iterator[List[str]]:
  """The Beam arguments of `runner`; services it needs run inside the block.

  Args:
    runner: a checked runner.
    logs_dir: where services write their logs (local).
    job_name: the Dataflow job's name.
  """
  if runner.name in ('local', 'beam'):
    yield direct_args(runner.workers)
  elif runner.name == 'portable':
    with portable.services(logs_dir, runner.image) as args:
      yield args
  elif runner.name == 'dataflow':
    args = runner.dataflow.beam_args(runner.image)
    yield args + ([f'--job_name={job_name}'] if job_name else [])
  else:  # check() refuses other names
    raise errors.CroptfxError(f'unknown runner {runner.name!r}')
