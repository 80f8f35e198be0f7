"""skewless serve --request-log: every request answered under concurrent load over gRPC and
REST, Predict, Classify and Regress, is in the log exactly once as the PredictionLog TF
Serving would write; a slow disk slows no request and the records it costs are counted in
the metrics; files are rotated by size and by time, and none is seen half written; the
sampling rate holds; a write error is printed once and logging goes on; bad options are
refused without a traceback.

Expected contents are the requests this test sent, compared field by field."""
from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tensorflow as tf
from prometheus_client.parser import text_string_to_metric_families
from serve_models import write_flights_version
from test_serve import MODEL, Server, predict_request
from test_serve_batching import rest_raw
from tensorflow_serving.apis import (classification_pb2, predict_pb2, prediction_log_pb2,
                                     regression_pb2)

from skewless import cli
from skewless.errors import SkewlessError
from skewless.serve.grpc_service import bind_grpc
from skewless.serve.limits import Limits
from skewless.serve.metrics import Metrics
from skewless.serve.models import Models
from skewless.serve.request_log import RequestLog, RequestLogOptions
from skewless.serve.rest import bind_rest, serve_rest
from skewless.serve.versions import Versions

METRICS = "/monitoring/prometheus/metrics"
RECORD = "request_log:records"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("request-log") / MODEL
    write_flights_version(str(folder), 1)
    return folder


def read_log(directory) -> list:
    """Every PredictionLog of the complete files of ``directory``; none may be hidden."""
    names = sorted(os.listdir(directory))
    assert not [name for name in names if name.startswith(".")], names
    logs = []
    for name in names:
        assert name.startswith("requests-") and name.endswith(".tfrecord"), name
        for record in tf.data.TFRecordDataset(os.path.join(directory, name)).as_numpy_iterator():
            logs.append(prediction_log_pb2.PredictionLog.FromString(record))
    return logs


def _example_distances(request_input) -> list:
    return [e.features.feature["distance"].float_list.value[0]
            for e in request_input.example_list.examples]


def logged_request(entry) -> tuple:
    """(API, signature, the distances the request sent) of a PredictionLog."""
    kind = entry.WhichOneof("log_type")
    request = getattr(entry, kind).request
    if kind == "predict_log":
        distances = tf.make_ndarray(request.inputs["distance"]).tolist()
        return "Predict", request.model_spec.signature_name, tuple(distances)
    api = {"classify_log": "Classify", "regress_log": "Regress"}[kind]
    return api, request.model_spec.signature_name, tuple(_example_distances(request.input))


# ---- what each client sends: distances unique to the request ------------------------------

def _examples(distances) -> list:
    examples = []
    for distance in distances:
        example = tf.train.Example()
        example.features.feature["distance"].float_list.value.append(distance)
        example.features.feature["hour"].int64_list.value.append(3)
        example.features.feature["carrier"].bytes_list.value.append(b"AA")
        examples.append(example)
    return examples


def send(server, api: str, entrypoint: str, distances: tuple) -> tuple:
    """Send one request; (API, signature as the request names it, distances)."""
    if entrypoint == "GRPC":
        if api == "Predict":
            request = predict_request({"distance": np.array(distances, np.float32),
                                       "hour": np.zeros(len(distances), np.int64),
                                       "carrier": np.array([b"UA"] * len(distances), object)})
            server.stub.Predict(request, 30.0)
            return api, "", distances
        request_class, call, signature = {
            "Classify": (classification_pb2.ClassificationRequest, server.stub.Classify,
                         "classify"),
            "Regress": (regression_pb2.RegressionRequest, server.stub.Regress, "regress")}[api]
        request = request_class()
        request.model_spec.name = MODEL
        request.model_spec.signature_name = signature
        request.input.example_list.examples.extend(_examples(distances))
        call(request, 30.0)
        return api, signature, distances
    if api == "Predict":
        body = {"instances": [{"distance": d, "hour": 1, "carrier": "DL"} for d in distances]}
        signature = ""
    else:
        signature = api.lower()
        body = {"signature_name": signature,
                "examples": [{"distance": d, "hour": 3, "carrier": "AA"} for d in distances]}
    status, reply = rest_raw(server.rest_port, "POST", f"/v1/models/{MODEL}:{api.lower()}", body)
    assert status == 200, reply
    return api, signature, distances


def scrape(port) -> dict:
    status, text = rest_raw(port, "GET", METRICS)
    assert status == 200, text
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    family = next(f for name, f in families.items() if name.endswith(RECORD))
    return {s.labels["outcome"]: s.value for s in family.samples if s.name.endswith("_total")}


