"""A batch of serialized tf.Examples → what a profile keeps of it, computed in TensorFlow:
the raw inputs as the records hold them (defaults not filled in), and the features as the
spec's transform computes them; and, for a batch TensorFlow refuses, which of its records
break the spec, each named "file: record N: column C: what is wrong"."""
from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Callable

from ..lazy import tf

from ..analyze.passes import bad_data, flat_values
from ..ir import Graph
from ..ops.categorical import vocab_table
from ..parse import parse_examples
from ..plan import run, steps, table_steps
from ..records import first_non_example
from ..runtime import parse_spec
from ..types import STORAGE_DTYPES

SECTIONS = ("inputs", "features")
_KINDS = {"string": "bytes_list", "float32": "float_list", "int64": "int64_list",
          "bool": "int64_list"}
_VOCABULARY_OPS = ("vocab", "lookup")


@dataclass(frozen=True)
class Profiled:
    """A profiled column: a raw input (``section`` "inputs") or a feature."""

    section: str
    name: str
    dtype: str
    shape: object  # types.Shape
    vocabularies: tuple = ()  # ids of the vocab / lookup nodes a feature is computed with

    @property
    def has_lengths(self) -> bool:
        """Inputs (for their missing count) and variable-length or sparse features."""
        return self.section == "inputs" or self.shape.kind in ("variable", "sparse")


def profiled_columns(graph: Graph) -> list:
    """Every input column (labels and the weight are not profiled: serving data has none),
    then every feature, in the spec's order."""
    columns = [Profiled("inputs", c.name, c.dtype, c.shape) for c in graph.serving_columns]
    for name, node_id in graph.features.items():
        node = graph.nodes[node_id]
        vocabularies = tuple(i for i in graph.order([node_id])
                             if graph.nodes[i].op in _VOCABULARY_OPS)
        columns.append(Profiled("features", name, node.type.dtype, node.type.shape,
                                vocabularies))
    return columns


def summarizer(graph: Graph, numbers_only: bool = False) -> Callable:
    """``summarize(records, names) -> {"examples": count, section: {name: {part: tensor}}}``
    for a batch of serialized tf.Examples (a 1-D string tensor) and their names: per
    column, ``values``
    (flat, for number columns), ``distinct`` (values and counts, for string and int64
    columns), ``lengths`` (values per example) and ``oov`` (tokens, unknown tokens);
    ``numbers_only`` keeps the values of number columns alone. Raises what
    tf.io.parse_example raises for records that break the spec. The graph must hold its
    analyzer constants."""
    columns = profiled_columns(graph)
    inputs = graph.serving_columns
    raw_spec = parse_spec(inputs)
    present_spec = {c.name: tf.io.RaggedFeature(STORAGE_DTYPES[c.dtype], row_splits_dtype=tf.int64)
                    for c in inputs if c.shape.kind in ("scalar", "fixed")}
    vocabularies = sorted({i for column in columns for i in column.vocabularies})
    outputs = {**graph.features, **{f"tokens {i}": graph.nodes[i].inputs[0] for i in vocabularies}}
    plan = steps(graph, outputs.values())
    tables = {t.node_id: t.builder(**t.kwargs) for t in table_steps(graph)}
    known = {i: vocab_table(graph.nodes[i].const_dict["vocabulary"], 0, -1) for i in vocabularies}

    def summarize(records, names) -> dict:
        raw = parse_examples(records, raw_spec, names)
        present = (tf.io.parse_example(records, present_spec, example_names=names)
                   if present_spec else {})  # parse_example refuses an empty spec
        computed = run(plan, raw, tables, outputs)
        result = {"examples": tf.size(records, tf.int64), **{section: {} for section in SECTIONS}}
        for column in columns:
            if column.section == "inputs":
                value = present.get(column.name, raw[column.name])
            else:
                value = computed[column.name]
            parts = _parts(value, column, numbers_only)
            if column.vocabularies and not numbers_only:
                tokens = [flat_values(computed[f"tokens {i}"]) for i in column.vocabularies]
                unknown = [tf.reduce_sum(tf.cast(tf.equal(known[i].lookup(t), -1), tf.int64))
                           for i, t in zip(column.vocabularies, tokens)]
                parts["oov"] = tf.stack([tf.add_n([tf.size(t, tf.int64) for t in tokens]),
                                         tf.add_n(unknown)])
            result[column.section][column.name] = parts
        return result

    return summarize


def _parts(value, column: Profiled, numbers_only: bool) -> dict:
    flat = flat_values(value)
    parts = {}
    if column.dtype != "string":
        parts["values"] = flat
    if numbers_only:
        return parts
    if column.has_lengths:
        parts["lengths"] = _lengths(value)
    if column.dtype in ("string", "int64"):
        values, _, counts = tf.unique_with_counts(flat, out_idx=tf.int64)
        parts["distinct"] = (values, counts)
    return parts


