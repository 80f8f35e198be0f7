"""Serving: the tf.Example receiver of the generated flights module
(``serving_input_receiver_fn()``) against a hand-written ``tf.function`` with an
``input_signature`` (``handwritten.Flights.serving_function``): latency p50 and p99 of one
example per call, and throughput at 64 examples per call. Both functions' tracing counts
are read before and after the timed calls: a request must never retrace.

A request takes half a millisecond, and this machine's speed drifts over seconds; so within
each round the two functions take turns call by call (the one called first alternating),
and each side's latencies or total time come from its own calls of that round. CPU time is
not reported: the worker threads a call wakes go on running into the next call."""
from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from bench_input_fn import differences
from data import FLIGHTS_SPEC, compile_spec, constants, flights_data, import_module, \
    stats_file, training_files
from handwritten import Flights
from timing import Sample, comparison

REQUESTS = 256  # distinct records cycled through
BATCH = 64


def turns(functions: dict, requests: list, calls: int) -> dict:
    """``calls`` calls of each function, taking turns call by call (the order swapped at
    every call): ``{name: latencies in seconds}``."""
    names = list(functions)
    latencies = {name: np.empty(calls) for name in names}
    for i in range(calls):
        request = requests[i % len(requests)]
        for name in names if i % 2 == 0 else reversed(names):
            start = time.perf_counter()
            functions[name](request)
            latencies[name][i] = time.perf_counter() - start
    return latencies


def rounds(functions: dict, requests: list, calls: int, count: int) -> dict:
    """``{name: [Sample per round]}`` of ``count`` rounds of ``turns``, after one untimed
    round: wall = the side's total time; extra = its p50 and p99 (µs)."""
    turns(functions, requests, calls)
    samples = {name: [] for name in functions}
    for _ in range(count):
        for name, latency in turns(functions, requests, calls).items():
            p50, p99 = np.percentile(latency, [50, 99]) * 1e6
            samples[name].append(Sample(float(latency.sum()), float("nan"),
                                        extra={"p50_us": float(p50), "p99_us": float(p99)}))
    return samples


def run(settings) -> list:
    pattern = flights_data(settings.rows)
    stats = stats_file(FLIGHTS_SPEC, pattern)
    module = import_module(compile_spec(FLIGHTS_SPEC, settings.workdir / "flights_features.py",
                                        stats))
    functions = {"ours": module.serving_input_receiver_fn(),
                 "hand": Flights(constants(stats)).serving_function()}
    records = [r.numpy() for r in tf.data.TFRecordDataset(training_files(pattern))
               .take(REQUESTS * BATCH // 16)]
    singles = [tf.constant([record]) for record in records[:REQUESTS]]
    batches = [tf.constant(records[i:i + BATCH]) for i in range(0, len(records) - BATCH + 1,
                                                                 BATCH)]
    outputs = {key: {k: np.asarray(v) for k, v in fn(batches[0]).items()}
               for key, fn in functions.items()}
    found = differences(outputs["ours"], outputs["hand"], exact=False)
    if found:
        raise ValueError(f"the receivers disagree on a batch of {BATCH}: {found}")

    before = {key: fn.experimental_get_tracing_count() for key, fn in functions.items()}
    latency = rounds(functions, singles, settings.serving_calls, settings.rounds)
    throughput = rounds(functions, batches, settings.throughput_calls, settings.rounds)
    after = {key: fn.experimental_get_tracing_count() for key, fn in functions.items()}
    retraced = {key: after[key] - before[key] for key in functions}
    notes = {"tracing counts before/after the timed calls":
             ", ".join(f"{k} {before[k]}→{after[k]}" for k in functions),
             "calls per round and side, taking turns call by call":
                 f"{settings.serving_calls} at batch 1, "
                 f"{settings.throughput_calls} at batch {BATCH}"}
    if any(retraced.values()):
        notes["failed"] = f"retraced during timed calls: {retraced}"
    labels = {"ours_label": "tf.Example receiver", "theirs_label": "hand-written tf.function"}
    return [
        comparison("serving one tf.Example (batch 1)", latency["ours"], latency["hand"],
                   keys=("p50_us",), target="p50 ≤ 1.1×", notes=notes, **labels),
        comparison("serving one tf.Example (batch 1)", latency["ours"], latency["hand"],
                   keys=("p99_us",), target="(reported)", **labels),
        comparison(f"serving throughput (batch {BATCH})", throughput["ours"],
                   throughput["hand"], keys=("wall",), work=BATCH * settings.throughput_calls,
                   rate_unit="examples/s",
                   target="≥ 1.0× the hand-written throughput (time ratio ≤ 1.0)", **labels),
    ]
