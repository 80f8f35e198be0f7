"""skewless serve against idle and slow clients, and a port in use: a REST connection that
sends nothing for --idle-timeout is closed, a request not received whole within
--read-timeout is answered 408, a body over --max-request-bytes is answered 400 and the
client receives that answer, at most --max-connections are served at once (one more is
answered 503 in JSON) and good requests are answered while idle ones are open; a gRPC
connection without calls is closed after the idle timeout; a port in use is an error found
before any model is loaded."""
from __future__ import annotations

import contextlib
import json
import socket
import struct
import subprocess
import sys
import threading
import time

import urllib.error
import urllib.request

import grpc
import pytest
import requests
from serve_models import write_flights_version
from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc
from test_serve import MODEL, Server, assert_still_serving, rest_call

from skewless.serve.limits import Limits
from skewless.serve.models import Models
from skewless.serve.rest import bind_rest, serve_rest
from skewless.serve.versions import Versions

IDLE_TIMEOUT = 2.0
READ_TIMEOUT = 3.0
MAX_CONNECTIONS = 4
MAX_REQUEST_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("connections") / MODEL
    write_flights_version(str(base), 1)
    running = Server(base, "--idle-timeout", str(IDLE_TIMEOUT),
                     "--read-timeout", str(READ_TIMEOUT),
                     "--max-connections", str(MAX_CONNECTIONS),
                     "--max-request-bytes", str(MAX_REQUEST_BYTES))
    yield running
    running.stop()


def bound_server(base, limits: Limits):
    """An in-process REST server of version 1 of the test model under ``base``, bound to a
    free loopback port, not yet serving: (server, port)."""
    write_flights_version(str(base), 1)
    versions = Versions(MODEL, str(base), limits, log=lambda message: None)
    versions.poll()
    return bind_rest(Models([versions], limits), "127.0.0.1", 0)


@contextlib.contextmanager
def served_connections(port: int, count: int = MAX_CONNECTIONS):
    """``count`` connections, each answered once (so each holds a serving thread)."""
    held = []
    try:
        for _ in range(count):
            held.append(answered_connection(port))
        yield held
    finally:
        for connection in held:
            connection.close()


def answered_connection(port: int) -> socket.socket:
    """A connection whose first request was answered 200. The connections an earlier test
    closed hold their serving threads until the server has seen them closed, a moment
    longer under load: a connection answered 503 meanwhile is tried again, for up to 30 s."""
    deadline = time.monotonic() + 30
    while True:
        connection = connected(port)
        connection.sendall(GOOD)
        head = response(connection)[0]
        if head.startswith(b"HTTP/1.1 200 "):
            return connection
        connection.close()
        assert head.startswith(b"HTTP/1.1 503 ") and time.monotonic() < deadline, head
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def a_free_connection(request):
    """Before each test of the module's server, a connection is served again (see
    answered_connection)."""
    if "server" in request.fixturenames:
        answered_connection(request.getfixturevalue("server").rest_port).close()


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


# ---- a request sent too slowly --------------------------------------------------------------

HEAD_END = GOOD.index(b"\r\n\r\n") + 4
DRIPPED = {  # what a client sends at once, before it sends the rest a byte at a time
    "the request line": b"",
    "the headers": GOOD[:GOOD.index(b"\r\n") + 2],
    "the body": GOOD[:HEAD_END],
    "the body, on a kept-alive connection after a request": GOOD + GOOD[:HEAD_END],
}
DRIP_SECONDS = 0.4  # between two bytes: well within the idle timeout


def drip(connection: socket.socket, data: bytes, stop: threading.Event) -> None:
    """Send ``data`` a byte at a time until it is all sent, ``stop`` is set or the
    connection fails."""
    for byte in data:
        if stop.wait(DRIP_SECONDS):
            return
        try:
            connection.sendall(bytes([byte]))
        except OSError:
            return


