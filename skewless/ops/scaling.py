"""Scaling: ``zscore`` and ``minmax``, analyzers whose constants describe the training data.

This module also holds :class:`Accumulator`, the base of every analyzer's accumulator (NaN
and ±inf skipping and counting, merging, the error for data without values)."""
from __future__ import annotations

import math
from fractions import Fraction

from ..lazy import np, tf

from .. import types as t
from .common import elementwise, need_number, need_number_const
from .registry import Analyzer, ArgError, Param, op

X = Param("x")


# ---- accumulators --------------------------------------------------------------------------


class Accumulator:
    """The state of one analyzer over the data seen so far: ``add(values)`` takes the flat
    values of one batch (a numpy array), ``merge(other)`` folds in another accumulator (and
    returns self), ``result()`` gives the constants. Non-finite float values are skipped,
    by every analyzer alike: NaN values are counted in ``nan_count``, ±inf in
    ``inf_count``; ``count`` is the number of values kept. So constants are always finite
    numbers, which the type rules accept. -0.0 is taken as 0.0: the two are equal, so which
    one a minimum, a quantile or a sum of zeros gave would depend on the order of the data.
    Subclasses implement ``_add``, ``_merge`` and ``_result``."""

    op = "analyzer"
    what = "its constants"

    def __init__(self):
        self.count = 0
        self.nan_count = 0
        self.inf_count = 0

    def add(self, values) -> None:
        values = np.asarray(values).reshape(-1)
        if values.dtype.kind == "f":
            finite = np.isfinite(values)
            if not finite.all():
                nan = int(np.isnan(values).sum())
                self.nan_count += nan
                self.inf_count += int(values.size - finite.sum()) - nan
                values = values[finite]
            values = values + values.dtype.type(0)  # -0.0 becomes 0.0 (IEEE 754: -0 + 0 = +0)
        if values.size:
            self.count += int(values.size)
            self._add(values)

    def add_summary(self, *arrays) -> None:
        """What the analyzer's ``batch_summary`` made of one batch, as numpy arrays; without
        a ``batch_summary``, the batch's values (the same as ``add``)."""
        self.add(*arrays)

    def merge(self, other: "Accumulator") -> "Accumulator":
        self.count += other.count
        self.nan_count += other.nan_count
        self.inf_count += other.inf_count
        self._merge(other)
        return self

    def result(self) -> dict:
        if not self.count:
            raise ValueError(f"{self.op}: the data has no values to compute {self.what} "
                             f"from{skipped_text(self.nan_count, self.inf_count, ' (', ' skipped)')}")
        return self._result()

    def _add(self, values: np.ndarray) -> None:
        raise NotImplementedError

    def _merge(self, other) -> None:
        raise NotImplementedError

    def _result(self) -> dict:
        raise NotImplementedError


def _exact_int_sum(values: np.ndarray) -> int:
    """The exact sum of int64 values of any magnitude: each is cut into 24-bit limbs, and
    the limbs are summed in int64, which cannot overflow below 2**39 values per call."""
    signs = np.where(values < 0, -1, 1)
    magnitudes = np.abs(values).astype(np.uint64)  # abs(INT64_MIN) is 2**63 as uint64
    total = 0
    for shift in (0, 24, 48):
        limbs = ((magnitudes >> np.uint64(shift)) & np.uint64(0xFFFFFF)).astype(np.int64)
        total += int(np.sum(limbs * signs)) << shift
    return total


def _power_of_two(exponent: int) -> Fraction:
    return Fraction(1 << exponent) if exponent >= 0 else Fraction(1, 1 << -exponent)


def _int_moments(x: np.ndarray) -> tuple:
    """(Σx, Σx²) exactly, for int64 values: x = hi·2³² + lo and lo = lh·2¹⁶ + ll keep every
    partial product within int64."""
    largest = max(-int(x.min()), int(x.max()), 1) if x.size else 1
    if largest * largest * x.size < 2**63:  # no int64 sum can overflow: sum directly
        return Fraction(int(np.sum(x))), Fraction(int(np.sum(x * x)))
    hi, lo = x >> 32, x & 0xFFFFFFFF
    lh, ll = lo >> 16, lo & 0xFFFF
    squares = ((_exact_int_sum(hi * hi) << 64) + (_exact_int_sum(hi * lo) << 33)
               + (_exact_int_sum(lh * lh) << 32) + (_exact_int_sum(lh * ll) << 17)
               + _exact_int_sum(ll * ll))
    return Fraction(_exact_int_sum(x)), Fraction(squares)


_CHUNK = 1 << 28  # float64 sums of up to 2**28 values below 2**24 are exact (< 2**52)


def _float_moments(x: np.ndarray) -> tuple:
    """(Σx, Σx²) exactly, for finite float32 values: x = M·2^E with an integer M < 2**24;
    per exponent E, M and the two 24-bit halves of M² are summed exactly in float64."""
    fraction, exponent = np.frexp(x.astype(np.float32).astype(np.float64))
    mantissa = np.ldexp(fraction, 24).astype(np.int64)
    exponent = exponent.astype(np.int64) - 24
    square = mantissa * mantissa
    total, squares = Fraction(0), Fraction(0)
    for start in range(0, x.size, _CHUNK):
        part = slice(start, start + _CHUNK)
        keys, where = np.unique(exponent[part], return_inverse=True)

        def per_key(weights):
            return np.bincount(where, weights=weights, minlength=keys.size).tolist()

        for key, m, low, high in zip(keys.tolist(), per_key(mantissa[part]),
                                     per_key(square[part] & 0xFFFFFF), per_key(square[part] >> 24)):
            total += int(m) * _power_of_two(key)
            squares += (int(low) + (int(high) << 24)) * _power_of_two(2 * key)
    return total, squares


