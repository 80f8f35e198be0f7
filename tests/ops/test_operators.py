"""Operators: arithmetic, comparisons, logic and ``in``. Expected values come from numpy's
int64/float32 arithmetic (bit for bit, with numpy's floor division rule and the language's
zero-divisor rule) or are written by hand, for every runtime form, eagerly and in graph mode,
and the type rules with their messages."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, strategies as st

import skewless.ops as ops
from skewless import types as t
from skewless.ops.registry import ArgError, Args, all_ops
from tensors import f32, FLOATS, i64, I64_MAX, I64_MIN, INF, NAN, ragged, same, TINY

REG = all_ops()
F, I, S, B = (t.Type(d, t.SCALAR) for d in ("float32", "int64", "string", "bool"))
VAR_I = t.Type("int64", t.VARIABLE)
SPARSE_F = t.Type("float32", t.Shape("sparse", (10,)))

INTS = st.integers(I64_MIN, I64_MAX) | st.sampled_from([0, 1, -1, 2, -2, 7, -7, I64_MIN, I64_MAX])
SMALL_INTS = st.integers(-20, 20)

ARITHMETIC = {"+": (ops.add, np.add), "-": (ops.subtract, np.subtract),
              "*": (ops.multiply, np.multiply)}






def flushed(values):
    values = np.asarray(values, np.float32)
    return np.where(np.abs(values) < TINY, np.copysign(np.float32(0), values), values)


def same_bits(result, expected):
    """Bit-identical float32 values (any NaN matches any NaN)."""
    result, expected = np.asarray(result), flushed(expected)
    assert result.dtype == np.float32
    nan = np.isnan(expected)
    same(np.isnan(result), nan)
    same(result.view(np.uint32)[~nan], expected.view(np.uint32)[~nan])


def numpy_int(fn, a, b):
    with np.errstate(all="ignore"):
        return fn(np.int64(a), np.int64(b))


def numpy_float(fn, a, b):
    """numpy's float32 result, flushed to zero where the exact result is below the smallest
    normal number: x86 detects that before rounding, so a result that rounds up to it is
    flushed as well."""
    a, b = np.float32(a), np.float32(b)
    with np.errstate(all="ignore"):
        result, exact = fn(a, b), fn(a.astype(np.float64), b.astype(np.float64))
    return np.where(np.abs(exact) < TINY, np.copysign(np.float32(0), result), result)


def infer(name, consts=None, **types):
    return REG[name].infer(Args(op=name, types=types, consts=consts or {},
                                sources={"a": "carrier", "b": "distance", "x": "carrier"}))


def error_of(name, consts=None, **types) -> str:
    with pytest.raises(ArgError) as info:
        infer(name, consts, **types)
    return str(info.value)


# ---- arithmetic against numpy ----------------------------------------------------------------

PAIRS_F = st.lists(st.tuples(FLOATS, FLOATS), min_size=1, max_size=8)
PAIRS_I = st.lists(st.tuples(INTS, INTS | st.just(0)), min_size=1, max_size=8)


def split(pairs):
    return [p[0] for p in pairs], [p[1] for p in pairs]


@given(PAIRS_F)
def test_float_arithmetic_is_numpy_float32_bit_for_bit(pairs):
    a, b = split(pairs)
    for fn, np_fn in ARITHMETIC.values():
        same_bits(fn(f32(*a), f32(*b)), numpy_float(np_fn, a, b))
    same_bits(ops.divide(f32(*a), f32(*b)), numpy_float(np.divide, a, b))
    same_bits(ops.negate(f32(*a)), np.negative(np.float32(a)))


@given(PAIRS_I)
def test_int_arithmetic_wraps_like_numpy(pairs):
    a, b = split(pairs)
    for fn, np_fn in ARITHMETIC.values():
        result = fn(i64(*a), i64(*b))
        assert result.dtype == tf.int64
        same(result, numpy_int(np_fn, a, b))
    same(ops.negate(i64(*a)), numpy_int(lambda x, _: np.negative(x), a, a))


@given(st.lists(st.tuples(INTS, FLOATS), min_size=1, max_size=8))
def test_int64_with_float32_widens_to_float32(pairs):
    a, b = split(pairs)
    wide = np.int64(a).astype(np.float32)  # round to nearest, as the language widens
    for fn, np_fn in ARITHMETIC.values():
        same_bits(fn(i64(*a), f32(*b)), numpy_float(np_fn, wide, b))
        same_bits(fn(f32(*b), i64(*a)), numpy_float(np_fn, b, wide))
    same_bits(ops.divide(i64(*a), f32(*b)), numpy_float(np.divide, wide, b))
    same_bits(ops.floordiv(i64(*a), f32(*b)), np.floor(numpy_float(np.divide, wide, b)))


def floor_rule(fn, a, b):
    """numpy's integer floor division/modulo, with 0 where the divisor is 0."""
    b = np.int64(b)
    return np.where(b == 0, 0, numpy_int(fn, a, np.where(b == 0, 1, b)))


