"""Server-side batching (``--enable_batching``): concurrent requests to one signature of one
model version are run as one batch, with TF Serving's ``BatchingParameters`` and their
semantics (its batching guide and ``BasicBatchScheduler``):

| parameter | default | meaning |
|---|---|---|
| ``max_batch_size`` | 1000 | most rows (examples) in one batch |
| ``batch_timeout_micros`` | 0 | how long a batch that is not full may wait for more requests once a batch thread is free; 0: it runs as soon as one is, so requests are batched while the threads are busy |
| ``num_batch_threads`` | CPUs | batches run at once |
| ``max_enqueued_batches`` | 10 | batches waiting for a thread, per model version and signature; a request that would need one more is answered UNAVAILABLE (503), "The batch scheduling queue to which this task was submitted is full" |
| ``thread_pool_name`` | ``batch_threads`` | the name of the batch threads |

A batch is the requests' inputs concatenated along the first (batch) dimension; the
signature runs once; each output is split back by the rows each request sent. Only requests
whose inputs have the same names, dtypes and inner dimensions join one batch (those of a
different signature, version or model never do); a request each input of which does not
have the same number of rows, or more rows than ``max_batch_size``, runs alone, as TF
Serving's ``enable_large_batch_splitting`` would let it. Each request is checked on its own
before it joins a batch (its signature, input names, dtypes and shapes); if a batch fails
anyway (a value only the model rejects, such as an example that does not parse) or gives an
output that does not have one row per input row, each of its requests runs again alone, so
that it fails only the request at fault. The transform is batch-invariant: every answer is
the one the request would have had alone, bit for bit."""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Optional

import grpc
import tensorflow as tf

from .status import ServingError
from .text_config import BatchingParameters, ConfigFileError, read_text_proto


@dataclass(frozen=True)
class BatchingOptions:
    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    num_batch_threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_enqueued_batches: int = 10
    thread_pool_name: str = "batch_threads"


def read_batching_parameters(path: Optional[str]) -> BatchingOptions:
    """The options of the ``BatchingParameters`` text file at ``path`` (None: TF Serving's
    defaults); a parameter left out keeps its default. A value out of range, or a parameter
    not supported (``allowed_batch_sizes``, ``pad_variable_length_inputs``), is a
    ``ConfigFileError`` naming the file; all of them at once."""
    if path is None:
        return BatchingOptions()
    proto = read_text_proto(path, BatchingParameters(), "batching parameters file")
    defaults, values, problems = BatchingOptions(), {}, []
    for name, low in (("max_batch_size", 1), ("batch_timeout_micros", 0),
                      ("num_batch_threads", 1), ("max_enqueued_batches", 1)):
        if proto.HasField(name):
            value = getattr(proto, name).value
            if value < low:
                problems.append(f"{name} is {value}: it must be at least {low}")
            values[name] = value
    if proto.HasField("thread_pool_name"):
        values["thread_pool_name"] = proto.thread_pool_name.value or defaults.thread_pool_name
    if proto.allowed_batch_sizes:
        problems.append("allowed_batch_sizes is not supported: batches of any size up to "
                        "max_batch_size are run (no padding); remove it")
    if proto.pad_variable_length_inputs:
        problems.append("pad_variable_length_inputs is not supported: only inputs of the "
                        "same inner dimensions are batched together; remove it")
    if problems:
        raise ConfigFileError("\n".join(f"{path}: error: {problem}" for problem in problems))
    return BatchingOptions(**values)


def queue_full() -> ServingError:
    return ServingError(grpc.StatusCode.UNAVAILABLE, "The batch scheduling queue to which this "
                        "task was submitted is full: try again later")


class _Task:
    """One request waiting in a batch: its inputs, then its outputs or its error."""

    def __init__(self, feeds: dict, rows: int):
        self.feeds, self.rows = feeds, rows
        self.outputs: Optional[dict] = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()


class _Batch:
    def __init__(self):
        self.tasks: list[_Task] = []
        self.rows = 0
        self.opened = time.monotonic()


class _Queue:
    """The batches of one model version's signature, for one kind of input."""

    def __init__(self, servable, signature):
        self.servable, self.signature = servable, signature
        self.batches: deque[_Batch] = deque()


