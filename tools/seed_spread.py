"""Evidence for MODELS.md: how much one model's in-season curve moves with the seed.

Re-trains the architecture of a finished `croptfx run` with other seeds, as its
Trainer did (`trainer.model.run_fn` on the run's Transform output, the same
steps and hyperparameters), scores each exported model with the
SeasonEvaluator's own code on the eval and test years, and prints a markdown
table against the run's tree baseline at days 150-240.

  python tools/seed_spread.py RUN_DIR [--model NAME] [--seeds 42 7 1] [--train-steps N]
"""

import argparse
import dataclasses
import os
import tempfile

import numpy as np
import tensorflow as tf

from croptfx.bench import loaders
from croptfx.components import season_evaluator
from croptfx import features
from croptfx import metrics
from croptfx.pipeline import configs
from croptfx import records
from croptfx import run_summary
from croptfx.trainer import model as trainer_model

SPLITS = (features.EVAL_SPLIT, features.TEST_SPLIT)


def train_and_score(summary, model_name: str, seed: int, train_steps: int, work_dir: str):
  """{split: {day: metrics.summarize(...)}} of one seed's model."""
  examples_uri = summary.artifact('transformed_examples')
  fn_args = loaders.trainer_fn_args(examples_uri, summary.artifact('transform_graph'))
  fn_args.train_steps = train_steps
  fn_args.eval_steps = configs.EVAL_NUM_STEPS
  fn_args.custom_config = dataclasses.replace(
      configs.trainer_hparams(model_name), seed=seed).to_custom_config()
  fn_args.serving_model_dir = os.path.join(work_dir, f'seed{seed}', 'serving')
  fn_args.model_run_dir = os.path.join(work_dir, f'seed{seed}', 'run')
  trainer_model.run_fn(fn_args)
  loaded = tf.saved_model.load(fn_args.serving_model_dir)
  result = {}
  for split in SPLITS:
    out = season_evaluator.evaluate_split(
        loaded, records.split_files(examples_uri, split),
        configs.SEASON_AS_OF_DAYS, configs.HEADLINE_AS_OF_DAY)
    result[split] = {day: metrics.summarize(cm) for day, cm in out['confusion'].items()}
  return result


def _cell(scores) -> str:
  return f"{scores['accuracy']:.3f} / {scores['macro_f1']:.3f}"


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('run_dir')
  parser.add_argument('--model', default=None, help="default: the run's model")
  parser.add_argument('--seeds', type=int, nargs='+', default=[42, 7, 1])
  parser.add_argument('--train-steps', type=int, default=configs.TRAIN_NUM_STEPS)
  args = parser.parse_args(argv)
  summary = run_summary.read_summary(args.run_dir)
  if summary is None or not summary.artifact('transformed_examples'):
    parser.error(f'{args.run_dir} holds no run_summary.json of a run that reached the Transform')
  model_name = args.model or summary.model
  baseline = summary.baseline_metrics or {}
  days = [d for d in configs.SEASON_AS_OF_DAYS
          if configs.COMPARE_AS_OF_DAYS[0] <= d <= configs.COMPARE_AS_OF_DAYS[-1]]
  with tempfile.TemporaryDirectory() as work_dir:
    runs = {seed: train_and_score(summary, model_name, seed, args.train_steps, work_dir) for seed in args.seeds}
  for split in SPLITS:
    print(f'\n{split} split, {model_name} (accuracy / macro-F1; * below the tree baseline):\n')
    print('| seed | ' + ' | '.join(f'day {d}' for d in days)
          + f' | mean macro-F1 {configs.COMPARE_AS_OF_DAYS[0]}-'
          f'{configs.COMPARE_AS_OF_DAYS[-1]} |')
    print('|---' * (len(days) + 2) + '|')
    for seed, scores in runs.items():
      cells = []
      for day in days:
        tree = baseline.get(split, {}).get(str(day))
        below = tree and (scores[split][day]['accuracy'] < tree['accuracy']
                          or scores[split][day]['macro_f1'] < tree['macro_f1'])
        cells.append(_cell(scores[split][day]) + (' *' if below else ''))
      mean = np.mean([scores[split][d]['macro_f1'] for d in configs.COMPARE_AS_OF_DAYS])
      print(f'| {seed} | ' + ' | '.join(cells) + f' | {mean:.3f} |')
    if baseline.get(split):
      print('| tree baseline | ' + ' | '.join(_cell(baseline[split][str(d)]) for d in days)
            + f" | {np.mean([baseline[split][str(d)]['macro_f1'] for d in configs.COMPARE_AS_OF_DAYS]):.3f} |")


if __name__ == '__main__':
  main()
