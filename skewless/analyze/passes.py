"""One pass over the data, as every engine runs it: the analyzers' flat input values of a batch
of serialized tf.Examples, their accumulators, and their constants at the end.

The local engine and the Beam engine share these functions, so they feed the same values to
the same accumulators; they differ only in how records are read, batched and merged."""
from __future__ import annotations

import re
from typing import Callable

from ..lazy import tf

from ..csv_records import BAD_CSV
from ..errors import DataError
from ..ir import COLUMN, Graph
from ..parse import BAD_SPARSE, parse_examples
from ..plan import run, steps, table_steps
from ..records import first_non_example, read_error
from ..runtime import parse_spec
from .stats import Stats


def batch_values(graph: Graph, keys) -> Callable:
    """``values(records, names=None) -> {analyzer key: tuple of tensors}``: what each
    analyzer's accumulator takes of a batch of serialized tf.Examples (``add_summary``'s
    arguments: its ``batch_summary`` of the flat input values, or the values themselves).
    The graph must hold the constants of every analyzer before this pass. Lookup tables are
    built here, once, in the caller's TensorFlow context; ``values`` may run eagerly or
    inside tf.data / tf.function. Only the columns the analyzers read are parsed: faster,
    and a record missing a column no analyzer reads (a label, say) is no error here."""
    spec = columns_read(graph, keys)
    from_columns = column_values(graph, keys)

    def values(records, names=None) -> dict:
        return from_columns(parse_examples(records, spec, names))

    return values


def columns_read(graph: Graph, keys) -> dict:
    """The parsing spec (tf.io.parse_example's) of the columns the analyzers ``keys`` read."""
    analyzers = graph.analyzers()
    needed = graph.order([graph.nodes[analyzers[key]].inputs[0] for key in keys])
    read = {graph.nodes[i].const_dict["name"] for i in needed if graph.nodes[i].op == COLUMN}
    return parse_spec([column for column in graph.columns if column.name in read])


def column_values(graph: Graph, keys) -> Callable:
    """``values(columns) -> {analyzer key: tuple of tensors}``, as :func:`batch_values`,
    from a batch's columns as tf.io.parse_example gives them (at least those of
    :func:`columns_read`)."""
    analyzers = graph.analyzers()
    inputs = {key: graph.nodes[analyzers[key]].inputs[0] for key in keys}
    summaries = {key: graph.op_of(analyzers[key]).analyzer.batch_summary or _values_only
                 for key in keys}
    plan = steps(graph, inputs.values())
    needed = set(graph.order(inputs.values()))
    tables = {t.node_id: t.builder(**t.kwargs) for t in table_steps(graph) if t.node_id in needed}

    def values(columns) -> dict:
        computed = run(plan, columns, tables, inputs)
        return {key: tuple(summaries[key](flat_values(value))) for key, value in computed.items()}

    return values


def _values_only(flat) -> tuple:
    return (flat,)


def flat_values(value):
    """The values of a batch of a column, as one vector: a ragged or sparse tensor's values, a
    dense tensor reshaped."""
    if isinstance(value, tf.RaggedTensor):
        return value.flat_values
    if isinstance(value, tf.SparseTensor):
        return value.values
    return tf.reshape(value, [-1])


def accumulators(graph: Graph, keys) -> dict:
    """A fresh accumulator per analyzer key. Only the analyzers' own constant arguments
    (top_k, quantiles…) shape them, so a graph without earlier passes' constants will do."""
    analyzers = graph.analyzers()
    return {key: graph.op_of(analyzers[key]).analyzer.accumulator(
        graph.nodes[analyzers[key]].const_dict) for key in keys}


def record_results(stats: Stats, accumulated: dict) -> None:
    """Each accumulator's constants and what it saw, into ``stats``."""
    for key, accumulator in accumulated.items():
        try:
            stats.constants[key] = accumulator.result()
        except ValueError as exc:
            raise DataError(f"{key}: {exc}") from None
        stats.report[key] = {"values": accumulator.count, "nan_skipped": accumulator.nan_count}
        if accumulator.inf_count:
            stats.report[key]["inf_skipped"] = accumulator.inf_count


def no_records(where: str, need: str = "analyzers need training data") -> DataError:
    return DataError(f"no records in {where}: {need}")


def bad_data(exc, named_records=()) -> DataError:
    """The DataError of records TensorFlow could not read or parse (``exc``: an OpError, or
    the UnicodeDecodeError TensorFlow raises for a parse error quoting bytes that are not
    UTF-8): what went wrong, from the file or record's name on. ``named_records`` are the
    (record, name) pairs that were being read, searched for the culprit when TensorFlow's
    message does not name it."""
    unnamed = isinstance(exc, UnicodeDecodeError) or "Could not parse example input" in exc.message
    culprit = first_non_example(named_records) if unnamed else None
    if culprit:
        return DataError(f"bad record: {culprit}")
    if isinstance(exc, UnicodeDecodeError):
        return DataError("bad record: a record is not a tf.train.Example")
    named = read_error(exc)  # the message of any of skewless's assertions
    if named:
        if named.startswith(BAD_CSV):
            return DataError(named)
        return DataError(f"{'bad record' if BAD_SPARSE in named else 'corrupt file'}: {named}")
    message = _error_line(exc.message)
    if isinstance(exc, tf.errors.DataLossError):
        return DataError(f"corrupt record: {message}")
    if "Name: " in message:
        message = message[message.index("Name: "):].replace("Name: <unknown>, ", "")
    return DataError(f"bad record: {message}")


def _error_line(message: str) -> str:
    """The line of a TensorFlow error message that says what went wrong: the one before the
    failing node (``[[{{node …}}]]``), without the function and op it happened in."""
    lines = [line for line in message.split("\n") if line.strip()] or [message]
    line = next((before for before, after in zip(lines, lines[1:])
                 if after.lstrip().startswith("[[{{node")), lines[0])
    line = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", line)
    return re.sub(r"\s*\[Op:[^\]]*\].*$", "", line)
