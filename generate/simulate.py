"""The field, phenology and spectra simulator behind every generated data set.

`croptfx generate` writes Part-1 rows (`part1`) and imagery (`imagery`: COGs,
STAC items, CDL rasters) from this one model, so the truth of every pixel is
known whichever way it is delivered:

- field types and their CDL class each year (`FIELD_TYPES`, crop rotations);
- phenology per CDL class (`PROFILES`: double-logistic greenness, rice
  flooding, winter wheat, hay cuts, cotton boll opening) and per-year shifts;
- surface reflectance as a mixture of soil, vegetation, water and built-up
  endmembers with per-class canopy tints and noise (`surface`);
- acquisition schedules with cloudy and missing scenes (`tile_schedule`);
- the Scene Classification of a clear view (`clear_scl`, as Sen2Cor flags
  vegetation only where the canopy is dense) and what clouds, cirrus and
  shadows do to the reflectance (`atmosphere`).

Each caller draws from its own NumPy generator; the functions take it as
their first argument and draw in a fixed order, so outputs are
byte-for-byte deterministic.
"""

import dataclasses
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from croptfx import codec
from croptfx import features

# Sentinel-2's revisit with two satellites, days.
REVISIT_DAYS = features.BIN_DAYS

# Spectral endmembers, reflectance x 10000, bands in features.BAND_NAMES order.
SOIL = np.array([1100, 1250, 1550, 1850, 2150, 2350, 2480, 2580, 2680, 2720, 3300, 2800], float)
VEGETATION = np.array([250, 320, 620, 300, 950, 2700, 3350, 3650, 3800, 3850, 1900, 900], float)
WATER = np.array([700, 620, 560, 420, 300, 210, 180, 150, 130, 100, 60, 40], float)
URBAN = np.array([1500, 1600, 1720, 1830, 1920, 2010, 2090, 2150, 2200, 2210, 2500, 2300], float)
CLOUD = np.array([5600, 5800, 5900, 6100, 6100, 6200, 6200, 6300, 6200, 6000, 4200, 3000], float)
SNOW = np.array([8800, 8900, 8800, 8600, 8400, 8200, 8000, 7800, 7600, 7000, 600, 400], float)
CIRRUS = np.array([1400, 1300, 1150, 1050, 1000, 950, 900, 900, 880, 850, 500, 350], float)
BOLLS = np.array([2600, 2900, 3100, 3300, 3300, 3200, 3100, 3000, 3000, 2900, 2600, 2200], float)


@dataclasses.dataclass(frozen=True)
class Phenology:
  """Greenness v(t) = vmin + (vmax - vmin) (s((t - sos)/rs) - s((t - eos)/re))."""
  sos: float  # start of season, day of year
  eos: float  # end of season
  vmax: float = 0.9
  vmin: float = 0.06
  rs: float = 7.0
  re: float = 7.0
  tint: Tuple[float, ...] = (1,) * 12  # canopy spectrum multipliers
  second: Optional['Phenology'] = None  # double crop: the later crop
  flood: Optional[Tuple[float, float]] = None  # rice: flooded days of year
  cuts: Tuple[float, ...] = ()  # hay cuts
  urban: float = 0.0  # built-up fraction
  water: float = 0.0  # open-water fraction all year
  wet_spring: float = 0.0  # water fraction Jan..Apr (wetlands)
  bolls: bool = False  # cotton: open bolls brighten the canopy late season
  shifts: bool = True  # planting follows the year's weather


def _tint(**bands):
  t = np.ones(12)
  for name, value in bands.items():
    t[features.BAND_NAMES.index(name)] = value
  return tuple(t)


