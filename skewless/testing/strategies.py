"""Hypothesis strategies for skew testing: raw records for any spec, and their
``tf.train.Example`` and raw-tensor forms.

Records
-------
A *record* is one example's raw values as a dict ``column name -> Python value``:

- scalar columns hold a value: ``int`` (int64), ``float`` (float32, exactly representable),
  ``str`` or ``bytes`` (string; arbitrary bytes included) or ``bool``;
- fixed-shape columns hold nested lists of that shape (``float32[2, 3]``: 2 lists of 3);
- variable-length columns hold a list of 0..40 values;
- sparse columns hold a list of ``(index, value)`` pairs, indices unique and in
  ``[0, size)``, in any order.

A column with a default may be absent from a record (the key is missing); a variable-length or
sparse column may be absent too, which means empty. Required columns (fixed shapes without a
default) are always present.

What ``tf.io.parse_example`` does with sparse columns (TensorFlow 2.16-2.21): the indices of
a ``tf.io.SparseFeature`` are sorted, so pairs may come in any order; duplicate indices are
kept (the result is a SparseTensor that many ops reject) and indices outside ``[0, size)``
are *not* rejected (the result has indices beyond its dense shape). Both are invalid data, so
``records`` never generates them, ``from_example`` reports them as data errors, and skewless's
own parsing (``skewless.parse``) refuses them.

Generated ``.feat`` specs are in ``skewless.testing.specs``.
"""
from __future__ import annotations

import math
import struct
from typing import Iterable, Optional, Sequence

import numpy as np
from hypothesis import strategies as st

from ..errors import DataError
from ..ir import ColumnSpec

__all__ = [
    "int64s", "float32s", "strings", "values", "column_values", "records", "batches",
    "edge_records", "columns_of", "serving_record", "to_example", "serialize", "raw_tensors", "from_example",
    "unflatten",
]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_LIST = 40


def _f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


# ---- values ------------------------------------------------------------------------------

INT64_EDGES = (0, 1, -1, 2, 7, 15, 100, -100, 1545, 3600, 86399, 86400, -86400, 2**31 - 1,
               -(2**31), 2**32, 2**53, 2**53 + 1, 1_700_000_000, -62_135_596_800,
               253_402_300_799, INT64_MAX, INT64_MAX - 1, INT64_MIN, INT64_MIN + 1)
FLOAT32_EDGES = (0.0, -0.0, math.nan, -math.nan, _f32(0x7FC00001), math.inf, -math.inf, 1.0,
                 -1.0, 0.5, 1.5, 2.5, -2.5, 15.0, _f32(0x41700001), 1000.0, 1e10,
                 _f32(1), -_f32(1), _f32(0x007FFFFF), _f32(0x00800000), _f32(0x7F7FFFFF),
                 -_f32(0x7F7FFFFF), 16777216.0, _f32(0x3DCCCCCD))
STRING_EDGES = ("", " ", "a", "A", "abc", "hello world", "  padded\t", "a,,b", "É", "école",
                "ÉCOLE", "straße", "日本語", "🙂", "a\x00b", "\n", "1", "-3", "+7", "1.5",
                ".5", "1e3", "1_000", "nan", "-Infinity", "9223372036854775808", "0x10",
                "AA", "don't e-mail!", b"\xff\xfe", b"\xc3", b"a\x80b")


def int64s() -> st.SearchStrategy:
    """int64 values: edges (0, ±1, int32 and int64 limits, timestamps), small and any."""
    return st.one_of(st.sampled_from(INT64_EDGES), st.integers(-1000, 1000),
                     st.integers(INT64_MIN, INT64_MAX))


def float32s() -> st.SearchStrategy:
    """float32 values as exactly representable Python floats: NaN (both signs, another
    payload), ±inf, ±0.0, subnormals, the largest finite, small and any."""
    return st.one_of(st.sampled_from(FLOAT32_EDGES), st.floats(-100, 100, width=32),
                     st.floats(width=32))


def strings() -> st.SearchStrategy:
    """String values: ``str`` (empty, non-ASCII, NUL, numbers as text) or arbitrary ``bytes``."""
    return st.one_of(st.sampled_from(STRING_EDGES), st.text(max_size=12),
                     st.binary(max_size=12), st.text("ab .,-!0123456789eE", max_size=16))


def values(dtype: str) -> st.SearchStrategy:
    """One value of a dtype, as a record holds it."""
    return {"int64": int64s, "float32": float32s, "string": strings,
            "bool": st.booleans}[dtype]()


def column_values(column: ColumnSpec) -> st.SearchStrategy:
    """The value of one column in a record (see the module docstring for its form)."""
    shape, element = column.shape, values(column.dtype)
    if shape.kind == "scalar":
        return element
    if shape.kind == "fixed":
        strategy = element
        for dim in reversed(shape.dims):
            strategy = st.lists(strategy, min_size=dim, max_size=dim)
        return strategy
    if shape.kind == "variable":
        return st.one_of(st.lists(element, max_size=3), st.lists(element, max_size=MAX_LIST))
    size = shape.dims[0]
    indices = st.lists(st.integers(0, size - 1), unique=True, max_size=min(size, 12))
    return indices.flatmap(lambda idx: st.tuples(*(st.tuples(st.just(i), element) for i in idx))
                           .map(list))


