"""`croptfx`: generate data, run or compile the pipeline, predict, report,
compare runs, bench.

Heavy imports (TensorFlow, TFX, Beam) happen inside the sub-commands, so
`croptfx generate` and `croptfx --help` start quickly.
"""

import argparse
import datetime
import logging
import os
import sys
import warnings
from typing import List, Optional

from croptfx import errors
from croptfx import features


def _years(text: str) -> List[int]:
  try:
    return [int(y) for y in text.split(',') if y.strip()]
  except ValueError:
    raise argparse.ArgumentTypeError(f'years must be comma-separated integers, got {text!r}')


def _year_splits(text: str):
  """'2021=train,2020=eval,2019=test' -> {2021: 'train', ...}."""
  result = {}
  for item in text.split(','):
    year, sep, split = item.partition('=')
    if not sep or not year.strip().isdigit() or not split.strip():
      raise argparse.ArgumentTypeError(
          f'--year-splits takes YEAR=SPLIT pairs like 2021=train,2020=eval, got {text!r}')
    result[int(year)] = split.strip()
  return result


def _positive_int(text: str) -> int:
  try:
    value = int(text)
  except ValueError:
    value = 0
  if value < 1:
    raise argparse.ArgumentTypeError(f'must be a positive integer, got {text!r}')
  return value


def _aoi(text: str):
  """'200x150' -> (200, 150): width x height in pixels."""
  width, sep, height = text.lower().partition('x')
  if not (sep and width.strip().isdigit() and height.strip().isdigit()
          and int(width) > 0 and int(height) > 0):
    raise argparse.ArgumentTypeError(
        f'takes WIDTHxHEIGHT in pixels, two positive integers like 200x150, got {text!r}')
  return int(width), int(height)


def _cmd_generate(args) -> int:
  from croptfx import generate  # pylint: disable=g-import-not-at-top
  summary = generate.write_dataset(
      args.out, args.pixels_per_year, years=args.years, seed=args.seed,
      layout=args.layout, rows_per_file=args.rows_per_file,
      slides_columns=args.slides_columns, aoi=args.aoi)
  if args.aoi:
    what = (f"{args.aoi[0]} x {args.aoi[1]} pixels of a wall-to-wall area at "
            f"{generate.AOI_PIXEL_M:g} m x {len(summary['years'])} years")
  else:
    what = f"{args.pixels_per_year} pixels x {len(summary['years'])} years"
  print(f"croptfx generate: wrote {summary['rows']} rows ({what}) "
        f"in {len(summary['files'])} Parquet file(s) under {args.out} ({args.layout} layout)")
  return 0


def _resolve_year_splits(year_splits, years):
  """--year-splits wins; --years 2021,2020,2019 means train,eval,test."""
  if year_splits:
    return dict(year_splits)
  if years:
    if len(years) > len(features.SPLIT_ORDER):
      raise errors.CroptfxError('--years takes at most three years: train,eval,test')
    return dict(zip(years, features.SPLIT_ORDER))
  return None  # the pipeline's default (pipeline/configs.py)


def _cmd_run(args) -> int:
  from pipeline import run as run_lib  # pylint: disable=g-import-not-at-top
  run_lib.run_pipeline(
      data=args.data, output=args.output, runner=args.runner, workers=args.workers,
      year_splits=_resolve_year_splits(args.year_splits, args.years),
      train_steps=args.train_steps, epochs=args.epochs,
      label_mapping=args.label_mapping, verbose=args.verbose,
      report=not args.no_report, accuracy_threshold=args.blessing_threshold,
      model=args.model)
  return 0


def _cmd_compile(args) -> int:
  from pipeline import configs  # pylint: disable=g-import-not-at-top
  from pipeline import dataflow  # pylint: disable=g-import-not-at-top
  from pipeline import kubeflow_v2_runner  # pylint: disable=g-import-not-at-top
  beam_args = None
  if args.beam_runner == 'dataflow':
    if not args.pipeline_root.startswith('gs://'):
      raise errors.CroptfxError('Dataflow needs a gs:// --pipeline-root')
    try:
      beam_args = dataflow.dataflow_beam_args(
          project=args.project, region=args.region,
          temp_location=args.pipeline_root.rstrip('/') + '/tmp',
          sdk_container_image=args.image or configs.PIPELINE_IMAGE)
    except ValueError as e:
      raise errors.CroptfxError(str(e)) from None
  path = kubeflow_v2_runner.compile_pipeline(
      args.output, args.pipeline_root, args.data, args.image, beam_args, args.train_steps)
  print(f'croptfx compile: wrote the Kubeflow Pipelines v2 spec to {path}')
  return 0


