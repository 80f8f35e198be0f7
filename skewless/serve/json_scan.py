"""A REST body over the server's limits, refused before it is parsed: its rows (the
``instances``, ``inputs`` and ``examples`` lists of the top-level object, and each list of
an ``inputs`` object) and its values (strings, keys included, and other scalars) are
counted on the events of a streaming JSON parser (``ijson``, on its fastest backend, yajl2_c
when built), which builds no object per value. Counting stops as soon as a count is over
its limit, so the cost grows with the limit, not with the body: a body of 10^6 instances
(12 MB) is refused after reading at most 16 KB past its first 1,024 rows: 0.03 s, against
2-3 s for ``json.loads`` (measured once on a shared 2-core machine). Each event costs about
1 us, so a body refused on its values (8 Mi by default) takes some 7-8 s.

The last of a repeated key is the one the parser keeps, so a list over the limit is refused
at once only when the rest of the body cannot write its key again; otherwise the whole body
is counted (about 3 s for 10^6 instances), still before it is parsed.

The counts are exact for valid JSON. A body the streaming parser rejects is left to
``json.loads``, which names its error (invalid JSON, integers past ijson's range, a key of
half a surrogate pair), unless a count went over its limit first. NaN and Infinity, which
``json.loads`` takes and ijson does not, are counted as numbers of as many bytes."""
from __future__ import annotations

import json
from typing import Optional

import ijson

from .limits import Limits

_ROW_KEYS = ("instances", "inputs", "examples")
_CHUNK = 16 * 1024  # bytes fed to the parser between two looks at the counts
_SCALARS = frozenset(("string", "number", "boolean", "null"))
# NaN and (-)Infinity, which json.loads takes and ijson does not: numbers of as many bytes.
_CONSTANTS = ((b"NaN", b"0.0"), (b"Infinity", b"1e999999"))


def check_counts(body: bytes, limits: Limits) -> None:
    """Raise INVALID_ARGUMENT (``status.invalid``) when ``body`` (UTF-8 JSON) holds a list of
    rows longer than ``limits.max_batch_size`` or more values than ``limits.max_values``.
    A body that is not JSON, or not an object, passes: the parser names its error."""
    try:
        _Counter(body, limits).run()
    except (ijson.JSONError, UnicodeDecodeError):  # the latter: a key of half a surrogate pair
        if any(constant in body for constant, _ in _CONSTANTS):
            for constant, number in _CONSTANTS:
                body = body.replace(constant, number)
            check_counts(body, limits)  # once more at most: the constants are gone


class _Counter:
    def __init__(self, body: bytes, limits: Limits):
        self.body, self.limits = body, limits
        self.values = 0
        self.rows = {}  # (row key, input name or None) -> rows so far; the last key's only
        self.over = set()  # keys of self.rows over the limit
        self.looked_ahead = False
        self.state = 0, None, None, None, -1  # depth, key, name, counted list, its depth

    def run(self) -> None:
        events = ijson.sendable_list()
        parser = ijson.basic_parse_coro(events, use_float=True)  # builds no Decimal or int
        for end in range(_CHUNK, len(self.body) + _CHUNK, _CHUNK):
            parser.send(self.body[end - _CHUNK:end])
            self._count(events)
            self._check(end)
        parser.close()
        self._count(events)
        for (key, name), rows in self.rows.items():
            self.limits.check_rows(rows, _what(key, name))
        self.limits.check_values(self.values, "the request body")

    def _check(self, end: int) -> None:
        """Refuse the body when a count read up to byte ``end`` is over its limit, and the
        list over it cannot be replaced by one written later."""
        if self.values > self.limits.max_values:
            self.limits.check_values(self.values, "the request body", at_least=True)
        self.over = {found for found in self.over
                     if self.rows.get(found, 0) > self.limits.max_batch_size}
        if not self.over or self.looked_ahead:
            return
        self.looked_ahead = True  # once per body: each look may read the rest of it
        for key, name in self.over:
            if not _may_repeat(self.body, end, key) and (
                    name is None or not _may_repeat(self.body, end, name)):
                self.limits.check_rows(self.rows[key, name], _what(key, name), at_least=True)

    def _count(self, events: list) -> None:
        """Count the parser's ``events`` (and empty the list): one loop, as it runs per value."""
        depth, key, name, counted, at = self.state  # counted: the list's key; at: its depth
        rows, values, limit = self.rows, self.values, self.limits.max_batch_size
        for event, value in events:
            if event == "map_key":
                values += 1
                if depth == 1:
                    key = value
                elif depth == 2:
                    name = value
                continue
            if event[0] == "e":  # end_map, end_array
                depth -= 1
                if depth < at:
                    counted, at = None, -1
                continue
            if event in _SCALARS:
                values += 1
            if depth == at:
                rows[counted] += 1
                if rows[counted] > limit:
                    self.over.add(counted)
            if depth == 1 and key in _ROW_KEYS:  # a value for a row key: the last one counts
                for dropped in [found for found in rows if found[0] == key]:
                    del rows[dropped]
                if event == "start_array":
                    counted, at = (key, None), 2
                    rows[counted] = 0
            elif depth == 2 and key == "inputs" and name is not None:
                rows.pop((key, name), None)
                if event == "start_array":
                    counted, at = (key, name), 3
                    rows[counted] = 0
            if event == "start_array" or event == "start_map":
                depth += 1
                if depth == 2:
                    name = None
        del events[:]
        self.state, self.values = (depth, key, name, counted, at), values


def _what(key: str, name: Optional[str]) -> str:
    return f"'{key}'" if name is None else f"input {name!r}"


def _may_repeat(body: bytes, end: int, key: str) -> bool:
    """Whether ``key`` may be written again after byte ``end`` of ``body`` (from the start
    of a key that byte may be in): as it is, with ``\\u`` escapes, or with ``\\/``."""
    spelled = json.dumps(key, ensure_ascii=False).encode()
    if spelled[1:-1] != key.encode():
        return True  # written with escapes however it is written
    rest = body[max(0, end - 12 * len(key) - 2):]  # a code point takes up to 12 bytes escaped
    return spelled in rest or b"\\u" in rest or ("/" in key and b"\\/" in rest)
