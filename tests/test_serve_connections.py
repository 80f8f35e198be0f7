"""skewless serve against idle and slow clients, and a port in use: a REST connection that
sends nothing for --idle-timeout is closed, at most --max-connections are served at once
(one more is answered 503 in JSON) and good requests are answered while idle ones are open;
a gRPC connection without calls is closed after the same timeout; a port in use is an error
found before any model is loaded."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import grpc
import pytest
from serve_models import write_flights_version
from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc
from test_serve import MODEL, Server, assert_still_serving

IDLE_TIMEOUT = 2.0
MAX_CONNECTIONS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("connections") / MODEL
    write_flights_version(str(base), 1)
    running = Server(base, "--idle-timeout", str(IDLE_TIMEOUT),
                     "--max-connections", str(MAX_CONNECTIONS))
    yield running
    running.stop()


def connected(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def read_all(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    reply = b""
    while chunk := connection.recv(65536):
        reply += chunk
    return reply


def response(connection: socket.socket) -> tuple[bytes, bytes]:
    """The head and body of one response on a kept-alive connection."""
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += _received(connection)
    head, _, body = reply.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += _received(connection)
    return head, body


def _received(connection: socket.socket) -> bytes:
    chunk = connection.recv(65536)
    assert chunk, "the server closed the connection"
    return chunk


GOOD = (f"POST /v1/models/{MODEL}:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 52\r\n\r\n"
        '{"signature_name": "double", "instances": [[1, 1]]}\n').encode()
STALLED = {  # what a client sends before it stops
    "nothing": b"",
    "half a request line": b"POST /v1/models/",
    "headers without their end": b"GET /v1/models/flights HTTP/1.1\r\nHost: x\r\n",
    "a body shorter than its Content-Length": GOOD[:-10],
}


@pytest.mark.parametrize("case", list(STALLED))
def test_a_stalled_connection_is_closed_after_the_idle_timeout(server, case):
    with connected(server.rest_port) as connection:
        connection.sendall(STALLED[case])
        started = time.monotonic()
        assert read_all(connection) == b""  # closed unanswered: the client sent no request
        assert time.monotonic() - started >= IDLE_TIMEOUT * 0.9
    assert_still_serving(server)


def test_a_kept_alive_connection_is_closed_after_the_idle_timeout(server):
    with connected(server.rest_port) as connection:
        connection.sendall(GOOD)
        head, body = response(connection)
        assert head.startswith(b"HTTP/1.1 200 ") and json.loads(body) == {
            "predictions": [[2.0, 2.0]]}
        started = time.monotonic()
        assert read_all(connection) == b""
        assert time.monotonic() - started >= IDLE_TIMEOUT * 0.9


def test_requests_are_answered_while_idle_connections_are_open(server):
    idle = [connected(server.rest_port) for _ in range(MAX_CONNECTIONS - 1)]
    try:
        with connected(server.rest_port) as connection:
            for _ in range(3):  # one connection kept alive between requests
                connection.sendall(GOOD)
                assert response(connection)[0].startswith(b"HTTP/1.1 200 ")
    finally:
        for connection in idle:
            connection.close()


def test_a_connection_past_the_limit_is_answered_503_in_json(server):
    idle = [connected(server.rest_port) for _ in range(MAX_CONNECTIONS)]
    try:
        for connection in idle:  # each is being served once it answers
            connection.sendall(GOOD)
            assert response(connection)[0].startswith(b"HTTP/1.1 200 ")
        with connected(server.rest_port) as extra:
            reply = read_all(extra)
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ") and b"Content-Type: application/json" in head
        assert json.loads(body) == {"error": f"the server has --max-connections "
                                             f"{MAX_CONNECTIONS} connections open: try again "
                                             f"later"}
    finally:
        for connection in idle:
            connection.close()
    deadline = time.monotonic() + 30
    while True:  # the closed connections' threads end, and new connections are served
        with connected(server.rest_port) as connection:
            connection.sendall(GOOD)
            if response(connection)[0].startswith(b"HTTP/1.1 200 "):
                break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert_still_serving(server)


def test_a_grpc_connection_without_calls_is_closed_after_the_idle_timeout(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    states = []
    changed = threading.Condition()

    def record(state):
        with changed:
            states.append(state)
            changed.notify_all()

    try:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = MODEL
        stub.GetModelStatus(request, 30.0)
        channel.subscribe(record)
        with changed:  # connected, then idle once the server closes the connection (GOAWAY)
            assert changed.wait_for(
                lambda: grpc.ChannelConnectivity.IDLE in states[states.index(
                    grpc.ChannelConnectivity.READY) + 1:]
                if grpc.ChannelConnectivity.READY in states else False, timeout=30), states
        assert stub.GetModelStatus(request, 30.0).model_version_status[0].version == 1
    finally:
        channel.unsubscribe(record)
        channel.close()


# ---- ports ------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["gRPC", "REST"])
def test_a_port_in_use_is_found_before_the_model_is_loaded(tmp_path, which):
    base = tmp_path / MODEL
    (base / "1").mkdir(parents=True)
    (base / "1" / "saved_model.pb").write_bytes(b"not a SavedModel")  # fails when loaded
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        ports = ["--port", str(port), "--rest-port", "0"] if which == "gRPC" else \
            ["--port", "0", "--rest-port", str(port)]
        second = subprocess.run(
            [sys.executable, "-m", "skewless", "serve", str(base), "--model-name", MODEL,
             *ports], capture_output=True, text=True, timeout=180)
    assert second.returncode == 1, second.stderr
    assert f"cannot listen for {which} on 127.0.0.1:{port}" in second.stderr
    assert "cannot load" not in second.stderr and "can be loaded" not in second.stderr
    assert "Traceback" not in second.stderr


def test_a_model_that_cannot_be_loaded_is_still_an_error_once_the_ports_are_free(tmp_path):
    base = tmp_path / MODEL
    (base / "1").mkdir(parents=True)
    (base / "1" / "saved_model.pb").write_bytes(b"not a SavedModel")
    second = subprocess.run(
        [sys.executable, "-m", "skewless", "serve", str(base), "--model-name", MODEL,
         "--port", "0", "--rest-port", "0"], capture_output=True, text=True, timeout=180)
    assert second.returncode == 1, second.stderr
    assert "can be loaded" in second.stderr and "Traceback" not in second.stderr
