"""Prometheus metrics (``--monitoring_config_file``), served on the REST port at the path of
TF Serving's ``MonitoringConfig``:

    prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }

in the Prometheus text format, written by ``prometheus_client``. Names follow TF Serving's
(its ``/tensorflow/serving/…`` metrics, exported with ``:`` for ``/``) where it has one:

| metric | type | labels | what |
|---|---|---|---|
| ``:tensorflow:serving:request_count`` | counter | model_name, API, entrypoint, status | requests answered; status is the gRPC code's name (``OK``, ``INVALID_ARGUMENT``, …) |
| ``:tensorflow:serving:request_latency`` | histogram | model_name, API, entrypoint | wall time of the requests answered OK, in microseconds; TF Serving's buckets (10 × 1.8^i) |
| ``:tensorflow:serving:batching:processed_batch_size`` | histogram | model_name, signature_name | rows of each batch run (``--enable_batching``) |
| ``:skewless:serving:batching:queue_rejections`` | counter | model_name | requests answered UNAVAILABLE because the batch queue was full |
| ``:skewless:serving:model_version_loaded`` | gauge | model_name, version | 1 for each version loaded |
| ``:skewless:serving:request_log:records`` | counter | outcome | request log records (``--request-log``): ``written`` (in complete files) or ``dropped`` (queue full, write error) |

``API`` is ``Predict``, ``Classify``, ``Regress``, ``GetModelMetadata`` or
``GetModelStatus``, over gRPC and REST alike; ``entrypoint`` is ``GRPC`` or ``REST``. Where
this differs from TF Serving: ``prometheus_client`` writes a counter's samples with the
suffix ``_total`` (``:tensorflow:serving:request_count_total``); ``request_count`` also has
the labels ``API`` and ``entrypoint`` (TF Serving's has ``model_name`` and ``status``: sum
over the others for its figures) and counts the metadata and status requests too; and a
request naming a model this server does not serve counts under ``model_name=""``, so that
clients cannot add series without bound."""
from __future__ import annotations

from typing import Optional

from prometheus_client import CollectorRegistry, Counter, Histogram, exposition
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .text_config import ConfigFileError, MonitoringConfig, read_text_proto

DEFAULT_PATH = "/monitoring/prometheus/metrics"  # TF Serving's
# TF Serving's request latency buckets: Exponential(10, 1.8, 33), in microseconds.
LATENCY_BUCKETS = tuple(10 * 1.8 ** power for power in range(33))


def read_monitoring_config(path: Optional[str]) -> Optional[str]:
    """The path metrics are served at, as the ``MonitoringConfig`` text file at ``path``
    says; None if it does not enable them (or there is no file)."""
    if path is None:
        return None
    config = read_text_proto(path, MonitoringConfig(), "monitoring config file")
    prometheus = config.prometheus_config
    if not prometheus.enable:
        return None
    where = prometheus.path or DEFAULT_PATH
    if not where.startswith("/") or "?" in where or "#" in where:
        raise ConfigFileError(f"{path}: error: prometheus_config path {where!r} is not a URL "
                              f"path: write one beginning with '/' (such as {DEFAULT_PATH!r})")
    if where == "/v1" or where.startswith("/v1/"):
        raise ConfigFileError(f"{path}: error: prometheus_config path {where!r} is among the "
                              f"API's own paths (/v1/…): choose another, such as "
                              f"{DEFAULT_PATH!r}")
    return where


class Metrics:
    """The server's metrics, in a registry of their own. ``path``: where REST serves them."""

    def __init__(self, path: str, max_batch_size: int = 1000):
        self.path = path
        self.registry = CollectorRegistry()
        self._served: frozenset = frozenset()
        self._requests = Counter(":tensorflow:serving:request_count",
                                 "The total number of requests.",
                                 ["model_name", "API", "entrypoint", "status"],
                                 registry=self.registry)
        self._latency = Histogram(":tensorflow:serving:request_latency",
                                  "Distribution of wall time (in microseconds) for TensorFlow "
                                  "Serving request.", ["model_name", "API", "entrypoint"],
                                  buckets=LATENCY_BUCKETS, registry=self.registry)
        self._batch_sizes = Histogram(
            ":tensorflow:serving:batching:processed_batch_size",
            "Tracks the batch size distribution on processing by model_name.",
            ["model_name", "signature_name"], buckets=_powers_of_two(max_batch_size),
            registry=self.registry)
        self._rejections = Counter(":skewless:serving:batching:queue_rejections",
                                   "Requests refused (UNAVAILABLE) because their batch queue "
                                   "was full.", ["model_name"], registry=self.registry)

    def track(self, models) -> None:
        """Report the versions loaded of ``models`` (a ``Models``) at each scrape."""
        self._served = frozenset(models.names)
        self.registry.register(_LoadedVersions(models))

    def track_request_log(self, request_log) -> None:
        """Report the records ``request_log`` (a ``request_log.RequestLog``) has written
        and dropped at each scrape."""
        self.registry.register(_RequestLogRecords(request_log))

    def request(self, model_name: str, api: str, entrypoint: str, code: str,
                seconds: float) -> None:
        """One request answered with the status code named ``code`` after ``seconds``."""
        model_name = model_name if model_name in self._served else ""
        self._requests.labels(model_name, api, entrypoint, code).inc()
        if code == "OK":
            self._latency.labels(model_name, api, entrypoint).observe(seconds * 1e6)

    def batch_processed(self, model_name: str, signature_name: str, rows: int) -> None:
        self._batch_sizes.labels(model_name, signature_name).observe(rows)

    def batch_rejected(self, model_name: str) -> None:
        self._rejections.labels(model_name).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, and its content type."""
        return exposition.generate_latest(self.registry), exposition.CONTENT_TYPE_LATEST


class _LoadedVersions:
    """A collector reading the versions loaded when scraped."""

    def __init__(self, models):
        self._models = models

    def collect(self):
        family = GaugeMetricFamily(":skewless:serving:model_version_loaded",
                                   "1 for each version of a model loaded.",
                                   labels=["model_name", "version"])
        for versions in self._models:
            for version, error in sorted(versions.states().items()):
                if error is None:
                    family.add_metric([versions.name, str(version)], 1)
        yield family


class _RequestLogRecords:
    """A collector reading the request log's counts when scraped."""

    def __init__(self, request_log):
        self._request_log = request_log

    def collect(self):
        family = CounterMetricFamily(":skewless:serving:request_log:records",
                                     "Request log records written (in complete files) or "
                                     "dropped (queue full, write error).", labels=["outcome"])
        family.add_metric(["written"], self._request_log.written)
        family.add_metric(["dropped"], self._request_log.dropped)
        yield family


def _powers_of_two(limit: int) -> tuple:
    buckets, size = [], 1
    while size < limit:
        buckets.append(size)
        size *= 2
    return (*buckets, limit)