def stop_with_sigterm(server) -> str:
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0
    server.channel.close()
    return "\n".join(server.log)


# ---- (a) concurrent load: every request answered is logged exactly once -------------------

def test_every_request_answered_under_concurrent_load_is_logged_once(base, tmp_path):
    log_dir = tmp_path / "log"
    monitoring = tmp_path / "monitoring.config"
    monitoring.write_text("prometheus_config { enable: true }\n")
    server = Server(base, "--request-log", str(log_dir), "--max-log-bytes", "4096",
                    "--monitoring_config_file", str(monitoring))
    jobs = [(api, entrypoint, (float(1000 * i + j) for j in range(1 + i % 3)))
            for i, (api, entrypoint) in enumerate(
                [(api, entrypoint) for api in ("Predict", "Classify", "Regress")
                 for entrypoint in ("GRPC", "REST")] * 30)]
    try:
        with ThreadPoolExecutor(8) as pool:
            sent = list(pool.map(lambda job: send(server, job[0], job[1], tuple(job[2])),
                                 jobs))
        # a bad request is not logged
        status, _ = rest_raw(server.rest_port, "POST", f"/v1/models/{MODEL}:predict",
                             {"instances": [{"distance": "far"}]})
        assert status == 400
        counts = scrape(server.rest_port)
        assert counts["dropped"] == 0
        log = stop_with_sigterm(server)
    finally:
        server.stop()
    assert len(sent) == len(jobs) == 180
    logs = read_log(log_dir)
    default = {"": "serving_default"}
    assert Counter(logged_request(entry) for entry in logs) == Counter(sent)
    for entry in logs:
        spec = entry.log_metadata.model_spec
        asked = getattr(entry, entry.WhichOneof("log_type")).request.model_spec.signature_name
        assert (spec.name, spec.version.value) == (MODEL, 1)
        assert spec.signature_name == default.get(asked, asked)
        assert entry.log_metadata.sampling_config.sampling_rate == 1.0
        response = getattr(entry, entry.WhichOneof("log_type")).response
        assert response.model_spec == spec
    predicts = [e.predict_log for e in logs if e.HasField("predict_log")]
    assert all(set(p.response.outputs) == {"z", "carrier_length"} for p in predicts)
    classifies = [e.classify_log for e in logs if e.HasField("classify_log")]
    assert all([c.label for c in r.classes] == ["on_time", "late"]
               for e in classifies for r in e.response.result.classifications)
    assert len(os.listdir(log_dir)) > 1  # rotated at 4096 bytes
    assert "request log: 180 records" in log and "0 dropped" in log


# ---- (b) a slow disk: requests are not slowed, the records it costs are counted -----------

class BlockedWriter:
    """A writer whose writes wait until ``release`` is set."""

    release = threading.Event()
    entered = threading.Event()

    def __init__(self, path):
        self.path = path

    def write(self, record):
        BlockedWriter.entered.set()
        BlockedWriter.release.wait(60)

    def close(self):
        open(self.path, "wb").close()


def test_a_blocked_writer_slows_no_request_and_drops_are_counted(base, tmp_path):
    BlockedWriter.entered.clear()
    BlockedWriter.release.clear()
    limits = Limits()
    versions = Versions(MODEL, str(base), limits, log=lambda message: None)
    versions.poll()
    models = Models([versions], limits)
    metrics = Metrics(METRICS)
    request_log = RequestLog(RequestLogOptions(str(tmp_path / "log"), queue_size=2,
                                               open_writer=BlockedWriter),
                             log=lambda message: None)
    request_log.start()
    metrics.track_request_log(request_log)
    grpc_server, grpc_port = bind_grpc(models, "127.0.0.1", 0, 4, metrics, request_log)
    rest_server, rest_port = bind_rest(models, "127.0.0.1", 0, metrics, request_log)
    grpc_server.start()
    serve_rest(rest_server)
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")

    class Client:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

    Client.rest_port = rest_port
    try:
        send(Client, "Predict", "GRPC", (1.0,))  # warm up: traced, connected
        assert BlockedWriter.entered.wait(30)  # the writer holds its record
        started = time.monotonic()
        for i in range(20):
            send(Client, ("Predict", "Classify", "Regress")[i % 3], ("GRPC", "REST")[i % 2],
                 (float(i),))
        elapsed = time.monotonic() - started
        counts = scrape(rest_port)
    finally:
        BlockedWriter.release.set()
        channel.close()
        grpc_server.stop(None)
        rest_server.drain(5)
        request_log.stop()
    # the writer holds one record, the queue two: the other 18 of 21 are dropped
    assert counts == {"written": 0, "dropped": 18}
    assert elapsed < 30  # each write blocks for 60 s: a request waiting on one would not be done
    assert request_log.written == 3 and request_log.dropped == 18


