"""The values of CSV fields, as the spec's column types read them (see docs/usage.md, "CSV
data"): int64 exactly, float32 through float64 rounded to float32 in integers, bool, string,
and lists of them separated by ``|``; and putting them into a ``tf.train.Feature``."""
from __future__ import annotations

import re
import struct
from typing import Optional

SEPARATOR = "|"  # between the values of a fixed-shape, variable-length or sparse column
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_SPACE = " \t\r\n\f\v"  # ASCII whitespace, ignored around a number
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                    r"|inf|infinity|nan)", re.IGNORECASE)
_BOOLS = {"0": 0, "1": 1, "false": 0, "true": 1}
_LISTS = {"int64": "int64_list", "bool": "int64_list", "string": "bytes_list"}
_SHOWN = 40  # characters of a bad value shown in a message
_FLOAT_VALUES = b"\x0a"  # FloatList's field 1 (value), packed: wire type 2


class BadValue(Exception):
    """A field that holds no value of its column; the argument says why."""


def shown(text: str) -> str:
    """A value in a message: as it is when that is clear, else as Python writes it. (Error
    messages of ``input_fn`` pass through ``tf.debugging.Assert``, which writes a quote as
    ``\'``: messages quote only values that need it.)"""
    text = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
    plain = text and text.isprintable() and text.strip() == text and not set(text) & set("'\"\\")
    return text if plain else repr(text)


def _int64(text: str) -> int:
    stripped = text.strip(_SPACE)
    if not _INT.fullmatch(stripped):
        raise BadValue(f"not an int64: {shown(text)}")
    value = int(stripped)
    if not INT64_MIN <= value <= INT64_MAX:
        raise BadValue(f"{shown(stripped)} is outside int64 ({INT64_MIN} to {INT64_MAX})")
    return value


def _float32(text: str) -> int:
    """The bits of the float32 a field stands for: the nearest float64 of its text, rounded
    to the nearest float32 (ties to even), as a tf.Example's FloatList rounds a Python
    float. Rounded here, in integers: TensorFlow's threads (where ``input_fn`` reads CSV)
    flush subnormal floats to zero, and so would any rounding by the processor there."""
    stripped = text.strip(_SPACE)
    if not _FLOAT.fullmatch(stripped):
        raise BadValue(f"not a float32: {shown(text)}")
    bits = _float32_bits(float(stripped))
    if bits is None:
        raise BadValue(f"{shown(stripped)} is beyond float32 (largest 3.4028235e38; "
                       f"write inf for infinity)")
    return bits


def _float32_bits(value: float) -> Optional[int]:
    """The bits of ``value`` (a float64) rounded to float32, None if a finite value
    overflows. NaN becomes the quiet NaN of its sign."""
    (bits,) = struct.unpack("<Q", struct.pack("<d", value))
    sign, exponent, fraction = (bits >> 63) << 31, (bits >> 52) & 0x7FF, bits & (2**52 - 1)
    if exponent == 0x7FF:
        return sign | (0x7FC00000 if fraction else 0x7F800000)
    if exponent == 0:  # zero, or a float64 subnormal: far below float32's smallest
        return sign
    power = exponent - 1023
    significand = (1 << 52) | fraction
    shift = 29 if power >= -126 else 29 - 126 - power  # to 24 bits, or fewer if subnormal
    if shift > 54:
        return sign
    kept, rest = significand >> shift, significand & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    if rest > half or (rest == half and kept & 1):
        kept += 1
    if power < -126:  # subnormal; rounding up to 2**23 gives the smallest normal's bits
        return sign | kept
    if kept == 1 << 24:
        kept, power = kept >> 1, power + 1
    if power > 127:
        return None
    return sign | (power + 127) << 23 | (kept - (1 << 23))


def _bool(text: str) -> int:
    value = _BOOLS.get(text.strip(_SPACE).lower())
    if value is None:
        raise BadValue(f"not a bool (true, false, 1 or 0): {shown(text)}")
    return value


def _string(text: str) -> bytes:
    return text.encode("utf-8")


PARSE = {"int64": _int64, "float32": _float32, "bool": _bool, "string": _string}  # by dtype


def pieces(text: str, dtype: str) -> list[str]:
    """The values of a field holding a list: split at each ``|``; in a list of strings,
    ``\\|`` is a ``|``, ``\\\\`` a backslash and ``\\e`` an empty value (so that ``\\e``
    alone is one empty string, where an empty field is no value)."""
    if dtype != "string" or "\\" not in text:
        return text.split(SEPARATOR)
    found, current, at = [], [], 0
    while at < len(text):
        char = text[at]
        if char == "\\":
            escaped = text[at + 1:at + 2]
            if escaped in ("\\", SEPARATOR):
                current.append(escaped)
            elif escaped != "e" or current or text[at + 2:at + 3] not in ("", SEPARATOR):
                raise BadValue(f"unknown escape {chr(92) + escaped} in a list of strings "
                               f"(the escapes are {chr(92)}| for |, {chr(92) * 2} for "
                               f"{chr(92)}, and {chr(92)}e alone for an empty value)")
            at += 2
            continue
        if char == SEPARATOR:
            found.append("".join(current))
            current = []
        else:
            current.append(char)
        at += 1
    found.append("".join(current))
    return found


def add_values(feature, dtype: str, values: list) -> None:
    """Put the values of a field in its tf.train.Feature; float32 values are bits, put as
    the packed field's bytes (setting floats would round them again, in this thread)."""
    if dtype != "float32":
        getattr(feature, _LISTS[dtype]).value.extend(values)
        return
    data = struct.pack(f"<{len(values)}I", *values)
    feature.float_list.MergeFromString(_FLOAT_VALUES + _varint(len(data)) + data)


def _varint(number: int) -> bytes:
    encoded = bytearray()
    while number > 0x7F:
        encoded.append(number & 0x7F | 0x80)
        number >>= 7
    encoded.append(number)
    return bytes(encoded)