def columns_of(features_or_columns) -> tuple:
    """The ColumnSpecs of a ``Features``, a generated module, or a sequence of ColumnSpecs."""
    for attribute in ("columns", "COLUMNS"):
        columns = getattr(features_or_columns, attribute, None)
        if columns is not None:
            return tuple(columns)
    return tuple(features_or_columns)


def records(features_or_columns, labels: bool = True) -> st.SearchStrategy:
    """One record of a spec's columns; ``labels=False`` leaves labels and weight out."""
    required, optional = {}, {}
    for column in columns_of(features_or_columns):
        if column.kind != "input" and not labels:
            continue
        may_be_absent = column.default is not None or column.shape.kind in ("variable", "sparse")
        (optional if may_be_absent else required)[column.name] = column_values(column)
    return st.fixed_dictionaries(required, optional=optional)


def batches(features_or_columns, labels: bool = True, min_size: int = 1,
            max_size: int = 8) -> st.SearchStrategy:
    """A list of records, as one batch."""
    return st.lists(records(features_or_columns, labels), min_size=min_size, max_size=max_size)


EDGES = {"int64": INT64_EDGES, "float32": FLOAT32_EDGES, "string": STRING_EDGES,
         "bool": (False, True)}


def edge_records(features_or_columns, labels: bool = True) -> list[dict]:
    """A fixed batch of records that, together, hold every edge value of every column's
    dtype (``INT64_EDGES``, ``FLOAT32_EDGES``, ``STRING_EDGES``, both bools): as many records
    as the longest list of edges, column ``j`` of record ``i`` starting at edge ``i + 5j``
    (so columns do not go in step). Fixed shapes take consecutive edges; variable-length
    columns hold 0 to 3 values; sparse columns 0 to 3 entries, in varying order; a column
    that may be absent is absent from every seventh record. Hypothesis' first batches are its
    simplest (zeros, empty strings), which hide many faults; these records do not."""
    columns = [c for c in columns_of(features_or_columns) if labels or c.kind == "input"]
    count = max((len(EDGES[c.dtype]) for c in columns), default=0)
    result = []
    for i in range(count):
        record = {}
        for j, column in enumerate(columns):
            edges, start, kind = EDGES[column.dtype], i + 5 * j, column.shape.kind
            take = lambda n: [edges[(start + k) % len(edges)] for k in range(n)]  # noqa: E731
            may_be_absent = column.default is not None or kind in ("variable", "sparse")
            if may_be_absent and i % 7 == 6:
                continue
            if kind == "scalar":
                record[column.name] = take(1)[0]
            elif kind == "fixed":
                record[column.name] = unflatten(take(math.prod(column.shape.dims)),
                                                column.shape.dims)
            elif kind == "variable":
                record[column.name] = take(i % 4)
            else:
                size = column.shape.dims[0]
                indices = [(i + 2 * k) % size for k in range(min(i % 4, size))]
                pairs = list(zip(dict.fromkeys(indices), take(len(indices))))
                record[column.name] = pairs[::-1] if i % 2 else pairs
        result.append(record)
    return result


def serving_record(record: dict, columns) -> dict:
    """The record without its labels and weight: what a serving request holds."""
    inputs = {c.name for c in columns_of(columns) if c.kind == "input"}
    return {name: value for name, value in record.items() if name in inputs}


# ---- tf.train.Example and raw tensors ------------------------------------------------------


def _flat(value) -> list:
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


def _as_bytes(value) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _feature(dtype: str, items: list):
    import tensorflow as tf

    if dtype == "string":
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[_as_bytes(v) for v in items]))
    if dtype == "float32":
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in items]))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in items]))


def to_example(record: dict, columns):
    """The ``tf.train.Example`` of a record; keys of the record that are not columns of
    ``columns`` are left out, absent columns are absent features."""
    import tensorflow as tf

    feature = {}
    for column in columns_of(columns):
        if column.name not in record:
            continue
        value = record[column.name]
        if column.shape.kind == "sparse":
            index_key, value_key = column.sparse_keys
            feature[index_key] = _feature("int64", [i for i, _ in value])
            feature[value_key] = _feature(column.dtype, [v for _, v in value])
        else:
            feature[column.name] = _feature(column.dtype, _flat(value))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def serialize(records_: Sequence[dict], columns) -> list[bytes]:
    return [to_example(record, columns).SerializeToString() for record in records_]


def _array(items: list, dtype: str, shape) -> np.ndarray:
    if dtype == "string":
        array = np.empty(len(items), dtype=object)
        array[:] = [_as_bytes(v) for v in items]
    elif dtype == "float32":
        array = np.array([float(v) for v in items], dtype=np.float32).reshape(-1)
    else:
        array = np.array([int(v) for v in items], dtype=np.int64).reshape(-1)
    return array.reshape(shape)


