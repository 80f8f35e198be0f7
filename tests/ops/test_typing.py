"""cast, fill_nan, is_nan and if: expected values come from numpy, Python's own conversions
(``int()`` truncation, ``str()``, ``"%.*g"`` formatting with numpy's shortest digits) or are
written by hand, for every runtime form, eagerly and in graph mode, and the type rules with
their messages."""
import decimal

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, strategies as st

import skewless.ops as ops
from skewless import types as t
from skewless.ops.registry import ArgError, Args, all_ops
from tensors import bools, f32, FLOATS, i64, I64_MAX, I64_MIN, INF, NAN, ragged, same

REG = all_ops()
F, I, S, B = (t.Type(d, t.SCALAR) for d in ("float32", "int64", "string", "bool"))
SOURCES = {"x": "carrier", "value": "fallback", "cond": "late", "a": "delay", "b": "distance"}
INTS = st.integers(I64_MIN, I64_MAX)







def texts(values):
    return [v.decode() for v in np.asarray(values).ravel()]


def cast(x, dtype):
    return ops.cast(x, dtype=dtype)


def infer(name, consts=None, **types):
    return REG[name].infer(Args(op=name, types=types, consts=consts or {}, sources=SOURCES))


def error_of(name, consts=None, **types) -> str:
    with pytest.raises(ArgError) as info:
        infer(name, consts, **types)
    return str(info.value)


# ---- cast: numbers ----------------------------------------------------------------------------


def test_float_to_int_truncates_toward_zero_and_pins_the_rest():
    x = [2.7, -2.7, 0.5, -0.5, -0.0, 1e10, 9.2233715e18, NAN, INF, -INF, 1e30, -1e30, 2.0**63,
         -(2.0**63)]
    result = cast(f32(*x), "int64")
    assert result.dtype == tf.int64
    same(result, [2, -2, 0, 0, 0, 10**10, 9223371487098961920, 0, I64_MAX, I64_MIN, I64_MAX,
                  I64_MIN, I64_MAX, I64_MIN])


def python_truncate(x: float) -> int:
    if x != x:
        return 0
    return max(I64_MIN, min(I64_MAX, int(x))) if abs(x) != INF else (I64_MAX if x > 0 else I64_MIN)


@given(st.lists(FLOATS, min_size=1, max_size=8))
def test_float_to_int_matches_python_int(values):
    same(cast(f32(*values), "int64"), [python_truncate(float(np.float32(v))) for v in values])


@given(st.lists(INTS, min_size=1, max_size=8))
def test_int_conversions(values):
    same(cast(i64(*values), "float32"), np.int64(values).astype(np.float32))
    same(cast(i64(*values), "bool"), [v != 0 for v in values])
    assert texts(cast(i64(*values), "string")) == [str(v) for v in values]


def test_bool_and_number_conversions_by_hand():
    same(cast(f32(0.0, -0.0, 0.5, NAN, -INF), "bool"), [False, False, True, True, True])
    same(cast(i64(0, -3), "bool"), [False, True])
    flags = bools(True, False)
    for dtype, expected in (("int64", [1, 0]), ("float32", [1.0, 0.0]), ("bool", [True, False])):
        result = cast(flags, dtype)
        assert result.dtype == t.TF_DTYPES[dtype]
        same(result, expected)
    assert texts(cast(flags, "string")) == ["true", "false"]
    same(cast(i64(2**24 + 1), "float32"), [2.0**24])
    words = tf.constant(["a", "1.5"])
    assert cast(words, "string") is words


# ---- cast: floats to text --------------------------------------------------------------------

SHORTEST = {1.5: "1.5", 0.1: "0.1", 0.1234567: "0.1234567", 16777216.0: "16777216",
            1e8: "100000000", 123456.0: "123456", 1e-5: "1e-05", 1 / 3: "0.33333334", 2.0: "2",
            -0.0: "-0", 3.4028235e38: "3.4028235e+38", -2.5e-7: "-2.5e-07", INF: "inf",
            -INF: "-inf", 1.17549435e-38: "1.1754944e-38", 10.0: "10", 100.0: "100",
            120.0: "120", -3.4e7: "-34000000", 1.2e10: "12000000000", 0.0001: "0.0001",
            1e15: "1000000000000000", 1e16: "1e+16", -1e16: "-1e+16"}


