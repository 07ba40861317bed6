"""`croptfx`: generate data, run or compile the pipeline, predict, report,
compare runs, bench.

Heavy imports (TensorFlow, TFX, Beam) happen inside the sub-commands, so
`croptfx generate` and `croptfx --help` start quickly.
"""

import argparse
import datetime
import logging
import os
import re
import sys
import traceback
import warnings
from typing import List, Optional

from croptfx import errors
from croptfx import features
from croptfx import paths
from croptfx import serving_model
from croptfx.jobs import dataflow
from croptfx.jobs import failures
from croptfx.jobs import runners
# Light (no TensorFlow): the defaults and the run's checks, for the parser.
from croptfx.pipeline import configs
from croptfx.pipeline import run_config


def _years(text: str) -> List[int]:
  try:
    years = [int(y) for y in text.split(',') if y.strip()]
  except ValueError:
    raise argparse.ArgumentTypeError(f'years must be comma-separated integers, got {text!r}')
  if not years:
    raise argparse.ArgumentTypeError(f'expected at least one year, got {text!r}')
  twice = sorted({y for y in years if years.count(y) > 1})
  if twice:
    raise argparse.ArgumentTypeError(f'year {twice[0]} is given twice in {text!r}')
  if min(years) < 1:
    raise argparse.ArgumentTypeError(f'years must be positive, got {text!r}')
  return years


def _run_years(text: str) -> List[int]:
  """--years A,B[,C]: train, eval (and test) years; roles need two."""
  years = _years(text)
  if not 2 <= len(years) <= len(features.SPLIT_ORDER):
    raise argparse.ArgumentTypeError(
        f'takes two or three years (train,eval[,test]), got {text!r}')
  return years


def _year_pairs(text: str, what: str, example: str):
  """'2021=a,2020=b' -> {2021: 'a', 2020: 'b'}: YEAR=`what` pairs, each year once."""
  result = {}
  for item in text.split(','):
    year, sep, value = item.partition('=')
    year, value = year.strip(), value.strip()
    if not sep or not year.isdigit() or not value:
      raise argparse.ArgumentTypeError(
          f'takes YEAR={what} pairs like {example}, got {text!r}')
    if int(year) in result:
      raise argparse.ArgumentTypeError(f'year {int(year)} is given twice in {text!r}')
    result[int(year)] = value
  return result


def _year_splits(text: str):
  """'2021=train,2020=eval,2019=test' -> {2021: 'train', ...}.

  A year given twice is an error; split roles follow `features.split_roles`.
  """
  try:
    return features.check_year_splits(_year_pairs(text, 'SPLIT', '2021=train,2020=eval'))
  except ValueError as e:
    raise argparse.ArgumentTypeError(str(e)) from None


def _int_at_least(minimum: int, what: str):
  """An argparse type: an integer >= minimum."""
  def parse(text: str) -> int:
    try:
      value = int(text)
    except ValueError:
      value = None
    if value is None or value < minimum:
      raise argparse.ArgumentTypeError(f'must be {what}, got {text!r}')
    return value
  parse.__name__ = what  # argparse names the type in some messages
  return parse


_positive_int = _int_at_least(1, 'a positive integer')
_non_negative_int = _int_at_least(0, 'an integer >= 0')


def _not_blank(what: str):
  """An argparse type: text that is not empty or only spaces (an empty
  `--output ''` would otherwise mean the current directory)."""
  def parse(text: str) -> str:
    if not text.strip():
      raise argparse.ArgumentTypeError(f'must be {what}, got {text!r}')
    return text
  parse.__name__ = what
  return parse


_path = _not_blank('a path or URI')
_text = _not_blank('a non-empty value')
_aoi_text = _not_blank('WEST,SOUTH,EAST,NORTH or a GeoJSON file')


def _fraction(text: str) -> float:
  """A number in [0, 1] (an accuracy)."""
  try:
    value = float(text)
  except ValueError:
    value = float('nan')
  if not 0.0 <= value <= 1.0:  # NaN fails too
    raise argparse.ArgumentTypeError(f'must be a number from 0 to 1, got {text!r}')
  return value


def _date(text: str) -> datetime.date:
  try:
    return datetime.date.fromisoformat(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f'must be a date YYYY-MM-DD, got {text!r}') from None


def _aoi(text: str):
  """'200x150' -> (200, 150): width x height in pixels."""
  width, sep, height = text.lower().partition('x')
  if not (sep and width.strip().isdigit() and height.strip().isdigit()
          and int(width) > 0 and int(height) > 0):
    raise argparse.ArgumentTypeError(
        f'takes WIDTHxHEIGHT in pixels, two positive integers like 200x150, got {text!r}')
  return int(width), int(height)


