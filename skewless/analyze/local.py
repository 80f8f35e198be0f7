"""The local engine: one streaming tf.data pass over the files per analyzer phase, unless
the first pass can keep what the later phases read.

Memory is bounded by what the accumulators keep (vocabulary counts, quantile sketches) and
by ``KEEP_BUDGET_BYTES``, never by the number of rows: batches are parsed and transformed in
TensorFlow, and only each analyzer's batch summary (or flat input values) of one batch
reaches numpy at a time.

Later phases: the first pass also parses the columns that the later phases read, and keeps
them, batch by batch, while their size stays within ``KEEP_BUDGET_BYTES``; the later phases
then run over the kept columns, in the same batches, instead of reading and parsing the
files again. Past the budget, the kept columns are dropped and each later phase streams the
files again. The constants are the same either way."""
from __future__ import annotations

from typing import Optional

from ..lazy import tf

from ..csv_records import batch_reader
from ..ir import Graph
from ..parse import parse_examples
from ..records import all_records, list_files, read_to_the_end, source_dataset
from .passes import (accumulators, bad_data, column_values, columns_read, no_records,
                     record_results)
from .phases import phases
from .progress import Progress
from .stats import Stats

# The most bytes of parsed columns the first pass keeps for the later phases.
KEEP_BUDGET_BYTES = 256 * 2**20
_STRING_OVERHEAD = 32  # bytes of a string tensor element besides its characters


def analyze(graph: Graph, file_pattern, batch_size: int = 4096, compression: str = "auto",
            progress: Optional[bool] = None, keep_budget: int = KEEP_BUDGET_BYTES) -> Stats:
    """Compute every analyzer constant the graph is missing from the data files (TFRecord,
    or CSV: see ``csv_records``).
    ``keep_budget``: the most bytes of parsed columns kept for later phases (see above)."""
    files = list_files(file_pattern)
    stats = Stats(graph.spec_name)
    groups = phases(graph)
    later = columns_read(graph, [key for keys in groups[1:] for key in keys])
    kept = None
    for number, keys in enumerate(groups, start=1):
        filled = graph.with_constants(stats.constants)
        shown = Progress(f"analyze pass {number}", enabled=progress)
        if kept is not None:
            accumulated = _pass_over_kept(filled, keys, kept, files, compression, shown)
        else:
            keep = later if number == 1 and later and keep_budget > 0 else {}
            accumulated, kept = _run_pass(filled, keys, files, batch_size, compression, stats,
                                          shown, keep, keep_budget)
        record_results(stats, accumulated)
    return stats


def _run_pass(graph: Graph, keys: list, files: list, batch_size: int, compression: str,
              stats: Stats, progress: Progress, keep: dict, budget: int) -> tuple:
    """The accumulators of ``keys`` after a pass over the files, and the batches of the
    ``keep`` columns (a parsing spec) as (rows, columns) pairs, or None past ``budget``."""
    spec = {**columns_read(graph, keys), **keep}
    values_of = column_values(graph, keys)

    def values(records, names):
        columns = parse_examples(records, spec, names)
        kept = {name: columns[name] for name in keep}
        return tf.shape(records)[0], values_of(columns), kept, _bytes(kept)

    read = batch_reader(files, compression, [c for c in graph.columns if c.name in spec])
    dataset = read_to_the_end(read(source_dataset(files, compression), batch_size,
                                    values).prefetch(tf.data.AUTOTUNE))
    accumulated = accumulators(graph, keys)
    kept = [] if keep else None
    rows = size = 0
    try:
        for count, batch, columns, nbytes in dataset:
            for key, parts in batch.items():
                accumulated[key].add_summary(*(part.numpy() for part in parts))
            size += int(nbytes)
            if kept is not None and size <= budget:
                kept.append((int(count), columns))
            elif kept is not None:
                kept = None  # past the budget: the later phases stream the files again
            rows += int(count)
            progress.update(int(count))
    except _data_errors() as exc:
        raise bad_data(exc, all_records(files, compression)) from None
    finally:
        progress.close()
    if rows == 0:
        raise no_records(", ".join(files))
    stats.rows = rows
    return accumulated, kept


def _pass_over_kept(graph: Graph, keys: list, kept: list, files: list, compression: str,
                    progress: Progress) -> dict:
    """The accumulators of ``keys`` after a pass over the kept (rows, columns) batches of
    ``files``."""
    # traced once per batch shape at most, and once for batches of any size after that
    values_of = tf.function(column_values(graph, keys), reduce_retracing=True, autograph=False)
    accumulated = accumulators(graph, keys)
    try:
        for count, columns in kept:
            for key, parts in values_of(columns).items():
                accumulated[key].add_summary(*(part.numpy() for part in parts))
            progress.update(count)
    except _data_errors() as exc:
        raise bad_data(exc, all_records(files, compression)) from None
    finally:
        progress.close()
    return accumulated


def _data_errors() -> tuple:
    """What TensorFlow raises for data it cannot read or parse (see ``passes.bad_data``)."""
    return tf.errors.InvalidArgumentError, tf.errors.DataLossError, UnicodeDecodeError


def _bytes(columns: dict):
    """About how many bytes the parsed ``columns`` take (an int64 scalar tensor)."""
    total = tf.constant(0, tf.int64)
    for value in columns.values():
        parts = ([value.flat_values, *value.nested_row_splits]
                 if isinstance(value, tf.RaggedTensor) else
                 [value.values, value.indices] if isinstance(value, tf.SparseTensor) else [value])
        for part in parts:
            count = tf.size(part, out_type=tf.int64)
            if part.dtype == tf.string:
                total += tf.reduce_sum(tf.cast(tf.strings.length(part), tf.int64))
                total += count * _STRING_OVERHEAD
            else:
                total += count * part.dtype.size
    return total
