"""A REST body over the server's limits, refused before it is parsed: its rows (the
``instances``, ``inputs`` and ``examples`` lists of the top-level object, and each list of
an ``inputs`` object) and its values (strings, keys included, other scalars, and every list
and object, empty ones included) are counted on the events of a streaming JSON parser
(``ijson``, on its fastest backend, yajl2_c when built), which builds no object per value.
Counting stops as soon as a count is over its limit, so the cost grows with the limit, not
with the body: a body of 10^6 instances (12 MB) is refused after reading at most 16 KB past
its first 1,024 rows: 0.03 s, against 2-3 s for ``json.loads`` (measured once on a shared
2-core machine). Each event costs about 1 us, so a body refused on its values (8 Mi by
default) would take some 3-8 s; one holding few strings is refused first on a lower bound of
its values found by C loops (``re``, ``bytes.count``): 0.2 s for 8 Mi numbers (16 MiB).

A key given twice in an object is an error of the parser (``json_body``), so the first list of
rows over the limit is refused at once, whatever follows it: no later key can replace it.

The counts are exact for valid JSON. A body the streaming parser rejects (invalid JSON,
numbers past its range such as ``1e400`` or a 20-digit integer, a key of half a surrogate
pair) is refused on C-speed lower bounds of its values, whatever its strings, unless a count
went over its limit first; one that passes, at most twice the values limit if it is JSON, is
left to ``json.loads``, which names its error or parses it. NaN and Infinity, which
``json.loads`` takes and ijson does not, are counted as numbers of as many bytes."""
from __future__ import annotations

import re

import ijson

from .limits import Limits

_ROW_KEYS = ("instances", "inputs", "examples")
_CHUNK = 16 * 1024  # bytes fed to the parser between two looks at the values count
# NaN and (-)Infinity, which json.loads takes and ijson does not: numbers of as many bytes.
# (A number past a double, such as 1e999999, is an error of the parser.)
_CONSTANTS = ((b"NaN", b"0.0"), (b"Infinity", b"99999999"))
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string, escapes and all


def check_counts(body: bytes, limits: Limits) -> None:
    """Raise INVALID_ARGUMENT (``status.invalid``) when ``body`` (UTF-8 JSON) holds a list of
    rows longer than ``limits.max_batch_size`` or more values than ``limits.max_values``.
    A body that is not JSON, or not an object, passes: the parser names its error."""
    if len(body) > 2 * limits.max_values:  # else too short to hold more values
        limits.check_values(values_at_least(body, limits), "the request body", at_least=True)
    try:
        _Counter(body, limits).run()
    except (ijson.JSONError, UnicodeDecodeError):  # the latter: a key of half a surrogate pair
        if any(constant in body for constant, _ in _CONSTANTS):
            for constant, number in _CONSTANTS:
                body = body.replace(constant, number)
            check_counts(body, limits)  # once more at most: the constants are gone
        elif len(body) > 2 * limits.max_values:
            _check_bound(body, limits)


def _check_bound(body: bytes, limits: Limits) -> None:
    """Refuse ``body``, which the streaming parser rejects (a number past its range, such
    as ``1e400`` or a 20-digit integer, or text that is not JSON), when it holds more
    values than ``limits.max_values``, whatever its strings: first on its strings (each is
    a value), then on ``_values_outside_strings``, which goes through at most
    ``limits.max_values`` strings then (some 0.3 us each)."""
    strings = (body.count(b'"') - body.count(b'\\"')) // 2  # an escaped quote ends none
    limits.check_values(strings, "the request body", at_least=True)
    limits.check_values(_values_outside_strings(body), "the request body", at_least=True)


def values_at_least(body: bytes, limits: Limits) -> int:
    """A lower bound of the values in ``body`` if it is JSON (NaN and Infinity allowed): every
    value but the first follows a comma or a colon outside strings, and every ``[`` or ``{``
    outside strings opens one (lower than ``_values_outside_strings``, so that a list of
    rows over the limit is refused as such). Found by C loops; 0 for a body of more than
    ``limits.max_values / 8`` strings, which the regular expression replacing them would
    take as long to go through (some 0.3 us a string) as the count."""
    if body.count(b'"') > limits.max_values // 4:
        return 0
    outside = _outside_strings(body)
    return max(1 + outside.count(b",") + outside.count(b":"),
               outside.count(b"[") + outside.count(b"{"))


def _values_outside_strings(body: bytes) -> int:
    """The values in ``body`` if it is JSON (NaN and Infinity allowed), by C loops: each
    value but the first follows a comma or a colon, or is the first of a list or object
    (one that is not empty, ``[]`` or ``{}`` once whitespace is removed). For text that is
    not JSON, a guess."""
    outside = _outside_strings(body)
    return (1 + outside.count(b",") + outside.count(b":") + outside.count(b"[")
            + outside.count(b"{") - outside.count(b"[]") - outside.count(b"{}"))


def _outside_strings(body: bytes) -> bytes:
    """``body`` with each string replaced by a digit and JSON's whitespace removed."""
    return _STRING.sub(b"0", body).translate(None, b" \t\n\r")


class _Counter:
    def __init__(self, body: bytes, limits: Limits):
        self.body, self.limits = body, limits
        self.values = 0
        # depth, top-level key, input name, the list of rows being counted (its key and
        # input name), its depth, its rows so far
        self.state = 0, None, None, None, -1, 0

    def run(self) -> None:
        events = ijson.sendable_list()
        parser = ijson.basic_parse_coro(events, use_float=True)  # builds no Decimal or int
        for end in range(_CHUNK, len(self.body) + _CHUNK, _CHUNK):
            parser.send(self.body[end - _CHUNK:end])
            self._count(events)
            if self.values > self.limits.max_values:
                self.limits.check_values(self.values, "the request body", at_least=True)
        parser.close()
        self._count(events)
        self.limits.check_values(self.values, "the request body")

    def _count(self, events: list) -> None:
        """Count the parser's ``events`` (and empty the list): one loop, as it runs per
        value. A list of rows is refused on its first row over the limit."""
        depth, key, name, counted, at, rows = self.state
        values, limit = self.values, self.limits.max_batch_size
        for event, value in events:
            if event[0] == "e":  # end_map, end_array
                depth -= 1
                if depth < at:
                    counted, at = None, -1
                continue
            values += 1  # a key, a scalar, a list or an object
            if event == "map_key":
                if depth == 1:
                    key = value
                elif depth == 2:
                    name = value
                continue
            if depth == at:
                rows += 1
                if rows > limit:
                    self.limits.check_rows(rows, _what(*counted), at_least=True)
            if event == "start_array":
                if depth == 1 and key in _ROW_KEYS:
                    counted, at, rows = (key, None), 2, 0
                elif depth == 2 and key == "inputs" and name is not None:
                    counted, at, rows = (key, name), 3, 0
            if event == "start_array" or event == "start_map":
                depth += 1
                if depth == 2:
                    name = None
        del events[:]
        self.state, self.values = (depth, key, name, counted, at, rows), values


def _what(key: str, name) -> str:
    return f"'{key}'" if name is None else f"input {name!r}"
