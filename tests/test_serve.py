"""skewless serve: TF Serving's gRPC API through the official client stubs, its REST API,
JSON numbers typed by the model's parse spec, every kind of bad request (and the server
answering afterwards), hot pickup of new versions under concurrent load from several
processes, SIGTERM, and a model exported by skewless.export_saved_model end to end.

Expected values are computed here in plain Python from the test models' formula
(serve_models.expected_z), or by the exported Keras model in this process."""
from __future__ import annotations

import base64
import http.client
import json
import math
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from serve_models import CLASS_NAMES, MANY_OUTPUTS, expected_z, write_flights_version
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2,
                                     get_model_status_pb2, model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc, regression_pb2)

import skewless
from skewless import cli

MODEL = "flights"
MAX_BATCH = 8
READY = re.compile(r"gRPC on [^:]+:(\d+), REST on http://[^:]+:(\d+)")
Code = grpc.StatusCode


class Server:
    """``skewless serve`` in a subprocess on free loopback ports (``--port 0``); ``base``
    None: the models are given by ``options`` (a ``--model_config_file``)."""

    def __init__(self, base, *options, name=MODEL):
        self.base = str(base)
        model = [] if base is None else [str(base), "--model-name", name]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "skewless", "serve", *model, "--port", "0", "--rest-port",
             "0", *options],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self.log: list[str] = []
        self._logged = threading.Condition()
        threading.Thread(target=self._read_log, daemon=True).start()
        ready = self.wait_for_log(READY, timeout=90)
        self.grpc_port, self.rest_port = int(ready[1]), int(ready[2])
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.model_stub = model_service_pb2_grpc.ModelServiceStub(self.channel)

    def _read_log(self):
        for line in self.process.stderr:
            with self._logged:
                self.log.append(line.rstrip("\n"))
                self._logged.notify_all()

    def wait_for_log(self, pattern, timeout=30):
        pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._logged:
            while True:
                for line in self.log:
                    match = pattern.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                assert remaining > 0 and self.process.poll() is None, \
                    f"server never logged {pattern.pattern!r}:\n" + "\n".join(self.log)
                self._logged.wait(min(remaining, 0.5))

    def rest(self, method, path, body=None):
        return rest_call(self.rest_port, method, path, body)

    def stop(self):
        self.channel.close()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def rest_call(port, method, path, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = body if body is None or isinstance(body, (bytes, str)) else json.dumps(body)
        connection.request(method, path, body=data)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Versions 1 and 2 of the test model; version 2 serves."""
    base = tmp_path_factory.mktemp("serve") / "flights"
    write_flights_version(str(base), 1)
    write_flights_version(str(base), 2)
    running = Server(base, "--max-batch-size", str(MAX_BATCH))
    yield running
    running.stop()


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def float_feature(example, name, *values):
    example.features.feature[name].float_list.value.extend(values)


def int_feature(example, name, *values):
    example.features.feature[name].int64_list.value.extend(values)


def bytes_feature(example, name, *values):
    example.features.feature[name].bytes_list.value.extend(values)


def classification_request(signature="classify", version=None, name=MODEL):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    return request


def predict_request(inputs, signature="", version=None, name=MODEL):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


FLIGHTS = [(250.0, 0, "AA"), (80.0, 2, "UA")]  # (distance, hour, carrier)


def flights_inputs(rows=FLIGHTS):
    return {"distance": np.array([r[0] for r in rows], np.float32),
            "hour": np.array([r[1] for r in rows], np.int64),
            "carrier": np.array([r[2].encode() for r in rows], object)}


# ---- gRPC, through the official stubs ------------------------------------------------------

def test_grpc_classify_as_in_the_tensorflow_guide(server):
    request = classification_request()
    for distance, hour, carrier in FLIGHTS:
        example = request.input.example_list.examples.add()
        example.features.feature["distance"].float_list.value.extend([distance])
        example.features.feature["hour"].int64_list.value.extend([hour])
        example.features.feature["carrier"].bytes_list.value.extend([carrier.encode()])
    response = server.stub.Classify(request, 30.0)
    assert (response.model_spec.name, response.model_spec.version.value,
            response.model_spec.signature_name) == (MODEL, 2, "classify")
    assert len(response.result.classifications) == len(FLIGHTS)
    for classification, row in zip(response.result.classifications, FLIGHTS):
        late = sigmoid(expected_z(2, *row))
        assert [c.label for c in classification.classes] == list(CLASS_NAMES)
        assert [c.score for c in classification.classes] == pytest.approx([1 - late, late],
                                                                          abs=1e-6)


def test_grpc_classify_with_context_and_defaults(server):
    """Context features go into every example, an example's own feature wins, and a
    feature with a default may be left out."""
    request = classification_request()
    context = request.input.example_list_with_context.context
    bytes_feature(context, "carrier", b"AA")
    int_feature(context, "hour", 3)
    float_feature(request.input.example_list_with_context.examples.add(), "distance", 100.0)
    own = request.input.example_list_with_context.examples.add()
    float_feature(own, "distance", 40.0)
    int_feature(own, "hour", 1)
    bare = classification_request()
    float_feature(bare.input.example_list.examples.add(), "distance", 10.0)
    scores = [[c.score for c in result.classes] for request_ in (request, bare)
              for result in server.stub.Classify(request_, 30.0).result.classifications]
    expected = [expected_z(2, 100.0, 3, "AA"), expected_z(2, 40.0, 1, "AA"), expected_z(2, 10.0)]
    assert [s[1] for s in scores] == pytest.approx([sigmoid(z) for z in expected], abs=1e-6)


def test_grpc_regress_latest_and_a_chosen_version(server):
    for version, answering in ((None, 2), (1, 1), (2, 2)):
        request = regression_pb2.RegressionRequest()
        request.model_spec.name = MODEL
        request.model_spec.signature_name = "regress"
        if version is not None:
            request.model_spec.version.value = version
        for distance, hour, carrier in FLIGHTS:
            example = request.input.example_list.examples.add()
            float_feature(example, "distance", distance)
            int_feature(example, "hour", hour)
            bytes_feature(example, "carrier", carrier.encode())
        response = server.stub.Regress(request, 30.0)
        assert response.model_spec.version.value == answering
        assert [r.value for r in response.result.regressions] == pytest.approx(
            [expected_z(answering, *row) for row in FLIGHTS], abs=1e-5)


def test_grpc_predict_with_tensor_protos(server):
    response = server.stub.Predict(predict_request(flights_inputs()), 30.0)
    assert (response.model_spec.version.value, response.model_spec.signature_name) == \
        (2, "serving_default")
    assert set(response.outputs) == {"z", "carrier_length"}
    assert tf.make_ndarray(response.outputs["z"]).tolist() == pytest.approx(
        [expected_z(2, *row) for row in FLIGHTS], abs=1e-5)
    assert tf.make_ndarray(response.outputs["carrier_length"]).tolist() == [2, 2]

    request = predict_request(flights_inputs(), signature="predict", version=1)
    request.output_filter.append("z")
    response = server.stub.Predict(request, 30.0)
    assert response.model_spec.version.value == 1 and set(response.outputs) == {"z"}
    assert tf.make_ndarray(response.outputs["z"]).tolist() == pytest.approx(
        [expected_z(1, *row) for row in FLIGHTS], abs=1e-5)


def test_grpc_predict_over_serialized_examples(server):
    examples = []
    for distance, hour, carrier in FLIGHTS:
        example = tf.train.Example()
        float_feature(example, "distance", distance)
        int_feature(example, "hour", hour)
        bytes_feature(example, "carrier", carrier.encode())
        examples.append(example.SerializeToString())
    request = predict_request({"examples": np.array(examples, object)}, "predict_examples")
    response = server.stub.Predict(request, 30.0)
    assert tf.make_ndarray(response.outputs["z"]).tolist() == pytest.approx(
        [expected_z(2, *row) for row in FLIGHTS], abs=1e-5)


def test_grpc_model_metadata_and_status(server):
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = MODEL
    request.metadata_field.append("signature_def")
    response = server.stub.GetModelMetadata(request, 30.0)
    assert response.model_spec.version.value == 2
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    defs = signatures.signature_def
    assert {k: defs[k].method_name for k in ("classify", "regress", "predict")} == {
        "classify": "tensorflow/serving/classify", "regress": "tensorflow/serving/regress",
        "predict": "tensorflow/serving/predict"}
    assert {k: tf.as_dtype(v.dtype).name for k, v in defs["predict"].inputs.items()} == {
        "distance": "float32", "hour": "int64", "carrier": "string"}

    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = MODEL
    status_request.model_spec.version.value = 2
    status = server.model_stub.GetModelStatus(status_request, 30.0).model_version_status
    assert [(s.version, s.state) for s in status] == [
        (2, get_model_status_pb2.ModelVersionStatus.AVAILABLE)]


# ---- REST -------------------------------------------------------------------------------------

def test_rest_predict_row_format(server):
    status, reply = server.rest("POST", f"/v1/models/{MODEL}:predict", {"instances": [
        {"distance": d, "hour": h, "carrier": c} for d, h, c in FLIGHTS]})
    assert status == 200
    assert [p["carrier_length"] for p in reply["predictions"]] == [2, 2]
    assert [p["z"] for p in reply["predictions"]] == pytest.approx(
        [expected_z(2, *row) for row in FLIGHTS], abs=1e-5)


def test_rest_predict_columnar_format_and_a_chosen_version(server):
    status, reply = server.rest("POST", f"/v1/models/{MODEL}/versions/1:predict", {
        "signature_name": "predict",
        "inputs": {"distance": [d for d, _, _ in FLIGHTS], "hour": [h for _, h, _ in FLIGHTS],
                   "carrier": [c for _, _, c in FLIGHTS]}})
    assert status == 200
    assert reply["outputs"]["carrier_length"] == [2, 2]
    assert reply["outputs"]["z"] == pytest.approx([expected_z(1, *row) for row in FLIGHTS],
                                                  abs=1e-5)


def test_outputs_are_answered_in_the_order_of_their_names(server):
    """A loaded SavedModel gives a signature's outputs in an order that changes from process to
    process (eight outputs: in name order by chance once in 40,320 loads); a REST answer's
    objects must not. (gRPC's outputs are a protobuf map, unordered by definition.)"""
    names = sorted(MANY_OUTPUTS)
    path = f"/v1/models/{MODEL}:predict"
    status, reply = server.rest("POST", path, {"signature_name": "many", "instances": [1.0, 2.0]})
    assert status == 200 and [list(row) for row in reply["predictions"]] == [names, names]
    assert [row[name] for row in reply["predictions"] for name in ("a", "h")] == \
        [1.0 + 3, 1.0 + 0, 2.0 + 3, 2.0 + 0]
    status, reply = server.rest("POST", path, {"signature_name": "many", "inputs": [1.0]})
    assert status == 200 and list(reply["outputs"]) == names


def test_rest_single_input_and_output_and_float32_printed_short(server):
    path = f"/v1/models/{MODEL}:predict"
    assert server.rest("POST", path, {"signature_name": "double",
                                      "instances": [[1, 2.5], [0.1, -3]]}) == \
        (200, {"predictions": [[2.0, 5.0], [0.2, -6.0]]})
    assert server.rest("POST", path, {"signature_name": "double", "inputs": {"x": [[1, 2]]}}) == \
        (200, {"outputs": [[2.0, 4.0]]})


def test_rest_nan_and_infinity_are_bare_json_tokens_not_strings(server):
    path = f"/v1/models/{MODEL}:predict"
    status, reply = server.rest("POST", path, '{"signature_name": "double", '
                                              '"instances": [[NaN, -Infinity]]}')
    assert status == 200
    [[doubled_nan, doubled_inf]] = reply["predictions"]
    assert math.isnan(doubled_nan) and doubled_inf == -math.inf
    for text in ('"NaN"', '"Infinity"', "1e400"):
        status, reply = server.rest("POST", path, '{"signature_name": "double", '
                                                  f'"instances": [[{text}, 1]]}}')
        assert status == 400, (text, reply)


def test_rest_binary_strings_in_b64(server):
    binary, text = b"\x00\xff\x10", "h\u00e9llo"
    status, reply = server.rest("POST", f"/v1/models/{MODEL}:predict", {
        "signature_name": "echo",
        "instances": [{"b64": base64.b64encode(binary).decode()}, text]})
    assert status == 200
    # The output named *_bytes comes back in b64, as TF Serving does.
    assert reply["predictions"] == [
        {"length": 3, "data_bytes": {"b64": base64.b64encode(binary).decode()}},
        {"length": len(text.encode()), "data_bytes": {"b64": base64.b64encode(text.encode()).decode()}}]


def test_rest_classify_and_regress(server):
    body = {"signature_name": "classify", "context": {"carrier": "AA"},
            "examples": [{"distance": 120.5, "hour": 2}, {"distance": 60.0, "carrier": "UA"}]}
    rows = [(120.5, 2, "AA"), (60.0, 0, "UA")]
    status, reply = server.rest("POST", f"/v1/models/{MODEL}:classify", body)
    assert status == 200
    for result, row in zip(reply["results"], rows, strict=True):
        late = sigmoid(expected_z(2, *row))
        assert [label for label, _ in result] == list(CLASS_NAMES)
        assert [score for _, score in result] == pytest.approx([1 - late, late], abs=1e-6)
    body["signature_name"] = "regress"
    status, reply = server.rest("POST", f"/v1/models/{MODEL}/versions/1:regress", body)
    assert status == 200
    assert reply["results"] == pytest.approx([expected_z(1, *row) for row in rows], abs=1e-5)


def test_rest_thirty_for_a_float_column(server):
    """TF Serving would send ``30`` as an int64 feature and the float parse would fail; the
    model's parse spec says distance is float, and hour int64 (so 2.0 is fine too)."""
    status, reply = server.rest("POST", f"/v1/models/{MODEL}:regress", {
        "signature_name": "regress", "examples": [{"distance": 30, "hour": 2.0}]})
    assert (status, reply["results"]) == (200, pytest.approx([expected_z(2, 30.0, 2)]))


def test_rest_status_and_metadata(server):
    status, reply = server.rest("GET", f"/v1/models/{MODEL}/versions/2")
    assert (status, reply) == (200, {"model_version_status": [{
        "version": "2", "state": "AVAILABLE", "status": {"error_code": "OK",
                                                          "error_message": ""}}]})
    status, reply = server.rest("GET", f"/v1/models/{MODEL}")
    assert status == 200 and "2" in [s["version"] for s in reply["model_version_status"]]
    status, reply = server.rest("GET", f"/v1/models/{MODEL}/versions/1/metadata")
    assert status == 200
    assert reply["model_spec"] == {"name": MODEL, "signature_name": "", "version": "1"}
    signatures = reply["metadata"]["signature_def"]["signature_def"]
    assert signatures["regress"]["method_name"] == "tensorflow/serving/regress"
    assert signatures["double"]["inputs"]["x"]["dtype"] == "DT_FLOAT"
    assert signatures["double"]["inputs"]["x"]["tensor_shape"]["dim"] == [{"size": "-1"},
                                                                          {"size": "2"}]


# ---- bad requests -----------------------------------------------------------------------------

def _examples(*features, signature="classify"):
    request = classification_request(signature)
    for each in features:
        example = request.input.example_list.examples.add()
        for name, (kind, value) in each.items():
            getattr(example.features.feature[name], kind).value.append(value)
    return request


def _labelled_status_request():
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = MODEL
    request.model_spec.version_label = "stable"
    return request


def _status_request(version):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = MODEL
    request.model_spec.version.value = version
    return request


def _metadata_request(field):
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = MODEL
    request.metadata_field.append(field)
    return request


DISTANCE = {"distance": ("float_list", 1.0)}
BAD_GRPC = {
    "unknown model": ("Classify", lambda: classification_request(name="trains"),
                      Code.NOT_FOUND, "trains"),
    "unknown version": ("Predict", lambda: predict_request(flights_inputs(), version=9),
                        Code.NOT_FOUND, "no version 9"),
    "an unknown version label, status": ("GetModelStatus", _labelled_status_request,
                                         Code.INVALID_ARGUMENT,
                                         "Unrecognized servable version label: stable"),
    "unknown version status": ("GetModelStatus", lambda: _status_request(9), Code.NOT_FOUND,
                               "version 9"),
    "unknown signature": ("Predict", lambda: predict_request(flights_inputs(), "nope"),
                          Code.INVALID_ARGUMENT, '"nope" not found'),
    "classify on a predict signature": ("Classify", lambda: _examples(DISTANCE,
                                                                      signature="predict"),
                                        Code.INVALID_ARGUMENT, "not a classification signature"),
    "no examples": ("Classify", classification_request, Code.INVALID_ARGUMENT, "empty"),
    "missing feature": ("Classify", lambda: _examples(DISTANCE, {"hour": ("int64_list", 1)}),
                        Code.INVALID_ARGUMENT, "distance"),
    "mistyped feature": ("Classify", lambda: _examples({"distance": ("int64_list", 30)}),
                         Code.INVALID_ARGUMENT, "distance"),
    "corrupt serialized example": (
        "Predict", lambda: predict_request({"examples": np.array([b"\x00\xffjunk"], object)},
                                           "predict_examples"),
        Code.INVALID_ARGUMENT, "not a serialized tf.Example"),
    "oversized batch": ("Classify", lambda: _examples(*[DISTANCE] * (MAX_BATCH + 1)),
                        Code.INVALID_ARGUMENT, f"larger than the server's --max-batch-size {MAX_BATCH}"),
    "missing input": ("Predict", lambda: predict_request({"distance": np.zeros(1, np.float32)}),
                      Code.INVALID_ARGUMENT, "missing {carrier, hour}"),
    "mistyped input": ("Predict", lambda: predict_request(
        {**flights_inputs(), "distance": np.zeros(2, np.float64)}),
        Code.INVALID_ARGUMENT, "'distance' must be float32, got float64"),
    "wrong shape": ("Predict", lambda: predict_request({"x": np.zeros([1, 3], np.float32)},
                                                       "double"),
                    Code.INVALID_ARGUMENT, "expects [-1, 2]"),
    "unknown output": ("Predict", lambda: _with_filter(predict_request(flights_inputs()), "zz"),
                       Code.INVALID_ARGUMENT, "zz"),
    "unsupported metadata field": ("GetModelMetadata", lambda: _metadata_request("weights"),
                                   Code.INVALID_ARGUMENT, "weights"),
}


def _with_filter(request, name):
    request.output_filter.append(name)
    return request


def assert_still_serving(server):
    request = predict_request({"x": np.ones([1, 2], np.float32)}, "double")
    assert tf.make_ndarray(server.stub.Predict(request, 30.0).outputs["y"]).tolist() == \
        [[2.0, 2.0]]
    assert server.rest("POST", f"/v1/models/{MODEL}:predict",
                       {"signature_name": "double", "instances": [[1, 1]]})[0] == 200


@pytest.mark.parametrize("case", list(BAD_GRPC))
def test_grpc_bad_request(server, case):
    method, make_request, code, phrase = BAD_GRPC[case]
    stub = server.model_stub if method == "GetModelStatus" else server.stub
    with pytest.raises(grpc.RpcError) as raised:
        getattr(stub, method)(make_request(), 30.0)
    assert raised.value.code() == code
    assert phrase in raised.value.details()
    assert server.base not in raised.value.details()  # a client learns no server folder
    assert_still_serving(server)


PREDICT = f"/v1/models/{MODEL}:predict"
CLASSIFY = f"/v1/models/{MODEL}:classify"
BAD_REST = {
    "unknown model": ("POST", "/v1/models/trains:predict", {"instances": [1]}, 404, "trains"),
    **{f"an unknown version label, {what}": (
        method, f"/v1/models/{MODEL}/labels/stable{action}", body, 400,
        "Unrecognized servable version label: stable")
       for what, method, action, body in [("status", "GET", "", None),
                                          ("metadata", "GET", "/metadata", None),
                                          ("predict", "POST", ":predict", {"instances": [1]})]},
    "unknown version": ("POST", f"/v1/models/{MODEL}/versions/9:predict", {"instances": [1]},
                        404, "no version 9"),
    "unknown version metadata": ("GET", f"/v1/models/{MODEL}/versions/9/metadata", None, 404,
                                 "no version 9"),
    "unknown signature": ("POST", PREDICT, {"signature_name": "nope", "instances": [1]}, 400,
                          '"nope" not found'),
    "classify on a predict signature": ("POST", CLASSIFY, {"examples": [{"distance": 1.0}]},
                                        400, "not a classification signature"),
    "missing feature": ("POST", CLASSIFY, {"signature_name": "classify",
                                           "examples": [{"hour": 1}]}, 400, "distance"),
    "mistyped feature": ("POST", CLASSIFY, {"signature_name": "classify",
                                            "examples": [{"distance": "far"}]}, 400,
                         "feature 'distance' (float) expects numbers, got 'far'"),
    "no examples": ("POST", CLASSIFY, {"signature_name": "classify", "examples": []}, 400,
                    "'examples'"),
    "corrupt serialized example": (
        "POST", PREDICT, {"signature_name": "predict_examples",
                          "instances": [{"b64": base64.b64encode(b"\x00\xffjunk").decode()}]},
        400, "not a serialized tf.Example"),
    "invalid base64": ("POST", PREDICT, {"signature_name": "echo", "instances": [{"b64": "@@"}]},
                       400, "base64"),
    "oversized batch": ("POST", CLASSIFY, {"signature_name": "classify",
                                           "examples": [{"distance": 1.0}] * (MAX_BATCH + 1)},
                        400, "--max-batch-size"),
    "missing input": ("POST", PREDICT, {"instances": [{"distance": 1.0}]}, 400,
                      "missing {carrier, hour}"),
    "fraction for an int input": ("POST", PREDICT, {"instances": [
        {"distance": 1.0, "hour": 1.5, "carrier": "AA"}]}, 400, "'hour' (int64) expects integers"),
    "ragged instances": ("POST", PREDICT, {"signature_name": "double",
                                           "instances": [[1, 2], [3]]}, 400, "rectangular"),
    "both formats": ("POST", PREDICT, {"instances": [], "inputs": []}, 400, "exactly one"),
    "invalid JSON": ("POST", PREDICT, '{"instances": [', 400, "JSON Parse error"),
    "malformed path": ("POST", f"/v1/models/{MODEL}:explain", {}, 404, "Malformed request"),
    "GET of an API": ("GET", PREDICT, None, 404, "Malformed request"),
}


@pytest.mark.parametrize("case", list(BAD_REST))
def test_rest_bad_request(server, case):
    method, path, body, http_status, phrase = BAD_REST[case]
    status, reply = server.rest(method, path, body)
    assert status == http_status and set(reply) == {"error"}
    assert phrase in reply["error"]
    assert_still_serving(server)


# ---- versions, load, shutdown -----------------------------------------------------------------

# A client process (no TensorFlow): keep-alive REST requests, at least 50, until STOP
# exists (or LIMIT requests, or a minute); prints how many answers matched each version.
CLIENT = textwrap.dedent("""\
    import http.client, json, math, os, sys, time
    port, stop, limit = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    counts, failures, deadline = {"1": 0, "2": 0}, [], time.monotonic() + 60
    i = 0
    while i < limit and time.monotonic() < deadline and (i < 50 or not os.path.exists(stop)):
        distance = 10.0 * (i % 7 + 1)
        body = {"signature_name": "regress", "examples": [{"distance": distance, "hour": 1}]}
        connection.request("POST", "/v1/models/flights:regress", body=json.dumps(body))
        response = connection.getresponse()
        reply = json.loads(response.read())
        value = reply.get("results", [None])[0] if response.status == 200 else None
        version = [v for v in (1, 2) if value is not None
                   and math.isclose(value, distance / 100 * v + 1, abs_tol=1e-5)]
        if version:
            counts[str(version[0])] += 1
        else:
            failures.append((response.status, reply))
        i += 1
        time.sleep(0.002)
    print(json.dumps({"counts": counts, "failures": failures[:5], "failed": len(failures)}))
""")


def test_new_versions_are_picked_up_under_load_and_sigterm_stops(tmp_path):
    base = tmp_path / "flights"
    write_flights_version(str(base), 1)
    server = Server(base)
    try:
        stop_file = tmp_path / "stop"
        clients = [subprocess.Popen([sys.executable, "-c", CLIENT, str(server.rest_port),
                                     str(stop_file), "5000"], stdout=subprocess.PIPE, text=True)
                   for _ in range(4)]
        stop_grpc = threading.Event()
        grpc_answers, grpc_errors = [[], []], []

        def grpc_client(answers):
            """Versions that answered, in order; at least 20 requests, at most 2000."""
            for i in range(2000):
                if i >= 20 and stop_grpc.is_set():
                    break
                request = regression_pb2.RegressionRequest()
                request.model_spec.name = MODEL
                request.model_spec.signature_name = "regress"
                float_feature(request.input.example_list.examples.add(), "distance", 50.0 + i)
                try:
                    response = server.stub.Regress(request, 30.0)
                except grpc.RpcError as error:
                    grpc_errors.append(error.details())
                    continue
                version = response.model_spec.version.value
                answers.append(version)
                if response.result.regressions[0].value != pytest.approx(
                        expected_z(version, 50.0 + i), abs=1e-5):
                    grpc_errors.append(f"wrong value from version {version}")
                time.sleep(0.01)

        threads = [threading.Thread(target=grpc_client, args=(answers,))
                   for answers in grpc_answers]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        write_flights_version(str(base), 2)
        server.wait_for_log(r"serving flights version 2 \(was 1\)")
        time.sleep(1.0)
        stop_file.touch()
        stop_grpc.set()
        results = [json.loads(client.communicate(timeout=90)[0]) for client in clients]
        for thread in threads:
            thread.join(timeout=60)
        assert [r["failed"] for r in results] == [0] * 4, results
        assert sum(r["counts"]["1"] for r in results) > 0
        assert sum(r["counts"]["2"] for r in results) > 0
        assert grpc_errors == []
        for answers in grpc_answers:  # each client sees version 1, then only version 2
            assert answers[0] == 1 and answers[-1] == 2 and sorted(answers) == answers

        # A version asked for by number still serves while on disk, then no longer.
        body = {"signature_name": "regress", "examples": [{"distance": 100.0}]}
        assert server.rest("POST", f"/v1/models/{MODEL}/versions/1:regress", body) == \
            (200, {"results": [1.0]})
        shutil.rmtree(base / "1")
        status, reply = server.rest("POST", f"/v1/models/{MODEL}/versions/1:regress", body)
        assert status == 404 and "no version 1" in reply["error"]

        # A version that cannot load is reported; the one serving goes on.
        (base / "3").mkdir()
        (base / "3" / "saved_model.pb").write_bytes(b"not a SavedModel")
        server.wait_for_log(r"cannot load flights version 3")
        assert server.rest("POST", f"/v1/models/{MODEL}:regress", body) == \
            (200, {"results": [2.0]})
        status, reply = server.rest("GET", f"/v1/models/{MODEL}")
        assert {s["version"]: s["state"] for s in reply["model_version_status"]} == \
            {"2": "AVAILABLE", "3": "END"}

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        server.wait_for_log("^stopped$")
        for port in (server.grpc_port, server.rest_port):
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        server.stop()


# ---- the command line -------------------------------------------------------------------------

def test_serve_reports_a_wrong_directory_without_a_traceback(tmp_path, capsys):
    missing = tmp_path / "missing"
    assert cli.main(["serve", str(missing), "--model-name", MODEL]) == 1
    assert f"{missing} is not a directory" in capsys.readouterr().err
    version = write_flights_version(str(tmp_path / "base"), 1)
    assert cli.main(["serve", version, "--model-name", MODEL, "--port", "0",
                     "--rest-port", "0"]) == 1
    assert "is a SavedModel, one version of a model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["serve", str(tmp_path), "--model-name", MODEL, "--port", "http"])
    assert "not a port number" in capsys.readouterr().err


# ---- a model exported by skewless ----------------------------------------------------------------

SPEC = """\
spec trip
input distance: float32
input hour: int64 = 0
input carrier: string = ""
label late: int64

feature distance_k = distance / 1000.0
feature hour
feature carrier_id = vocab(carrier, vocabulary=["AA", "UA"], oov_buckets=1)
target late = late
"""


def test_a_skewless_export_served_end_to_end(tmp_path):
    spec = tmp_path / "trip.feat"
    spec.write_text(SPEC)
    features = skewless.load(spec)
    keras.utils.set_random_seed(3)
    inputs = features.keras_inputs()
    x = keras.layers.Concatenate()([
        keras.ops.expand_dims(inputs["distance_k"], -1),
        keras.ops.cast(keras.ops.expand_dims(inputs["hour"], -1), "float32"),
        keras.ops.cast(keras.ops.one_hot(inputs["carrier_id"], 3), "float32")])
    model = keras.Model(inputs, {"late": keras.layers.Dense(1, activation="sigmoid")(x)})
    skewless.export_saved_model(model, features, tmp_path / "models", heads={
        "late": skewless.ClassificationHead(output="late", class_names=["on_time", "late"]),
        "predict": skewless.PredictHead()})
    rows = [{"distance": 30, "hour": 7, "carrier": "UA"}, {"distance": 1234.5}]
    records = []
    for row in rows:
        example = tf.train.Example()
        float_feature(example, "distance", float(row["distance"]))
        if "hour" in row:
            int_feature(example, "hour", row["hour"])
            bytes_feature(example, "carrier", row["carrier"].encode())
        records.append(example.SerializeToString())
    late = model(features.serving_input_receiver_fn()(tf.constant(records)))["late"]
    late = late.numpy().reshape(-1).tolist()

    server = Server(tmp_path / "models", name="trip")
    try:
        status, reply = server.rest("POST", "/v1/models/trip:classify",
                                    {"signature_name": "late", "examples": rows})
        assert status == 200, reply
        assert [score for result in reply["results"] for _, score in result] == pytest.approx(
            [score for p in late for score in (1 - p, p)], abs=1e-6)
        status, reply = server.rest("POST", "/v1/models/trip:predict", {
            "signature_name": "predict",
            "instances": [{"distance": 30, "hour": 7, "carrier": "UA"},
                          {"distance": 1234.5, "hour": 0, "carrier": ""}]})
        assert status == 200, reply
        # One output ("late", of shape [batch, 1]): each prediction is its row.
        assert [len(row) for row in reply["predictions"]] == [1, 1]
        assert [row[0] for row in reply["predictions"]] == pytest.approx(late, abs=1e-6)
    finally:
        server.stop()
