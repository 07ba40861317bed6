#!/usr/bin/env bash
# The demo: set up (first time about 3 minutes), generate a realistic data set
# (3,000 pixels x 2019-2021), run the whole pipeline on it (a few minutes on
# 2 cores), then map a small wall-to-wall area as of mid-season with the pushed
# model and score the map against the area's CDL of 2021. Everything lands in
# demo/: data/, run/ (summary, model, report), area/ (the area's Parquet, its
# CDL in area/_cdl/) and map/ (GeoParquet, GeoTIFFs, quicklook, map.html).
#   ./demo.sh [PIXELS_PER_YEAR]
#
# From imagery instead (about 3 minutes on 2 cores): generate Sentinel-2 L2A COGs,
# STAC items and CDL rasters of an area on the UTM zone 15/16 boundary,
# extract Part-1 rows from them, train on 2021, evaluate on 2022, extract the
# area without labels and map it as of mid-July 2022. Lands in demo/imagery/
# (the sources), demo/extracted/, demo/imagery-run/, demo/imagery-area/ and
# demo/imagery-map/.
#   ./demo.sh --imagery
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [ "${1:-}" = "--imagery" ]; then
  ./setup.sh
  .venv/bin/croptfx generate demo/imagery --imagery --seed 0
  LABELS="$(.venv/bin/python -c 'import json; s = json.load(open("demo/imagery/imagery.json")); print(",".join(f"{y}={p}" for y, p in s["labels"].items()))')"
  AOI="$(.venv/bin/python -c 'import json; print(",".join(map(str, json.load(open("demo/imagery/imagery.json"))["area"]["cell_centres_lonlat_bounds"])))')"
  .venv/bin/croptfx extract --items demo/imagery/stac/earth-search.json --labels "$LABELS" \
      --output demo/extracted
  .venv/bin/croptfx run --data demo/extracted --output demo/imagery-run --years 2021,2022
  MODEL="$(.venv/bin/python -c 'import json; print(json.load(open("demo/imagery-run/run_summary.json"))["model_dir"] or "")')"
  if [ -z "$MODEL" ]; then
    echo "demo: the model was not blessed, so nothing was pushed to map with (see demo/imagery-run/report.html)"
    exit 0
  fi
  .venv/bin/croptfx extract --items demo/imagery/stac/planetary-computer.json \
      --grid EPSG:5070,30 --aoi "$AOI" --years 2022 --output demo/imagery-area
  .venv/bin/croptfx map --model "$MODEL" --data demo/imagery-area --as-of 2022-07-15 \
      --output demo/imagery-map
  exit 0
fi
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