def _cmd_generate(args) -> int:
  if args.imagery:
    return _generate_imagery(args)
  if args.revisit_days is not None:
    raise errors.CroptfxError('--revisit-days applies to --imagery')
  if (args.pixels_per_year is None) == (args.aoi is None):
    raise errors.CroptfxError('one of the arguments --pixels-per-year --aoi is required '
                              '(or --imagery)')
  from croptfx.generate import part1  # pylint: disable=g-import-not-at-top
  summary = part1.write_dataset(
      args.out, args.pixels_per_year, years=args.years or sorted(configs.YEAR_SPLITS),
      seed=args.seed, layout=args.layout,
      rows_per_file=args.rows_per_file or part1.DEFAULT_ROWS_PER_FILE,
      slides_columns=args.slides_columns, aoi=args.aoi, bad=args.bad)
  if args.aoi:
    what = (f"{args.aoi[0]} x {args.aoi[1]} pixels of a wall-to-wall area on the CDL's "
            f"{part1.AOI_PIXEL_M:g} m {summary['aoi']['crs']} grid x {len(summary['years'])} years")
  else:
    what = f"{args.pixels_per_year} pixels x {len(summary['years'])} years"
  bad = sum(summary['bad_rows'].values())
  cdls = (f" and the area's CDL of each year in {os.path.join(args.out, part1.CDL_DIR)}"
          if args.aoi else '')
  print(f"croptfx generate: wrote {summary['rows']} rows ({what}"
        + (f', {bad} of them bad on purpose' if bad else '')
        + f") in {len(summary['files'])} Parquet file(s) under {args.out} ({args.layout} layout)"
        + cdls)
  return 0


def _generate_imagery(args) -> int:
  """`generate --imagery`: COGs, STAC items and CDL rasters of an area."""
  if args.pixels_per_year is not None:
    raise errors.CroptfxError('--imagery makes an area: give its size with --aoi WxH (CDL '
                              'cells), not --pixels-per-year')
  for flag, given in (('--layout', args.layout != 'flat'), ('--slides-columns', args.slides_columns),
                      ('--rows-per-file', args.rows_per_file is not None), ('--bad', args.bad)):
    if given:
      raise errors.CroptfxError(f'{flag} applies to Part-1 rows, not --imagery')
  area = args.aoi or configs.IMAGERY_AREA
  if min(area) < 2:
    raise errors.CroptfxError(f'--aoi of --imagery must be at least 2x2 cells, got {area[0]}x{area[1]}')
  from croptfx.generate import imagery  # pylint: disable=g-import-not-at-top
  summary = imagery.write_imagery(
      args.out, area=area, years=args.years or configs.IMAGERY_YEARS, seed=args.seed,
      revisit_days=args.revisit_days or configs.IMAGERY_REVISIT_DAYS)
  tiles = ', '.join(t['name'] for t in summary['tiles'])
  print(f"croptfx generate: wrote {len(summary['scenes'])} Sentinel-2 L2A scenes (tiles {tiles}; "
        f"{len(summary['years'])} years) as COGs, two STAC ItemCollections and "
        f"{len(summary['labels'])} CDL rasters of a {area[0]} x {area[1]} cell area under {args.out}")
  print('  next: ' + ' '.join(imagery.extract_command(summary, os.path.join(args.out, 'extract'))))
  return 0


def _resolve_year_splits(year_splits, years):
  """--year-splits as given; --years 2021,2020,2019 means train,eval,test.

  argparse makes the two exclusive and checks both.
  """
  if year_splits:
    return dict(year_splits)
  if years:
    return dict(zip(years, features.SPLIT_ORDER))
  return None  # the pipeline's default (pipeline/configs.py)


def _cmd_run(args) -> int:
  from croptfx.pipeline import run as run_lib  # pylint: disable=g-import-not-at-top
  config = run_config.run_config(
      args.data, args.output, runner=args.runner, workers=args.workers,
      report=not args.no_report, verbose=args.verbose,
      year_splits=_resolve_year_splits(args.year_splits, args.years),
      model=args.model, train_steps=args.train_steps, epochs=args.epochs,
      label_mapping=args.label_mapping, blessing_threshold=args.blessing_threshold)
  run_lib.run_pipeline(config)
  return 0


