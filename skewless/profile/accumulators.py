"""What a profile keeps of a column while the data goes by: mergeable accumulators of its
numbers (moments, range, bin edges, histogram), its values (counts, distinct values), the
lengths of its examples and its out-of-vocabulary tokens.

Every accumulator takes numpy arrays, ``merge(other)`` folds another one in (and returns
self), and ``result()`` gives the JSON-ready dict of the profile file (see docs/usage.md,
"Profiles")."""
from __future__ import annotations

import pickle
from collections import Counter
from dataclasses import dataclass
from typing import Optional

import datasketches

from ..lazy import np
from ..ops.buckets import QuantileSketch
from ..ops.categorical import order_vocabulary
from ..ops.scaling import Accumulator, MomentsAccumulator, RangeAccumulator

# log2 of the HyperLogLog sketch's registers: relative standard error about 1.04 / 2**(12/2),
# i.e. 1.6 %.
HLL_LG_K = 12
# log2 of the most items the frequent-items sketch keeps: counts are off by at most
# 3.5 / 2**LG_MAX_ITEMS of the column's values (datasketches' a-priori error), i.e. 0.02 %.
LG_MAX_ITEMS = 14


@dataclass(frozen=True)
class Settings:
    """How a profile is computed. ``bins``: quantile bins of each number column when no
    baseline gives the edges (``bins - 1`` edges at most, fewer when quantiles coincide);
    ``top_k``: the most frequent values listed per column; ``distinct_limit``: the most
    distinct values per column counted exactly, beyond which sketches take over."""

    bins: int = 10
    top_k: int = 20
    distinct_limit: int = 100_000


class Numbers(Accumulator):
    """The finite numbers of a column: exact min, max, mean and std (NaN and ±inf counted
    apart, as every analyzer does), the quantile sketch of ``bucketize`` for bin edges when
    ``edges`` is None, and the histogram over ``edges`` when given: bin 0 holds the values
    below ``edges[0]``, bin i those in [edges[i-1], edges[i]), the last those from
    ``edges[-1]`` up (as ``bucketize`` assigns buckets)."""

    op, what = "profile", "numbers"

    def __init__(self, edges: Optional[list] = None):
        super().__init__()
        self.moments, self.range = MomentsAccumulator(), RangeAccumulator()
        self.edges = edges
        self.sketch = QuantileSketch() if edges is None else None
        self.counts = None if edges is None else np.zeros(len(edges) + 1, np.int64)

    def _add(self, values):
        values = values.astype(np.int64) if values.dtype.kind == "b" else values
        self.moments._add(values)
        self.range._add(values)
        if self.sketch is not None:
            self.sketch.add(values.astype(np.int64 if values.dtype.kind in "iu" else np.float64))
        else:
            self.counts += histogram(values, self.edges)

    def _merge(self, other):
        self.moments._merge(other.moments)
        self.range._merge(other.range)
        if self.sketch is not None:
            self.sketch.merge(other.sketch)
        else:
            self.counts += other.counts

    def start_histogram(self, edges: list) -> None:
        """Count values in bins over ``edges`` from now on (a second pass over the data,
        once the first has given the quantiles), with :meth:`add_to_histogram`."""
        self.edges, self.sketch = list(edges), None
        self.counts = np.zeros(len(self.edges) + 1, np.int64)

    def add_to_histogram(self, values: np.ndarray) -> None:
        if values.dtype.kind == "f":
            values = values[np.isfinite(values)]
        self.counts += histogram(values, self.edges)

    def quantile_edges(self, bins: int) -> list:
        """The values at ranks i/bins, i = 1..bins-1, deduplicated (bucketize's quantiles)."""
        return self.sketch.quantiles(bins) if self.count else []

    def result(self) -> dict:
        summary = {"count": self.count, "min": None, "max": None, "mean": None, "std": None}
        if self.count:
            self.moments.count = self.count
            summary.update(self.range._result(), **self.moments._result())
        if self.counts is not None:
            summary["histogram"] = {"edges": list(self.edges), "counts": self.counts.tolist()}
        return summary


