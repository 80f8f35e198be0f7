"""Analysis, as fresh processes: ``python -m skewless compile flights.feat --data FILES``
against ``by_hand_analyze.py`` (parse the same columns with tf.io.parse_example, then numpy)
over the same files, at 1x and 10x the rows (the files listed 10 times, through symbolic
links): wall and CPU time, peak resident memory of each process, and how skewless's memory
grows from 1x to 10x.

Before timing, the by-hand statistics are compared with skewless's: the same mean, std and
vocabularies (quantile boundaries are reported side by side: skewless's come from a
deterministic sketch, numpy's from the sorted data)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from data import BENCHMARKS, FLIGHTS_SPEC, child_env, constants, flights_data, stats_file, \
    training_files
from timing import alternate, comparison, fresh_process

BY_HAND = BENCHMARKS / "by_hand_analyze.py"
COPIES = 10


def linked_copies(files: list, folder: Path, copies: int) -> list:
    """``files`` listed ``copies`` times, under distinct names (symbolic links)."""
    folder.mkdir()
    linked = []
    for copy in range(copies):
        for path in files:
            link = folder / f"{copy}-{Path(path).name}"
            link.symlink_to(path)
            linked.append(str(link))
    return linked


def check_statistics(files: list, stats: Path) -> dict:
    """The by-hand script's statistics against skewless's; raises ValueError on a
    difference."""
    result = subprocess.run([sys.executable, str(BY_HAND), *files, "--json"], check=True,
                            capture_output=True, text=True, env=child_env())
    theirs, ours = json.loads(result.stdout.splitlines()[-1]), constants(stats)
    problems = []
    for key in ("carrier_id/vocab", "dest_id/vocab"):
        if ours[key] != theirs[key]:
            problems.append(f"{key}: {ours[key]} vs {theirs[key]}")
    for name, tolerance in (("mean", 1e-12), ("std", 1e-9)):
        a, b = ours["distance_z/zscore"][name], theirs["distance_z/zscore"][name]
        if not math.isclose(a, b, rel_tol=tolerance):
            problems.append(f"distance_z/zscore {name}: {a} vs {b}")
    if problems:
        raise ValueError("by-hand statistics differ from skewless's: " + "; ".join(problems))
    return {"statistics": "same mean, std and vocabularies as skewless",
            "quantile boundaries (skewless | numpy)":
            f"{ours['dep_q/bucketize']['boundaries']} | {theirs['dep_q/bucketize']['boundaries']}"}


def run(settings) -> list:
    pattern = flights_data(settings.rows)
    files = training_files(pattern)
    check = check_statistics(files, stats_file(FLIGHTS_SPEC, pattern))
    sizes = {1: files, COPIES: linked_copies(files, settings.workdir / "copies", COPIES)}
    output = settings.workdir / "analyzed_features.py"
    env, python = child_env(), sys.executable
    samples = {}
    for factor, listed in sizes.items():
        samples[factor] = alternate({
            "skewless": fresh_process([python, "-m", "skewless", "compile", str(FLIGHTS_SPEC),
                                       "--data", *listed, "-o", str(output)], env=env),
            "hand": fresh_process([python, str(BY_HAND), *listed], env=env),
        }, settings.process_rounds, warmup=settings.process_warmup)
    records = []
    for factor in sizes:
        rows = factor * settings.rows
        records.append(comparison(
            f"analysis of flights.feat, {rows:,} rows (fresh process)",
            samples[factor]["skewless"], samples[factor]["hand"],
            ours_label="skewless compile --data", theirs_label="parse_example + numpy",
            keys=("wall", "cpu", "peak_rss_mb"), work=rows, rate_unit="rows/s",
            target="time ratio ≤ 1.0", notes=check if factor == 1 else {}))
    for side, label in (("skewless", "skewless compile --data"),
                        ("hand", "parse_example + numpy")):
        records.append(comparison(
            f"peak memory of {label}, {COPIES}× vs 1× the rows", samples[COPIES][side],
            samples[1][side], ours_label=f"{COPIES}×", theirs_label="1×",
            keys=("peak_rss_mb",), target="flat (≈ 1.0)" if side == "skewless" else "(reported)"))
    return records