def _cmd_compile(args) -> int:
  from croptfx.pipeline import kubeflow_v2_runner  # pylint: disable=g-import-not-at-top
  output = paths.check_output_file(args.output)
  beam_args = None
  if args.beam_runner == 'dataflow':
    settings = dataflow.Settings.check(
        args.project, args.region, args.pipeline_root,
        cloud_paths={'--pipeline-root': args.pipeline_root})
    beam_args = settings.beam_args(args.image or configs.PIPELINE_IMAGE)
  elif args.project or args.region:
    raise errors.CroptfxError('--project and --region apply to --beam-runner dataflow only')
  path = kubeflow_v2_runner.compile_pipeline(
      output, args.pipeline_root, args.data, args.image, beam_args, args.train_steps)
  print(f'croptfx compile: wrote the Kubeflow Pipelines v2 spec to {path}')
  return 0


def _configs():
  return configs


def _check_predict_paths(model: str, output: str) -> str:
  """The model serves raw examples and the output can be a file; no work yet."""
  if paths.is_uri(output):
    raise errors.CroptfxError('--output of predict is a local file; for a gs:// output '
                              'use croptfx map, which writes shards there')
  output = paths.check_output_file(output)
  serving_model.check(model)
  return output


def _cmd_predict(args) -> int:
  output = _check_predict_paths(args.model, args.output)
  paths.check_input_and_output(args.data, os.path.dirname(output))
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  result = map_run.predict(args.model, args.data, args.as_of, output, args.batch_size,
                           verbose=args.verbose)
  for warning in result['warnings']:
    print(f'croptfx predict: warning: {warning}', file=sys.stderr)
  skipped = result['skipped']
  detail = ', '.join(f'{reason}={n}' for reason, n in sorted(skipped.items()))
  print(f"croptfx predict: {result['predicted']} of {result['rows_read']} rows predicted "
        f'as of {args.as_of} -> {output}'
        + (f"; skipped {sum(skipped.values())} rows ({detail}) -> {result['skipped_file']}"
           if skipped else ''))
  return 0


def _beam_runner(args, supported, cloud_paths):
  """A command's runner, its flags checked (`jobs.runners`, `jobs.dataflow`):
  the Dataflow flags apply to --runner dataflow, --image to dataflow and
  portable; `cloud_paths` are the flags Dataflow workers read or write."""
  settings = None
  if args.runner == 'dataflow':
    settings = dataflow.Settings.check(
        args.project, args.region, args.output, args.temp_location, args.machine_type,
        args.max_num_workers, cloud_paths=cloud_paths)
  else:
    given = [flag for flag, value in (
        ('--project', args.project), ('--region', args.region),
        ('--temp-location', args.temp_location), ('--machine-type', args.machine_type),
        ('--max-num-workers', args.max_num_workers)) if value]
    if given:
      raise errors.CroptfxError(f'{", ".join(given)} apply to --runner dataflow only')
    if args.image and args.runner != 'portable':
      raise errors.CroptfxError('--image applies to --runner dataflow or portable only')
  return runners.check(args.runner, args.workers, settings,
                       args.image or configs.PIPELINE_IMAGE, supported=supported)


def _add_dataflow_arguments(p) -> None:
  """The flags of --runner dataflow (and the image, of portable too)."""
  p.add_argument('--project', type=_text, default=None, help='GCP project (Dataflow)')
  p.add_argument('--region', type=_text, default=None, help='GCP region (Dataflow)')
  p.add_argument('--temp-location', type=_text, default=None,
                 help='gs:// temp and staging location (Dataflow; default OUTPUT/tmp)')
  p.add_argument('--image', type=_text, default=None,
                 help='worker container image with the project installed (Dataflow, portable; '
                      'default pipeline/configs.py PIPELINE_IMAGE)')
  p.add_argument('--machine-type', type=_text, default=None, help='worker machine type (Dataflow)')
  p.add_argument('--max-num-workers', type=_positive_int, default=None,
                 help=f'autoscaling limit (Dataflow; default {dataflow.DEFAULT_MAX_NUM_WORKERS})')


def _grid_crs(text: str) -> str:
  """--grid-crs: a CRS pyproj knows, as 'EPSG:N'."""
  from croptfx.maps import pixel_grid  # pylint: disable=g-import-not-at-top
  try:
    return pixel_grid.check_crs(text)
  except errors.CroptfxError as e:
    raise argparse.ArgumentTypeError(str(e).split(': ', 1)[-1]) from None


def _check_map_rasters(args) -> None:
  """--like, --reference and --label-mapping of `croptfx map` exist (and the
  rasters open), before any work."""
  for flag, path in (('--like', args.like), ('--reference', args.reference),
                     ('--label-mapping', args.label_mapping)):
    if path and not paths.is_uri(path) and not os.path.exists(path):
      raise errors.CroptfxError(f'{flag} {path}: no such file')
  from croptfx.maps import products  # pylint: disable=g-import-not-at-top
  products.check_rasters(args.like, args.reference)


