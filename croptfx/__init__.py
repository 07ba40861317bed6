"""crop-timeseries-tfx: in-season crop-type training data and models from
irregular Sentinel-2 pixel time series, as a TFX pipeline."""

__version__ = '0.1.0'
