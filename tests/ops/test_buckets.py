"""bucketize and its quantile sketch: expected buckets come from np.searchsorted and by hand,
expected quantiles from np.quantile; approximate quantiles are checked against the
sketch's documented rank-error bound."""
import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import example, given, strategies as st

import skewless.ops as ops
from skewless import types as t
from skewless.ops.buckets import QuantileAccumulator, QuantileSketch
from skewless.ops.registry import ArgError, Args, all_ops

REG = all_ops()
F32 = t.Type("float32", t.SCALAR)


def infer(x=F32, **consts):
    consts = {"boundaries": None, "quantiles": None, **consts}
    return REG["bucketize"].infer(Args(op="bucketize", types={"x": x}, consts=consts,
                                       sources={"x": "hour"}))


def error_of(x=F32, **consts) -> str:
    with pytest.raises(ArgError) as info:
        infer(x, **consts)
    return str(info.value)


# ---- bucketize with boundaries -----------------------------------------------------------


def test_bucketize_by_hand_with_nan_and_infinities():
    x = tf.constant([-np.inf, 5.9, 6.0, 11.5, 12.0, 18.0, 23.0, np.inf, np.nan], tf.float32)
    result = ops.bucketize(x, boundaries=[6, 12, 18])
    assert result.dtype == tf.int64
    assert result.numpy().tolist() == [0, 0, 1, 1, 2, 3, 3, 3, 3]


# TensorFlow flushes subnormal float32 values to zero on CPU: they are left out.
@given(st.lists(st.floats(-100, 100, width=32, allow_subnormal=False), max_size=30),
       st.sets(st.floats(-100, 100, width=32, allow_subnormal=False), max_size=6))
def test_bucketize_matches_searchsorted(values, boundaries):
    boundaries = sorted(boundaries)
    x = np.array(values, np.float32)
    expected = np.searchsorted(np.array(boundaries, np.float32), x, side="right")
    np.testing.assert_array_equal(ops.bucketize(tf.constant(x, tf.float32), boundaries=boundaries),
                                  expected)


def test_bucketize_int64_is_exact_beyond_float_precision():
    x = tf.constant([2**53, 2**53 + 1, 2**62 - 1, 2**62, 2**63 - 1, -(2**63)], tf.int64)
    result = ops.bucketize(x, boundaries=[2**53 + 1, 2**62])
    assert result.numpy().tolist() == [0, 1, 1, 2, 2, 0]


EDGE = 2**24  # int64 values are compared as float32 by Bucketize only inside ±2**24
NEAR_EDGE = st.one_of(st.sampled_from([-EDGE - 1, -EDGE, EDGE, EDGE + 1]),
                      st.integers(-EDGE - 3, -EDGE + 3), st.integers(EDGE - 3, EDGE + 3),
                      st.integers(-20, 20))
INT64 = st.one_of(NEAR_EDGE, st.integers(-(2**63), 2**63 - 1),
                  st.sampled_from([-(2**63), 2**63 - 1]))


# Python compares an int with an int or a float exactly: the expected bucket is the number
# of boundaries at or below the value.
@given(st.lists(INT64, max_size=30),
       st.sets(st.one_of(NEAR_EDGE, NEAR_EDGE.map(lambda b: b + 0.5),
                         st.integers(-(2**64), 2**64)), max_size=6))
@example([-EDGE - 1, -EDGE, EDGE, EDGE + 1], {-EDGE})  # -2**24 - 1 is -2**24 in float32
@example([-EDGE - 1, -EDGE, EDGE, EDGE + 1], {EDGE, EDGE + 1})
def test_bucketize_int64_is_exact_near_the_float32_range_of_integers(values, boundaries):
    boundaries = sorted(boundaries)
    expected = [sum(1 for b in boundaries if value >= b) for value in values]
    result = ops.bucketize(tf.constant(values, tf.int64, shape=[len(values)]),
                           boundaries=boundaries)
    assert result.numpy().tolist() == expected


