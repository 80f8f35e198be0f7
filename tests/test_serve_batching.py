"""skewless serve --enable_batching: many threads sending different requests at once over
gRPC and REST are answered bit for bit as the same requests served without batching (the
serialized gRPC responses and the REST bodies compared byte for byte, float bits
included), while the batch size histogram shows that batches of several requests ran; a
request failing inside the model fails only itself; requests of different versions and
signatures are never mixed; a full queue is UNAVAILABLE / 503; the batching parameters file
is read as TF Serving reads it, and its mistakes are refused naming it."""
from __future__ import annotations

import http.client
import json
import threading
import time

import grpc
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_models import write_flights_version
from test_serve import MODEL, Server, classification_request, float_feature, int_feature, \
    predict_request

from skewless import cli
from skewless.serve.batching import BatchingOptions, read_batching_parameters

Code = grpc.StatusCode
BATCHING = """\
max_batch_size { value: 8 }
batch_timeout_micros { value: 20000 }
num_batch_threads { value: 1 }
max_enqueued_batches { value: 1000 }
"""
MONITORING = 'prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }\n'


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batching")
    for version in (1, 2):
        write_flights_version(str(folder / "flights"), version)
    (folder / "batching.config").write_text(BATCHING)
    (folder / "monitoring.config").write_text(MONITORING)
    return folder


@pytest.fixture(scope="module")
def servers(base):
    """The same model served without batching and with it (and metrics)."""
    plain = Server(base / "flights")
    batched = Server(base / "flights", "--enable_batching", "--batching_parameters_file",
                     str(base / "batching.config"), "--monitoring_config_file",
                     str(base / "monitoring.config"))
    yield plain, batched
    plain.stop()
    batched.stop()