@given(PAIRS_I)
def test_int_floordiv_and_floormod_match_numpy(pairs):
    a, b = split(pairs)
    quotient, remainder = ops.floordiv(i64(*a), i64(*b)), ops.floormod(i64(*a), i64(*b))
    assert quotient.dtype == remainder.dtype == tf.int64
    same(quotient, floor_rule(np.floor_divide, a, b))
    same(remainder, floor_rule(np.mod, a, b))
    # numpy's own zero-divisor result is 0 as well
    same(quotient, numpy_int(np.floor_divide, a, b))
    same(remainder, numpy_int(np.mod, a, b))


@given(st.lists(st.tuples(SMALL_INTS, SMALL_INTS), min_size=1, max_size=8))
def test_small_int_floordiv_and_floormod_are_pythons(pairs):
    a, b = split(pairs)
    same(ops.floordiv(i64(*a), i64(*b)), [x // y if y else 0 for x, y in pairs])
    same(ops.floormod(i64(*a), i64(*b)), [x % y if y else 0 for x, y in pairs])


@given(PAIRS_F)
def test_float_floordiv_is_floor_of_the_quotient_and_floormod_is_numpys(pairs):
    a, b = split(pairs)
    same_bits(ops.floordiv(f32(*a), f32(*b)), np.floor(numpy_float(np.divide, a, b)))
    # numpy's mod up to the sign of a zero result (TensorFlow keeps fmod's, numpy b's)
    np.testing.assert_array_equal(ops.floormod(f32(*a), f32(*b)),
                                  flushed(numpy_float(np.mod, a, b)))


def test_division_edges_by_hand():
    same(ops.floordiv(i64(7, -7, 7, -7, 5, -5, 0, I64_MIN), i64(2, 2, -2, -2, 0, 0, 0, -1)),
         [3, -4, -4, 3, 0, 0, 0, I64_MIN])
    same(ops.floormod(i64(7, -7, 7, -7, 5, -5, 0, I64_MIN), i64(2, 2, -2, -2, 0, 0, 0, -1)),
         [1, 1, -1, -1, 0, 0, 0, 0])
    same(ops.divide(f32(1.0, -1.0, 0.0, NAN), f32(0.0, 0.0, 0.0, 1.0)), [INF, -INF, NAN, NAN])
    same(ops.divide(i64(7, 1, -1, 0), i64(2, 0, 0, 0)), [3.5, INF, -INF, NAN])
    assert ops.divide(i64(7), i64(2)).dtype == tf.float32
    same(ops.floordiv(f32(-7.5, 7.5, 1.0, -1.0, 0.0), f32(2.0, -2.0, 0.0, 0.0, 0.0)),
         [-4.0, -4.0, INF, -INF, NAN])
    same(ops.floormod(f32(-7.5, 7.5, 1.0, -1.0, INF), f32(2.0, -2.0, 0.0, INF, 2.0)),
         [0.5, -0.5, NAN, INF, NAN])


def test_float_floordiv_floors_the_rounded_quotient():
    # tf.math.floordiv floors the float32 quotient (1 / 0.1 rounds to 10): numpy and Python
    # give 9 here. The remainder is fmod's, so a // b * b + a % b is not a here.
    same(ops.floordiv(f32(1.0), f32(0.1)), [10.0])
    same(ops.floormod(f32(1.0), f32(0.1)), np.mod(np.float32([1.0]), np.float32(0.1)))


def test_widening_rounds_large_integers_to_float32():
    same(ops.add(i64(2**24 + 1, 2**24 + 3), f32(0.0, 0.0)), [2.0**24, 2.0**24 + 4])
    same(ops.multiply(i64(3), f32(0.5)), [1.5])
    assert ops.subtract(f32(1.0), i64(1)).dtype == tf.float32
    assert ops.add(i64(1), i64(1)).dtype == tf.int64


# ---- comparisons ----------------------------------------------------------------------------

COMPARISONS = {"==": (ops.equal, np.equal), "!=": (ops.not_equal, np.not_equal),
               "<": (ops.less, np.less), "<=": (ops.less_equal, np.less_equal),
               ">": (ops.greater, np.greater), ">=": (ops.greater_equal, np.greater_equal)}


@given(PAIRS_F, PAIRS_I)
def test_comparisons_match_numpy(floats, ints):
    a, b = split(floats)
    m, n = split(ints)
    for fn, np_fn in COMPARISONS.values():
        result = fn(f32(*a), f32(*b))
        assert result.dtype == tf.bool
        same(result, np_fn(np.float32(a), np.float32(b)))
        same(fn(i64(*m), i64(*n)), np_fn(np.int64(m), np.int64(n)))
        k = min(len(a), len(m))  # int64 against float32 compares in float32
        same(fn(i64(*m[:k]), f32(*a[:k])), np_fn(np.int64(m[:k]).astype(np.float32), a[:k]))


def test_comparison_edges_by_hand():
    same(ops.equal(f32(NAN, 0.0), f32(NAN, -0.0)), [False, True])
    same(ops.not_equal(f32(NAN), f32(NAN)), [True])
    same(ops.less(f32(NAN, -INF), f32(1.0, INF)), [False, True])
    same(ops.equal(i64(2**24 + 1), f32(2.0**24)), [True])  # widened to float32 first
    same(ops.equal(tf.constant(["a", "b", ""]), tf.constant(["a", "B", ""])), [True, False, True])
    same(ops.not_equal(tf.constant([True, False]), tf.constant(True)), [False, True])


# ---- logic ----------------------------------------------------------------------------------


def test_logic_truth_tables():
    a = tf.constant([True, True, False, False])
    b = tf.constant([True, False, True, False])
    same(ops.logical_and(a, b), [True, False, False, False])
    same(ops.logical_or(a, b), [True, True, True, False])
    same(ops.logical_not(a), [False, False, True, True])
    same(ops.logical_and(a, tf.constant(True)), [True, True, False, False])
    same(ops.logical_or(tf.constant(False), tf.constant(False)), False)


# ---- in -------------------------------------------------------------------------------------


def test_in_by_dtype():
    same(ops.is_in(i64(1, 2, 3, -4), items=[3, -4, 9]), [False, False, True, True])
    # an integer against float items compares in float32: 1 == 1.0, 2 != 2.5
    same(ops.is_in(i64(1, 2, 3), items=[1.0, 2.5]), [True, False, False])
    same(ops.is_in(f32(1.0, 2.5, NAN, -0.0), items=[1, 2.5, NAN, 0]), [True, True, False, True])
    same(ops.is_in(tf.constant(["a", "B", ""]), items=["a", "b", ""]), [True, False, True])
    same(ops.is_in(tf.constant([True, False]), items=[False]), [False, True])
    same(ops.is_in(tf.constant(["a", "b"]), items=[]), [False, False])
    same(ops.is_in(i64(5), items=[5, 6]), True)


@given(st.lists(SMALL_INTS, min_size=1, max_size=8), st.lists(SMALL_INTS, max_size=5))
def test_in_is_python_membership(values, items):
    same(ops.is_in(i64(*values), items=items), [v in items for v in values])


def test_in_on_every_form():
    assert ops.is_in(ragged([[1, 2], [], [3]], tf.int64), items=[2, 3]).to_list() == [
        [False, True], [], [True]]
    same(ops.is_in(tf.constant([["a", "b"], ["c", "a"]]), items=["a"]),
         [[True, False], [False, True]])
    sparse = tf.SparseTensor([[0, 1], [1, 4]], i64(7, 8), [2, 5])
    result = ops.is_in(sparse, items=[8])
    assert isinstance(result, tf.SparseTensor)
    same(result.values, [False, True])


# ---- runtime forms ----------------------------------------------------------------------------


def test_fixed_values_broadcast_per_example_scalars():
    fixed = np.int64([[7, -7, 0], [5, 6, -1]])
    per_example = np.int64([2, -3])
    col = per_example[:, None]
    same(ops.floordiv(tf.constant(fixed), tf.constant(per_example)), np.floor_divide(fixed, col))
    same(ops.floormod(tf.constant(per_example), tf.constant(fixed)),
         floor_rule(np.mod, np.broadcast_to(col, fixed.shape), fixed))
    same(ops.subtract(tf.constant(fixed), tf.constant(per_example)), fixed - col)
    same(ops.less(tf.constant(fixed), tf.constant(per_example)), fixed < col)
    widened = ops.multiply(tf.constant(fixed), f32(0.5, 2.0))
    assert widened.dtype == tf.float32
    same(widened, fixed * np.float32([[0.5], [2.0]]))


def test_ragged_values_with_per_example_scalars_and_constants():
    x = ragged([[7, -7], [], [5]], tf.int64)
    result = ops.add(ops.multiply(x, i64(1, 2, 3)), tf.constant(1, tf.int64))
    assert isinstance(result, tf.RaggedTensor)
    assert result.to_list() == [[8, -6], [], [16]]
    assert ops.floordiv(x, tf.constant(2, tf.int64)).to_list() == [[3, -4], [], [2]]
    assert ops.floormod(x, i64(0, 1, 3)).to_list() == [[0, 0], [], [2]]
    assert ops.divide(x, tf.constant(2.0)).to_list() == [[3.5, -3.5], [], [2.5]]
    assert ops.greater_equal(x, i64(0, 0, 6)).to_list() == [[True, False], [], [False]]
    assert ops.negate(x).to_list() == [[-7, 7], [], [-5]]
    flags = ragged([[True, False], [], [True]], tf.bool)
    assert ops.logical_and(flags, tf.constant([True, True, False])).to_list() == [
        [True, False], [], [False]]


@given(st.lists(st.lists(st.integers(-100, 100), max_size=4), min_size=1, max_size=6)
       .flatmap(lambda rows: st.tuples(st.just(rows), st.lists(st.integers(-100, 100),
                                                              min_size=len(rows),
                                                              max_size=len(rows)))))
def test_ragged_values_meet_the_per_example_scalar_of_their_own_row(case):
    """Empty rows anywhere (first, last, all): each value is paired with its row's scalar."""
    rows, per_example = case
    result = ops.subtract(ragged(rows, tf.int64), i64(*per_example))
    assert result.to_list() == [[v - s for v in row] for row, s in zip(rows, per_example)]


def test_sparse_values_with_constants_change_the_stored_values():
    x = tf.SparseTensor([[0, 1], [0, 3], [2, 0]], i64(-7, 4, 9), [3, 5])
    for result, expected in ((ops.multiply(x, tf.constant(2, tf.int64)), [-14, 8, 18]),
                             (ops.floordiv(x, tf.constant(2, tf.int64)), [-4, 2, 4]),
                             (ops.floormod(x, tf.constant(0, tf.int64)), [0, 0, 0]),
                             (ops.divide(x, tf.constant(2, tf.int64)), [-3.5, 2.0, 4.5]),
                             (ops.greater(x, tf.constant(0.5)), [False, True, True]),
                             (ops.negate(x), [7, -4, -9])):
        assert isinstance(result, tf.SparseTensor)
        same(result.indices, x.indices)
        same(result.values, expected)


def test_constants_stay_rank_0():
    seven, zero = tf.constant(7, tf.int64), tf.constant(0, tf.int64)
    for value in (ops.add(seven, tf.constant(2.5)), ops.floordiv(seven, zero),
                  ops.equal(tf.constant("a"), tf.constant("a")), ops.logical_not(tf.constant(True)),
                  ops.is_in(seven, items=[7])):
        assert value.shape == ()
    same(ops.add(tf.constant(1, tf.int64), tf.constant(2.5)), 3.5)
    same(ops.floordiv(tf.constant(7, tf.int64), tf.constant(0, tf.int64)), 0)


def test_operators_in_graph_mode():
    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64),
                                  tf.TensorSpec([None], tf.int64),
                                  tf.TensorSpec([None], tf.float32)])
    def pipeline(a, b, x):
        return (ops.floordiv(a, b), ops.floormod(a, b), ops.divide(a, b), ops.add(a, x),
                ops.logical_or(ops.less(a, b), ops.logical_not(ops.equal(x, x))),
                ops.is_in(a, items=[7, 2.5]), ops.negate(x),
                ops.floordiv(x, tf.constant(0.0)))

    out = pipeline(i64(7, -7, 5), i64(-2, 2, 0), f32(0.5, NAN, -1.0))
    same(out[0], [-4, -4, 0])
    same(out[1], [-1, 1, 0])
    same(out[2], [-3.5, -3.5, INF])
    same(out[3], [7.5, NAN, 4.0])
    same(out[4], [False, True, False])
    same(out[5], [True, False, False])
    same(out[6], [-0.5, NAN, 1.0])
    same(out[7], [INF, NAN, -INF])
    assert all(v.shape == (0,) for v in pipeline(i64(), i64(), f32()))


