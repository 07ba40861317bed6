#!/usr/bin/env bash
# The demo: set up (first time about 3 minutes), generate a realistic data set
# (3,000 pixels x 2019-2021) and run the whole pipeline on it (a few minutes on
# 2 cores). Everything lands in demo/: data/, run/ (summary, model, report).
#   ./demo.sh [PIXELS_PER_YEAR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
PIXELS="${1:-3000}"
./setup.sh
.venv/bin/croptfx generate demo/data --pixels-per-year "$PIXELS" --seed 0
.venv/bin/croptfx run --data demo/data --output demo/run
