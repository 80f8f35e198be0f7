"""The one error type of the server: a gRPC status code and a message naming the problem.

Both front ends report it the way TF Serving does: gRPC aborts the call with the code, REST
answers ``{"error": message}`` with the HTTP status the one table below maps the code to.
A request the server cannot take (malformed, too large, out of range) is INVALID_ARGUMENT
(400); only a fault of the server itself is INTERNAL (500)."""
from __future__ import annotations

import re

import grpc
import tensorflow as tf

# TF Serving's mapping of status codes to HTTP statuses (util/net_http/status_code.h use).
_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNKNOWN: 500,
}
_CODES = {code.value[0]: code for code in grpc.StatusCode}


class ServingError(Exception):
    """A request the server cannot answer; the server itself keeps serving."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return _HTTP.get(self.code, 500)


def invalid(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def internal(error: Exception) -> ServingError:
    """A fault of the server (logged where it is caught), never of the request."""
    return ServingError(grpc.StatusCode.INTERNAL,
                        f"internal error: {type(error).__name__}: {error}")


def from_tensorflow(error: tf.errors.OpError) -> ServingError:
    """TensorFlow's error codes are gRPC's. Its messages carry what means nothing to a
    client (where the failing op was defined, ``[[{{node …}}]]``, ``[Op:…]``), dropped here."""
    kept, in_trace = [], False
    for line in error.message.splitlines():
        if line.startswith("Detected at node"):
            in_trace = True
        elif not (in_trace and (line[:1].isspace() or line.startswith("<stack traces"))):
            in_trace = False
            if line.strip() and line.strip() != "Graph execution error:" and \
                    not line.strip().startswith("[["):
                kept.append(line.strip())
    message = re.sub(r"\s*\[Op:[^\]]*\]", "", " ".join(kept))
    # The value is cut at its first NUL byte, or is binary: do not echo it.
    message = re.sub(r"Could not parse example input, value: '.*",
                     "Could not parse example input: a value is not a serialized tf.Example",
                     message)
    return ServingError(_CODES.get(error.error_code, grpc.StatusCode.UNKNOWN), message)