def test_float_to_string_is_the_shortest_text_that_reads_back():
    assert texts(cast(f32(*SHORTEST), "string")) == list(SHORTEST.values())
    negative_nan = np.uint32(0xFFC00000).view(np.float32)  # what 0 / 0 gives on x86
    assert texts(cast(f32(NAN, negative_nan), "string")) == ["nan", "nan"]
    assert texts(cast(ops.divide(f32(0.0), f32(0.0)), "string")) == ["nan"]
    assert texts(cast(tf.constant(1.5), "string")) == ["1.5"]


def shortest_g(x: np.float32) -> str:
    """numpy's shortest round-trip digits of x (Dragon4), written as Python's repr writes a
    float: positional (by Python's Decimal) from 1e-4 up to 1e16, else as ``%g`` does
    ("1e-05", "3.4028235e+38"), without a trailing ".0"."""
    if not np.isfinite(x):
        return "nan" if np.isnan(x) else "%g" % float(x)
    scientific = np.format_float_scientific(x, unique=True, trim="-", exp_digits=2)
    if -4 <= int(scientific.split("e")[1]) < 16:
        return format(decimal.Decimal(scientific), "f")
    return scientific


POWERS_OF_TWO = [sign * 2.0**k for k in range(-126, 128) for sign in (1, -1)]


def test_every_power_of_two_gets_its_shortest_text():
    """Powers of two are where the gaps to the floats on either side differ (the wider one
    away from zero), so where rounding x itself to few digits can miss the shortest text
    that reads back (2**-96, 2**87, 2**90): every normal one, checked against numpy."""
    x = np.float32(POWERS_OF_TWO)
    result = texts(cast(tf.constant(x), "string"))
    assert result == [shortest_g(v) for v in x]
    same(np.float32([float(text) for text in result]), x)


@given(st.lists(FLOATS, min_size=1, max_size=8))
def test_float_to_string_matches_shortest_repr(values):
    x = np.float32(values)
    result = texts(cast(tf.constant(x), "string"))
    assert result == [shortest_g(v) for v in x]
    back = np.float32([float(text) for text in result])
    same(back.view(np.uint32)[~np.isnan(x)], x.view(np.uint32)[~np.isnan(x)])


ROUND_NUMBERS = st.builds(lambda digits, power, sign: sign * digits * 10.0**power,
                          st.integers(1, 999), st.integers(-8, 20), st.sampled_from([1, -1]))


@given(st.lists(ROUND_NUMBERS, min_size=1, max_size=8))
def test_round_numbers_are_written_out_below_1e16(values):
    """Numbers with few significant digits and a large exponent (100, 1.2e10, 5e15), where
    %g with few digits writes an exponent: positional below 1e16, as Python's repr."""
    x = np.float32(values)
    result = texts(cast(tf.constant(x), "string"))
    assert result == [shortest_g(v) for v in x]
    exponents = [int(np.format_float_scientific(v, unique=True).split("e")[1]) for v in x]
    assert [("e" in text) for text in result] == [not -4 <= e < 16 for e in exponents]
    same(np.float32([float(text) for text in result]), x)


def test_cast_forms():
    result = cast(ragged([[1.5, -2.7], []], tf.float32), "string")
    assert isinstance(result, tf.RaggedTensor)
    assert result.to_list() == [[b"1.5", b"-2.7"], []]
    same(cast(tf.constant([[1.9, -1.9], [NAN, 3.0]]), "int64"), [[1, -1], [0, 3]])
    sparse = tf.SparseTensor([[0, 2], [1, 0]], f32(2.5, -0.5), [2, 4])
    result = cast(sparse, "int64")
    assert isinstance(result, tf.SparseTensor)
    same(result.indices, sparse.indices)
    same(result.values, [2, 0])
    same(cast(sparse, "bool").values, [True, True])
    assert cast(tf.constant(-3.9), "int64").shape == ()
    same(cast(tf.constant(-3.9), "int64"), -3)


