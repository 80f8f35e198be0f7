"""Helpers shared by the op families: elementwise application over the three runtime forms of
a value, dtype widening, and the common type rules.

At run time a batch of values is a ``tf.Tensor`` (constants: rank 0; per-example scalars:
``[batch]``; fixed shapes: ``[batch, *dims]``), a ``tf.RaggedTensor`` ``[batch, None]`` for
variable-length values, or a ``tf.SparseTensor`` ``[batch, size]`` for sparse vectors."""
from __future__ import annotations

import functools

import tensorflow as tf

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
            rows = ragged.value_rowids()
            flat = [_flatten_like(a, ragged, rows) for a in args]
            return ragged.with_flat_values(fn(*flat, **kwargs))
        sparse = next((a for a in args if isinstance(a, tf.SparseTensor)), None)
        if sparse is not None:
            flat = [a.values if a is sparse else a for a in args]
            return sparse.with_values(fn(*flat, **kwargs))  # keeps the static dense shape
        rank = max((a.shape.rank for a in args if isinstance(a, tf.Tensor)), default=0)
        return fn(*(_expand_to(a, rank) for a in args), **kwargs)

    return apply


def _flatten_like(arg, ragged: tf.RaggedTensor, rows: tf.Tensor):
    if isinstance(arg, tf.RaggedTensor):
        return arg.flat_values
    if isinstance(arg, tf.Tensor) and arg.shape.rank == 1:
        return tf.gather(arg, rows)
    return arg


def _expand_to(arg, rank: int):
    if isinstance(arg, tf.Tensor) and 0 < arg.shape.rank < rank:
        return tf.reshape(arg, tf.concat([tf.shape(arg), [1] * (rank - arg.shape.rank)], 0))
    return arg



def as_float(x):
    return tf.cast(x, tf.float32) if x.dtype != tf.float32 else x


def widen(*values):
    """Cast int64 values to float32 when any value is float32 (the language's widening)."""
    if any(v.dtype == tf.float32 for v in values):
        return tuple(as_float(v) for v in values)
    return values


def constant(value, dtype: str):
    """A literal of the language as a rank-0 tensor."""
    if dtype == "bool":
        return tf.constant(bool(value))
    return tf.constant(value, dtype=t.TF_DTYPES[dtype])


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


PACKET = 64  # a multiple of every SIMD width: 4 (SSE), 8 (AVX), 16 (AVX-512) float32 lanes


def same_path(fn, *args):
    """``fn(*args)`` as float32, computed the same way for every element, wherever it sits
    in the batch.

    TensorFlow's CPU kernels (Eigen) compute a tensor's elements in SIMD packets and the
    last few in scalar code, and for transcendental functions the two paths can round
    differently (1 ulp). A value's result would then depend on its position, that is on
    the batch size: training and serving would differ. Padding the flat values to whole
    packets puts every element on the packet path. The packet path of some functions is
    less accurate (pow(9, 2) gives 81.00001 in float32), so it runs in float64 and the
    result is rounded to float32."""
    shape = tf.shape(args[0])
    for arg in args[1:]:
        shape = tf.broadcast_dynamic_shape(shape, tf.shape(arg))
    flat = [tf.reshape(tf.broadcast_to(tf.cast(arg, tf.float64), shape), [-1]) for arg in args]
    size = tf.size(flat[0])
    padding = [[0, (-size) % PACKET]]
    result = fn(*(tf.pad(values, padding) for values in flat))[:size]
    return tf.reshape(tf.cast(result, tf.float32), shape)
