"""skewless.export_saved_model: TF Serving's signature layout (read back with
saved_model_cli), results served by a process without skewless equal the in-process
model's, vocabulary files carried as assets, atomic versions and their garbage collection,
and clear errors."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from skewless_test_helpers import assert_same_dict, example, file_vocabulary_model

import skewless
from skewless import versions
from skewless.errors import ExportError
from skewless.ir import ColumnSpec
from skewless.signatures import predict_input_specs, raw_columns
from skewless.types import Shape

SPEC = """\
spec tiny
input word: string
input count: int64 = 0
input flag: bool = false
input tags: string[]
input pos: float32[2]
input sv: sparse float32[8] from (sv_i, sv_v)
label y: int64
weight w: float32 = 1.0

feature word_id = vocab(word, vocabulary=["a", "b", "c"], oov_buckets=1)
feature count_f = cast(count, float32)
feature flag_f = cast(flag, float32)
feature tag_ids = tags | hash(buckets=8) | pad(length=3, value=-1)
feature pos
feature sv
target y = y
"""

# Served examples carry no label or weight; the second leaves out the columns with
# defaults and its sparse vector (missing means empty).
ROWS = [
    dict(word="a", count=3, flag=True, tags=["x", "y", "z"], pos=[0.5, -1.0],
         sv_i=[5, 2], sv_v=[1.5, -0.5]),
    dict(word="zzz", tags=[], pos=[0.0, 2.0]),
    dict(word="c", count=-7, flag=False, tags=["y"], pos=[1.0, 1.0], sv_i=[7], sv_v=[3.0]),
]
RECORDS = [example(**row) for row in ROWS]

# The same rows as Predict inputs, written out by hand (docs/usage.md): defaults filled in,
# variable-length and sparse columns padded (wider than needed) with their lengths.
RAW_INPUTS = {
    "word": np.array([b"a", b"zzz", b"c"], object),
    "count": np.array([3, 0, -7], np.int64),
    "flag": np.array([1, 0, 0], np.int64),
    "tags": np.array([[b"x", b"y", b"z", b""], [b"", b"", b"", b""], [b"y", b"pad", b"", b""]],
                     object),
    "tags_lengths": np.array([3, 0, 1], np.int64),
    "pos": np.array([[0.5, -1.0], [0.0, 2.0], [1.0, 1.0]], np.float32),
    "sv_indices": np.array([[5, 2, 0], [0, 0, 0], [7, 6, 6]], np.int64),
    "sv_values": np.array([[1.5, -0.5, 0.0], [0.0, 0.0, 0.0], [3.0, 9.0, 9.0]], np.float32),
    "sv_lengths": np.array([2, 0, 1], np.int64),
}

CLASSIFY, REGRESS, PREDICT = ("tensorflow/serving/classify", "tensorflow/serving/regress",
                              "tensorflow/serving/predict")
EXAMPLES_IN = {"inputs": ("DT_STRING", "(-1)")}
MODEL_OUT = {"kind": ("DT_FLOAT", "(-1, 3)"), "bin": ("DT_FLOAT", "(-1, 1)"),
             "reg": ("DT_FLOAT", "(-1, 1)")}
RAW_IN = {
    "word": ("DT_STRING", "(-1)"), "count": ("DT_INT64", "(-1)"), "flag": ("DT_INT64", "(-1)"),
    "tags": ("DT_STRING", "(-1, -1)"), "tags_lengths": ("DT_INT64", "(-1)"),
    "pos": ("DT_FLOAT", "(-1, 2)"), "sv_indices": ("DT_INT64", "(-1, -1)"),
    "sv_values": ("DT_FLOAT", "(-1, -1)"), "sv_lengths": ("DT_INT64", "(-1)"),
}
LAYOUT = {  # signature: (method name, inputs, outputs), each {key: (dtype, shape)}
    "kind": (CLASSIFY, EXAMPLES_IN, {"classes": ("DT_STRING", "(-1, 3)"),
                                     "scores": ("DT_FLOAT", "(-1, 3)")}),
    "bin": (CLASSIFY, EXAMPLES_IN, {"classes": ("DT_STRING", "(-1, 2)"),
                                    "scores": ("DT_FLOAT", "(-1, 2)")}),
    "reg": (REGRESS, EXAMPLES_IN, {"outputs": ("DT_FLOAT", "(-1)")}),
    "raw": (PREDICT, RAW_IN, MODEL_OUT),
    "raw_examples": (PREDICT, {"examples": ("DT_STRING", "(-1)")}, MODEL_OUT),
    "probs": (PREDICT, RAW_IN, {"kind": MODEL_OUT["kind"]}),
    "probs_examples": (PREDICT, {"examples": ("DT_STRING", "(-1)")}, {"kind": MODEL_OUT["kind"]}),
    "serving_default": (REGRESS, EXAMPLES_IN, {"outputs": ("DT_FLOAT", "(-1)")}),
}

# Runs in a fresh interpreter that cannot import skewless: loads each SavedModel with
# TensorFlow alone and calls the requested signatures.
SERVE = textwrap.dedent("""\
    import json, sys

    class NoSkewless:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == "skewless":
                raise ImportError("serving must not need skewless")

    sys.meta_path.insert(0, NoSkewless())
    import numpy as np
    import tensorflow as tf

    loaded = {}
    for request in json.load(open(sys.argv[1])):
        if request["dir"] not in loaded:
            loaded[request["dir"]] = tf.saved_model.load(request["dir"])
        function = loaded[request["dir"]].signatures[request["signature"]]
        inputs = np.load(request["inputs"], allow_pickle=True)
        outputs = function(**{key: tf.constant(inputs[key]) for key in inputs.files})
        np.savez(request["outputs"], **{key: value.numpy() for key, value in outputs.items()})
    assert "skewless" not in sys.modules
    print("served without skewless")