def _cmd_map(args) -> int:
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  runner = _beam_runner(args, map_run.RUNNERS, {'--model': args.model, '--data': args.data,
                                                '--output': args.output})
  if runner.name != 'dataflow':
    if not paths.is_uri(args.model) and not os.path.exists(args.model):
      raise errors.CroptfxError(f'--model {args.model}: no such file or directory')
    paths.check_input_and_output(args.data, args.output)
    serving_model.check(args.model)
  _check_map_rasters(args)
  from croptfx.maps import run as map_run  # pylint: disable=g-import-not-at-top
  map_run.run_map(args.model, args.data, args.as_of, args.output, runner=runner,
                  verbose=args.verbose, grid_crs=args.grid_crs, like=args.like,
                  reference=args.reference, label_mapping=args.label_mapping)
  return 0


def _labels(text: str):
  """'2021=cdl/2021.tif,2022=cdl/2022.tif' -> {2021: 'cdl/2021.tif', ...}."""
  return _year_pairs(text, 'PATH', '2021=cdl/2021_30m_cdls.tif')


def _grid(text: str):
  """'EPSG:5070,30' -> ('EPSG:5070', 30.0)."""
  crs, sep, res = text.rpartition(',')
  try:
    value = float(res)
  except ValueError:
    value = float('nan')
  if not sep or not re.fullmatch(r'EPSG:\d+', crs.strip(), re.IGNORECASE) or not value > 0:
    raise argparse.ArgumentTypeError(
        f'takes EPSG:N,RES (a CRS and a cell size in its units), like EPSG:5070,30, got {text!r}')
  return crs.strip().upper(), value


def _extract_runner(args):
  """The extraction's runner. Dataflow workers read the label rasters and
  write the output; the items are read here, their assets by the workers
  (any URI GDAL reads)."""
  from croptfx.extract import run as extract_run  # pylint: disable=g-import-not-at-top
  runner = _beam_runner(args, extract_run.RUNNERS, {'--output': args.output})
  if runner.name == 'dataflow':
    local = [f'--labels {y}={p}' for y, p in (args.labels or {}).items() if not paths.is_uri(p)]
    if local:
      raise errors.CroptfxError(f'Dataflow workers cannot read local files: {local[0]} must be '
                                'a gs://, s3:// or http(s) URI')
  return runner


def _cmd_extract(args) -> int:
  from croptfx.extract import aoi as aoi_lib  # pylint: disable=g-import-not-at-top
  from croptfx.extract import run as extract_run  # pylint: disable=g-import-not-at-top
  runner = _extract_runner(args)
  inputs = [('--items ', args.items)] + [(f'--labels {y}=', p) for y, p in (args.labels or {}).items()]
  for flag, path in inputs:
    if not paths.is_uri(path) and not os.path.exists(path):
      raise errors.CroptfxError(f'{flag}{path}: no such file or directory')
  if args.years and args.labels:
    missing = [y for y in args.years if y not in args.labels]
    if missing:
      raise errors.CroptfxError(f'--years {",".join(map(str, args.years))}: no --labels for '
                                f'{", ".join(map(str, missing))}')
  aoi = aoi_lib.parse(args.aoi) if args.aoi else None
  if args.grid and aoi is None:
    raise errors.CroptfxError('--grid needs --aoi WEST,SOUTH,EAST,NORTH or --aoi FILE.geojson: '
                              'the area to map')
  extract_run.check_output(args.output)
  config = configs.EXTRACT_CONFIG
  extract_run.run_extract(
      args.items, args.output, labels=args.labels, grid=args.grid, aoi=aoi, years=args.years,
      runner=runner, chunk_cells=args.chunk_cells or config['chunk_cells'],
      block_cells=config['block_cells'], block_samples=config['block_samples'],
      shard_bytes=config['shard_bytes'], verbose=args.verbose)
  return 0


def _cmd_report(args) -> int:
  from croptfx.report import build  # pylint: disable=g-import-not-at-top
  path = build.write_report(args.run)
  print(f'croptfx report: {path}')
  return 0


def _cmd_compare(args) -> int:
  for run_dir in args.runs:
    if not os.path.isdir(run_dir):
      raise errors.CroptfxError(f'{run_dir}: no such run directory')
  output = paths.check_output_file(args.output)
  from croptfx.report import compare  # pylint: disable=g-import-not-at-top
  path = compare.write_compare(args.runs, output, configs.COMPARE_AS_OF_DAYS,
                               allow_different_data=args.allow_different_data)
  print(f'croptfx compare: {len(args.runs)} runs -> {path}')
  return 0