# ---- fill_nan / is_nan ---------------------------------------------------------------------


def test_fill_nan_replaces_only_nan():
    same(ops.fill_nan(f32(1.0, NAN, INF, -0.0, -NAN), tf.constant(0.0)), [1.0, 0.0, INF, -0.0, 0.0])
    same(ops.fill_nan(f32(NAN, 2.0), i64(7)), [7.0, 2.0])
    ints = ops.fill_nan(i64(1, I64_MAX), tf.constant(0, tf.int64))
    assert ints.dtype == tf.int64
    same(ints, [1, I64_MAX])
    widened = ops.fill_nan(i64(1, 2**24 + 1), tf.constant(0.5))
    assert widened.dtype == tf.float32
    same(widened, [1.0, 2.0**24])
    same(ops.fill_nan(f32(NAN, NAN), f32(NAN, 1.0)), [NAN, 1.0])


@given(st.lists(st.tuples(FLOATS, FLOATS), min_size=1, max_size=8))
def test_fill_nan_and_is_nan_match_numpy(pairs):
    x, v = np.float32([p[0] for p in pairs]), np.float32([p[1] for p in pairs])
    same(ops.fill_nan(tf.constant(x), tf.constant(v)), np.where(np.isnan(x), v, x))
    same(ops.is_nan(tf.constant(x)), np.isnan(x))


def test_is_nan():
    same(ops.is_nan(f32(NAN, INF, -INF, 0.0, 1.0)), [True, False, False, False, False])
    result = ops.is_nan(i64(0, I64_MIN))
    assert result.dtype == tf.bool
    same(result, [False, False])
    assert ops.is_nan(tf.constant(NAN, tf.float32)).numpy()
    assert not ops.is_nan(tf.constant(3, tf.int64)).numpy()


def test_fill_nan_and_is_nan_forms():
    fixed = np.float32([[NAN, 1.0, NAN], [2.0, NAN, 3.0]])
    per_example = np.float32([-1.0, -2.0])
    same(ops.fill_nan(tf.constant(fixed), tf.constant(per_example)),
         np.where(np.isnan(fixed), per_example[:, None], fixed))
    same(ops.fill_nan(tf.constant([[1, 2], [3, 4]], tf.int64), i64(0, 0)), [[1, 2], [3, 4]])
    same(ops.is_nan(tf.constant(fixed)), np.isnan(fixed))
    x = ragged([[NAN, 1.0], [], [NAN]], tf.float32)
    assert ops.fill_nan(x, f32(5.0, 6.0, 7.0)).to_list() == [[5.0, 1.0], [], [7.0]]
    assert ops.fill_nan(x, tf.constant(0)).to_list() == [[0.0, 1.0], [], [0.0]]
    assert ops.is_nan(x).to_list() == [[True, False], [], [True]]
    assert ops.is_nan(ragged([[1], []], tf.int64)).to_list() == [[False], []]
    sparse = tf.SparseTensor([[0, 1], [2, 3]], f32(NAN, 4.0), [3, 5])
    result = ops.fill_nan(sparse, tf.constant(-1.0))
    assert isinstance(result, tf.SparseTensor)
    same(result.values, [-1.0, 4.0])
    same(ops.is_nan(sparse).values, [True, False])


# ---- if -------------------------------------------------------------------------------------


