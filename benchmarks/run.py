"""Run every skewless benchmark against its hand-written equivalent, in the same run, and
write benchmarks/results.md (a table of ratios) and benchmarks/results.json (every round).

    python benchmarks/run.py [--rows N] [--rounds R] [--quick] [--only NAME,...]

Not part of the tests. Run it on a quiet machine: each comparison alternates rounds of
skewless and of its baseline in one process, and records wall and CPU time per round.
Exits with status 1 when a check fails (outputs that differ, a retraced function)."""
from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))  # this checkout's skewless

import bench_analyze  # noqa: E402
import bench_compile  # noqa: E402
import bench_input_fn  # noqa: E402
import bench_serving  # noqa: E402
import bench_tft  # noqa: E402
import report  # noqa: E402
from timing import machine  # noqa: E402

BENCHMARKS = {"input_fn": bench_input_fn, "serving": bench_serving, "compile": bench_compile,
              "analyze": bench_analyze, "tft": bench_tft}
FULL = {"rows": 300_000, "rounds": 5, "process_rounds": 5, "process_warmup": 1,
        "serving_calls": 2000, "throughput_calls": 500}
QUICK = {"rows": 5_000, "rounds": 2, "process_rounds": 3, "process_warmup": 0,
         "serving_calls": 2000, "throughput_calls": 100}


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="training rows (default 300,000; quick 5,000)")
    parser.add_argument("--rounds", type=int, help="alternating rounds per comparison "
                                                   "(default 5; quick 2)")
    parser.add_argument("--quick", action="store_true",
                        help="small data and few rounds: a smoke run, figures not meaningful")
    parser.add_argument("--batch-size", type=int, default=1024, help="training batch size")
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--out", type=Path, default=HERE, help="folder of results.md/.json")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    args.rows = args.rows or defaults["rows"]
    args.rounds = args.rounds or defaults["rounds"]
    # fresh-process measures take the median of at least 5 runs (3 in a smoke run)
    args.process_rounds = max(args.rounds, defaults["process_rounds"])
    for key in ("process_warmup", "serving_calls", "throughput_calls"):
        setattr(args, key, defaults[key])
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    started, start = datetime.datetime.now().isoformat(timespec="seconds"), time.perf_counter()
    results, failures = [], []
    with tempfile.TemporaryDirectory(prefix="skewless-bench-") as folder:
        args.workdir = Path(folder)
        run = {"command": "python benchmarks/run.py " + shlex.join(sys.argv[1:] if argv is None
                                                                  else argv),
               "started": started, "machine": machine()}
        for name in args.only:
            print(f"[{time.perf_counter() - start:6.0f} s] {name}", flush=True)
            try:
                results += BENCHMARKS[name].run(args)
            except Exception as error:  # noqa: BLE001 (recorded; the other benchmarks run)
                failures.append(f"{name}: {type(error).__name__}: {error}")
                traceback.print_exc()
    failures += [f"{r['measure']}: {r['notes']['failed']}" for r in results
                 if r["notes"].get("failed")]
    run.update(settings={key: getattr(args, key) for key in (
        "rows", "rounds", "process_rounds", "process_warmup", "quick", "batch_size",
        "serving_calls", "throughput_calls", "only")},
        elapsed_s=time.perf_counter() - start, load_average_at_end=os.getloadavg(),
        results=results, failures=failures)
    for path in report.write(run, args.out):
        print(f"wrote {path}")
    print(report.table(results))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
