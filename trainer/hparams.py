"""The Trainer's hyperparameters: every one required, serialized and parsed strictly.

The pipeline builds `HParams` from `pipeline/configs.py` (the one home of the
defaults) and passes `to_custom_config()` as the Trainer's `custom_config`;
`run_fn` parses it back with `from_custom_config`, which refuses a missing
or unknown key instead of guessing, so a typo in a config cannot silently
train with another value. Light (no TensorFlow), so the pipeline and the
CLI can build it cheaply.
"""

import dataclasses
from typing import Any, Dict, Mapping, Tuple

# Keys of custom_config that are not hyperparameters: part of the cache key
# only (croptfx.fingerprint).
CACHE_KEYS = ('code_fingerprint',)


@dataclasses.dataclass(frozen=True)
class HParams:
  """What `run_fn` trains with."""
  # The architecture (trainer.architectures) and its builder's arguments.
  model: str
  model_config: Mapping[str, Any]
  learning_rate: float
  epochs: int
  batch_size: int
  seed: int
  # Training steps per call into the TF runtime.
  steps_per_execution: int
  # The fixed as-of days of the evaluation signature, and the one the eval
  # split is scored at during training (Keras validation; the Evaluator
  # blesses at it).
  as_of_days: Tuple[int, ...]
  headline_day: int

  def __post_init__(self):
    object.__setattr__(self, 'as_of_days', tuple(int(d) for d in self.as_of_days))
    object.__setattr__(self, 'model_config', dict(self.model_config))
    for name in ('epochs', 'batch_size', 'steps_per_execution'):
      value = getattr(self, name)
      if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f'Trainer hyperparameter {name} must be a positive integer, '
                         f'got {value!r}')
    if not self.learning_rate > 0:
      raise ValueError(f'Trainer hyperparameter learning_rate must be positive, '
                       f'got {self.learning_rate!r}')
    if self.headline_day not in self.as_of_days:
      raise ValueError(f'headline day {self.headline_day} must be one of the as-of days '
                       f'{list(self.as_of_days)}')

  def to_custom_config(self) -> Dict[str, Any]:
    """The JSON-able custom_config of the Trainer."""
    config = dataclasses.asdict(self)
    config['as_of_days'] = list(self.as_of_days)
    return config

  @classmethod
  def from_custom_config(cls, custom_config: Mapping[str, Any]) -> 'HParams':
    """Parses a Trainer custom_config; every field is required, and a key
    that is not a field (or a cache key) is an error."""
    config = {k: v for k, v in dict(custom_config or {}).items() if k not in CACHE_KEYS}
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(config) - set(names))
    missing = [name for name in names if name not in config]
    if unknown or missing:
      raise ValueError('Trainer custom_config: '
                       + '; '.join(part for part in (
                           f'unknown keys {unknown}' if unknown else '',
                           f'missing keys {missing}' if missing else '') if part))
    return cls(**config)