PROFILES: Dict[str, Phenology] = {
    'Corn': Phenology(118, 212, 0.88, rs=7, re=9, tint=_tint(B03=1.12, B05=1.10, B11=1.12, B12=1.15)),
    'Soybeans': Phenology(150, 258, 0.93, rs=6, re=6, tint=_tint(B07=1.06, B08=1.08, B8A=1.08, B11=0.92)),
    'Cotton': Phenology(168, 268, 0.78, rs=9, re=4, tint=_tint(B02=1.15, B04=1.2, B11=1.05), bolls=True),
    'Rice': Phenology(152, 240, 0.90, rs=6, re=6, tint=_tint(B03=1.1, B08=0.94), flood=(105, 225)),
    'Winter Wheat': Phenology(62, 150, 0.84, vmin=0.22, rs=12, re=6, tint=_tint(B03=1.08)),
    'Sorghum': Phenology(140, 228, 0.80, rs=8, re=8, tint=_tint(B11=1.1)),
    'Peanuts': Phenology(160, 275, 0.80, rs=8, re=8, tint=_tint(B05=1.05)),
    'Other Hay/Non Alfalfa': Phenology(80, 300, 0.82, vmin=0.40, rs=15, re=18, cuts=(150, 205), shifts=False),
    'Dbl Crop WinWht/Soybeans': Phenology(
        62, 150, 0.84, vmin=0.22, rs=12, re=6, tint=_tint(B03=1.08),
        second=Phenology(188, 288, 0.88, rs=6, re=6, tint=_tint(B08=1.08))),
    'Dbl Crop WinWht/Corn': Phenology(
        62, 150, 0.84, vmin=0.22, rs=12, re=6, tint=_tint(B03=1.08),
        second=Phenology(170, 255, 0.84, rs=7, re=8, tint=_tint(B11=1.12))),
    'Grassland/Pasture': Phenology(85, 290, 0.70, vmin=0.32, rs=15, re=20, shifts=False),
    'Deciduous Forest': Phenology(96, 305, 0.92, vmin=0.28, rs=7, re=10, tint=_tint(B11=0.85, B12=0.8), shifts=False),
    'Woody Wetlands': Phenology(100, 300, 0.88, vmin=0.25, rs=8, re=10, tint=_tint(B11=0.8), wet_spring=0.35, shifts=False),
    'Open Water': Phenology(150, 250, 0.03, vmin=0.0, water=0.95, shifts=False),
    'Developed/Open Space': Phenology(90, 290, 0.55, vmin=0.30, rs=15, re=15, urban=0.35, shifts=False),
    'Developed/Low Intensity': Phenology(100, 280, 0.35, vmin=0.18, rs=15, re=15, urban=0.6, shifts=False),
    'Fallow/Idle Cropland': Phenology(175, 300, 0.38, vmin=0.07, rs=15, re=15, shifts=False),
}

# Field types: share of fields and the CDL class each year (cycling by year
# and field parity, which makes crop rotations).
FIELD_TYPES: Sequence[Tuple[str, float, Tuple[str, ...]]] = (
    ('corn_soy', 0.40, ('Soybeans', 'Corn')),
    ('soy_soy', 0.06, ('Soybeans',)),
    ('rice_soy', 0.11, ('Rice', 'Soybeans')),
    ('cotton', 0.10, ('Cotton', 'Cotton', 'Corn')),
    ('wheat_dbl', 0.05, ('Dbl Crop WinWht/Soybeans', 'Winter Wheat', 'Dbl Crop WinWht/Soybeans')),
    ('wheat_corn', 0.015, ('Winter Wheat', 'Dbl Crop WinWht/Corn')),
    ('sorghum', 0.015, ('Sorghum', 'Soybeans')),
    ('peanuts', 0.01, ('Peanuts', 'Cotton')),
    ('hay', 0.04, ('Other Hay/Non Alfalfa',)),
    ('pasture', 0.06, ('Grassland/Pasture',)),
    ('forest', 0.045, ('Deciduous Forest',)),
    ('wetland', 0.045, ('Woody Wetlands',)),
    ('water', 0.025, ('Open Water',)),
    ('open_space', 0.02, ('Developed/Open Space',)),
    ('low_intensity', 0.01, ('Developed/Low Intensity',)),
    ('fallow', 0.01, ('Fallow/Idle Cropland',)),
)

# Season timing and cloudiness by year (2019 was a late, wet spring).
YEAR_SHIFT_DAYS = {2019: 11.0, 2020: 4.0, 2021: -3.0}
YEAR_CLOUDINESS = {2019: 1.15, 2020: 1.0, 2021: 0.95}
# Chance that a scene is cloudy, by month (Jan..Dec), before the year factor.
MONTHLY_CLOUDINESS = np.array([0.50, 0.48, 0.45, 0.40, 0.36, 0.30, 0.28, 0.26, 0.25, 0.28, 0.38, 0.48])


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def greenness(p: Phenology, doy: np.ndarray, shift: np.ndarray, amp: np.ndarray) -> np.ndarray:
  """Greenness [P, N] for pixels with timing shift [P, 1] and amplitude [P, 1]."""
  t = doy - shift
  v = p.vmin + (p.vmax * amp - p.vmin) * (_sigmoid((t - p.sos) / p.rs) - _sigmoid((t - p.eos) / p.re))
  for cut in p.cuts:
    after = t - cut
    v = v * np.where(after >= 0, 1.0 - 0.45 * np.exp(-np.maximum(after, 0) / 12.0), 1.0)
  if p.second is not None:
    v = np.maximum(v, greenness(p.second, doy, shift, amp))
  return np.clip(v, 0.0, 1.0)


