"""Helpers shared by the op families: elementwise application over the three runtime forms of
a value, dtype widening, and the common type rules.

At run time a batch of values is a ``tf.Tensor`` (constants: rank 0; per-example scalars:
``[batch]``; fixed shapes: ``[batch, *dims]``), a ``tf.RaggedTensor`` ``[batch, None]`` for
variable-length values, or a ``tf.SparseTensor`` ``[batch, size]`` for sparse vectors."""
from __future__ import annotations

import functools

from ..lazy import tf

from .. import types as t
from .registry import ArgError, Args


# ---- run time ----------------------------------------------------------------------------


def elementwise(fn):
    """Apply ``fn`` to the values of its tensor arguments, aligned elementwise.

    The widest argument decides the result's form: a ragged argument's flat values are used,
    per-example scalars are repeated along each row, constants broadcast; fixed shapes get
    per-example scalars reshaped to ``[batch, 1, …]``. Non-tensor arguments pass through."""

    @functools.wraps(fn)
    def apply(*args, **kwargs):
        ragged = next((a for a in args if isinstance(a, tf.RaggedTensor)), None)
        if ragged is not None:
            flat = _flatten_like(args, ragged)
            return ragged.with_flat_values(fn(*flat, **kwargs))
        sparse = next((a for a in args if isinstance(a, tf.SparseTensor)), None)
        if sparse is not None:
            flat = [a.values if a is sparse else a for a in args]
            return sparse.with_values(fn(*flat, **kwargs))  # keeps the static dense shape
        rank = max((a.shape.rank for a in args if isinstance(a, tf.Tensor)), default=0)
        return fn(*(_expand_to(a, rank) for a in args), **kwargs)

    return apply


def _flatten_like(args, ragged) -> list:
    """The arguments aligned with the flat values of ``ragged``: ragged values give their
    flat values, per-example scalars are repeated along each row (the row ids are computed
    only when some argument needs them)."""
    rows = None
    flat = []
    for arg in args:
        if isinstance(arg, tf.RaggedTensor):
            arg = arg.flat_values
        elif isinstance(arg, tf.Tensor) and arg.shape.rank == 1:
            rows = row_ids(ragged) if rows is None else rows
            arg = tf.gather(arg, rows)
        flat.append(arg)
    return flat


def row_ids(ragged: tf.RaggedTensor) -> tf.Tensor:
    """The row (example) of each flat value of a ``[batch, None]`` ragged tensor, int64
    ``[values]``: what ``ragged.value_rowids()`` gives, as one ``UpperBound`` over the row
    splits (``tf.searchsorted(splits[1:], positions, side="right")``: the number of rows
    that end at or before each value). TensorFlow's ``value_rowids`` builds a ``tf.repeat``
    of some 50 nodes, which every instantiation of the transform (one per training
    iterator) pays for."""
    positions = tf.range(tf.size(ragged.values, out_type=ragged.row_splits.dtype))
    ids = tf.raw_ops.UpperBound(sorted_inputs=tf.reshape(ragged.row_splits[1:], [1, -1]),
                                values=tf.reshape(positions, [1, -1]),
                                out_type=ragged.row_splits.dtype)
    return tf.reshape(ids, [-1])


def _expand_to(arg, rank: int):
    """A per-example scalar ``[batch]`` as ``[batch, 1, …]`` of ``rank`` dimensions."""
    if isinstance(arg, tf.Tensor) and 0 < arg.shape.rank < rank:
        if arg.shape.rank == 1:
            return tf.reshape(arg, [-1] + [1] * (rank - 1))
        return tf.reshape(arg, tf.concat([tf.shape(arg), [1] * (rank - arg.shape.rank)], 0))
    return arg


def literal(x):
    """The value of ``x`` as a numpy array when it is known while tracing (a literal of the
    spec), else None. Ops use it to leave out work a literal makes unnecessary; what they
    compute stays the same, and it is decided the same way on every path."""
    return tf.get_static_value(x) if isinstance(x, tf.Tensor) and x.shape.rank == 0 else None


def shared_constant(value, dtype) -> tf.Tensor:
    """``tf.constant(value, dtype)`` (a number, a bool, or a nested list of them), made once
    per graph being traced and reused by every later call with the same dtype, shape and
    bytes (so 0.0 and -0.0 stay apart). The transform runs without grappler, which would
    otherwise merge equal constants, and every node of its graph is paid for again by each
    instantiation (once per training iterator, that is per epoch). Made outside any
    ``tf.control_dependencies`` context, so that reusing it adds no ordering."""
    import numpy as np  # here: compiling a spec imports neither numpy nor TensorFlow

    dtype = tf.as_dtype(dtype)
    if tf.executing_eagerly() or dtype == tf.string:
        return tf.constant(value, dtype)
    array = np.asarray(value, dtype.as_numpy_dtype)  # as tf.constant converts it
    collection = tf.compat.v1.get_default_graph().get_collection_ref("skewless_constants")
    if not collection:
        collection.append({})
    cache = collection[0]
    key = (dtype, array.shape, array.tobytes())
    if key not in cache:
        with tf.control_dependencies(None):
            cache[key] = tf.constant(array, dtype)
    return cache[key]