def histogram(values: np.ndarray, edges: list) -> np.ndarray:
    """How many of ``values`` fall in each of the ``len(edges) + 1`` bins (see
    :class:`Numbers`). int64 values are compared with int edges exactly."""
    if values.dtype.kind in "iu" and all(isinstance(e, int) for e in edges):
        bounds = np.asarray(edges, np.int64)
    else:
        values, bounds = values.astype(np.float64), np.asarray(edges, np.float64)
    return np.bincount(np.searchsorted(bounds, values, side="right"),
                       minlength=len(edges) + 1).astype(np.int64)


class Values:
    """How many times each value occurs: exactly while the column has at most ``limit``
    distinct values; beyond, a HyperLogLog sketch counts the distinct values and a
    frequent-items sketch the most frequent ones (Apache DataSketches), in bounded memory.

    Exact counts do not depend on the order or batching of the data; the sketches'
    estimates do, within their error bounds."""

    def __init__(self, limit: int):
        self.limit = limit
        self.counts: Optional[Counter] = Counter()
        self.distinct = self.frequent = None

    def add(self, values: np.ndarray, counts: np.ndarray) -> None:
        """``values``: distinct values of a batch (int64, or bytes for strings), ``counts``:
        how many times each occurs."""
        pairs = zip(values.tolist(), counts.tolist())
        if self.counts is not None:
            self.counts.update(dict(pairs))
            if len(self.counts) > self.limit:
                self._to_sketches()
        else:
            for value, count in pairs:
                self._sketch(value, count)

    def merge(self, other: "Values") -> "Values":
        if self.counts is not None and other.counts is not None:
            self.counts.update(other.counts)
            if len(self.counts) > self.limit:
                self._to_sketches()
            return self
        if self.counts is not None:
            self._to_sketches()
        if other.counts is not None:
            for value, count in other.counts.items():
                self._sketch(value, count)
        else:
            self.distinct = _union(self.distinct, other.distinct).get_result()
            self.frequent.merge(other.frequent)
        return self

    def __getstate__(self) -> dict:
        # the sketches are native objects: pickled as their serialized bytes (Beam's workers
        # pickle accumulators to merge them)
        state = dict(self.__dict__)
        if self.counts is None:
            state["distinct"] = self.distinct.serialize_compact()
            state["frequent"] = self.frequent.serialize(_PICKLED)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.counts is None:
            self.distinct = datasketches.hll_sketch.deserialize(state["distinct"])
            self.frequent = datasketches.frequent_items_sketch.deserialize(state["frequent"],
                                                                           _PICKLED)

    def _to_sketches(self) -> None:
        counts, self.counts = self.counts, None
        self.distinct = datasketches.hll_sketch(HLL_LG_K)
        self.frequent = datasketches.frequent_items_sketch(LG_MAX_ITEMS)
        for value, count in counts.items():
            self._sketch(value, count)

    def _sketch(self, value, count: int) -> None:
        # hll_sketch hashes str as UTF-8: latin-1 maps every byte string to a distinct str
        self.distinct.update(value.decode("latin-1") if isinstance(value, bytes) else value)
        self.frequent.update(value, count)

    def result(self, top_k: int) -> dict:
        if self.counts is not None:
            top = order_vocabulary(dict(self.counts), top_k)
            return {"distinct": len(self.counts), "exact": True,
                    "top": [[_json_value(v), self.counts[v]] for v in top]}
        items = self.frequent.get_frequent_items(
            datasketches.frequent_items_error_type.NO_FALSE_POSITIVES)
        estimates = {value: estimate for value, estimate, _, _ in items}
        top = order_vocabulary(estimates, top_k)
        return {"distinct": round(self.distinct.get_estimate()), "exact": False,
                "top": [[_json_value(v), estimates[v]] for v in top],
                "top_max_error": int(self.frequent.get_apriori_error(
                    LG_MAX_ITEMS, self.frequent.total_weight))}