def surface(p: Phenology, doy, shift, amp, soil_tint, moisture, rng) -> Tuple[np.ndarray, np.ndarray]:
  """Surface reflectance [P, N, 12] and the open-water fraction [P, N]."""
  v = greenness(p, doy, shift, amp)
  water = np.full(v.shape, p.water)
  if p.wet_spring:
    water = water + p.wet_spring * (doy < 120) * (1.0 - 0.5 * v)
  if p.flood is not None:
    start, end = p.flood
    t = doy - shift
    water = water + 0.75 * ((t >= start) & (t <= end)) * (1.0 - v) ** 1.5
  water = np.clip(water, 0.0, 0.98)
  urban = np.full(v.shape, p.urban)
  veg_frac = v * (1.0 - urban - water).clip(0.0)
  soil_frac = (1.0 - veg_frac - water - urban).clip(0.0)
  canopy = VEGETATION * np.asarray(p.tint)
  if p.second is not None:
    late = (doy - shift > (p.eos + p.second.sos) / 2.0)[..., None]
    canopy = np.where(late, VEGETATION * np.asarray(p.second.tint), canopy)
  refl = (soil_frac[..., None] * SOIL * soil_tint[:, None, :] * moisture[..., None]
          + veg_frac[..., None] * canopy
          + water[..., None] * WATER
          + urban[..., None] * URBAN)
  if p.bolls:
    opened = _sigmoid((doy - shift - 238.0) / 6.0) * (1 - _sigmoid((doy - shift - 285.0) / 5.0))
    refl = refl + (0.35 * opened)[..., None] * (BOLLS - refl)
  refl = refl * rng.normal(1.0, 0.025, refl.shape) + rng.normal(0.0, 25.0, refl.shape)
  return refl, water


def tile_schedule(rng, year: int, orbit_offset: int, cloudiness: np.ndarray,
                  revisit_days: int = REVISIT_DAYS) -> Dict[str, np.ndarray]:
  """Acquisitions of one orbit over a tile in `year`: days since epoch and
  scene cloudiness (the share of the scene under cloud), every
  `revisit_days` from day `orbit_offset` on, minus dropped scenes."""
  jan1 = codec.jan1_days(year)
  n_days = int(codec.days_in_year(year))
  doy0 = np.arange(orbit_offset, n_days, revisit_days)
  month = (np.datetime64('1970-01-01') + (jan1 + doy0).astype('timedelta64[D]')).astype('datetime64[M]').astype(int) % 12
  chance = np.clip(MONTHLY_CLOUDINESS[month] * cloudiness, 0, 0.95)
  cloudy = rng.random(len(doy0)) < chance
  cover = np.where(cloudy, rng.beta(2.5, 1.5, len(doy0)), rng.beta(1.0, 12.0, len(doy0)))
  # Providers drop scenes that are nearly all cloud, and some are missing.
  keep = (cover < 0.9) & (rng.random(len(doy0)) > 0.04)
  # A two-week outage once a year (a satellite safe mode, a processing gap).
  outage = rng.integers(60, 300)
  keep &= ~((doy0 >= outage) & (doy0 < outage + 14))
  return {'days': jan1 + doy0[keep], 'cover': cover[keep]}


def cdl_names(field_type: np.ndarray, field_index: np.ndarray, year: int) -> np.ndarray:
  """The CDL class name of fields in `year` (object array): each field type
  cycles through its classes by year and field parity (crop rotations)."""
  names = []
  for t, i in zip(field_type, field_index):
    cycle = FIELD_TYPES[t][2]
    names.append(cycle[(year + i) % len(cycle)])
  return np.array(names, dtype=object)


def clear_scl(rng, refl: np.ndarray, water: np.ndarray) -> np.ndarray:
  """Scene Classification of a clear view of surfaces `refl` [..., 12] with
  open-water fractions `water` [...]: vegetation (4) where NDVI passes a
  noisy threshold, water (6), dark areas (2), not vegetated (5) otherwise,
  and 2% unclassified (7). Draws a normal and a uniform per pixel."""
  shape = refl.shape[:-1]
  scl = np.full(shape, 5, dtype=np.uint8)  # not vegetated
  ndvi = codec.ndvi(np.clip(refl, 1, None))
  threshold = 0.42 + rng.normal(0, 0.03, shape)
  scl[ndvi > threshold] = features.SCL_VEGETATION
  scl[(water > 0.45) & (ndvi < 0.2)] = 6
  dark = refl[..., features.NIR_BAND] < 900
  scl[dark & (scl == 5)] = 2
  scl[rng.random(shape) < 0.02] = 7  # unclassified
  return scl


def atmosphere(rng, refl: np.ndarray, opaque: np.ndarray, cirrus: np.ndarray,
               shadow: np.ndarray) -> np.ndarray:
  """Reflectance [..., 12] seen through opaque cloud (the cloud spectrum,
  brightness 0.75-1.35), thin cirrus (added to the surface) and cloud
  shadow (the surface darkened to 30-50%). Masks have the shape of
  `refl[..., 0]`; draws two uniforms per pixel (brightness, then shadow)."""
  shape = refl.shape[:-1] + (1,)
  brightness = rng.uniform(0.75, 1.35, shape)
  out = np.where(opaque[..., None], CLOUD * brightness, refl)
  out = np.where(cirrus[..., None], refl + CIRRUS * brightness, out)
  return np.where(shadow[..., None], refl * rng.uniform(0.3, 0.5, shape), out)
