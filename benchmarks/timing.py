"""Timing for the benchmarks: contenders measured in alternating rounds, wall and CPU time,
fresh processes, and the comparison records that run.py writes out.

Every comparison puts skewless ("ours") against a hand-written equivalent ("theirs") in
the same run: rounds alternate (ours, theirs, ours, theirs, ...), so a change of load on a
shared machine hits both sides alike. Each round records wall time and the process's CPU
time (user + system, all threads, from ``resource.getrusage``); CPU time hardly moves when
other processes compete for the cores, wall time does."""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass
class Sample:
    """One round of one contender: ``wall`` and ``cpu`` in seconds, ``peak_rss_mb`` for a
    fresh process, and ``extra``: figures the round computed itself (e.g. latency
    percentiles, in the unit the comparison names)."""

    wall: float
    cpu: float
    peak_rss_mb: Optional[float] = None
    extra: dict = field(default_factory=dict)

    def figure(self, key: str) -> float:
        if key in ("wall", "cpu"):
            return getattr(self, key)
        if key == "peak_rss_mb":
            return self.peak_rss_mb
        return self.extra[key]


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, all threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(fn: Callable[[], Optional[dict]],
            teardown: Optional[Callable[[], None]] = None) -> Sample:
    """One call of ``fn`` in this process; a dict it returns becomes ``Sample.extra``.
    ``teardown``, if given, runs after the timed call, untimed."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    extra = fn()
    sample = Sample(time.perf_counter() - wall, cpu_seconds() - cpu, extra=extra or {})
    if teardown is not None:
        teardown()
    return sample


def in_process(fn: Callable[[], Optional[dict]],
               teardown: Optional[Callable[[], None]] = None) -> Callable[[], Sample]:
    """A contender for ``alternate`` that calls ``fn`` in this process (then ``teardown``,
    untimed)."""
    return lambda: measure(fn, teardown)


def fresh_process(argv: list, cwd: Optional[str] = None,
                  env: Optional[dict] = None) -> Callable[[], Sample]:
    """A contender for ``alternate`` that runs ``argv`` as a fresh process."""
    return lambda: run_process(argv, cwd, env)


def alternate(contenders: dict, rounds: int, warmup: int = 1) -> dict:
    """``{name: [Sample per round]}``: every contender (a callable giving a Sample, from
    ``in_process`` or ``fresh_process``) runs ``warmup`` times untimed (tracing, page
    cache), then once per round, round after round. Each round starts one contender later
    than the round before (A B C, B C A, C A B, …): running first or last in a round can
    change a time by a few percent by itself, and this way each contender takes every
    place as often."""
    for _ in range(warmup):
        for contender in contenders.values():
            contender()
    samples = {name: [] for name in contenders}
    names = list(contenders)
    for round_number in range(rounds):
        start = round_number % len(names)
        for name in names[start:] + names[:start]:
            samples[name].append(contenders[name]())
    return samples


LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launch.py")


def run_process(argv: list, cwd: Optional[str] = None, env: Optional[dict] = None) -> Sample:
    """A fresh process, started through ``launch.py`` (so that its peak resident memory is
    its own, not this process's at the fork) and waited for with ``os.wait4``: its wall
    time, CPU time and peak resident memory. Raises RuntimeError with its output when it
    fails."""
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryFile() as output:
        result_path = os.path.join(folder, "result.json")
        subprocess.run([sys.executable, LAUNCHER, result_path, *argv], cwd=cwd, env=env,
                       stdout=output, stderr=subprocess.STDOUT, check=False)
        try:
            with open(result_path, encoding="utf-8") as handle:
                result = json.load(handle)
        except (OSError, ValueError):
            result = {"exit_code": "none (the launcher failed)"}
        if result["exit_code"] != 0:
            output.seek(0)
            text = output.read().decode(errors="replace")
            raise RuntimeError(f"{' '.join(argv)} exited with {result['exit_code']}:\n{text}")
    return Sample(result["wall"], result["cpu"], peak_rss_mb=result["peak_rss_kb"] / 1024)


# ---- comparison records ---------------------------------------------------------------------


def comparison(measure_name: str, ours: list, theirs: list, *, ours_label: str,
               theirs_label: str, keys=("wall", "cpu"), unit: str = "s",
               work: Optional[float] = None, rate_unit: Optional[str] = None,
               target: str = "", notes: Optional[dict] = None) -> dict:
    """The record of one comparison: per figure key (``wall``, ``cpu`` or an ``extra``
    key), the per-round values of both sides, the per-round ratios ours / theirs (below 1:
    skewless is faster or smaller), their median and range, and the best (smallest) value
    of each side. With ``work`` (e.g. rows per round), rates ``work / best`` are added in
    ``rate_unit``."""
    figures = {}
    for key in keys:
        a = [sample.figure(key) for sample in ours]
        b = [sample.figure(key) for sample in theirs]
        ratios = [x / y for x, y in zip(a, b)]
        entry = {"ours": a, "theirs": b, "ratios": ratios,
                 "median_ratio": statistics.median(ratios),
                 "min_ratio": min(ratios), "max_ratio": max(ratios),
                 "best_ours": min(a), "best_theirs": min(b)}
        if work is not None:
            entry["best_rate_ours"] = work / min(a)
            entry["best_rate_theirs"] = work / min(b)
        figures[key] = entry
    return {"measure": measure_name, "ours": ours_label, "theirs": theirs_label,
            "unit": unit, "rate_unit": rate_unit, "work": work, "rounds": len(ours),
            "target": target, "figures": figures, "notes": notes or {}}


# ---- the machine -----------------------------------------------------------------------------


def machine() -> dict:
    """What the figures were measured on."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import numpy
    import tensorflow as tf

    return {"nproc": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count(),
            "cpu_model": model, "tensorflow": tf.__version__, "numpy": numpy.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "nice": os.nice(0), "load_average_at_start": os.getloadavg(),
            "executable": sys.executable}
