"""Runs the pipeline with BeamDagRunner; components' Beam jobs use the
DirectRunner in multi-processing mode (`--direct_running_mode=multi_processing
--direct_num_workers=N`, see configs.direct_runner_args).

    python -m pipeline.beam_runner --data DIR --output OUT --workers 2
is the same as `croptfx run --runner beam`.
"""

import sys

from tfx import v1 as tfx
from tfx.orchestration.beam import beam_dag_runner


def run(dsl_pipeline: tfx.dsl.Pipeline) -> None:
  beam_dag_runner.BeamDagRunner().run(dsl_pipeline)


if __name__ == '__main__':
  from croptfx import cli  # pylint: disable=g-import-not-at-top
  sys.exit(cli.main(['run', '--runner', 'beam'] + sys.argv[1:]))
