"""zscore and minmax: expected values are computed with numpy (float64) or exactly with
Python fractions; accumulators are checked for batching invariance and NaN skipping."""
import math
import statistics
from fractions import Fraction

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, strategies as st

import skewless.ops as ops
from skewless import types as t
from skewless.ops.registry import ArgError, Args, all_ops

REG = all_ops()
F32 = t.Type("float32", t.SCALAR)
I64 = t.Type("int64", t.SCALAR)


def infer(name, x=F32, **consts):
    defaults = {p.name: p.default for p in REG[name].const_params}
    return REG[name].infer(Args(op=name, types={"x": x}, consts={**defaults, **consts},
                                sources={"x": "x"}))


def error_of(name, x=F32, **consts) -> str:
    with pytest.raises(ArgError) as info:
        infer(name, x, **consts)
    return str(info.value)


def accumulate(name, batches, consts=None):
    acc = REG[name].analyzer.accumulator(consts or {})
    for batch in batches:
        acc.add(np.asarray(batch))
    return acc


def exact_moments(values):
    """The exact mean and population variance, with Fractions."""
    exact = [Fraction(v) for v in values]
    return sum(exact) / len(exact), statistics.pvariance(exact)


# ---- zscore ------------------------------------------------------------------------------


def test_zscore_values_in_every_form():
    x = np.array([1.0, 3.0, 8.5, -2.0], np.float32)
    expected = ((x.astype(np.float64) - 3) / 2).astype(np.float32)
    np.testing.assert_array_equal(ops.zscore(tf.constant(x), mean=3, std=2), expected)
    fixed = ops.zscore(tf.constant(x.reshape(2, 2)), mean=3, std=2)
    np.testing.assert_array_equal(fixed, expected.reshape(2, 2))
    ragged = ops.zscore(tf.RaggedTensor.from_row_splits(x, tf.constant([0, 3, 3, 4], tf.int64)),
                        mean=3, std=2)
    assert ragged.to_list() == [list(expected[:3]), [], [expected[3]]]
    sparse = ops.zscore(tf.SparseTensor([[0, 1], [1, 0]], tf.constant([5.0, 1.0]), [2, 3]),
                        mean=3, std=2)
    np.testing.assert_array_equal(sparse.values, [1.0, -1.0])


def test_zscore_of_int64_is_float32_and_exact_for_large_values():
    x = tf.constant([2**40 + 3, 2**40 - 1], tf.int64)
    result = ops.zscore(x, mean=2**40, std=2)
    assert result.dtype == tf.float32
    np.testing.assert_array_equal(result, [1.5, -0.5])


def test_zscore_with_std_zero_is_x_minus_mean():
    np.testing.assert_array_equal(ops.zscore(tf.constant([1.0, 4.0]), mean=2, std=0), [-1.0, 2.0])


def test_zscore_in_graph_mode():
    fn = tf.function(lambda x: ops.zscore(x, mean=1.5, std=0.5),
                     input_signature=[tf.TensorSpec([None], tf.float32)])
    np.testing.assert_allclose(fn(tf.constant([1.0, 2.5, np.nan])), [-1.0, 2.0, np.nan])


def test_zscore_type_rule():
    assert infer("zscore", I64) == F32
    assert infer("zscore", t.Type("int64", t.VARIABLE), mean=1, std=2) == t.Type("float32", t.VARIABLE)
    assert error_of("zscore", t.Type("string", t.SCALAR)) == "zscore expects a number, got string (x)"
    assert error_of("zscore", mean=1) == (
        "zscore: give both mean and std, or neither to compute them from the training data")
    assert error_of("zscore", mean=1, std=-2) == "zscore: std must be at least 0, got -2"
    assert error_of("zscore", mean="a", std=1) == "zscore: mean must be a number, got 'a'"
    assert error_of("zscore", mean=math.nan, std=1) == "zscore: mean must be a number, got nan"


def test_zscore_analyzer_is_declared():
    assert REG["zscore"].analyzer.constants == ("mean", "std")
    assert REG["minmax"].analyzer.constants == ("min", "max")


# ---- the moments accumulator -------------------------------------------------------------


def test_moments_match_exact_arithmetic_and_skip_nan():
    values = np.array([1.5, np.nan, -2.25, 1e10, 3.0, np.nan], np.float32)
    acc = accumulate("zscore", [values[:2], values[2:]])
    kept = [float(v) for v in values if not np.isnan(v)]
    mean, variance = exact_moments(kept)
    assert acc.nan_count == 2 and acc.count == 4
    assert acc.result() == {"mean": float(mean), "std": math.sqrt(float(variance))}
    np.testing.assert_allclose(acc.result()["std"], np.std(np.array(kept, np.float64)), rtol=1e-12)


def test_moments_of_large_int64_values_are_exact():
    values = np.array([2**62, 2**62 + 1, -(2**63), 2**63 - 1, 7], np.int64)
    mean, variance = exact_moments([int(v) for v in values])
    assert accumulate("zscore", [values]).result() == {
        "mean": float(mean), "std": math.sqrt(float(variance))}


