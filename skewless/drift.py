"""Drift and skew: how far a data set's profile (serving traffic, a later span) has moved
from a baseline profile (the training data's), per input and feature, with TensorFlow Data
Validation's measures and threshold semantics (see docs/usage.md, "Drift"):

- the L-infinity distance between the normalized value distributions of a categorical
  column (strings, and int64 ids computed by ``vocab``, ``lookup``, ``hash``, ``cross`` or
  ``bucketize``): the largest difference, over the values either profile lists in its top,
  of the share of the column's values that value takes;
- the Jensen–Shannon divergence, in bits (log base 2, so within [0, 1]), between the
  histograms of a number column over the baseline's bins, NaN and ±inf as two more bins;
- the change of the missing rate (inputs), of the out-of-vocabulary rate (features
  looked up in a vocabulary), and the share of the other profile's values taken by new
  values: listed in its top, absent from the baseline, whose top lists every value.

A measure exceeds its threshold when it is strictly greater than it, as in TFDV. Pure
Python and numpy: profiles in, a :class:`Report` out."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from .errors import SkewlessError

if TYPE_CHECKING:  # the command's parser reads this module's names: no numpy at startup
    from .profile.file import Profile

FORMAT = "skewless-drift/1"
# measure -> its default threshold; every measure is within [0, 1]
DEFAULT_THRESHOLDS = {"linf": 0.1, "js": 0.1, "missing": 0.05, "oov": 0.05, "new_values": 0.05}
# the measures a --threshold COLUMN.MEASURE names: the distance is "linf" or "js" by kind
MEASURES = ("distance", "missing", "oov", "new_values")
ID_OPS = frozenset({"vocab", "lookup", "hash", "cross", "bucketize"})


def categorical_features(graph) -> set:
    """The names of the spec's int64 features that hold ids: computed with ``vocab``,
    ``lookup``, ``hash``, ``cross`` or ``bucketize`` (``graph``: a checked skewless.ir.Graph)."""
    return {name for name, node_id in graph.features.items()
            if graph.nodes[node_id].type.dtype == "int64"
            and any(graph.nodes[i].op in ID_OPS for i in graph.order([node_id]))}


def js_divergence(p, q) -> float:
    """The Jensen–Shannon divergence of two histograms (counts or probabilities over the
    same bins, each with a positive sum), in bits: (KL(P‖M) + KL(Q‖M)) / 2 with
    M = (P + Q) / 2, within [0, 1]. It is the square of scipy's ``jensenshannon(p, q,
    base=2)``, which is the distance."""
    p, q = _normalized(p), _normalized(q)
    m = [(a + b) / 2 for a, b in zip(p, q)]
    divergence = (_kl(p, m) + _kl(q, m)) / 2
    return min(max(divergence, 0.0), 1.0)


def linf_distance(p: dict, q: dict) -> tuple:
    """(value, distance): the largest |p(v) - q(v)| over the union of the keys of two
    distributions (value -> share; a value absent from one has share 0 there), and the
    value where it is reached (the first in sorted order among ties); (None, 0.0) when both
    are empty."""
    best, at = 0.0, None
    for value in sorted(set(p) | set(q), key=repr):
        difference = abs(p.get(value, 0.0) - q.get(value, 0.0))
        if at is None or difference > best:
            best, at = difference, value
    return at, best


def _normalized(counts) -> list:
    total = float(sum(counts))
    if not total > 0:
        raise ValueError("a histogram without counts has no distribution")
    return [c / total for c in counts]


def _kl(p, m) -> float:
    return sum(a * math.log2(a / b) for a, b in zip(p, m) if a > 0)


@dataclass
class Thresholds:
    """``defaults``: measure ("linf", "js", "missing", "oov", "new_values") -> threshold;
    ``columns``: (column, measure) -> threshold, where measure is one of MEASURES and
    column names an input, a feature, or both when they share the name."""

    defaults: dict = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    columns: dict = field(default_factory=dict)

    def of(self, name: str, measure: str, kind: str) -> float:
        """The threshold of a column's measure; ``kind`` is "linf" or "js"."""
        found = self.columns.get((name, measure))
        return found if found is not None else self.defaults[kind if measure == "distance"
                                                              else measure]


def parse_threshold(text: str, defaults: bool = False) -> tuple:
    """``NAME=VALUE`` -> (key, value): with ``defaults``, NAME is a measure of
    DEFAULT_THRESHOLDS; otherwise COLUMN or COLUMN.MEASURE (MEASURES; the distance when
    none), key then being (column, measure). VALUE is a number within [0, 1]. A
    SkewlessError otherwise."""
    name, sep, value = text.partition("=")
    option = "--default-threshold" if defaults else "--threshold"
    if not sep or not name:
        raise SkewlessError(f"{option} {text!r}: expected NAME=VALUE")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0 <= number <= 1:
        raise SkewlessError(f"{option} {text!r}: the threshold must be a number from 0 to 1 "
                            f"(every measure is within [0, 1]), not {value!r}")
    if defaults:
        if name not in DEFAULT_THRESHOLDS:
            raise SkewlessError(f"{option} {text!r}: unknown measure {name!r}: one of "
                                f"{', '.join(DEFAULT_THRESHOLDS)}")
        return name, number
    column, dot, measure = name.partition(".")
    measure = measure or ("" if dot else "distance")
    if measure not in MEASURES or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", column):
        raise SkewlessError(f"{option} {text!r}: NAME is COLUMN or COLUMN.MEASURE, MEASURE "
                            f"one of {', '.join(MEASURES)}")
    return (column, measure), number


