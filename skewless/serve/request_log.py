"""Request logging (``skewless serve --request-log DIR``): a sample of the Predict, Classify
and Regress requests answered OK, each with its response, as TFRecord files of
``tensorflow.serving.PredictionLog`` (``tensorflow_serving/apis/prediction_log.proto``), the
messages TF Serving's request logger writes: ``log_metadata`` holds the model spec that
answered (name, version, signature name, as in the response) and the ``sampling_config``,
and one of ``predict_log``, ``classify_log``, ``regress_log`` the request and the response.
A REST request is logged as the gRPC request it stands for, as TF Serving logs it.

Each request is logged with probability ``sampling_rate``. The request's thread only draws
that chance and puts the request on a bounded queue without waiting; one background thread
builds and writes the records. When the queue is full the record is dropped (and counted);
a write error (a full disk, the folder removed) drops the records of the file being written,
is printed once on stderr, and the next record starts a new file: logging never blocks or
fails a request.

Files are ``DIR/requests-<UTC time of their first record>-<process id>-<sequence>.tfrecord``
(the process id keeps apart the files of servers logging into one folder). A file
being written has a hidden name (``.requests-….tfrecord.tmp``) and is renamed to its own
when it is complete: before it would grow past ``max_log_bytes`` (a file is larger only
when one record alone is), ``flush_seconds`` after its first record, and when the server
stops (after the queue is written out). So every file whose name does not begin with ``.``
is complete."""
from __future__ import annotations

import datetime
import itertools
import os
import queue
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

from tensorflow_serving.apis import prediction_log_pb2

from ..cli_request_log import DEFAULT_FLUSH_SECONDS, DEFAULT_MAX_LOG_BYTES
from ..errors import SkewlessError

DEFAULT_QUEUE_SIZE = 10_000  # records waiting to be written
DEFAULT_QUEUE_BYTES = 256 * 2**20  # the requests' bytes waiting to be written
RECORD_FRAMING = 16  # a TFRecord's length, its CRC and the data's CRC
PREFIX, SUFFIX, PENDING = "requests-", ".tfrecord", ".tmp"
# the API → the PredictionLog field of its log
APIS = {"Predict": "predict_log", "Classify": "classify_log", "Regress": "regress_log"}
_STOP = object()


def _tfrecord_writer(path: str):
    import tensorflow as tf

    return tf.io.TFRecordWriter(path)


@dataclass(frozen=True)
class RequestLogOptions:
    """``directory``: where the files go (made if missing); ``sampling_rate``: the chance
    each request is logged, in (0, 1]; ``max_log_bytes``: a file's size limit, in bytes;
    ``flush_seconds``: how long a file stays open after its first record, at most;
    ``queue_size``: records waiting to be written, at most; ``queue_bytes``: the bytes of
    the requests waiting to be written, at most (a bound on the memory they hold, whatever
    their size); ``open_writer(path)``: an object
    with ``write(bytes)`` and ``close()`` writing TFRecords to ``path`` (default
    ``tf.io.TFRecordWriter``); ``seed``: of the sampling (default: from the system)."""

    directory: str
    sampling_rate: float = 1.0
    max_log_bytes: int = DEFAULT_MAX_LOG_BYTES
    flush_seconds: float = DEFAULT_FLUSH_SECONDS
    queue_size: int = DEFAULT_QUEUE_SIZE
    queue_bytes: int = DEFAULT_QUEUE_BYTES
    open_writer: Callable = _tfrecord_writer
    seed: Optional[int] = None


class _File:
    """The file being written."""

    def __init__(self, directory: str, sequence: int, writer_of: Callable, flush_seconds: float):
        started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        self.name = f"{PREFIX}{started}-{os.getpid()}-{sequence:06d}{SUFFIX}"
        self.final = os.path.join(directory, self.name)
        self.pending = os.path.join(directory, f".{self.name}{PENDING}")
        self.due = time.monotonic() + flush_seconds
        self.records = self.bytes = 0
        self.writer = writer_of(self.pending)


