"""`croptfx bench --fingerprint`: what content-true caching costs (case I).

The ExampleGen's cache key hashes every byte of every input file
(`driver.input_fingerprint`). This case times it at 1x and 10x the demo
data against the listing alone (path and size of every file: what a
size-and-mtime key cost), each timed `ROUNDS` times alternating, and prints
seconds, MB/s and the ratios. Files are read from the page cache after the
first round (a re-run's case); the first round's cold read is printed apart.
"""

import os
import shutil
import statistics
import tempfile
import time
from typing import Dict

from croptfx.components.parquet_example_gen import driver
from croptfx.generate import part1
from croptfx.pipeline import configs
from croptfx.rows import reader

ROUNDS = 5


def _time(fn) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def measure(data: str) -> Dict[str, float]:
  """Median seconds of the listing and of the content fingerprint."""
  files = reader.list_input_files(data)
  size = sum(f.size for f in files)
  cold = _time(lambda: driver.input_fingerprint(data))
  listing, content = [], []
  for _ in range(ROUNDS):
    listing.append(_time(lambda: reader.list_input_files(data)))
    content.append(_time(lambda: driver.input_fingerprint(data)))
  return {'files': len(files), 'mb': size / 1e6, 'listing': statistics.median(listing),
          'content': statistics.median(content), 'cold': cold}


def main(pixels_per_year: int = 3000) -> int:
  tmp = tempfile.mkdtemp(prefix='croptfx-bench-fingerprint-')
  try:
    results = {}
    for scale in (1, 10):
      data = os.path.join(tmp, f'data-{scale}x')
      part1.write_dataset(data, pixels_per_year * scale, years=sorted(configs.YEAR_SPLITS),
                          seed=0)
      results[scale] = measure(data)
    print('case I: the ExampleGen input fingerprint, median of '
          f'{ROUNDS} alternating rounds (page cache warm; cold: the first read)')
    print('| data | files | MB | listing only (s) | content fingerprint (s) | MB/s | '
          'content / listing | cold (s) |')
    print('|---|---|---|---|---|---|---|---|')
    for scale, r in results.items():
      print(f"| {scale}x ({pixels_per_year * scale * len(configs.YEAR_SPLITS):,} rows) | "
            f"{r['files']} | {r['mb']:.1f} | {r['listing']:.4f} | {r['content']:.4f} | "
            f"{r['mb'] / r['content']:.0f} | {r['content'] / r['listing']:.1f}x | "
            f"{r['cold']:.3f} |")
    print(f"content fingerprint 10x / 1x: {results[10]['content'] / results[1]['content']:.2f}x")
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return 0
