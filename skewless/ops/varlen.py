"""Variable length: ``pad`` to a fixed length, reductions to one value per example
(``count sum mean min max first``) and ``dense`` for sparse vectors.

The reductions take a variable-length value (its values), a fixed-shape value (all its
elements, in row-major order) or a sparse vector (its stored values)."""
from __future__ import annotations

import math

from ..lazy import tf

from .. import types as t
from .common import need_int_const, need_number, need_shape, row_ids
from .registry import ArgError, Param, op

X = Param("x")

ZERO = {"int64": 0, "float32": 0.0, "string": "", "bool": False}


# ---- run time ----------------------------------------------------------------------------


def per_example(x):
    """The values of a batch, the index of each one's example, and the number of examples."""
    if isinstance(x, tf.RaggedTensor):
        return x.flat_values, row_ids(x), x.nrows(out_type=tf.int64)
    if isinstance(x, tf.SparseTensor):
        return x.values, x.indices[:, 0], x.dense_shape[0]
    examples = tf.shape(x, out_type=tf.int64)[0]
    size = x.shape[1:].num_elements()
    if size is None:  # e.g. a dense(sparse) whose static width was lost on the way
        size = tf.reduce_prod(tf.shape(x, out_type=tf.int64)[1:])
    return tf.reshape(x, [-1]), tf.repeat(tf.range(examples), size), examples


def cells_of(rows, columns, width, examples):
    """For values at (row, column) of a [examples, width] result: each value's cell in the
    flattened result, and the number of cells. Values whose column is outside [0, width) go
    to one extra last cell, which the caller drops."""
    cells = examples * width + 1
    inside = (columns >= 0) & (columns < width)
    return tf.where(inside, rows * width + columns, cells - 1), cells


def _counts(rows, examples):
    return tf.math.unsorted_segment_sum(tf.ones_like(rows), rows, examples)


def _or_default(result, counts, default):
    """``default`` for the examples without values."""
    return tf.where(counts > 0, result, tf.constant(default, result.dtype))


# ---- type rules --------------------------------------------------------------------------


def need_value_of(args, name: str, dtype: str, allow_none: bool = False):
    """A constant argument that must be a literal of ``dtype``; returns it, or the zero of
    ``dtype`` when it is None and ``allow_none``."""
    value = args.consts.get(name)
    if value is None and allow_none:
        return ZERO[dtype]
    fits, what = {
        "string": (isinstance(value, str), "a string"),
        "bool": (isinstance(value, bool), "true or false"),
        "int64": (isinstance(value, int) and not isinstance(value, bool), "an integer"),
        "float32": (isinstance(value, (int, float)) and not isinstance(value, bool), "a number"),
    }[dtype]
    if not fits:
        raise ArgError(f"{args.op}: {name} must be {what} to match {args.describe('x')}, "
                       f"got {value!r}", name)
    return value


def _reduced(args) -> t.Shape:
    return need_shape(args, "x", "variable", "fixed", "sparse",
                      what="a variable-length, fixed-shape or sparse value")


def _reduction_type(result_dtype=None, number=True, default=None, default_none=False):
    """The type rule of a reduction to one value per example: ``default`` is the dtype its
    default must have ("same": x's), ``default_none`` whether it may be left out (None)."""

    def infer(args) -> t.Type:
        _reduced(args)
        dtype = need_number(args, "x") if number else args.type("x").dtype
        if default:
            need_value_of(args, "default", dtype if default == "same" else default,
                          allow_none=default_none)
        return t.Type(result_dtype or dtype, t.SCALAR)

    return infer


# ---- pad and dense -----------------------------------------------------------------------


def _pad_type(args) -> t.Type:
    need_shape(args, "x", "variable", what="a variable-length value (pad makes one fixed-length)")
    length = need_int_const(args, "length", minimum=1, maximum=t.MAX_ELEMENTS)
    dtype = args.type("x").dtype
    need_value_of(args, "value", dtype, allow_none=True)
    return t.Type(dtype, t.fixed(length))


@op("pad", X, Param("length", const=True), Param("value", const=True, default=None),
    infer=_pad_type)
def pad(x, length, value=None):
    """The first ``length`` values of each example, filled up with ``value`` (default 0,
    "" or false by dtype) when there are fewer: a fixed-shape [length] value."""
    if value is None:
        value = ZERO[x.dtype.name]
    return x.to_tensor(default_value=tf.constant(value, x.dtype), shape=[None, length])


def _dense_type(args) -> t.Type:
    shape = need_shape(args, "x", "sparse", what="a sparse vector")
    dtype = need_number(args, "x")
    need_value_of(args, "default", dtype)
    return t.Type(dtype, t.fixed(shape.dims[0]))


@op("dense", X, Param("default", const=True, default=0), infer=_dense_type)
def dense(x, default=0):
    """A sparse vector as a fixed-shape [size] value, ``default`` where no value is stored.
    Values stored more than once at the same index are summed; indices outside [0, size)
    are ignored."""
    width = x.shape[1] if x.shape[1] is not None else x.dense_shape[1]
    examples = x.dense_shape[0]
    slots, cells = cells_of(x.indices[:, 0], x.indices[:, 1], width, examples)
    sums = tf.math.unsorted_segment_sum(x.values, slots, cells)[:-1]
    result = _or_default(sums, _counts(slots, cells)[:-1], default)
    return tf.reshape(result, [-1, width])


