"""The proof that training and serving cannot skew, as properties over generated specs and
records: for every record, ``input_fn`` (any batch size), ``serving_input_receiver_fn``
(serialized examples without labels) and ``raw_serving_input_receiver_fn`` (raw tensors)
give bit-identical features, with ``skewless.load`` and with the generated module alike.
Then the tests that show the assertion can fail, and ``skewless check``.

TensorFlow functions are traced once per spec (one SkewChecker each), and each generated
spec is checked on several batches of records. Every function's own property is in
test_function_skew.py."""
from __future__ import annotations

import copy
import math
import re
import sys

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings, strategies as st

import skewless
from skewless import runtime
from skewless.cli import main
from skewless.errors import DataError
from skewless.ir import ColumnSpec
from skewless.ops.registry import all_ops
from skewless.testing import (SkewChecker, assert_no_skew, assert_same_features, batches,
                              edge_records, from_example, raw_tensors, records, serialize,
                              spec_sources, to_example)
from skewless.testing import check as check_module
from skewless.testing.skew import compare, compare_outputs
from skewless.types import SCALAR, Shape, Type

from property_budget import count
from skewless_test_helpers import (FLIGHTS, KNOWN_BAD_NAMES, KNOWN_SKEW_OPS, QUIET, compile_both,
                                   make_data)

SAFE_OPS = sorted(set(all_ops()) - KNOWN_SKEW_OPS)
SPECS = spec_sources(ops=SAFE_OPS, avoid_names=KNOWN_BAD_NAMES)
PROFILE_EXAMPLES = settings.default.max_examples  # 25 with the dev profile, 150 with ci


pytestmark = pytest.mark.usefixtures("quiet_tensorflow")


def load_text(text: str, folder, name: str = "spec"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.feat"
    path.write_text(text, encoding="utf-8")
    return skewless.load(str(path))


# ---- the generators ---------------------------------------------------------------------------


@settings(max_examples=PROFILE_EXAMPLES * 4, suppress_health_check=QUIET)
@given(spec_sources())
def test_generated_specs_pass_the_checker(text):
    graph = skewless.check_source(text, "generated.feat")
    assert graph.features


@settings(max_examples=PROFILE_EXAMPLES, suppress_health_check=QUIET)
@given(st.data())
def test_raw_tensors_are_what_parse_example_gives(data):
    """The Predict-path tensors built from Python values equal parse_example's, bit for bit
    (defaults filled in, sparse pairs sorted) — so the two serving paths get the same input.
    Parsed in a graph, as the product does: in eager mode TensorFlow may hand out a cached
    0.0 for the constant -0.0 (its scalar cache compares values, and 0.0 == -0.0)."""
    text = data.draw(spec_sources(max_features=1), label="spec")
    columns = skewless.check_source(text, "generated.feat").columns
    batch = data.draw(batches(columns), label="records")
    spec = runtime.parse_spec(columns)
    parsed = tf.function(lambda serialized: tf.io.parse_example(serialized, spec))(
        tf.constant(serialize(batch, columns), dtype=tf.string))
    built = raw_tensors(batch, columns, kinds=("input", "label", "weight"))
    assert set(parsed) == set(built)
    for name in parsed:
        a, b = parsed[name], built[name]
        assert type(a) is type(b), name
        for part_a, part_b in zip(_parts(a), _parts(b)):
            assert part_a.dtype == part_b.dtype and part_a.shape == part_b.shape, name
            assert _bits(part_a) == _bits(part_b), (name, batch)


def _parts(value):
    if isinstance(value, tf.SparseTensor):
        return [value.indices.numpy(), value.values.numpy(), value.dense_shape.numpy()]
    if isinstance(value, tf.RaggedTensor):
        return [value.row_splits.numpy(), value.flat_values.numpy()]
    return [value.numpy()]


def _bits(array: np.ndarray):
    if array.dtype == np.float32:
        return [("nan" if math.isnan(v) else b) for v, b in zip(array.ravel(),
                                                               array.view(np.uint32).ravel())]
    return array.tolist()


@settings(max_examples=PROFILE_EXAMPLES, suppress_health_check=QUIET)
@given(st.data())
def test_from_example_reads_back_what_to_example_writes(data):
    text = data.draw(spec_sources(max_features=1), label="spec")
    columns = skewless.check_source(text, "generated.feat").columns
    record = data.draw(records(columns), label="record")
    back = from_example(to_example(record, columns), columns)
    assert _normalized(back, columns) == _normalized(record, columns)


def _normalized(record: dict, columns) -> dict:
    """Comparable record values: strings as bytes, bools as 0/1, NaN as a marker, sparse
    pairs sorted, empty lists as absent."""
    def norm(value, dtype):
        if isinstance(value, list):
            return [norm(v, dtype) for v in value]
        if isinstance(value, tuple):
            return (value[0], norm(value[1], dtype))
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, float) and math.isnan(value):
            return "nan"
        if isinstance(value, float):
            return (value, math.copysign(1, value))
        return int(value) if isinstance(value, bool) else value

    result = {}
    for column in columns:
        value = record.get(column.name)
        if value is None or value == []:
            continue
        if column.shape.kind == "sparse":
            value = sorted(value, key=lambda pair: pair[0])
        result[column.name] = norm(value, column.dtype)
    return result


