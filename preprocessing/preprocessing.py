"""The Transform `preprocessing_fn`: raw pixel-year rows -> season grids.

Pipelines name it by module path,
`preprocessing.preprocessing.preprocessing_fn`. It does the deterministic part
of the slides' loader once, in Beam: decode the packed bytes, put the images in
calendar 5-day bins (one image per bin, `preprocessing.pick`), normalize the
bands with the analyzed split's mean/std and map the CDL name to a class.
The in-season window, gating and augmentation stay in the Trainer.
"""

from typing import Any, Dict, Mapping, NamedTuple, Optional

import tensorflow as tf
import tensorflow_transform as tft

from croptfx import features
from croptfx.preprocessing import binning
from croptfx.preprocessing import decode
from croptfx.preprocessing import labels
from croptfx.preprocessing import normalize
from croptfx.preprocessing import pick

# `custom_config` key of a label mapping file replacing the bundled one.
LABEL_MAPPING_CONFIG_KEY = 'label_mapping'

# Feature specs of the raw and transformed examples (`croptfx.features`),
# for running TFT without a TFX schema (tests, benchmarks).
RAW_FEATURE_SPEC = features.raw_feature_spec()
TRANSFORMED_FEATURE_SPEC = features.transformed_feature_spec()


class Decoded(NamedTuple):
  """A decoded batch; `valid` marks the images that exist and are in season."""
  images: decode.Images
  bins: tf.Tensor  # [batch, n] int64
  valid: tf.Tensor  # [batch, n] bool
  lon: tf.Tensor  # [batch] float64
  lat: tf.Tensor  # [batch] float64
  year: tf.Tensor  # [batch] int64
  bbox: tf.Tensor  # [batch] int64
  cdl: tf.Tensor  # [batch] string


def decode_inputs(inputs: Mapping[str, Any]) -> Decoded:
  """Decodes the raw features of a batch ([batch] or [batch, 1], or sparse)."""

  def dense(key, default):
    return decode.to_dense_vector(inputs[key], default)

  images = decode.decode_images(dense(features.BANDS, b''),
                                dense(features.IMG_DATES, b''),
                                dense(features.SCL_VALS, b''))
  year = tf.cast(dense(features.YEAR, 0), tf.int64)
  bins, in_season = binning.calendar_bins(images.dates, year)
  return Decoded(
      images=images,
      bins=bins,
      valid=images.valid & in_season,
      lon=decode.decode_float64_be(dense(features.LON, b'')),
      lat=decode.decode_float64_be(dense(features.LAT, b'')),
      year=year,
      bbox=tf.cast(dense(features.BBOX, 0), tf.int64),
      cdl=dense(features.CDL, b''))


def transform_decoded(decoded: Decoded, band_mean: tf.Tensor,
                      band_std: tf.Tensor,
                      label_mapping: features.LabelMapping,
                      label_table: tf.lookup.StaticHashTable
                      ) -> Dict[str, tf.Tensor]:
  """The outputs of `preprocessing_fn`, given the band statistics."""
  images = decoded.images
  hashes = pick.bin_hashes(
      pick.pixel_hash(decoded.lon, decoded.lat, decoded.year))
  picked = pick.pick_per_bin(images.dates, decoded.bins,
                             pick.is_clear(images.scl), decoded.valid, hashes)
  observed = picked >= 0
  index = tf.maximum(picked, 0)
  raw_grid = tf.gather(images.bands, index, batch_dims=1)
  picked_scl = tf.gather(images.scl, index, batch_dims=1)
  grid = normalize.normalize_grid(raw_grid, observed, band_mean, band_std)
  vegetation = observed & tf.equal(picked_scl, features.SCL_VEGETATION)

  any_image = tf.reduce_any(decoded.valid, axis=1)
  no_bin = tf.constant(-1, tf.int64)
  first_bin = tf.reduce_min(
      tf.where(decoded.valid, decoded.bins, features.BINS_PER_YEAR), axis=1)
  last_bin = tf.reduce_max(tf.where(decoded.valid, decoded.bins, -1), axis=1)
  label, excluded, known = labels.lookup_labels(decoded.cdl, label_mapping,
                                                label_table)
  bins_shape = [None, features.BINS_PER_YEAR]
  return {
      features.GRID: tf.ensure_shape(grid, bins_shape + [features.NUM_BANDS]),
      features.OBSERVED: tf.ensure_shape(tf.cast(observed, tf.int64),
                                         bins_shape),
      features.VEGETATION: tf.ensure_shape(tf.cast(vegetation, tf.int64),
                                           bins_shape),
      features.FIRST_BIN: tf.where(any_image, first_bin, no_bin),
      features.LAST_BIN: tf.where(any_image, last_bin, no_bin),
      features.LABEL: label,
      features.EXCLUDED: excluded,
      features.KNOWN_CDL: known,
      features.LON: tf.cast(decoded.lon, tf.float32),
      features.LAT: tf.cast(decoded.lat, tf.float32),
      features.YEAR: decoded.year,
      features.BBOX: decoded.bbox,
  }


def label_mapping_from_config(
    custom_config: Optional[Mapping[str, Any]]) -> features.LabelMapping:
  path = (custom_config or {}).get(LABEL_MAPPING_CONFIG_KEY)
  return features.load_label_mapping(path or None)


def preprocessing_fn(inputs: Mapping[str, Any],
                     custom_config: Optional[Mapping[str, Any]] = None
                     ) -> Dict[str, tf.Tensor]:
  """tf.Transform preprocessing_fn (TFX passes `custom_config`).

  Args:
    inputs: raw features (`RAW_FEATURE_SPEC` keys; `num_scenes` and `tiles`
      are not needed).
    custom_config: optional; {'label_mapping': path} replaces the bundled CDL
      mapping (local path or cloud URI, read when the graph is built).

  Returns:
    The features of `TRANSFORMED_FEATURE_SPEC`.
  """
  mapping = label_mapping_from_config(custom_config)
  decoded = decode_inputs(inputs)
  band_mean, band_std = normalize.band_statistics(decoded.images.bands,
                                                  decoded.valid)
  if tf.inside_function():
    # TF2 Transform: the table must be tracked to be saved with the graph.
    table = tft.annotators.make_and_track_object(
        lambda: labels.make_label_table(mapping), name='cdl_label_table')
  else:
    table = labels.make_label_table(mapping)
  return transform_decoded(decoded, band_mean, band_std, mapping, table)
