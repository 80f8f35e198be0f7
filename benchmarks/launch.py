"""Run one command and write its wall time, CPU time and peak resident memory as JSON:
``python launch.py RESULT.json COMMAND...``. ``timing.run_process`` starts every measured
process through this small one.

On Linux a process's peak resident memory (``ru_maxrss``) starts from what its parent held
when it was forked (or vforked), and survives the ``exec``: a command started by the
benchmark process itself, which holds TensorFlow and data (hundreds of MB), would report
at least that much, whatever it used. Forked from this process instead, it reports its own
peak (at least this process's ~10 MB, as any Python program does)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> int:
    result_path, *argv = sys.argv[1:]
    start = time.perf_counter()
    process = subprocess.Popen(argv)  # stdout and stderr: this process's
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump({"exit_code": os.waitstatus_to_exitcode(status), "wall": wall,
                   "cpu": usage.ru_utime + usage.ru_stime,
                   "peak_rss_kb": usage.ru_maxrss}, handle)  # kilobytes on Linux
    return 0


if __name__ == "__main__":
    sys.exit(main())
