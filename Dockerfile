# Image for Kubeflow Pipelines (every component) and Dataflow workers
# (--sdk_container_image): TFX 1.16 with this project installed, so the
# components find `preprocessing.preprocessing.preprocessing_fn`,
# `trainer.model.run_fn` and the custom components by module path.
#
#   docker build -t gcr.io/PROJECT/croptfx:latest .
#   docker push gcr.io/PROJECT/croptfx:latest
#   croptfx compile --image gcr.io/PROJECT/croptfx:latest ...
FROM tensorflow/tfx:1.16.0

WORKDIR /opt/croptfx
COPY pyproject.toml README.md requirements.lock ./
COPY croptfx ./croptfx
COPY components ./components
COPY preprocessing ./preprocessing
COPY trainer ./trainer
COPY pipeline ./pipeline
COPY report ./report
COPY bench ./bench

# The base image already holds TFX 1.16 and its pinned dependencies; add only
# this project (no dependency resolution that could move TFX's pins).
RUN pip install --no-cache-dir --no-deps . \
 && python -c "import croptfx.features, components.parquet_example_gen.component, preprocessing.preprocessing, trainer.model, pipeline.pipeline"
