"""The chain a user with imagery runs, command by command, on a small area:

  croptfx generate DIR --imagery    COGs, STAC items, CDL rasters
  croptfx extract --labels ...      Part-1 rows of 2021 and 2022
  croptfx run --data ...            the pipeline, trained on 2021, evaluated on 2022
  croptfx extract --grid ...        the area to map, no labels
  croptfx map --as-of 2022-07-15    the map of that area

Every step is the installed command in its own process, as in the README.
Runs the real pipeline (marker `pipeline`), with a small CNN.
"""

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.pipeline


def _croptfx(*args):
  run = subprocess.run([sys.executable, '-m', 'croptfx.cli', *map(str, args)],
                       capture_output=True, text=True)
  assert run.returncode == 0, (args[0], run.stdout[-2000:], run.stderr[-2000:])
  return run


def _lonlat(directory):
  found = set()
  for root, _, names in os.walk(directory):
    for name in names:
      if name.endswith('.parquet'):
        table = pq.read_table(os.path.join(root, name), columns=['lon', 'lat'])
        found.update(zip(table.column('lon').to_pylist(), table.column('lat').to_pylist()))
  return found


def test_generate_extract_run_map(tmp_path):
  imagery = tmp_path / 'imagery'
  _croptfx('generate', imagery, '--imagery', '--aoi', '24x18', '--revisit-days', '20', '--seed', 1)
  with open(imagery / 'imagery.json', encoding='utf-8') as f:
    made = json.load(f)
  labels = ','.join(f'{y}={p}' for y, p in made['labels'].items())

  data = tmp_path / 'data'
  _croptfx('extract', '--items', made['catalogs']['earth-search'], '--labels', labels,
           '--output', data)
  with open(data / 'extract_summary.json', encoding='utf-8') as f:
    extracted = json.load(f)
  assert extracted['reconciled'] and extracted['rows_by_year'] == {'2021': 432, '2022': 432}

  run = tmp_path / 'run'
  _croptfx('run', '--data', data, '--output', run, '--years', '2021,2022', '--model', 'cnn',
           '--train-steps', 20, '--epochs', 1, '--blessing-threshold', 0, '--no-report')
  with open(run / 'run_summary.json', encoding='utf-8') as f:
    summary = json.load(f)
  assert summary['rows_read'] == 864
  assert summary['examples'] == {'train': 432, 'eval': 432}
  assert sum(summary['quarantined'].values()) == 0
  model = summary['model_dir']
  assert model and os.path.isdir(model)

  west, south, east, north = made['area']['cell_centres_lonlat_bounds']
  area = tmp_path / 'area'
  _croptfx('extract', '--items', made['catalogs']['planetary-computer'], '--grid', 'EPSG:5070,30',
           '--aoi', f'{west},{south},{east},{north}', '--years', 2022, '--output', area)
  with open(area / 'extract_summary.json', encoding='utf-8') as f:
    to_map = json.load(f)
  assert to_map['reconciled'] and to_map['rows'] > 300

  mapped = tmp_path / 'map'
  _croptfx('map', '--model', model, '--data', area, '--as-of', '2022-07-15', '--output', mapped)
  with open(mapped / 'map_summary.json', encoding='utf-8') as f:
    map_summary = json.load(f)
  assert map_summary['rows_read'] == map_summary['predicted'] == to_map['rows']
  assert map_summary['skipped_total'] == 0
  assert sum(map_summary['pixels_per_class'].values()) == to_map['rows']
  # The map's pixels are the extraction's cells, at the same lon/lat.
  assert _lonlat(mapped / 'pixels') == _lonlat(area)
