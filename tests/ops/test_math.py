"""Math functions: expected values come from numpy (float64 references rounded to float32 for
the transcendental functions, numpy's own float32 rounding functions) or are written by hand,
for every runtime form, eagerly and in graph mode, and the type rules with their messages."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import example, given, strategies as st

import skewless.ops as ops
from skewless import types as t
from skewless.ops.registry import ArgError, Args, all_ops
from tensors import f32, FLOATS, i64, I64_MAX, I64_MIN, INF, NAN, ragged, same, TINY

REG = all_ops()
F_SCALAR, I_SCALAR = t.Type("float32", t.SCALAR), t.Type("int64", t.SCALAR)






def close(result, expected):
    np.testing.assert_allclose(np.asarray(result), np.asarray(expected, np.float32), rtol=1e-6,
                               atol=TINY)


def reference(fn, x):
    """``fn`` computed in float64 and rounded to float32 (TensorFlow's results are within an
    ulp or two of it), with subnormal results flushed to zero as TensorFlow does."""
    with np.errstate(all="ignore"):
        result = fn(np.asarray(x, np.float32).astype(np.float64)).astype(np.float32)
    return np.where(np.abs(result) < TINY, np.copysign(np.float32(0), result), result)


def infer(name, consts=None, **types):
    return REG[name].infer(Args(op=name, types=types, consts=consts or {},
                                sources={n: "carrier" for n in types}))


def error_of(name, consts=None, **types) -> str:
    with pytest.raises(ArgError) as info:
        infer(name, consts, **types)
    return str(info.value)


# ---- functions of one number ------------------------------------------------------------------

TRANSCENDENTAL = [("sqrt", np.sqrt), ("exp", np.exp), ("log", np.log), ("log1p", np.log1p),
                  ("sin", np.sin), ("cos", np.cos)]
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-7, -2.0, 88.0, 89.0, -104.0, 1e30, -1e30,
           NAN, INF, -INF]


@pytest.mark.parametrize("name,fn", TRANSCENDENTAL)
def test_transcendental_functions_match_numpy_on_special_values(name, fn):
    result = getattr(ops, name)(f32(*SPECIAL))
    assert result.dtype == tf.float32
    close(result, reference(fn, SPECIAL))


def test_transcendental_edges_by_hand():
    same(ops.sqrt(f32(4.0, -1.0, -0.0, INF)), [2.0, NAN, -0.0, INF])
    same(ops.log(f32(0.0, -1.0, 1.0, INF)), [-INF, NAN, 0.0, INF])
    same(ops.log1p(f32(-1.0, -2.0, 0.0, -0.0)), [-INF, NAN, 0.0, -0.0])
    same(ops.exp(f32(0.0, -INF, 100.0, NAN)), [1.0, 0.0, INF, NAN])
    same(ops.sin(f32(INF, 0.0)), [NAN, 0.0])
    same(ops.cos(f32(-INF, 0.0)), [NAN, 1.0])


@pytest.mark.parametrize("name,fn", TRANSCENDENTAL)
@given(values=st.lists(FLOATS, min_size=1, max_size=8))
def test_transcendental_functions_match_numpy(name, fn, values):
    if name in ("sin", "cos"):  # keep the argument reduction within float32's reach
        values = [v if abs(v) <= 1e5 else NAN for v in values]
    close(getattr(ops, name)(f32(*values)), reference(fn, values))


@pytest.mark.parametrize("name,fn", TRANSCENDENTAL)
def test_integers_widen_to_float32(name, fn):
    values = [0, 1, 4, -3, 2**40]
    result = getattr(ops, name)(i64(*values))
    assert result.dtype == tf.float32
    close(result, reference(fn, np.float32(values)))


HALVES = [-3.5, -2.5, -1.5, -0.5, -0.0, 0.5, 1.5, 2.5, 3.5, -2.7, 2.2, 1e20, NAN, INF, -INF]


@pytest.mark.parametrize("name,fn", [("floor", np.floor), ("ceil", np.ceil), ("round", np.round)])
def test_rounding_matches_numpy_and_keeps_the_dtype(name, fn):
    result = REG[name].fn(f32(*HALVES))
    assert result.dtype == tf.float32
    same(result, fn(np.float32(HALVES)))
    big = [I64_MAX, I64_MIN, 2**53 + 1, -7, 0]  # integers pass through, exactly
    result = REG[name].fn(i64(*big))
    assert result.dtype == tf.int64
    same(result, big)


def test_round_halves_to_even_by_hand():
    same(ops.round_(f32(0.5, 1.5, 2.5, -2.5, 2.5000002)), [0.0, 2.0, 2.0, -2.0, 3.0])


@given(st.lists(FLOATS, min_size=1, max_size=8))
def test_rounding_matches_numpy(values):
    x = np.float32(values)
    same(ops.floor(tf.constant(x)), np.floor(x))
    same(ops.ceil(tf.constant(x)), np.ceil(x))
    same(ops.round_(tf.constant(x)), np.round(x))


@pytest.mark.parametrize("size", [1, 8, 17])
def test_sign_of_subnormals_is_0_at_any_batch_size(size):
    # tf.math.sign returns a subnormal x itself in SIMD packets and 0 in a tensor's tail
    same(ops.sign(f32(*[1e-40] * size)), [0.0] * size)
    same(ops.sign(f32(*[-1e-45, 2.5, NAN] * size)), [0.0, 1.0, NAN] * size)


def test_abs_and_sign():
    x = [-2.5, -0.0, 0.0, 3.0, NAN, -INF]
    same(ops.abs_(f32(*x)), np.abs(np.float32(x)))
    same(ops.sign(f32(*x)), [-1.0, 0.0, 0.0, 1.0, NAN, -1.0])  # NaN stays NaN
    ints = [-7, 0, 5, I64_MAX, I64_MIN]
    with np.errstate(all="ignore"):
        same(ops.abs_(i64(*ints)), np.abs(np.int64(ints)))  # the minimum wraps, as in numpy
    same(ops.sign(i64(*ints)), np.sign(np.int64(ints)))
    assert ops.abs_(i64(-1)).dtype == tf.int64 and ops.sign(i64(-1)).dtype == tf.int64


# ---- functions of several numbers -----------------------------------------------------------


def test_pow_is_float32_like_numpy():
    x, p = [2.0, -8.0, 0.0, 0.0, -2.0, 4.0, NAN, 1.0], [10.0, 1 / 3, -1.0, 0.0, 3.0, 0.5, 0.0, NAN]
    expected = [1024.0, NAN, INF, 1.0, -8.0, 2.0, 1.0, 1.0]
    same(ops.pow_(f32(*x), f32(*p)), expected)
    with np.errstate(all="ignore"):
        same(np.power(np.float32(x), np.float32(p)), expected)
    result = ops.pow_(i64(2, 3, -2), i64(62, -1, 3))
    assert result.dtype == tf.float32
    close(result, [2.0**62, 1 / 3, -8.0])


def test_clip_limits_and_keeps_nan():
    x = [-5.0, 0.5, 7.0, NAN, INF, -INF]
    same(ops.clip(f32(*x), tf.constant(0.0), tf.constant(1.0)),
         np.clip(np.float32(x), 0.0, 1.0))
    same(ops.clip(f32(*x), tf.constant(0.0), tf.constant(1.0)), [0.0, 0.5, 1.0, NAN, 1.0, 0.0])
    # lo above hi gives hi (the bounds are applied as min(max(x, lo), hi))
    same(ops.clip(f32(3.0, -3.0), tf.constant(2.0), tf.constant(1.0)), [1.0, 1.0])
    ints = ops.clip(i64(-5, 3, 12, I64_MAX), i64(0), i64(10))
    assert ints.dtype == tf.int64
    same(ints, [0, 3, 10, 10])
    mixed = ops.clip(i64(-5, 3, 12), tf.constant(0.5), i64(10))
    assert mixed.dtype == tf.float32
    same(mixed, [0.5, 3.0, 10.0])


def test_minimum_maximum_like_numpy():
    a, b = [1.0, NAN, -0.5, INF, 3.0], [2.0, 1.0, NAN, 0.0, 3.0]
    same(ops.minimum(f32(*a), f32(*b)), np.minimum(np.float32(a), np.float32(b)))
    same(ops.maximum(f32(*a), f32(*b)), np.maximum(np.float32(a), np.float32(b)))
    same(ops.minimum(f32(*a), f32(*b)), [1.0, NAN, NAN, 0.0, 3.0])
    big = ops.maximum(i64(2**53 + 1, -3), i64(2**53, -4))
    assert big.dtype == tf.int64
    same(big, [2**53 + 1, -3])
    mixed = ops.minimum(i64(1, 5), f32(2.5, 2.5))
    assert mixed.dtype == tf.float32
    same(mixed, [1.0, 2.5])


@pytest.mark.parametrize("size", [1, 3, 8, 17, 33])
def test_signed_zero_ties_give_the_first_argument_at_any_batch_size(size):
    # tf.minimum/maximum pick a different zero in and out of SIMD packets: the result would
    # depend on where the value falls in the batch
    zeros, negative_zeros = f32(*[0.0] * size), f32(*[-0.0] * size)
    for fn in (ops.minimum, ops.maximum):
        same(fn(zeros, negative_zeros), [0.0] * size)
        same(fn(negative_zeros, zeros), [-0.0] * size)
    same(ops.clip(negative_zeros, zeros, tf.constant(1.0)), [-0.0] * size)
    same(ops.clip(zeros, tf.constant(-1.0), negative_zeros), [0.0] * size)


def _nans(*bits):
    return np.array(bits, np.uint32).view(np.float32)


@pytest.mark.parametrize("size", [1, 3, 8, 17, 33])
def test_two_nans_give_the_second_arguments_bits_at_any_batch_size(size):
    """When both are NaN, minimum and maximum give b's NaN (sign and payload); in clip a
    NaN bound wins over x and a NaN hi over a NaN lo (docs/language.md, Math)."""
    a_bits, b_bits, c_bits = 0x7FC00001, 0xFFC0BEEF, 0x7FA00002  # quiet, negative, signalling
    a, b, c = (tf.constant(np.repeat(_nans(bits), size)) for bits in (a_bits, b_bits, c_bits))
    for fn in (ops.minimum, ops.maximum):
        np.testing.assert_array_equal(fn(a, b).numpy().view(np.uint32), [b_bits] * size)
        np.testing.assert_array_equal(fn(b, a).numpy().view(np.uint32), [a_bits] * size)
    np.testing.assert_array_equal(ops.clip(a, b, c).numpy().view(np.uint32),
                                  [c_bits] * size)
    one = tf.constant(np.ones(size, np.float32))
    np.testing.assert_array_equal(ops.clip(a, b, one).numpy().view(np.uint32), [b_bits] * size)
    np.testing.assert_array_equal(ops.clip(a, -one, c).numpy().view(np.uint32),
                                  [c_bits] * size)


ZEROS = st.sampled_from([0.0, -0.0])


@given(st.lists(st.tuples(FLOATS | ZEROS, FLOATS | ZEROS), min_size=1, max_size=20))
def test_minimum_maximum_match_numpy_and_are_batch_invariant(pairs):
    a, b = np.float32([p[0] for p in pairs]), np.float32([p[1] for p in pairs])
    for fn, np_fn in ((ops.minimum, np.minimum), (ops.maximum, np.maximum)):
        whole = fn(tf.constant(a), tf.constant(b))
        np.testing.assert_array_equal(whole, np_fn(a, b))  # up to the sign of zero
        same(whole, [fn(tf.constant(a[i:i + 1]), tf.constant(b[i:i + 1]))[0]
                     for i in range(len(pairs))])


def _picked(a, b, b_wins):
    """numpy's reference of the language's pick: b where ``b_wins`` (a comparison, False
    for NaN) or b is NaN, else a."""
    return np.where(b_wins | np.isnan(b), b, a)


def _clipped(x, lo, hi):
    low = _picked(x, lo, lo > x)
    return _picked(low, hi, hi < low)


LITERALS = FLOATS | ZEROS | st.sampled_from([INF, -INF])
INT_LITERALS = st.integers(I64_MIN, I64_MAX)


def _flushed(x):
    """Subnormal float32 values as a zero of their sign."""
    return np.where(np.abs(x) < TINY, np.copysign(np.float32(0), x), x)


@given(st.lists(st.floats(width=32) | ZEROS, min_size=1, max_size=40), LITERALS, LITERALS,
       st.sampled_from([ops.clip, ops.minimum, ops.maximum]))
@example([1e-45, -1e-45, 1e-40, -1e-38, 0.5], 0.0, 1.0, ops.clip)
@example([1e-45, -1e-45, 1e-40, -1e-38, 0.5], -1.0, 1.0, ops.maximum)
@example([1e-45, -1e-45, -0.0, NAN, 2.0], 0.0, 1.0, ops.minimum)
@example([0.0, -3.0, NAN], 0.0, NAN, ops.clip)
@example([0.0, -3.0, NAN], NAN, 1.0, ops.maximum)
def test_literal_bounds_pick_as_the_language_says_at_any_batch_size(values, lo, hi, fn):
    """With literal bounds (one op, TensorFlow's ClipByValue) clip, minimum and maximum keep
    the language's picks: x on a tie of 0.0 and -0.0, NaN stays NaN, lo above hi gives hi;
    a subnormal x is taken as a zero of its sign (docs/language.md); the same bits for each
    value alone, in the whole batch and in its tail."""
    x = np.float32(values)
    lo32, hi32 = np.float32(lo), np.float32(hi)
    flat = _flushed(x)
    expected = {ops.clip: lambda v: _clipped(v, lo32, hi32),
                ops.minimum: lambda v: _picked(v, lo32, lo32 < v),
                ops.maximum: lambda v: _picked(v, lo32, lo32 > v)}[fn](flat)
    args = (lo, hi) if fn is ops.clip else (lo,)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def apply(batch):
        return fn(batch, *(tf.constant(arg, tf.float32) for arg in args))

    same(apply(tf.constant(x)), expected)
    same(apply(tf.constant(x[len(x) // 3:])), expected[len(x) // 3:])
    same([apply(tf.constant(x[i:i + 1]))[0] for i in range(len(x))], expected)


@given(st.lists(INT_LITERALS, min_size=1, max_size=20), INT_LITERALS, INT_LITERALS)
def test_literal_int64_bounds_clip_as_numpy(values, lo, hi):
    x = np.int64(values)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
    def apply(batch):
        return (ops.clip(batch, tf.constant(lo, tf.int64), tf.constant(hi, tf.int64)),
                ops.minimum(batch, tf.constant(lo, tf.int64)),
                ops.maximum(batch, tf.constant(hi, tf.int64)))

    clipped, smaller, larger = apply(tf.constant(x))
    same(clipped, np.minimum(np.maximum(x, lo), hi))
    same(smaller, np.minimum(x, lo))
    same(larger, np.maximum(x, hi))


def test_literal_bounds_are_one_op_mixed_bounds_widen_first():
    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
    def apply(batch):
        return ops.clip(batch, tf.constant(0, tf.int64), tf.constant(2.5))

    graph = apply.get_concrete_function().graph
    assert [op.type for op in graph.get_operations()].count("ClipByValue") == 1
    assert not {"Greater", "Less", "SelectV2"} & {op.type for op in graph.get_operations()}
    # 16777217 rounds to 16777216.0 in float32; as the pair-by-pair picks give it
    same(apply(i64(-3, 1, 7, 16777217)), np.float32([0.0, 1.0, 2.5, 2.5]))
    same(ops.clip(i64(-3, 16777217), tf.constant(0, tf.int64), tf.constant(1e10)),
         np.float32([0.0, 16777216.0]))


def test_safe_div_uses_default_only_where_the_divisor_is_zero():
    a, b = f32(1.0, -3.0, 0.0, 5.0, 1.0, NAN), f32(0.0, -0.0, 0.0, 2.0, NAN, 4.0)
    same(ops.safe_div(a, b), [0.0, 0.0, 0.0, 2.5, NAN, NAN])
    same(ops.safe_div(a, b, default=-1.5), [-1.5, -1.5, -1.5, 2.5, NAN, NAN])
    result = ops.safe_div(i64(7, 7, -7), i64(2, 0, 2), default=9)
    assert result.dtype == tf.float32
    same(result, [3.5, 9.0, -3.5])
    # TensorFlow flushes subnormal numbers to zero on CPU: a subnormal divisor counts as 0
    same(ops.safe_div(f32(1.0), f32(1e-45)), [0.0])


@given(st.lists(st.tuples(FLOATS, FLOATS | st.just(0.0)), min_size=1, max_size=8))
def test_safe_div_matches_numpy(pairs):
    a, b = np.float32([p[0] for p in pairs]), np.float32([p[1] for p in pairs])
    with np.errstate(all="ignore"):
        quotient = np.divide(a, b)
    quotient = np.where(np.abs(quotient) < TINY, np.copysign(np.float32(0), quotient), quotient)
    same(ops.safe_div(tf.constant(a), tf.constant(b), default=-7), np.where(b == 0, -7, quotient))


# ---- runtime forms ------------------------------------------------------------------------


def test_fixed_values_broadcast_per_example_scalars():
    fixed = np.float32([[1.0, -2.0, 9.0], [4.0, NAN, 0.25]])
    per_example = np.float32([0.5, 3.0])
    same(ops.minimum(tf.constant(fixed), tf.constant(per_example)),
         np.minimum(fixed, per_example[:, None]))
    same(ops.clip(tf.constant(fixed), tf.constant(per_example), tf.constant(5.0)),
         np.minimum(np.maximum(fixed, per_example[:, None]), 5.0))
    close(ops.pow_(tf.constant(per_example), tf.constant(fixed)),
          reference(lambda v: np.power(per_example[:, None].astype(np.float64), v), fixed))
    same(ops.floor(tf.constant(fixed)), np.floor(fixed))
    cube = np.float32(np.arange(12).reshape(2, 2, 3) - 5.5)
    same(ops.maximum(tf.constant(cube), tf.constant(per_example)),
         np.maximum(cube, per_example[:, None, None]))


def test_ragged_values_with_per_example_scalars_and_constants():
    rows = [[1.0, -2.0, 9.0], [], [4.0]]
    x = ragged(rows, tf.float32)
    lo = f32(0.0, 100.0, 5.0)
    result = ops.clip(x, lo, tf.constant(8.0))
    assert isinstance(result, tf.RaggedTensor)
    assert result.to_list() == [[1.0, 0.0, 8.0], [], [5.0]]
    assert ops.sqrt(x).to_list()[1:] == [[], [2.0]]
    assert ops.safe_div(x, f32(2.0, 1.0, 0.0), default=-1).to_list() == [[0.5, -1.0, 4.5], [],
                                                                         [-1.0]]
    assert ops.maximum(ragged([[3, -1], []], tf.int64), i64(0)).to_list() == [[3, 0], []]
    assert ops.round_(ragged([[0.5, 1.5], []], tf.float32)).to_list() == [[0.0, 2.0], []]


def test_sparse_values_with_constants_change_the_stored_values():
    x = tf.SparseTensor([[0, 1], [0, 3], [2, 0]], f32(-4.0, 2.5, 9.0), [3, 5])
    result = ops.clip(x, tf.constant(0.0), tf.constant(5.0))
    assert isinstance(result, tf.SparseTensor)
    same(result.indices, x.indices)
    same(result.values, [0.0, 2.5, 5.0])
    same(ops.abs_(x).values, [4.0, 2.5, 9.0])
    same(ops.pow_(x, tf.constant(2)).values, [16.0, 6.25, 81.0])
    same(ops.safe_div(x, tf.constant(0.0), default=1).values, [1.0, 1.0, 1.0])


def test_constants_stay_rank_0():
    for value in (ops.sqrt(tf.constant(4.0)), ops.floor(tf.constant(2.5)),
                  ops.clip(tf.constant(9), tf.constant(0), tf.constant(3)),
                  ops.safe_div(tf.constant(1), tf.constant(0), default=2)):
        assert value.shape == ()
    same(ops.sqrt(tf.constant(4.0)), 2.0)
    same(ops.clip(tf.constant(9), tf.constant(0), tf.constant(3)), 3)


def test_math_in_graph_mode():
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32),
                                  tf.TensorSpec([None], tf.int64)])
    def pipeline(x, n):
        return (ops.log1p(ops.abs_(x)), ops.round_(x), ops.sign(n), ops.floor(n),
                ops.clip(x, tf.constant(-1), n), ops.safe_div(x, n, default=-1),
                ops.pow_(n, tf.constant(2)), ops.maximum(x, n), ops.sqrt(n))

    x, n = [-1.5, 2.5, NAN], [3, 0, -2]
    out = pipeline(f32(*x), i64(*n))
    close(out[0], reference(np.log1p, np.abs(x)))
    same(out[1], [-2.0, 2.0, NAN])
    same(out[2], [1, 0, -1])
    assert out[3].dtype == tf.int64
    same(out[4], [-1.0, 0.0, NAN])
    same(out[5], [-0.5, -1.0, NAN])
    same(out[6], [9.0, 0.0, 4.0])
    same(out[7], [3.0, 2.5, NAN])
    same(out[8], [np.sqrt(np.float32(3)), 0.0, NAN])
    assert all(v.shape == (0,) for v in pipeline(f32(), i64()))


# ---- type rules ---------------------------------------------------------------------------

FLOAT_RESULT = ["sqrt", "exp", "log", "log1p", "sin", "cos"]
SAME_RESULT = ["floor", "ceil", "round", "abs", "sign"]


@pytest.mark.parametrize("name", FLOAT_RESULT + SAME_RESULT)
def test_unary_type_rules(name):
    dtype = "float32" if name in FLOAT_RESULT else "int64"
    for shape in (t.CONST, t.SCALAR, t.fixed(2, 3), t.VARIABLE, t.Shape("sparse", (10,))):
        assert infer(name, x=t.Type("int64", shape)) == t.Type(dtype, shape)
    assert infer(name, x=F_SCALAR) == F_SCALAR
    assert error_of(name, x=t.Type("string", t.SCALAR)) == (
        f"{name} expects a number, got string (carrier)")
    assert error_of(name, x=t.Type("bool", t.VARIABLE)) == (
        f"{name} expects a number, got bool (carrier)")


def test_log1p_message_names_the_input():
    args = Args(op="log1p", types={"x": t.Type("string", t.SCALAR)}, consts={},
                sources={"x": "carrier"})
    with pytest.raises(ArgError, match=r"^log1p expects a number, got string \(carrier\)$") as info:
        REG["log1p"].infer(args)
    assert info.value.param == "x"


def test_pow_clip_minimum_maximum_type_rules():
    var_i, fixed_f = t.Type("int64", t.VARIABLE), t.Type("float32", t.fixed(3))
    assert infer("pow", x=I_SCALAR, p=t.Type("int64", t.CONST)) == F_SCALAR
    assert infer("pow", x=var_i, p=I_SCALAR) == t.Type("float32", t.VARIABLE)
    assert infer("clip", x=var_i, lo=I_SCALAR, hi=t.Type("int64", t.CONST)) == var_i
    assert infer("clip", x=var_i, lo=t.Type("float32", t.CONST),
                 hi=t.Type("int64", t.CONST)) == t.Type("float32", t.VARIABLE)
    assert infer("minimum", a=I_SCALAR, b=I_SCALAR) == I_SCALAR
    assert infer("maximum", a=fixed_f, b=I_SCALAR) == fixed_f
    sparse = t.Type("float32", t.Shape("sparse", (8,)))
    assert infer("clip", x=sparse, lo=t.Type("int64", t.CONST),
                 hi=t.Type("float32", t.CONST)) == sparse
    assert error_of("pow", x=F_SCALAR, p=t.Type("string", t.CONST)) == (
        "pow expects a number, got string (carrier)")
    assert error_of("clip", x=F_SCALAR, lo=t.Type("bool", t.CONST), hi=F_SCALAR) == (
        "clip expects a number, got bool (carrier)")
    assert error_of("minimum", a=var_i, b=var_i) == (
        "minimum: cannot combine two variable-length values elementwise: their lengths may "
        "differ")
    assert error_of("maximum", a=fixed_f, b=t.Type("float32", t.fixed(4))) == (
        "maximum: cannot combine a fixed-shape value [3] with a fixed-shape value [4]")
    assert error_of("clip", x=sparse, lo=F_SCALAR, hi=t.Type("float32", t.CONST)) == (
        "clip: a sparse vector sparse[8] combines only with constants")


def test_safe_div_type_rule():
    assert infer("safe_div", {"default": 0}, a=I_SCALAR, b=I_SCALAR) == F_SCALAR
    var = t.Type("int64", t.VARIABLE)
    assert infer("safe_div", {"default": -1.5}, a=var, b=I_SCALAR) == t.Type("float32", t.VARIABLE)
    assert error_of("safe_div", {"default": "x"}, a=I_SCALAR, b=I_SCALAR) == (
        "safe_div: default must be a number, got 'x'")
    assert error_of("safe_div", {"default": True}, a=I_SCALAR, b=I_SCALAR) == (
        "safe_div: default must be a number, got True")
    assert error_of("safe_div", {"default": 0}, a=t.Type("string", t.SCALAR), b=I_SCALAR) == (
        "safe_div expects a number, got string (carrier)")
    assert REG["safe_div"].const_params[0].default == 0


def test_every_function_is_documented_and_exported():
    for name in FLOAT_RESULT + SAME_RESULT + ["pow", "clip", "minimum", "maximum", "safe_div"]:
        assert REG[name].doc, name
        python_name = name + "_" if name in ("round", "abs", "pow") else name
        assert getattr(ops, python_name) is REG[name].fn, name
    assert not hasattr(ops, "round")  # would shadow the builtin in generated modules