def _cmd_predict(args) -> int:
  try:
    as_of = datetime.date.fromisoformat(args.as_of)
  except ValueError:
    raise errors.CroptfxError(f'--as-of must be a date YYYY-MM-DD, got {args.as_of!r}') from None
  from trainer import predict  # pylint: disable=g-import-not-at-top
  result = predict.predict(args.model, args.data, as_of, args.output, args.batch_size)
  skipped = result['skipped']
  detail = ', '.join(f'{reason}={n}' for reason, n in sorted(skipped.items()))
  print(f"croptfx predict: {result['predicted']} of {result['rows_read']} rows predicted "
        f'as of {as_of} -> {args.output}'
        + (f"; skipped {sum(skipped.values())} bad rows ({detail})" if skipped else ''))
  return 0


def _cmd_report(args) -> int:
  from report import build  # pylint: disable=g-import-not-at-top
  path = build.write_report(args.run)
  print(f'croptfx report: {path}')
  return 0


def _cmd_compare(args) -> int:
  for run_dir in args.runs:
    if not os.path.isdir(run_dir):
      raise errors.CroptfxError(f'{run_dir}: no such run directory')
  out_dir = os.path.dirname(os.path.abspath(args.output))
  if not os.path.isdir(out_dir):
    raise errors.CroptfxError(f'--output: directory {out_dir} does not exist')
  from report import compare  # pylint: disable=g-import-not-at-top
  path = compare.write_compare(args.runs, args.output)
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


def _cmd_bench(args) -> int:
  if args.scaling:
    from bench import scaling  # pylint: disable=g-import-not-at-top
    if len(args.scaling_sizes) != len(args.scaling_steps):
      raise errors.CroptfxError('--scaling-sizes and --scaling-steps need the same number of values')
    return scaling.main(args.scaling_sizes, args.scaling_steps, args.scaling_runner,
                        args.last_component)
  from bench import main as bench_main  # pylint: disable=g-import-not-at-top
  bench_main.main(args.pixels_per_year, args.quick, args.output)
  return 0


