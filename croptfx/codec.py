"""NumPy packing and unpacking of the Part-1 byte-string columns.

The TF graph decodes the same bytes with `tf.io.decode_raw`
(`preprocessing.decode`); this module is the NumPy side used by the generator,
the reference implementations in tests and benchmarks, and `croptfx predict`.
"""

import struct
from typing import Sequence

import numpy as np

from croptfx import features

BANDS_DTYPE = np.dtype('>u2')  # uint16 big-endian
DATES_DTYPE = np.dtype('>u2')
SCL_DTYPE = np.dtype('u1')
COORD_DTYPE = np.dtype('>f8')


def encode_bands(bands: np.ndarray) -> bytes:
  """[N, 12] reflectance x 10000 -> uint16 big-endian bytes, row-major."""
  bands = np.asarray(bands)
  if bands.ndim != 2 or bands.shape[1] != features.NUM_BANDS:
    raise ValueError(f'bands must be [N, {features.NUM_BANDS}], got {bands.shape}')
  return np.ascontiguousarray(bands, dtype=BANDS_DTYPE).tobytes()


def decode_bands(data: bytes) -> np.ndarray:
  """uint16 big-endian bytes -> [N, 12] uint16 array (native byte order)."""
  return np.frombuffer(data, BANDS_DTYPE).reshape(-1, features.NUM_BANDS).astype(np.uint16)


def encode_dates(days: Sequence[int]) -> bytes:
  """Days since 1970-01-01 -> uint16 big-endian bytes."""
  return np.asarray(days, dtype=DATES_DTYPE).tobytes()


def decode_dates(data: bytes) -> np.ndarray:
  return np.frombuffer(data, DATES_DTYPE).astype(np.int64)


def encode_scl(scl: Sequence[int]) -> bytes:
  return np.asarray(scl, dtype=SCL_DTYPE).tobytes()


def decode_scl(data: bytes) -> np.ndarray:
  return np.frombuffer(data, SCL_DTYPE).astype(np.int64)


def encode_coord(value: float) -> bytes:
  """float64 -> 8 big-endian bytes, the raw tf.Example form of lon/lat."""
  return struct.pack('>d', value)


def decode_coord(data: bytes) -> float:
  return struct.unpack('>d', data)[0]


def jan1_days(year):
  """Days since 1970-01-01 of January 1 of `year` (int or integer array).

  Proleptic Gregorian calendar, valid for years >= 1970; the same arithmetic
  runs in the TF graph (`preprocessing.binning.jan1_days`).
  """
  y = np.asarray(year, dtype=np.int64) - 1
  days = 365 * (y - 1969) + (y // 4 - 492) - (y // 100 - 19) + (y // 400 - 4)
  return days if days.ndim else int(days)


def is_leap_year(year):
  year = np.asarray(year)
  return (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))


def days_in_year(year):
  return 365 + is_leap_year(year).astype(np.int64)


def calendar_bin(days, year):
  """Calendar 5-day bin of dates (days since epoch) in season `year`.

  bin = (date - Jan 1) // 5; day 365 of a leap year (bin 73) joins bin 72.
  """
  day_index = np.asarray(days, dtype=np.int64) - jan1_days(year)
  return np.minimum(day_index // features.BIN_DAYS, features.BINS_PER_YEAR - 1)


def ndvi(bands: np.ndarray) -> np.ndarray:
  """NDVI from reflectance arrays [..., 12] (any units, same for both bands)."""
  red = bands[..., features.RED_BAND].astype(np.float64)
  nir = bands[..., features.NIR_BAND].astype(np.float64)
  with np.errstate(divide='ignore', invalid='ignore'):
    return np.where(nir + red > 0, (nir - red) / (nir + red), 0.0)