def test_if_chooses_per_element():
    cond = bools(True, False, True)
    same(ops.if_(cond, i64(1, 2, 3), i64(-1, -2, -3)), [1, -2, 3])
    same(ops.if_(cond, f32(NAN, 1.0, INF), tf.constant(0.0)), [NAN, 0.0, INF])
    assert texts(ops.if_(cond, tf.constant("yes"), tf.constant(["n1", "n2", "n3"]))) == [
        "yes", "n2", "yes"]
    same(ops.if_(cond, tf.constant(False), tf.constant(True)), [False, True, False])
    widened = ops.if_(cond, i64(2**24 + 1, 0, 0), tf.constant(0.5))
    assert widened.dtype == tf.float32
    same(widened, [2.0**24, 0.5, 0.0])
    assert ops.if_(tf.constant(True), tf.constant(1), tf.constant(2)).shape == ()
    same(ops.if_(tf.constant(False), f32(1.0, 2.0), f32(3.0, 4.0)), [3.0, 4.0])


@given(st.lists(st.tuples(st.booleans(), INTS, INTS), min_size=1, max_size=8))
def test_if_matches_numpy_where(triples):
    cond, a, b = (list(column) for column in zip(*triples))
    same(ops.if_(bools(*cond), i64(*a), i64(*b)), np.where(cond, np.int64(a), np.int64(b)))


def test_if_on_fixed_and_ragged_values():
    cond = np.array([True, False])
    fixed = np.int64([[1, 2, 3], [4, 5, 6]])
    same(ops.if_(tf.constant(cond), tf.constant(fixed), i64(0, -1)),
         np.where(cond[:, None], fixed, np.int64([[0], [-1]])))
    fixed_cond = np.array([[True, False], [False, True]])
    same(ops.if_(tf.constant(fixed_cond), f32(1.0, 2.0), tf.constant(0.0)),
         np.where(fixed_cond, np.float32([[1.0], [2.0]]), 0.0))
    x = ragged([[5, -1], [], [-7]], tf.int64)
    positive = ops.greater(x, tf.constant(0, tf.int64))
    result = ops.if_(positive, x, i64(100, 200, 300))
    assert isinstance(result, tf.RaggedTensor)
    assert result.to_list() == [[5, 100], [], [300]]
    assert ops.if_(bools(False, True, True), x, tf.constant(0, tf.int64)).to_list() == [
        [0, 0], [], [-7]]
    sparse_cond = tf.SparseTensor([[0, 1], [1, 0]], bools(True, False), [2, 3])
    result = ops.if_(sparse_cond, tf.constant(1.5), tf.constant(-1))
    assert isinstance(result, tf.SparseTensor)
    same(result.values, [1.5, -1.0])
    sparse = tf.SparseTensor([[0, 1], [1, 0]], f32(4.0, 9.0), [2, 3])
    same(ops.if_(tf.constant(True), sparse, tf.constant(0.0)).values, [4.0, 9.0])


# ---- graph mode -----------------------------------------------------------------------------


def test_if_keeps_the_static_shape_in_graph_mode():
    @tf.function(input_signature=[tf.TensorSpec([None, 2, 1], tf.float32),
                                  tf.TensorSpec([None], tf.int64)])
    def choose(x, n):
        result = ops.if_(ops.greater(x, tf.constant(0.0)), x, n)
        assert result.shape.as_list() == [None, 2, 1]
        return result

    same(choose(tf.constant([[[1.0], [-2.0]]]), i64(3)), [[[1.0], [3.0]]])


def test_typing_functions_in_graph_mode():
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32),
                                  tf.TensorSpec([None], tf.int64)])
    def pipeline(x, n):
        missing = ops.is_nan(x)
        return (missing, ops.fill_nan(x, n), cast(x, "int64"), cast(x, "string"),
                cast(missing, "string"), cast(n, "bool"),
                ops.if_(missing, n, ops.cast(x, dtype="int64")))

    out = pipeline(f32(NAN, -2.7, 16777216.0), i64(3, 0, -1))
    same(out[0], [True, False, False])
    same(out[1], np.float32([3.0, -2.7, 16777216.0]))
    same(out[2], [0, -2, 16777216])
    assert texts(out[3]) == ["nan", "-2.7", "16777216"]
    assert texts(out[4]) == ["true", "false", "false"]
    same(out[5], [True, False, True])
    same(out[6], [3, -2, 16777216])
    assert all(v.shape == (0,) for v in pipeline(f32(), i64()))


