"""pad, the reductions and dense: expected values are computed per example with numpy or
plain Python, for variable-length, fixed-shape and sparse inputs, eagerly and in graph mode."""
import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import example, given, strategies as st

import skewless.ops as ops
from skewless import types as t
from skewless.ops.registry import ArgError, Args, all_ops

REG = all_ops()
VAR_F = t.Type("float32", t.VARIABLE)
VAR_I = t.Type("int64", t.VARIABLE)
VAR_S = t.Type("string", t.VARIABLE)
RAGGED_I = tf.RaggedTensorSpec([None, None], tf.int64, row_splits_dtype=tf.int64)


def infer(name, x, **consts):
    defaults = {p.name: p.default for p in REG[name].const_params if not p.required}
    return REG[name].infer(Args(op=name, types={"x": x}, consts={**defaults, **consts},
                                sources={"x": "tags"}))


def error_of(name, x, **consts) -> str:
    with pytest.raises(ArgError) as info:
        infer(name, x, **consts)
    return str(info.value)


def ragged(rows, dtype=None):
    return tf.ragged.constant(rows, dtype, row_splits_dtype=tf.int64, ragged_rank=1)


def same(result, expected):
    np.testing.assert_array_equal(np.asarray(result), np.asarray(expected))


# ---- reductions against numpy ------------------------------------------------------------

# TensorFlow flushes subnormal float32 values to zero on CPU: they are left out.
FLOATS = st.floats(-1e6, 1e6, width=32, allow_subnormal=False)
ROWS = st.lists(st.lists(FLOATS, max_size=5), min_size=1, max_size=6)


def by_row(rows, fn, default):
    return np.array([fn(np.array(row, np.float64)) if row else default for row in rows])


def flushed(values: np.ndarray) -> np.ndarray:
    """float32 ``values`` with subnormal results flushed to zero, as TensorFlow's CPU
    kernels give them (a sum or mean of normal values can be subnormal)."""
    values = values.astype(np.float32)
    return np.where(np.abs(values) < np.finfo(np.float32).tiny, np.float32(0), values)


@given(ROWS)
@example(rows=[[0.0, 1.1754943508222875e-38]])  # the mean, 2**-127, is subnormal
def test_float_reductions_match_numpy(rows):
    x = ragged(rows, tf.float32)
    same(ops.count(x), [len(row) for row in rows])
    np.testing.assert_allclose(ops.sum_(x), flushed(by_row(rows, np.sum, 0)), rtol=1e-6)
    np.testing.assert_allclose(ops.mean(x, default=-1), flushed(by_row(rows, np.mean, -1)),
                               rtol=1e-6)
    same(ops.min_(x, default=7), by_row(rows, np.min, 7).astype(np.float32))
    same(ops.max_(x, default=7), by_row(rows, np.max, 7).astype(np.float32))
    same(ops.first(x, default=7), by_row(rows, lambda r: r[0], 7).astype(np.float32))


@given(st.lists(st.lists(st.integers(-(2**40), 2**40), max_size=5), min_size=1, max_size=6))
def test_int_reductions_match_python(rows):
    x = ragged(rows, tf.int64)
    same(ops.sum_(x), [sum(row) for row in rows])
    same(ops.min_(x, default=-5), [min(row) if row else -5 for row in rows])
    same(ops.max_(x), [max(row) if row else 0 for row in rows])
    same(ops.first(x), [row[0] if row else 0 for row in rows])
    np.testing.assert_allclose(ops.mean(x), [np.mean(row) if row else 0 for row in rows], rtol=1e-6)
    assert ops.sum_(x).dtype == tf.int64 and ops.mean(x).dtype == tf.float32


@given(ROWS)
def test_reductions_are_batch_invariant(rows):
    x = ragged(rows, tf.float32)
    for fn in (ops.count, ops.sum_, ops.mean, ops.min_, ops.max_, ops.first):
        whole = fn(x).numpy()
        alone = [fn(ragged([row], tf.float32)).numpy()[0] for row in rows]
        same(whole, alone)


@given(st.lists(st.lists(st.sampled_from([-np.inf, np.inf, np.nan, -2.5, 0.0, 3.0]),
                         max_size=4), min_size=1, max_size=6))