# ---- type rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["+", "-", "*", "//", "%"])
def test_arithmetic_type_rules(name):
    assert infer(name, a=I, b=I) == I
    assert infer(name, a=I, b=F) == F
    assert infer(name, a=t.Type("float32", t.CONST), b=I) == F
    assert infer(name, a=VAR_I, b=I) == VAR_I
    assert infer(name, a=VAR_I, b=t.Type("float32", t.CONST)) == t.Type("float32", t.VARIABLE)
    assert infer(name, a=SPARSE_F, b=t.Type("int64", t.CONST)) == SPARSE_F
    assert infer(name, a=t.Type("int64", t.fixed(2, 3)), b=F) == t.Type("float32", t.fixed(2, 3))
    assert error_of(name, a=S, b=I) == f"{name} expects a number, got string (carrier)"
    assert error_of(name, a=I, b=B) == f"{name} expects a number, got bool (distance)"
    assert error_of(name, a=VAR_I, b=VAR_I) == (
        f"{name}: cannot combine two variable-length values elementwise: their lengths may differ")
    assert error_of(name, a=SPARSE_F, b=I) == (
        f"{name}: a sparse vector sparse[10] combines only with constants")
    assert error_of(name, a=t.Type("int64", t.fixed(3)), b=VAR_I) == (
        f"{name}: cannot combine a fixed-shape value [3] with a variable-length value")


