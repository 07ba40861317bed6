"""Transform step: raw pixel-year rows -> normalized season grids and labels.

`preprocessing.preprocessing.preprocessing_fn` is the tf.Transform entry
point; the other modules are its parts (decode, binning, pick, normalize,
labels) and `croptfx.artifacts.read_band_statistics` reads back the band statistics.
"""
