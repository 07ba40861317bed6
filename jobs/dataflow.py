"""Google Cloud Dataflow: the settings, their rules, and the Beam arguments.

The same pipelines run unchanged; only the Beam arguments differ:

    croptfx compile --beam-runner dataflow --project P --region R \
        --pipeline-root gs://bucket/croptfx --data gs://bucket/parquet/ ...
    croptfx map --runner dataflow --project P --region R --model gs://... ...

Workers need this project's code: the container image built from the
Dockerfile (`sdk_container_image`, the same image Kubeflow runs), or a
`setup_file` that Beam packages and installs on each worker. Every rule
about Dataflow's settings is here (`Settings.check`), for every command.
"""

import dataclasses
from typing import List, Mapping, Optional

from croptfx import errors
from croptfx import paths

DEFAULT_MACHINE_TYPE = 'e2-standard-4'
DEFAULT_MAX_NUM_WORKERS = 10
DEFAULT_DISK_SIZE_GB = 50


@dataclasses.dataclass(frozen=True)
class Settings:
  """Checked Dataflow settings (`check`)."""
  project: str
  region: str
  temp_location: str
  machine_type: str = DEFAULT_MACHINE_TYPE
  max_num_workers: int = DEFAULT_MAX_NUM_WORKERS
  disk_size_gb: int = DEFAULT_DISK_SIZE_GB
  setup_file: Optional[str] = None

  @classmethod
  def check(cls, project: Optional[str], region: Optional[str], output: str,
            temp_location: Optional[str] = None, machine_type: Optional[str] = None,
            max_num_workers: Optional[int] = None, setup_file: Optional[str] = None,
            cloud_paths: Mapping[str, str] = ()) -> 'Settings':
    """Settings from a command's flags, or a CroptfxError saying what is wrong.

    Args:
      project, region: required.
      output: the command's output (a gs:// URI); the temp location defaults
        to `<output>/tmp`.
      temp_location: gs:// staging and temp location.
      machine_type, max_num_workers: the workers (defaults above).
      setup_file: a setup.py to install on workers instead of the image.
      cloud_paths: {flag: path} that Dataflow workers read or write, each of
        which must be a gs:// URI (they cannot see the launching machine).
    """
    for flag, path in dict(cloud_paths).items():
      if not str(path).startswith('gs://'):
        raise errors.CroptfxError(f'Dataflow workers read and write Cloud Storage: {flag} '
                                  f'must be a gs:// URI, got {path!r}')
    if not project or not region:
      raise errors.CroptfxError('--runner dataflow needs --project and --region')
    temp_location = temp_location or paths.join(output.rstrip('/'), 'tmp')
    if not temp_location.startswith('gs://'):
      raise errors.CroptfxError(f'Dataflow needs a gs:// temp location, got {temp_location!r}')
    if max_num_workers is not None and max_num_workers < 1:
      raise errors.CroptfxError(f'--max-num-workers must be positive, got {max_num_workers}')
    return cls(project=project, region=region, temp_location=temp_location,
               machine_type=machine_type or DEFAULT_MACHINE_TYPE,
               max_num_workers=max_num_workers or DEFAULT_MAX_NUM_WORKERS,
               setup_file=setup_file)

  def beam_args(self, image: Optional[str]) -> List[str]:
    """`beam_pipeline_args` for the DataflowRunner, workers in `image`
    (none with a setup_file)."""
    args = [
        '--runner=DataflowRunner',
        f'--project={self.project}',
        f'--region={self.region}',
        f'--temp_location={self.temp_location}',
        f'--machine_type={self.machine_type}',
        f'--max_num_workers={self.max_num_workers}',
        f'--disk_size_gb={self.disk_size_gb}',
        '--experiments=use_runner_v2',
    ]
    if self.setup_file:
      args.append(f'--setup_file={self.setup_file}')
    elif image:
      args.append(f'--sdk_container_image={image}')
    return args
