"""The operators of the language: arithmetic, comparisons, boolean logic and ``in``.

They are registered under their symbols (``+``, ``==``, ``and``, …) and reached from
expressions like ``a + b`` rather than by call."""
from __future__ import annotations

from ..lazy import tf

from .. import types as t
from .common import as_float, binary_numeric, elementwise, literal, need, shape_of, widen
from .registry import ArgError, Param, op

A, B = Param("a"), Param("b")


@op("+", A, B, infer=binary_numeric)
@elementwise
def add(a, b):
    """a + b; int64 + float32 is float32."""
    return tf.math.add(*widen(a, b))


@op("-", A, B, infer=binary_numeric)
@elementwise
def subtract(a, b):
    """a - b."""
    return tf.math.subtract(*widen(a, b))


@op("*", A, B, infer=binary_numeric)
@elementwise
def multiply(a, b):
    """a * b."""
    return tf.math.multiply(*widen(a, b))


def _true_div_type(args) -> t.Type:
    binary_numeric(args)
    return t.Type("float32", shape_of(args, "a", "b"))


@op("/", A, B, infer=_true_div_type)
@elementwise
def divide(a, b):
    """a / b, always float32 (x / 0 is ±inf or NaN, as IEEE 754 says)."""
    return tf.math.divide(as_float(a), as_float(b))


def _integer_safe(tf_fn):
    """Integer floor division and modulo by zero give 0 (as numpy does) instead of
    stopping the whole batch with an error; floats follow IEEE 754."""

    def apply(a, b):
        a, b = widen(a, b)
        divisor = literal(b)
        if a.dtype == tf.float32 or (divisor is not None and divisor != 0):
            return tf_fn(a, b)
        zero = tf.equal(b, 0)
        result = tf_fn(a, tf.where(zero, tf.ones_like(b), b))
        return tf.where(zero, tf.zeros_like(result), result)

    return apply


@op("//", A, B, infer=binary_numeric)
@elementwise
def floordiv(a, b):
    """Floor division (rounds toward -inf); an integer divided by 0 is 0."""
    return _integer_safe(tf.math.floordiv)(a, b)


@op("%", A, B, infer=binary_numeric)
@elementwise
def floormod(a, b):
    """Floor modulo (the sign of b); an integer modulo 0 is 0."""
    return _integer_safe(tf.math.floormod)(a, b)


def _negate_type(args) -> t.Type:
    need(args, "x", *t.NUMERIC, what="a number")
    return args.type("x")


@op("neg", Param("x"), infer=_negate_type)
@elementwise
def negate(x):
    """-x."""
    return tf.math.negative(x)


def _equality_type(args) -> t.Type:
    a, b = args.type("a").dtype, args.type("b").dtype
    if not (a == b or {a, b} <= set(t.NUMERIC)):
        raise ArgError(f"cannot compare {args.describe('a')} with {args.describe('b')}", "b")
    return t.Type("bool", shape_of(args, "a", "b"))


def _order_type(args) -> t.Type:
    need(args, "a", *t.NUMERIC, what="a number")
    need(args, "b", *t.NUMERIC, what="a number")
    return t.Type("bool", shape_of(args, "a", "b"))


def _comparison(symbol: str, infer, name: str):
    """Register ``symbol`` as ``tf.math.<name>``, elementwise, after widening."""

    @op(symbol, A, B, infer=infer)
    @elementwise
    def apply(a, b):
        if a.dtype != b.dtype:
            a, b = widen(a, b)
        return getattr(tf.math, name)(a, b)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"a {symbol} b, elementwise, as bool."
    return apply


equal = _comparison("==", _equality_type, "equal")
not_equal = _comparison("!=", _equality_type, "not_equal")
less = _comparison("<", _order_type, "less")
less_equal = _comparison("<=", _order_type, "less_equal")
greater = _comparison(">", _order_type, "greater")
greater_equal = _comparison(">=", _order_type, "greater_equal")


def _logic_type(args) -> t.Type:
    for name in args.types:
        need(args, name, "bool", what="a bool")
    return t.Type("bool", shape_of(args, *args.types))


@op("and", A, B, infer=_logic_type)
@elementwise
def logical_and(a, b):
    """a and b."""
    return tf.math.logical_and(a, b)


@op("or", A, B, infer=_logic_type)
@elementwise
def logical_or(a, b):
    """a or b."""
    return tf.math.logical_or(a, b)


@op("not", Param("x"), infer=_logic_type)
@elementwise
def logical_not(x):
    """not x."""
    return tf.math.logical_not(x)


def _in_type(args) -> t.Type:
    dtype = args.type("x").dtype
    for index, item in enumerate(args.consts["items"]):
        if not _literal_fits(item, dtype):
            exact = ("; an int64 is compared with integers only"
                     if dtype == "int64" and isinstance(item, float) else "")
            raise ArgError(f"'in' list item {item!r} does not match {args.describe('x')}{exact}",
                           "items", index)
    return t.Type("bool", args.type("x").shape)


def _literal_fits(value, dtype: str) -> bool:
    """Whether a literal of the list after 'in' has the dtype of x; an integer literal is
    also a float32 (as in arithmetic), a float literal never an int64."""
    if dtype == "string":
        return isinstance(value, str)
    if dtype == "bool":
        return isinstance(value, bool)
    kinds = int if dtype == "int64" else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool)


@op("in", Param("x"), Param("items", const=True), infer=_in_type)
@elementwise
def is_in(x, items):
    """True where x equals one of ``items`` (a list of literals)."""
    if not items:
        return tf.zeros_like(x, dtype=tf.bool)
    if x.dtype == tf.int64 and any(isinstance(item, float) for item in items):
        x = as_float(x)  # the type rule refuses this in specs; direct callers compare in float32
    candidates = tf.constant(items, dtype=x.dtype)
    return tf.reduce_any(tf.equal(tf.expand_dims(x, -1), candidates), axis=-1)
