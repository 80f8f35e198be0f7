"""skewless drift / stats --request-log: a request log profiled as the tf.Examples its
requests stand for — a Predict request's raw input tensors and a Classify request's
tf.Examples of the same rows give the same profile, equal to that of the rows as a --data
file; a record the spec cannot read is a data error naming the file and the record; end to
end, the bundled example's model served with --request-log, a shifted sample named by
drift with exit status 1, an unshifted one passing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from skewless_test_helpers import write_records
from test_serve import Server
from test_serve_batching import rest_raw
from tensorflow_serving.apis import (classification_pb2, predict_pb2, prediction_log_pb2,
                                     regression_pb2)

from skewless import cli
from skewless.serve.request_log import prediction_log

pytestmark = pytest.mark.usefixtures("quiet_tensorflow")

REPO = Path(__file__).resolve().parent.parent
SPEC = str(REPO / "examples" / "flights" / "flights.feat")
sys.path.insert(0, str(REPO / "examples" / "flights"))
from make_data import generate_rows, to_example_bytes  # noqa: E402

DEFAULTS = {"tailnum": "", "dep_delay": 0.0}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The bundled example's data and exported model; its stats and training profile."""
    from export import train_and_export

    root = tmp_path_factory.mktemp("flights")
    train_and_export(root)
    train = str(root / "data" / "train-*.tfrecord")
    stats, baseline = str(root / "stats.json"), str(root / "train.profile.json")
    assert cli.main(["analyze", SPEC, "--data", train, "-o", stats]) == 0
    assert cli.main(["stats", SPEC, "--stats", stats, "--data", train, "-o", baseline]) == 0
    return {"root": root, "stats": stats, "baseline": baseline, "models": root / "models"}


def rows(seed: int, count: int, filled: bool = False) -> list:
    """Rows of the example's generator; ``filled``: absent values given their defaults."""
    made = generate_rows(np.random.default_rng(seed), count, with_label=False)
    if filled:
        made = [{k: DEFAULTS[k] if v is None else v for k, v in row.items()} for row in made]
    return made


def examples(rows_) -> list:
    return [tf.train.Example.FromString(to_example_bytes(row)) for row in rows_]


def predict_inputs(rows_) -> dict:
    """The raw Predict inputs of a skewless export (docs/usage.md): tags padded, with lengths."""
    width = max(len(row["tags"]) for row in rows_)
    inputs = {name: np.array([row[name] for row in rows_], dtype)
              for name, dtype in (("carrier", object), ("origin", object), ("dest", object),
                                  ("tailnum", object), ("distance", np.int64),
                                  ("sched_dep_time", np.int64), ("dep_delay", np.float32),
                                  ("position", np.float32))}
    for name in ("carrier", "origin", "dest", "tailnum"):
        inputs[name] = np.array([value.encode() for value in inputs[name]], object)
    inputs["tags"] = np.array([[t.encode() for t in row["tags"]] + [b"pad"] * (width - len(row["tags"]))
                               for row in rows_], object).reshape(len(rows_), width)
    inputs["tags_lengths"] = np.array([len(row["tags"]) for row in rows_], np.int64)
    return inputs


def _spec(message, signature):
    message.model_spec.name, message.model_spec.signature_name = "flights", signature
    message.model_spec.version.value = 1
    return message


