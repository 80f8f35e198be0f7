"""The local engine: one streaming tf.data pass over the files per analyzer phase.

Memory is bounded by what the accumulators keep (vocabulary counts, quantile sketches), never
by the number of rows: batches are parsed and transformed in TensorFlow, and only each
analyzer's flat input values of one batch reach numpy at a time."""
from __future__ import annotations

from typing import Optional

from ..lazy import tf

from ..ir import Graph
from ..records import all_records, list_files, named_batches, source_dataset
from .passes import accumulators, bad_data, batch_values, no_records, record_results
from .phases import phases
from .progress import Progress
from .stats import Stats


def analyze(graph: Graph, file_pattern, batch_size: int = 4096, compression: str = "auto",
            progress: Optional[bool] = None) -> Stats:
    """Compute every analyzer constant the graph is missing from the TFRecord files."""
    files = list_files(file_pattern)
    stats = Stats(graph.spec_name)
    for number, keys in enumerate(phases(graph), start=1):
        filled = graph.with_constants(stats.constants)
        accumulated = _run_pass(filled, keys, files, batch_size, compression, stats,
                                Progress(f"analyze pass {number}", enabled=progress))
        record_results(stats, accumulated)
    return stats


def _run_pass(graph: Graph, keys: list, files: list, batch_size: int, compression: str,
              stats: Stats, progress: Progress) -> dict:
    values_of = batch_values(graph, keys)

    def values(records, names):
        return tf.shape(records)[0], values_of(records, names)

    dataset = (source_dataset(files, compression)
               .flat_map(named_batches(batch_size))
               .map(tf.autograph.experimental.do_not_convert(values),
                    num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
    accumulated = accumulators(graph, keys)
    rows = 0
    try:
        for count, batch in dataset.as_numpy_iterator():
            for key, arrays in batch.items():
                accumulated[key].add_summary(*arrays)
            rows += int(count)
            progress.update(int(count))
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError, UnicodeDecodeError) as exc:
        raise bad_data(exc, all_records(files, compression)) from None
    finally:
        progress.close()
    if rows == 0:
        raise no_records(", ".join(files))
    stats.rows = rows
    return accumulated
