"""The stats file: analyzer constants, deterministic, readable and diff-friendly JSON."""
from __future__ import annotations

import json
import os
import re
import math
from dataclasses import dataclass, field

from ..errors import SkewlessError
from ..files import remove_stale_temporaries, write_atomic

FORMAT = "skewless-stats/1"


@dataclass
class Stats:
    """``constants``: analyzer key -> {constant name: value}; ``report``: analyzer key ->
    what the pass saw (values kept, NaN and, when any, ±inf skipped)."""

    spec: str | None
    constants: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    rows: int = 0

    def to_json(self) -> str:
        payload = {
            "format": FORMAT,
            "spec": self.spec,
            "rows": self.rows,
            "analyzers": {
                key: {"constants": json_safe(self.constants[key]), **self.report.get(key, {})}
                for key in sorted(self.constants)
            },
        }
        return dumps(payload)

    @classmethod
    def from_json(cls, text: str, path: str = "<stats>") -> "Stats":
        payload = loads(text, path)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise SkewlessError(f"{path}: error: not a skewless stats file (format {FORMAT})")
        analyzers = payload.get("analyzers", {})
        entries_ok = isinstance(analyzers, dict) and all(
            isinstance(entry, dict) and isinstance(entry.get("constants"), dict)
            for entry in analyzers.values())
        if not entries_ok:
            raise SkewlessError(f"{path}: error: not a skewless stats file: \"analyzers\" must map "
                                f"each analyzer to an object with its \"constants\"")
        try:
            constants = {key: _decode(entry["constants"]) for key, entry in analyzers.items()}
        except ValueError as exc:
            raise SkewlessError(f"{path}: error: {exc}") from None
        report = {key: {k: v for k, v in entry.items() if k != "constants"}
                  for key, entry in analyzers.items()}
        return cls(payload.get("spec"), constants, report, payload.get("rows", 0))


def dumps(payload) -> str:
    """Deterministic, reviewable JSON: sorted keys, two-space indents, floats as Python's
    shortest repr, a final newline. Tokens that are not valid UTF-8 hold lone surrogates
    (errors="surrogateescape"): they are written as JSON \\udcXX escapes, which json.loads
    turns back into the same str."""
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False)
    return re.sub("[\udc80-\udcff]", lambda m: "\\u%04x" % ord(m.group()), text) + "\n"


def loads(text: str, path: str):
    """The JSON value of ``text``; a SkewlessError naming ``path`` (and the line and column
    of a syntax error) if it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SkewlessError(f"{path}:{exc.lineno}:{exc.colno}: error: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise SkewlessError(f"{path}: error: not valid JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise SkewlessError(f"{path}: error: not valid JSON: {exc}") from None


def read_text(path: str) -> str:
    """A UTF-8 file's text; a SkewlessError naming it if it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise SkewlessError(f"{path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SkewlessError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


_NON_FINITE = ("nan", "inf", "-inf")  # repr() of the floats json_safe writes as strings


def json_safe(value):
    """JSON has no NaN or infinities: they are written as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _decode(value):
    if isinstance(value, dict):
        if set(value) == {"float"}:
            if value["float"] not in _NON_FINITE:
                raise ValueError(f"{{\"float\": {json.dumps(value['float'])}}} is not one of "
                                 f"the numbers JSON cannot hold ({', '.join(_NON_FINITE)})")
            return float(value["float"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def read_stats(path: str) -> Stats:
    return Stats.from_json(read_text(path), path)


def write_stats(stats: Stats, path: str) -> None:
    write_text(path, stats.to_json())


def write_text(path: str, text: str) -> None:
    """Write atomically, once the temporary files of killed writes are removed from the
    folder (see skewless.files)."""
    remove_stale_temporaries(os.path.dirname(os.path.abspath(path)))
    write_atomic(path, text)
