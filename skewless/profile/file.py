"""The profile file: the statistics of a data set per input and feature of a spec, as
deterministic, reviewable JSON (see docs/usage.md, "Profiles")."""
from __future__ import annotations

import math

from dataclasses import dataclass, field

from ..analyze.stats import dumps, loads, read_text, write_text
from ..errors import SkewlessError
from .batches import SECTIONS

_COUNTS = ("examples", "missing", "nan", "inf")  # per column, where present

FORMAT = "skewless-profile/1"


@dataclass
class Profile:
    """``columns``: section ("inputs", "features") -> column name -> its statistics;
    ``records``: the records profiled, ``invalid_records``: those left out because they
    break the spec; ``settings``: bins, top_k, distinct_limit and where the bin edges come
    from ("data" or "baseline")."""

    spec: str | None
    fingerprint: str
    records: int = 0
    invalid_records: int = 0
    settings: dict = field(default_factory=dict)
    columns: dict = field(default_factory=lambda: {section: {} for section in SECTIONS})

    def to_json(self) -> str:
        return dumps({"format": FORMAT, "spec": self.spec, "fingerprint": self.fingerprint,
                      "records": self.records, "invalid_records": self.invalid_records,
                      "settings": self.settings, **self.columns})

    @classmethod
    def from_json(cls, text: str, path: str = "<profile>") -> "Profile":
        payload = loads(text, path)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise SkewlessError(f"{path}: error: not a skewless profile (format {FORMAT})")
        sections = {section: payload.get(section) for section in SECTIONS}
        if not all(isinstance(columns, dict) and all(isinstance(c, dict) for c in columns.values())
                   for columns in sections.values()):
            raise SkewlessError(f"{path}: error: not a skewless profile: \"inputs\" and "
                                f"\"features\" must map each column to an object")
        for section, columns in sections.items():
            for name, column in columns.items():
                _check_counts(column, f"{path}: error: {section[:-1]} {name!r}")
        return cls(payload.get("spec"), payload.get("fingerprint"), payload.get("records", 0),
                   payload.get("invalid_records", 0), payload.get("settings", {}), sections)

    def edges(self, section: str, name: str, dtype: str, path: str) -> list:
        """The histogram's bin edges of a number column, for another profile to reuse; a
        SkewlessError when this profile has no such column of that dtype."""
        column = self.columns[section].get(name)
        if column is None or column.get("dtype") != dtype:
            raise SkewlessError(f"{path}: the baseline profile has no {dtype} "
                                f"{section[:-1]} {name!r}: is it a profile of this spec?")
        try:
            edges = list(column["numbers"]["histogram"]["edges"])
        except (KeyError, TypeError):
            raise SkewlessError(f"{path}: error: {section[:-1]} {name!r} has no histogram "
                                f"edges") from None
        numbers = all(isinstance(edge, (int, float)) and not isinstance(edge, bool)
                      and math.isfinite(edge) for edge in edges)
        if not numbers or any(a >= b for a, b in zip(edges, edges[1:])):
            raise SkewlessError(f"{path}: error: the histogram edges of {section[:-1]} "
                                f"{name!r} must be finite numbers in increasing order: got "
                                f"{edges!r}")
        return edges


def _check_counts(column: dict, where: str) -> None:
    """A SkewlessError unless a column's counts are whole numbers, at least 0, and its
    missing values no more than its examples."""
    counts = {key: column[key] for key in _COUNTS if key in column}
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SkewlessError(f"{where}: {key} must be a whole number, at least 0: got "
                                f"{value!r}")
    if counts.get("missing", 0) > counts.get("examples", counts.get("missing", 0)):
        raise SkewlessError(f"{where}: missing ({counts['missing']}) is more than examples "
                            f"({counts['examples']})")


def read_profile(path: str) -> Profile:
    return Profile.from_json(read_text(path), path)


def write_profile(profile: Profile, path: str) -> None:
    """Write atomically (see skewless.files)."""
    write_text(path, profile.to_json())
