"""What a REST body holds, counted without parsing it: how many values it has (strings, keys
included, and other scalars) and how many rows its ``instances``, ``inputs`` and
``examples`` lists have. A few vectorized passes over the bytes (numpy) take about a tenth
of the time ``json.loads`` takes (0.3 s for 10^6 instances, 12 MB), and build no object per
value, so a body over the server's limits is refused before it is parsed.

The counts are exact for valid JSON. A body whose brackets or quotes do not balance is not
counted (``scan`` gives None) and is left to the parser, which names its error."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import numpy as np

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN, _CLOSE = b"[{", b"]}"
_STRUCTURAL = b"[]{},:"


def _table(chars: bytes) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[list(chars)] = True
    return table


_IS_OPEN, _IS_CLOSE = _table(_OPEN), _table(_CLOSE)
_ROW_KEYS = ("instances", "inputs", "examples")


@dataclass(frozen=True)
class Scan:
    """``values``: strings (keys included) and other scalars in the body. ``rows``: the
    length of each list of rows, as ``(what, length)``: the ``instances``, ``inputs`` and
    ``examples`` members of the top-level object (the last one when a key repeats, as the
    parser takes them), and each list in an ``inputs`` object (``what`` is ``input 'NAME'``)."""
    values: int
    rows: list


def scan(body: bytes) -> Optional[Scan]:
    data = np.frombuffer(body, dtype=np.uint8)
    backslashes = np.flatnonzero(data == _BACKSLASH)
    quotes = _unescaped_quotes(data, backslashes)
    if quotes.size % 2:
        return None  # a string is not closed
    # Whether each byte is inside a string (its opening quote included): the parity of the
    # quotes up to it (a running sum of bytes keeps the parity however it wraps around).
    opened = np.zeros(data.size, dtype=np.uint8)
    opened[quotes] = 1
    outside = (np.cumsum(opened, dtype=np.uint8) & 1) == 0
    is_structural = _any_of(data, _STRUCTURAL)
    structural = np.flatnonzero(is_structural & outside)
    chars = data[structural]
    depth = np.cumsum(_IS_OPEN[chars].astype(np.int32) - _IS_CLOSE[chars])  # after each
    if not structural.size or depth.min() < 0 or depth[-1] != 0:
        return None
    # A byte of a number, true, false, null, NaN or Infinity (or of a string's content):
    # not structural, not a quote, not whitespace (nor another control character).
    scalar = ~(is_structural | (data == _QUOTE) | (data <= ord(" "))) & outside
    starts = np.flatnonzero(scalar[1:] & ~scalar[:-1]) + 1
    if scalar[0]:
        starts = np.concatenate([[0], starts])
    values = quotes.size // 2 + starts.size
    if chars[0] != ord("{") or data[:structural[0]].tobytes().strip():
        return Scan(values, [])  # not an object: the parser says so
    return Scan(values, _Structure(body, quotes, backslashes, starts, structural, chars,
                                   depth).rows())


def _any_of(data: np.ndarray, chars: bytes) -> np.ndarray:
    """Whether each byte is one of ``chars``: comparisons, much faster than a table lookup."""
    found = data == chars[0]
    for char in chars[1:]:
        found |= data == char
    return found


def _unescaped_quotes(data: np.ndarray, backslashes: np.ndarray) -> np.ndarray:
    """Positions of the quotes that open or close a string: those not preceded by an odd
    run of backslashes (at ``backslashes``)."""
    quotes = np.flatnonzero(data == _QUOTE)
    if not backslashes.size or not quotes.size:
        return quotes
    breaks = np.flatnonzero(np.diff(backslashes) != 1) + 1
    run_starts = backslashes[np.concatenate([[0], breaks])]
    run_ends = backslashes[np.concatenate([breaks - 1, [backslashes.size - 1]])] + 1
    run = np.minimum(np.searchsorted(run_ends, quotes), run_ends.size - 1)
    odd = (run_ends[run] == quotes) & ((run_ends - run_starts)[run] % 2 == 1)
    return quotes[~odd]


class _Structure:
    """The brackets, commas and colons outside strings, by their index among them, for
    finding the lists of the first levels and counting their elements."""

    def __init__(self, body, quotes, backslashes, starts, structural, chars, depth):
        self.body, self.quotes, self.backslashes, self.starts = body, quotes, backslashes, starts
        self.positions, self.chars, self.depth = structural, chars, depth
        self._found = {}

    def _at(self, chars: bytes, depth: int) -> np.ndarray:
        """Indices of the structural bytes among ``chars`` with ``depth`` after them."""
        key = chars, depth
        if key not in self._found:
            self._found[key] = np.flatnonzero(_any_of(self.chars, chars) & (self.depth == depth))
        return self._found[key]

    def rows(self) -> list:
        colons = self._members(0)
        # Only keys spelled as one of _ROW_KEYS, or written with escapes, are decoded.
        close = np.searchsorted(self.quotes, self.positions[colons]) - 1
        opening, close = self.quotes[np.maximum(close - 1, 0)], self.quotes[close]
        wanted = (np.searchsorted(self.backslashes, close)
                  > np.searchsorted(self.backslashes, opening))  # escaped
        data = np.frombuffer(self.body, dtype=np.uint8)
        for key in _ROW_KEYS:
            spelled = close - opening - 1 == len(key)
            for offset, char in enumerate(key.encode()):
                spelled[spelled] = data[opening[spelled] + 1 + offset] == char
            wanted |= spelled
        found = {}
        for colon in colons[wanted][::-1]:  # the last of a repeated key wins
            name = self._key(colon)
            if name in _ROW_KEYS and name not in found:
                found[name] = colon + 1  # the structural byte after the colon
        rows = []
        for name, value in found.items():
            if self.chars[value] == ord("["):
                rows.append((f"'{name}'", int(self._lengths(np.array([value]))[0])))
            elif name == "inputs" and self.chars[value] == ord("{"):
                rows.extend(self._member_lists(value))
        return rows

    def _members(self, opening: int) -> np.ndarray:
        """Indices of the colons of the object opened at index ``opening``."""
        colons = self._at(b":", self.depth[opening])
        low, high = np.searchsorted(colons, [opening, self._end(np.array([opening]))[0]])
        return colons[low:high]

    def _end(self, openings: np.ndarray) -> np.ndarray:
        """Index of the bracket closing each opening one (all at one depth)."""
        closes = self._at(_CLOSE, self.depth[openings[0]] - 1)
        return closes[np.searchsorted(closes, openings)]

    def _lengths(self, openings: np.ndarray) -> np.ndarray:
        """Elements of each list opened at the indices ``openings`` (all at one depth)."""
        ends = self._end(openings)
        commas = self._at(b",", self.depth[openings[0]])
        count = np.searchsorted(commas, ends) - np.searchsorted(commas, openings)
        first, last = self.positions[openings], self.positions[ends]
        tokens = (ends - openings - 1
                  + np.searchsorted(self.quotes, last) - np.searchsorted(self.quotes, first)
                  + np.searchsorted(self.starts, last) - np.searchsorted(self.starts, first))
        return np.where(tokens > 0, count + 1, 0)

    def _member_lists(self, opening: int) -> list:
        """``(input 'NAME', length)`` of the longest list among the object's members."""
        colons = self._members(opening)
        lists = colons[self.chars[colons + 1] == ord("[")]
        if not lists.size:
            return []
        lengths = self._lengths(lists + 1)
        longest = int(np.argmax(lengths))
        return [(f"input {self._key(lists[longest])!r}", int(lengths[longest]))]

    def _key(self, colon: int) -> Optional[str]:
        """The key before the colon at index ``colon``."""
        close = np.searchsorted(self.quotes, self.positions[colon]) - 1
        if close < 1:
            return None
        raw = self.body[self.quotes[close - 1]:self.quotes[close] + 1]
        try:
            return json.loads(raw) if b"\\" in raw else raw[1:-1].decode("utf-8")
        except ValueError:
            return None