def test_moments_of_a_constant_column_have_std_zero():
    assert accumulate("zscore", [np.full(1000, 0.1, np.float32)]).result() == {
        "mean": float(np.float32(0.1)), "std": 0.0}


@given(st.lists(st.floats(-2.0**100, 2.0**100, width=32), min_size=1, max_size=60), st.data())
def test_moments_do_not_depend_on_batching_or_merge_order(values, data):
    values = np.array(values, np.float32)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(values)), max_size=4)))
    parts = np.split(values, cuts)
    whole = accumulate("zscore", [values]).result()
    merged = accumulate("zscore", [])
    for part in reversed(parts):
        merged.merge(accumulate("zscore", [part]))
    assert merged.result() == whole
    mean, variance = exact_moments([float(v) for v in values])
    assert whole["mean"] == float(mean)


@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=60),
       st.sampled_from([2**63, 2**40, 2**31, 2**25, 5000, 1]))
def test_int64_moments_are_exact_at_every_magnitude(values, bound):
    # small magnitudes are summed directly in int64, large ones through limbs: both exact
    values = np.array([v % bound - bound // 2 if bound < 2**63 else v for v in values], np.int64)
    ints = [int(v) for v in values]
    acc = accumulate("zscore", [values])
    assert (acc.total, acc.squares) == (sum(ints), sum(v * v for v in ints))
    mean, variance = exact_moments(ints)
    assert acc.result() == {"mean": float(mean), "std": math.sqrt(float(variance))}


def test_infinities_are_skipped_and_counted_like_nan():
    acc = accumulate("zscore", [np.array([1.0, np.inf, 2.0], np.float32),
                                np.array([3.0, -np.inf, np.nan], np.float32)])
    assert (acc.count, acc.nan_count, acc.inf_count) == (3, 1, 2)
    assert acc.result() == {"mean": 2.0, "std": math.sqrt(2 / 3)}
    ranged = accumulate("minmax", [np.array([np.inf, 1.0, -np.inf, 3.0], np.float32)])
    assert ranged.result() == {"min": 1.0, "max": 3.0} and ranged.inf_count == 2
    with pytest.raises(ValueError, match=r"\(1 NaN value and 2 infinite values skipped\)"):
        accumulate("zscore", [np.array([np.inf, np.nan, -np.inf], np.float32)]).result()


def test_analyzers_without_values_raise_a_clear_error():
    with pytest.raises(ValueError, match=r"zscore: the data has no values .*\(2 NaN values skipped\)"):
        accumulate("zscore", [np.array([np.nan, np.nan], np.float32)]).result()
    with pytest.raises(ValueError, match="minmax: the data has no values to compute min and max"):
        accumulate("minmax", [np.zeros(0, np.int64)]).result()


# ---- minmax ------------------------------------------------------------------------------


def test_minmax_values_without_clipping():
    x = np.array([0.0, 45.0, 90.0, 180.0, -9.0], np.float32)
    np.testing.assert_array_equal(ops.minmax(tf.constant(x), min=0, max=90), x / 90)
    scaled = ops.minmax(tf.constant(x), lo=-1, hi=1, min=0, max=90)
    np.testing.assert_allclose(scaled, x.astype(np.float64) / 90 * 2 - 1, rtol=1e-6)


def test_minmax_with_equal_min_and_max_is_lo():
    x = tf.ragged.constant([[5, 6], [1]], tf.int64, row_splits_dtype=tf.int64)
    assert ops.minmax(x, lo=2, hi=3, min=5, max=5).to_list() == [[2.0, 2.0], [2.0]]


def test_minmax_in_graph_mode_with_int64():
    fn = tf.function(lambda x: ops.minmax(x, min=10, max=20),
                     input_signature=[tf.TensorSpec([None], tf.int64)])
    result = fn(tf.constant([10, 15, 25], tf.int64))
    assert result.dtype == tf.float32
    np.testing.assert_array_equal(result, [0.0, 0.5, 1.5])


def test_minmax_type_rule():
    assert infer("minmax", t.Type("int64", t.fixed(3))) == t.Type("float32", t.fixed(3))
    assert error_of("minmax", t.Type("bool", t.SCALAR)) == "minmax expects a number, got bool (x)"
    assert error_of("minmax", max=3) == (
        "minmax: give both min and max, or neither to compute them from the training data")
    assert error_of("minmax", min=3, max=1) == "minmax: max (1) must not be less than min (3)"
    assert error_of("minmax", lo="0") == "minmax: lo must be a number, got '0'"


def test_range_accumulator():
    acc = accumulate("minmax", [np.array([3, -7], np.int64)])
    acc.merge(accumulate("minmax", [np.array([12], np.int64)]))
    result = acc.result()
    assert result == {"min": -7, "max": 12} and isinstance(result["min"], int)
    floats = accumulate("minmax", [np.array([np.nan, 0.5, -1.5], np.float32)])
    assert floats.result() == {"min": -1.5, "max": 0.5} and floats.nan_count == 1
