"""The in-season model architectures, by name (`croptfx run --model NAME`).

Every builder takes the same four inputs `trainer.window.window_inputs` makes
(the 36-bin window of 12 bands, its observed and vegetation masks, the as-of
day of year) and returns an uncompiled Keras model whose output is the 7 class
probabilities, so the Transform graph, the window function and the serving
signatures (`trainer.signatures`) are shared by all of them. Hyperparameters
come from `pipeline/configs.py` (`MODEL_CONFIGS`) through the Trainer's
custom_config; the builders have no defaults of their own.

- `cnn`: the original small 1D-CNN (two conv layers, pooling, one more).
- `tempcnn`: TempCNN (Pelletier et al. 2019, Remote Sensing 11(5):523):
  three conv blocks (conv k=5, batch norm, ReLU, dropout), flatten, dense.
- `gru`: a recurrent model (stacked GRUs) reading the window in time order.
- `transformer`: a small Transformer encoder (self-attention over the 36
  bins, learned position embedding, mean pooling), in the spirit of the
  BreizhCrops Transformer baseline.
"""

from typing import Any, Callable, Dict, List, Mapping

import tf_keras as keras  # the Keras 2 that TFT's transform layer uses

from croptfx import features

Inputs = List[keras.layers.Layer]


def _inputs():
  """The four model inputs, named as `trainer.window.window_inputs` names them."""
  return [
      keras.Input((features.WINDOW_BINS, features.NUM_BANDS), name=features.WINDOW),
      keras.Input((features.WINDOW_BINS,), name=features.WINDOW_OBSERVED),
      keras.Input((features.WINDOW_BINS,), name=features.WINDOW_VEGETATION),
      keras.Input((), name=features.AS_OF_DAY),
  ]


def _sequence(inputs):
  """[B, 36, 14]: the bands plus the two masks as channels.

  The masks tell a real zero (a bin at the band mean) from an empty bin.
  """
  window_in, observed_in, vegetation_in, _ = inputs

  def as_channel(mask):
    return keras.layers.Reshape((features.WINDOW_BINS, 1))(mask)

  return keras.layers.Concatenate(axis=-1)(
      [window_in, as_channel(observed_in), as_channel(vegetation_in)])


def _day(inputs):
  """The as-of day scaled to [0, 1]: where the window sits in the season
  matters (corn greens before soybeans)."""
  return keras.layers.Reshape((1,))(keras.layers.Rescaling(1.0 / 366.0)(inputs[3]))


def _head(inputs, x, dense_units: int, dropout: float, name: str) -> keras.Model:
  x = keras.layers.Concatenate()([x, _day(inputs)])
  x = keras.layers.Dense(dense_units, activation='relu')(x)
  x = keras.layers.Dropout(dropout)(x)
  outputs = keras.layers.Dense(features.NUM_CLASSES, activation='softmax',
                               name='probabilities')(x)
  return keras.Model(inputs=inputs, outputs=outputs, name=name)


def build_cnn(filters: int, dense_units: int, dropout: float) -> keras.Model:
  inputs = _inputs()
  x = _sequence(inputs)
  x = keras.layers.Conv1D(filters, 5, padding='same', activation='relu')(x)
  x = keras.layers.Conv1D(filters, 5, padding='same', activation='relu')(x)
  x = keras.layers.MaxPooling1D(2)(x)
  x = keras.layers.Conv1D(2 * filters, 3, padding='same', activation='relu')(x)
  x = keras.layers.MaxPooling1D(2)(x)
  return _head(inputs, keras.layers.Flatten()(x), dense_units, dropout, 'cnn')


def build_tempcnn(filters: int, kernel_size: int, blocks: int, dense_units: int,
                  dropout: float) -> keras.Model:
  inputs = _inputs()
  x = _sequence(inputs)
  for _ in range(blocks):
    x = keras.layers.Conv1D(filters, kernel_size, padding='same', use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Dropout(dropout)(x)
  x = keras.layers.Flatten()(x)
  # Pelletier et al.: the dense layer has batch norm too, before the softmax.
  x = keras.layers.Concatenate()([x, _day(inputs)])
  x = keras.layers.Dense(dense_units, use_bias=False)(x)
  x = keras.layers.BatchNormalization()(x)
  x = keras.layers.ReLU()(x)
  x = keras.layers.Dropout(dropout)(x)
  outputs = keras.layers.Dense(features.NUM_CLASSES, activation='softmax',
                               name='probabilities')(x)
  return keras.Model(inputs=inputs, outputs=outputs, name='tempcnn')


def build_gru(units: int, layers: int, dense_units: int, dropout: float) -> keras.Model:
  inputs = _inputs()
  x = _sequence(inputs)
  for i in range(layers):
    # The last layer keeps only its final state: the summary at the as-of bin.
    x = keras.layers.GRU(units, return_sequences=i < layers - 1)(x)
  return _head(inputs, x, dense_units, dropout, 'gru')


class PositionEmbedding(keras.layers.Layer):
  """A learned vector per window position, added to the bin's embedding."""

  def build(self, input_shape):
    self.positions = self.add_weight(
        name='positions', shape=(int(input_shape[1]), int(input_shape[2])),
        initializer=keras.initializers.RandomNormal(stddev=0.02))

  def call(self, x):
    return x + self.positions[None]


def build_transformer(d_model: int, heads: int, layers: int, ff_units: int,
                      dense_units: int, dropout: float) -> keras.Model:
  inputs = _inputs()
  x = keras.layers.Dense(d_model)(_sequence(inputs))
  x = PositionEmbedding()(x)
  for _ in range(layers):
    # Pre-norm encoder block: attention then a position-wise MLP, residuals.
    h = keras.layers.LayerNormalization()(x)
    h = keras.layers.MultiHeadAttention(heads, d_model // heads, dropout=dropout)(h, h)
    x = keras.layers.Add()([x, h])
    h = keras.layers.LayerNormalization()(x)
    h = keras.layers.Dense(ff_units, activation='relu')(h)
    h = keras.layers.Dense(d_model)(keras.layers.Dropout(dropout)(h))
    x = keras.layers.Add()([x, h])
  x = keras.layers.LayerNormalization()(x)
  x = keras.layers.GlobalAveragePooling1D()(x)
  return _head(inputs, x, dense_units, dropout, 'transformer')


ARCHITECTURES: Dict[str, Callable[..., keras.Model]] = {
    'cnn': build_cnn,
    'tempcnn': build_tempcnn,
    'gru': build_gru,
    'transformer': build_transformer,
}
NAMES = tuple(ARCHITECTURES)


def build(name: str, config: Mapping[str, Any]) -> keras.Model:
  """The uncompiled model `name` with its hyperparameters `config`."""
  if name not in ARCHITECTURES:
    raise ValueError(f'unknown model {name!r}; one of {", ".join(NAMES)}')
  return ARCHITECTURES[name](**dict(config))
