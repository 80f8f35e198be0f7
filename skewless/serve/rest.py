"""TF Serving's REST API on the standard library's threading HTTP server.

    POST /v1/models/NAME[/versions/N | /labels/LABEL]:predict | :classify | :regress
    GET  /v1/models/NAME[/versions/N | /labels/LABEL]            (status)
    GET  /v1/models/NAME[/versions/N | /labels/LABEL]/metadata
    GET  /monitoring/prometheus/metrics  (the path of --monitoring_config_file, if it has one)

Errors answer ``{"error": "…"}`` with the HTTP status TF Serving gives their code."""
from __future__ import annotations

import io
import json
import re
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import unquote

from google.protobuf import json_format
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2, model_pb2,
                                     regression_pb2)

from . import json_body, json_convert, messages
from .limits import LINGER_BYTES, LINGER_SECONDS, Limits
from .status import ServingError, internal, invalid, not_found
from .models import Models

_ROUTE = re.compile(r"/v1/models/(?P<name>[^/:]+)"
                    r"(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
                    r"(?P<action>/metadata|:predict|:classify|:regress)?")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,20}")
# A header line: a field name (RFC 9110 5.1, a token), a colon, a field value of visible
# characters, spaces and tabs (5.5; obs-text, bytes 0x80-0xFF, allowed but for 0x85, which
# the header parser, reading bytes as Latin-1, takes for a line break), the line's end.
_HEADER_LINE = re.compile(
    rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\x84\x86-\xff]*\r?\n")


class RestServer(ThreadingHTTPServer):
    """Counts requests in flight, so that shutdown can wait for them and no more: idle
    keep-alive connections (daemon threads) do not hold the process. At most
    ``limits.max_connections`` connections are served at once (a thread each); one more is
    answered 503 and closed; the listen queue holds at least as many connections
    (``socket.SOMAXCONN``, as Go's net/http listens), so that a burst of them is answered
    rather than left unaccepted. A connection that sends nothing for ``limits.idle_timeout``
    seconds is closed; a request not received whole ``limits.read_timeout`` seconds after
    its first byte is answered 408 and its connection closed. A connection closed after an
    answer is closed lingering (``LINGER_SECONDS``, ``LINGER_BYTES``)."""

    daemon_threads = True

    def __init__(self, address, models: Models, metrics=None, request_log=None):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.request_queue_size = max(models.limits.max_connections, socket.SOMAXCONN)
        super().__init__(address, _Handler)
        self.models = models
        self.metrics = metrics
        self.request_log = request_log
        self._in_flight = 0
        self._idle = threading.Condition()
        self._connections = threading.BoundedSemaphore(models.limits.max_connections)
        # refusals closing lingering at once (a thread each), at most as many as connections
        self._refusals = threading.BoundedSemaphore(models.limits.max_connections)

    def process_request(self, request, client_address):
        if self._connections.acquire(blocking=False):
            super().process_request(request, client_address)
        elif self._refusals.acquire(blocking=False):
            threading.Thread(target=self._refuse, args=(request,), daemon=True).start()
        else:  # a flood: the 503 is sent if the socket takes it at once, then closed
            self._refuse(request, linger=False)

    def _refuse(self, request: socket.socket, linger: bool = True) -> None:
        """Answer 503 and close; lingering in a thread of its own (the accepting loop goes
        on), else without waiting for anything."""
        limits = self.models.limits
        try:
            request.settimeout(1.0 if linger else 0.0)
            request.sendall(_reply(503, {"error": (
                f"the server has --max-connections {limits.max_connections} "
                f"connections open: try again later")}, close=True))
            if linger:
                _close_lingering(request, limits)
        except OSError:
            pass
        finally:
            self.shutdown_request(request)
            if linger:
                self._refusals.release()

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def handle_error(self, request, client_address):
        """A client that resets its connection or stops sending is no fault of the server:
        nothing is logged. Anything else is logged with its traceback, as by default."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def enter(self) -> None:
        with self._idle:
            self._in_flight += 1

    def leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def drain(self, timeout: float) -> None:
        """Stop accepting connections and wait (at most ``timeout``) for requests in flight."""
        self.shutdown()
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout)
        self.server_close()


def _reply(status: int, reply, close: bool = False,
           content_type: str = "application/json") -> bytes:
    """A whole HTTP/1.1 response, written in one piece: ``reply`` as JSON, or the bytes of
    ``content_type``."""
    data = reply if isinstance(reply, bytes) else json.dumps(reply).encode("utf-8")
    reason = BaseHTTPRequestHandler.responses.get(status, ("",))[0]
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(data)}\r\n" + ("Connection: close\r\n" if close else "")
            + "\r\n")
    return head.encode("ascii") + data


def _close_lingering(connection: socket.socket, limits: Limits) -> None:
    """Close lingering, as nginx and Go's net/http do: end the writing side, then read and
    drop what the client still sends (at most ``LINGER_BYTES``, for at most
    ``LINGER_SECONDS``), so that a client still sending a body the server did not read
    receives the answer, rather than a reset that would drop it."""
    deadline, left = time.monotonic() + LINGER_SECONDS, LINGER_BYTES
    dropped = bytearray(64 * 1024)
    try:
        connection.shutdown(socket.SHUT_WR)
        while left > 0 and (wait := deadline - time.monotonic()) > 0:
            connection.settimeout(min(wait, limits.idle_timeout))
            read = connection.recv_into(dropped, min(left, len(dropped)))
            if not read:
                return
            left -= read
    except OSError:  # a timeout, or the client is gone
        pass


class _Overdue(Exception):
    """A request not received whole within the server's --read-timeout."""