def test_from_example_rejects_records_that_do_not_fit():
    columns = (ColumnSpec("n", "input", "int64", SCALAR),
               ColumnSpec("s", "input", "float32", Shape("sparse", (4,)), sparse_keys=("i", "v")))
    cases = {
        "required column 'n' is missing": {"s": [(1, 1.0)]},
        "index 4 outside [0, 4)": {"n": 1, "s": [(4, 1.0)]},
        "duplicate index": {"n": 1, "s": [(1, 1.0), (1, 2.0)]},
    }
    for message, record in cases.items():
        with pytest.raises(DataError, match=re.escape(message)):
            from_example(to_example(record, columns), columns, "data.tfrecord: record 3")
    wrong = to_example({"n": 1.5}, (ColumnSpec("n", "input", "float32", SCALAR),))
    with pytest.raises(DataError, match="record 3: column 'n' is int64, but feature 'n' "
                                        "holds a float_list"):
        from_example(wrong, columns, "record 3")


def test_records_reach_the_edge_cases():
    """The strategies generate what breaks preprocessing: both zeros, NaN, infinities,
    subnormals, int64 limits, empty and non-UTF-8 strings, absent columns, long lists."""
    columns = (ColumnSpec("f", "input", "float32", SCALAR),
               ColumnSpec("i", "input", "int64", SCALAR),
               ColumnSpec("s", "input", "string", SCALAR, default=""),
               ColumnSpec("v", "input", "string", Shape("variable")))
    examples = {
        "-0.0": lambda r: r["f"] == 0 and math.copysign(1, r["f"]) < 0,
        "nan": lambda r: math.isnan(r["f"]),
        "inf": lambda r: math.isinf(r["f"]),
        "subnormal": lambda r: 0 < abs(r["f"]) < 1.1754943508222875e-38,
        "int64 min": lambda r: r["i"] == -(2**63),
        "empty string": lambda r: r.get("s") == "",
        "invalid UTF-8": lambda r: isinstance(r.get("s"), bytes) and _not_utf8(r["s"]),
        "absent": lambda r: "s" not in r,
        "long list": lambda r: len(r.get("v", ())) >= 20,
    }
    for name, condition in examples.items():
        from hypothesis import find

        found = find(records(columns), condition, settings=settings(max_examples=2000,
                                                                    database=None))
        assert condition(found), name


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


# ---- the property on generated specs ----------------------------------------------------------


