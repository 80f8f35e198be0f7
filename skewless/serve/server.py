"""``skewless serve``: both front ends over the models served, until SIGTERM or SIGINT."""
from __future__ import annotations

import signal
import sys
import threading
from typing import Optional

from ..errors import SkewlessError
from .batching import Batcher, BatchingOptions
from .grpc_service import bind_grpc
from .limits import Limits
from .metrics import Metrics
from .model_config import ModelConfig
from .models import Models
from .request_log import RequestLog, RequestLogOptions
from .rest import bind_rest, serve_rest
from .versions import Versions, base_dir_problem

POLL_SECONDS = 1.0
DRAIN_SECONDS = 10.0  # how long requests in flight may take to finish at shutdown
GRPC_WORKERS = 16


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def serve(configs: list[ModelConfig], *, host: str = "127.0.0.1", port: int = 8500,
          rest_port: int = 8501, limits: Limits = Limits(),
          allow_version_labels_for_unavailable_models: bool = False,
          batching: Optional[BatchingOptions] = None,
          monitoring_path: Optional[str] = None,
          request_log: Optional[RequestLogOptions] = None) -> int:
    """Serve the models of ``configs`` (their SavedModel versions, as each one's version
    policy selects them) over gRPC and REST, following new versions, until SIGTERM or
    SIGINT; returns 0 after a clean shutdown, in which requests in flight finish. A port in
    use is a SkewlessError, found before any model is loaded; so is a missing base path, a
    model none of whose versions loads, and (unless allowed) a version label pointing at a
    version not served once the models are loaded, as in TF Serving. ``batching``: run
    concurrent requests in batches (``batching.Batcher``); ``monitoring_path``: serve
    Prometheus metrics at that path of the REST port; ``request_log``: log a sample of the
    requests answered (``request_log.RequestLog``), whose queue is written out at
    shutdown."""
    _check_base_paths(configs)
    logger = None if request_log is None else RequestLog(request_log, log=_log)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    metrics = None if monitoring_path is None else Metrics(
        monitoring_path, batching.max_batch_size if batching else 1)
    batcher = None if batching is None else Batcher(batching, metrics)
    if logger is not None:
        logger.start()
        if metrics is not None:
            metrics.track_request_log(logger)
    try:
        models = Models([Versions(config.name, config.base_path, limits, log=_log,
                                  policy=config.policy, batcher=batcher)
                         for config in configs], limits,
                        labels={config.name: config.labels for config in configs})
        if metrics is not None:
            metrics.track(models)
        (grpc_server, grpc_port), (rest_server, bound_rest_port) = _bind(
            models, host, port, rest_port, metrics, logger)
        try:
            for versions in models:
                _load_first(versions)
            if not allow_version_labels_for_unavailable_models:
                _check_labels(configs, models)
        except BaseException:
            grpc_server.stop(None)
            rest_server.server_close()
            raise
        grpc_server.start()
        serve_rest(rest_server)
        shown = f"[{host}]" if ":" in host else host  # an IPv6 address
        names = ", ".join(repr(name) for name in models.names)
        _log(f"serving model{'s' * (len(configs) > 1)} {names}: gRPC on {shown}:{grpc_port}, "
             f"REST on http://{shown}:{bound_rest_port}")
        while not stop.wait(POLL_SECONDS):
            models.poll()
        _log("stopping: finishing requests in flight")
        grpc_stopped = grpc_server.stop(DRAIN_SECONDS)
        rest_server.drain(DRAIN_SECONDS)
        grpc_stopped.wait()
    finally:
        if batcher is not None:
            batcher.stop()
        if logger is not None:
            logger.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _log("stopped")
    return 0


def _where(config: ModelConfig) -> str:
    """How an error names the model: by its config file, if it has one."""
    return f"{config.source}: error: model {config.name!r}: " if config.source else ""


def _check_base_paths(configs: list[ModelConfig]) -> None:
    problems = [_where(config) + problem for config in configs
                if (problem := base_dir_problem(config.base_path)) is not None]
    if problems:
        raise SkewlessError("\n".join(problems))


def _load_first(versions: Versions) -> None:
    """Load what the policy serves. Versions that all fail to load are an error at start;
    none at all is not (TF Serving waits for one too)."""
    versions.poll()
    states = versions.states()
    if states and all(error is not None for error in states.values()):
        raise SkewlessError(f"no version of {versions.name!r} under {versions.base_dir} can "
                            f"be loaded (see above)")
    if not states:
        _log(f"no version of {versions.name!r} under {versions.base_dir} yet: waiting for one "
             f"(a numbered folder holding a SavedModel"
             + ("" if versions.policy.latest else f", of version policy {versions.policy}")
             + ")")


def _check_labels(configs: list[ModelConfig], models: Models) -> None:
    """Every version label points at a version served, as TF Serving requires."""
    problems = []
    for config, versions in zip(configs, models):
        served = versions.served()
        problems.extend(
            f"{_where(config)}version label {label!r} points at version {version}, which is "
            f"not available: the model serves {', '.join(map(str, served)) or 'no version'} "
            f"(version policy {config.policy}); start with "
            f"--allow_version_labels_for_unavailable_models to allow it"
            for label, version in sorted(config.labels.items()) if version not in served)
    if problems:
        raise SkewlessError("\n".join(problems))


def _bind(models: Models, host: str, port: int, rest_port: int, metrics, request_log):
    """Both servers listening (not yet serving), before anything is loaded: a port in use
    is found at once."""
    grpc_bound = _listening("gRPC", host, port, lambda: bind_grpc(
        models, host, port, GRPC_WORKERS, metrics, request_log))
    try:
        rest_bound = _listening("REST", host, rest_port, lambda: bind_rest(
            models, host, rest_port, metrics, request_log))
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
