"""``skewless serve``: both front ends over one model, until SIGTERM or SIGINT."""
from __future__ import annotations

import os
import signal
import sys
import threading

from ..errors import SkewlessError
from .grpc_service import start_grpc
from .limits import DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_REQUEST_BYTES, Limits
from .rest import start_rest
from .versions import Versions, holds_saved_model

POLL_SECONDS = 1.0
DRAIN_SECONDS = 10.0  # how long requests in flight may take to finish at shutdown
GRPC_WORKERS = 16


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def serve(base_dir: str, model_name: str, *, host: str = "127.0.0.1", port: int = 8500,
          rest_port: int = 8501, max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
          max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> int:
    """Serve the SavedModel versions under ``base_dir`` as ``model_name`` over gRPC and
    REST, following new versions, until SIGTERM or SIGINT; returns 0 after a clean
    shutdown, in which requests in flight finish. A port in use is a SkewlessError."""
    _check_base_dir(base_dir)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        versions = _first_versions(model_name, base_dir,
                                   Limits(max_batch_size, max_request_bytes))
        grpc_server, rest_server = _start(versions, host, port, rest_port)
        while not stop.wait(POLL_SECONDS):
            versions.poll()
        _log("stopping: finishing requests in flight")
        grpc_stopped = grpc_server.stop(DRAIN_SECONDS)
        rest_server.drain(DRAIN_SECONDS)
        grpc_stopped.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _log("stopped")
    return 0


def _check_base_dir(base_dir: str) -> None:
    if not os.path.isdir(base_dir):
        raise SkewlessError(f"{base_dir} is not a directory: give the folder that holds the "
                            f"model's numbered version folders")
    if holds_saved_model(base_dir):
        parent = os.path.dirname(os.path.abspath(base_dir))
        raise SkewlessError(f"{base_dir} is a SavedModel, one version of a model: give the "
                            f"folder that holds the numbered version folders ({parent})")


def _first_versions(model_name: str, base_dir: str, limits: Limits) -> Versions:
    """The versions with the newest loaded. Versions that all fail to load are an error at
    start; none at all is not (TF Serving waits for one too)."""
    versions = Versions(model_name, base_dir, limits, log=_log)
    versions.poll()
    states = versions.states()
    if states and all(error is not None for error in states.values()):
        raise SkewlessError(f"no version under {base_dir} can be loaded (see above)")
    if not states:
        _log(f"no version under {base_dir} yet: waiting for one (a numbered folder holding "
             f"a SavedModel)")
    return versions


def _start(versions: Versions, host: str, port: int, rest_port: int):
    grpc_server, grpc_port = _listening(
        "gRPC", host, port, lambda: start_grpc(versions, host, port, GRPC_WORKERS))
    try:
        rest_server, bound_rest_port = _listening(
            "REST", host, rest_port, lambda: start_rest(versions, host, rest_port))
    except SkewlessError:
        grpc_server.stop(0)
        raise
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address
    _log(f"serving model {versions.name!r}: gRPC on {shown}:{grpc_port}, REST on "
         f"http://{shown}:{bound_rest_port}")
    return grpc_server, rest_server


def _listening(what: str, host: str, port: int, start):
    try:
        return start()
    except OSError as error:
        raise SkewlessError(f"cannot listen for {what} on {host}:{port}: "
                            f"{error.strerror or error}") from None