@settings(max_examples=max(4, PROFILE_EXAMPLES // 4), suppress_health_check=QUIET)
@given(st.data())
def test_generated_specs_cannot_skew(tmp_path_factory, data):
    text = data.draw(SPECS, label="spec")
    loaded, module = compile_both(text, tmp_path_factory.mktemp("generated"), "generated")
    groups = [edge_records(loaded)] + [data.draw(batches(loaded), label=f"records {i}")
                                       for i in range(2)]
    records_ = [record for group in groups for record in group]
    with SkewChecker(loaded) as by_load, SkewChecker(module) as by_module:
        sizes = [len(group) for group in groups]
        compare_outputs(by_load.check(records_, groups=sizes),
                        by_module.check(records_, groups=sizes), records_,
                        ("skewless.load", "the generated module"))
    count("generated specs: every path, interpreter and module", len(groups))


# ---- the example spec -------------------------------------------------------------------------


def without_known_skew(text: str) -> str:
    """The spec without the outputs that call a function with a known skew bug."""
    if not KNOWN_SKEW_OPS:
        return text
    calls = "|".join(sorted(KNOWN_SKEW_OPS))
    bad = re.compile(rf"(\b({calls})\s*\()|(\|\s*({calls})\b)")
    return "\n".join(line for line in text.splitlines()
                     if not (line.lstrip().startswith(("feature", "target")) and bad.search(line)))


@pytest.fixture(scope="module")
def flights(tmp_path_factory):
    root = tmp_path_factory.mktemp("flights")
    paths = make_data().write_dataset(root / "data", rows=300, shards=2, seed=5)
    spec = root / "flights.feat"
    spec.write_text(without_known_skew((FLIGHTS / "flights.feat").read_text("utf-8")), "utf-8")
    features = skewless.load(str(spec), data=[str(root / "data" / "train-*")])
    with SkewChecker(features) as checker:
        yield features, checker, paths


@settings(max_examples=PROFILE_EXAMPLES, suppress_health_check=QUIET + [
    HealthCheck.function_scoped_fixture])
@given(st.data())
def test_flights_cannot_skew(flights, data):
    features, checker, _ = flights
    assert len(features.FEATURE_KEYS) >= 8
    checker.check(data.draw(batches(features), label="records"))
    count("the example spec (flights): every path", 1, specs=0)


def test_flights_data_cannot_skew(flights):
    _, checker, paths = flights
    total, files = check_module.check_data(checker, [p for p in paths if "train-" in p],
                                           batch_size=128)
    assert (total, files) == (300, 2)


def test_assert_no_skew_on_the_flights_module_and_load(flights, tmp_path):
    features, _, _ = flights
    batch = [{"carrier": "AA", "origin": "JFK", "dest": "lax", "distance": 2475,
              "sched_dep_time": 1545, "tags": ["red-eye", "é"], "position": [40.6, -73.8],
              "arr_delay": -0.0, "dep_delay": math.nan},
             {"carrier": "", "origin": "", "dest": "", "distance": -(2**63),
              "sched_dep_time": 2**63 - 1, "position": [math.inf, -0.0], "arr_delay": 20.0,
              "tailnum": b"\xff", "importance": 0.5}]
    assert_no_skew(features, batch)
    assert_no_skew(features, batch[:1], batch_sizes=(None,))


# ---- the assertion can fail ---------------------------------------------------------------------

FLOAT_SPEC = "input x: float32\ninput n: int64 = 0\nlabel y: float32\nfeature f = x\nfeature g = n\n"


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return load_text(FLOAT_SPEC, tmp_path_factory.mktemp("plain"))


def serving_changed(features, change, path: str = "both"):
    """A copy of ``features`` whose serving receivers (one or both) apply ``change`` to
    feature 'f': a deliberately skewed Features."""
    skewed = copy.copy(features)

    def wrap(make):
        def receiver():
            fn = make()

            @tf.function(input_signature=fn.input_signature)
            def changed(arg):
                outputs = dict(fn(arg))
                outputs["f"] = change(outputs["f"])
                return outputs

            return changed
        return receiver

    if path in ("both", "examples"):
        skewed.serving_input_receiver_fn = wrap(features.serving_input_receiver_fn)
    if path in ("both", "raw"):
        skewed.raw_serving_input_receiver_fn = wrap(features.raw_serving_input_receiver_fn)
    return skewed


def test_a_serving_transform_that_differs_is_caught(plain):
    skewed = serving_changed(plain, lambda f: f + 1.0, path="raw")
    with pytest.raises(AssertionError) as info:
        assert_no_skew(skewed, [{"x": 2.5, "y": 1.0}, {"x": -1.0, "y": 0.0}])
    message = str(info.value)
    assert "feature 'f' differs for record 0 of 2" in message
    assert "raw_serving_input_receiver_fn" in message
    assert "'x': 2.5" in message and "2.5" in message and "3.5" in message


def test_signed_zero_matters_and_nan_payloads_do_not(plain):
    zero_to_positive = serving_changed(plain, lambda f: tf.where(tf.equal(f, 0.0), 0.0, f))
    assert_no_skew(zero_to_positive, [{"x": 0.0, "y": 1.0}, {"x": 1.0, "y": 1.0}])
    with pytest.raises(AssertionError, match=r"'x': -0\.0[\s\S]*0x80000000[\s\S]*0x00000000"):
        assert_no_skew(zero_to_positive, [{"x": -0.0, "y": 1.0}])
    other_nan = serving_changed(plain, lambda f: tf.where(tf.math.is_nan(f), -f, f))
    assert_no_skew(other_nan, [{"x": math.nan, "y": 1.0}])
    nan_to_zero = serving_changed(plain, lambda f: tf.where(tf.math.is_nan(f), 0.0, f),
                                  path="examples")
    with pytest.raises(AssertionError, match="serving_input_receiver_fn"):
        assert_no_skew(nan_to_zero, [{"x": 1.0, "y": 1.0}, {"x": math.nan, "y": 1.0}])


def test_hypothesis_finds_and_shrinks_a_skew(plain):
    skewed = serving_changed(plain, lambda f: tf.where(tf.equal(f, 0.0), 0.0, f), path="raw")
    checker = SkewChecker(skewed, batch_sizes=(None,))

    @settings(max_examples=300, database=None, derandomize=True, suppress_health_check=QUIET)
    @given(batches(plain))
    def no_skew(batch):
        checker.check(batch)

    with pytest.raises(AssertionError) as info:
        no_skew()
    assert re.search(r"record: \{[^}]*'x': -0\.0", str(info.value))
    checker.close()


@pytest.mark.parametrize("count", [2, 3, 4, 5, 9])
@pytest.mark.parametrize("part", ["feature", "target"])
def test_a_batch_dependent_transform_is_caught(plain, part, count):
    """A feature or a target minus its batch's mean: caught whatever the number of records,
    fewer than input_fn's chunk of four batches at batch size 1 included."""
    centered = lambda raw, name: {name: raw[name] - tf.reduce_mean(raw[name])}  # noqa: E731
    batch_mean = runtime.Features(
        columns=plain.columns,
        transform_features=(lambda raw: centered(raw, "x")) if part == "feature"
        else (lambda raw: {"x": raw["x"]}),
        transform_targets=(lambda raw: centered(raw, "y")) if part == "target"
        else (lambda raw: {"y": raw["y"]}),
        feature_types={"x": Type("float32", SCALAR)}, target_types={"y": Type("float32", SCALAR)},
        fingerprint=f"batch-mean-{part}")
    assert_no_skew(batch_mean, [{"x": 3.0, "y": 3.0}])
    records = [{"x": float(i), "y": float(i)} for i in range(count)]
    alone = ("serving \\(serving_input_receiver_fn" if part == "feature"
             else "training \\(parse_example and transform_targets, each record alone\\)")
    # past four records, training at batch size 1 (chunks of four) differs first
    other = "training \\(input_fn, batch_size=1\\)" if count > 4 else alone
    with pytest.raises(AssertionError, match=f"{part} '[xy]' differs for record 0 of {count} "
                                             f"between training \\(input_fn, {count} records in "
                                             f"one batch\\) and {other}"):
        assert_no_skew(batch_mean, records)


def test_serving_that_needs_the_label_is_caught(plain):
    leaky = copy.copy(plain)
    leaky.SERVING_FEATURE_SPEC = plain.RAW_FEATURE_SPEC
    with pytest.raises(AssertionError, match="SERVING_FEATURE_SPEC parses training-only column 'y'"):
        SkewChecker(leaky)
    label_in_signature = copy.copy(plain)
    label_in_signature.raw_serving_input_receiver_fn = lambda: tf.function(
        lambda raw: plain.transform_features(raw),
        input_signature=[{**plain.raw_input_signature(), "y": tf.TensorSpec([None], tf.float32)}])
    with pytest.raises(AssertionError, match="mentions training-only column 'y'"):
        SkewChecker(label_in_signature)


def test_module_and_load_differences_are_caught(plain, tmp_path):
    other = load_text(FLOAT_SPEC.replace("feature f = x", "feature f = x * 1.5"), tmp_path)
    with pytest.raises(AssertionError, match="feature 'f' differs"):
        assert_same_features(plain, other, [{"x": 2.0, "y": 0.0}])
    assert_same_features(plain, plain, [{"x": 2.0, "y": 0.0}])


# ---- bugs these properties found, fixed -------------------------------------------------------


def test_literals_python_thinks_equal_stay_distinct():
    """0.0, -0.0, 0 and false are one dict key in Python; the IR once merged them into one
    constant node, so `x // 1` became float32 and `x * -0.0` became `x * 0.0`."""
    graph = skewless.check_source("input x: float32\ninput n: int64\nfeature a = x * 0.0\n"
                                  "feature b = x * -0.0\nfeature c = n // 1.0\nfeature d = n // 1\n"
                                  "feature e = (x > 1) == false\n")
    types = {name: str(graph.nodes[node].type) for name, node in graph.features.items()}
    assert types == {"a": "float32", "b": "float32", "c": "float32", "d": "int64", "e": "bool"}
    assert graph.features["a"] != graph.features["b"]


def test_serving_graphs_are_optimized_like_training(tmp_path):
    """Grappler rewrites tf.function graphs (x / 1000 into x * 0.001, x + 0 into x, (x + c)
    - c into x) but not tf.data's map function: the runtime runs one never-inlined
    tf.function in both, so training and serving agree."""
    features = load_text("input x: float32\nfeature d = x / 1000.0\nfeature z = x + 0.0\n"
                         "feature a = (x + 1e30) - 1e30\n", tmp_path)
    assert_no_skew(features, [{"x": -4.548235504490906e16}, {"x": -0.0}, {"x": 1e-45},
                              {"x": -2.5}])


# Eigen computes SIMD packets and the scalar tail of a tensor differently, so a value's result
# depended on where it fell in the batch: transcendental functions rounded differently (1 ulp),
# sign of a subnormal was x itself in packets and 0 in the tail, tf.minimum/maximum picked a
# different one of 0.0 and -0.0 (clip is built on them).
PACKET_SENSITIVE = ("cos", "sin", "exp", "log", "log1p", "pow", "sign", "minimum", "maximum",
                    "clip")
PACKET_VALUES = [0.8724998, -9.18053, 4.4297667, 2.7392337, -9.669447, 0.125, 1.5, 7.25, 0.1,
                 3.0, 12.5, -0.5, 0.0, -0.0, 30.0, 0.3, 2.0, 5.5, -3.25, 9.0] + [2.2e-43] * 16


@pytest.fixture(scope="module")
def packet_outputs(tmp_path_factory):
    lines = ["input x: float32", "input z: float32 = 0.0", "label y: float32 = 0.0"]
    lines += [f"feature {name}_ = {name}(x)" for name in PACKET_SENSITIVE[:7] if name != "pow"]
    lines += ["feature pow_ = pow(x, 1.5)", "feature minimum_ = minimum(z, x)",
              "feature maximum_ = maximum(z, x)", "feature clip_ = clip(x, z, 1000)"]
    features = load_text("\n".join(lines) + "\n", tmp_path_factory.mktemp("packets"))
    batch = [{"x": v} for v in PACKET_VALUES] + [{"x": -0.0, "z": 0.0}] * 16 + \
        [{"x": 0.0, "z": -0.0}] * 16
    with SkewChecker(features) as checker:
        results = checker.outputs(batch)
    return results, batch


@pytest.mark.parametrize("op", PACKET_SENSITIVE)
def test_math_does_not_depend_on_the_batch(packet_outputs, op):
    results, batch = packet_outputs
    reference = list(results)[1]  # training, all the records in one batch
    name = f"{op}_"
    for label, parts in results.items():
        compare("features", {name: results[reference]["features"][name]},
                {name: parts["features"][name]}, reference, label, batch)


def test_if_keeps_static_shapes(tmp_path):
    features = static_shape_spec("if(x > 0.0, x, n) | max", tmp_path)
    assert_no_skew(features, [{"x": [[1.0], [-2.0]], "n": 3, "s": "a"}])


def test_a_name_the_generated_code_calls_is_renamed(tmp_path):
    """Found by the interpreter-versus-module property: a let named `float` shadowed the
    builtin the module calls for nan and inf literals (an UnboundLocalError)."""
    text = "input x: float32\nlet float = x * 2.0\nfeature f = float + inf\nfeature g = float\n"
    loaded, module = compile_both(text, tmp_path, "shadowing")
    raw = {"x": tf.constant([1.0, -3.0])}
    outputs = module.transform_features(raw)
    assert outputs["f"].numpy().tolist() == [math.inf, math.inf]
    assert outputs["g"].numpy().tolist() == [2.0, -6.0]
    assert_same_features(loaded, module, [{"x": 1.0}, {"x": math.nan}], batch_sizes=(None,))


# ---- bugs these properties found, pinned ------------------------------------------------------

def static_shape_spec(expression: str, folder):
    return load_text("input x: float32[2, 1]\ninput n: int64\ninput s: string\n"
                     f"feature m = {expression}\n", folder)


def test_concat_keeps_the_static_shape_reductions_need(tmp_path):
    features = static_shape_spec("concat(cast(x, string), s) | count", tmp_path)
    assert_no_skew(features, [{"x": [[1.0], [-2.0]], "n": 3, "s": "a"}])


def test_subnormal_defaults_and_literals_are_the_same_on_every_path(tmp_path):
    """tf.data's threads flush a subnormal parse default to zero, a serving call may not:
    such float32 literals compile to a zero of their sign."""
    features = load_text("input x: float32\ninput z: float32 = 1e-40\n"
                         "feature a = z\nfeature b = x * -1e-41\n", tmp_path)
    assert_no_skew(features, [{"x": 1.0}, {"x": 0.0, "z": 2.0}])
    raw = {"x": tf.constant([1.0]), "z": tf.constant([1e-40])}
    b = features.raw_serving_input_receiver_fn()(raw)["b"].numpy()[0]
    assert b == 0.0 and np.signbit(b)  # the literal became -0.0


@pytest.mark.parametrize("start, size", [(0, 0), (1, 2), (-1, 1), (-9, 30)])
def test_substr_traces_within_a_function_of_a_batch_of_known_size(tmp_path, start, size):
    """Found by the generated specs: inside a tf.function whose raw batch has a static size,
    Python knew the padded value's shape ([1, 1]) while the shared transform, instantiated,
    did not ([?, 1]); Substr wants its positions and lengths with equal static shapes."""
    features = load_text("input a: string[]\ninput s: string\ninput f: string[2]\n"
                         f"feature p = substr(pad(a, length=1), start={start}, len={size})\n"
                         f"feature q = substr(s, start={start}, len={size})\n"
                         f"feature r = substr(f, start={start}, len={size})\n", tmp_path)
    words = ["", "é", "abc"]
    for rows in (1, 3):
        raw = {"a": tf.ragged.constant([words[:i] for i in range(rows)], dtype=tf.string),
               "s": tf.constant(words[:rows]), "f": tf.constant([["ab", "çd"]] * rows)}
        out = tf.function(features.transform_features, autograph=False)(raw)
        assert out["p"].numpy().tolist() == [[(w[0] if w else "")[start:][:size].encode()]
                                             for w in (words[:i] for i in range(rows))]
        assert out["q"].numpy().tolist() == [w[start:][:size].encode() for w in words[:rows]]
        assert out["r"].numpy().tolist() == [[w[start:][:size].encode() for w in ("ab", "çd")]
                                             ] * rows


def test_targets_are_the_same_at_every_batch_size(tmp_path):
    """Found by the `+` property: targets ran inline in tf.data's map function, whose graph
    TensorFlow rewrote differently for a batch of 160 and a batch of 1 (it reassociates
    chains of additions), so that (g + g) + a, g = ((w + a) + 1000.0) + a, differed by
    1 ulp at w = 1, a = 1e10: 0x513a43b7 in the big batch, 0x513a43b8 alone. Targets now
    run in a never-inlined function, as features do, rewritten the same on every path."""
    features = load_text('input db: string = "x"\ninput a: float32\nlabel l: bool\n'
                         "weight w: int64\nlet g = (((w + a) + 1000.0) + a)\nfeature db\n"
                         "target t = ((g + g) + a)\ntarget p = (w + g)\n", tmp_path)
    records = edge_records(features) * 5
    assert any(r.get("a") == 1e10 and r.get("w") == 1 for r in records)
    assert_no_skew(features, records)


def test_a_reduction_of_dense_over_a_mapped_sparse_column(tmp_path):
    """Found by the generated specs: mapping a sparse value lost its static width, and the
    reduction over dense() could not trace."""
    features = load_text("input s: sparse string[9] from (i, v)\n"
                         "feature m = max(dense(to_number(s, int64, default=7), -5), default=4)\n",
                         tmp_path)
    assert_no_skew(features, [{"s": [(3, "12"), (0, "x")]}, {}])


def test_tables_of_lets_x_and__x_are_two_tables(tmp_path):
    text = ('input a: string\nlet x = lookup(a, ["p"])\nlet _x = lookup(a, ["q", "p"])\n'
            'feature f = x\nfeature g = _x\n')
    loaded, module = compile_both(text, tmp_path, "tables")
    assert_same_features(loaded, module, [{"a": "p"}], batch_sizes=(None,))


# ---- skewless check ---------------------------------------------------------------------------

GOOD_SPEC = """spec checked
input city: string = ""
input km: float32
input tags: string[]
input when: int64
label late: int64
feature city_id = lookup(lower(city), ["paris", "rome"], oov_buckets=2)
feature km_z = zscore(km, mean=10, std=4)
feature tag_count = count(tags)
feature hour = hour(when)
target is_late = late
"""


def test_skewless_check_passes_a_good_spec(tmp_path, capsys):
    spec = tmp_path / "checked.feat"
    spec.write_text(GOOD_SPEC, encoding="utf-8")
    assert main(["check", str(spec), "--examples", "8", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "spec is valid (4 features, 1 targets)" in out
    assert "no skew in 8 generated batches" in out and "seed 3" in out


def test_skewless_check_reads_data(tmp_path, capsys):
    spec = tmp_path / "checked.feat"
    spec.write_text(GOOD_SPEC, encoding="utf-8")
    columns = skewless.check_source(GOOD_SPEC).columns
    rows = [{"city": "Paris", "km": -0.0, "tags": [], "when": -1, "late": 1},
            {"km": math.nan, "tags": ["a", "b"], "when": 2**40, "late": 0}] * 3
    with tf.io.TFRecordWriter(str(tmp_path / "part.tfrecord")) as writer:
        for serialized in serialize(rows, columns):
            writer.write(serialized)
    assert main(["check", str(spec), "--examples", "2", "--seed", "1",
                 "--data", str(tmp_path / "*.tfrecord")]) == 0
    assert "no skew on 6 records from 1 file" in capsys.readouterr().out


def test_skewless_check_needs_data_for_analyzers(tmp_path, capsys):
    spec = tmp_path / "analyzed.feat"
    spec.write_text("input km: float32\nfeature z = zscore(km)\n", encoding="utf-8")
    assert main(["check", str(spec), "--examples", "2"]) == 1
    assert "zscore needs constants computed from training data" in capsys.readouterr().err


def test_check_spec_prints_the_smallest_counterexample(plain, tmp_path, monkeypatch, capsys):
    spec = tmp_path / "plain.feat"
    spec.write_text(FLOAT_SPEC, encoding="utf-8")
    skewed = serving_changed(plain, lambda f: tf.where(tf.equal(f, 0.0), 0.0, f), path="raw")
    monkeypatch.setattr("skewless.compiler.load", lambda path, data=None, stats=None: skewed)
    monkeypatch.setattr(check_module, "SHRINK_BUDGET", 30)
    assert check_module.check_spec(str(spec), examples=300, seed=7) == 1
    out = capsys.readouterr().out
    assert "training and serving differ" in out and "--seed 7" in out
    assert re.search(r"feature 'f' differs[\s\S]*record: \{[^}]*'x': -0\.0", out)


def test_sparse_and_fixed_columns_compare_by_components(tmp_path):
    features = load_text("input s: sparse float32[5] from (si, sv)\ninput m: int64[2, 2] = 7\n"
                         "feature s\nfeature m\nfeature c = cast(m, string)\n", tmp_path)
    batch = [{"s": [(4, -0.0), (1, math.nan)]}, {"m": [[1, 2], [3, 4]]}, {"s": []}]
    assert_no_skew(features, batch)
    with SkewChecker(features) as checker:
        first = next(iter(checker.outputs(batch).values()))["features"]
    assert first["s"][0].kind == "sparse"
    assert first["s"][0].parts[0].tolist() == [[1], [4]]
    assert first["m"][2].parts[0].tolist() == [[7, 7], [7, 7]]
    assert first["c"][1].parts[0].tolist() == [[b"1", b"2"], [b"3", b"4"]]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
