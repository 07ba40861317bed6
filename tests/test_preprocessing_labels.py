"""preprocessing.labels: CDL name -> class in the graph, like LabelMapping."""

import json

import pytest
import tensorflow as tf

from croptfx import features
from croptfx.preprocessing import labels
from croptfx.preprocessing import preprocessing

CORN = features.CLASS_NAMES.index('Corn')
CULTIVATED = features.CLASS_NAMES.index('Cultivated')


def _lookup(names, mapping=None):
  mapping = mapping or features.load_label_mapping()
  label, excluded, known = labels.lookup_labels(
      tf.constant(names), mapping, labels.make_label_table(mapping))
  return list(zip(label.numpy().tolist(), excluded.numpy().tolist(),
                  known.numpy().tolist()))


@pytest.mark.parametrize('name', [
    'Other Hay/Non Alfalfa', 'Other Hay/Non-Alfalfa', 'other hay/non_alfalfa',
    '  OTHER HAY/NON -  ALFALFA\t', 'Other\tHay/Non--Alfalfa'])
def test_spelling_variants(name):
  assert _lookup([name]) == [(CULTIVATED, 0, 1)]


def test_case_and_blanks():
  assert _lookup(['Corn', 'CORN', ' corn  ', 'Sweet Corn']) == [
      (CORN, 0, 1)] * 3 + [(CULTIVATED, 0, 1)]


def test_double_crops_are_excluded_and_known():
  names = ['Dbl Crop WinWht/Soybeans', 'dbl crop winwht/soybeans',
           'Dbl Crop Oats/Rice',  # not listed: caught by the prefix
           'dbl_crop-lettuce/cotton']
  assert _lookup(names) == [(features.EXCLUDED_LABEL, 1, 1)] * 4


def test_unknown_names_get_the_default_class():
  assert _lookup(['Mystery Crop', '', 'Dbl']) == [
      (features.UNCULTIVATED, 0, 0)] * 3


def test_every_bundled_name_and_variants_agree_with_python():
  mapping = features.load_label_mapping()
  names = []
  for name in list(mapping.class_of) + list(mapping.excluded_names):
    names += [name, name.upper(), f' {name.title()} ', name.replace(' ', '-')]
  names += ['Grassland/Pasture', 'Ünknown Çrop', 'Fallow/Idle_Cropland']
  expected = [(c, int(e), int(k))
              for c, e, k in (mapping.lookup(n) for n in names)]
  assert _lookup(names, mapping) == expected


def test_normalize_matches_python_on_ascii():
  names = [' Other  Hay/Non-Alfalfa ', 'A_B-C\tD\nE', '--x--', 'Dbl Crop']
  got = labels.normalize_cdl_names(tf.constant(names)).numpy().tolist()
  assert [g.decode() for g in got] == [features.normalize_cdl_name(n)
                                       for n in names]


def test_custom_mapping_from_config(tmp_path):
  path = tmp_path / 'mapping.json'
  path.write_text(json.dumps({
      'default_class': 'No Crops Growing',
      'excluded_prefixes': ['Triple'],
      'excluded': ['Corn'],
      'mapping': {'Rice': ['Grassland/Pasture', 'Corn']},
  }))
  mapping = preprocessing.label_mapping_from_config(
      {preprocessing.LABEL_MAPPING_CONFIG_KEY: str(path)})
  rice = features.CLASS_NAMES.index('Rice')
  assert _lookup(['grassland/pasture', 'Corn', 'triple crop x', 'Soybeans'],
                 mapping) == [(rice, 0, 1), (features.EXCLUDED_LABEL, 1, 1),
                              (features.EXCLUDED_LABEL, 1, 1),
                              (features.NO_CROPS_GROWING, 0, 0)]
  assert preprocessing.label_mapping_from_config(None) == (
      features.load_label_mapping())
