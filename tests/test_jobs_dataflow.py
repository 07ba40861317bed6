"""jobs/dataflow.py: every rule of Dataflow's settings, once, and its arguments."""

import pytest

from croptfx import errors
from croptfx.jobs import dataflow


def test_beam_args_exact():
  settings = dataflow.Settings.check('my-project', 'us-central1', 'gs://bucket/out')
  assert settings.beam_args('gcr.io/my-project/croptfx:1') == [
      '--runner=DataflowRunner', '--project=my-project', '--region=us-central1',
      '--temp_location=gs://bucket/out/tmp', '--machine_type=e2-standard-4',
      '--max_num_workers=10', '--disk_size_gb=50', '--experiments=use_runner_v2',
      '--sdk_container_image=gcr.io/my-project/croptfx:1']


def test_settings_given_and_setup_file_instead_of_the_image():
  settings = dataflow.Settings.check(
      'p', 'r', 'gs://b/out', temp_location='gs://b/t', machine_type='n2-standard-8',
      max_num_workers=3, setup_file='./setup.py')
  args = settings.beam_args('gcr.io/p/croptfx:1')
  assert '--temp_location=gs://b/t' in args and '--machine_type=n2-standard-8' in args
  assert '--max_num_workers=3' in args and '--setup_file=./setup.py' in args
  assert not any(a.startswith('--sdk_container_image') for a in args)


@pytest.mark.parametrize('kwargs, message', [
    (dict(project='', region='r', output='gs://b/o'), 'needs --project and --region'),
    (dict(project='p', region=None, output='gs://b/o'), 'needs --project and --region'),
    (dict(project='p', region='r', output='gs://b/o', temp_location='/tmp/x'),
     'gs:// temp location'),
    (dict(project='p', region='r', output='/local/out'), 'gs:// temp location'),
    (dict(project='p', region='r', output='gs://b/o', max_num_workers=0),
     '--max-num-workers must be positive'),
    (dict(project='p', region='r', output='gs://b/o',
          cloud_paths={'--data': 'gs://b/d', '--model': 'models/m'}),
     "--model must be a gs:// URI, got 'models/m'"),
])
def test_bad_settings_are_one_line_errors(kwargs, message):
  with pytest.raises(errors.CroptfxError, match=message) as error:
    dataflow.Settings.check(**kwargs)
  assert '\n' not in str(error.value) and error.value.exit_code == errors.USAGE
