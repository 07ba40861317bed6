"""What one pipeline run computes, and how: built and checked once, passed whole.

`PipelineConfig` is everything `create_pipeline` needs to define the
pipeline (data, splits, model, steps, days, thresholds); `RunConfig` adds
what `croptfx run` needs to execute it on this machine (output, runner,
report). `run_config(...)` fills what is not given from `pipeline/configs.py`
(the one home of the defaults) and checks it all before any work starts:
every rule a run's arguments obey is here, once.
"""

import dataclasses
import os
from typing import Any, Dict, Mapping, Optional, Tuple

from croptfx import errors
from croptfx import features
from croptfx import paths
from croptfx.jobs import runners
from croptfx.pipeline import configs
from croptfx.trainer import hparams as hparams_lib

# The runners of `croptfx run` (dataflow would need a cloud pipeline root:
# `croptfx compile`).
RUNNERS = ('local', 'beam', 'portable')


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  """The pipeline's definition (`pipeline.create_pipeline`)."""
  data: str  # absolute path, glob or URI of the Part-1 Parquet
  year_splits: Mapping[int, str]
  hparams: hparams_lib.HParams
  train_steps: int
  eval_steps: int
  blessing_threshold: float
  season_as_of_days: Tuple[int, ...]
  baseline: Optional[Mapping[str, Any]]  # TreeBaseline parameters; None: no baseline
  label_mapping: Optional[str]  # absolute path or URI; None: the bundled mapping
  transform_statistics: bool
  compress_examples: bool
  last_component: Optional[str] = None  # stop after this component

  @property
  def roles(self) -> features.SplitRoles:
    return features.split_roles(self.year_splits)

  @property
  def as_of_days(self) -> Tuple[int, ...]:
    return self.hparams.as_of_days

  @property
  def headline_day(self) -> int:
    return self.hparams.headline_day


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """One `croptfx run`: the pipeline, and where and how it runs."""
  pipeline: PipelineConfig
  output: str  # absolute
  runner: runners.Runner
  report: bool = True
  verbose: bool = False

  def to_dict(self) -> Dict[str, Any]:
    """What run_summary.json records of the configuration."""
    p = self.pipeline
    return {'data': p.data, 'model': p.hparams.model, 'train_steps': p.train_steps,
            'epochs': p.hparams.epochs, 'blessing_threshold': p.blessing_threshold,
            'label_mapping': p.label_mapping, 'last_component': p.last_component,
            **self.runner.to_dict()}


def _absolute(path: Optional[str]) -> Optional[str]:
  if not path:
    return path
  return path if paths.is_uri(path) else os.path.abspath(path)


def pipeline_config(data: str, *, year_splits: Optional[Mapping[int, str]] = None,
                    model: Optional[str] = None, train_steps: Optional[int] = None,
                    epochs: Optional[int] = None, label_mapping: Optional[str] = None,
                    blessing_threshold: Optional[float] = None,
                    last_component: Optional[str] = None) -> PipelineConfig:
  """The pipeline's configuration: what is given, the rest from configs."""
  year_splits = dict(configs.YEAR_SPLITS if year_splits is None else year_splits)
  try:
    features.check_year_splits(year_splits)
  except ValueError as e:
    raise errors.CroptfxError(str(e)) from None
  model = model or configs.DEFAULT_MODEL
  if model not in configs.MODEL_CONFIGS:
    raise errors.CroptfxError(f'unknown model {model!r}; one of '
                              f'{", ".join(configs.MODEL_CONFIGS)}')
  if label_mapping and not paths.is_uri(label_mapping):
    if not os.path.isfile(label_mapping):
      raise errors.InputDataError(label_mapping, 'no such label mapping file')
    try:
      features.load_label_mapping(os.path.abspath(label_mapping))
    except (ValueError, KeyError) as e:
      raise errors.InputDataError(label_mapping, f'not a label mapping: {e}') from None
  threshold = (configs.EVAL_ACCURACY_THRESHOLD if blessing_threshold is None
               else float(blessing_threshold))
  if not 0.0 <= threshold <= 1.0:
    raise errors.CroptfxError(f'the blessing threshold must be in [0, 1], got {threshold}')
  return PipelineConfig(
      data=_absolute(data), year_splits=year_splits,
      hparams=configs.trainer_hparams(model, epochs),
      train_steps=train_steps or configs.TRAIN_NUM_STEPS,
      eval_steps=configs.EVAL_NUM_STEPS, blessing_threshold=threshold,
      season_as_of_days=tuple(configs.SEASON_AS_OF_DAYS),
      baseline=dict(configs.BASELINE_CONFIG), label_mapping=_absolute(label_mapping),
      transform_statistics=configs.TRANSFORM_STATISTICS,
      compress_examples=configs.COMPRESS_EXAMPLES, last_component=last_component)


def run_config(data: str, output: str, *, runner: str = 'local',
               workers: Optional[int] = None, report: bool = True, verbose: bool = False,
               **pipeline_options) -> RunConfig:
  """A checked `croptfx run`: see `pipeline_config` for the pipeline options."""
  paths.check_input_and_output(data, output)
  checked_runner = runners.check(runner, workers, image=configs.PIPELINE_IMAGE,
                                 supported=RUNNERS)
  return RunConfig(pipeline=pipeline_config(data, **pipeline_options),
                   output=os.path.abspath(output), runner=checked_runner,
                   report=report and not pipeline_options.get('last_component'),
                   verbose=verbose)