def test_division_and_negation_type_rules():
    assert infer("/", a=I, b=I) == F
    assert infer("/", a=VAR_I, b=t.Type("int64", t.CONST)) == t.Type("float32", t.VARIABLE)
    assert error_of("/", a=I, b=S) == "/ expects a number, got string (distance)"
    assert infer("neg", x=VAR_I) == VAR_I
    assert infer("neg", x=F) == F
    assert error_of("neg", x=B) == "neg expects a number, got bool (carrier)"


@pytest.mark.parametrize("name", ["==", "!="])
def test_equality_type_rules(name):
    assert infer(name, a=I, b=F) == B
    assert infer(name, a=S, b=t.Type("string", t.CONST)) == B
    assert infer(name, a=B, b=B) == B
    assert infer(name, a=t.Type("string", t.VARIABLE), b=S) == t.Type("bool", t.VARIABLE)
    assert error_of(name, a=S, b=I) == "cannot compare string (carrier) with int64 (distance)"
    assert error_of(name, a=B, b=F) == "cannot compare bool (carrier) with float32 (distance)"
    assert error_of(name, a=VAR_I, b=VAR_I) == (
        f"{name}: cannot combine two variable-length values elementwise: their lengths may differ")


@pytest.mark.parametrize("name", ["<", "<=", ">", ">="])
def test_order_type_rules(name):
    assert infer(name, a=I, b=F) == B
    assert infer(name, a=t.Type("float32", t.fixed(4)), b=I) == t.Type("bool", t.fixed(4))
    assert error_of(name, a=S, b=S) == f"{name} expects a number, got string (carrier)"
    assert error_of(name, a=I, b=S) == f"{name} expects a number, got string (distance)"
    assert error_of(name, a=B, b=B) == f"{name} expects a number, got bool (carrier)"


