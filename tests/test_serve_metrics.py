"""skewless serve --monitoring_config_file: Prometheus metrics on the REST port, scraped over
HTTP and parsed with prometheus_client's own parser, after a known mix of good and bad
requests over gRPC and REST: the request counts by model, API, entrypoint and status, the
latency histogram of the requests answered OK, the versions loaded; no metrics without
the config (or with enable: false); a bad config refused naming it."""
from __future__ import annotations

import grpc
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_models import write_flights_version
from test_serve import MODEL, Server, flights_inputs, predict_request
from test_serve_batching import rest_raw
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from skewless import cli

PATH = "/metrics/at/this/path"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metrics")
    for version in (1, 2):
        write_flights_version(str(folder / "flights"), version)
    return folder


def scrape(server, path=PATH):
    status, text = rest_raw(server.rest_port, "GET", path)
    assert status == 200, text
    return {family.name: family for family in text_string_to_metric_families(text.decode())}


def samples(families, family, suffix=""):
    """{labels as a sorted tuple of (name, value): value} of one family's samples."""
    return {tuple(sorted(s.labels.items())): s.value for s in families[family].samples
            if s.name == family + suffix}


def fails(call, code):
    with pytest.raises(grpc.RpcError) as raised:
        call()
    assert raised.value.code() == code


def test_request_counts_latencies_and_versions_after_a_known_mix(base, tmp_path):
    config = tmp_path / "monitoring.config"
    config.write_text(f'prometheus_config {{\n  enable: true,\n  path: "{PATH}"\n}}\n')
    server = Server(base / "flights", "--monitoring_config_file", str(config))
    try:
        good = predict_request(flights_inputs())
        wrong_dtype = predict_request({**flights_inputs(),
                                       "distance": np.array([1.0, 2.0], np.float64)})
        for _ in range(3):
            server.stub.Predict(good, 30.0)
        for _ in range(2):
            fails(lambda: server.stub.Predict(wrong_dtype, 30.0), grpc.StatusCode.INVALID_ARGUMENT)
        fails(lambda: server.stub.Predict(predict_request(flights_inputs(), name="nope"), 30.0),
              grpc.StatusCode.NOT_FOUND)
        metadata = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        metadata.model_spec.name = MODEL
        server.stub.GetModelMetadata(metadata, 30.0)
        status_request = get_model_status_pb2.GetModelStatusRequest()
        status_request.model_spec.name = MODEL
        server.model_stub.GetModelStatus(status_request, 30.0)
        body = {"instances": [{"distance": 1.0, "hour": 1, "carrier": "AA"}]}
        for _ in range(2):
            assert rest_raw(server.rest_port, "POST", f"/v1/models/{MODEL}:predict", body)[0] \
                == 200
        assert rest_raw(server.rest_port, "POST", f"/v1/models/{MODEL}:classify",
                        {"examples": [{"distance": "far"}]})[0] == 400
        assert rest_raw(server.rest_port, "GET", f"/v1/models/{MODEL}")[0] == 200
        assert rest_raw(server.rest_port, "GET", "/v1/models/nope/metadata")[0] == 404

        families = scrape(server)
        counts = samples(families, ":tensorflow:serving:request_count", "_total")

        def key(model, api, entrypoint, status):
            return (("API", api), ("entrypoint", entrypoint), ("model_name", model),
                    ("status", status))
        assert counts == {
            key(MODEL, "Predict", "GRPC", "OK"): 3,
            key(MODEL, "Predict", "GRPC", "INVALID_ARGUMENT"): 2,
            key("", "Predict", "GRPC", "NOT_FOUND"): 1,
            key(MODEL, "GetModelMetadata", "GRPC", "OK"): 1,
            key(MODEL, "GetModelStatus", "GRPC", "OK"): 1,
            key(MODEL, "Predict", "REST", "OK"): 2,
            key(MODEL, "Classify", "REST", "INVALID_ARGUMENT"): 1,
            key(MODEL, "GetModelStatus", "REST", "OK"): 1,
            key("", "GetModelMetadata", "REST", "NOT_FOUND"): 1,
        }
        latency = ":tensorflow:serving:request_latency"
        observed = samples(families, latency, "_count")
        assert observed == {(("API", api), ("entrypoint", entrypoint), ("model_name", MODEL)): n
                            for (api, entrypoint), n in [(("Predict", "GRPC"), 3),
                                                         (("GetModelMetadata", "GRPC"), 1),
                                                         (("GetModelStatus", "GRPC"), 1),
                                                         (("Predict", "REST"), 2),
                                                         (("GetModelStatus", "REST"), 1)]}
        buckets = [s for s in families[latency].samples if s.name == latency + "_bucket"]
        assert {float(s.labels["le"]) for s in buckets} >= {10.0, 18.0}  # TF Serving's
        assert samples(families, ":skewless:serving:model_version_loaded") == {
            (("model_name", MODEL), ("version", "2")): 1}
        # a request for version 1 loads it (a model given by --model_name)
        server.stub.Predict(predict_request(flights_inputs(), version=1), 30.0)
        assert samples(scrape(server), ":skewless:serving:model_version_loaded") == {
            (("model_name", MODEL), ("version", "1")): 1,
            (("model_name", MODEL), ("version", "2")): 1}
        assert rest_raw(server.rest_port, "GET", "/monitoring/prometheus/metrics")[0] == 404
    finally:
        server.stop()


@pytest.mark.parametrize("options", [[], ["--monitoring_config_file", "DISABLED"]])
def test_no_metrics_unless_the_config_enables_them(base, tmp_path, options):
    disabled = tmp_path / "monitoring.config"
    disabled.write_text("prometheus_config { enable: false }\n")
    server = Server(base / "flights", *[str(disabled) if o == "DISABLED" else o
                                        for o in options])
    try:
        status, body = rest_raw(server.rest_port, "GET", "/monitoring/prometheus/metrics")
        assert status == 404 and b"Malformed request" in body
    finally:
        server.stop()


@pytest.mark.parametrize("text, phrase", [
    ("prometheus_config { enable: yes }\n", ":1:"),
    ("prometheus_config { enable: true path: \"metrics\" }\n", "is not a URL path"),
    ("prometheus_konfig { }\n", "prometheus_konfig"),
    ("prometheus_config { enable: true path: \"/v1/models/m\" }\n", "among the API's own"),
    ("prometheus_config { enable: true path: \"/v1\" }\n", "among the API's own"),
])
def test_a_bad_monitoring_config_is_refused_naming_it(text, phrase, base, tmp_path, capsys):
    config = tmp_path / "monitoring.config"
    config.write_text(text)
    assert cli.main(["serve", str(base / "flights"), "--model-name", MODEL, "--port", "0",
                     "--rest-port", "0", "--monitoring_config_file", str(config)]) == 1
    err = capsys.readouterr().err
    assert str(config) in err and phrase in err and "Traceback" not in err
