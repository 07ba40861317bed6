"""preprocessing.binning: calendar 5-day bins, same arithmetic as codec."""

import numpy as np
import pytest
import tensorflow as tf

from croptfx import codec
from croptfx.preprocessing import binning
from tests.test_preprocessing_reference import day


def _bins(dates, year):
  bins, in_season = binning.calendar_bins(
      tf.constant([dates], tf.int64), tf.constant([year], tf.int64))
  return bins.numpy()[0].tolist(), in_season.numpy()[0].tolist()


def test_jan1_matches_codec():
  years = np.arange(1970, 2200)
  np.testing.assert_array_equal(
      binning.jan1_days(tf.constant(years)).numpy(), codec.jan1_days(years))
  assert binning.jan1_days(tf.constant(2019)).numpy() == day(2019, 1, 1)


def test_days_in_year():
  years = tf.constant([2019, 2020, 2100, 2000])
  assert binning.days_in_year(years).numpy().tolist() == [365, 366, 365, 366]


@pytest.mark.parametrize('year,dates,expected', [
    (2019, [(1, 1), (1, 5), (1, 6), (12, 30), (12, 31)], [0, 0, 1, 72, 72]),
    # Leap year: Feb 29 is day 59; Dec 30 is day 364 (bin 72); Dec 31 is day
    # 365, bin 73, folded into 72.
    (2020, [(1, 1), (2, 29), (3, 1), (12, 30), (12, 31)], [0, 11, 12, 72, 72]),
    (2021, [(12, 26), (12, 27), (12, 31)], [71, 72, 72]),
])
def test_hand_computed_bins(year, dates, expected):
  bins, in_season = _bins([day(year, m, d) for m, d in dates], year)
  assert bins == expected
  assert all(in_season)


@pytest.mark.parametrize('year', [2019, 2020, 2021, 2024])
def test_every_day_matches_codec(year):
  days = np.arange(codec.jan1_days(year), codec.jan1_days(year + 1))
  bins, in_season = _bins(days, year)
  assert bins == codec.calendar_bin(days, year).tolist()
  assert all(in_season) and max(bins) == 72


def test_dates_outside_the_season_are_flagged():
  _, in_season = _bins([day(2020, 12, 31), day(2021, 1, 1), day(2022, 1, 1)],
                       2021)
  assert in_season == [False, True, False]