def _positive_ints(text: str) -> List[int]:
  try:
    values = [int(v) for v in text.split(',') if v.strip()]
  except ValueError:
    values = []
  if not values or min(values) < 1:
    raise argparse.ArgumentTypeError(
        f'expected comma-separated positive integers, got {text!r}')
  return values


def _map_runners(text: str) -> List[str]:
  runners = [r.strip() for r in text.split(',') if r.strip()]
  if not runners or any(r not in ('local', 'beam') for r in runners):
    raise argparse.ArgumentTypeError(f'takes local and/or beam, comma-separated, got {text!r}')
  return runners


def _cmd_bench(args) -> int:
  if args.extract:
    if args.map or args.scaling or args.fingerprint or args.pixels_per_year is not None:
      raise errors.CroptfxError('--extract takes only --quick and --output')
    from croptfx.bench import extract_case  # pylint: disable=g-import-not-at-top
    return extract_case.main(args.quick, args.output)
  if args.fingerprint:
    from croptfx.bench import fingerprint_case  # pylint: disable=g-import-not-at-top
    return fingerprint_case.main()
  if args.map_raster:
    if args.map or args.scaling or args.pixels_per_year is not None:
      raise errors.CroptfxError('--map-raster takes only --quick and --output')
    from croptfx.bench import raster_case  # pylint: disable=g-import-not-at-top
    return raster_case.main(args.quick, args.output)
  if args.map:
    if args.scaling or args.pixels_per_year is not None:
      raise errors.CroptfxError('--map takes only --quick, --output and --map-runners')
    from croptfx.bench import map_case  # pylint: disable=g-import-not-at-top
    return map_case.main(args.quick, args.output, tuple(args.map_runners))
  if args.scaling:
    from croptfx.bench import scaling  # pylint: disable=g-import-not-at-top
    if len(args.scaling_sizes) != len(args.scaling_steps):
      raise errors.CroptfxError('--scaling-sizes and --scaling-steps need the same number of values')
    return scaling.main(args.scaling_sizes, args.scaling_steps, args.scaling_runner,
                        args.last_component)
  from croptfx.bench import main as bench_main  # pylint: disable=g-import-not-at-top
  bench_main.main(args.pixels_per_year, args.quick, args.output)
  return 0


def _add_runner_arguments(p, supported, note: str = '') -> None:
  """--runner and --workers of a command whose Beam jobs run on `supported`."""
  p.add_argument('--runner', choices=supported, default='local',
                 help='where the Beam jobs run: ' + '; '.join(
                     f'{name}: {runners.DESCRIPTIONS[name]}' for name in supported) + note)
  p.add_argument('--workers', type=_positive_int, default=None,
                 help=f'worker processes of --runner beam (default '
                      f'{runners.DEFAULT_BEAM_WORKERS})')