def _lengths(value):
    """The number of values of each example (int64 [examples])."""
    if isinstance(value, tf.RaggedTensor):
        return value.row_lengths()
    if isinstance(value, tf.SparseTensor):
        rows = value.indices[:, 0]
        return tf.math.unsorted_segment_sum(tf.ones_like(rows), rows, value.dense_shape[0])
    examples = tf.shape(value, out_type=tf.int64)[0]
    return tf.fill([examples], tf.reduce_prod(tf.shape(value, out_type=tf.int64)[1:]))


# ---- records that break the spec ---------------------------------------------------------


def errors_of(graph: Graph, summarize: Callable, records, names) -> tuple:
    """(the summaries of the valid records of a batch, in parts; the errors of the records
    that break the spec; how many records were left out), for a batch that ``summarize``
    refused (see :func:`summarizer`): each record is
    checked against the inputs' declarations (dtype, number of values, required), and the
    valid ones summarized again; one TensorFlow still refuses is named with its message."""
    names = [name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else name
             for name in names]
    errors, good = [], []
    for record, name in zip(records, names):
        found = record_errors(graph, record, name)
        errors += found
        if not found:
            good.append((record, name))
    try:
        return [_summary_of(summarize, good)] if good else [], errors, len(records) - len(good)
    except _refused():
        pass
    summaries, refused = [], 0
    for pair in good:  # one record at a time: only those TensorFlow refuses are left out
        try:
            summaries.append(_summary_of(summarize, [pair]))
        except _refused() as exc:
            errors.append(f"{pair[1]}: {_message(exc, [pair])}")
            refused += 1
    return summaries, errors, len(records) - len(good) + refused


def _summary_of(summarize, pairs):
    records, names = zip(*pairs)
    return summarize(tf.constant(records, tf.string), tf.constant(names, tf.string))


def _refused() -> tuple:
    return tf.errors.InvalidArgumentError, UnicodeDecodeError


def _message(exc, pairs) -> str:
    message = str(bad_data(exc, pairs))
    return message.removeprefix("bad record: ")


def record_errors(graph: Graph, record: bytes, name: str) -> list:
    """"name: column C: what is wrong" for each input of the spec that the serialized
    tf.Example ``record`` breaks: a value list of another dtype, a required column with no
    value, a fixed-shape column with another number of values, a sparse column whose
    indices and values differ in number, fall outside its size or repeat. Labels and the weight
    are not checked (serving data has none)."""
    problem = first_non_example([(record, name)])
    if problem:
        return [problem]
    features = tf.train.Example.FromString(record).features.feature
    errors = []
    for column in graph.serving_columns:
        keys = column.sparse_keys or (column.name,)
        dtypes = ("int64", column.dtype) if column.sparse_keys else (column.dtype,)
        values, problems = [], []
        for key, dtype in zip(keys, dtypes):
            found, problem = _values(features, key, dtype)
            values.append(found)
            problems += [f"{name}: column {key}: {problem}"] if problem else []
        errors += problems
        problem = None if problems else _shape_problem(column, values)
        if problem:
            errors.append(f"{name}: column {column.name}: {problem}")
    return errors


def _values(features, key: str, dtype: str) -> tuple:
    """(the values of ``key``, or None if of the wrong kind; what is wrong, or None)."""
    if key not in features:
        return [], None
    kind = features[key].WhichOneof("kind")
    if kind is None or not getattr(features[key], kind).value:  # empty: of any kind
        return [], None
    if kind != _KINDS[dtype]:
        return None, f"holds {kind} values, but is declared {dtype} ({_KINDS[dtype]} values)"
    return list(getattr(features[key], kind).value), None


def _shape_problem(column, values: list):
    shape = column.shape
    if shape.kind == "sparse":
        indices, found = values
        if len(indices) != len(found):
            return (f"{len(indices)} indices ({column.sparse_keys[0]}) but {len(found)} values "
                    f"({column.sparse_keys[1]})")
        outside = [i for i in indices if not 0 <= i < shape.dims[0]]
        if outside:
            return f"index {outside[0]} is outside [0, {shape.dims[0]})"
        twice = [i for i, count in collections.Counter(indices).items() if count > 1]
        return f"index {twice[0]} is given twice" if twice else None
    if shape.kind == "variable":
        return None
    count, expected = len(values[0]), math.prod(shape.dims) if shape.kind == "fixed" else 1
    if count == 0 and column.default is None:
        return "missing (it is required: it has no default)"
    if count not in (0, expected):
        return f"{count} values, but it holds {expected} ({column.dtype}{shape})"
    return None


def as_numpy(summaries) -> dict:
    """The summaries' tensors as numpy arrays, in the same structure."""
    return tf.nest.map_structure(lambda t: t.numpy(), summaries)


def as_tensors(records, names) -> tuple:
    """A batch's records and their names (sequences of bytes or str) as 1-D string tensors."""
    return (tf.constant(records, tf.string, shape=[len(records)]),
            tf.constant(names, tf.string, shape=[len(names)]))