def test_logic_type_rules():
    assert infer("and", a=B, b=t.Type("bool", t.CONST)) == B
    assert infer("or", a=t.Type("bool", t.VARIABLE), b=B) == t.Type("bool", t.VARIABLE)
    assert infer("not", x=t.Type("bool", t.fixed(2))) == t.Type("bool", t.fixed(2))
    assert error_of("and", a=I, b=B) == "and expects a bool, got int64 (carrier)"
    assert error_of("or", a=B, b=F) == "or expects a bool, got float32 (distance)"
    assert error_of("not", x=S) == "not expects a bool, got string (carrier)"
    assert error_of("and", a=t.Type("bool", t.VARIABLE), b=t.Type("bool", t.VARIABLE)) == (
        "and: cannot combine two variable-length values elementwise: their lengths may differ")


def test_in_type_rule():
    assert error_of("in", {"items": [1, 2.5]}, x=I) == (
        "'in' list item 2.5 does not match int64 (carrier); an int64 is compared with integers "
        "only")
    assert infer("in", {"items": [1, 2]}, x=I) == B
    assert infer("in", {"items": [1, 2]}, x=F) == B
    assert infer("in", {"items": ["a"]}, x=t.Type("string", t.VARIABLE)) == t.Type("bool",
                                                                                   t.VARIABLE)
    assert infer("in", {"items": [True]}, x=SPARSE_F.with_dtype("bool")) == SPARSE_F.with_dtype(
        "bool")
    assert infer("in", {"items": []}, x=S) == B
    assert error_of("in", {"items": [1, "a"]}, x=I) == (
        "'in' list item 'a' does not match int64 (carrier)")
    assert error_of("in", {"items": [True]}, x=I) == (
        "'in' list item True does not match int64 (carrier)")
    assert error_of("in", {"items": [1]}, x=S) == "'in' list item 1 does not match string (carrier)"
    assert error_of("in", {"items": [0]}, x=B) == "'in' list item 0 does not match bool (carrier)"


def test_every_operator_is_documented():
    for name in ["+", "-", "*", "/", "//", "%", "neg", "==", "!=", "<", "<=", ">", ">=", "and",
                 "or", "not", "in"]:
        assert REG[name].doc, name
        assert getattr(ops, REG[name].fn.__name__) is REG[name].fn