class RequestLog:
    """The request logger: ``log`` from any thread; ``start`` once, ``stop`` at the end."""

    def __init__(self, options: RequestLogOptions, log: Optional[Callable[[str], None]] = None):
        """A SkewlessError when the folder is a file, or cannot be made or written in. ``log``
        prints a message on the server's log."""
        if not 0 < options.sampling_rate <= 1:
            raise SkewlessError(f"--sampling-rate {options.sampling_rate}: a request log's "
                                f"sampling rate is above 0 and at most 1")
        self.options = options
        self._log = log or _stderr
        if os.path.exists(options.directory) and not os.path.isdir(options.directory):
            raise SkewlessError(f"--request-log {options.directory}: is a file, not a folder")
        try:
            os.makedirs(options.directory, exist_ok=True)
        except OSError as error:
            raise SkewlessError(f"--request-log {options.directory}: cannot make the folder: "
                                f"{error.strerror or error}") from None
        try:  # found now, not at the first request
            tempfile.TemporaryFile(dir=options.directory).close()
        except OSError as error:
            raise SkewlessError(f"--request-log {options.directory}: cannot write in the "
                                f"folder: {error.strerror or error}") from None
        self._random = random.Random(options.seed)
        self._queue: queue.Queue = queue.Queue(options.queue_size)
        self._counts = threading.Lock()
        self.written = self.dropped = self.files = 0
        self._queued_bytes = 0  # of the requests waiting, guarded by _counts
        self._file: Optional[_File] = None
        self._sequence = itertools.count(1)
        self._failing = False  # a write error was printed; quiet until a file completes
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def log(self, api: str, messages: Callable[[], tuple], size: Callable[[], int]) -> None:
        """Log a request of ``api`` (Predict, Classify or Regress) answered OK, with
        probability ``sampling_rate``. ``messages()``, called later on the writing thread,
        gives its (request, response) protos; ``size()``, called once the request is
        sampled, its size in bytes, which counts against ``queue_bytes`` until it is
        written. Never blocks, never raises."""
        try:
            if self._random.random() >= self.options.sampling_rate:
                return
            size = size()
            with self._counts:
                if self._closed or self._queued_bytes + size > self.options.queue_bytes:
                    raise queue.Full
                self._queued_bytes += size
            try:
                self._queue.put_nowait((api, messages, size))
            except queue.Full:
                with self._counts:
                    self._queued_bytes -= size
                raise
        except Exception:  # noqa: BLE001 - a full queue, or anything: the request goes on
            self._count_dropped(1)

    def stop(self) -> None:
        """Write what the queue holds, complete the file, and stop the thread."""
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._log(f"request log: {_count(self.written, 'record')} in "
                  f"{_count(self.files, 'file')} in "
                  f"{self.options.directory}, {self.dropped:,} dropped")

    # ---- the writing thread --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            wait = None if self._file is None else self._file.due - time.monotonic()
            if wait is not None and wait <= 0:  # its time is up, however busy the queue
                self._complete()
                continue
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                self._complete()
                continue
            if item is _STOP:
                self._complete()
                return
            api, messages, size = item
            try:
                self._write(api, messages)
            finally:
                with self._counts:
                    self._queued_bytes -= size

    def _write(self, api: str, messages: Callable[[], tuple]) -> None:
        try:
            record = prediction_log(api, *messages(), self.options.sampling_rate)
        except Exception as error:  # noqa: BLE001 - a record that cannot be built is dropped
            self._report(f"cannot build the log record of a {api} request: {error}")
            self._count_dropped(1)
            return
        size = len(record) + RECORD_FRAMING
        file = self._file
        if file is not None and file.records and file.bytes + size > self.options.max_log_bytes:
            self._complete()
        try:
            if self._file is None:
                self._file = _File(self.options.directory, next(self._sequence),
                                   self.options.open_writer, self.options.flush_seconds)
            self._file.writer.write(record)
        except Exception as error:  # noqa: BLE001 - a full disk, the folder gone, …
            self._abandon(error)
            self._count_dropped(1)
            return
        self._file.records += 1
        self._file.bytes += size

    def _complete(self) -> None:
        """Close the file and give it its own name."""
        file, self._file = self._file, None
        if file is None:
            return
        try:
            file.writer.close()
            os.rename(file.pending, file.final)
        except Exception as error:  # noqa: BLE001
            self._file = file
            self._abandon(error)
            return
        with self._counts:
            self.written += file.records
            self.files += 1
        self._failing = False

    def _abandon(self, error: Exception) -> None:
        """The file being written failed: its records are dropped, it is removed."""
        file, self._file = self._file, None
        self._report(f"cannot write {getattr(file, 'pending', self.options.directory)}: "
                     f"{error}; its records are dropped, logging goes on with a new file")
        if file is None:
            return
        self._count_dropped(file.records)
        try:
            file.writer.close()
        except Exception:  # noqa: BLE001 - it failed already
            pass
        try:
            os.remove(file.pending)
        except OSError:
            pass

    def _report(self, message: str) -> None:
        if not self._failing:
            self._failing = True
            self._log(f"request log: {message}")

    def _count_dropped(self, records: int) -> None:
        with self._counts:
            self.dropped += records


def prediction_log(api: str, request, response, sampling_rate: float) -> bytes:
    """The serialized ``PredictionLog`` of a request of ``api`` and its response."""
    entry = prediction_log_pb2.PredictionLog()
    entry.log_metadata.model_spec.CopyFrom(response.model_spec)
    entry.log_metadata.sampling_config.sampling_rate = sampling_rate
    log = getattr(entry, APIS[api])
    log.request.CopyFrom(request)
    log.response.CopyFrom(response)
    return entry.SerializeToString()


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