def rest_raw(port, method, path, body=None):
    """(status, the body's bytes as sent)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=None if body is None else json.dumps(body))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def flight_rows(seed, rows):
    rng = np.random.default_rng(seed)
    return {"distance": rng.uniform(0, 3000, rows).astype(np.float32),
            "hour": rng.integers(0, 24, rows).astype(np.int64),
            "carrier": np.array([rng.choice([b"AA", b"UA", b"DL"]) for _ in range(rows)],
                                object)}


def examples_request(make, seed, rows, signature, version=None, bad=False):
    request = make(signature=signature, version=version)
    inputs = flight_rows(seed, rows)
    for row in range(rows):
        example = request.input.example_list.examples.add()
        if bad:  # distance as an int64 list: only the model's parse op rejects it
            int_feature(example, "distance", 7)
        else:
            float_feature(example, "distance", float(inputs["distance"][row]))
        int_feature(example, "hour", int(inputs["hour"][row]))
        example.features.feature["carrier"].bytes_list.value.append(inputs["carrier"][row])
    return request


def regression_request(signature="regress", version=None):
    from tensorflow_serving.apis import regression_pb2
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = MODEL
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    return request


def calls(count, bad_every=0):
    """``count`` different requests of every kind, over both front ends, of both versions
    and several signatures, 1 to 3 rows each (10 rows every 7th: more than max_batch_size 8);
    each a function of a server giving (outcome, bytes). With ``bad_every``, each such
    request fails inside the model."""
    made = []
    for number in range(count):
        rows = 10 if number % 7 == 6 else 1 + number % 3
        version = (None, 1, 2)[number % 3]
        bad = bool(bad_every) and number % bad_every == 0
        kind = number % 5
        if bad:
            request = examples_request(classification_request, number, rows, "classify",
                                       version, bad=True)
            made.append(lambda s, r=request: _grpc(s.stub.Classify, r))
        elif kind == 0:
            request = predict_request(flight_rows(number, rows), version=version)
            made.append(lambda s, r=request: _grpc(s.stub.Predict, r))
        elif kind == 1:
            request = examples_request(classification_request, number, rows, "classify",
                                       version)
            made.append(lambda s, r=request: _grpc(s.stub.Classify, r))
        elif kind == 2:
            request = examples_request(regression_request, number, rows, "regress", version)
            made.append(lambda s, r=request: _grpc(s.stub.Regress, r))
        elif kind == 3:
            inputs = flight_rows(number, rows)
            body = {"signature_name": "predict", "instances": [
                {"distance": float(d), "hour": int(h), "carrier": c.decode()}
                for d, h, c in zip(inputs["distance"], inputs["hour"], inputs["carrier"])]}
            path = f"/v1/models/{MODEL}" + (f"/versions/{version}" if version else "")
            made.append(lambda s, p=path, b=body: rest_raw(s.rest_port, "POST", p + ":predict",
                                                           b))
        else:
            inputs = flight_rows(number, rows)
            body = {"signature_name": "regress", "examples": [
                {"distance": float(d), "hour": int(h), "carrier": c.decode()}
                for d, h, c in zip(inputs["distance"], inputs["hour"], inputs["carrier"])]}
            made.append(lambda s, b=body: rest_raw(s.rest_port, "POST",
                                                   f"/v1/models/{MODEL}:regress", b))
    return made


def _grpc(method, request):
    try:
        # deterministic: map fields (a response's ``outputs``) in key order, not insertion order
        return "OK", method(request, 60.0).SerializeToString(deterministic=True)
    except grpc.RpcError as error:
        return error.code().name, error.details().encode()


def all_at_once(server, made):
    """Each call in a thread of its own, all released at once."""
    results = [None] * len(made)
    start = threading.Barrier(len(made))

    def run(index):
        start.wait()
        results[index] = made[index](server)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(made))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def batch_sizes(server):
    """(batches run, of which more than one row) from the metrics."""
    status, text = rest_raw(server.rest_port, "GET", "/monitoring/prometheus/metrics")
    assert status == 200
    for family in text_string_to_metric_families(text.decode()):
        if family.name == ":tensorflow:serving:batching:processed_batch_size":
            buckets = [s for s in family.samples if s.name.endswith("_bucket")]
            total = sum(s.value for s in family.samples if s.name.endswith("_count"))
            single = sum(s.value for s in buckets if s.labels["le"] == "1.0")
            return total, total - single
    return 0, 0


def test_concurrent_requests_are_answered_bit_for_bit_as_unbatched(servers):
    plain, batched = servers
    made = calls(40)
    expected = [call(plain) for call in made]
    assert all(outcome in ("OK", 200) for outcome, _ in expected), expected
    assert all_at_once(batched, made) == expected
    batches, several = batch_sizes(batched)
    assert several > 0, "no batch of more than one row ran: nothing was batched"
    assert batches < len(made)


def test_a_request_failing_inside_the_model_fails_only_itself(servers):
    plain, batched = servers
    made = calls(30, bad_every=4)
    expected = [call(plain) for call in made]
    assert [outcome for outcome, _ in expected].count("INVALID_ARGUMENT") == 8
    assert all_at_once(batched, made) == expected


def test_a_request_refused_before_batching_is_invalid_argument(servers):
    _, batched = servers
    wrong = predict_request({"distance": np.array([1.0], np.float64),
                             "hour": np.array([1], np.int64),
                             "carrier": np.array([b"AA"], object)})
    with pytest.raises(grpc.RpcError) as raised:
        batched.stub.Predict(wrong, 30.0)
    assert raised.value.code() == Code.INVALID_ARGUMENT
    status, _ = rest_raw(batched.rest_port, "POST", f"/v1/models/{MODEL}:predict",
                         {"instances": [{"distance": "far"}]})
    assert status == 400


def test_a_full_queue_is_unavailable_over_grpc_and_503_over_rest(base, tmp_path):
    """One batch may wait (max_enqueued_batches 1) and it waits 3 s for more rows: a
    request of 2 rows cannot join it (max_batch_size 2) and would need a second one."""
    config = tmp_path / "batching.config"
    config.write_text("max_batch_size { value: 2 } batch_timeout_micros { value: 3000000 }\n"
                      "num_batch_threads { value: 1 } max_enqueued_batches { value: 1 }\n")
    server = Server(base / "flights", "--batching_parameters_file", str(config),
                    "--monitoring_config_file", str(base / "monitoring.config"))
    try:
        waiting = []
        first = threading.Thread(target=lambda: waiting.append(_grpc(
            server.stub.Predict, predict_request(flight_rows(1, 1)))))
        first.start()
        time.sleep(0.5)  # the first request waits in its batch, for 3 s
        outcome, details = _grpc(server.stub.Predict, predict_request(flight_rows(2, 2)))
        assert outcome == "UNAVAILABLE" and b"batch scheduling queue" in details
        status, body = rest_raw(server.rest_port, "POST", f"/v1/models/{MODEL}:predict",
                                {"instances": [{"distance": 1.0, "hour": 1, "carrier": "AA"},
                                               {"distance": 2.0, "hour": 2, "carrier": "UA"}]})
        assert status == 503 and b"batch scheduling queue" in body
        first.join(30)
        assert waiting[0][0] == "OK"
        status, text = rest_raw(server.rest_port, "GET", "/monitoring/prometheus/metrics")
        rejected = {tuple(s.labels.values()): s.value
                    for family in text_string_to_metric_families(text.decode())
                    for s in family.samples
                    if s.name == ":skewless:serving:batching:queue_rejections_total"}
        assert rejected == {(MODEL,): 2.0}
    finally:
        server.stop()


# ---- the parameters file -------------------------------------------------------------------

def test_parameters_left_out_keep_tf_servings_defaults(tmp_path):
    config = tmp_path / "batching.config"
    config.write_text("max_batch_size: { value: 64 }\nthread_pool_name { value: 'pool' }\n")
    options = read_batching_parameters(str(config))
    assert (options.max_batch_size, options.batch_timeout_micros,
            options.max_enqueued_batches, options.thread_pool_name) == (64, 0, 10, "pool")
    assert options.num_batch_threads == BatchingOptions().num_batch_threads >= 1
    assert read_batching_parameters(None) == BatchingOptions()


@pytest.mark.parametrize("text, phrases", [
    ("max_batch_size { value: 0 }\nnum_batch_threads { value: -1 }\n",
     ["max_batch_size is 0: it must be at least 1",
      "num_batch_threads is -1: it must be at least 1"]),
    ("max_batch_size: 8\n", [":1:"]),
    ("max_batch_sise { value: 8 }\n", [":1:1: error:", "max_batch_sise"]),
    ("allowed_batch_sizes: 4\nallowed_batch_sizes: 8\n", ["allowed_batch_sizes is not "
                                                          "supported"]),
    ("pad_variable_length_inputs: true\n", ["pad_variable_length_inputs is not supported"]),
])
def test_a_bad_parameters_file_is_refused_naming_it(text, phrases, base, tmp_path, capsys):
    config = tmp_path / "batching.config"
    config.write_text(text)
    assert cli.main(["serve", str(base / "flights"), "--model-name", MODEL, "--port", "0",
                     "--rest-port", "0", "--enable_batching=true",
                     "--batching_parameters_file", str(config)]) == 1
    err = capsys.readouterr().err
    assert str(config) in err and "Traceback" not in err
    for phrase in phrases:
        assert phrase in err


def test_enable_batching_takes_tf_servings_spellings():
    parse = lambda *flag: cli._parse(cli._parser(), ["serve", "m", "--model-name", "m", *flag])
    assert parse().enable_batching is False
    assert parse("--enable_batching").enable_batching is True
    assert parse("--enable_batching=true").enable_batching is True
    assert parse("--enable_batching=false").enable_batching is False
    with pytest.raises(SystemExit):
        parse("--enable_batching=maybe")