@dataclass
class Measure:
    """One measure of a column: ``value`` (None when it cannot be computed, e.g. a side
    without values), its ``threshold``, and whatever else says what moved (``detail``)."""

    value: Optional[float]
    threshold: float
    detail: dict = field(default_factory=dict)

    @property
    def exceeded(self) -> bool:
        return self.value is not None and self.value > self.threshold

    @property
    def excess(self) -> float:
        """How far past its threshold (negative within it; -inf without a value)."""
        return -math.inf if self.value is None else self.value - self.threshold

    def to_dict(self) -> dict:
        return {"value": self.value, "threshold": self.threshold, "exceeded": self.exceeded,
                **self.detail}


@dataclass
class ColumnDrift:
    """The measures of one input or feature; ``kind`` "linf" (categorical) or "js"
    (numbers)."""

    section: str
    name: str
    dtype: str
    kind: str
    measures: dict  # MEASURES name -> Measure, for those that apply
    profiles: tuple = field(default=(), repr=False)  # (baseline, other) column statistics

    @property
    def exceeded(self) -> list:
        return [name for name, measure in self.measures.items() if measure.exceeded]

    def sort_key(self) -> tuple:
        worst = max((m.excess for m in self.measures.values()), default=-math.inf)
        distance = self.measures["distance"].value or 0.0
        return -worst, -distance, self.section, self.name

    def to_dict(self) -> dict:
        return {"section": self.section, "name": self.name, "dtype": self.dtype,
                "kind": self.kind, "exceeded": self.exceeded,
                "measures": {name: m.to_dict() for name, m in self.measures.items()}}


@dataclass
class Report:
    """Every profiled column, worst first: by how far its worst measure is past its
    threshold, then by distance."""

    baseline: str
    other: str
    spec: Optional[str]
    columns: list

    @property
    def exceeded(self) -> list:
        return [column for column in self.columns if column.exceeded]

    def to_dict(self) -> dict:
        return {"format": FORMAT, "spec": self.spec, "baseline": self.baseline,
                "other": self.other, "exceeded": len(self.exceeded),
                "columns": [column.to_dict() for column in self.columns]}


def compare(baseline: Profile, other: Profile, categorical: set = frozenset(),
            thresholds: Thresholds = Thresholds(), baseline_name: str = "baseline",
            other_name: str = "other") -> Report:
    """The drift of ``other`` from ``baseline``, two profiles of the same spec (the same
    fingerprint) whose number columns share bins (``other`` computed with ``baseline`` as
    its baseline); ``categorical``: the features holding ids (see
    :func:`categorical_features`). A SkewlessError when the profiles do not match, or a
    threshold names no column."""
    if baseline.fingerprint != other.fingerprint:
        raise SkewlessError(
            f"{other_name}: a profile of another spec or other analyzer constants "
            f"(fingerprint {str(other.fingerprint)[:12]}…, the baseline {baseline_name} has "
            f"{str(baseline.fingerprint)[:12]}…): features would not mean the same; profile "
            f"both data sets with the same spec and stats")
    check_threshold_names(baseline, thresholds)
    columns = []
    for section, columns_of_section in baseline.columns.items():
        for name, base in columns_of_section.items():
            found = other.columns[section].get(name)
            if found is None or found.get("dtype") != base.get("dtype"):
                raise SkewlessError(f"{other_name}: has no {base.get('dtype')} "
                                    f"{section[:-1]} {name!r}, which {baseline_name} has: "
                                    f"profile both data sets with the same spec")
            is_categorical = base["dtype"] == "string" or (
                section == "features" and name in categorical)
            try:
                columns.append(_column(section, name, base, found, is_categorical, thresholds,
                                       other_name))
            except (TypeError, KeyError, ValueError, AttributeError, IndexError) as error:
                raise SkewlessError(  # a profile edited by hand, or damaged
                    f"{baseline_name} or {other_name}: {section[:-1]} {name!r} is not as "
                    f"'skewless stats' writes it ({type(error).__name__}: {error}): write "
                    f"the profile again") from None
    for section, columns_of_section in other.columns.items():
        missing = sorted(set(columns_of_section) - set(baseline.columns.get(section, {})))
        if missing:
            raise SkewlessError(f"{baseline_name}: has no {section[:-1]} "
                                f"{', '.join(map(repr, missing))}, which {other_name} has: "
                                f"profile both data sets with the same spec")
    _check_threshold_measures(columns, thresholds)
    columns.sort(key=ColumnDrift.sort_key)
    return Report(baseline_name, other_name, baseline.spec, columns)


