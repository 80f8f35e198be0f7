"""A REST request's body as a JSON object, checked as TF Serving's parser would take it or
stricter: UTF-8 JSON (RFC 8259) with NaN and Infinity, every string valid Unicode, no key
given twice in an object, and rows and values within the server's limits, counted before
the body is parsed (``json_scan``). Every refusal is an INVALID_ARGUMENT ``ServingError``
whose message names the fault."""
from __future__ import annotations

import json
import re

from . import json_convert, json_scan
from .limits import Limits
from .status import invalid

# A \uD800-\uDFFF escape: a JSON string may hold a surrogate that is not half of a pair.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_object(body: bytes, limits: Limits) -> dict:
    """The parsed body: UTF-8 JSON (RFC 8259) with NaN and Infinity, every string valid
    Unicode (no lone surrogate), no key given twice in an object. Its values and rows are
    counted against ``limits`` before it is parsed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise invalid(f"JSON Parse error: the body is not UTF-8 text (byte {error.start}: "
                      f"{error.reason})") from None
    _check_counts(body, limits)
    try:
        request = json.loads(text, parse_constant=json_convert.json_constant,
                             object_pairs_hook=_unique_keys)
    except RecursionError:
        raise invalid("JSON Parse error: the body is nested too deeply") from None
    except _RepeatedKey:
        raise invalid(_repeated_key(text)) from None
    except ValueError as error:
        raise invalid(f"JSON Parse error: {error}") from None
    if not isinstance(request, dict):
        raise invalid("the request body must be a JSON object")
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(request):
        raise invalid("JSON Parse error: The surrogate pair in string is invalid: a string "
                      "holds half of a UTF-16 surrogate pair (\\uD800-\\uDFFF alone)")
    return request


def _check_counts(body: bytes, limits: Limits) -> None:
    """Rows and values over the limits, found before parsing. Each value takes a byte and
    a separator, so a short body cannot be over them and is not counted."""
    if (len(body) + 1) // 2 > min(limits.max_batch_size, limits.max_values):
        json_scan.check_counts(body, limits)


class _RepeatedKey(Exception):
    """A key given twice in one object, which TF Serving's parser (rapidjson, ``FindMember``)
    would read as its first value and ``json.loads`` as its last: refused rather than read
    either way."""


def _unique_keys(pairs: list) -> dict:
    """``json.loads``'s ``object_pairs_hook``: the object, unless a key is given twice."""
    built = dict(pairs)
    if len(built) < len(pairs):
        raise _RepeatedKey
    return built


def _repeated_key(text: str) -> str:
    """The error for ``text``, JSON holding a key given twice: the key and the path to its
    object, found by parsing again with each object giving back ``(path, key)`` of a
    repeated key it holds (inner objects are built first), or None."""
    def located(pairs: list):
        seen = set()
        for key, value in pairs:
            if key in seen:
                return "", key
            seen.add(key)
            found = _in_lists(value)
            if found:
                return f".{key}{found[0]}", found[1]
        return None

    try:
        path, key = _in_lists(json.loads(text, parse_constant=json_convert.json_constant,
                                         object_pairs_hook=located))
    except RecursionError:
        return "a key is given twice in one object: give each key once"
    where = f"the object at {path.removeprefix('.')}" if path else "the top-level object"
    return f"the key {json_convert.shown(key)} is given twice in {where}: give each key once"


def _in_lists(value):
    """The ``(path, key)`` tuple in ``value`` or in its nested lists, its path prefixed with
    the indices leading to it; None if there is none. Walked without recursion."""
    pending = [(value, "")]
    while pending:
        item, path = pending.pop()
        if isinstance(item, tuple):
            return path + item[0], item[1]
        if isinstance(item, list):
            pending.extend((inner, f"{path}[{index}]")
                           for index, inner in reversed(list(enumerate(item))))
    return None


def _has_lone_surrogate(value) -> bool:
    """Whether a string anywhere in the parsed JSON (keys included) is not valid Unicode;
    walked without recursion, so any depth is fine."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False
