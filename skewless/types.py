"""Static types of .feat values: a dtype and a per-example shape."""
from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from .lazy import tf

DTYPES = ("int64", "float32", "string", "bool")
# Per-example size limits of values, checked when compiling (see docs/language.md, "Limits").
MAX_ELEMENTS = 2**20  # values of a fixed-shape column or result, per example
MAX_RANK = 32  # dimensions of a fixed shape
MAX_SPARSE_SIZE = 2**62  # the declared size of a sparse vector (its int64 indices)
NUMERIC = ("int64", "float32")


class _TensorFlowDTypes(Mapping):
    """dtype name -> ``tf.DType``, resolved when looked up (TensorFlow is imported lazily)."""

    def __init__(self, names: dict):
        self._names = names

    def __getitem__(self, dtype: str):
        return getattr(tf, self._names[dtype])

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


TF_DTYPES = _TensorFlowDTypes({"int64": "int64", "float32": "float32", "string": "string",
                               "bool": "bool"})
# How each dtype is stored in a tf.train.Example (bool is stored as int64 0/1).
STORAGE_DTYPES = _TensorFlowDTypes({"int64": "int64", "float32": "float32", "string": "string",
                                    "bool": "int64"})


@dataclass(frozen=True)
class Shape:
    """Per-example shape. ``const``: a literal, no batch dimension; ``scalar``; ``fixed``
    with ``dims``; ``variable``: 0..n values; ``sparse``: a sparse vector of ``dims[0]``."""

    kind: str
    dims: tuple = ()

    def __str__(self) -> str:
        if self.kind == "fixed":
            return "[" + ", ".join(map(str, self.dims)) + "]"
        if self.kind == "variable":
            return "[]"
        if self.kind == "sparse":
            return f"sparse[{self.dims[0]}]"
        return ""

    @property
    def describe(self) -> str:
        return {
            "const": "a constant", "scalar": "a scalar", "variable": "a variable-length value",
            "fixed": f"a fixed-shape value {self}", "sparse": f"a sparse vector {self}",
        }[self.kind]


CONST = Shape("const")
SCALAR = Shape("scalar")
VARIABLE = Shape("variable")


def fixed(*dims: int) -> Shape:
    return Shape("fixed", tuple(dims))


@dataclass(frozen=True)
class Type:
    dtype: str
    shape: Shape

    def __str__(self) -> str:
        return f"{self.dtype}{self.shape}"

    @property
    def is_numeric(self) -> bool:
        return self.dtype in NUMERIC

    def with_dtype(self, dtype: str) -> "Type":
        return Type(dtype, self.shape)

    def with_shape(self, shape: Shape) -> "Type":
        return Type(self.dtype, shape)


def widen(*dtypes: str) -> str:
    """int64 mixed with float32 is float32; bool counts as a number only alone."""
    return "float32" if "float32" in dtypes else dtypes[0]


class ShapeMismatch(Exception):
    pass


def broadcast(*shapes: Shape) -> Shape:
    """The shape of an elementwise combination: constants and per-example scalars broadcast;
    two fixed shapes must agree; two variable-length values cannot be combined, since their
    lengths may differ from example to example; a sparse vector combines only with constants
    (the operation applies to its stored values)."""
    batched = [shape for shape in shapes if shape.kind != "const"]
    if not batched:
        return CONST
    wide = [shape for shape in batched if shape.kind != "scalar"]
    if not wide:
        return SCALAR
    first = wide[0]
    if first.kind == "sparse" and len(batched) > 1:
        raise ShapeMismatch(f"{first.describe} combines only with constants")
    if first.kind == "variable" and len(wide) > 1:
        raise ShapeMismatch(
            "cannot combine two variable-length values elementwise: their lengths may differ"
        )
    for shape in wide[1:]:
        if shape != first:
            raise ShapeMismatch(f"cannot combine {first.describe} with {shape.describe}")
    return first


_FLOAT32_TINY = 1.1754943508222875e-38  # the smallest normal float32
FLOAT32_MAX = 3.4028234663852886e38
_FLOAT32_OVERFLOW = 2.0**128 - 2.0**103  # from here on a number rounds to inf in float32
_FLOAT32_UNDERFLOW = 2.0**-150  # up to here a number rounds to 0 in float32 (ties to even)
INT64_RANGE = range(-(2**63), 2**63)


def beyond_float32(value: float) -> bool:
    """Whether a finite number rounds to infinity in float32."""
    return math.isfinite(value) and abs(value) >= _FLOAT32_OVERFLOW


def rounds_to_zero_in_float32(value: float) -> bool:
    """Whether a number rounds to 0 in float32: its magnitude is at most half the smallest
    subnormal float32 (2**-149), and a tie rounds to even, 0."""
    return abs(value) <= _FLOAT32_UNDERFLOW


def constant_error(value):
    """Why ``value`` could not be written as a literal of a spec (None when it could): an
    integer outside int64, a finite number beyond float32, text that is not text. Constants
    that come from elsewhere (a stats file) are held to these rules.

    Text is any str whose UTF-8 bytes, decoded with errors="surrogateescape", give it back:
    characters, and the escapes (U+DC80..U+DCFF) of bytes that are not UTF-8, which is how
    a vocabulary keeps such tokens. A lone surrogate, or escapes of bytes that are valid
    UTF-8, are refused. Lists are checked item by item."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, (list, tuple)):
            todo.extend(reversed(item))
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if item not in INT64_RANGE:
                return f"integer {_shown(item)} does not fit in int64"
        elif isinstance(item, float):
            if beyond_float32(item):
                return f"number {item!r} is beyond the float32 range (±{FLOAT32_MAX:.8g})"
        elif isinstance(item, str):
            if not _is_text(item):
                return (f"string {_shown(item)} is not text: it holds a UTF-16 surrogate that "
                        f"is not the escape of a byte that is not UTF-8")
        else:
            return f"{_shown(item)} is not a number, a string, a bool or a list of them"
    return None


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}… ({len(text)} characters)"


def _is_text(text: str) -> bool:
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape") == text
    except UnicodeEncodeError:
        return False


def float32_literal(value: float) -> float:
    """A float literal as the compiled code holds it: a value that is subnormal in float32
    becomes a zero of its sign. TensorFlow's CPU threads flush subnormals to zero, but not
    every copy of a constant goes through them (a parse default is flushed in tf.data's
    threads and kept in a serving call), so only zero is the same everywhere."""
    if value != 0 and abs(value) < _FLOAT32_TINY and abs(_as_float32(value)) < _FLOAT32_TINY:
        return math.copysign(0.0, value)
    return value


def _as_float32(value: float) -> float:
    """``value`` rounded to the nearest float32 (IEEE 754 round-to-nearest-even); only for
    values within float32's range."""
    return struct.unpack("f", struct.pack("f", value))[0]