# ---- reductions --------------------------------------------------------------------------


@op("count", X, infer=_reduction_type("int64", number=False))
def count(x):
    """The number of values of each example, as int64 (for a sparse vector: the number of
    stored values)."""
    _, rows, examples = per_example(x)
    return _counts(rows, examples)


def _segment_sum(x, exact_int64: bool = False):
    """Per-example sums (floats accumulated in float64), and the number of values. int64
    sums wrap around on overflow, unless ``exact_int64``: then the high and low 32 bits are
    summed apart in int64 (exact below 2**31 values an example) and joined in float64, which
    rounds the exact sum once, as casting an int64 sum that does not overflow rounds it."""
    values, rows, examples = per_example(x)
    counts = _counts(rows, examples)
    if values.dtype == tf.int64 and exact_int64:
        high = tf.math.unsorted_segment_sum(tf.bitwise.right_shift(values, 32), rows, examples)
        low = tf.math.unsorted_segment_sum(tf.bitwise.bitwise_and(values, 0xFFFFFFFF), rows,
                                           examples)
        return tf.cast(high, tf.float64) * 2.0**32 + tf.cast(low, tf.float64), counts
    if values.dtype == tf.float32:
        values = tf.cast(values, tf.float64)
    return tf.math.unsorted_segment_sum(values, rows, examples), counts


@op("sum", X, infer=_reduction_type())
def sum_(x):
    """The sum of each example's values (0 for none), same dtype; float32 values are added
    in float64 and the sum rounded to float32; int64 sums wrap around on overflow."""
    total, _ = _segment_sum(x)
    return tf.cast(total, x.dtype)


@op("mean", X, Param("default", const=True, default=0),
    infer=_reduction_type("float32", default="float32"))
def mean(x, default=0):
    """The mean of each example's values as float32 (computed in float64), ``default`` for
    an example without values. int64 values are summed without wrapping around."""
    total, counts = _segment_sum(x, exact_int64=True)
    quotient = tf.cast(total, tf.float64) / tf.cast(tf.maximum(counts, 1), tf.float64)
    return _or_default(tf.cast(quotient, tf.float32), counts, default)


def _extreme(name: str, segment_fn_name: str, nan_stand_in: float, doc: str):
    """Register min or max (``tf.math.<segment_fn_name>`` per example): NaN propagates (an
    example with a NaN value gives NaN), so the result never depends on the order of the
    values."""

    def apply(x, default=0):
        values, rows, examples = per_example(x)
        floats = values.dtype == tf.float32
        if floats:
            nan = tf.math.is_nan(values)
            values = tf.where(nan, tf.constant(nan_stand_in, tf.float32), values)
        segment_fn = getattr(tf.math, segment_fn_name)
        result = segment_fn(values, rows, examples)
        if floats:
            # TensorFlow starts each example at float32's largest (min) or lowest (max)
            # finite value, not at +inf or -inf: an example whose values are all +inf (min)
            # or all -inf (max) would get that finite value
            beyond = tf.cast(tf.equal(values, nan_stand_in), tf.int32)
            only_beyond = tf.math.unsorted_segment_min(beyond, rows, examples) > 0
            result = tf.where(only_beyond, tf.constant(nan_stand_in, tf.float32), result)
        result = _or_default(result, _counts(rows, examples), default)
        if floats:
            any_nan = tf.math.unsorted_segment_max(tf.cast(nan, tf.int32), rows, examples) > 0
            result = tf.where(any_nan, tf.constant(math.nan, tf.float32), result)
        return result

    apply.__name__ = apply.__qualname__ = f"{name}_"
    apply.__doc__ = doc
    return op(name, X, Param("default", const=True, default=0),
              infer=_reduction_type(default="same"))(apply)


min_ = _extreme("min", "unsorted_segment_min", math.inf,
                "The smallest of each example's values, same dtype; ``default`` for an "
                "example without values; NaN if any value is NaN.")
max_ = _extreme("max", "unsorted_segment_max", -math.inf,
                "The largest of each example's values, same dtype; ``default`` for an "
                "example without values; NaN if any value is NaN.")


@op("first", X, Param("default", const=True, default=None),
    infer=_reduction_type(number=False, default="same", default_none=True))
def first(x, default=None):
    """The first value of each example, same dtype (for a sparse vector: the value stored at
    the smallest index); ``default`` (0, "" or false by dtype unless given) for an example
    without values."""
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.reorder(x)
    values, rows, examples = per_example(x)
    if default is None:
        default = ZERO[values.dtype.name]
    positions = tf.range(tf.size(values, out_type=tf.int64))
    firsts = tf.math.unsorted_segment_min(positions, rows, examples)  # int64 max when empty
    padded = tf.concat([values, tf.constant([default], values.dtype)], 0)
    return tf.gather(padded, tf.minimum(firsts, tf.size(values, out_type=tf.int64)))

