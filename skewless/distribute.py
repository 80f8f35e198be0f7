"""The share of the training data one ``tf.distribute`` input pipeline reads.

``strategy.distribute_datasets_from_function`` calls the dataset function once per input
pipeline (one per worker) with a ``tf.distribute.InputContext``; each pipeline must read a
different part of the data, and batch it with the per-replica batch size. The data set is
split by files when there are at least as many files as pipelines (pipeline ``i`` of ``n``
reads files ``i, i + n, i + 2n, …`` of the sorted list), else by records (it reads every
file, and keeps records ``i, i + n, …`` of each), so every record is read by exactly one
pipeline."""
from __future__ import annotations

from typing import NamedTuple, Optional

from .lazy import tf


class Share(NamedTuple):
    """What one input pipeline reads: ``files`` (the dataset of (path, compression) pairs
    it reads), ``file_count`` (how many), ``record_shard`` (``(count, index)``: keep the
    records of each file whose number modulo count is index; None to keep all) and the
    ``batch_size`` of its batches (the per-replica batch size)."""

    files: tf.data.Dataset
    file_count: int
    record_shard: Optional[tuple[int, int]]
    batch_size: int


def share(files: tf.data.Dataset, file_count: int, global_batch_size: int,
          input_context: tf.distribute.InputContext) -> Share:
    """The share of the ``file_count`` files of ``files`` (see
    ``records.source_dataset``) that the pipeline ``input_context.input_pipeline_id`` of
    ``input_context.num_input_pipelines`` reads, with its per-replica batch size
    (``global_batch_size / num_replicas_in_sync``: a ValueError if it does not divide)."""
    batch_size = input_context.get_per_replica_batch_size(global_batch_size)
    count, index = input_context.num_input_pipelines, input_context.input_pipeline_id
    if count == 1:
        return Share(files, file_count, None, batch_size)
    if file_count >= count:
        return Share(files.shard(count, index), len(range(index, file_count, count)), None,
                     batch_size)
    return Share(files, file_count, (count, index), batch_size)
