#!/usr/bin/env bash
# The comparison in MODELS.md: every architecture on generated data at two
# sizes, one run at a time (2 CPU cores), then one comparison page per size.
# The runs of one size share a pipeline root, so ExampleGen, Transform and
# the TreeBaseline run once (cached after); each model's run_summary.json is
# kept in OUT/runN-MODEL/.
#   tools/compare_models.sh [OUT_DIR] [SIZES] [MODELS]
#   e.g. tools/compare_models.sh compare-models "1500 3000" "cnn tempcnn gru transformer"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${1:-compare-models}"
SIZES="${2:-1500 3000}"
MODELS="${3:-cnn tempcnn gru transformer}"
CROPTFX="${CROPTFX:-.venv/bin/croptfx}"
mkdir -p "$OUT"
for n in $SIZES; do
  [ -d "$OUT/data$n" ] || "$CROPTFX" generate "$OUT/data$n" --pixels-per-year "$n" --seed 0
  runs=()
  for m in $MODELS; do
    if [ ! -f "$OUT/run$n-$m/run_summary.json" ]; then
      "$CROPTFX" run --data "$OUT/data$n" --output "$OUT/pipeline$n" --model "$m" --no-report
      mkdir -p "$OUT/run$n-$m"
      cp "$OUT/pipeline$n/run_summary.json" "$OUT/run$n-$m/"
    fi
    runs+=("$OUT/run$n-$m")
  done
  "$CROPTFX" compare "${runs[@]}" --output "$OUT/compare$n.html"
done