def build_parser() -> argparse.ArgumentParser:
  from pipeline import configs  # pylint: disable=g-import-not-at-top  (light: no TF)
  parser = argparse.ArgumentParser(
      prog='croptfx',
      description='In-season crop-type training data and models from irregular '
                  'Sentinel-2 pixel time series, as a TFX pipeline.')
  sub = parser.add_subparsers(dest='command', required=True)

  p = sub.add_parser('generate', help='write realistic synthetic Part-1 Parquet data')
  p.add_argument('out', help='output directory')
  size = p.add_mutually_exclusive_group(required=True)
  size.add_argument('--pixels-per-year', type=_positive_int,
                    help='pixels in fields scattered over a county')
  size.add_argument('--aoi', type=_aoi, metavar='WxH',
                    help='every pixel of a W x H area on a regular ~30 m lon/lat grid, '
                         'made of fields (a map-like area, e.g. 200x150)')
  p.add_argument('--years', type=_years, default=sorted(features.DEFAULT_YEAR_SPLITS),
                 help='comma-separated season years (default 2019,2020,2021)')
  p.add_argument('--seed', type=int, default=0)
  p.add_argument('--layout', choices=('flat', 'hive'), default='flat')
  p.add_argument('--rows-per-file', type=int, default=5000)
  p.add_argument('--slides-columns', action='store_true',
                 help="use the slides' column spellings '# scenes' and 'img dates'")
  p.set_defaults(func=_cmd_generate)

  p = sub.add_parser('run', help='run the whole TFX pipeline')
  p.add_argument('--data', required=True, help='directory, glob, Hive tree or gs:// / s3:// URI')
  p.add_argument('--output', required=True, help='output directory (pipeline root, metadata, summary)')
  p.add_argument('--runner', choices=('local', 'beam', 'portable'), default='local',
                 help='local: LocalDagRunner, Beam jobs in memory; beam: BeamDagRunner, '
                      'DirectRunner multi-processing; portable: Beam jobs on the '
                      'PortableRunner with a local job service and an EXTERNAL worker '
                      'pool, the path Dataflow Runner v2 takes')
  p.add_argument('--workers', type=int, default=None,
                 help='DirectRunner workers for the Beam jobs: 1 runs in memory (default for '
                      'the local runner), more use multi-processing (default 2 for the beam runner)')
  p.add_argument('--year-splits', type=_year_splits, default=None,
                 help='YEAR=SPLIT pairs (default 2021=train,2020=eval,2019=test)')
  p.add_argument('--years', type=_years, default=None,
                 help='shorthand: train,eval,test years, e.g. 2021,2020,2019')
  p.add_argument('--train-steps', type=int, default=None)
  p.add_argument('--epochs', type=int, default=None)
  p.add_argument('--label-mapping', default=None, help='CDL -> class mapping JSON')
  p.add_argument('--blessing-threshold', type=float, default=None,
                 help='eval accuracy at the headline as-of day a model needs to be pushed '
                      '(default pipeline/configs.py)')
  p.add_argument('--model', choices=tuple(configs.MODEL_CONFIGS), default=None,
                 help='in-season architecture (trainer/architectures.py; default '
                      f'{configs.DEFAULT_MODEL}, see MODELS.md)')
  p.add_argument('--no-report', action='store_true', help='skip the HTML report')
  p.add_argument('--verbose', action='store_true', help='show TFX/Beam logs on the console')
  p.set_defaults(func=_cmd_run)

  p = sub.add_parser('compile', help='compile the Kubeflow Pipelines v2 spec (offline)')
  p.add_argument('--output', required=True, help='pipeline spec JSON to write')
  p.add_argument('--pipeline-root', required=True, help='e.g. gs://bucket/croptfx')
  p.add_argument('--data', required=True, help='e.g. gs://bucket/parquet/')
  p.add_argument('--image', default=None, help='container image with the project installed')
  p.add_argument('--beam-runner', choices=('direct', 'dataflow'), default='direct')
  p.add_argument('--project', default=None, help='GCP project (Dataflow)')
  p.add_argument('--region', default=None, help='GCP region (Dataflow)')
  p.add_argument('--train-steps', type=int, default=None)
  p.set_defaults(func=_cmd_compile)

  p = sub.add_parser('predict', help='classify raw Part-1 Parquet rows with a pushed model')
  p.add_argument('--model', required=True, help='pushed model directory (run_summary.json model_dir)')
  p.add_argument('--data', required=True, help='Parquet file, directory or glob')
  p.add_argument('--as-of', required=True, help='prediction date YYYY-MM-DD')
  p.add_argument('--output', required=True, help='output Parquet file')
  p.add_argument('--batch-size', type=int, default=1024)
  p.set_defaults(func=_cmd_predict)

  p = sub.add_parser('report', help='write DIR/report.html for a finished run')
  p.add_argument('--run', required=True, help='the --output directory of `croptfx run`')
  p.set_defaults(func=_cmd_report)

  p = sub.add_parser('compare', help='runs side by side: in-season curves, per-class F1 '
                                     'and a table of scores, parameters and training time')
  p.add_argument('runs', nargs='+', metavar='RUN_DIR', help='--output directories of `croptfx run`')
  p.add_argument('--output', required=True, help='HTML file to write (e.g. compare.html)')
  p.set_defaults(func=_cmd_compare)

  p = sub.add_parser('bench', help='benchmark the loaders and the pipeline')
  p.add_argument('--pixels-per-year', type=int, default=None)
  p.add_argument('--quick', action='store_true', help='smaller data, fewer repeats')
  p.add_argument('--output', default=None, help='where to write BENCHMARKS.md data')
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
  p.add_argument('--last-component', default=None,
                 help="--scaling stops there (e.g. 'Transform'); no Trainer or predict figures")
  p.set_defaults(func=_cmd_bench)
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  # TensorFlow's C++ start-up chatter (CUDA probing on a CPU machine) is
  # noise for a CLI user.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1' if getattr(args, 'verbose', False) else '3')
  if not getattr(args, 'verbose', False):
    # Google client libraries warn about Python 3.10 at import; TFX 1.16
    # needs 3.10, so the warning is noise here.
    warnings.filterwarnings('ignore', category=FutureWarning)
    os.environ.setdefault('PYTHONWARNINGS', 'ignore::FutureWarning')
  logging.basicConfig(level=logging.WARNING, format='%(message)s')
  try:
    return args.func(args)
  except errors.CroptfxError as e:
    print(f'croptfx {args.command}: error: {e}', file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print(f'croptfx {args.command}: interrupted', file=sys.stderr)
    return 130


if __name__ == '__main__':
  sys.exit(main())
