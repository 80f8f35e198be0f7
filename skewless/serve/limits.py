"""The server's limits, checked where a request is decoded, before anything is allocated or
converted, so that a request over a limit costs next to nothing; and the range of values
each dtype holds, checked the same way for REST and gRPC.

| limit | default | applies to |
|---|---|---|
| ``max_batch_size`` | 1024 | rows of a request: REST instances, examples, the first dimension of each input |
| ``max_request_bytes`` | 64 MiB | a REST body, a gRPC message, and one decoded input tensor |
| ``max_values`` | ``max_request_bytes`` / 8 | values of a REST body (strings, keys included, other scalars, and every list and object, empty ones included: each is a Python object once parsed), counted before it is parsed |
| ``idle_timeout`` | 30 s | how long a connection may send nothing (REST: each read; gRPC: between calls) |
| ``read_timeout`` | 60 s | how long a REST client may take to send one request whole (request line, headers and body), from its first byte; one later is answered 408 |
| ``max_connections`` | 256 | REST connections open at once; gRPC calls in progress at once |
| ``LINGER_SECONDS``, ``LINGER_BYTES`` | 5 s, 64 MiB | what the server reads and drops, at most, of a REST connection it closes after an answer (lingering close), so that a client still sending a body the server will not read receives the answer rather than a reset |
| ``MAX_RANK`` | 64 | dimensions of an input tensor (numpy's limit, through which request values pass; TensorFlow's is 254) |
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .status import invalid

MAX_RANK = 64
LINGER_SECONDS = 5.0
LINGER_BYTES = 64 * 2 ** 20
DEFAULT_MAX_BATCH_SIZE = 1024
DEFAULT_MAX_REQUEST_BYTES = 64 * 2 ** 20
DEFAULT_IDLE_TIMEOUT = 30.0
DEFAULT_READ_TIMEOUT = 60.0  # a 64 MiB body at some 10 Mbit/s
DEFAULT_MAX_CONNECTIONS = 256
_VALUE_BYTES = 8  # the bytes a request value may cost at most, as an element of a tensor
_STRING_ELEMENT_BYTES = 24  # a string tensor's element (tensorflow::tstring), beyond its bytes


@dataclass(frozen=True)
class Limits:
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    @property
    def max_values(self) -> int:
        return self.max_request_bytes // _VALUE_BYTES

    def check_values(self, count: int, what: str, at_least: bool = False) -> None:
        """``at_least``: ``count`` is as far as the values were counted."""
        if count > self.max_values:
            raise invalid(f"{what} holds {'at least ' * at_least}{count} values (strings, "
                          f"keys, numbers, lists and objects), more than the server's "
                          f"--max-request-bytes / {_VALUE_BYTES} = {self.max_values}: "
                          f"split the request")

    def check_rows(self, rows: int, what: str, at_least: bool = False) -> None:
        """``at_least``: ``rows`` is as far as the rows were counted."""
        if rows > self.max_batch_size:
            raise invalid(f"{what}: batch of {'at least ' * at_least}{rows} is larger than the server's "
                          f"--max-batch-size {self.max_batch_size}: split the request")

    def check_body(self, size: int, what: str) -> None:
        if size > self.max_request_bytes:
            raise invalid(f"{what} of {size} bytes is larger than the server's "
                          f"--max-request-bytes {self.max_request_bytes}")

    def check_shape(self, name: str, dims: list, dtype: np.dtype) -> None:
        """A declared tensor shape, before the tensor is built: rank, sizes, the batch
        (first dimension) and the memory it would take."""
        where = f"input {name!r}"
        if len(dims) > MAX_RANK:
            raise invalid(f"{where} has {len(dims)} dimensions; at most {MAX_RANK} are allowed")
        if any(size < 0 for size in dims):
            raise invalid(f"{where} has a negative size in its shape {list(dims)}")
        if dims:
            self.check_rows(dims[0], where)
        itemsize = _STRING_ELEMENT_BYTES if dtype == object else dtype.itemsize
        self.check_body(math.prod(dims) * itemsize, f"{where} of shape {list(dims)}, a tensor")


def out_of_range(where: str, value, dtype: np.dtype):
    return invalid(f"{where}: {_number(value)} is out of range for {np.dtype(dtype).name}")


def _number(value) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}…({len(text)} digits)"


def checked_array(values: list, dtype, where: str) -> np.ndarray:
    """``values`` (Python numbers) as a 1-D array of ``dtype``; a value the dtype cannot hold
    is an INVALID_ARGUMENT error: never wrapped around, never rounded to infinity (an
    infinity given as such stays one)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        # compared as Python integers: numpy 1.x wraps a Python int too large for a narrow
        # integer dtype (np.array([128], np.int8) is [-128]); numpy 2 raises
        info = np.iinfo(dtype)
        if values and not info.min <= min(values) <= max(values) <= info.max:
            raise out_of_range(where, next(v for v in values if not info.min <= v <= info.max),
                               dtype)
        return np.array(values, dtype=dtype)
    if tf.as_dtype(dtype).is_floating:  # float16, bfloat16 and float8 types included
        try:
            wide = np.array(values, dtype=np.float64)
        except OverflowError:  # an integer past float64
            raise out_of_range(where, next(v for v in values if not _fits_float(v)), dtype) \
                from None
        with np.errstate(over="ignore", invalid="ignore"):
            narrow = wide.astype(dtype)
        # past the largest value: infinity, or NaN for the types without one (float8_e4m3fn)
        overflowed = np.flatnonzero(~np.isfinite(narrow.astype(np.float64)) & np.isfinite(wide))
        if overflowed.size:
            raise out_of_range(where, values[overflowed[0]], dtype)
        return narrow
    return np.array(values, dtype=dtype)


def _fits_float(value) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def check_half_values(name: str, values, dtype) -> None:
    """``half_val`` of a float16 or bfloat16 TensorProto: each value is the 16 bits of one
    element, which a wider number would lose."""
    if len(values) and (min(values) < 0 or max(values) > 0xFFFF):
        bad = min(values) if min(values) < 0 else max(values)
        raise invalid(f"input {name!r}: half_val {bad} is not the 16 bits of a "
                      f"{np.dtype(dtype).name} (0 to 65535)")


def check_int_values(name: str, values, dtype) -> None:
    """Integers of a TensorProto stored wider than its dtype (``int_val`` of int8, int16,
    uint8, uint16), which a conversion would wrap around."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu" and len(values):
        info = np.iinfo(dtype)
        low, high = min(values), max(values)
        if low < info.min or high > info.max:
            raise out_of_range(f"input {name!r}", low if low < info.min else high, dtype)