""")


def tiny_model(features) -> keras.Model:
    keras.utils.set_random_seed(7)
    inputs = features.keras_inputs()
    x = keras.layers.Concatenate()([
        keras.ops.cast(keras.ops.expand_dims(inputs["word_id"], -1), "float32"),
        keras.ops.expand_dims(inputs["count_f"], -1),
        keras.ops.expand_dims(inputs["flag_f"], -1),
        keras.ops.cast(inputs["tag_ids"], "float32"),
        inputs["pos"],
        keras.layers.Dense(2)(inputs["sv"]),
    ])
    return keras.Model(inputs, {
        "kind": keras.layers.Dense(3, activation="softmax")(x),
        "bin": keras.layers.Dense(1, activation="sigmoid")(x),
        "reg": keras.layers.Dense(1)(x),
    })


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The tiny spec's model exported with every kind of head, and the in-process model's
    outputs on RECORDS."""
    tmp = tmp_path_factory.mktemp("export")
    spec = tmp / "tiny.feat"
    spec.write_text(SPEC)
    features = skewless.load(spec)
    model = tiny_model(features)
    base = tmp / "models"
    path = skewless.export_saved_model(model, features, base, heads={
        "kind": skewless.ClassificationHead(output="kind", class_names=["red", "green", "blue"]),
        "bin": skewless.ClassificationHead(output="bin"),
        "reg": skewless.RegressionHead(output="reg"),
        "raw": skewless.PredictHead(),
        "probs": skewless.PredictHead(outputs=["kind"]),
    }, default="reg")
    expected = {key: value.numpy() for key, value in
                model(features.serving_input_receiver_fn()(tf.constant(RECORDS))).items()}
    return base, path, expected


@pytest.fixture(scope="module")
def vocabulary_file_export(tmp_path_factory):
    """A model whose table reads a vocabulary file, exported, and the file then deleted."""
    tmp = tmp_path_factory.mktemp("assets")
    vocabulary = tmp / "words.txt"
    vocabulary.write_text("a\nb\n")
    model, features = file_vocabulary_model(vocabulary)
    path = skewless.export_saved_model(model, features, tmp / "models")
    vocabulary.unlink()
    return path


