"""Training input: a full pass of the compiled ``input_fn`` (shuffle=False) against the same
preprocessing written by hand in TensorFlow (``handwritten.py``: ``TFRecordDataset(files)
.batch(B).map(parse_example + the same ops and tables, AUTOTUNE).prefetch(AUTOTUNE)``), for
flights.feat and for heavy.feat (transcendental and string functions). skewless runs twice:
from the module ``skewless compile --stats`` generates, and from ``skewless.load``.

Before timing, one batch of each is compared: the generated module and ``skewless.load``
must give identical tensors, the hand-written twin the same values up to float rounding."""
from __future__ import annotations

import numpy as np

import skewless
from data import (FLIGHTS_SPEC, HEAVY_SPEC, compile_spec, constants, flights_data,
                  import_module, stats_file, training_files)
from handwritten import TWINS
from timing import alternate, comparison, in_process

SPECS = {"flights": FLIGHTS_SPEC, "heavy": HEAVY_SPEC}
RTOL, ATOL = 1e-5, 1e-5  # float32 against float64-then-rounded: a few ulps


class Pass:
    """A full pass over a dataset (``run``), whose iterator is deleted by ``close``, outside
    the timed part: deleting a tf.data iterator waits for its autotuning thread to end its
    current wait, which lasts up to the optimization period in effect, a period that
    doubles from 10 ms as the pass goes on. That wait (0 to 0.6 s after a pass of 0.6 s, up
    to 2 s after 3 s; idle, no CPU) depends on where the pass ends in that schedule, not on
    the pipeline's work, and falls on either side alike."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.iterator = None

    def run(self) -> None:
        self.iterator = iter(self.dataset)
        for _ in self.iterator:
            pass

    def close(self) -> None:
        self.iterator = None


def flat_outputs(element) -> dict:
    """A dataset element (features, targets[, weights]) as {name: numpy array}."""
    features, targets, *weight = element
    flat = {f"feature {k}": v for k, v in features.items()}
    flat.update({f"target {k}": v for k, v in targets.items()})
    if weight:
        flat["weight"] = weight[0]
    return {key: np.asarray(value) for key, value in flat.items()}


def differences(ours: dict, theirs: dict, exact: bool) -> dict:
    """Where two outputs differ: {name: what}; floats within RTOL/ATOL unless ``exact``."""
    found = {}
    for key in sorted(set(ours) | set(theirs)):
        if key not in ours or key not in theirs:
            found[key] = "missing on one side"
            continue
        a, b = ours[key], theirs[key]
        if a.shape != b.shape or a.dtype != b.dtype:
            found[key] = f"{a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}"
        elif a.dtype.kind == "f" and not exact:
            if not np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True):
                found[key] = f"max |difference| {np.nanmax(np.abs(a - b)):.3g}"
        elif not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            found[key] = f"{int(np.sum(a != b))} values differ"
    return found


def largest_float_difference(ours: dict, theirs: dict) -> str:
    """The largest absolute difference of float outputs, and where."""
    gaps = [(float(np.nanmax(np.abs(ours[k] - theirs[k]), initial=0.0)), k)
            for k in ours if ours[k].dtype.kind == "f"]
    gap, key = max(gaps, default=(0.0, "no float output"))
    return f"{gap:.3g} ({key})"


def check_same_values(name: str, datasets: dict) -> dict:
    """Compare the first batch of every pipeline; raises ValueError on a difference."""
    first = {key: flat_outputs(next(iter(ds))) for key, ds in datasets.items()}
    problems = {}
    for other, exact in (("load", True), ("hand", False)):
        found = differences(first["generated"], first[other], exact)
        if found:
            problems[other] = found
    if problems:
        raise ValueError(f"{name}: the pipelines disagree on the first batch: {problems}")
    return {"first batch": f"{len(first['generated'])} outputs compared",
            "generated vs load": "identical",
            "generated vs hand-written": f"allclose(rtol={RTOL}, atol={ATOL}); largest "
            f"|difference| {largest_float_difference(first['generated'], first['hand'])}"}


def compare_spec(name: str, settings) -> list:
    spec = SPECS[name]
    pattern = flights_data(settings.rows)
    stats = stats_file(spec, pattern)
    module = import_module(compile_spec(spec, settings.workdir / f"{spec.stem}_features.py",
                                        stats))
    loaded = skewless.load(str(spec), stats=str(stats))
    twin = TWINS[name](constants(stats))
    batch = settings.batch_size
    datasets = {
        "generated": module.input_fn(pattern, batch_size=batch, shuffle=False),
        "load": loaded.input_fn(pattern, batch_size=batch, shuffle=False),
        "hand": twin.input_fn(training_files(pattern), batch),
    }
    check = check_same_values(name, datasets)
    passes = {key: Pass(ds) for key, ds in datasets.items()}
    samples = alternate({key: in_process(one.run, one.close) for key, one in passes.items()},
                        settings.rounds)
    records = []
    for key, how in (("generated", "generated module"), ("load", "skewless.load")):
        records.append(comparison(
            f"training input, {spec.name} ({how})", samples[key], samples["hand"],
            ours_label=f"input_fn, {how}", theirs_label="hand-written tf.data",
            work=settings.rows, rate_unit="rows/s",
            target="≥ 1.0× the hand-written throughput (time ratio ≤ 1.0)",
            notes={"batch_size": batch, "rows": settings.rows, **check}))
    return records


def run(settings) -> list:
    return [record for name in SPECS for record in compare_spec(name, settings)]
