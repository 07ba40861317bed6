"""Driver of ParquetExampleGen: an input fingerprint for caching.

TFX's FileBasedDriver fingerprints `input_base/pattern` with one flat glob
and whole-second mtimes, so a changed file inside a Hive partition
(`year=2021/part-0.parquet`) would not invalidate the cache. This driver
hashes exactly the files the executor reads (`reader.list_input_files`), with
path, size and nanosecond mtime, so changing any of them re-runs the
component and an unchanged re-run is a cache hit.

The fingerprint is an execution property, so it is part of the cache key of
the local and Beam runners. (On Kubeflow Pipelines v2 the pre-cache-check
step runs TFX's own file-based driver module, not this class.)
"""

import hashlib
from typing import Any, Dict

from tfx.components.example_gen import driver
from tfx.components.example_gen import utils
from tfx.orchestration import data_types
from tfx.types import standard_component_specs

from croptfx.rows import reader


def input_fingerprint(input_base: str) -> str:
  """Fingerprint of every file `input_base` names (order-independent).

  Raises:
    InputDataError: as `reader.list_input_files`.
  """
  files = reader.list_input_files(input_base)
  digest = hashlib.sha256()
  for f in files:  # Sorted by path.
    digest.update(f'{f.path}\t{f.size}\t{f.mtime_ns}\n'.encode('utf-8'))
  return (f'files:{len(files)},total_bytes:{sum(f.size for f in files)},'
          f'sha256:{digest.hexdigest()}')


class Driver(driver.FileBasedDriver):
  """FileBasedDriver whose fingerprint covers every file read."""

  def resolve_exec_properties(
      self,
      exec_properties: Dict[str, Any],
      pipeline_info: data_types.PipelineInfo,
      component_info: data_types.ComponentInfo,
  ) -> Dict[str, Any]:
    del pipeline_info, component_info
    if exec_properties.get(standard_component_specs.RANGE_CONFIG_KEY):
      raise ValueError('ParquetExampleGen has no spans: range_config is not '
                       'supported')
    # The input config stays as given (one split, read recursively).
    exec_properties[utils.SPAN_PROPERTY_NAME] = 0
    exec_properties[utils.VERSION_PROPERTY_NAME] = None
    exec_properties[utils.FINGERPRINT_PROPERTY_NAME] = input_fingerprint(
        exec_properties[standard_component_specs.INPUT_BASE_KEY])
    return exec_properties