class _PickleSerDe(datasketches.PyObjectSerDe):
    """How the frequent-items sketch serializes its values (bytes or int): each pickled,
    after its length (4 bytes, little-endian)."""

    def get_size(self, item) -> int:
        return len(self.to_bytes(item))

    def to_bytes(self, item) -> bytes:
        data = pickle.dumps(item)
        return len(data).to_bytes(4, "little") + data

    def from_bytes(self, data: bytes, offset: int) -> tuple:
        size = int.from_bytes(data[offset:offset + 4], "little")
        return pickle.loads(data[offset + 4:offset + 4 + size]), 4 + size


_PICKLED = _PickleSerDe()


def _union(*sketches):
    """The union of HyperLogLog sketches."""
    union = datasketches.hll_union(HLL_LG_K)
    for sketch in sketches:
        union.update(sketch)
    return union


def _json_value(value):
    """A value as the profile file holds it: str for strings (their bytes decoded with
    errors="surrogateescape", as vocabularies are), int for int64."""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


class Column:
    """The profile of one column (a raw input or a feature): ``examples`` seen, examples
    without a value (``missing``, raw inputs only), values, NaN and ±inf values, the
    ``numbers`` of int64, float32 and bool columns, the ``values`` of string and int64
    columns, the ``lengths`` of variable-length and sparse columns, and the ``oov`` tokens
    of features looked up in a vocabulary."""

    def __init__(self, dtype: str, shape: str, settings: Settings, edges: Optional[list],
                 input_: bool, lengths: bool, oov: bool):
        self.dtype, self.shape, self.settings = dtype, shape, settings
        self.examples = 0
        self.missing = 0 if input_ else None
        self.numbers = Numbers(edges) if dtype != "string" else None
        self.values = Values(settings.distinct_limit) if dtype in ("string", "int64") else None
        self.lengths = Counter() if lengths else None
        self.oov = [0, 0] if oov else None  # tokens, tokens out of the vocabulary

    def add(self, examples: int, lengths, values, distinct=None, oov=None) -> None:
        """One batch: ``lengths`` (values per example, int64 [examples]; None for a feature
        of fixed shape), the flat ``values`` (None for strings), their ``distinct`` values
        and counts (strings and int64), ``oov`` = (tokens, tokens out of vocabulary)."""
        self.examples += examples
        if lengths is not None:
            if self.missing is not None:
                self.missing += int(np.count_nonzero(lengths == 0))
            if self.lengths is not None:
                found, counts = np.unique(lengths, return_counts=True)
                self.lengths.update(dict(zip(found.tolist(), counts.tolist())))
        if self.numbers is not None:
            self.numbers.add(values)
        if self.values is not None:
            self.values.add(*(distinct if distinct is not None
                              else np.unique(values, return_counts=True)))
        if self.oov is not None:
            self.oov[0] += int(oov[0])
            self.oov[1] += int(oov[1])

    def merge(self, other: "Column") -> "Column":
        self.examples += other.examples
        if self.missing is not None:
            self.missing += other.missing
        for part in ("numbers", "values"):
            if getattr(self, part) is not None:
                getattr(self, part).merge(getattr(other, part))
        if self.lengths is not None:
            self.lengths.update(other.lengths)
        if self.oov is not None:
            self.oov = [a + b for a, b in zip(self.oov, other.oov)]
        return self

    def result(self) -> dict:
        summary = {"dtype": self.dtype, "shape": self.shape, "examples": self.examples}
        if self.missing is not None:
            summary["missing"] = self.missing
        if self.numbers is not None:
            summary["nan"], summary["inf"] = self.numbers.nan_count, self.numbers.inf_count
            summary["numbers"] = self.numbers.result()
        if self.values is not None:
            summary["values"] = self.values.result(self.settings.top_k)
        if self.lengths is not None:
            summary["lengths"] = [[length, count] for length, count in sorted(self.lengths.items())]
        if self.oov is not None:
            tokens, oov = self.oov
            summary["oov"] = {"tokens": tokens, "oov": oov, "rate": oov / tokens if tokens else None}
        return summary