def as_float(x):
    """``x`` as float32 (int64 values rounded to the nearest float32); a literal is converted
    while tracing, so no cast runs per batch."""
    if x.dtype == tf.float32:
        return x
    value = literal(x)
    if value is not None:
        return shared_constant(value, tf.float32)  # numpy's conversion rounds as tf.cast does
    return tf.cast(x, tf.float32)


def widen(*values):
    """Cast int64 values to float32 when any value is float32 (the language's widening)."""
    if any(v.dtype == tf.float32 for v in values):
        return tuple(as_float(v) for v in values)
    return values


def read_column(raw: dict, name: str, dtype: str):
    """A raw column as the transform sees it: bool columns are stored as int64 0/1."""
    value = raw[name]
    if dtype == "bool":
        if isinstance(value, tf.RaggedTensor):
            return value.with_flat_values(tf.not_equal(value.flat_values, 0))
        return tf.not_equal(value, tf.zeros([], value.dtype))
    return value


def constant(value, dtype: str):
    """A literal of the language as a rank-0 tensor."""
    if dtype == "bool":
        return shared_constant(bool(value), tf.bool)
    return shared_constant(value, t.TF_DTYPES[dtype])


# ---- type rules --------------------------------------------------------------------------


def shape_of(args: Args, *names: str) -> t.Shape:
    try:
        return t.broadcast(*(args.type(n).shape for n in names), *(a.shape for a in args.rest))
    except t.ShapeMismatch as exc:
        raise ArgError(f"{args.op}: {exc}") from None


def need(args: Args, name: str, *dtypes: str, what: str | None = None) -> str:
    """Check that argument ``name`` has one of ``dtypes``; return its dtype."""
    dtype = args.type(name).dtype
    if dtype not in dtypes:
        wanted = what or " or ".join(dtypes)
        raise ArgError(f"{args.op} expects {wanted}, got {args.describe(name)}", name)
    return dtype


def need_number(args: Args, name: str) -> str:
    return need(args, name, *t.NUMERIC, what="a number")


def need_shape(args: Args, name: str, *kinds: str, what: str) -> t.Shape:
    shape = args.type(name).shape
    if shape.kind not in kinds:
        raise ArgError(f"{args.op} expects {what}, got {shape.describe}", name)
    return shape


def need_int_const(args: Args, name: str, minimum: int | None = None,
                   maximum: int = 2**63 - 1) -> int:
    """The integer constant ``name``, within [minimum, maximum] (an ArgError otherwise)."""
    value = args.consts.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgError(f"{args.op}: {name} must be an integer, got {value!r}", name)
    if minimum is not None and value < minimum:
        raise ArgError(f"{args.op}: {name} must be at least {minimum}, got {value}", name)
    if value > maximum:
        raise ArgError(f"{args.op}: {name} must be at most {maximum}, got {value}", name)
    return value


def need_number_const(args: Args, name: str) -> float:
    value = args.consts.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgError(f"{args.op}: {name} must be a number, got {value!r}", name)
    return value


def need_string_const(args: Args, name: str) -> str:
    value = args.consts.get(name)
    if not isinstance(value, str):
        raise ArgError(f"{args.op}: {name} must be a string, got {value!r}", name)
    return value


def unary_numeric_to_float(args: Args) -> t.Type:
    need_number(args, "x")
    return t.Type("float32", args.type("x").shape)


def unary_numeric_same(args: Args) -> t.Type:
    need_number(args, "x")
    return args.type("x")


def binary_numeric(args: Args) -> t.Type:
    dtypes = [need_number(args, name) for name in ("a", "b")]
    return t.Type(t.widen(*dtypes), shape_of(args, "a", "b"))


PACKET = 64  # more than any SIMD packet: 16 float32 or 8 float64 lanes (AVX-512)


def same_path(fn, *args):
    """``fn(*args)`` as float32, computed the same way for every element, wherever it sits
    in the batch.

    TensorFlow's CPU kernels (Eigen) compute a tensor's elements in SIMD packets and the
    last few in scalar code, and for transcendental functions the two paths can round
    differently (1 ulp). A value's result would then depend on its position, that is on
    the batch size: training and serving would differ. Padding the flat values to whole
    packets puts every element on the packet path. The packet path of some functions is
    less accurate (pow(9, 2) gives 81.00001 in float32), so it runs in float64 and the
    result is rounded to float32.

    The values get ``PACKET - 1`` padding elements: Eigen computes whole packets from the
    start (also in each block when it splits the work between threads, whose sizes are
    multiples of the packet) and leaves fewer than a packet's worth to scalar code at the
    end, which is then all padding."""
    if len(args) == 1 and args[0].shape.rank == 1:
        shape, flat = None, [tf.cast(args[0], tf.float64)]
    else:
        shape = tf.shape(args[0])
        for arg in args[1:]:
            shape = tf.broadcast_dynamic_shape(shape, tf.shape(arg))
        flat = [tf.reshape(tf.broadcast_to(tf.cast(arg, tf.float64), shape), [-1])
                for arg in args]
    padding = shared_constant([[0, PACKET - 1]], tf.int32)
    padded = fn(*(tf.pad(values, padding) for values in flat))
    result = tf.cast(tf.strided_slice(padded, shared_constant([0], tf.int32),
                                      shared_constant([1 - PACKET], tf.int32),
                                      shared_constant([1], tf.int32)), tf.float32)
    return result if shape is None else tf.reshape(result, shape)