def test_min_and_max_of_infinite_and_nan_values_match_numpy(rows):
    """Rows of only -inf, only +inf, NaN among them, or empty, in any position."""
    x = ragged(rows, tf.float32)
    same(ops.min_(x, default=7), by_row(rows, np.min, 7).astype(np.float32))
    same(ops.max_(x, default=7), by_row(rows, np.max, 7).astype(np.float32))
    fixed = tf.constant([[-np.inf, -np.inf], [np.inf, np.inf], [np.inf, -np.inf]], tf.float32)
    same(ops.max_(fixed), [-np.inf, np.inf, np.inf])
    same(ops.min_(fixed), [-np.inf, np.inf, -np.inf])


@given(st.lists(st.lists(st.integers(-2**63, 2**63 - 1) | st.sampled_from(
    [-2**63, 2**63 - 1, -1, 0, 1]), max_size=5), min_size=1, max_size=6))
def test_mean_of_int64_values_is_the_exact_mean_rounded(rows):
    """No wrapping around: the exact sum (Python's int), rounded once to float64, divided by
    the count, rounded to float32."""
    result = ops.mean(ragged(rows, tf.int64), default=-1)
    expected = [np.float32(float(sum(row)) / len(row)) if row else np.float32(-1)
                for row in rows]
    assert np.asarray(result).tobytes() == np.array(expected, np.float32).tobytes()


def test_min_and_max_propagate_nan():
    x = ragged([[1.0, np.nan, -3.0], [np.nan], [2.0, 5.0], []], tf.float32)
    same(ops.min_(x), [np.nan, np.nan, 2.0, 0.0])
    same(ops.max_(x, default=-1), [np.nan, np.nan, 5.0, -1.0])
    same(ops.first(x), [1.0, np.nan, 2.0, 0.0])


def test_reductions_of_fixed_shape_values_use_every_element():
    x = tf.constant([[[1, 2], [3, 4]], [[5, -6], [7, 0]]], tf.int64)
    same(ops.count(x), [4, 4])
    same(ops.sum_(x), [10, 6])
    same(ops.min_(x), [1, -6])
    same(ops.max_(x), [4, 7])
    same(ops.first(x), [1, 5])
    same(ops.mean(x), [2.5, 1.5])


def test_reductions_of_sparse_vectors_use_stored_values():
    x = tf.SparseTensor([[0, 5], [0, 1], [2, 3]], tf.constant([4.0, 2.0, -1.0]), [3, 8])
    same(ops.count(x), [2, 0, 1])
    same(ops.sum_(x), [6.0, 0.0, -1.0])
    same(ops.mean(x, default=9), [3.0, 9.0, -1.0])
    same(ops.min_(x), [2.0, 0.0, -1.0])
    same(ops.first(x), [2.0, 0.0, -1.0])  # the value at the smallest index


def test_first_and_count_of_strings():
    x = ragged([["a", "b"], [], ["c"]])
    same(ops.first(x), [b"a", b"", b"c"])
    same(ops.first(x, default="?"), [b"a", b"?", b"c"])
    same(ops.count(x), [2, 0, 1])
    same(ops.first(ragged([[True], []], tf.bool)), [True, False])