class Batcher:
    """Runs signatures in batches on ``options.num_batch_threads`` threads. ``metrics``
    (optional) is told each batch's rows and each request refused for a full queue."""

    def __init__(self, options: BatchingOptions, metrics=None):
        self.options = options
        self._metrics = metrics
        self._ready = threading.Condition()  # guards _queues and _stopped
        self._queues: dict[tuple, _Queue] = {}
        self._stopped = False
        self._threads = [threading.Thread(target=self._work, daemon=True,
                                          name=f"{options.thread_pool_name}_{number}")
                         for number in range(options.num_batch_threads)]
        for thread in self._threads:
            thread.start()

    def run(self, servable, signature, feeds: dict, rows: int) -> dict:
        """``servable.run_now(signature, feeds)``'s outputs (numpy arrays, ``rows`` rows),
        computed in a batch with other requests when they can join one."""
        key = _batch_key(servable, signature, feeds, rows)
        if key is None or rows > self.options.max_batch_size:
            return servable.run_now(signature, feeds)
        task = _Task(feeds, rows)
        with self._ready:
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = _Queue(servable, signature)
            if not queue.batches or \
                    queue.batches[-1].rows + rows > self.options.max_batch_size:
                if len(queue.batches) >= self.options.max_enqueued_batches:
                    if self._metrics is not None:
                        self._metrics.batch_rejected(servable.model_name)
                    raise queue_full()
                queue.batches.append(_Batch())
            batch = queue.batches[-1]
            batch.tasks.append(task)
            batch.rows += rows
            self._ready.notify()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.outputs

    def stop(self) -> None:
        """End the batch threads once the batches enqueued have run."""
        with self._ready:
            self._stopped = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()

    # ---- the batch threads ----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._ready:
                while True:
                    picked, wait = self._next_batch()
                    if picked is not None:
                        break
                    if self._stopped:
                        return
                    self._ready.wait(wait)
            self._process(*picked)

    def _next_batch(self):
        """((queue, batch) to run now, or None; seconds until one may be ready, or None).
        A batch may run when it is full, when another one follows it, or when it has waited
        ``batch_timeout_micros``; the one that opened first runs first."""
        now, timeout = time.monotonic(), self.options.batch_timeout_micros / 1e6
        ready, wait = None, None
        for key, queue in self._queues.items():
            first = queue.batches[0]
            if len(queue.batches) > 1 or first.rows >= self.options.max_batch_size or \
                    now - first.opened >= timeout or self._stopped:
                if ready is None or first.opened < ready[2].opened:
                    ready = (key, queue, first)
            else:
                left = first.opened + timeout - now
                wait = left if wait is None else min(wait, left)
        if ready is None:
            return None, wait
        key, queue, batch = ready
        queue.batches.popleft()
        if not queue.batches:
            del self._queues[key]
        return (queue, batch), None

    def _process(self, queue: _Queue, batch: _Batch) -> None:
        servable, signature = queue.servable, queue.signature
        if self._metrics is not None:
            self._metrics.batch_processed(servable.model_name, signature.name, batch.rows)
        try:
            if len(batch.tasks) == 1 or not _run_together(servable, signature, batch):
                for task in batch.tasks:
                    _run_alone(servable, signature, task)
        finally:
            for task in batch.tasks:
                task.done.set()


def _batch_key(servable, signature, feeds: dict, rows: int) -> Optional[tuple]:
    """What requests must share to join one batch; None if this one cannot join any (an
    input without the same number of rows as the others)."""
    if rows < 1 or any(tensor.shape.rank == 0 or tensor.shape[0] != rows
                       for tensor in feeds.values()):
        return None
    return (servable, signature.name, tuple(sorted(
        (name, tensor.dtype, tuple(tensor.shape[1:])) for name, tensor in feeds.items())))


def _run_together(servable, signature, batch: _Batch) -> bool:
    """Run the batch's requests as one and give each its rows of every output; False
    (nothing given) if the run fails or an output does not have one row per input row."""
    names = batch.tasks[0].feeds
    feeds = {name: tf.concat([task.feeds[name] for task in batch.tasks], axis=0)
             for name in names}
    try:
        outputs = servable.run_now(signature, feeds)
    except Exception:  # each request runs alone: the one at fault fails, the others not
        return False
    if any(value.ndim == 0 or value.shape[0] != batch.rows for value in outputs.values()):
        return False
    start = 0
    for task in batch.tasks:
        task.outputs = {name: value[start:start + task.rows] for name, value in outputs.items()}
        start += task.rows
    return True


def _run_alone(servable, signature, task: _Task) -> None:
    try:
        task.outputs = servable.run_now(signature, task.feeds)
    except Exception as error:  # raised in the request's own thread
        task.error = error