# ---- type rules ---------------------------------------------------------------------------


def test_cast_type_rule():
    for source in t.DTYPES:
        for target in t.DTYPES:
            if source == "string" and target != "string":
                continue
            for shape in (t.CONST, t.SCALAR, t.fixed(2), t.VARIABLE, t.Shape("sparse", (5,))):
                assert infer("cast", {"dtype": target}, x=t.Type(source, shape)) == (
                    t.Type(target, shape))
    assert error_of("cast", {"dtype": "int64"}, x=S) == (
        "cast cannot turn a string into int64: use to_number(x, int64, default)")
    assert error_of("cast", {"dtype": "float32"}, x=S) == (
        "cast cannot turn a string into float32: use to_number(x, float32, default)")
    assert error_of("cast", {"dtype": "bool"}, x=S) == (
        'cast cannot turn a string into bool: compare it instead (x == "true")')
    assert error_of("cast", {"dtype": "int32"}, x=I) == (
        "cast: dtype must be one of int64, float32, string, bool, got 'int32'")


def test_fill_nan_and_is_nan_type_rules():
    assert infer("fill_nan", x=F, value=t.Type("int64", t.CONST)) == F
    assert infer("fill_nan", x=I, value=t.Type("int64", t.CONST)) == I
    assert infer("fill_nan", x=I, value=t.Type("float32", t.CONST)) == F
    assert infer("fill_nan", x=t.Type("float32", t.fixed(3)), value=F) == t.Type("float32",
                                                                                  t.fixed(3))
    assert infer("fill_nan", x=t.Type("float32", t.VARIABLE), value=F) == t.Type("float32",
                                                                                  t.VARIABLE)
    assert error_of("fill_nan", x=S, value=F) == "fill_nan expects a number, got string (carrier)"
    assert error_of("fill_nan", x=F, value=B) == "fill_nan expects a number, got bool (fallback)"
    var = t.Type("float32", t.VARIABLE)
    assert error_of("fill_nan", x=var, value=var) == (
        "fill_nan: cannot combine two variable-length values elementwise: their lengths may "
        "differ")
    assert infer("is_nan", x=t.Type("int64", t.fixed(2))) == t.Type("bool", t.fixed(2))
    assert error_of("is_nan", x=S) == "is_nan expects a number, got string (carrier)"
    assert error_of("is_nan", x=B) == "is_nan expects a number, got bool (carrier)"


def test_if_type_rule():
    assert infer("if", cond=B, a=I, b=t.Type("int64", t.CONST)) == I
    assert infer("if", cond=B, a=I, b=F) == F
    assert infer("if", cond=t.Type("bool", t.CONST), a=S, b=S) == S
    assert infer("if", cond=B, a=t.Type("int64", t.fixed(3)), b=I) == t.Type("int64", t.fixed(3))
    assert infer("if", cond=t.Type("bool", t.VARIABLE), a=I, b=t.Type("int64", t.CONST)) == (
        t.Type("int64", t.VARIABLE))
    assert error_of("if", cond=I, a=I, b=I) == "if expects a bool condition, got int64 (late)"
    assert error_of("if", cond=B, a=S, b=I) == (
        "if: both branches must have the same type, got string (delay) and int64 (distance)")
    assert error_of("if", cond=B, a=B, b=I) == (
        "if: both branches must have the same type, got bool (delay) and int64 (distance)")
    var = t.Type("int64", t.VARIABLE)
    assert error_of("if", cond=t.Type("bool", t.VARIABLE), a=var, b=I) == (
        "if: cannot combine two variable-length values elementwise: their lengths may differ")
    assert error_of("if", cond=B, a=t.Type("int64", t.Shape("sparse", (4,))), b=I) == (
        "if: a sparse vector sparse[4] combines only with constants")


def test_every_function_is_documented():
    for name, python_name in (("cast", "cast"), ("fill_nan", "fill_nan"), ("is_nan", "is_nan"),
                              ("if", "if_")):
        assert REG[name].doc, name
        assert getattr(ops, python_name) is REG[name].fn
