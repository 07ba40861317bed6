"""jobs/runners.py: the one rule for --runner and --workers, and the Beam
arguments of each runner."""

from apache_beam.options import pipeline_options as po
import pytest

from croptfx import errors
from croptfx.jobs import dataflow
from croptfx.jobs import runners


def test_check_fills_the_workers_of_each_runner():
  assert runners.check('local') == runners.Runner('local', workers=1)
  assert runners.check('local', 1).workers == 1
  assert runners.check('beam').workers == runners.DEFAULT_BEAM_WORKERS == 2
  assert runners.check('beam', 3).workers == 3
  assert runners.check('portable', image='img') == runners.Runner('portable', image='img')


@pytest.mark.parametrize('args, message', [
    (('local', 2), '--runner local runs one in-memory worker'),
    (('portable', 2), '--workers applies to --runner beam (DirectRunner processes), '
                      'not --runner portable'),
    (('beam', 0), '--workers must be a positive integer, got 0'),
    (('dataflow', None), '--runner dataflow needs --project, --region'),
])
def test_check_refuses_in_one_line(args, message):
  with pytest.raises(errors.CroptfxError) as error:
    runners.check(*args)
  assert message in str(error.value)


def test_check_refuses_a_runner_the_command_does_not_have():
  with pytest.raises(errors.CroptfxError, match='--runner dataflow is not available here; '
                     'one of local, beam, portable'):
    runners.check('dataflow', supported=('local', 'beam', 'portable'))
  settings = dataflow.Settings.check('p', 'r', 'gs://b/o')
  with pytest.raises(errors.CroptfxError, match='apply to --runner dataflow only'):
    runners.check('beam', dataflow=settings)


def test_direct_args():
  assert runners.direct_args(1) == []
  assert runners.direct_args(3) == ['--direct_running_mode=multi_processing',
                                    '--direct_num_workers=3']


def test_beam_args_of_the_direct_runners(tmp_path):
  with runners.beam_args(runners.check('local'), str(tmp_path)) as args:
    local = po.PipelineOptions(args).view_as(po.DirectOptions)
  assert (local.direct_running_mode, local.direct_num_workers) == ('in_memory', 1)
  with runners.beam_args(runners.check('beam', 3), str(tmp_path)) as args:
    beam = po.PipelineOptions(args).view_as(po.DirectOptions)
  assert (beam.direct_running_mode, beam.direct_num_workers) == ('multi_processing', 3)


def test_beam_args_of_dataflow(tmp_path):
  settings = dataflow.Settings.check('my-project', 'europe-west4', 'gs://bucket/maps',
                                     max_num_workers=25)
  runner = runners.check('dataflow', dataflow=settings, image='gcr.io/p/croptfx:1')
  with runners.beam_args(runner, str(tmp_path), job_name='croptfx-map-x') as args:
    options = po.PipelineOptions(args)
  gcp = options.view_as(po.GoogleCloudOptions)
  assert options.view_as(po.StandardOptions).runner == 'DataflowRunner'
  assert (gcp.project, gcp.region, gcp.temp_location, gcp.job_name) == (
      'my-project', 'europe-west4', 'gs://bucket/maps/tmp', 'croptfx-map-x')
  worker = options.view_as(po.WorkerOptions)
  assert (worker.max_num_workers, worker.machine_type, worker.disk_size_gb,
          worker.sdk_container_image) == (25, 'e2-standard-4', 50, 'gcr.io/p/croptfx:1')
  assert 'use_runner_v2' in options.view_as(po.DebugOptions).experiments


def test_describe_and_to_dict():
  runner = runners.check('beam', 4)
  assert runner.describe() == 'beam runner (4 worker processes)'
  assert runner.to_dict() == {'runner': 'beam', 'workers': 4}