@pytest.mark.parametrize("sizes, dropped", [
    ([400] * 10, 8),                  # two fit in 1,000 bytes, then none
    ([999, 1, 1, 1], 2),              # 999 + 1 fill the budget
    ([1001, 300, 300, 300, 300], 2),  # one larger than the budget alone; then three fit
    ([0] * 10, 0),
])
def test_the_requests_waiting_hold_at_most_queue_bytes(tmp_path, sizes, dropped):
    """However many records the queue may hold, the requests waiting hold at most
    queue_bytes (1,000 here) between them; the writer holds the first one, and blocks."""
    BlockedWriter.entered.clear()
    BlockedWriter.release.clear()
    request_log = RequestLog(RequestLogOptions(str(tmp_path), queue_size=1000, queue_bytes=1000,
                                               open_writer=BlockedWriter),
                             log=lambda message: None)
    request_log.start()
    try:
        request_log.log("Predict", lambda: _predict_messages(0), lambda: 0)
        assert BlockedWriter.entered.wait(30)  # the writer holds its record: the queue is empty
        for i, size in enumerate(sizes):
            request_log.log("Predict", lambda i=i: _predict_messages(i), lambda size=size: size)
        assert request_log.dropped == dropped
    finally:
        BlockedWriter.release.set()
        request_log.stop()
    assert request_log.written == 1 + len(sizes) - dropped


# ---- (c) rotation: by size, by time; nothing half written is visible ----------------------

def _predict_messages(i: int, padding: int = 200):
    request = predict_request({"distance": np.array([float(i)], np.float32),
                               "carrier": np.array([b"x" * padding], object)})
    response = predict_pb2.PredictResponse()
    response.model_spec.name = MODEL
    response.model_spec.version.value = 1
    response.model_spec.signature_name = "serving_default"
    return request, response


def test_files_rotate_by_size_and_none_is_seen_half_written(tmp_path):
    limit = 2000
    request_log = RequestLog(RequestLogOptions(str(tmp_path), max_log_bytes=limit),
                             log=lambda message: None)
    request_log.start()
    seen_complete = {}
    try:
        for i in range(200):
            request_log.log("Predict", lambda i=i: _predict_messages(i, padding=i % 50 * 10),
                            lambda: 100)
            if i % 10 == 0:  # whatever is visible now is whole
                for name in os.listdir(tmp_path):
                    if not name.startswith("."):
                        seen_complete[name] = len(list(
                            tf.data.TFRecordDataset(str(tmp_path / name)).as_numpy_iterator()))
    finally:
        request_log.stop()
    logs = read_log(tmp_path)
    assert sorted(tf.make_ndarray(e.predict_log.request.inputs["distance"])[0]
                  for e in logs) == list(range(200))
    sizes = {name: os.path.getsize(tmp_path / name) for name in os.listdir(tmp_path)}
    assert len(sizes) >= 10 and max(sizes.values()) <= limit
    for name, records in seen_complete.items():  # a file seen was whole when seen
        assert records == len(list(tf.data.TFRecordDataset(str(tmp_path / name))))


def test_a_file_is_completed_after_the_flush_interval_without_stopping(tmp_path):
    request_log = RequestLog(RequestLogOptions(str(tmp_path), flush_seconds=0.2),
                             log=lambda message: None)
    request_log.start()
    try:
        request_log.log("Predict", lambda: _predict_messages(7), lambda: 100)
        deadline = time.monotonic() + 30
        while not [n for n in os.listdir(tmp_path) if not n.startswith(".")]:
            assert time.monotonic() < deadline, os.listdir(tmp_path)
            time.sleep(0.05)
        assert len(read_log(tmp_path)) == 1 and request_log.written == 1
    finally:
        request_log.stop()


class SlowWriter:
    """A TFRecord writer taking 50 ms per record."""

    def __init__(self, path):
        self.writer = tf.io.TFRecordWriter(path)

    def write(self, record):
        time.sleep(0.05)
        self.writer.write(record)

    def close(self):
        self.writer.close()


def test_a_file_is_completed_after_the_flush_interval_while_the_queue_stays_busy(tmp_path):
    """40 records written at 50 ms each keep the queue busy for 2 s: with a flush interval
    of 0.2 s they make about ten files, not one."""
    request_log = RequestLog(RequestLogOptions(str(tmp_path), flush_seconds=0.2,
                                               open_writer=SlowWriter),
                             log=lambda message: None)
    request_log.start()
    try:
        for i in range(40):
            request_log.log("Predict", lambda i=i: _predict_messages(i), lambda: 100)
    finally:
        request_log.stop()
    assert len(os.listdir(tmp_path)) >= 5
    assert sorted(tf.make_ndarray(e.predict_log.request.inputs["distance"])[0]
                  for e in read_log(tmp_path)) == list(range(40))


