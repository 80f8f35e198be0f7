"""The shared transform's check of its stateful ops (``runtime.SharedTransform``): it runs
without automatic control dependencies, so it takes only ops whose order does not matter,
in its own graph and in the functions that graph holds (a ``tf.cond``'s branches)."""
from __future__ import annotations

import pytest
import tensorflow as tf

from skewless import runtime


def _assert_positive_in_a_cond(raw):
    x = raw["x"]

    def checked():
        with tf.control_dependencies([tf.debugging.Assert(tf.reduce_all(x > 0), [x])]):
            return tf.identity(x)

    return {"y": tf.cond(tf.size(x) > 0, checked, lambda: x) * 2.0}


def test_an_assertion_inside_a_cond_is_taken_and_still_runs():
    transform = runtime.SharedTransform(_assert_positive_in_a_cond)
    assert transform({"x": tf.constant([1.0, 2.5])})["y"].numpy().tolist() == [2.0, 5.0]
    with pytest.raises(tf.errors.InvalidArgumentError):
        transform({"x": tf.constant([1.0, -2.0])})


@pytest.mark.parametrize("make, op", [
    (lambda x: x + tf.random.uniform(tf.shape(x)), "RandomUniform"),
    (lambda x: tf.cond(tf.size(x) > 0, lambda: x + tf.random.uniform(tf.shape(x)),
                       lambda: x), "RandomUniform"),
    (lambda x: tf.cond(tf.size(x) > 0, lambda: _printed(x), lambda: x), "PrintV2"),
], ids=["in the graph", "in a cond's branch", "print in a cond's branch"])
def test_ops_whose_order_matters_are_refused_wherever_they_are(make, op):
    transform = runtime.SharedTransform(lambda raw: {"y": make(raw["x"])})
    with pytest.raises(RuntimeError, match=f"stateful ops .*{op}"):
        transform({"x": tf.constant([1.0])})


def _printed(x):
    with tf.control_dependencies([tf.print(x)]):
        return tf.identity(x)
