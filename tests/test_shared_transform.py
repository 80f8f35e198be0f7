"""The shared transform (``runtime.SharedTransform``): it runs without automatic control
dependencies, so it takes only ops whose order does not matter, in its own graph and in the
functions that graph holds (a ``tf.cond``'s branches); and no optimizer rewrites it, even in
a TF1 session as TF Serving runs a SavedModel."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import skewless
from skewless import runtime
from skewless_test_helpers import example, write_records


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


REWRITTEN_BY_GRAPPLER = """\
input a: float32
input b: float32
feature third = a / 3.0
feature seventh = a / -0.1
feature twice_scaled = a * 3.0 * 7.0
feature less = a - b - 1.0
feature more = a + 1.0 + 2.0 + b
feature from_negative_zero = minmax(a, min=-0.0, max=1)
"""


def _by_hand(a: np.ndarray, b: np.ndarray) -> dict:
    """REWRITTEN_BY_GRAPPLER's features in numpy, float32 operations one after the other as
    written (minmax in float64, rounded once, as the library computes it)."""
    f = np.float32
    with np.errstate(all="ignore"):
        return {"third": a / f(3.0), "seventh": a / f(-0.1),
                "twice_scaled": (a * f(3.0)) * f(7.0), "less": (a - b) - f(1.0),
                "more": ((a + f(1.0)) + f(2.0)) + b,
                "from_negative_zero": ((a.astype(np.float64) - -0.0) / 1.0).astype(np.float32)}


def test_a_savedmodel_run_in_a_tf1_session_as_tf_serving_runs_it_gives_what_training_gives(
        tmp_path):
    """TF Serving runs a SavedModel in a TF1 session, whose grappler optimizes every function
    of the graph's library under the session's options: its constant folding turned the
    transform's ``a / 3.0`` into ``a * (1 / 3.0)`` and ``a * 3.0 * 7.0`` into ``a * 21.0``
    (1 ulp off on many values), where training runs the ops as written. The shared
    transform's function is marked so that grappler leaves it to the runtime, as it leaves
    tf.data's functions. Checked against numpy and training on 256 values."""
    path = tmp_path / "rewritten.feat"
    path.write_text(REWRITTEN_BY_GRAPPLER)
    rng = np.random.default_rng(7)
    a = np.concatenate([rng.standard_normal(128) * 10.0 ** rng.integers(-5, 10, 128),
                        rng.uniform(-1000, 1000, 124), [1e10, -0.0, 0.0, 123.25]]
                       ).astype(np.float32)
    b = (rng.standard_normal(a.size) * 100).astype(np.float32)
    records = [example(a=float(x), b=float(y)) for x, y in zip(a, b)]
    expected = {k: v.view(np.uint32).tolist() for k, v in _by_hand(a, b).items()}
    assert expected["third"] != (a * np.float32(1 / 3.0)).view(np.uint32).tolist()
    features = skewless.load(str(path))
    module = tf.Module()
    module.receive = features.serving_input_receiver_fn()
    tf.saved_model.save(module, str(tmp_path / "model"),
                        signatures={"serving_default": module.receive.get_concrete_function()})
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"],
                                                          str(tmp_path / "model"))
        signature = meta_graph.signature_def["serving_default"]
        served = session.run({k: v.name for k, v in signature.outputs.items()},
                             {signature.inputs["examples"].name: records})
    data = write_records(tmp_path / "d.tfrecord", records)
    trained = next(iter(features.input_fn(data, batch_size=a.size, shuffle=False)))[0]
    for name, bits in expected.items():
        assert served[name].view(np.uint32).tolist() == bits, f"TF1 session: {name}"
        assert trained[name].numpy().view(np.uint32).tolist() == bits, f"training: {name}"


SHARED_OUTPUTS = """
input x: float32
input tags: string[]
input v: sparse float32[6] from (v_idx, v_val)
let twice = x * 2
feature a = x
feature b = x
feature c = twice
feature d = twice
let padded = tags | pad(length=2, value="")
feature t1 = padded
feature t2 = padded
feature s1 = v
feature s2 = v * 2
"""


def test_features_sharing_a_tensor_export_and_load(tmp_path):
    """Features that are the same tensor (a column or a let used twice; two sparse features
    of one column share its indices): the transform returns it more than once, and the
    exported receivers load (``tf.saved_model.load``, as ``skewless serve`` does) and give
    what the in-process receivers give."""
    path = tmp_path / "shared.feat"
    path.write_text(SHARED_OUTPUTS)
    features = skewless.load(str(path))
    module = tf.Module()
    module.examples = features.serving_input_receiver_fn()
    module.raw = features.raw_serving_input_receiver_fn()
    tf.saved_model.save(module, str(tmp_path / "model"), signatures={
        "examples": module.examples.get_concrete_function(),
        "raw": module.raw.get_concrete_function()})
    loaded = tf.saved_model.load(str(tmp_path / "model"))
    records = tf.constant([example(x=1.5, tags=["p", "q"], v_idx=[4, 1], v_val=[0.5, -2.0]),
                           example(x=-0.0)])
    here, there = features.serving_input_receiver_fn()(records), loaded.examples(records)
    assert sorted(there) == sorted(features.FEATURE_KEYS)
    for name in features.FEATURE_KEYS:
        mine, theirs = here[name], there[name]
        if isinstance(mine, tf.SparseTensor):
            mine, theirs = tf.sparse.to_dense(mine), tf.sparse.to_dense(theirs)
        assert np.asarray(mine).tobytes() == np.asarray(theirs).tobytes(), name
    assert np.asarray(there["a"]).tolist() == [1.5, -0.0]
    assert np.asarray(there["t2"]).tolist() == [[b"p", b"q"], [b"", b""]]
    assert tf.sparse.to_dense(there["s2"]).numpy().tolist()[0] == [0, -4.0, 0, 0, 1.0, 0]
