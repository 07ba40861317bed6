# Image for Kubeflow Pipelines (every component) and Dataflow workers
# (--sdk_container_image): exactly what tests/test_packaging.py installs into
# its wheel-only environment and runs there (`croptfx run --runner portable`,
# the compiled spec's tasks replayed): the pinned set from requirements.lock,
# then this project's wheel without dependencies. Nothing of the checkout is
# on sys.path, so components find `croptfx.preprocessing.preprocessing.preprocessing_fn`,
# `croptfx.trainer.model.run_fn` and the custom components in the installed wheel.
#
#   docker build -t gcr.io/PROJECT/croptfx:latest .
#   docker push gcr.io/PROJECT/croptfx:latest
#   croptfx compile --image gcr.io/PROJECT/croptfx:latest ...

# Stage 1: the wheel (no dependencies), as tests/wheel_env.build_wheel makes it.
FROM python:3.10-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
# Every package directory of pyproject.toml's package-dir (one `croptfx`
# package in site-packages).
COPY croptfx ./croptfx
COPY bench ./bench
COPY cli ./cli
COPY components ./components
COPY extract ./extract
COPY generate ./generate
COPY jobs ./jobs
COPY maps ./maps
COPY pipeline ./pipeline
COPY preprocessing ./preprocessing
COPY report ./report
COPY rows ./rows
COPY trainer ./trainer
RUN pip wheel --no-deps -w /wheels .

# Stage 2: Python 3.10 (TFX 1.16 needs exactly 3.10), the lock, the wheel.
FROM python:3.10-slim
# Dataflow starts SDK workers in a custom container through Beam's boot
# program; Kubeflow replaces the entrypoint with each task's command.
COPY --from=apache/beam_python3.10_sdk:2.60.0 /opt/apache/beam /opt/apache/beam
WORKDIR /opt/croptfx
COPY requirements.lock ./
COPY --from=wheel /wheels/ ./wheels/
# The lock pins every package, so pip does no resolving; the wheel adds only
# this project. The import check runs outside the source tree, as a worker does.
RUN pip install --no-cache-dir pip==24.2 \
 && pip install --no-cache-dir -r requirements.lock \
 && pip install --no-cache-dir --no-deps wheels/crop_timeseries_tfx-*.whl \
 && cd / && python -c "import croptfx.features, croptfx.components.parquet_example_gen.executor, croptfx.preprocessing.preprocessing, croptfx.trainer.model, croptfx.jobs.portable, croptfx.maps.pipeline, croptfx.extract.pipeline; import importlib.resources as r; assert r.files('croptfx').joinpath('data/cdl_classes.json').is_file() and r.files('croptfx').joinpath('data/cdl_codes.csv').is_file()"
ENTRYPOINT ["/opt/apache/beam/boot"]