@pytest.fixture(scope="module")
def served(exported, vocabulary_file_export, tmp_path_factory):
    """Every signature called by a process that never imports skewless: outputs by
    (SavedModel, signature), and what the process printed."""
    tmp = tmp_path_factory.mktemp("served")
    _, path, _ = exported
    calls = [(path, key, {"inputs": np.array(RECORDS, object)}) for key in ("kind", "bin", "reg")]
    calls += [(path, "serving_default", {"inputs": np.array(RECORDS, object)}),
              (path, "raw", RAW_INPUTS), (path, "probs", RAW_INPUTS),
              (path, "raw_examples", {"examples": np.array(RECORDS, object)}),
              (vocabulary_file_export, "serving_default",
               {"word": np.array([b"b", b"a", b"zz"], object)})]
    requests = []
    for i, (directory, signature, inputs) in enumerate(calls):
        np.savez(tmp / f"in{i}.npz", **inputs)
        requests.append({"dir": str(directory), "signature": signature,
                         "inputs": str(tmp / f"in{i}.npz"), "outputs": str(tmp / f"out{i}.npz")})
    (tmp / "requests.json").write_text(json.dumps(requests))
    (tmp / "serve.py").write_text(SERVE)
    result = subprocess.run([sys.executable, str(tmp / "serve.py"), str(tmp / "requests.json")],
                            cwd=tmp, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = {(str(directory), signature): dict(np.load(tmp / f"out{i}.npz", allow_pickle=True))
               for i, (directory, signature, _) in enumerate(calls)}
    return outputs, result.stdout


@pytest.fixture(scope="module")
def layout(exported) -> dict:
    """``saved_model_cli show --all`` of the export, read back as
    {signature: (method name, inputs, outputs)}."""
    _, path, _ = exported
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run([cli, "show", "--all", "--dir", str(path)], capture_output=True,
                            text=True, timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    layout = {}
    for block in result.stdout.split("signature_def['")[1:]:
        key = block.split("'", 1)[0]
        method = re.search(r"Method name is: (\S*)", block).group(1)
        tensors = {"inputs": {}, "outputs": {}}
        for kind, name, dtype, shape in re.findall(
                r"(inputs|outputs)\['([^']+)'\] tensor_info:\s+dtype: (\S+)\s+shape: (.+)", block):
            tensors[kind][name] = (dtype, shape.strip())
        layout[key] = (method, tensors["inputs"], tensors["outputs"])
    layout.pop("__saved_model_init_op")
    return layout


# ---- the signatures ---------------------------------------------------------------------

def test_signatures_follow_tf_serving_layout(layout):
    assert layout == LAYOUT


def test_no_signature_has_a_label_or_the_weight(layout):
    for key, (_, inputs, outputs) in layout.items():
        names = set(inputs) | set(outputs)
        assert not names & {"y", "w", "sv_i", "sv_v"}, key


def test_fingerprint_matches_rewritten_saved_model(exported):
    from tensorflow.core.protobuf import fingerprint_pb2
    from tensorflow.python.saved_model.pywrap_saved_model import fingerprinting

    _, path, _ = exported
    recomputed = fingerprint_pb2.FingerprintDef.FromString(
        fingerprinting.CreateFingerprintDef(str(path)))
    on_disk = tf.saved_model.experimental.read_fingerprint(str(path))
    assert on_disk.saved_model_checksum == recomputed.saved_model_checksum


# ---- serving results --------------------------------------------------------------------

def test_served_by_tensorflow_alone(served):
    _, stdout = served
    assert "served without skewless" in stdout


def test_classify_matches_in_process_model(exported, served):
    _, path, expected = exported
    outputs, _ = served
    kind = outputs[(str(path), "kind")]
    np.testing.assert_array_equal(kind["classes"], [[b"red", b"green", b"blue"]] * 3)
    np.testing.assert_allclose(kind["scores"], expected["kind"], rtol=1e-6)
    binary = outputs[(str(path), "bin")]
    p = expected["bin"][:, 0]
    np.testing.assert_array_equal(binary["classes"], [[b"0", b"1"]] * 3)
    np.testing.assert_allclose(binary["scores"], np.stack([1 - p, p], axis=1), rtol=1e-6)


def test_regress_and_serving_default_match_in_process_model(exported, served):
    _, path, expected = exported
    outputs, _ = served
    for key in ("reg", "serving_default"):
        regressed = outputs[(str(path), key)]["outputs"]
        assert regressed.shape == (3,)
        np.testing.assert_allclose(regressed, expected["reg"][:, 0], rtol=1e-6)


def test_predict_over_raw_columns_and_examples_match_in_process_model(exported, served):
    _, path, expected = exported
    outputs, _ = served
    for key in ("raw", "raw_examples"):
        predicted = outputs[(str(path), key)]
        assert sorted(predicted) == ["bin", "kind", "reg"]
        for name, value in predicted.items():
            np.testing.assert_allclose(value, expected[name], rtol=1e-6, err_msg=f"{key} {name}")
    assert sorted(outputs[(str(path), "probs")]) == ["kind"]
    np.testing.assert_allclose(outputs[(str(path), "probs")]["kind"], expected["kind"], rtol=1e-6)


def test_vocabulary_file_is_carried_as_an_asset(vocabulary_file_export, served):
    outputs, _ = served
    with open(os.path.join(vocabulary_file_export, "assets", "words.txt")) as handle:
        assert handle.read() == "a\nb\n"
    ids = outputs[(str(vocabulary_file_export), "serving_default")]["output"]
    np.testing.assert_array_equal(ids, [1.0, 0.0, 2.0])  # b, a, out of vocabulary


def test_predict_inputs_rebuild_what_parse_example_gives(tiny):
    features, _ = tiny
    parsed = tf.io.parse_example(tf.constant(RECORDS), features.SERVING_FEATURE_SPEC)
    rebuilt = raw_columns({key: tf.constant(value) for key, value in RAW_INPUTS.items()},
                          features.serving_columns)
    assert_same_dict(dict(sorted(rebuilt.items())), dict(sorted(parsed.items())))


@pytest.fixture(scope="module")
def loaded(exported):
    _, path, _ = exported
    return tf.saved_model.load(path)


@pytest.mark.parametrize("change, message", [
    ({"tags_lengths": [5, 0, 1]}, "tags_lengths must not exceed the padded width"),
    ({"tags_lengths": [3, -1, 1]}, "tags_lengths must not be negative"),
    ({"sv_lengths": [2, 0]}, "sv_lengths must have one length per example"),
    ({"sv_indices": [[5, 8, 0], [0, 0, 0], [7, 0, 0]]},
     r"example 0: sparse column sv \(inputs sv_indices, sv_values\): index 8 is outside \[0, 8\)"),
    ({"sv_indices": [[5, -1, 0], [0, 0, 0], [7, 0, 0]]}, r"example 0: .*index -1 is outside"),
    ({"sv_indices": [[5, 5, 0], [0, 0, 0], [7, 0, 0]]}, "example 0: .*index 5 is given twice"),
    ({"count": [3]}, "columns word and count have different batch sizes"),
    ({"pos": [[0.5, -1.0]] * 4}, "columns word and pos have different batch sizes"),
    ({"tags": [[b"x"]], "tags_lengths": [1]}, "columns word and tags have different batch sizes"),
    ({"sv_indices": [[1]], "sv_values": [[2.0]], "sv_lengths": [1]},
     "columns word and sv have different batch sizes"),
])
def test_bad_predict_inputs_are_invalid_argument_errors(loaded, change, message):
    raw = loaded.signatures["raw"]
    inputs = {**RAW_INPUTS, **{key: np.array(value, RAW_INPUTS[key].dtype)
                               for key, value in change.items()}}
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        raw(**{key: tf.constant(value) for key, value in inputs.items()})


# ---- versions ---------------------------------------------------------------------------

def test_export_writes_a_numbered_version_and_nothing_else(exported):
    base, path, _ = exported
    assert os.path.dirname(path) == str(base)
    assert re.fullmatch(r"[0-9]+", os.path.basename(path))
    assert os.listdir(base) == [os.path.basename(path)]


def write_marker(directory):
    with open(os.path.join(directory, "saved_model.pb"), "w") as handle:
        handle.write("model")


def test_versions_are_unix_seconds_then_the_next_free_number(tmp_path, monkeypatch):
    monkeypatch.setattr(versions.time, "time", lambda: 1_700_000_000.7)
    first = versions.write_version(str(tmp_path), write_marker, keep=None)
    second = versions.write_version(str(tmp_path), write_marker, keep=None)
    assert (os.path.basename(first), os.path.basename(second)) == ("1700000000", "1700000001")
    (tmp_path / "1800000000").mkdir()  # a version from a clock that was ahead
    third = versions.write_version(str(tmp_path), write_marker, keep=None)
    assert os.path.basename(third) == "1800000001"


def test_version_appears_only_when_complete(tmp_path):
    seen = []

    def write(directory):
        seen.append((os.path.dirname(directory), os.path.basename(directory),
                     versions.versions(str(tmp_path))))
        write_marker(directory)

    path = versions.write_version(str(tmp_path), write, keep=None)
    parent, name, during = seen[0]
    assert parent == str(tmp_path) and not name.isdigit() and during == []
    assert (tmp_path / os.path.basename(path) / "saved_model.pb").read_text() == "model"


def test_keep_removes_the_oldest_versions_only(tmp_path):
    for name in ("100", "200", "300", "notes", ".tmp-crashed", "12abc"):
        (tmp_path / name).mkdir()
    newest = versions.write_version(str(tmp_path), write_marker, keep=2)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["300", os.path.basename(newest), "notes", ".tmp-crashed", "12abc"])


def test_failed_write_leaves_no_version_and_no_staging(tmp_path):
    (tmp_path / "100").mkdir()

    def fail(directory):
        write_marker(directory)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        versions.write_version(str(tmp_path), fail, keep=1)
    assert os.listdir(tmp_path) == ["100"]


@pytest.mark.parametrize("keep", [0, -1, 1.5, True, "3"])
def test_keep_must_be_a_positive_count(tmp_path, keep):
    with pytest.raises(ExportError, match="keep must be a positive number"):
        versions.write_version(str(tmp_path), write_marker, keep=keep)
    assert not any(tmp_path.iterdir())


# ---- user mistakes ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    spec = tmp_path_factory.mktemp("tiny") / "tiny.feat"
    spec.write_text(SPEC)
    features = skewless.load(spec)
    return features, tiny_model(features)


@pytest.mark.parametrize("heads, default, message", [
    ({"k": skewless.ClassificationHead(output="nope")}, None,
     "head 'k': the model has no output 'nope'; its outputs are \\['bin', 'kind', 'reg'\\]"),
    ({"k": skewless.ClassificationHead(output="kind", class_names=["a", "b"])}, None,
     "head 'k': 2 class_names for 3 classes"),
    ({"k": skewless.ClassificationHead(output="bin", class_names=["a", "b", "c"])}, None,
     r"3 class_names for 2 classes \(a one-unit output is binary"),
    ({"k": skewless.RegressionHead()}, None, "name the one this head serves with output="),
    ({"k": skewless.RegressionHead(output="kind")}, None,
     r"a regression output must have shape \[batch\] or \[batch, 1\]"),
    ({"k": skewless.PredictHead(), "k_examples": skewless.PredictHead()}, None,
     "head 'k_examples' makes signature 'k_examples', which another signature has"),
    ({"k": skewless.PredictHead()}, "other", "default='other' is not one of the heads"),
    ({"k": "predict"}, None,
     "head 'k' must be a ClassificationHead, RegressionHead or PredictHead"),
    ({}, None, "heads is empty"),
])
def test_mistakes_are_export_errors_and_leave_nothing(tiny, tmp_path, heads, default, message):
    features, model = tiny
    with pytest.raises(ExportError, match=message):
        skewless.export_saved_model(model, features, tmp_path / "models", heads, default=default)
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def _one_input_model():  # named after the raw column, not the feature
    word = keras.Input(shape=(1,), name="word")
    return keras.Model(word, keras.layers.Dense(1)(word))


def _wrong_shape_model():
    inputs = {"pos": keras.Input(shape=(3,), name="pos")}
    return keras.Model(inputs, keras.layers.Dense(1)(inputs["pos"]))


def _wrong_name_model():
    inputs = {"position": keras.Input(shape=(2,), name="position")}
    return keras.Model(inputs, keras.layers.Dense(1)(inputs["position"]))


def _raw_column_model():  # takes the raw column 'count' (an int64 scalar), not the feature
    inputs = {"count": keras.Input(shape=(), name="count", dtype="int64")}
    return keras.Model(inputs, keras.ops.cast(inputs["count"], "float32"))


class Refusing(keras.Model):
    def call(self, inputs, training=False):
        raise TypeError("this model takes a tensor, not a dict")


@pytest.mark.parametrize("make_model, said", [
    (_one_input_model, 'Missing data for input "word"'),
    (_wrong_shape_model, "is incompatible"),  # Keras's words, as 3.5 and later have them
    (_wrong_name_model, "it takes 'position', which is not a feature"),
    (_raw_column_model, "count"),
    (Refusing, "this model takes a tensor, not a dict"),
])
def test_a_model_not_built_on_keras_inputs_is_an_export_error(tiny, tmp_path, make_model,
                                                             said):
    features, _ = tiny
    with pytest.raises(ExportError) as raised:
        skewless.export_saved_model(make_model(), features, tmp_path / "models")
    message = str(raised.value)
    assert message.startswith("head 'predict': the model cannot be called on the features: ")
    assert said in message and "\x1b" not in message and "Arguments received" not in message
    assert ("build it on keras_inputs()" in message and "word_id (int64, shape ())" in message
            and "tag_ids (int64, shape (3,))" in message
            and "sv (float32, shape (8,), sparse)" in message)
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_features_must_be_compiled_features(tiny, tmp_path):
    _, model = tiny
    with pytest.raises(ExportError, match="features must be a module generated by"):
        skewless.export_saved_model(model, {"word": 1}, tmp_path)


def test_class_names_must_be_strings():
    with pytest.raises(ExportError, match="class_names must be a non-empty list of strings"):
        skewless.ClassificationHead(class_names=[0, 1])


def test_default_is_the_first_head_unless_named():
    from skewless.export import default_head

    heads = {"b": skewless.PredictHead(), "a": skewless.PredictHead()}
    assert default_head(heads, None) == "b"
    assert default_head(heads, "a") == "a"
    assert default_head({"a": skewless.PredictHead(), "serving_default": skewless.PredictHead()},
                        None) == "serving_default"


def test_generated_predict_input_names_may_not_collide():
    columns = [ColumnSpec("tags", "input", "string", Shape("variable")),
               ColumnSpec("tags_lengths", "input", "int64", Shape("scalar"))]
    with pytest.raises(ExportError, match="'tags_lengths' of column 'tags_lengths' has the name "
                                          "of an input of column 'tags'"):
        predict_input_specs(columns)


def test_flights_example_serves_what_it_trained(tmp_path):
    """examples/flights/export.py end to end: the exported signatures give the in-process
    model's numbers on the serving records."""
    script = os.path.join(os.path.dirname(__file__), "..", "examples", "flights", "export.py")
    result = subprocess.run([sys.executable, script, "--out", str(tmp_path)], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split() for line in result.stdout.splitlines()
            if re.fullmatch(r"(\s+-?[0-9.]+){4}", line)]
    assert len(rows) == 5
    for served_late, in_process_late, served_delay, in_process_delay in rows:
        assert (served_late, served_delay) == (in_process_late, in_process_delay)
    assert versions.versions(str(tmp_path / "models"))