class _Parser(argparse.ArgumentParser):
  """argparse with its errors in one line (the usage is one --help away)."""

  def error(self, message):
    self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(
      prog='croptfx',
      description='In-season crop-type training data and models from irregular '
                  'Sentinel-2 pixel time series, as a TFX pipeline.')
  sub = parser.add_subparsers(dest='command', required=True)

  p = sub.add_parser('generate', help='write realistic synthetic Part-1 Parquet data, or the '
                                      'imagery it comes from (--imagery)')
  p.add_argument('out', type=_path, help='output directory')
  size = p.add_mutually_exclusive_group()
  size.add_argument('--pixels-per-year', type=_positive_int,
                    help='pixels in fields scattered over a county')
  size.add_argument('--aoi', type=_aoi, metavar='WxH',
                    help="every pixel of a W x H area of the CDL's 30 m EPSG:5070 grid, "
                         'made of fields (a map-like area, e.g. 200x150), and its CDL '
                         'GeoTIFF of each year in OUT/_cdl/; with --imagery the area in CDL '
                         'cells (default pipeline/configs.py IMAGERY_AREA, '
                         f'{"x".join(map(str, configs.IMAGERY_AREA))})')
  p.add_argument('--imagery', action='store_true',
                 help='instead of rows: Sentinel-2 L2A COGs of two tiles across UTM zones 15/16, '
                      'STAC ItemCollections (Earth Search and Planetary Computer conventions) '
                      'and CDL GeoTIFFs of an area, for croptfx extract')
  p.add_argument('--revisit-days', type=_positive_int, default=None,
                 help=f'--imagery: days between acquisitions (default {configs.IMAGERY_REVISIT_DAYS}, '
                      "Sentinel-2's)")
  p.add_argument('--years', type=_years, default=None,
                 help='comma-separated season years (default: the years of '
                      f'pipeline/configs.py, {",".join(map(str, sorted(configs.YEAR_SPLITS)))}; '
                      f'--imagery {",".join(map(str, configs.IMAGERY_YEARS))})')
  p.add_argument('--seed', type=_non_negative_int, default=0)
  p.add_argument('--layout', choices=('flat', 'hive'), default='flat')
  p.add_argument('--rows-per-file', type=_positive_int, default=None,
                 help='rows per Parquet file (default generate/part1.py DEFAULT_ROWS_PER_FILE, 5000)')
  p.add_argument('--slides-columns', action='store_true',
                 help="use the slides' column spellings '# scenes' and 'img dates'")
  p.add_argument('--bad', action='store_true',
                 help='also write, per year, one row the ExampleGen must quarantine for each '
                      'reason a file can hold (to see the quarantine at work)')
  p.set_defaults(func=_cmd_generate)

  p = sub.add_parser('run', help='run the whole TFX pipeline')
  p.add_argument('--data', type=_path, required=True,
                 help='directory, glob, Hive tree or gs:// / s3:// URI')
  p.add_argument('--output', type=_path, required=True,
                 help='output directory (pipeline root, metadata, summary)')
  _add_runner_arguments(p, run_config.RUNNERS, ' (the orchestrator: LocalDagRunner, '
                        'BeamDagRunner for beam)')
  splits = p.add_mutually_exclusive_group()
  splits.add_argument('--year-splits', type=_year_splits, default=None,
                      help='YEAR=SPLIT pairs, any split names (default '
                           + ','.join(f'{y}={n}' for y, n in configs.YEAR_SPLITS.items())
                           + '); the split named train, else '
                           'the first, is trained on; the one named eval, else the next, '
                           'validates and blesses; the others are evaluated')
  splits.add_argument('--years', type=_run_years, default=None,
                      help='shorthand: train,eval[,test] years, e.g. 2021,2020,2019')
  p.add_argument('--train-steps', type=_positive_int, default=None)
  p.add_argument('--epochs', type=_positive_int, default=None)
  p.add_argument('--label-mapping', type=_path, default=None, help='CDL -> class mapping JSON')
  p.add_argument('--blessing-threshold', type=_fraction, default=None,
                 help='eval accuracy at the headline as-of day a model needs to be pushed '
                      '(default pipeline/configs.py)')
  p.add_argument('--model', choices=tuple(configs.MODEL_CONFIGS), default=None,
                 help='in-season architecture (trainer/architectures.py; default '
                      f'{configs.DEFAULT_MODEL}, see MODELS.md)')
  p.add_argument('--no-report', action='store_true', help='skip the HTML report')
  p.add_argument('--verbose', action='store_true', help='show TFX/Beam logs on the console')
  p.set_defaults(func=_cmd_run)

  p = sub.add_parser('compile', help='compile the Kubeflow Pipelines v2 spec (offline)')
  p.add_argument('--output', type=_path, required=True, help='pipeline spec JSON to write')
  p.add_argument('--pipeline-root', type=_path, required=True, help='e.g. gs://bucket/croptfx')
  p.add_argument('--data', type=_path, required=True, help='e.g. gs://bucket/parquet/')
  p.add_argument('--image', type=_text, default=None,
                 help='container image with the project installed')
  p.add_argument('--beam-runner', choices=('direct', 'dataflow'), default='direct')
  p.add_argument('--project', type=_text, default=None, help='GCP project (Dataflow)')
  p.add_argument('--region', type=_text, default=None, help='GCP region (Dataflow)')
  p.add_argument('--train-steps', type=_positive_int, default=None)
  p.set_defaults(func=_cmd_compile)

  p = sub.add_parser('predict', help='classify raw Part-1 Parquet rows with a pushed model')
  p.add_argument('--model', type=_path, required=True,
                 help='pushed model directory (run_summary.json model_dir)')
  p.add_argument('--data', type=_path, required=True, help='Parquet file, directory or glob')
  p.add_argument('--as-of', required=True, type=_date, help="prediction date YYYY-MM-DD (within each row's year)")
  p.add_argument('--output', type=_path, required=True,
                 help='output Parquet file (GeoParquet: the pixel table of `croptfx map`)')
  p.add_argument('--batch-size', type=_positive_int, default=4096,
                 help='rows per record batch read and encoded')
  p.add_argument('--verbose', action='store_true', help='show Beam/TF logs on the console')
  p.set_defaults(func=_cmd_predict)

  p = sub.add_parser('map', help='map crop classes as of a date: GeoParquet pixels, '
                                 'Cloud-Optimized GeoTIFFs on the pixels\' grid, a quicklook '
                                 'and a map page, scored against a reference CDL (a Beam job)')
  p.add_argument('--model', type=_path, required=True,
                 help='pushed model directory (run_summary.json model_dir)')
  p.add_argument('--data', type=_path, required=True,
                 help='Parquet file, directory, glob, Hive tree or gs:// / s3:// URI')
  p.add_argument('--as-of', required=True, type=_date, help='map date YYYY-MM-DD')
  p.add_argument('--output', type=_path, required=True, help='output directory (local or gs://)')
  _add_runner_arguments(p, runners.RUNNERS)
  _add_dataflow_arguments(p)
  p.add_argument('--verbose', action='store_true', help='show Beam/TF logs on the console')
  grid = p.add_mutually_exclusive_group()
  grid.add_argument('--grid-crs', type=_grid_crs, default=None, metavar='EPSG:N',
                    help='fit the pixels\' grid in this CRS (cell size inferred); default: '
                         'detected among EPSG:5070, the UTM zones of the pixels and EPSG:4326')
  grid.add_argument('--like', type=_path, default=None, metavar='RASTER',
                    help="the grid of a template raster (its CRS, transform and cell size, "
                         "e.g. that year's CDL): each pixel falls in the cell that contains it")
  p.add_argument('--reference', type=_path, default=None, metavar='RASTER',
                 help='score the map against a raster of CDL codes (the CDL of the year): '
                      'accuracy, F1 and areas per class in map_summary.json, '
                      'disagreement.tif and map.html')
  p.add_argument('--label-mapping', type=_path, default=None,
                 help="CDL name -> class mapping JSON of the model's run, for --reference "
                      '(default the bundled croptfx/data/cdl_classes.json)')
  p.set_defaults(func=_cmd_map)

  p = sub.add_parser('extract', help='Sentinel-2 L2A scenes (STAC items, COGs) and CDL rasters '
                                     '-> Part-1 rows, as one Beam job')
  p.add_argument('--items', type=_path, required=True,
                 help='a STAC ItemCollection JSON file, a directory of item JSON files or a '
                      'static catalog (local, gs://, s3:// or http(s))')
  what = p.add_mutually_exclusive_group(required=True)
  what.add_argument('--labels', type=_labels, metavar='YEAR=PATH[,YEAR=PATH...]',
                    help='label rasters (the CDL of each year): the pixels are their cells')
  what.add_argument('--grid', type=_grid, metavar='EPSG:N,RES',
                    help="an area to map, no labels: the cells of this grid in --aoi "
                         "(EPSG:5070,30: the CDL's own cells)")
  p.add_argument('--aoi', type=_aoi_text, default=None, metavar='W,S,E,N|FILE.geojson',
                 help="the area in lon/lat degrees or a GeoJSON polygon (default: the label "
                      "rasters' extent)")
  p.add_argument('--years', type=_years, default=None,
                 help='the seasons (default: every --labels year; on a --grid every year of '
                      'the items)')
  p.add_argument('--output', type=_path, required=True,
                 help='the data directory to write: year=YYYY/*.parquet and extract_summary.json')
  _add_runner_arguments(p, runners.RUNNERS)
  p.add_argument('--chunk-cells', type=_positive_int, default=None,
                 help='cells per side of a chunk, the unit of the windowed reads (default '
                      f"pipeline/configs.py EXTRACT_CONFIG, {configs.EXTRACT_CONFIG['chunk_cells']})")
  _add_dataflow_arguments(p)
  p.add_argument('--verbose', action='store_true', help='show Beam/GDAL logs on the console')
  p.set_defaults(func=_cmd_extract)

  p = sub.add_parser('report', help='write DIR/report.html for a finished run')
  p.add_argument('--run', type=_path, required=True, help='the --output directory of `croptfx run`')
  p.set_defaults(func=_cmd_report)

  p = sub.add_parser('compare', help='runs side by side: in-season curves, per-class F1 '
                                     'and a table of scores, parameters and training time')
  p.add_argument('runs', type=_path, nargs='+', metavar='RUN_DIR',
                 help='--output directories of `croptfx run`')
  p.add_argument('--output', type=_path, required=True,
                 help='HTML file to write (e.g. compare.html)')
  p.add_argument('--allow-different-data', action='store_true',
                 help='compare runs that read different data (refused by default: their '
                      'scores are not comparable)')
  p.set_defaults(func=_cmd_compare)

  p = sub.add_parser('bench', help='benchmark the loaders and the pipeline')
  p.add_argument('--pixels-per-year', type=_positive_int, default=None)
  p.add_argument('--quick', action='store_true', help='smaller data, fewer repeats')
  p.add_argument('--output', type=_path, default=None, help='where to write BENCHMARKS.md data')
  p.add_argument('--scaling', action='store_true',
                 help='instead: per-component CPU seconds per 1,000 rows at two sizes, '
                      'the inputs of SCALING.md (one JSON document on stdout)')
  p.add_argument('--scaling-sizes', type=_positive_ints, default=[1000, 4000],
                 help='pixels per year of each --scaling size (default 1000,4000)')
  p.add_argument('--scaling-steps', type=_positive_ints, default=[100, 400],
                 help='train steps of each --scaling size (default 100,400)')
  p.add_argument('--scaling-runner', choices=('local', 'portable'), default='local',
                 help='portable: CPU seconds include the job service, the worker '
                      'pool and its SDK workers (polled)')
  p.add_argument('--fingerprint', action='store_true',
                 help='instead: the ExampleGen input fingerprint (every byte hashed) at 1x '
                      'and 10x the demo data against listing the files alone')
  p.add_argument('--map', action='store_true',
                 help='instead: `croptfx map` pixels/s against the serving signature alone, '
                      'and its peak RSS at 1x and 10x the pixels (the BENCHMARKS.md map section)')
  p.add_argument('--map-raster', action='store_true',
                 help="instead: the map's grid and raster steps alone, seconds per million "
                      'pixels and peak RSS at 1x and 10x the demo area and a regional area '
                      '(the BENCHMARKS.md map section)')
  p.add_argument('--extract', action='store_true',
                 help='instead: `croptfx extract` scene-samples/s against bare windowed reads of '
                      'the same assets, and its peak RSS with N and 2N scenes (the BENCHMARKS.md '
                      'extraction section)')
  p.add_argument('--map-runners', type=_map_runners,
                 default=['local', 'beam'],
                 help='runners of --map, comma-separated: local,beam (default both)')
  p.add_argument('--last-component', default=None,
                 help="--scaling stops there (e.g. 'Transform'); no Trainer or predict figures")
  p.set_defaults(func=_cmd_bench)
  return parser


