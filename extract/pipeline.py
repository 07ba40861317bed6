"""The extraction job: work items -> samples -> pixel-years -> Hive Parquet shards.

One Beam pipeline, the same on the in-memory DirectRunner, multi-processing,
the portable runner and Dataflow:

  chunk indices
    -> Reshuffle, Expand               each chunk's work items: (chunk, labels)
                                       and (chunk, scene) per scene meeting it
    -> Reshuffle                       spread the work items over workers
    -> Sample                          one windowed read per asset; elements
                                       are blocks of cells keyed by
                                       (year, chunk, block): the label block,
                                       and each scene's samples of it
    -> GroupByKey                      every sample of a block of pixel-years
    -> Pack                            rows in the codec's bytes, and counts
    -> WriteShards                     DIR/year=YYYY/part-*.parquet, each
                                       written whole, then renamed
  counts -> summed -> one JSON file; unreadable assets -> one line each

The chunks and scenes travel as one plan file beside the output (written by
the command, read once per worker process), not in the pipeline's graph:
work items are pairs of indices, so a state's thousands of chunks x scenes
stay small to launch. Elements are arrays of a block (up to
`block_cells`^2 cells), never single samples, so Beam's cost is per
block; a worker holds one chunk's windows while sampling, one
block-year's samples while packing and at most `shard_bytes` of rows per year
while writing: memory is bounded by the chunk, not by the number of scenes
or pixels. (The DirectRunner keeps a GroupByKey's input in memory; Dataflow
shuffles it outside the workers.)
"""

import dataclasses
import json
import pickle
import threading
import uuid
from typing import Any, Dict, List, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms import window as beam_window
from apache_beam.utils import windowed_value
import pyarrow as pa

from croptfx import features
from croptfx.extract import chunks as chunks_lib
from croptfx.extract import items as items_lib
from croptfx.extract import pack as pack_lib
from croptfx.extract import sample as sample_lib
from croptfx.jobs import progress as progress_lib
from croptfx.rows import writer

SHARD_PREFIX = 'part'
_UNREADABLE = 'unreadable'
_COUNTS = 'counts'
_METRICS = 'croptfx_extract'


# Work items finished so far in this process (`croptfx extract`'s live count).
WORK_DONE = progress_lib.Counter()


LABELS = -1  # the scene index of a chunk's label work item


@dataclasses.dataclass
class Plan:
  """What the workers need: the chunks, the scenes, which scenes meet which chunk."""
  chunks: List[chunks_lib.Chunk]
  scenes: List[items_lib.Scene]
  scenes_of_chunk: List[List[int]]

  @property
  def work_items(self) -> int:
    """Scene work items (label items not counted)."""
    return sum(len(s) for s in self.scenes_of_chunk)


def write_plan(path: str, plan: Plan) -> None:
  with FileSystems.create(path) as f:
    f.write(pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL))


_PLANS: Dict[str, Plan] = {}
_PLANS_LOCK = threading.Lock()


def load_plan(path: str) -> Plan:
  """The plan at `path`, read once per process."""
  with _PLANS_LOCK:
    if path not in _PLANS:
      with FileSystems.open(path) as f:
        _PLANS[path] = pickle.loads(f.read())
    return _PLANS[path]


class _Expand(beam.DoFn):
  """A chunk index -> its work items (chunk, LABELS) and (chunk, scene)."""

  def __init__(self, plan_path: str):
    self._plan_path = plan_path

  def process(self, chunk_index: int):
    yield (chunk_index, LABELS)
    for scene_index in load_plan(self._plan_path).scenes_of_chunk[chunk_index]:
      yield (chunk_index, scene_index)


class _Sample(beam.DoFn):
  """A work item -> ((year, chunk id, block), LabelBlock | SceneBlock) elements."""

  def __init__(self, plan_path: str, aoi):
    self._plan_path = plan_path
    self._aoi = aoi
    self._reads = beam.metrics.Metrics.counter(_METRICS, 'asset_reads')
    self._lost = beam.metrics.Metrics.counter(_METRICS, 'work_items_unreadable')

  def process(self, work):
    chunk_index, scene_index = work
    plan = load_plan(self._plan_path)
    chunk = plan.chunks[chunk_index]
    if scene_index == LABELS:
      blocks = sample_lib.label_blocks(chunk, self._aoi)
    else:
      blocks, failed, stats = sample_lib.scene_blocks(chunk, plan.scenes[scene_index])
      self._reads.inc(stats['reads'])
      if failed is not None:
        self._lost.inc()
        yield beam.pvalue.TaggedOutput(_UNREADABLE, failed.line)
    WORK_DONE.add()
    for index, block in blocks:
      yield ((chunk.year, chunk.chunk_id, index), block)


