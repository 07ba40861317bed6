"""A full-page PNG of the report in headless Chromium (tests, README image).

Drives the system Chromium through its ChromeDriver (Debian packages
`chromium` and `chromium-driver`, installed by `./setup.sh --browser`); it
never downloads a browser. Can be run as
`python -m report.screenshot RUN_DIR/report.html docs/report.png`.
"""

import contextlib
import os
import pathlib
import shutil
import sys
import tempfile
from typing import Iterator, List, Optional, Tuple
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM_CANDIDATES = ('/usr/bin/chromium', '/usr/bin/chromium-browser')
CHROMEDRIVER_CANDIDATES = ('/usr/bin/chromedriver',)
# Offline and quiet: no background fetches, no first-run UI, no GPU.
CHROME_ARGS = ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
               '--disable-background-networking', '--disable-component-update',
               '--no-first-run', '--disable-sync', '--hide-scrollbars')
# Chromium's limit for one screenshot dimension, well above any report.
_MAX_HEIGHT = 16000


def find_browser() -> Tuple[Optional[str], Optional[str], Optional[str]]:
  """(chromium, chromedriver, None), or (.., .., reason one is missing)."""
  chromium = next((p for p in CHROMIUM_CANDIDATES if os.access(p, os.X_OK)), None)
  chromium = chromium or shutil.which('chromium')
  driver = next((p for p in CHROMEDRIVER_CANDIDATES if os.access(p, os.X_OK)), None)
  driver = driver or shutil.which('chromedriver')
  missing = [name for name, path in (('chromium', chromium), ('chromedriver', driver))
             if not path]
  reason = None
  if missing:
    reason = (f'{" and ".join(missing)} not installed (run ./setup.sh --browser, '
              'which installs the Debian packages chromium and chromium-driver)')
  return chromium, driver, reason


@contextlib.contextmanager
def chromium_driver(width: int = 1280, height: int = 900) -> Iterator[object]:
  """A headless Chromium WebDriver with a fresh profile, logging console messages."""
  chromium, driver_path, reason = find_browser()
  if reason:
    raise RuntimeError(reason)
  with tempfile.TemporaryDirectory(prefix='croptfx-chromium-') as profile:
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in CHROME_ARGS:
      options.add_argument(arg)
    options.add_argument(f'--user-data-dir={profile}')
    options.add_argument(f'--window-size={width},{height}')
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
      yield driver
    finally:
      driver.quit()


def file_url(path: str) -> str:
  return pathlib.Path(os.path.abspath(path)).as_uri()


def capture(driver, png_path: str, width: int = 1280) -> List[dict]:
  """Sizes the viewport to the whole document, saves a PNG; returns console logs."""
  size = driver.get_window_size()
  inner_width, inner_height = driver.execute_script(
      'return [window.innerWidth, window.innerHeight]')
  frame_width, frame_height = size['width'] - inner_width, size['height'] - inner_height
  # Lay out at the final width first: the page height depends on it.
  driver.set_window_size(width + frame_width, size['height'])
  height = driver.execute_script('return document.documentElement.scrollHeight')
  driver.set_window_size(width + frame_width, min(int(height), _MAX_HEIGHT) + frame_height)
  os.makedirs(os.path.dirname(os.path.abspath(png_path)), exist_ok=True)
  if not driver.save_screenshot(png_path):
    raise RuntimeError(f'could not write {png_path}')
  return driver.get_log('browser')


def screenshot(html_path: str, png_path: str, width: int = 1280) -> List[dict]:
  """Renders `html_path` from disk and writes a full-page PNG to `png_path`.

  Returns the browser console entries (Selenium's `get_log('browser')`).
  """
  with chromium_driver(width) as driver:
    driver.get(file_url(html_path))
    return capture(driver, png_path, width)


def main(argv: List[str]) -> int:
  if len(argv) not in (3, 4):
    print('usage: python -m report.screenshot REPORT_HTML OUTPUT_PNG [WIDTH]', file=sys.stderr)
    return 2
  logs = screenshot(argv[1], argv[2], int(argv[3]) if len(argv) == 4 else 1280)
  for entry in logs:
    print(f'{entry.get("level")}: {entry.get("message")}', file=sys.stderr)
  print(argv[2])
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
