"""A local Beam job service and an EXTERNAL worker pool for `--runner portable`.

The path Dataflow Runner v2 takes, on one machine: the components' Beam jobs
go as pipeline protos with their staged artifacts to a job service
(`apache_beam.runners.portability.local_job_service_main`), which hands the
bundles to SDK workers started by a separate worker pool
(`apache_beam.runners.worker.worker_pool_main`), not to the launching
process. Code a worker needs must be importable in the worker pool's
environment, as on Dataflow it must be in the container image.

    with portable.services(logs_dir, image) as beam_args:
      ...  # beam_pipeline_args for the pipeline

Both services are started with the current interpreter and environment
(the image's, when run there) and always stopped; their output goes to
`logs_dir/job_service.log` and `logs_dir/worker_pool.log`.
"""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Iterator, List, Optional

from croptfx import errors

JOB_SERVICE_MODULE = 'apache_beam.runners.portability.local_job_service_main'
WORKER_POOL_MODULE = 'apache_beam.runners.worker.worker_pool_main'

# Importing Beam and gRPC takes a few seconds on a busy 2-core machine.
START_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 10


def _free_port() -> int:
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _accepts_connections(port: int) -> bool:
  try:
    with socket.create_connection(('localhost', port), timeout=1):
      return True
  except OSError:
    return False


def _start(args: List[str], log_path: str) -> subprocess.Popen:
  """Starts `python -m ...` in a session of its own (so it can be stopped whole)."""
  # The worker pool starts each SDK worker as `python -c ...` from PATH: put
  # this interpreter's directory first, so workers run in this environment.
  env = dict(os.environ)
  env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
  with open(log_path, 'ab') as log:
    return subprocess.Popen([sys.executable, '-m'] + args, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, start_new_session=True)


def _wait_for(proc: subprocess.Popen, port_of, name: str, log_path: str) -> int:
  """The port once the service accepts connections; a clear error otherwise."""
  deadline = time.monotonic() + START_TIMEOUT_SECONDS
  while time.monotonic() < deadline:
    if proc.poll() is not None:
      raise errors.CroptfxError(
          f'the Beam {name} exited with status {proc.returncode} at start-up (log: {log_path})')
    port = port_of()
    if port and _accepts_connections(port):
      return port
    time.sleep(0.2)
  raise errors.CroptfxError(
      f'the Beam {name} did not start within {START_TIMEOUT_SECONDS}s (log: {log_path})')


def _stop(proc: subprocess.Popen) -> None:
  """SIGTERM to the service's process group (the worker pool's SDK workers
  are its children), then SIGKILL if it has not exited."""
  if proc.poll() is None:
    try:
      os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
      pass
    try:
      proc.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
      pass
  # Children (SDK workers) may outlive a parent that exited on SIGTERM.
  try:
    os.killpg(proc.pid, signal.SIGKILL)
  except (ProcessLookupError, PermissionError):
    pass
  proc.wait()


def beam_args(job_port: int, worker_port: int, image: str) -> List[str]:
  """PortableRunner arguments for a job service and an EXTERNAL worker pool."""
  return [
      '--runner=PortableRunner',
      f'--job_endpoint=localhost:{job_port}',
      '--environment_type=EXTERNAL',
      f'--environment_config=localhost:{worker_port}',
      # The worker pool's environment already holds the project and TFX, as
      # the image does on Dataflow (`dataflow.dataflow_beam_args` passes the
      # same flag). An EXTERNAL environment does not use the image name; TFX
      # reads the flag as "the workers have the code" and does not build and
      # stage an sdist of itself for every Beam component.
      f'--sdk_container_image={image}',
  ]


@contextlib.contextmanager
def services(logs_dir: str, image: str) -> Iterator[List[str]]:
  """Starts a job service and a worker pool; yields the beam_pipeline_args."""
  os.makedirs(logs_dir, exist_ok=True)
  job_log = os.path.join(logs_dir, 'job_service.log')
  worker_log = os.path.join(logs_dir, 'worker_pool.log')
  # Logs are appended to across runs into the same directory: only this
  # run's part counts when looking for a worker's error.
  worker_log_offset = os.path.getsize(worker_log) if os.path.exists(worker_log) else 0
  started = []
  with tempfile.TemporaryDirectory(prefix='croptfx-job-service-') as staging:
    port_file = os.path.join(staging, 'job_port')
    try:
      job = _start([JOB_SERVICE_MODULE, '--port', '0', '--port_file', port_file,
                    '--staging_dir', os.path.join(staging, 'artifacts')], job_log)
      started.append(job)
      worker_port = _free_port()
      worker = _start([WORKER_POOL_MODULE, '--service_port', str(worker_port)], worker_log)
      started.append(worker)
      job_port = _wait_for(job, lambda: _read_port(port_file), 'job service', job_log)
      _wait_for(worker, lambda: worker_port, 'worker pool', worker_log)
      try:
        yield beam_args(job_port, worker_port, image)
      except errors.CroptfxError as e:
        # An SDK worker that cannot start or import the code leaves the
        # launcher with a bare gRPC timeout; the worker's own error says why.
        cause = worker_error(worker_log, worker_log_offset)
        if cause and cause not in str(e):
          raise errors.CroptfxError(f'{e}; the Beam worker pool reported: {cause}') from None
        raise
    finally:
      for proc in reversed(started):
        _stop(proc)


# A traceback's last line: 'ModuleNotFoundError: No module named ...'.
_ERROR_LINE = re.compile(r'^(?:[\w.]+\.)?\w*(?:Error|Exception): .+$', re.MULTILINE)


def worker_error(log_path: str, offset: int = 0) -> Optional[str]:
  """The last error line in the worker pool's log after `offset`, if any."""
  try:
    with open(log_path, 'rb') as f:
      f.seek(offset)
      found = _ERROR_LINE.findall(f.read().decode('utf-8', errors='replace'))
  except OSError:
    return None
  return found[-1].strip() if found else None


def _read_port(path: str) -> int:
  try:
    with open(path) as f:
      return int(f.read().strip() or 0)
  except (OSError, ValueError):
    return 0
