"""The constants module, the label mapping data and the NumPy byte codec."""

import base64
import datetime
import json

import numpy as np
import pytest

from croptfx import codec
from croptfx import features
from croptfx.generate import part1


def test_slides_worked_example_bands():
  # The slides show bands starting `AUECmAOE` (base64) decoding to 321, 664, 900.
  raw = base64.b64decode('AUECmAOE')
  assert np.frombuffer(raw, codec.BANDS_DTYPE).tolist() == [321, 664, 900]


def test_slides_worked_example_date():
  # Their first image date, 0x45EE days after 1970-01-01, is 2019-01-06.
  raw = bytes([0x45, 0xEE])
  (days,) = codec.decode_dates(raw)
  assert days == 17902
  assert features.EPOCH + datetime.timedelta(days=int(days)) == datetime.date(2019, 1, 6)


def test_band_round_trip_is_big_endian_row_major():
  bands = np.arange(24, dtype=np.uint16).reshape(2, 12) * 1000 + 7
  data = codec.encode_bands(bands)
  assert len(data) == 2 * features.BAND_BYTES_PER_IMAGE
  assert data[:4] == bytes([0x00, 0x07, 0x03, 0xEF])  # 7, 1007 big-endian
  np.testing.assert_array_equal(codec.decode_bands(data), bands)


def test_coord_round_trip_exact():
  for value in (-89.2973, 36.85473, 1e-300, -0.0):
    data = codec.encode_coord(value)
    assert len(data) == features.COORD_BYTES
    assert codec.decode_coord(data) == value


@pytest.mark.parametrize('year', [1970, 1972, 2000, 2019, 2020, 2021, 2100])
def test_jan1_days_matches_calendar(year):
  assert codec.jan1_days(year) == (datetime.date(year, 1, 1) - features.EPOCH).days


def test_calendar_bins_by_hand():
  jan1 = codec.jan1_days(2020)  # leap year
  days = jan1 + np.array([0, 4, 5, 9, 10, 359, 360, 364, 365])
  assert codec.calendar_bin(days, 2020).tolist() == [0, 0, 1, 1, 2, 71, 72, 72, 72]
  dec31 = codec.jan1_days(2019) + 364  # non-leap Dec 31 -> (364 // 5) = 72
  assert codec.calendar_bin(dec31, 2019) == 72


def test_as_of_bin_and_day():
  # Bin 47 covers days 236..240 (1-based): complete on day 240.
  assert features.as_of_bin_for_day(240) == 47
  assert features.day_for_as_of_bin(47) == 240
  assert features.as_of_bin_for_day(239) == 46
  assert features.as_of_bin_for_day(4) == -1


def test_constants_are_consistent():
  assert features.BAND_NAMES == ('B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07',
                                 'B08', 'B8A', 'B09', 'B11', 'B12')
  assert features.BINS_PER_YEAR * features.BIN_DAYS == 365
  assert features.WINDOW_BINS * features.BIN_DAYS == 180
  assert features.CLASS_NAMES[features.NO_CROPS_GROWING] == 'No Crops Growing'
  assert [features.CLASS_NAMES[c] for c in features.CROP_CLASSES] == [
      'Cultivated', 'Corn', 'Soybeans', 'Cotton', 'Rice']


@pytest.mark.parametrize('name, expected', [
    ('Corn', 'Corn'), ('Soybeans', 'Soybeans'), ('Cotton', 'Cotton'), ('Rice', 'Rice'),
    ('Other Hay/Non Alfalfa', 'Cultivated'), ('Other Hay/Non-Alfalfa', 'Cultivated'),
    ('  other hay/non-alfalfa ', 'Cultivated'), ('WINTER WHEAT', 'Cultivated'),
    ('Sod/Grass_Seed', 'Cultivated'), ('Sweet Potatoes', 'Cultivated'),
    ('Deciduous Forest', 'Uncultivated'), ('Developed/Open Space', 'Uncultivated'),
    ('Open Water', 'Uncultivated'), ('Barley', 'Uncultivated'),
])
def test_label_mapping_classes_and_variants(name, expected):
  class_index, excluded, known = features.load_label_mapping().lookup(name)
  assert features.CLASS_NAMES[class_index] == expected
  assert not excluded and known


def test_label_mapping_double_crops_and_unknown():
  mapping = features.load_label_mapping()
  assert mapping.lookup('Dbl Crop WinWht/Soybeans') == (features.EXCLUDED_LABEL, True, True)
  assert mapping.lookup('dbl crop  winwht/corn') == (features.EXCLUDED_LABEL, True, True)
  # Not in the legend but a double crop by its prefix.
  assert mapping.lookup('Dbl Crop Rice/Soybeans') == (features.EXCLUDED_LABEL, True, True)
  assert mapping.lookup('Moon Cheese') == (features.UNCULTIVATED, False, False)


def test_cultivated_list_is_the_slides_list():
  doc = json.load(open(features.DEFAULT_LABEL_MAPPING_PATH, encoding='utf-8'))
  assert len(doc['mapping']['Cultivated']) == 22
  assert {k for k in doc['mapping']} == {'Corn', 'Soybeans', 'Cotton', 'Rice', 'Cultivated',
                                         'Uncultivated'}


def test_mapping_covers_every_generated_cdl_name():
  mapping = features.load_label_mapping()
  for name in part1.PROFILES:
    _, _, known = mapping.lookup(name)
    assert known, name


def test_replacement_mapping_file(tmp_path):
  path = tmp_path / 'mapping.json'
  path.write_text(json.dumps({'default_class': 'Uncultivated', 'excluded_prefixes': [],
                              'mapping': {'Corn': ['Corn', 'Sweet Corn']}}))
  mapping = features.load_label_mapping(str(path))
  assert mapping.lookup('Sweet Corn') == (features.CLASS_NAMES.index('Corn'), False, True)
  assert mapping.lookup('Dbl Crop WinWht/Soybeans') == (features.UNCULTIVATED, False, False)
  bad = tmp_path / 'bad.json'
  bad.write_text(json.dumps({'mapping': {'Maize': ['Corn']}}))
  with pytest.raises(ValueError, match="unknown class 'Maize'"):
    features.load_label_mapping(str(bad))