def check_threshold_names(baseline: Profile, thresholds: Thresholds) -> None:
    """A SkewlessError when a threshold names a column the profile does not have."""
    known = {name for columns in baseline.columns.values() for name in columns}
    unknown = sorted({name for name, _ in thresholds.columns} - known)
    if unknown:
        raise SkewlessError(f"--threshold: no input or feature named {', '.join(unknown)} "
                            f"in the profiles")


def _check_threshold_measures(columns: list, thresholds: Thresholds) -> None:
    """A SkewlessError when a threshold is given for a measure its column does not have
    (``missing`` of a feature, ``oov`` of a column without a vocabulary, …)."""
    measures = {}
    for column in columns:
        measures.setdefault(column.name, set()).update(column.measures)
    wrong = [f"{name}.{measure} ({name} has {', '.join(sorted(measures[name]))})"
             for name, measure in sorted(thresholds.columns) if measure not in measures[name]]
    if wrong:
        raise SkewlessError(f"--threshold: no such measure: {'; '.join(wrong)}")


def _column(section, name, base, other, is_categorical, thresholds, other_name) -> ColumnDrift:
    kind = "linf" if is_categorical else "js"
    measures = {"distance": Measure(None, thresholds.of(name, "distance", kind))}
    if is_categorical:
        at, distance = linf_distance(value_shares(base), value_shares(other))
        if _value_count(base) and _value_count(other):
            measures["distance"] = Measure(distance, measures["distance"].threshold,
                                           {"type": "linf", "at": at})
        measures["new_values"] = _new_values(base, other, thresholds.of(name, "new_values", kind))
    else:
        p, q = bin_counts(base), bin_counts(other)
        if len(p) != len(q) or bin_edges(base) != bin_edges(other):
            raise SkewlessError(f"{other_name}: {section[:-1]} {name!r} has other histogram "
                                f"bins than the baseline's: compute it with 'skewless stats "
                                f"--baseline' (the baseline profile), or with 'drift --data'")
        if sum(p) and sum(q):
            measures["distance"] = Measure(js_divergence(p, q), measures["distance"].threshold,
                                           {"type": "js"})
    measures["distance"].detail.setdefault("type", kind)
    if "missing" in base:
        measures["missing"] = _rate_change(base["missing"], base["examples"], other["missing"],
                                           other["examples"], thresholds.of(name, "missing", kind))
    if "oov" in base:
        measures["oov"] = _rate_change(base["oov"]["oov"], base["oov"]["tokens"],
                                       other["oov"]["oov"], other["oov"]["tokens"],
                                       thresholds.of(name, "oov", kind))
    return ColumnDrift(section, name, base["dtype"], kind, measures, (base, other))


def _rate_change(base_count, base_total, count, total, threshold) -> Measure:
    """|rate - baseline rate|, None when a side has nothing to count."""
    before = base_count / base_total if base_total else None
    after = count / total if total else None
    value = None if before is None or after is None else abs(after - before)
    return Measure(value, threshold, {"baseline": before, "other": after})


def _value_count(column: dict) -> int:
    """How many values the profile's ``values`` counts: the values the examples hold."""
    if "lengths" in column:
        return sum(length * examples for length, examples in column["lengths"])
    per_example = math.prod(int(d) for d in re.findall(r"\d+", column.get("shape", "")))
    return (column["examples"] - column.get("missing", 0)) * per_example


def value_shares(column: dict) -> dict:
    """Listed top value -> its share of the column's values."""
    total = _value_count(column)
    top = column.get("values", {}).get("top", [])
    return {value: count / total for value, count in top} if total else {}


def _lists_every_value(column: dict) -> bool:
    values = column.get("values", {})
    return bool(values.get("exact")) and values.get("distinct") == len(values.get("top", []))


def _new_values(base: dict, other: dict, threshold: float) -> Measure:
    """The share of ``other``'s values taken by values listed in its top that the baseline
    never saw; None unless the baseline's top lists every value it saw."""
    shares = value_shares(other)
    if not _lists_every_value(base) or not shares:
        return Measure(None, threshold, {"values": []})
    seen = {value for value, _ in base["values"]["top"]}
    new = sorted((v for v in shares if v not in seen), key=lambda v: (-shares[v], repr(v)))
    return Measure(float(sum(shares[v] for v in new)), threshold, {"values": new})


def bin_edges(column: dict) -> list:
    return column.get("numbers", {}).get("histogram", {}).get("edges", [])


def bin_counts(column: dict) -> list:
    """The histogram's counts, then the NaN and the ±inf values as two more bins."""
    counts = column.get("numbers", {}).get("histogram", {}).get("counts", [])
    return [*counts, column.get("nan", 0), column.get("inf", 0)]
