"""Writing the benchmark results: ``results.json`` (every round's figures) and
``results.md`` (one table row per comparison)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

LABELS = {"wall": "wall", "cpu": "CPU", "p50_us": "p50", "p99_us": "p99",
          "peak_rss_mb": "peak RSS"}


def write_atomic(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def _best(record: dict, key: str, side: str) -> str:
    """The best figure of one side: a rate when the comparison has one, else the value."""
    entry = record["figures"][key]
    if record["rate_unit"] and key in ("wall", "cpu"):
        return f"{entry[f'best_rate_{side}']:,.0f} {record['rate_unit']}"
    value = entry[f"best_{side}"]
    if key.endswith("_us"):
        return f"{value:,.0f} µs"
    if key == "peak_rss_mb":
        return f"{value:,.0f} MB"
    return f"{value:.3f} {record['unit']}"


def _cell(record: dict, key: str, side: str) -> str:
    """A side's label and best figure; for wall time, its best CPU figure beside it."""
    text = f"{record[side]}: {_best(record, key, side)}"
    if key == "wall" and "cpu" in record["figures"]:
        text += f" (CPU: {_best(record, 'cpu', side)})"
    return text


def _ratio(record: dict, key: str) -> str:
    entry = record["figures"].get(key)
    if entry is None:
        return "—"
    return (f"**{entry['median_ratio']:.2f}** ({entry['min_ratio']:.2f}–"
            f"{entry['max_ratio']:.2f})")


def table(records: list) -> str:
    """One row per comparison and figure; CPU time sits beside the figure it goes with."""
    lines = ["| measure | skewless (best) | baseline (best) | ratio: median (range) | "
             "CPU ratio: median (range) | target |",
             "|---|---|---|---|---|---|"]
    for record in records:
        keys = [key for key in record["figures"] if key != "cpu"] or ["cpu"]
        for number, key in enumerate(keys):
            cpu = _ratio(record, "cpu") if number == 0 and key != "cpu" else "—"
            target = record["target"] if number == 0 else ""
            lines.append(
                f"| {record['measure']} — {LABELS.get(key, key)} | {_cell(record, key, 'ours')} "
                f"| {_cell(record, key, 'theirs')} | {_ratio(record, key)} | {cpu} | {target} |")
    return "\n".join(lines)


def notes(records: list) -> str:
    lines = []
    for record in records:
        if record["notes"]:
            shown = "; ".join(f"{k}: {v}" for k, v in record["notes"].items())
            lines.append(f"- {record['measure']}: {shown}")
    return "\n".join(lines)


def markdown(run: dict) -> str:
    machine = run["machine"]
    header = [
        "# skewless benchmark results",
        "",
        f"`{run['command']}` on {run['started']}, {run['elapsed_s']:.0f} s.",
        "",
        f"Machine: {machine['nproc']} usable cores ({machine['cpu_count']} online), "
        f"{machine['cpu_model']}; TensorFlow {machine['tensorflow']}, numpy {machine['numpy']}, "
        f"Python {machine['python']}; niceness {machine['nice']}; load average "
        f"{', '.join(f'{x:.2f}' for x in machine['load_average_at_start'])} at the start, "
        f"{', '.join(f'{x:.2f}' for x in run['load_average_at_end'])} at the end.",
        "",
        f"Settings: {run['settings']['rows']:,} rows, {run['settings']['rounds']} rounds "
        f"(fresh-process measures: {run['settings']['process_rounds']}), batch size "
        f"{run['settings']['batch_size']}"
        f"{'; a quick (smoke) run: figures not meaningful' if run['settings']['quick'] else ''}.",
        "",
        "Ratios are skewless / baseline per round, of time (or latency, or memory): below 1.0 "
        "skewless is faster (smaller). Each figure's baseline was measured in the same run, in "
        "alternating rounds. Best = the best round of each side.",
        "",
    ]
    body = [table(run["results"]), "", "Checks and details:", "", notes(run["results"])]
    if run["failures"]:
        body += ["", "**Failed checks:**", ""] + [f"- {f}" for f in run["failures"]]
    return "\n".join(header + body) + "\n"


def write(run: dict, folder: Path) -> tuple:
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "results.json", folder / "results.md"
    write_atomic(json_path, json.dumps(run, indent=2, ensure_ascii=False) + "\n")
    write_atomic(md_path, markdown(run))
    return json_path, md_path