# ---- (d) sampling ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_sampling_rate_of_0_3_logs_a_binomial_share(tmp_path, seed):
    n, rate = 3000, 0.3
    request_log = RequestLog(RequestLogOptions(str(tmp_path), sampling_rate=rate, seed=seed),
                             log=lambda message: None)
    request_log.start()
    try:
        for i in range(n):
            request_log.log("Predict", lambda i=i: _predict_messages(i, padding=1), lambda: 100)
    finally:
        request_log.stop()
    logs = read_log(tmp_path)
    sd = (n * rate * (1 - rate)) ** 0.5
    assert abs(len(logs) - n * rate) < 5 * sd  # 5 standard deviations: p < 1e-6
    assert request_log.written == len(logs) and request_log.dropped == 0
    assert all(e.log_metadata.sampling_config.sampling_rate == pytest.approx(rate) for e in logs)


# ---- write errors ------------------------------------------------------------------------

def test_a_removed_folder_is_reported_once_and_logging_goes_on(tmp_path):
    import shutil

    folder = tmp_path / "log"
    printed = []
    request_log = RequestLog(RequestLogOptions(str(folder), flush_seconds=0.1),
                             log=printed.append)
    request_log.start()
    try:
        for i in range(3):
            request_log.log("Predict", lambda i=i: _predict_messages(i), lambda: 100)
        _wait_for(lambda: request_log.written == 3)
        shutil.rmtree(folder)
        for i in range(3, 6):  # no file can be made
            request_log.log("Predict", lambda i=i: _predict_messages(i), lambda: 100)
        request_log.log("Predict", lambda: 1 / 0, lambda: 100)  # a record that cannot be built
        _wait_for(lambda: request_log.dropped == 4)
        folder.mkdir()
        for i in range(6, 8):
            request_log.log("Predict", lambda i=i: _predict_messages(i), lambda: 100)
    finally:
        request_log.stop()
    errors = [p for p in printed if "cannot" in p]
    assert len(errors) == 1 and str(folder) in errors[0], printed
    assert (request_log.written, request_log.dropped) == (5, 4)
    assert sorted(tf.make_ndarray(e.predict_log.request.inputs["distance"])[0]
                  for e in read_log(folder)) == [6.0, 7.0]


def _wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.02)


# ---- (f) options ----------------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    (["--sampling-rate", "0"], "not a sampling rate above 0 and at most 1: '0'"),
    (["--sampling-rate", "1.5"], "not a sampling rate above 0 and at most 1: '1.5'"),
    (["--sampling-rate", "nan"], "not a sampling rate"),
    (["--sampling-rate", "much"], "not a sampling rate"),
    (["--max-log-bytes", "0"], "not a number of bytes: 0"),
    (["--max-log-bytes", "1e6"], "not a number of bytes"),
    (["--log-flush-seconds", "0"], "not a number of seconds"),
    (["--log-flush-seconds", "-1"], "not a number of seconds"),
])
def test_bad_option_values_are_usage_errors(base, tmp_path, capsys, options, message):
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", str(base), "--model-name", MODEL, "--request-log",
                  str(tmp_path), *options])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_settings_without_a_folder_and_a_folder_that_is_a_file_are_refused(base, tmp_path,
                                                                           capsys):
    assert cli.main(["serve", str(base), "--model-name", MODEL,
                     "--sampling-rate", "0.5"]) == 1
    assert "--sampling-rate needs --request-log DIR" in capsys.readouterr().err
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert cli.main(["serve", str(base), "--model-name", MODEL, "--port", "0", "--rest-port",
                     "0", "--request-log", str(a_file)]) == 1
    err = capsys.readouterr().err
    assert f"--request-log {a_file}: is a file, not a folder" in err and "Traceback" not in err


def test_a_folder_that_cannot_be_written_in_is_refused_at_start(tmp_path, monkeypatch):
    """(Tested by making the probe fail: the tests may run as root, who writes anywhere.)"""
    import errno

    from skewless.serve import request_log as module

    def read_only(dir):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(module.tempfile, "TemporaryFile", read_only)
    with pytest.raises(SkewlessError, match=f"--request-log {tmp_path}: cannot write in the "
                                            f"folder: Read-only file system"):
        RequestLog(RequestLogOptions(str(tmp_path)))
