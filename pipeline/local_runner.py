"""Runs the pipeline locally with LocalDagRunner and SQLite ML Metadata.

    python -m pipeline.local_runner --data DIR --output OUT
is the same as `croptfx run --runner local`.
"""

import sys

from tfx import v1 as tfx


def run(dsl_pipeline: tfx.dsl.Pipeline) -> None:
  tfx.orchestration.LocalDagRunner().run(dsl_pipeline)


if __name__ == '__main__':
  from croptfx import cli  # pylint: disable=g-import-not-at-top
  sys.exit(cli.main(['run', '--runner', 'local'] + sys.argv[1:]))