def skipped_text(nan: int, inf: int, before: str = "", after: str = "") -> str:
    """"1 NaN value and 2 infinite values" (what was skipped), between ``before`` and
    ``after``; "" when nothing was."""
    parts = [f"{n:,} {what} value{'s' if n != 1 else ''}"
             for n, what in ((nan, "NaN"), (inf, "infinite")) if n]
    return f"{before}{' and '.join(parts)}{after}" if parts else ""


class MomentsAccumulator(Accumulator):
    """Mean and population standard deviation. The sums of the values and of their squares
    are kept exactly (as rationals), so the constants are the correctly rounded mean and
    (up to one rounding of the variance) standard deviation of the data, identical whatever
    the order and batching of the data, and finite even where a float sum would overflow."""

    op, what = "zscore", "mean and std"

    def __init__(self, consts: dict | None = None):
        super().__init__()
        self.total, self.squares = Fraction(0), Fraction(0)

    def _add(self, values):
        if values.dtype.kind == "f":
            total, squares = _float_moments(values)
        else:
            total, squares = _int_moments(values.astype(np.int64))
        self.total += total
        self.squares += squares

    def _merge(self, other):
        self.total += other.total
        self.squares += other.squares

    def _result(self):
        mean = self.total / self.count
        variance = self.squares / self.count - mean * mean
        return {"mean": float(mean), "std": math.sqrt(float(variance))}


class RangeAccumulator(Accumulator):
    """Smallest and largest value (ints stay ints)."""

    op, what = "minmax", "min and max"

    def __init__(self, consts: dict | None = None):
        super().__init__()
        self.low = self.high = None

    def _add(self, values):
        low, high = values.min().item(), values.max().item()
        self._include(low, high)

    def _include(self, low, high):
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)

    def _merge(self, other):
        if other.low is not None:
            self._include(other.low, other.high)

    def _result(self):
        return {"min": self.low, "max": self.high}


# ---- type rules ----------------------------------------------------------------------------


def need_constant_or_none(args, name: str):
    """An analyzer constant: None (computed from data) or a finite number."""
    value = args.consts.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ArgError(f"{args.op}: {name} must be a number, got {value!r}", name)
    if not _finite(value):
        raise ArgError(f"{args.op}: {name} must be a finite number, got {value!r}", name)
    return value


def _finite(number) -> bool:
    try:
        return math.isfinite(float(number))
    except OverflowError:  # an int beyond the float range
        return False


def _constant_pair(args, first: str, second: str):
    """Both analyzer constants given, or neither (then both come from the data)."""
    a, b = need_constant_or_none(args, first), need_constant_or_none(args, second)
    if (a is None) != (b is None):
        raise ArgError(f"{args.op}: give both {first} and {second}, or neither to compute "
                       "them from the training data", first if a is None else second)
    return a, b


def _zscore_type(args) -> t.Type:
    need_number(args, "x")
    _, std = _constant_pair(args, "mean", "std")
    if std is not None and std < 0:
        raise ArgError(f"{args.op}: std must be at least 0, got {std!r}", "std")
    return t.Type("float32", args.type("x").shape)


def _minmax_type(args) -> t.Type:
    need_number(args, "x")
    for bound in ("lo", "hi"):
        value = need_number_const(args, bound)
        if not _finite(value):
            raise ArgError(f"{args.op}: {bound} must be a finite number, got {value!r}", bound)
    low, high = _constant_pair(args, "min", "max")
    if low is not None and high < low:
        raise ArgError(f"{args.op}: max ({high!r}) must not be less than min ({low!r})", "max")
    if low is not None and not _finite(high - low):
        raise ArgError(f"{args.op}: max - min must be a finite number, got {high - low!r}", "max")
    return t.Type("float32", args.type("x").shape)


# ---- functions -----------------------------------------------------------------------------


def _missing(name: str, *constants):
    if any(c is None for c in constants):
        raise ValueError(f"{name} has no constants: compute them from data or give them")


@op("zscore", X, Param("mean", const=True, default=None), Param("std", const=True, default=None),
    infer=_zscore_type,
    analyzer=Analyzer(constants=("mean", "std"), accumulator=MomentsAccumulator))
@elementwise
def zscore(x, mean=None, std=None):
    """(x - mean) / std as float32, with the mean and population standard deviation of the
    training data (NaN and infinite values skipped), or given: ``zscore(x, mean=3, std=2)``. Where std is
    0 the result is x - mean. Computed in float64, then rounded to float32."""
    _missing("zscore", mean, std)
    centered = tf.cast(x, tf.float64) - float(mean)
    return tf.cast(centered / float(std) if std != 0 else centered, tf.float32)


@op("minmax", X, Param("lo", const=True, default=0), Param("hi", const=True, default=1),
    Param("min", const=True, default=None), Param("max", const=True, default=None),
    infer=_minmax_type,
    analyzer=Analyzer(constants=("min", "max"), accumulator=RangeAccumulator))
@elementwise
def minmax(x, lo=0, hi=1, min=None, max=None):  # noqa: A002  (the language's names)
    """(x - min) / (max - min) * (hi - lo) + lo as float32: the training data's range
    (NaN and infinite values skipped) mapped onto [lo, hi]; ``min`` and ``max`` may also be given. Values
    outside the training range map outside [lo, hi] (no clipping: use ``clip`` for that).
    Where max == min the result is lo. Computed in float64, then rounded to float32."""
    _missing("minmax", min, max)
    if max == min:
        return tf.fill(tf.shape(x), tf.constant(lo, tf.float32))
    scaled = (tf.cast(x, tf.float64) - float(min)) / float(max - min)
    return tf.cast(scaled * float(hi - lo) + float(lo), tf.float32)