def _dense_items(record: dict, column: ColumnSpec) -> list:
    size = math.prod(column.shape.dims)
    if column.name in record:
        items = _flat(record[column.name])
    elif column.default is None:
        raise ValueError(f"record {record!r} has no value for required column '{column.name}'")
    elif isinstance(column.default, tuple):
        items = list(column.default)
    else:
        items = [column.default] * size
    if len(items) != size:
        raise ValueError(f"column '{column.name}' needs {size} values, got {len(items)} in "
                         f"record {record!r}")
    return items


def raw_tensors(records_: Sequence[dict], columns, kinds: Iterable[str] = ("input",)) -> dict:
    """The raw tensors of a batch of records, built straight from the Python values (not
    through ``parse_example``), in the form the Predict path takes: scalars ``[batch]``,
    fixed shapes ``[batch, *dims]``, variable-length columns as ``tf.RaggedTensor`` with int64
    row splits, sparse columns as a ``tf.SparseTensor`` in canonical (sorted) order, bool as
    int64 0/1. Absent columns take their default. Only columns of ``kinds`` are included."""
    import tensorflow as tf

    kinds = tuple(kinds)
    raw, count = {}, len(records_)
    for column in columns_of(columns):
        if column.kind not in kinds:
            continue
        dtype, kind = column.dtype, column.shape.kind
        tf_dtype = tf.string if dtype == "string" else tf.float32 if dtype == "float32" else tf.int64
        if kind in ("scalar", "fixed"):
            items = [item for record in records_ for item in _dense_items(record, column)]
            raw[column.name] = tf.constant(_array(items, dtype, (count, *column.shape.dims)),
                                           dtype=tf_dtype)
        elif kind == "variable":
            rows = [list(record.get(column.name, ())) for record in records_]
            flat = _array([v for row in rows for v in row], dtype, (-1,))
            raw[column.name] = tf.RaggedTensor.from_row_lengths(
                tf.constant(flat, dtype=tf_dtype),
                tf.constant([len(row) for row in rows], dtype=tf.int64), validate=False)
        else:
            pairs = [(b, int(i), v) for b, record in enumerate(records_)
                     for i, v in sorted(record.get(column.name, ()), key=lambda p: p[0])]
            indices = np.array([[b, i] for b, i, _ in pairs], dtype=np.int64).reshape(-1, 2)
            raw[column.name] = tf.SparseTensor(
                tf.constant(indices, tf.int64),
                tf.constant(_array([v for _, _, v in pairs], dtype, (-1,)), dtype=tf_dtype),
                tf.constant([count, column.shape.dims[0]], tf.int64))
    return raw


def unflatten(items: list, dims: tuple):
    if not dims:
        return items[0]
    if len(dims) == 1:
        return list(items)
    step = math.prod(dims[1:])
    return [unflatten(items[i * step:(i + 1) * step], dims[1:]) for i in range(dims[0])]


def _items_of(feature, column: ColumnSpec, key: str, dtype: str, where: str) -> Optional[list]:
    kind = feature.WhichOneof("kind")
    wanted = {"string": "bytes_list", "float32": "float_list"}.get(dtype, "int64_list")
    if kind is None:
        return []
    if kind != wanted:
        raise DataError(f"{where}: column '{column.name}' is {column.dtype}, but feature "
                        f"'{key}' holds a {kind}")
    return list(getattr(feature, kind).value)


def from_example(example, columns, where: str = "record") -> dict:
    """The record of a ``tf.train.Example`` (inverse of ``to_example``), checking that it
    fits the columns; a DataError names ``where`` (file and record) and the column."""
    features = example.features.feature
    record = {}
    for column in columns_of(columns):
        kind = column.shape.kind
        if kind == "sparse":
            index_key, value_key = column.sparse_keys
            if index_key not in features and value_key not in features:
                continue
            indices = _items_of(features[index_key], column, index_key, "int64", where) \
                if index_key in features else []
            items = _items_of(features[value_key], column, value_key, column.dtype, where) \
                if value_key in features else []
            if len(indices) != len(items):
                raise DataError(f"{where}: sparse column '{column.name}' has {len(indices)} "
                                f"indices ('{index_key}') but {len(items)} values ('{value_key}')")
            size = column.shape.dims[0]
            bad = [i for i in indices if not 0 <= i < size]
            if bad:
                raise DataError(f"{where}: sparse column '{column.name}' has index {bad[0]} "
                                f"outside [0, {size})")
            if len(set(indices)) != len(indices):
                raise DataError(f"{where}: sparse column '{column.name}' has a duplicate index")
            record[column.name] = list(zip(indices, items))
            continue
        if column.name not in features:
            if column.default is None and kind in ("scalar", "fixed"):
                raise DataError(f"{where}: required column '{column.name}' is missing")
            continue
        items = _items_of(features[column.name], column, column.name, column.dtype, where)
        if kind == "variable":
            record[column.name] = items
            continue
        size = math.prod(column.shape.dims)
        if len(items) != size:
            raise DataError(f"{where}: column '{column.name}' needs {size} value"
                            f"{'s' if size != 1 else ''}, got {len(items)}")
        record[column.name] = unflatten(items, column.shape.dims)
    return record
