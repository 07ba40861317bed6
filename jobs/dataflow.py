"""Beam pipeline arguments for running the components' Beam jobs on Dataflow.

The same pipeline runs unchanged; only `beam_pipeline_args` differ:

    croptfx compile --beam-runner dataflow --project P --region R \
        --pipeline-root gs://bucket/croptfx --data gs://bucket/parquet/ ...

Workers need this project's code: either the container image built from the
Dockerfile (`sdk_container_image`, recommended: the same image Kubeflow runs),
or a `setup_file` that Beam packages and installs on each worker.
"""

from typing import List, Optional


def dataflow_beam_args(project: str, region: str, temp_location: str,
                       sdk_container_image: Optional[str] = None,
                       setup_file: Optional[str] = None,
                       machine_type: str = 'e2-standard-4',
                       max_num_workers: int = 10,
                       disk_size_gb: int = 50) -> List[str]:
  """`beam_pipeline_args` for the DataflowRunner.

  Args:
    project: GCP project id.
    region: Dataflow region, e.g. 'us-central1'.
    temp_location: gs:// staging/temp location.
    sdk_container_image: image with the project installed (Dockerfile).
    setup_file: alternatively, a setup.py Beam installs on the workers.
    machine_type: worker machine type.
    max_num_workers: autoscaling limit.
    disk_size_gb: worker disk size.
  """
  if not project or not region:
    raise ValueError('Dataflow needs --project and --region')
  if not temp_location.startswith('gs://'):
    raise ValueError(f'Dataflow needs a gs:// temp_location, got {temp_location!r}')
  if sdk_container_image and setup_file:
    raise ValueError('give either sdk_container_image or setup_file, not both')
  args = [
      '--runner=DataflowRunner',
      f'--project={project}',
      f'--region={region}',
      f'--temp_location={temp_location}',
      f'--machine_type={machine_type}',
      f'--max_num_workers={max_num_workers}',
      f'--disk_size_gb={disk_size_gb}',
      '--experiments=use_runner_v2',
  ]
  if sdk_container_image:
    args.append(f'--sdk_container_image={sdk_container_image}')
  if setup_file:
    args.append(f'--setup_file={setup_file}')
  return args