def test_bucketize_int64_with_fractional_and_huge_boundaries():
    x = tf.constant([1, 2, 3, -(2**63), 2**63 - 1], tf.int64)
    assert ops.bucketize(x, boundaries=[1.5, 3.0, 1e300]).numpy().tolist() == [0, 1, 2, 0, 2]
    assert ops.bucketize(x, boundaries=[-1e300, 2]).numpy().tolist() == [1, 2, 2, 1, 2]
    assert ops.bucketize(x, boundaries=[-math.inf, math.inf]).numpy().tolist() == [1] * 5


def test_bucketize_float_compares_with_float32_boundaries():
    # 0.7 rounds down in float32: the float32 value 0.7 is at the boundary, as `x >= 0.7` says.
    assert ops.bucketize(tf.constant([0.7], tf.float32), boundaries=[0.7]).numpy().tolist() == [1]
    assert ops.bucketize(tf.constant([1e30], tf.float32), boundaries=[10**40]).numpy().tolist() == [0]


def test_bucketize_empty_boundaries_is_zero():
    assert ops.bucketize(tf.constant([1.0, np.nan]), boundaries=[]).numpy().tolist() == [0, 0]


def test_bucketize_fixed_ragged_sparse_and_graph_mode():
    fixed = ops.bucketize(tf.constant([[1, 7], [13, 20]], tf.int64), boundaries=[6, 12, 18])
    assert fixed.numpy().tolist() == [[0, 1], [2, 3]]
    ragged = tf.ragged.constant([[1.0, 13.0], [], [6.0]], row_splits_dtype=tf.int64)
    assert ops.bucketize(ragged, boundaries=[6, 12]).to_list() == [[0, 2], [], [1]]
    sparse = tf.SparseTensor([[0, 4]], tf.constant([12.0]), [1, 9])
    assert ops.bucketize(sparse, boundaries=[6, 12]).values.numpy().tolist() == [2]
    fn = tf.function(lambda x: ops.bucketize(x, boundaries=[0.5]),
                     input_signature=[tf.TensorSpec([None], tf.float32)])
    assert fn(tf.constant([0.0, 0.5, np.nan])).numpy().tolist() == [0, 1, 1]


def test_bucketize_type_rule():
    assert infer(boundaries=[1, 2.5]) == t.Type("int64", t.SCALAR)
    assert infer(t.Type("int64", t.VARIABLE), quantiles=4) == t.Type("int64", t.VARIABLE)
    assert error_of(t.Type("string", t.SCALAR), boundaries=[1]) == (
        "bucketize expects a number, got string (hour)")
    message = "bucketize needs either boundaries=[..] or quantiles=N (one of them)"
    assert error_of() == message
    assert error_of(boundaries=[1], quantiles=3) == message
    assert error_of(boundaries=[1, 1]) == (
        "bucketize: boundaries must be strictly increasing, got [1, 1]")
    assert error_of(boundaries=[3, 2]) == (
        "bucketize: boundaries must be strictly increasing, got [3, 2]")
    assert error_of(boundaries=[math.nan]).startswith("bucketize: boundaries must be strictly")
    assert error_of(boundaries=["a"]) == "bucketize: boundaries must be a list of numbers, got ['a']"
    assert error_of(quantiles=1) == "bucketize: quantiles must be at least 2, got 1"
    assert REG["bucketize"].analyzer.constants == ("boundaries",)


# ---- quantiles ---------------------------------------------------------------------------


def quantiles_of(batches, n, k=1 << 14):
    acc = QuantileAccumulator({"quantiles": n}, k=k)
    for batch in batches:
        acc.add(np.asarray(batch))
    return acc


def numpy_boundaries(values, n):
    return np.unique(np.quantile(values, np.arange(1, n) / n, method="higher")).tolist()