class _RequestReader(io.RawIOBase):
    """The connection's bytes, as the HTTP layer reads them: each read waits at most
    ``limits.idle_timeout`` seconds (a TimeoutError after), and the bytes of a request
    arrive within ``limits.read_timeout`` seconds of its first one (``_Overdue`` after), so
    that a client sending a byte now and then cannot hold its connection."""

    def __init__(self, connection: socket.socket, limits: Limits):
        super().__init__()
        self.connection, self.limits = connection, limits
        self.deadline = None  # of the request being read, from its first byte

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        wait = self.limits.idle_timeout
        if self.deadline is not None:
            wait = min(wait, self.deadline - time.monotonic())
            if wait <= 0:
                raise _Overdue
        self.connection.settimeout(wait)
        try:
            read = self.connection.recv_into(buffer)
        except TimeoutError:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                raise _Overdue from None
            raise
        if read and self.deadline is None:
            self.deadline = time.monotonic() + self.limits.read_timeout
        return read

    def next_request(self) -> None:
        """The request is over (answered): the next one's deadline starts at its first byte."""
        self.deadline = None
        self.connection.settimeout(self.limits.idle_timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: RestServer

    def setup(self):
        # The timeout of each read and write on the connection (StreamRequestHandler's
        # ``timeout``): an idle keep-alive connection, or a client that stops, is closed.
        self.timeout = self.server.models.limits.idle_timeout
        super().setup()
        self.rfile.close()  # the socket's own reader, replaced by one that keeps deadlines
        self.reader = _RequestReader(self.connection, self.server.models.limits)
        self.rfile = io.BufferedReader(self.reader)
        self.lingering = False
        # A response is one write, but one longer than a segment would end in a short
        # segment that Nagle's algorithm holds until the client's delayed ACK (some 40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def parse_request(self) -> bool:
        """The HTTP layer's parsing of the request line, after any empty lines (RFC 9112
        2.2: a client may send one after a request's body), and of the headers, each of
        whose lines must be ``name: value`` as RFC 9110 5 and RFC 9112 5 write it: a line the
        header parser would stop at (a space before the colon, no colon), split (a CR, a
        form feed or a NEL inside it) or fold into the line before would make it ignore or
        invent a header, ``Content-Length`` among them, and read the body as another
        request. Such a line is answered 400 and the connection closed."""
        while self.raw_requestline in (b"\r\n", b"\n"):  # the read timeout bounds this
            self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.send_error(414)
            return False
        if not self.raw_requestline:  # the client ended the connection after empty lines
            self.close_connection = True
            return False
        if not self.raw_requestline.strip():
            self.send_error(400, "Bad Request", "the request line is empty")
            return False
        reading, self.rfile = self.rfile, _LineRecorder(self.rfile)
        try:
            parsed = super().parse_request()
        finally:
            header_lines, self.rfile = self.rfile.lines, reading
        if not parsed:
            return False
        bad = next((line for line in header_lines
                    if line not in (b"\r\n", b"\n") and not _HEADER_LINE.fullmatch(line)), None)
        if bad is None:
            return True
        self.send_error(400, "Bad Request", _header_line_error(bad))
        return False

    def handle_one_request(self):
        self.command = None  # until the request line is read
        try:
            super().handle_one_request()
        except _Overdue:
            self.send_error(408, "Request Timeout", (
                f"the request was not received whole within the server's --read-timeout of "
                f"{self.server.models.limits.read_timeout:g} s"))

    def finish(self):
        super().finish()
        if self.lingering:
            _close_lingering(self.connection, self.server.models.limits)

    def __getattr__(self, name: str):
        """``do_METHOD`` for every method: the ones the API does not take (PUT, DELETE,
        HEAD, any token) are answered as TF Serving answers them, in JSON."""
        if name.startswith("do_"):
            return lambda: self._answer(self.command)
        raise AttributeError(name)

    def send_error(self, code, message=None, explain=None):
        """What the HTTP layer itself refuses (a malformed request line, an HTTP version
        it does not speak, a request line over 64 KiB, too many headers) in JSON too."""
        short, long = self.responses.get(code, ("Error", ""))
        self.close_connection = True
        self.request_version = self.protocol_version  # a status line and headers, always
        self._send(code, {"error": f"{message or short}: {explain or long}"})

    def log_message(self, format, *args):  # noqa: A002 - no access log; errors go to stderr
        pass

    def _answer(self, method: str) -> None:
        self.server.enter()
        started, self.counted, code = time.monotonic(), None, "OK"
        try:
            try:
                status, reply = 200, self._route(method, self._body())
            except ServingError as error:
                status, reply, code = error.http_status, {"error": error.message}, error.code.name
            except (TimeoutError, ConnectionError):  # the client stopped or reset its body
                self.close_connection = True
                return
            except _Overdue:
                raise  # answered by handle_one_request
            except Exception as error:  # a bug must not take the server down
                traceback.print_exc(file=sys.stderr)
                failure = internal(error)
                status, reply, code = failure.http_status, {"error": failure.message}, "INTERNAL"
            if isinstance(reply, _Metrics):
                self._send(200, reply.text, reply.content_type)
                return
            self._send(status, reply)
            if self.counted is not None:
                self.server.metrics.request(*self.counted, "REST", code,
                                            time.monotonic() - started)
        finally:
            self.server.leave()

    def _send(self, status: int, reply, content_type: str = "application/json") -> None:
        self.reader.next_request()
        response = _reply(status, reply, close=self.close_connection,
                          content_type=content_type)
        if self.command == "HEAD":  # a HEAD response has the headers only
            response = response[:response.index(b"\r\n\r\n") + 4]
        self.wfile.write(response)
        self.lingering = self.close_connection

    def _body(self) -> bytes:
        """Read whatever the route, so that the kept-alive connection stays in step; a
        body that is not read (its length unknown or over the limit) ends the connection."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise invalid("Transfer-Encoding is not supported: send a Content-Length")
        lengths = self.headers.get_all("Content-Length") or ["0"]
        if len(lengths) > 1:  # a proxy in front might take the other one (RFC 9112, 6.3)
            self.close_connection = True
            raise invalid(f"Content-Length is given {len(lengths)} times: give it once")
        length = lengths[0].strip()
        if not _CONTENT_LENGTH.fullmatch(length):
            self.close_connection = True
            raise invalid(f"Content-Length {json_convert.shown(length)} is not a number")
        try:
            self.server.models.limits.check_body(int(length), "request body")
        except ServingError:
            self.close_connection = True
            raise
        body = self.rfile.read(int(length))
        if len(body) < int(length):  # the client ended its side of the connection
            self.close_connection = True
            raise invalid(f"the body of {len(body)} bytes is shorter than its Content-Length "
                          f"{int(length)}")
        return body

    def _route(self, method: str, body: bytes):
        path = self.path.split("?", 1)[0]
        metrics = self.server.metrics
        if metrics is not None and path == metrics.path and method == "GET":
            return _Metrics(*metrics.exposition())
        match = _ROUTE.fullmatch(path)
        action = match and match["action"]
        expected = "GET" if action in (None, "/metadata") else "POST"
        if match is None or method != expected:
            raise not_found(f"Malformed request: {method} {path}")
        spec = model_pb2.ModelSpec(name=unquote(match["name"]),
                                   version_label=unquote(match["label"] or ""))
        if match["version"]:
            spec.version.value = _version(match["version"])
        models = self.server.models
        if metrics is not None:  # counted once answered, as (model name, API)
            self.counted = (spec.name, _APIS[action])
        if action is None:
            return _status_json(messages.status_response(models, spec))
        servable = messages.resolve(models, spec)
        if action == "/metadata":
            return _metadata_json(messages.metadata_response(spec.name, servable))
        request = json_body.parse_object(body, models.limits)
        signature = servable.signature(_signature_name(request))
        log = self._request_logger(spec, _signature_name(request), len(body))
        if action == ":predict":
            inputs, row_format = json_convert.predict_inputs(
                request, signature.definition.inputs,
                lambda names: servable.check_input_names(signature, names), models.limits)
            outputs = servable.predict(signature, inputs)
            log("Predict", lambda asked: (
                messages.predict_request(asked, inputs),
                messages.predict_response(spec.name, servable, signature.name, outputs)))
            return json_convert.predict_response(outputs, row_format)
        request_input = json_convert.examples_input(request, servable.feature_kinds,
                                                    models.limits)
        examples = messages.serialized_examples(request_input, models.limits)
        if action == ":classify":
            classes, scores = servable.classify(signature, examples)
            log("Classify", lambda asked: (
                classification_pb2.ClassificationRequest(model_spec=asked, input=request_input),
                messages.classification_response(spec.name, servable, signature.name,
                                                 classes, scores)))
            return json_convert.classify_response(classes, scores)
        values = servable.regress(signature, examples)
        log("Regress", lambda asked: (
            regression_pb2.RegressionRequest(model_spec=asked, input=request_input),
            messages.regression_response(spec.name, servable, signature.name, values)))
        return json_convert.regress_response(values)

    def _request_logger(self, spec, signature_name: str, body_bytes: int):
        """``log(api, messages_of)``: offer a request answered OK to the request log, if any;
        ``messages_of(asked)``, run on the log's thread, gives the gRPC request it stands for
        (of model spec ``asked``) and the gRPC response (``request_log.RequestLog.log``)."""
        def log(api: str, messages_of) -> None:
            if self.server.request_log is not None:
                self.server.request_log.log(
                    api, lambda: messages_of(_asked(spec, signature_name)), lambda: body_bytes)
        return log


def _asked(spec: model_pb2.ModelSpec, signature_name: str) -> model_pb2.ModelSpec:
    """The model spec of the gRPC request a REST request stands for."""
    asked = model_pb2.ModelSpec()
    asked.CopyFrom(spec)
    asked.signature_name = signature_name
    return asked


_APIS = {None: "GetModelStatus", "/metadata": "GetModelMetadata", ":predict": "Predict",
         ":classify": "Classify", ":regress": "Regress"}  # the route's API, as over gRPC


class _Metrics(NamedTuple):
    """A route's answer that is the metrics, not JSON."""

    text: bytes
    content_type: str


class _LineRecorder:
    """A reader that keeps each line read through it: the header lines as sent."""

    def __init__(self, reader):
        self.reader, self.lines = reader, []

    def readline(self, limit: int = -1) -> bytes:
        line = self.reader.readline(limit)
        self.lines.append(line)
        return line


def _header_line_error(line: bytes) -> str:
    """Why a header line is refused (it does not match ``_HEADER_LINE``)."""
    text = line.rstrip(b"\r\n").decode("iso-8859-1")
    if text[:1] in (" ", "\t"):
        return (f"a header line begins with a space or a tab (obs-fold, "
                f"{json_convert.shown(text.strip())}): write each header on one line")
    return (f"the header line {json_convert.shown(text)} is not 'name: value' (a name of "
            f"letters, digits and !#$%&'*+-.^_`|~, then a colon with no space before it, then "
            f"visible characters, spaces and tabs): it could be read as other headers")


def _version(digits: str) -> int:
    """A version number of the path: an int64, as in TF Serving."""
    if len(digits) > 19 or int(digits) >= 2 ** 63:
        raise invalid(f"Failed to convert version: {json_convert.shown(digits)} to numeric: "
                      f"versions are 64-bit integers")
    return int(digits)


def _signature_name(request: dict) -> str:
    name = request.get("signature_name", "")
    if not isinstance(name, str):
        raise invalid("'signature_name' must be a string")
    return name


def _json(message) -> dict:
    """Proto3 JSON with the proto's field names. Fields at their default value are left
    out (the option to print them was renamed between protobuf 4 and 5); the few TF Serving
    shows are filled in by the callers."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _status_json(response) -> dict:
    reply = _json(response)
    for entry in reply.setdefault("model_version_status", []):
        status = entry.setdefault("status", {})
        status.setdefault("error_code", "OK")
        status.setdefault("error_message", "")
    return reply


def _metadata_json(response) -> dict:
    """As TF Serving prints it: the signature map unpacked from its ``Any``."""
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[messages.SIGNATURE_DEF].Unpack(signatures)
    model_spec = _json(response.model_spec)
    model_spec.setdefault("signature_name", "")
    return {"model_spec": model_spec, "metadata": {messages.SIGNATURE_DEF: _json(signatures)}}


def bind_rest(models: Models, host: str, port: int, metrics=None,
              request_log=None) -> tuple[RestServer, int]:
    """The server, listening but not yet serving (``serve_rest``), and its port (0 picks
    a free one); it serves ``metrics`` (a ``metrics.Metrics``) at its path, and counts each
    model request in them, if given; each Predict, Classify and Regress answered OK is
    offered to ``request_log`` (a ``request_log.RequestLog``), if given, as the gRPC
    request and response it stands for. A port in use is an OSError."""
    server = RestServer((host, port), models, metrics, request_log)
    return server, server.server_address[1]


def serve_rest(server: RestServer) -> None:
    """Serve, in a thread."""
    threading.Thread(target=server.serve_forever, name="rest", daemon=True).start()
