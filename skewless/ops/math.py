"""Math: elementwise functions of numbers."""
from __future__ import annotations

from ..lazy import tf

from .. import types as t
from .common import (as_float, binary_numeric, elementwise, literal, need_number, need_number_const,
                     same_path, shape_of, shared_constant, unary_numeric_same,
                     unary_numeric_to_float, widen)
from .registry import Param, op

X = Param("x")


def _unary(name: str, tf_name: str, doc: str, rounding: bool = False):
    """Register ``tf.math.<tf_name>`` as a function of one number. Rounding functions leave
    integers unchanged and keep the dtype; the others always give float32 (integers widen)."""

    def apply(x):
        tf_fn = getattr(tf.math, tf_name)
        if rounding:
            return tf_fn(x) if x.dtype == tf.float32 else x
        return same_path(tf_fn, x)

    # exported from skewless.ops under this name: round_ must not shadow the builtin
    apply.__name__ = apply.__qualname__ = f"{name}_" if name == "round" else name
    apply.__doc__ = doc
    infer = unary_numeric_same if rounding else unary_numeric_to_float
    return op(name, X, infer=infer)(elementwise(apply))


sqrt = _unary("sqrt", "sqrt", "Square root; NaN for negative numbers.")
exp = _unary("exp", "exp", "e to the power x.")
log = _unary("log", "log", "Natural logarithm; -inf at 0, NaN below.")
log1p = _unary("log1p", "log1p", "log(1 + x), accurate near 0.")
sin = _unary("sin", "sin", "Sine of x in radians.")
cos = _unary("cos", "cos", "Cosine of x in radians.")
floor = _unary("floor", "floor", "Largest integer not above x.", rounding=True)
ceil = _unary("ceil", "ceil", "Smallest integer not below x.", rounding=True)
round_ = _unary("round", "round", "Nearest integer, halves to even (2.5 → 2).",
                rounding=True)


@op("abs", X, infer=unary_numeric_same)
@elementwise
def abs_(x):
    """Absolute value; keeps the dtype."""
    return tf.math.abs(x)


@op("sign", X, infer=unary_numeric_same)
@elementwise
def sign(x):
    """-1, 0 or 1 (NaN stays NaN; a subnormal number, which TensorFlow flushes, gives 0);
    keeps the dtype."""
    # not tf.math.sign: in SIMD packets it returns a subnormal x itself, elsewhere 0
    one, zero = tf.ones_like(x), tf.zeros_like(x)
    result = tf.where(x > zero, one, tf.where(x < zero, -one, zero))
    return tf.where(tf.math.is_nan(x), x, result) if x.dtype == tf.float32 else result


def _pow_type(args) -> t.Type:
    need_number(args, "x")
    need_number(args, "p")
    return t.Type("float32", shape_of(args, "x", "p"))


@op("pow", X, Param("p"), infer=_pow_type)
@elementwise
def pow_(x, p):
    """x to the power p, as float32."""
    return same_path(tf.math.pow, x, p)


def _clip_type(args) -> t.Type:
    dtypes = [need_number(args, name) for name in ("x", "lo", "hi")]
    return t.Type(t.widen(*dtypes), shape_of(args, "x", "lo", "hi"))


@op("clip", X, Param("lo"), Param("hi"), infer=_clip_type)
@elementwise
def clip(x, lo, hi):
    """x limited to [lo, hi] (``hi`` where lo > hi); NaN stays NaN."""
    return _limited(x, lo, hi)


@op("minimum", Param("a"), Param("b"), infer=binary_numeric)
@elementwise
def minimum(a, b):
    """The smaller of a and b, elementwise; NaN if either is NaN (b's NaN, bits and all,
    if both are); a tie of 0.0 and -0.0 gives a."""
    return _limited(a, hi=b)


@op("maximum", Param("a"), Param("b"), infer=binary_numeric)
@elementwise
def maximum(a, b):
    """The larger of a and b, elementwise; NaN if either is NaN (b's NaN, bits and all,
    if both are); a tie of 0.0 and -0.0 gives a."""
    return _limited(a, lo=b)


def _limited(x, lo=None, hi=None):
    """x raised to ``lo`` and then lowered to ``hi`` (either may be None), by ``_pick``.

    When every bound given is a literal other than NaN, with lo <= hi, and x has a batch
    dimension, one op gives the same values: TensorFlow's ClipByValue with scalar bounds
    computes ``max(min(x, hi), lo)`` with std::min and std::max one element at a time (no
    SIMD packets), which keep ``x`` on a tie (0.0 and -0.0) and when ``x`` is NaN; with
    lo <= hi the order of the two bounds does not matter, and rounding int64 to float32
    keeps order, so widening all at once equals widening pick by pick. It takes a
    subnormal ``x`` as a zero of its sign, as arithmetic does (docs/language.md). A rank-0
    ``x`` would take its packet path."""
    bounds = [b for b in (lo, hi) if b is not None]
    if x.shape.rank and all(literal(b) is not None and literal(b) == literal(b)
                            for b in bounds):
        x, *bounds = widen(x, *bounds)
        low = bounds.pop(0) if lo is not None else _extreme(x.dtype, highest=False)
        high = bounds.pop(0) if hi is not None else _extreme(x.dtype, highest=True)
        if literal(low) <= literal(high):
            return tf.raw_ops.ClipByValue(t=x, clip_value_min=low, clip_value_max=high)
    if lo is not None:
        x = _pick(x, lo, tf.math.greater)
    return x if hi is None else _pick(x, hi, tf.math.less)


def _extreme(dtype, highest: bool):
    """The highest or lowest value of dtype as a literal: ±inf, or int64's limits."""
    if dtype == tf.float32:
        return shared_constant(float("inf") if highest else float("-inf"), dtype)
    return shared_constant(dtype.max if highest else dtype.min, dtype)


def _pick(a, b, beats):
    """b where ``beats(b, a)`` or b is NaN, else a. Not tf.minimum/maximum: they return a
    different one of 0.0 and -0.0 in and out of SIMD packets, so batch size would matter."""
    a, b = widen(a, b)
    take_b = beats(b, a)
    if b.dtype == tf.float32 and _may_be_nan(b):
        take_b = tf.math.logical_or(take_b, tf.math.is_nan(b))
    return tf.where(take_b, b, a)


def _may_be_nan(x) -> bool:
    value = literal(x)
    return value is None or value != value  # NaN is the one value unequal to itself


def _safe_div_type(args) -> t.Type:
    need_number(args, "a")
    need_number(args, "b")
    need_number_const(args, "default")
    return t.Type("float32", shape_of(args, "a", "b"))


@op("safe_div", Param("a"), Param("b"), Param("default", const=True, default=0),
    infer=_safe_div_type)
@elementwise
def safe_div(a, b, default=0):
    """a / b as float32, and ``default`` where b is 0."""
    a, b = as_float(a), as_float(b)
    zero = tf.equal(b, 0.0)
    quotient = tf.math.divide(a, tf.where(zero, tf.ones_like(b), b))
    return tf.where(zero, tf.cast(default, tf.float32), quotient)