def write_log(folder: Path, entries: list) -> Path:
    """A log file of (api, request, response) entries, as the server writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    write_records(folder / "requests-1.tfrecord",
                  [prediction_log(api, request, response, 1.0) for api, request, response in entries])
    return folder


def predict_entry(inputs: dict, signature="predict"):
    request = _spec(predict_pb2.PredictRequest(), signature)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return "Predict", request, _spec(predict_pb2.PredictResponse(), signature)


def classify_entry(examples_):
    request = _spec(classification_pb2.ClassificationRequest(), "late")
    request.input.example_list.examples.extend(examples_)
    return "Classify", request, _spec(classification_pb2.ClassificationResponse(), "late")


def profile_of(trained, tmp_path, name, *source) -> dict:
    out = tmp_path / f"{name}.profile.json"
    assert cli.main(["stats", SPEC, "--stats", trained["stats"], "--baseline",
                     trained["baseline"], *source, "-o", str(out)]) == 0
    return json.loads(out.read_text())


# ---- the same rows, as Predict inputs, as Classify examples, as --data --------------------

def test_predict_inputs_and_classify_examples_of_the_same_rows_give_the_same_profile(
        trained, tmp_path):
    made = rows(11, 300, filled=True)
    predict_log = write_log(tmp_path / "predict", [
        predict_entry(predict_inputs(made[i:i + 50])) for i in range(0, 300, 50)])
    classify_log = write_log(tmp_path / "classify", [
        classify_entry(examples(made[i:i + 70])) for i in range(0, 300, 70)])
    examples_log = write_log(tmp_path / "examples", [predict_entry(
        {"examples": np.array([to_example_bytes(r) for r in made], object)}, "predict_examples")])
    # a Classify signature called through Predict: its one input is "inputs"
    inputs_log = write_log(tmp_path / "inputs", [predict_entry(
        {"inputs": np.array([to_example_bytes(r) for r in made[i:i + 90]], object)},
        "serving_default") for i in range(0, 300, 90)])
    data = write_records(tmp_path / "rows.tfrecord", [to_example_bytes(r) for r in made])
    by_predict = profile_of(trained, tmp_path, "predict", "--request-log", str(predict_log))
    by_classify = profile_of(trained, tmp_path, "classify", "--request-log", str(classify_log))
    by_examples = profile_of(trained, tmp_path, "examples", "--request-log", str(examples_log))
    by_inputs = profile_of(trained, tmp_path, "inputs", "--request-log", str(inputs_log))
    by_data = profile_of(trained, tmp_path, "data", "--data", data)
    assert by_predict["records"] == 300
    assert by_predict["inputs"]["tags"]["lengths"]  # variable lengths came through
    assert by_predict == by_classify == by_examples == by_inputs == by_data


# ---- records the spec cannot read ----------------------------------------------------------

def test_records_the_spec_cannot_read_are_data_errors_naming_file_and_record(
        trained, tmp_path, capsys):
    made = rows(12, 40, filled=True)
    other_model = predict_entry({"x": np.array([1.0, 2.0], np.float32)}, "other")
    wrong_dtype = predict_entry({**predict_inputs(made[:2]),
                                 "distance": np.array([1.0, 2.0], np.float64)})
    folder = write_log(tmp_path / "log", [classify_entry(examples(made[:20])), other_model,
                                          wrong_dtype, classify_entry(examples(made[20:]))])
    session = prediction_log_pb2.PredictionLog()
    session.session_run_log.SetInParent()
    example = to_example_bytes(made[0])  # a tf.Example, not a log: no log type in it
    write_records(folder / "requests-2.tfrecord",
                  [session.SerializeToString(), b"\x08garbage", example])
    (folder / ".requests-3.tfrecord.tmp").write_bytes(b"half a record")  # being written: unread
    status = cli.main(["drift", SPEC, "--baseline", trained["baseline"], "--stats",
                       trained["stats"], "--request-log", str(folder), "--format", "json"])
    out, err = capsys.readouterr()
    assert status == 1
    first = str(folder / "requests-1.tfrecord")
    second = str(folder / "requests-2.tfrecord")
    assert (f"{first}: record 1: a Predict request of model 'flights' version 1 signature "
            f"'other' whose inputs (x) are neither the raw inputs of spec 'flights'") in err
    assert f"{first}: record 2: Predict input 'distance' is float64, where the spec's is int64" in err
    assert f"{second}: record 0: a session_run_log record" in err
    assert f"{second}: record 1: not a tensorflow.serving.PredictionLog" in err
    assert (f"{second}: record 2: not a log of a Predict, Classify or Regress request (a "
            f"tensorflow.serving.PredictionLog without one)") in err
    assert "5 of 45 records break the spec" in err and "Traceback" not in err
    assert json.loads(out)["other"] == str(folder)


def test_a_folder_without_complete_files_is_an_error(trained, tmp_path, capsys):
    (tmp_path / ".requests-1.tfrecord.tmp").write_bytes(b"")
    for folder in (tmp_path, tmp_path / "missing"):
        assert cli.main(["drift", SPEC, "--baseline", trained["baseline"], "--stats",
                         trained["stats"], "--request-log", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "no complete request log file" in err and "not a folder" in err
    assert "Traceback" not in err


# ---- end to end: serve with a request log, drift on it -------------------------------------

def _rest_example(example) -> dict:
    """A tf.Example as a REST example object."""
    row = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values = list(getattr(feature, kind).value)
        values = [v.decode() for v in values] if kind == "bytes_list" else values
        row[name] = values if name in ("tags", "position") else values[0]
    return row


def serve_and_log(trained, folder: Path, sample: list) -> None:
    """Serve the example's model with --request-log, send ``sample`` (Classify over gRPC,
    Regress over REST), stop the server with SIGTERM."""
    server = Server(trained["models"], "--request-log", str(folder), name="flights")
    try:
        for start in range(0, len(sample), 25):
            chunk = examples(sample[start:start + 25])
            if start % 50:
                request = classification_pb2.ClassificationRequest()
                request.model_spec.name, request.model_spec.signature_name = "flights", "late"
                request.input.example_list.examples.extend(chunk)
                server.stub.Classify(request, 60.0)
            else:
                body = {"signature_name": "delay", "examples": [_rest_example(e) for e in chunk]}
                status, reply = rest_raw(server.rest_port, "POST", "/v1/models/flights:regress",
                                         body)
                assert status == 200, reply
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0
    finally:
        server.stop()


def drift_of(trained, folder: Path):
    return subprocess.run(
        [sys.executable, "-m", "skewless", "drift", SPEC, "--baseline", trained["baseline"],
         "--stats", trained["stats"], "--request-log", str(folder)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_served_requests_from_a_shifted_distribution_are_named_by_drift(trained, tmp_path):
    shifted = rows(21, 1000)
    for row in shifted:
        row["distance"] = int(row["distance"]) * 3 + 500
    same = rows(22, 1000)
    serve_and_log(trained, tmp_path / "shifted", shifted)
    serve_and_log(trained, tmp_path / "same", same)

    moved = drift_of(trained, tmp_path / "shifted")
    assert moved.returncode == 1, moved.stderr
    assert "columns past a threshold: " in moved.stderr
    named = moved.stderr.split("columns past a threshold: ")[1].split(", ")
    assert {name.strip() for name in named} == {"distance", "distance_z"}, moved.stderr
    lines = moved.stdout.splitlines()
    assert lines[1].split()[:3] == ["FAIL", "input", "distance"] or \
        lines[1].split()[:3] == ["FAIL", "feature", "distance_z"], moved.stdout

    unmoved = drift_of(trained, tmp_path / "same")
    assert unmoved.returncode == 0, unmoved.stdout + unmoved.stderr
    assert "0 of " in unmoved.stderr and "Traceback" not in moved.stderr + unmoved.stderr


# ---- a log of several models ----------------------------------------------------------------

def test_the_requests_of_one_model_are_profiled_from_a_log_of_several(trained, tmp_path, capsys):
    made = rows(13, 60, filled=True)
    other = classify_entry(examples(made[:25]))
    for message in other[1:]:
        message.model_spec.name = "other"
    folder = write_log(tmp_path / "log", [classify_entry(examples(made[25:45])), other,
                                          classify_entry(examples(made[45:]))])
    only = profile_of(trained, tmp_path, "flights", "--request-log", str(folder),
                      "--model-name", "flights")
    alone = profile_of(trained, tmp_path, "alone", "--request-log", str(write_log(
        tmp_path / "alone", [classify_entry(examples(made[25:]))])))
    assert only["records"] == 35 and only == alone
    capsys.readouterr()
    out = tmp_path / "mixed.profile.json"
    assert cli.main(["stats", SPEC, "--stats", trained["stats"], "--request-log", str(folder),
                     "-o", str(out)]) == 1  # the first record's model, the other's an error
    err = capsys.readouterr().err
    assert (f"{folder / 'requests-1.tfrecord'}: record 1: a request of model 'other', where "
            f"the log's first is of model 'flights': give --model-name") in err
    assert json.loads(out.read_text())["records"] == 35
    assert cli.main(["stats", SPEC, "--stats", trained["stats"], "--data", str(folder / "x"),
                     "--model-name", "flights", "-o", str(out)]) == 1
    assert "--model-name chooses the requests of a model in a request log" in \
        capsys.readouterr().err
    assert cli.main(["stats", SPEC, "--stats", trained["stats"], "--request-log", str(folder),
                     "--model-name", "flight", "-o", str(out)]) == 1  # a model it lacks
    err = capsys.readouterr().err
    assert ("no request of model 'flight' in the request log; it holds requests of 'flights', "
            "'other': give one of them to --model-name") in err and "Traceback" not in err


def test_an_output_in_the_request_log_folder_is_refused(trained, tmp_path, capsys):
    folder = write_log(tmp_path / "log", [classify_entry(examples(rows(14, 5, filled=True)))])
    kept = (folder / "requests-1.tfrecord").read_bytes()
    for command in (["stats"], ["drift", "--baseline", trained["baseline"]]):
        for output in ("requests-1.tfrecord", "new.json"):
            status = cli.main([command[0], SPEC, *command[1:], "--stats", trained["stats"],
                               "--request-log", str(folder), "-o", str(folder / output)])
            err = capsys.readouterr().err
            assert status == 1 and "is in the request log folder" in err, err
    assert sorted(p.name for p in folder.iterdir()) == ["requests-1.tfrecord"]
    assert (folder / "requests-1.tfrecord").read_bytes() == kept
