"""``skewless serve``: both front ends over one model, until SIGTERM or SIGINT."""
from __future__ import annotations

import os
import signal
import sys
import threading

from ..errors import SkewlessError
from .grpc_service import bind_grpc
from .limits import Limits
from .rest import bind_rest, serve_rest
from .versions import Versions, holds_saved_model

POLL_SECONDS = 1.0
DRAIN_SECONDS = 10.0  # how long requests in flight may take to finish at shutdown
GRPC_WORKERS = 16


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def serve(base_dir: str, model_name: str, *, host: str = "127.0.0.1", port: int = 8500,
          rest_port: int = 8501, limits: Limits = Limits()) -> int:
    """Serve the SavedModel versions under ``base_dir`` as ``model_name`` over gRPC and
    REST, following new versions, until SIGTERM or SIGINT; returns 0 after a clean
    shutdown, in which requests in flight finish. A port in use is a SkewlessError, found
    before any model is loaded."""
    _check_base_dir(base_dir)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        versions = Versions(model_name, base_dir, limits, log=_log)
        (grpc_server, grpc_port), (rest_server, bound_rest_port) = _bind(
            versions, host, port, rest_port)
        try:
            _load_first(versions, base_dir)
        except BaseException:
            grpc_server.stop(None)
            rest_server.server_close()
            raise
        grpc_server.start()
        serve_rest(rest_server)
        shown = f"[{host}]" if ":" in host else host  # an IPv6 address
        _log(f"serving model {model_name!r}: gRPC on {shown}:{grpc_port}, REST on "
             f"http://{shown}:{bound_rest_port}")
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


def _load_first(versions: Versions, base_dir: str) -> None:
    """Load the newest version. Versions that all fail to load are an error at start;
    none at all is not (TF Serving waits for one too)."""
    versions.poll()
    states = versions.states()
    if states and all(error is not None for error in states.values()):
        raise SkewlessError(f"no version under {base_dir} can be loaded (see above)")
    if not states:
        _log(f"no version under {base_dir} yet: waiting for one (a numbered folder holding "
             f"a SavedModel)")


def _bind(versions: Versions, host: str, port: int, rest_port: int):
    """Both servers listening (not yet serving), before anything is loaded: a port in use
    is found at once."""
    grpc_bound = _listening(
        "gRPC", host, port, lambda: bind_grpc(versions, host, port, GRPC_WORKERS))
    try:
        rest_bound = _listening("REST", host, rest_port,
                                lambda: bind_rest(versions, host, rest_port))
    except SkewlessError:
        grpc_bound[0].stop(None)
        raise
    return grpc_bound, rest_bound


def _listening(what: str, host: str, port: int, bind):
    try:
        return bind()
    except OSError as error:
        raise SkewlessError(f"cannot listen for {what} on {host}:{port}: "
                            f"{error.strerror or error}") from None
