"""A bounded load test of skewless serve, on loopback: several client processes send a mix of
good and bad requests over gRPC and REST at once, to a server with and without batching.
Every good request is answered OK with the value computed here in plain Python, every bad
one INVALID_ARGUMENT / 400, and the server still answers afterwards."""
from __future__ import annotations

import json
import multiprocessing

import numpy as np
import pytest
import serve_load_client
from serve_models import expected_z, write_flights_version
from tensorflow_serving.apis import predict_pb2
from test_serve import MODEL, Server, flights_inputs, predict_request

import tensorflow as tf

PROCESSES = 4
REQUESTS = 40  # per process: half over gRPC, half over REST; every 4th bad


def requests_of(seed: int) -> list:
    """(request for serve_load_client.send, is it bad, the z a good one answers)."""
    made = []
    for number in range(REQUESTS):
        distance, hour = float(seed * 1000 + number), number % 24
        bad = number % 4 == 3
        z = expected_z(2, distance, hour, "UA")
        if number % 2:
            body = {"instances": [{"distance": "far" if bad else distance, "hour": hour,
                                   "carrier": "UA"}]}
            made.append((("REST", f"/v1/models/{MODEL}:predict", json.dumps(body)), bad, z))
        else:  # a bad one sends distance as float64, the signature takes float32
            request = predict_request({
                "distance": np.array([distance], np.float64 if bad else np.float32),
                "hour": np.array([hour], np.int64), "carrier": np.array([b"UA"], object)})
            made.append((("gRPC", request.SerializeToString()), bad, z))
    return made


def problem(request, bad: bool, z: float, answer) -> object:
    """What is wrong with ``answer`` (None: nothing)."""
    status, data = answer
    if request[0] == "REST":
        if bad:
            return None if status == 400 and "error" in json.loads(data) else answer
        value = json.loads(data)["predictions"][0]["z"] if status == 200 else None
    else:
        if bad:
            return None if status == "INVALID_ARGUMENT" else answer
        value = (tf.make_ndarray(predict_pb2.PredictResponse.FromString(data).outputs["z"])[0]
                 if status == "OK" else None)
    return None if value is not None and np.isclose(value, z, rtol=1e-6) else (answer, z)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("load")
    write_flights_version(str(folder / "flights"), 2)
    (folder / "batching.config").write_text(
        "max_batch_size { value: 16 } batch_timeout_micros { value: 2000 }\n"
        "num_batch_threads { value: 2 } max_enqueued_batches { value: 1000 }\n")
    return folder


@pytest.mark.parametrize("batching", [False, True], ids=["unbatched", "batched"])
def test_client_processes_with_mixed_requests(base, batching):
    options = ["--batching_parameters_file", str(base / "batching.config")] if batching else []
    made = [requests_of(seed) for seed in range(PROCESSES)]
    server = Server(base / "flights", *options)
    try:
        context = multiprocessing.get_context("spawn")  # no fork of a process holding gRPC
        with context.Pool(PROCESSES) as pool:
            answers = pool.starmap(serve_load_client.send, [
                (server.grpc_port, server.rest_port, [request for request, _, _ in requests])
                for requests in made], chunksize=1)
        found = [problem(request, bad, z, answer)
                 for requests, answered in zip(made, answers)
                 for (request, bad, z), answer in zip(requests, answered)]
        assert len(found) == PROCESSES * REQUESTS
        assert [p for p in found if p is not None] == []
        response = server.stub.Predict(predict_request(flights_inputs()), 30.0)
        assert response.model_spec.version.value == 2
        assert server.process.poll() is None
    finally:
        server.stop()