@pytest.mark.parametrize("case", list(DRIPPED))
def test_a_request_dripped_past_the_read_timeout_is_answered_408(server, case):
    sent = DRIPPED[case]
    stop = threading.Event()
    with connected(server.rest_port) as connection:
        connection.sendall(sent)
        if sent.startswith(GOOD):
            assert response(connection)[0].startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        dripping = threading.Thread(target=drip, args=(connection, GOOD[len(sent) % len(GOOD):]
                                                       * 2, stop))
        dripping.start()
        try:
            reply = read_all(connection)  # answered, then closed
        finally:
            stop.set()
            dripping.join()
        elapsed = time.monotonic() - started
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in head, reply
    assert json.loads(body) == {"error": f"Request Timeout: the request was not received "
                                         f"whole within the server's --read-timeout of "
                                         f"{READ_TIMEOUT:g} s"}
    # from the request's first byte, sent one drip after ``started`` (or before it)
    assert READ_TIMEOUT - 0.5 <= elapsed < READ_TIMEOUT + DRIP_SECONDS + 5, elapsed
    assert_still_serving(server)


def test_the_read_timeout_applies_to_each_request_not_to_the_connection(server):
    """Requests sent slowly, each within the read timeout, on a connection kept open for
    several times the read timeout, are all answered."""
    started = time.monotonic()
    with connected(server.rest_port) as connection:
        for _ in range(4):
            for piece in (GOOD[:20], GOOD[20:HEAD_END], GOOD[HEAD_END:]):
                connection.sendall(piece)
                time.sleep(READ_TIMEOUT / 5)  # 3 pauses: within the read timeout
            head, body = response(connection)
            assert head.startswith(b"HTTP/1.1 200 "), head
            time.sleep(IDLE_TIMEOUT / 2)  # idle, within the idle timeout
    assert time.monotonic() - started > 2 * READ_TIMEOUT


# ---- a body over the limit ---------------------------------------------------------------------

def by_http_client(port: int, body: bytes) -> tuple[int, dict]:
    return rest_call(port, "POST", f"/v1/models/{MODEL}:predict", body)