def test_reductions_in_graph_mode():
    x = ragged([[3, 1], [], [2]], tf.int64)
    for fn, expected in ((ops.count, [2, 0, 1]), (ops.sum_, [4, 0, 2]), (ops.min_, [1, 0, 2]),
                         (ops.first, [3, 0, 2])):
        same(tf.function(fn, input_signature=[RAGGED_I])(x), expected)
    mean = tf.function(lambda v: ops.mean(v, default=-1), input_signature=[RAGGED_I])
    same(mean(x), [2.0, -1.0, 2.0])
    fixed = tf.function(ops.max_, input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    same(fixed(tf.constant([[1.0, 9.0, 2.0]])), [9.0])


def test_reduction_type_rules():
    assert infer("count", VAR_S) == t.Type("int64", t.SCALAR)
    assert infer("sum", t.Type("int64", t.fixed(3))) == t.Type("int64", t.SCALAR)
    assert infer("mean", VAR_I) == t.Type("float32", t.SCALAR)
    assert infer("min", t.Type("float32", t.Shape("sparse", (9,))), default=0.5) == (
        t.Type("float32", t.SCALAR))
    assert infer("first", VAR_S) == t.Type("string", t.SCALAR)
    assert error_of("sum", t.Type("bool", t.VARIABLE)) == "sum expects a number, got bool (tags)"
    assert error_of("count", t.Type("int64", t.SCALAR)) == (
        "count expects a variable-length, fixed-shape or sparse value, got a scalar")
    assert error_of("max", VAR_I, default=0.5) == (
        "max: default must be an integer to match int64 (tags), got 0.5")
    assert error_of("first", VAR_S, default=0) == (
        "first: default must be a string to match string (tags), got 0")
    assert error_of("mean", VAR_F, default="x") == (
        "mean: default must be a number to match float32 (tags), got 'x'")
    assert error_of("min", VAR_S) == "min expects a number, got string (tags)"


# ---- pad ---------------------------------------------------------------------------------


def test_pad_truncates_and_fills():
    x = ragged([[1, 2, 3, 4, 5], [], [7]], tf.int64)
    same(ops.pad(x, 4), [[1, 2, 3, 4], [0, 0, 0, 0], [7, 0, 0, 0]])
    same(ops.pad(x, 2, value=-1), [[1, 2], [-1, -1], [7, -1]])
    same(ops.pad(ragged([["a"], []]), 2), [[b"a", b""], [b"", b""]])
    fn = tf.function(lambda v: ops.pad(v, 3, value=9), input_signature=[RAGGED_I])
    result = fn(x)
    assert result.shape == [3, 3]
    same(result, [[1, 2, 3], [9, 9, 9], [7, 9, 9]])


def test_pad_type_rule():
    assert infer("pad", VAR_S, length=4) == t.Type("string", t.fixed(4))
    assert error_of("pad", VAR_I, length=4, value="") == (
        "pad: value must be an integer to match int64 (tags), got ''")
    assert error_of("pad", VAR_I, length=0) == "pad: length must be at least 1, got 0"
    assert error_of("pad", t.Type("int64", t.fixed(2)), length=3) == (
        "pad expects a variable-length value (pad makes one fixed-length), got a fixed-shape "
        "value [2]")


# ---- dense -------------------------------------------------------------------------------


def test_dense_sums_duplicates_and_ignores_indices_out_of_range():
    x = tf.SparseTensor([[0, 3], [0, 1], [0, 3], [1, 9], [2, 0]],
                        tf.constant([1.0, 2.0, 5.0, 7.0, -1.0]), [3, 4])
    same(ops.dense(x), [[0, 2, 0, 6], [0, 0, 0, 0], [-1, 0, 0, 0]])
    same(ops.dense(x, default=math.inf)[1], [math.inf] * 4)


def test_dense_of_parsed_examples_in_graph_mode():
    spec = {"v": tf.io.SparseFeature("i", "x", tf.int64, 3)}
    records = [tf.train.Example(features=tf.train.Features(feature={
        "i": tf.train.Feature(int64_list=tf.train.Int64List(value=indices)),
        "x": tf.train.Feature(int64_list=tf.train.Int64List(value=values))})).SerializeToString()
        for indices, values in (([2, 0], [5, 6]), ([], []))]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def fn(serialized):
        return ops.dense(tf.io.parse_example(serialized, spec)["v"], default=-1)

    assert fn.get_concrete_function().structured_outputs.shape.as_list() == [None, 3]
    same(fn(tf.constant(records)), [[6, -1, 5], [-1, -1, -1]])


def test_dense_type_rule():
    assert infer("dense", t.Type("float32", t.Shape("sparse", (7,)))) == (
        t.Type("float32", t.fixed(7)))
    assert error_of("dense", VAR_F) == "dense expects a sparse vector, got a variable-length value"
    assert error_of("dense", t.Type("int64", t.Shape("sparse", (7,))), default=0.5) == (
        "dense: default must be an integer to match int64 (tags), got 0.5")