@given(st.lists(st.integers(-50, 50), min_size=1, max_size=200), st.integers(2, 12))
def test_small_data_quantiles_are_exact(values, n):
    result = quantiles_of([np.array(values, np.int64)], n).result()["boundaries"]
    assert result == numpy_boundaries(np.array(values), n)
    assert all(isinstance(b, int) for b in result)


def test_quantiles_by_hand():
    # 1..100 in four buckets of 25: the boundaries are 26, 51 and 76.
    result = quantiles_of([np.arange(100, 0, -1, dtype=np.int64)], 4).result()
    assert result == {"boundaries": [26, 51, 76]}
    assert quantiles_of([np.zeros(10, np.int64)], 10).result() == {"boundaries": [0]}


def test_quantiles_skip_nan_and_give_floats():
    acc = quantiles_of([np.array([np.nan, 3.5, 1.25, np.nan], np.float32), np.float32([2.0])], 2)
    assert acc.nan_count == 2
    assert acc.result() == {"boundaries": [2.0]}
    with pytest.raises(ValueError, match="bucketize: the data has no values"):
        quantiles_of([np.float32([np.nan])], 2).result()


def test_small_data_quantiles_do_not_depend_on_batching():
    rng = np.random.default_rng(1)
    values = rng.normal(size=5000).astype(np.float32)
    whole = quantiles_of([values], 10).result()
    merged = quantiles_of(np.array_split(values, 7), 10)
    merged.merge(quantiles_of([], 10))
    parts = [quantiles_of([part], 10) for part in np.array_split(values, 3)]
    parts[2].merge(parts[0]).merge(parts[1])
    assert whole == merged.result() == parts[2].result()
    assert whole["boundaries"] == numpy_boundaries(values, 10)


def rank_error(boundaries, sorted_values, n):
    """How far boundary i's positions in the sorted data are from its target ⌈i(count-1)/n⌉
    (the data has no duplicates near the boundaries, so none is deduplicated)."""
    assert len(boundaries) == n - 1
    worst = 0
    for i, b in enumerate(boundaries, 1):
        target = -(-i * (sorted_values.size - 1) // n)
        first = np.searchsorted(sorted_values, b, side="left")
        last = np.searchsorted(sorted_values, b, side="right") - 1
        worst = max(worst, first - target, target - last)
    return worst


def test_quantiles_of_a_million_values_are_within_the_bound():
    rng = np.random.default_rng(7)
    values = rng.lognormal(size=1_000_000).astype(np.float32)
    acc = quantiles_of(np.array_split(values, 37), 100)
    boundaries = acc.result()["boundaries"]
    levels = sum(1 for count in acc.sketch.compactions if count)
    assert levels <= math.floor(math.log2(1e6 / (2 << 14))) + 1
    bound = levels * 1e6 / (2 << 14)
    assert rank_error(boundaries, np.sort(values), 100) <= bound
    assert all(level.size < 2 << 14 for level in acc.sketch.levels)


def test_sketch_bound_with_many_levels_and_merges():
    rng = np.random.default_rng(3)
    values = rng.integers(-10**12, 10**12, size=200_000)
    sketches = []
    for part in np.array_split(values, 9):
        sketch = QuantileSketch(k=64)
        for chunk in np.array_split(part, 5):
            sketch.add(chunk)
        sketches.append(sketch)
    for other in sketches[1:]:
        sketches[0].merge(other)
    sketch = sketches[0]
    assert sketch.weighted()[1].sum() == values.size
    levels = sum(1 for count in sketch.compactions if count)
    assert levels <= math.floor(math.log2(values.size / 128)) + 1
    assert all(level.size < 128 for level in sketch.levels)
    bound = levels * values.size / 128
    assert rank_error(sketch.quantiles(20), np.sort(values), 20) <= bound
    assert 0 < rank_error(sketch.quantiles(20), np.sort(values), 20)  # really approximate


def test_sketch_is_deterministic():
    values = np.random.default_rng(5).normal(size=50_000)
    runs = [quantiles_of(np.array_split(values, 11), 8, k=256).result() for _ in range(2)]
    assert runs[0] == runs[1]