def by_urllib(port: int, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/{MODEL}:predict",
                                     data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def by_requests(port: int, body: bytes) -> tuple[int, dict]:
    answer = requests.post(f"http://127.0.0.1:{port}/v1/models/{MODEL}:predict", data=body,
                           timeout=30)
    return answer.status_code, answer.json()


CLIENTS = {"http.client": by_http_client, "urllib": by_urllib, "requests": by_requests}
OVER = {  # bodies over the limit: by one byte, and by more than the sockets' buffers hold
    "one byte over": MAX_REQUEST_BYTES + 1,
    "16 times the limit (1 MiB)": 16 * MAX_REQUEST_BYTES,
    "128 times the limit (8 MiB)": 128 * MAX_REQUEST_BYTES,
}


@pytest.mark.parametrize("size", list(OVER))
@pytest.mark.parametrize("client", list(CLIENTS))
def test_a_client_sending_a_body_over_the_limit_receives_the_400(server, client, size):
    length = OVER[size]
    start, end = b'{"signature_name": "double", "instances": [[1, 1]], "padding": "', b'"}'
    body = start + b"x" * (length - len(start) - len(end)) + end  # valid JSON
    status, reply = CLIENTS[client](server.rest_port, body)
    assert (status, reply) == (400, {"error": f"request body of {length} bytes is larger "
                                              f"than the server's --max-request-bytes "
                                              f"{MAX_REQUEST_BYTES}"})
    assert_still_serving(server)


def test_requests_are_answered_while_idle_connections_are_open(server):
    with served_connections(server.rest_port, MAX_CONNECTIONS - 1):  # idle once answered
        with answered_connection(server.rest_port) as connection:
            for _ in range(2):  # one connection kept alive between requests
                connection.sendall(GOOD)
                assert response(connection)[0].startswith(b"HTTP/1.1 200 ")


def test_a_connection_past_the_limit_is_answered_503_in_json(server):
    with served_connections(server.rest_port):
        with connected(server.rest_port) as extra:
            reply = read_all(extra)
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ") and b"Content-Type: application/json" in head
        assert json.loads(body) == {"error": f"the server has --max-connections "
                                             f"{MAX_CONNECTIONS} connections open: try again "
                                             f"later"}
    deadline = time.monotonic() + 30
    while True:  # the closed connections' threads end, and new connections are served
        with connected(server.rest_port) as connection:
            connection.sendall(GOOD)
            if response(connection)[0].startswith(b"HTTP/1.1 200 "):
                break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert_still_serving(server)


def test_a_connection_past_the_limit_sending_a_large_body_receives_the_503(server):
    with served_connections(server.rest_port):
        body = b"1" * 8 * 2 ** 20
        with connected(server.rest_port) as extra:
            extra.sendall(f"POST /v1/models/{MODEL}:predict HTTP/1.1\r\nHost: x\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            reply = read_all(extra)
        assert reply.startswith(b"HTTP/1.1 503 "), reply[:200]
    assert_still_serving(server)


@pytest.mark.parametrize("sent", [0, 1, 41])
def test_a_body_cut_short_by_a_half_close_is_400(server, sent):
    head, body = GOOD.split(b"\r\n\r\n")
    with connected(server.rest_port) as connection:
        connection.sendall(head + b"\r\n\r\n" + body[:sent])
        connection.shutdown(socket.SHUT_WR)
        reply = read_all(connection)
    status, _, answer = reply.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in status, reply
    assert json.loads(answer) == {"error": f"the body of {sent} bytes is shorter than its "
                                           f"Content-Length {len(body)}"}
    assert_still_serving(server)


BURST_CONNECTIONS = 64


def test_a_burst_of_twice_max_connections_is_each_answered_200_or_503(tmp_path):
    """The burst waits in the listen queue (the server is listening, not yet serving): each
    connection is made at once, none left for the client's SYN retries (some 60 s)."""
    running, port = bound_server(tmp_path / MODEL, Limits(max_connections=BURST_CONNECTIONS))
    burst = []
    try:
        for _ in range(2 * BURST_CONNECTIONS):
            burst.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            burst[-1].sendall(f"GET /v1/models/{MODEL} HTTP/1.1\r\nHost: x\r\n"
                              f"Connection: close\r\n\r\n".encode())
    finally:
        serve_rest(running)  # drain waits for the serving loop
    try:
        deadline = time.monotonic() + 20
        statuses = []
        for connection in burst:
            connection.settimeout(max(deadline - time.monotonic(), 0.01))
            head, _, body = read_all(connection).partition(b"\r\n\r\n")
            statuses.append(int(head.split(b" ")[1]))
            assert set(json.loads(body)) <= {"model_version_status", "error"}
        assert set(statuses) <= {200, 503} and 200 in statuses, statuses
    finally:
        for connection in burst:
            connection.close()
        running.drain(5.0)


RESET_AFTER = {"half a request line": b"POST /v1/models/", "headers": GOOD[:60],
               "half a body": GOOD[:-20]}


@pytest.mark.parametrize("case", list(RESET_AFTER))
def test_a_client_reset_logs_no_traceback(tmp_path, capfd, case):
    running, port = bound_server(tmp_path / MODEL, Limits())
    serve_rest(running)
    try:
        connection = connected(port)
        connection.sendall(RESET_AFTER[case])
        time.sleep(0.3)  # the server is reading
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()  # a reset
        time.sleep(0.5)
        assert rest_call(port, "GET", f"/v1/models/{MODEL}")[0] == 200
    finally:
        running.drain(5.0)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err, err


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


def test_a_flood_past_max_connections_holds_at_most_max_connections_refusing_threads(tmp_path):
    """Each connection past --max-connections is answered 503; those closed lingering hold a
    thread for up to LINGER_SECONDS, so at most --max-connections of them do at once: the
    others are closed at once, and the process's threads stay bounded."""
    running, port = bound_server(tmp_path / MODEL, Limits(max_connections=MAX_CONNECTIONS))
    serve_rest(running)
    flood = []
    try:
        with served_connections(port):
            before = threading.active_count()
            for _ in range(10 * MAX_CONNECTIONS):  # they send nothing: lingering waits
                flood.append(connected(port))
            deadline = time.monotonic() + 10
            for connection in flood:
                connection.settimeout(max(deadline - time.monotonic(), 0.01))
                assert connection.recv(12) == b"HTTP/1.1 503"
            assert threading.active_count() - before <= MAX_CONNECTIONS
    finally:
        for connection in flood:
            connection.close()
        running.drain(5.0)