# Options whose value may start with '-' (a western longitude): argparse
# would take `--aoi -90.1,33.4,-90,33.5` for two options.
_SIGNED_VALUE_OPTIONS = ('--aoi',)


def _attach_signed_values(argv: List[str]) -> List[str]:
  """['--aoi', '-90.1,...'] -> ['--aoi=-90.1,...'] (what argparse accepts)."""
  out = []
  i = 0
  while i < len(argv):
    if (argv[i] in _SIGNED_VALUE_OPTIONS and i + 1 < len(argv)
        and re.match(r'-\d|-\.\d', argv[i + 1])):
      out.append(f'{argv[i]}={argv[i + 1]}')
      i += 2
    else:
      out.append(argv[i])
      i += 1
  return out


def main(argv: Optional[List[str]] = None) -> int:
  argv = _attach_signed_values(list(sys.argv[1:] if argv is None else argv))
  verbose = '--verbose' in argv
  # TensorFlow's C++ start-up chatter (CUDA probing on a CPU machine) is
  # noise for a CLI user.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1' if verbose else '3')
  if not verbose:
    # Google client libraries warn about Python 3.10 at import (some
    # argument checks import them); TFX 1.16 needs 3.10, so it is noise here.
    warnings.filterwarnings('ignore', category=FutureWarning)
    os.environ.setdefault('PYTHONWARNINGS', 'ignore::FutureWarning')
  args = build_parser().parse_args(argv)
  logging.basicConfig(level=logging.WARNING, format='%(message)s')
  try:
    return args.func(args)
  except BaseException as e:  # pylint: disable=broad-except
    if isinstance(e, SystemExit):
      raise
    # Errors inside a job arrive translated (jobs.frame); the rest (argument
    # checks, compile, report) get the same translation here.
    error = failures.translate(e)
    if getattr(args, 'verbose', False) and error is not e:
      traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    if isinstance(error, errors.Interrupted):
      print(f'croptfx {args.command}: {error}', file=sys.stderr)
    else:
      print(f'croptfx {args.command}: error: {error}', file=sys.stderr)
    return error.exit_code


if __name__ == '__main__':
  sys.exit(main())
