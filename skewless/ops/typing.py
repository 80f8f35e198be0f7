"""Types: conversions, NaN handling and choice."""
from __future__ import annotations

import math

from ..lazy import tf

from .. import types as t
from .common import elementwise, need, need_number, shape_of, widen
from .registry import ArgError, Param, op


def _cast_type(args) -> t.Type:
    target = args.consts["dtype"]
    if target not in t.DTYPES:
        raise ArgError(f"cast: dtype must be one of {', '.join(t.DTYPES)}, got {target!r}", "dtype")
    source = args.type("x").dtype
    if source == "string" and target != "string":
        hint = (f"use to_number(x, {target}, default)" if target in t.NUMERIC
                else 'compare it instead (x == "true")')  # to_number makes no bools
        raise ArgError(f"cast cannot turn a string into {target}: {hint}", "x")
    return t.Type(target, args.type("x").shape)


@op("cast", Param("x"), Param("dtype", const=True), infer=_cast_type)
@elementwise
def cast(x, dtype):
    """Convert to ``dtype``: float to int truncates toward zero, NaN gives 0 and a float
    beyond the int64 range its nearest limit; a number to bool is ``x != 0`` (NaN is true);
    bool to a number is 0/1, to string "true"/"false"; a number to string is the decimal
    text with the fewest digits that reads back as the same number, positional from 1e-4
    up to 1e16 (1.5 → "1.5", 16777216.0 → "16777216", 1e8 → "100000000", 1e-5 → "1e-05",
    NaN → "nan")."""
    target = t.TF_DTYPES[dtype]
    if x.dtype == target:
        return x
    if dtype == "string":
        if x.dtype == tf.bool:
            return tf.where(x, "true", "false")
        return _shortest_text(x) if x.dtype == tf.float32 else tf.strings.as_string(x)
    if dtype == "bool":
        return tf.not_equal(x, tf.zeros([], x.dtype))
    if x.dtype == tf.float32 and dtype == "int64":
        return _truncate(x)
    return tf.cast(x, target)


_INT64_LIMIT = 2.0**63  # the smallest float32 above the int64 range


def _truncate(x):
    """float32 to int64 toward zero. TensorFlow's own cast leaves NaN and out-of-range
    values to the hardware (x86 gives the int64 minimum, ARM saturates): pin them."""
    inside = tf.math.logical_and(x > -_INT64_LIMIT, x < _INT64_LIMIT)
    truncated = tf.cast(tf.where(inside, x, tf.zeros_like(x)), tf.int64)
    high = tf.where(x >= _INT64_LIMIT, tf.int64.max, truncated)
    return tf.where(x <= -_INT64_LIMIT, tf.int64.min, high)


def _shortest_text(x):
    """The decimal text of x with the fewest significant digits (1 to 9) that reads back as
    x, positional from 1e-4 up to 1e16 and in ``%g``'s scientific form outside, as Python's
    ``repr`` of a float chooses (``"100"``, ``"1.5"``, ``"0.0001"``, ``"1e-05"``,
    ``"1e+16"``), without its ``.0``. as_string's own ``shortest`` keeps 6 digits
    (16777216.0 → "1.67772e+07"). Every NaN is "nan": printf writes "-nan" for a NaN with
    the sign bit, which 0/0 sets on x86 only."""
    text = tf.where(tf.math.is_nan(x), "nan", tf.strings.as_string(x, precision=9, shortest=True))
    # Rounding x to a number of digits finds the shortest text but where x is a power of two:
    # its gap to the next float away from zero is twice the gap toward zero, and the nearest
    # text may fall just outside the narrow side while one on the wide side reads back
    # (2**-96: "1.2621775e-29", not "1.26217745e-29"). The decimal nearest to a point a
    # quarter of the wide gap away from x finds that one.
    infinity = tf.where(x < 0, tf.constant(-math.inf), tf.constant(math.inf))
    away = tf.math.nextafter(x, infinity)  # the next float away from zero
    wide = tf.cast(x, tf.float64) + (tf.cast(away, tf.float64) - tf.cast(x, tf.float64)) / 4
    for digits in range(8, 0, -1):
        for value in (wide, x):  # the nearest text wins when both read back
            candidate = tf.strings.as_string(value, precision=digits, shortest=True)
            exact = tf.equal(tf.strings.to_number(candidate, tf.float32), x)
            text = tf.where(exact, candidate, text)
    return _positional_below_1e16(text)


def _positional_below_1e16(text):
    """``%g`` text with its exponent written out where it is below 16: ``%g`` writes one
    whenever it is at least the digits kept ("1e+02" for 100 with one digit, "1.2e+10")."""
    exponent_text = tf.strings.regex_replace(text, r"^.*e\+", "")
    written = tf.strings.regex_full_match(text, r"-?[0-9.]+e\+[0-9]+")
    exponent = tf.strings.to_number(tf.where(written, exponent_text, "99"), tf.int32)
    digits = tf.strings.regex_replace(tf.strings.regex_replace(text, r"e\+.*", ""), r"\.", "")
    zeros = exponent + 1 - tf.strings.length(tf.strings.regex_replace(digits, "-", ""))
    padded = tf.strings.join([digits, tf.strings.substr(
        tf.fill(tf.shape(text), "0" * 16), tf.zeros_like(zeros), tf.maximum(zeros, 0))])
    return tf.where(exponent < 16, padded, text)


def _fill_nan_type(args) -> t.Type:
    need_number(args, "x")
    need_number(args, "value")
    return t.Type(t.widen(args.type("x").dtype, args.type("value").dtype), shape_of(args, "x", "value"))


@op("fill_nan", Param("x"), Param("value"), infer=_fill_nan_type)
@elementwise
def fill_nan(x, value):
    """x with NaN replaced by ``value`` (integers have no NaN and pass through)."""
    x, value = widen(x, value)
    if x.dtype != tf.float32:
        return x + tf.zeros_like(value)
    return tf.where(tf.math.is_nan(x), value, x)


def _is_nan_type(args) -> t.Type:
    need_number(args, "x")
    return t.Type("bool", args.type("x").shape)


@op("is_nan", Param("x"), infer=_is_nan_type)
@elementwise
def is_nan(x):
    """True where x is NaN; always false for integers."""
    if x.dtype != tf.float32:
        return tf.zeros_like(x, dtype=tf.bool)
    return tf.math.is_nan(x)


def _if_type(args) -> t.Type:
    need(args, "cond", "bool", what="a bool condition")
    a, b = args.type("a").dtype, args.type("b").dtype
    if a == b:
        dtype = a
    elif {a, b} <= set(t.NUMERIC):
        dtype = t.widen(a, b)
    else:
        raise ArgError(f"if: both branches must have the same type, got {args.describe('a')} "
                       f"and {args.describe('b')}", "b")
    return t.Type(dtype, shape_of(args, "cond", "a", "b"))


@op("if", Param("cond"), Param("a"), Param("b"), infer=_if_type)
@elementwise
def if_(cond, a, b):
    """``a`` where ``cond`` is true, else ``b``, elementwise."""
    return tf.where(cond, *widen(a, b))  # broadcasts, and keeps the static shape
