"""The report in a real browser: headless system Chromium through Selenium.

Loads report.html from disk (file://) with networking off, and checks that
it renders without console errors, shows its heading, and screenshots whole.
Skipped, with the reason, when chromium or chromedriver is not installed.
"""

import os

import pytest

from croptfx.report import build
from croptfx.report import screenshot
from tests import test_report

pytestmark = pytest.mark.browser


@pytest.fixture(scope='module')
def report_path(tmp_path_factory):
  _, _, reason = screenshot.find_browser()
  if reason:
    pytest.skip(reason)
  run_dir = str(tmp_path_factory.mktemp('run'))
  test_report.make_run_dir(run_dir)
  return build.write_report(run_dir)


def test_renders_offline_without_console_errors(report_path, tmp_path):
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  png = str(tmp_path / 'report.png')
  with screenshot.chromium_driver() as driver:
    # No network at all: anything the page tried to fetch would fail loudly.
    driver.set_network_conditions(offline=True, latency=0, download_throughput=0,
                                  upload_throughput=0)
    driver.get(screenshot.file_url(report_path))
    heading = driver.find_element(By.ID, 'report-title')
    assert heading.is_displayed()
    assert heading.text.startswith('croptfx run report')
    sections = [e.get_attribute('id') for e in driver.find_elements(By.CSS_SELECTOR, 'section')]
    assert sections == ['data', 'season', 'model', 'maps', 'run']
    # Every figure was decoded and laid out at a real size.
    for element in driver.find_elements(By.CSS_SELECTOR, 'figure svg, figure img'):
      size = element.size
      assert size['width'] > 200 and size['height'] > 100, size
    broken = driver.execute_script(
        'return Array.from(document.images).filter(i => !i.complete || !i.naturalWidth).length')
    assert broken == 0
    page_height = driver.execute_script('return document.documentElement.scrollHeight')
    logs = screenshot.capture(driver, png)
  severe = [e for e in logs if e.get('level') == 'SEVERE']
  assert not severe, severe
  from PIL import Image  # pylint: disable=g-import-not-at-top
  with Image.open(png) as image:
    width, height = image.size
  assert width == 1280
  assert height >= page_height - 5  # the whole page, not one screen


def test_screenshot_helper_writes_png(report_path, tmp_path):
  png = str(tmp_path / 'shot.png')
  logs = screenshot.screenshot(report_path, png, width=1000)
  assert os.path.getsize(png) > 10000
  assert not [e for e in logs if e.get('level') == 'SEVERE']
