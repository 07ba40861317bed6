#!/usr/bin/env bash
# The demo: set up (first time about 3 minutes), generate a realistic data set
# (3,000 pixels x 2019-2021), run the whole pipeline on it (a few minutes on
# 2 cores), then map a small wall-to-wall area as of mid-season with the pushed
# model and score the map against the area's CDL of 2021. Everything lands in
# demo/: data/, run/ (summary, model, report), area/ (the area's Parquet, its
# CDL in area/_cdl/) and map/ (GeoParquet, GeoTIFFs, quicklook, map.html).
#   ./demo.sh [PIXELS_PER_YEAR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
PIXELS="${1:-3000}"
./setup.sh
.venv/bin/croptfx generate demo/data --pixels-per-year "$PIXELS" --seed 0
.venv/bin/croptfx run --data demo/data --output demo/run
MODEL="$(.venv/bin/python -c 'import json; print(json.load(open("demo/run/run_summary.json"))["model_dir"] or "")')"
if [ -z "$MODEL" ]; then
  echo "demo: the model was not blessed, so nothing was pushed to map with (see demo/run/report.html)"
  exit 0
fi
.venv/bin/croptfx generate demo/area --aoi 120x90 --years 2021 --seed 0
.venv/bin/croptfx map --model "$MODEL" --data demo/area --as-of 2021-07-15 --output demo/map \
    --reference demo/area/_cdl/cdl_2021.tif
