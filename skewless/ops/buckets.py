"""Buckets: ``bucketize`` with given boundaries, or with quantile boundaries computed from the
training data by a mergeable quantile sketch."""
from __future__ import annotations

import math

from ..lazy import np, tf

from .. import types as t
from .common import elementwise, need_int_const, need_number
from .registry import Analyzer, ArgError, Param, op
from .scaling import Accumulator

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# More quantiles than the sketch keeps values (2k) could not be told apart.
MAX_QUANTILES = 2**15


# ---- the quantile sketch -------------------------------------------------------------------


class QuantileSketch:
    """A deterministic, mergeable approximate quantile sketch (a multi-level compactor, as in
    Manku–Rajagopalan–Lindsay and KLL, without randomness).

    Level h holds values standing for 2**h data values each. When a level reaches ``2k``
    values it is sorted and compacted: (one value held back if their number is odd) every
    second value moves up a level, starting at the first or the second, alternating from one
    compaction of the level to the next.

    Guarantees, for n values:

    - exact (every value kept) while n < 2k;
    - the estimated number of values ≤ y (or < y) is off by at most ``H·n/(2k)`` for every y,
      where H ≤ ⌊log2(n / 2k)⌋ + 1 is the number of levels that ever compacted: a compaction
      at level h errs by at most 2**h and consumes at least 2k·2**h of the n values;
    - memory: fewer than 2k values per level after each ``add``/``merge``, and at most H + 1
      levels, whatever n (with k = 16384, about 256 KB per level, 16 levels for 10⁹ values).

    The result is a function of the sequence of ``add`` and ``merge`` calls: deterministic,
    but beyond 2k values not independent of how the data was batched (within the bound)."""

    def __init__(self, k: int = 1 << 14):
        self.k = k
        self.levels: list[np.ndarray] = []
        self.compactions: list[int] = []
        self.pending: list[np.ndarray] = []  # values not yet appended to level 0
        self.pending_size = 0

    def add(self, values: np.ndarray) -> None:
        self.pending.append(values)
        self.pending_size += values.size
        if self.pending_size >= 2 * self.k:
            self._flush()

    def merge(self, other: "QuantileSketch") -> None:
        other._flush()
        self._flush()
        for level, values in enumerate(other.levels):
            self._append(level, values)
            self.compactions[level] += other.compactions[level]
        self._compact()

    def weighted(self) -> tuple:
        """The sorted values and the number of data values each stands for."""
        self._flush()
        values = np.concatenate(self.levels) if self.levels else np.zeros(0)
        weights = np.concatenate([np.full(v.size, 1 << level, dtype=np.int64)
                                  for level, v in enumerate(self.levels)] or [np.zeros(0, np.int64)])
        order = np.argsort(values, kind="stable")
        return values[order], weights[order]

    def quantiles(self, n: int) -> list:
        """The values at ranks i/n, i = 1..n-1 (np.quantile's method="higher" when exact:
        the value at 0-based sorted position ⌈i·(count-1)/n⌉), deduplicated."""
        values, weights = self.weighted()
        if not values.size:
            return []
        cumulative = np.cumsum(weights)
        targets = [-(-i * (int(cumulative[-1]) - 1) // n) for i in range(1, n)]
        positions = np.searchsorted(cumulative, targets, side="right")
        return np.unique(values[positions]).tolist()

    def _flush(self) -> None:
        if self.pending:
            self._append(0, np.concatenate(self.pending))
            self.pending, self.pending_size = [], 0
            self._compact()

    def _append(self, level: int, values: np.ndarray) -> None:
        while len(self.levels) <= level:
            self.levels.append(values[:0])
            self.compactions.append(0)
        self.levels[level] = np.concatenate([self.levels[level], values])

    def _compact(self) -> None:
        level = 0
        while level < len(self.levels):
            values = self.levels[level]
            if values.size >= 2 * self.k:
                values = np.sort(values, kind="stable")
                paired = values.size - values.size % 2
                start = self.compactions[level] % 2
                self.compactions[level] += 1
                self.levels[level] = values[paired:]
                self._append(level + 1, values[start:paired:2])
            level += 1


class QuantileAccumulator(Accumulator):
    """Quantile boundaries of the data (NaN and ±inf skipped): see :class:`QuantileSketch`. int64 data
    gives int boundaries, float32 data float ones (each exactly a float32 value of the data)."""

    op, what = "bucketize", "quantile boundaries"

    def __init__(self, consts: dict, k: int = 1 << 14):
        super().__init__()
        self.quantiles = consts["quantiles"]
        self.sketch = QuantileSketch(k)

    def _add(self, values):
        kind = np.int64 if values.dtype.kind in "iub" else np.float64
        self.sketch.add(values.astype(kind))

    def _merge(self, other):
        self.sketch.merge(other.sketch)

    def _result(self):
        return {"boundaries": self.sketch.quantiles(self.quantiles)}


# ---- bucketize -----------------------------------------------------------------------------


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bucketize_type(args) -> t.Type:
    need_number(args, "x")
    boundaries, quantiles = args.consts.get("boundaries"), args.consts.get("quantiles")
    if (boundaries is None) == (quantiles is None):
        raise ArgError(f"{args.op} needs either boundaries=[..] or quantiles=N (one of them)")
    if quantiles is not None:
        need_int_const(args, "quantiles", minimum=2, maximum=MAX_QUANTILES)
    else:
        if not isinstance(boundaries, (list, tuple)) or not all(map(_is_number, boundaries)):
            raise ArgError(f"{args.op}: boundaries must be a list of numbers, got "
                           f"{boundaries!r}", "boundaries")
        if not all(a < b for a, b in zip(boundaries, boundaries[1:])) or any(
                isinstance(b, float) and math.isnan(b) for b in boundaries):
            raise ArgError(f"{args.op}: boundaries must be strictly increasing, got "
                           f"{list(boundaries)!r}", "boundaries")
    return t.Type("int64", args.type("x").shape)


def _int_edges(boundaries) -> list:
    """Boundaries for int64 values: x >= b exactly when x >= ceil(b); boundaries above the
    int64 range are never reached, those below it always are."""
    edges = []
    for b in boundaries:
        if b > INT64_MAX:
            break
        edges.append(INT64_MIN if b < INT64_MIN else math.ceil(b))
    return edges


FLOAT32_EXACT_INTEGERS = 2 ** 24  # every integer of smaller magnitude is a float32


def _float32_edges(boundaries) -> list:
    """The boundaries rounded to float32 (to nearest, as numpy and ``tf.cast`` round; ±inf
    beyond its range), as the Python floats of ``Bucketize``'s attribute."""
    with np.errstate(over="ignore"):
        return np.array([_as_float(b) for b in boundaries]).astype(np.float32).tolist()


def _as_float(number) -> float:
    try:
        return float(number)
    except OverflowError:  # an int beyond the float range
        return math.inf if number > 0 else -math.inf


@op("bucketize", Param("x"), Param("boundaries", const=True, default=None),
    Param("quantiles", const=True, default=None), infer=_bucketize_type,
    analyzer=Analyzer(constants=("boundaries",), accumulator=QuantileAccumulator,
                      knobs=("quantiles",)))
@elementwise
def bucketize(x, boundaries=None, quantiles=None):
    """The bucket index of x as int64: with boundaries b, 0 for x < b[0], i for
    b[i-1] <= x < b[i], len(b) for x >= b[-1] and for NaN. ``boundaries=[..]`` are given
    (strictly increasing numbers), or ``quantiles=N`` computes N-1 boundaries from the
    training data: the values at ranks i/N (NaN and infinite values skipped), deduplicated, so there may be
    fewer than N buckets. They are exact up to 32767 values (np.quantile with
    method="higher") and otherwise within a rank error of H·n/32768 (H ≤ log2(n/32768)+1).

    int64 values are compared exactly with the boundaries (even beyond 2**53). float32
    values are compared with the boundaries rounded to float32, as ``x >= 0.1`` would."""
    if boundaries is None:
        raise ValueError("bucketize(quantiles=N) has no boundaries: compute them from data")
    if x.dtype != tf.int64:
        # float32 values against float32 boundaries; NaN compares false with every
        # boundary and so lands in the last bucket (Bucketize gives int32)
        return tf.cast(tf.raw_ops.Bucketize(input=x, boundaries=_float32_edges(boundaries)),
                       tf.int64)
    edges = _int_edges(boundaries)
    if all(abs(edge) < FLOAT32_EXACT_INTEGERS for edge in edges):
        # Bucketize compares an int64 value with its float32 boundaries as float32; with
        # every edge strictly inside ±2**24 (exact in float32) the rounded value falls on
        # the same side of each edge as the value itself
        return tf.cast(tf.raw_ops.Bucketize(input=x, boundaries=[float(e) for e in edges]),
                       tf.int64)
    ids = tf.raw_ops.UpperBound(sorted_inputs=tf.constant([edges], tf.int64),
                                values=tf.reshape(x, [1, -1]),
                                out_type=tf.int64)  # tf.searchsorted(side="right") of one row
    return tf.reshape(ids, [-1] if x.shape.rank == 1 else tf.shape(x))
