"""Benchmark inputs: the flights example's data (generated once, then cached in a folder),
the analyzer constants of a spec over it (a stats file cached beside the data), compiled
modules, and the environment of the fresh processes the benchmarks start."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
FLIGHTS_SPEC = ROOT / "examples" / "flights" / "flights.feat"
HEAVY_SPEC = BENCHMARKS / "heavy.feat"
CACHE = Path(os.environ.get("SKEWLESS_BENCH_DATA", "/tmp/skewless-bench"))


def child_env() -> dict:
    """The environment of every fresh process: this checkout's skewless first on the path,
    TensorFlow's C++ logging off (the same for skewless and the hand-written side)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def flights_data(rows: int, shards: int = 4) -> str:
    """A glob of `rows` synthetic flight records (written once, then reused)."""
    folder = CACHE / f"flights-{rows}"
    if not (folder / "done").exists():
        sys.path.insert(0, str(ROOT / "examples" / "flights"))
        from make_data import write_dataset

        write_dataset(folder, rows=rows, shards=shards, seed=1)
        (folder / "done").write_text("ok")
    return str(folder / "train-*.tfrecord")


def training_files(pattern: str) -> list:
    """The files of a glob, in sorted order (the order input_fn reads them in)."""
    import glob

    return sorted(glob.glob(pattern))


def stats_file(spec: Path, pattern: str) -> Path:
    """The stats file of ``spec``'s analyzers over the data of ``pattern``, computed once
    with ``skewless analyze`` and cached beside the data (recomputed when the spec is
    newer)."""
    path = Path(pattern).parent / f"{spec.stem}.stats.json"
    if not path.exists() or path.stat().st_mtime < spec.stat().st_mtime:
        subprocess.run([sys.executable, "-m", "skewless", "analyze", str(spec), "--data",
                        pattern, "-o", str(path)], check=True, env=child_env(),
                       stdout=subprocess.DEVNULL)
    return path


def constants(stats: Path) -> dict:
    """Analyzer key -> constants, read straight from the stats file's JSON (the
    hand-written pipelines do not call skewless)."""
    with open(stats, encoding="utf-8") as handle:
        return {key: entry["constants"] for key, entry in json.load(handle)["analyzers"].items()}


def compile_spec(spec: Path, output: Path, stats: Path | None = None) -> Path:
    """``python -m skewless compile SPEC [--stats STATS] -o OUTPUT``, in a fresh process."""
    argv = [sys.executable, "-m", "skewless", "compile", str(spec), "-o", str(output)]
    if stats is not None:
        argv += ["--stats", str(stats)]
    subprocess.run(argv, check=True, env=child_env(), stdout=subprocess.DEVNULL)
    return output


def import_module(path: Path):
    """Import a generated module from its file."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module