class _Pack(beam.DoFn):
  """A block-year's label and samples -> (year, rows) and its counts."""

  def __init__(self, with_labels: bool):
    self._with_labels = with_labels

  def process(self, element):
    (year, chunk_id, index), values = element
    labels, scenes = [], []
    for value in values:
      (labels if isinstance(value, sample_lib.LabelBlock) else scenes).append(value)
    if len(labels) != 1:
      raise RuntimeError(f'block {index} of chunk {chunk_id} ({year}) has {len(labels)} '
                         'label blocks, expected 1')
    # Scenes in a fixed order: the packed rows do not depend on the shuffle.
    scenes.sort(key=lambda s: (s.day, s.tile, s.item_id))
    table, counts = pack_lib.pack_block(year, chunk_id, labels[0], scenes, self._with_labels)
    if table is not None:
      yield (year, table)
    yield beam.pvalue.TaggedOutput(_COUNTS, counts)


def shard_dir(output: str, year: int) -> str:
  return f'{output.rstrip("/")}/{features.YEAR}={year}'


def write_shard(table: pa.Table, output: str, year: int) -> str:
  """`DIR/year=YYYY/part-<unique>.parquet`, whole or not at all
  (`writer.write_parquet`)."""
  return writer.write_parquet(
      table, f'{shard_dir(output, year)}/{SHARD_PREFIX}-{uuid.uuid4().hex}.parquet')


class _WriteShards(beam.DoFn):
  """Rows of each year -> shards of about `shard_bytes` (Arrow bytes; a row
  holds all its samples, so a shard's rows are counted in bytes, not rows:
  the writer's memory does not grow with the number of scenes)."""

  def __init__(self, output: str, shard_bytes: int):
    self._output = output
    self._shard_bytes = shard_bytes
    self._tables: Dict[int, List[pa.Table]] = {}
    self._bytes: Dict[int, int] = {}

  def start_bundle(self):
    self._tables, self._bytes = {}, {}

  def _flush(self, year: int) -> Optional[str]:
    tables = self._tables.pop(year, [])
    self._bytes.pop(year, None)
    if not tables:
      return None
    return write_shard(pa.concat_tables(tables), self._output, year)

  def process(self, element):
    year, table = element
    self._tables.setdefault(year, []).append(table)
    self._bytes[year] = self._bytes.get(year, 0) + table.nbytes
    if self._bytes[year] >= self._shard_bytes:
      yield self._flush(year)

  def finish_bundle(self):
    for year in sorted(self._tables):
      path = self._flush(year)
      if path:
        yield windowed_value.WindowedValue(
            path, beam_window.GlobalWindow().max_timestamp(), [beam_window.GlobalWindow()])


class _SumCounts(beam.CombineFn):
  """The blocks' counts, summed (scenes sampled: the set of item ids)."""

  def create_accumulator(self):
    return pack_lib.empty_counts()

  def add_input(self, accumulator, counts):
    return pack_lib.add_counts(accumulator, counts)

  def merge_accumulators(self, accumulators):
    return pack_lib.merge_counts(list(accumulators))

  def extract_output(self, accumulator):
    out = dict(accumulator)
    out['scenes_sampled'] = sorted(out['scenes_sampled'])
    return out


def _write_json(path: str, doc: object) -> None:
  with FileSystems.create(path) as f:
    f.write(json.dumps(doc, indent=1, sort_keys=True).encode('utf-8'))


@beam.ptransform_fn
def Extract(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline,
    plan_path: str,
    chunk_count: int,
    output: str,
    counts_path: str,
    unreadable_path: str,
    aoi,
    with_labels: bool,
    shard_bytes: int) -> beam.pvalue.PCollection:
  """The plan's work -> shards under `output`, the counts and unreadable
  assets as JSON files. Returns the PCollection of shard paths."""
  sampled = (
      pipeline
      | 'Chunks' >> beam.Create(list(range(chunk_count)))
      # Create alone may keep every element in one bundle.
      | 'SpreadChunks' >> beam.Reshuffle()
      | 'WorkItems' >> beam.ParDo(_Expand(plan_path))
      | 'SpreadWork' >> beam.Reshuffle()
      | 'Sample' >> beam.ParDo(_Sample(plan_path, aoi)).with_output_types(
          Tuple[Tuple[int, int, int], Any]).with_outputs(_UNREADABLE, main='blocks'))
  packed = (
      sampled['blocks']
      | 'GroupPixelYears' >> beam.GroupByKey()
      | 'Pack' >> beam.ParDo(_Pack(with_labels)).with_output_types(
          Tuple[int, Any]).with_outputs(_COUNTS, main='rows'))
  _ = (packed[_COUNTS]
       | 'SumCounts' >> beam.CombineGlobally(_SumCounts())
       | 'WriteCounts' >> beam.Map(lambda counts: _write_json(counts_path, counts)))
  _ = (sampled[_UNREADABLE]
       | 'CountPerAsset' >> beam.combiners.Count.PerElement()
       | 'AllAssets' >> beam.combiners.ToList()
       | 'WriteUnreadable' >> beam.Map(
           lambda lines: _write_json(unreadable_path, sorted(lines))))
  return packed['rows'] | 'WriteShards' >> beam.ParDo(_WriteShards(output, shard_bytes))
