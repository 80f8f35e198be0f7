"""skewless serve against hostile requests: every malformed request is answered 400 /
INVALID_ARGUMENT with a message naming the problem, the server keeps answering good requests,
limits are checked before any work, a JSON fuzz never gets a 5xx, and a port in use is an
error (exit status 1) for gRPC as for REST."""
from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
import types

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_hostile import (  # noqa: F401 (model_dir and server are fixtures)
    CLASSIFY, MAX_BATCH, MAX_REQUEST_BYTES, PREDICT, REGRESS, model_dir, predict_of, server, tensor)
from tensorflow.core.framework import tensor_pb2, types_pb2
from test_serve import MODEL, assert_still_serving, classification_request, predict_request, \
    rest_call

from skewless.serve import json_body, json_scan
from skewless.serve.limits import Limits
from skewless.serve.models import Models
from skewless.serve.rest import bind_rest, serve_rest
from skewless.serve.status import ServingError
from skewless.serve.versions import Versions

Code = grpc.StatusCode


def raw_http(port, head: bytes, body: bytes = b""):
    """Send bytes as they are; the status and the JSON reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head + body)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < _length(reply):
            chunk = connection.recv(65536)
            if not chunk:
                break
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    return status, json.loads(reply.split(b"\r\n\r\n", 1)[1])


def _length(reply: bytes) -> int:
    for line in reply.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def post_head(length: bytes, path=PREDICT, extra=b"") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode() + b"Content-Length: " + length
            + b"\r\n" + extra + b"\r\n")


DEEP = 100_000
BAD_REST = {
    # text that is not valid Unicode or not JSON
    "lone high surrogate in a value": (
        PREDICT, '{"signature_name": "echo", "instances": ["a\\ud800"]}', "surrogate"),
    "lone low surrogate in a key": (
        CLASSIFY, '{"signature_name": "classify", "examples": [{"\\udc00": 1.0}]}',
        "surrogate"),
    "lone surrogate in the signature name": (
        PREDICT, '{"signature_name": "\\ud83d", "instances": [1]}', "surrogate"),
    "reversed surrogate pair": (
        PREDICT, '{"signature_name": "echo", "instances": ["\\ude00\\ud83d"]}', "surrogate"),
    "arrays nested 100,000 deep": (PREDICT, "[" * DEEP + "]" * DEEP, "nested too deeply"),
    "objects nested 100,000 deep": (PREDICT, '{"a":' * DEEP + "1" + "}" * DEEP,
                                    "nested too deeply"),
    "instances nested past the largest rank": (
        PREDICT, '{"signature_name": "double", "instances": ' + "[" * 300 + "]" * 300 + "}",
        "nested more than 64 deep"),
    "instances nested one past the largest rank": (
        PREDICT, '{"signature_name": "double", "instances": ' + "[" * 65 + "1.0" + "]" * 65 + "}",
        "nested more than 64 deep"),
    "a feature nested 900 deep": (
        CLASSIFY, '{"signature_name": "classify", "examples": [{"distance": '
        + "[" * 900 + "1" + "]" * 900 + "}]}", "expects numbers"),
    "body not UTF-8": (PREDICT, b'{"signature_name": "echo", "instances": ["\xff"]}',
                       "not UTF-8"),
    "body in UTF-16": (PREDICT, '{"instances": [1]}'.encode("utf-16"), "not UTF-8"),
    "empty body": (PREDICT, b"", "JSON Parse error"),
    "a JSON array": (PREDICT, "[1, 2]", "must be a JSON object"),
    "a JSON string": (PREDICT, '"instances"', "must be a JSON object"),
    "number past a double": (PREDICT, '{"instances": [{"distance": 1e400, "hour": 1, '
                                      '"carrier": "AA"}]}', "out of range for a double"),
    "integer of 5000 digits": (PREDICT, '{"signature_name": "double", "instances": [['
                               + "9" * 5000 + ", 1]]}", "JSON Parse error"),
    # numbers out of their input's range
    "float32 input of 1e39": (PREDICT, {"instances": [{"distance": 1e39, "hour": 1,
                                                       "carrier": "AA"}]},
                              "input 'distance': 1e+39 is out of range for float32"),
    "float32 input of -3.5e38": (PREDICT, {"signature_name": "double",
                                           "instances": [[1.0, -3.5e38]]},
                                 "input 'x': -3.5e+38 is out of range for float32"),
    "float32 input of 2**1100": (PREDICT, {"signature_name": "double",
                                           "instances": [[1, 2 ** 1100]]},
                                 "is out of range for float32"),
    "float16 input of 70000": (PREDICT, {"signature_name": "half", "inputs": [70000]},
                               "input 'x': 70000 is out of range for float16"),
    "int64 input of 2**63": (PREDICT, {"instances": [{"distance": 1.0, "hour": 2 ** 63,
                                                      "carrier": "AA"}]},
                             "input 'hour': 9223372036854775808 is out of range for int64"),
    "int64 input of -2**63-1": (PREDICT, {"inputs": {"distance": [1.0], "hour": [-2 ** 63 - 1],
                                                     "carrier": ["AA"]}},
                                "out of range for int64"),
    "uint8 input of 256": (PREDICT, {"signature_name": "small", "instances": [1, 256]},
                           "input 'x': 256 is out of range for uint8"),
    "uint8 input of -1": (PREDICT, {"signature_name": "small", "instances": [-1]},
                          "input 'x': -1 is out of range for uint8"),
    "float example feature of 1e39": (
        CLASSIFY, {"signature_name": "classify", "examples": [{"distance": 1e39}]},
        "example 0: feature 'distance' (float): 1e+39 is out of range for float32"),
    "int64 example feature of 2**63": (
        REGRESS, {"signature_name": "regress", "examples": [{"distance": 1.0, "hour": 2 ** 63}]},
        "example 0: feature 'hour' (int64): 9223372036854775808 is out of range for int64"),
    "int64 context feature of 2**64": (
        REGRESS, {"signature_name": "regress", "context": {"hour": 2 ** 64},
                  "examples": [{"distance": 1.0}]}, "out of range for int64"),
    "NaN for an int input": (PREDICT, '{"instances": [{"distance": 1.0, "hour": NaN, '
                                      '"carrier": "AA"}]}', "expects integers"),
    # limits, checked before conversion
    "one instance past the batch limit": (
        PREDICT, {"signature_name": "double", "instances": [[1, 1]] * (MAX_BATCH + 1)},
        f"--max-batch-size {MAX_BATCH}"),
    "columnar rows past the batch limit": (
        PREDICT, {"signature_name": "double", "inputs": [[1, 1]] * (MAX_BATCH + 1)},
        f"--max-batch-size {MAX_BATCH}"),
    "examples past the batch limit": (
        REGRESS, {"signature_name": "regress", "examples": [{"distance": 1.0}] * 100},
        f"--max-batch-size {MAX_BATCH}"),
    # shapes and types
    "instances not a list": (PREDICT, {"instances": 5}, "non-empty list"),
    "signature name a number": (PREDICT, {"signature_name": 3, "instances": [1]},
                                "'signature_name' must be a string"),
    "example not an object": (CLASSIFY, {"signature_name": "classify", "examples": [[1.0]]},
                              "must be an object of features"),
    "context not an object": (CLASSIFY, {"signature_name": "classify", "context": [1],
                                         "examples": [{"distance": 1.0}]},
                              "must be an object of features"),
    "b64 of a number": (PREDICT, {"signature_name": "echo", "instances": [{"b64": 5}]},
                        "base64"),
    "true for a float": (PREDICT, {"signature_name": "double", "instances": [[True, 1.0]]},
                         "expects numbers"),
    "unknown input name": (PREDICT, {"instances": [{"distance": 1.0, "hour": 1, "carrier": "AA",
                                                    "speed": 3}]}, "unknown {speed}"),
    "ragged columnar input": (PREDICT, {"inputs": {"distance": [[1.0], 2.0], "hour": [1],
                                                   "carrier": ["AA"]}}, "rectangular"),
}
BAD_VERSIONS = {
    "version past 64 bits": (f"/v1/models/{MODEL}/versions/{2 ** 64}:predict",
                             400, "Failed to convert version"),
    "version of 10,000 digits": (f"/v1/models/{MODEL}/versions/{'9' * 10_000}",
                                 400, "Failed to convert version"),
    "path past the request line limit": (f"/v1/models/{MODEL}/versions/{'9' * DEEP}", 414,
                                         "URI Too Long"),
    "version 2**63": (f"/v1/models/{MODEL}/versions/{2 ** 63}/metadata", 400,
                      "Failed to convert version"),
    "largest int64 version": (f"/v1/models/{MODEL}/versions/{2 ** 63 - 1}:predict", 404,
                              f"no version {2 ** 63 - 1}"),
    "non-ASCII digits": (f"/v1/models/{MODEL}/versions/%D9%A3:predict", 404,
                         "Malformed request"),
}


@pytest.mark.parametrize("case", list(BAD_REST))
def test_malformed_rest_body_is_400_and_the_server_keeps_serving(server, case):
    path, body, phrase = BAD_REST[case]
    status, reply = server.rest("POST", path, body)
    assert (status, set(reply)) == (400, {"error"}), reply
    assert phrase in reply["error"]
    assert_still_serving(server)


@pytest.mark.parametrize("case", list(BAD_VERSIONS))
def test_malformed_version_in_the_path(server, case):
    path, expected, phrase = BAD_VERSIONS[case]
    status, reply = server.rest("POST" if ":" in path else "GET", path,
                                {"instances": [1]} if ":" in path else None)
    assert status == expected and phrase in reply["error"], reply
    assert_still_serving(server)


BAD_HEADERS = {
    "Content-Length not a number": (post_head(b"abc"), "is not a number"),
    "negative Content-Length": (post_head(b"-1"), "is not a number"),
    "Content-Length in superscript digits": (post_head(b"\xb2"), "is not a number"),
    "Content-Length in exponent form": (post_head(b"1e3"), "is not a number"),
    "Content-Length of 10**12": (post_head(b"1000000000000"), "--max-request-bytes"),
    "Content-Length of 30 digits": (post_head(b"9" * 30), "is not a number"),
    "Content-Length past the limit by one": (post_head(str(MAX_REQUEST_BYTES + 1).encode()),
                                             "--max-request-bytes"),
    "chunked body": (post_head(b"0", extra=b"Transfer-Encoding: chunked\r\n"),
                     "Transfer-Encoding"),
    "two different Content-Lengths": (post_head(b"2", extra=b"Content-Length: 5\r\n"),
                                      "given 2 times"),
    "the same Content-Length twice": (post_head(b"0", extra=b"Content-Length: 0\r\n"),
                                      "given 2 times"),
    "three Content-Lengths": (post_head(b"0", extra=b"Content-Length: 0\r\n" * 2),
                              "given 3 times"),
}


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_malformed_content_length_is_400_without_reading_or_allocating(server, case):
    head, phrase = BAD_HEADERS[case]
    started = time.monotonic()
    status, reply = raw_http(server.rest_port, head)
    assert (status, set(reply)) == (400, {"error"}) and phrase in reply["error"], reply
    assert time.monotonic() - started < 5
    assert_still_serving(server)


def test_valid_unicode_and_explicit_infinities_are_accepted(server):
    status, reply = server.rest("POST", PREDICT, '{"signature_name": "echo", '
                                '"instances": ["\\ud83d\\ude00", "\\u00e9"]}')
    assert status == 200, reply
    assert [row["length"] for row in reply["predictions"]] == [4, 2]  # UTF-8 bytes
    status, reply = server.rest("POST", PREDICT, '{"signature_name": "double", '
                                '"instances": [[Infinity, 3.4028234e38]]}')
    assert status == 200, reply
    assert reply["predictions"] == [[float("inf"), float("inf")]]


def test_a_million_instances_are_refused_before_conversion(server):
    body = json.dumps({"signature_name": "double", "instances": [[1.0, 2.0]] * 10 ** 6})
    assert len(body) < MAX_REQUEST_BYTES
    started = time.monotonic()
    status, reply = server.rest("POST", PREDICT, body)
    elapsed = time.monotonic() - started
    assert status == 400 and "batch of at least" in reply["error"]
    assert elapsed < 5, f"refused after {elapsed:.1f} s"  # conversion took about 50 s
    assert_still_serving(server)


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


MILLION = 10 ** 6
MAX_VALUES = MAX_REQUEST_BYTES // 8
LARGE_REST = {
    "a million instances": (
        PREDICT, compact({"signature_name": "double", "instances": [[1.0, 2.0]] * MILLION}),
        "'instances': batch of at least"),
    "one instance past the batch limit": (
        PREDICT, compact({"signature_name": "double", "instances": [[1, 1]] * (MAX_BATCH + 1)}),
        f"'instances': batch of at least {MAX_BATCH + 1} is larger"),
    "one huge instance": (
        PREDICT, compact({"signature_name": "double", "instances": [[1.0] * (MAX_VALUES + 1)]}),
        "holds at least"),  # counted up to the first look past the limit
    "an instance of a million columns": (
        PREDICT, compact({"instances": [{f"c{i}": 1 for i in range(MILLION + 50_000)}]}),
        "holds at least"),
    "columnar inputs of a million rows": (
        PREDICT, compact({"inputs": {"distance": [1.0] * MILLION, "hour": [1] * MILLION,
                                     "carrier": ["AA"] * MILLION}}),
        "input 'distance': batch of at least"),
    "a columnar input, the last one, past the batch limit": (
        PREDICT, compact({"inputs": {"distance": [1.0], "hour": [1],
                                     "carrier": ["AA"] * (MAX_BATCH + 1)}}),
        f"input 'carrier': batch of at least {MAX_BATCH + 1} is larger"),
    "columnar single input of a million rows": (
        PREDICT, compact({"signature_name": "double", "inputs": [[1, 1]] * MILLION}),
        "'inputs': batch of at least"),
    "a million examples": (
        REGRESS, compact({"signature_name": "regress", "examples": [{"hour": 1}] * MILLION}),
        "'examples': batch of at least"),
    "a repeated key, the last one past the limit": (
        PREDICT, '{"instances": [[1, 1]], "signature_name": "double", "instances": '
        + compact([[1, 1]] * MILLION) + "}", "'instances': batch of at least"),
    "a repeated key, the first one past the limit": (
        PREDICT, '{"signature_name": "double", "instances": ' + compact([[1, 1]] * MILLION)
        + ', "instances": [[1, 2]]}', f"'instances': batch of at least {MAX_BATCH + 1} is"),
    "a key written with escapes": (
        PREDICT, '{"signature_name": "double", "\\u0069nstances": '
        + compact([[1, 1]] * MILLION) + "}", "'instances': batch of at least"),
    "instances among strings that hold brackets, commas and escaped quotes": (
        PREDICT, compact({"signature_name": "echo", "instances": ['a\\",[]{}:'] * MILLION}),
        "'instances': batch of at least"),
    "values past the limit in a body holding NaN and Infinity": (
        PREDICT, '{"signature_name": "double", "instances": [[Infinity, NaN]], "other": ['
        + "1," * MAX_VALUES + "1]}", "holds at least"),
    # empty lists and objects: each is a Python object once parsed
    "2 Mi empty lists under another key": (
        PREDICT, '{"signature_name": "double", "instances": [[1, 1]], "other": ['
        + "[]," * MAX_VALUES + "[]]}", "values (strings, keys, numbers, lists and objects)"),
    "2 Mi empty objects under another key": (
        PREDICT, '{"signature_name": "double", "instances": [[1, 1]], "other": ['
        + "{}," * MAX_VALUES + "{}]}", "values (strings, keys, numbers, lists and objects)"),
    "an instance of 2 Mi empty lists": (
        PREDICT, '{"signature_name": "echo", "instances": [[' + "[]," * MAX_VALUES + "[]]]}",
        "values (strings, keys, numbers, lists and objects)"),
    "empty lists nested 2 Mi deep": (
        PREDICT, '{"signature_name": "double", "instances": [[1, 1]], "other": '
        + "[" * (MAX_VALUES + 1) + "]" * (MAX_VALUES + 1) + "}", "holds at least"),
    "lists of an empty object nested 1 Mi deep": (
        REGRESS, '{"signature_name": "regress", "examples": [{"hour": 1}], "other": '
        + "[{}," * (MAX_VALUES // 2) + "[]" + "]" * (MAX_VALUES // 2) + "}", "holds at least"),
    # numbers past the streaming parser's range (a double's, an int64's) before the values
    "1e400, then instances past the values limit": (
        PREDICT, '{"x": 1e400, "instances": [' + '{"a":1},' * (MAX_VALUES // 3) + '{"a":1}]}',
        "holds at least"),
    "a 21-digit integer, then 2 Mi empty lists": (
        PREDICT, '{"x": 123456789012345678901, "other": [' + "[]," * MAX_VALUES + "[]]}",
        "holds at least"),
    "-1e400 in an instance, then 2 Mi strings": (
        PREDICT, '{"instances": [[-1e400]], "other": [' + '"a",' * MAX_VALUES + '"a"]}',
        "holds at least"),
    "a 20-digit integer, then strings holding separators and escaped quotes": (
        PREDICT, '{"x": -12345678901234567890, "other": ['
        + '"\\",:",' * MAX_VALUES + '"a"]}', "holds at least"),
    "text that is not JSON, then values past the limit": (
        PREDICT, '{"x": tru, "other": [' + "1," * MAX_VALUES + "1]}", "holds at least"),
}


def test_a_number_the_streaming_parser_cannot_hold_does_not_skip_the_values_limit():
    """As reported: 8.4 Mi instances (25 Mi values) behind 1e400, 64 MiB."""
    body = b'{"x": 1e400, "instances": [' + b'{"a":1},' * 8_388_600 + b'{"a":1}]}'
    assert len(body) <= Limits().max_request_bytes
    with pytest.raises(ServingError, match="holds at least"):
        json_scan.check_counts(body, Limits())


@pytest.fixture(scope="module")
def in_process(model_dir):
    """The REST server in this process, so that its parser can be watched; its port."""
    versions = Versions(MODEL, str(model_dir), Limits(MAX_BATCH, MAX_REQUEST_BYTES),
                        log=lambda message: None)
    versions.poll()
    running, port = bind_rest(Models([versions], versions.limits), "127.0.0.1", 0)
    serve_rest(running)
    yield port
    running.drain(5.0)


@pytest.fixture
def parses(monkeypatch):
    """The bodies the REST server parses (json_body.json.loads, watched)."""
    parsed = []

    def loads(text, **options):
        parsed.append(len(text))
        return json.loads(text, **options)

    monkeypatch.setattr(json_body, "json", types.SimpleNamespace(loads=loads))
    return parsed


@pytest.mark.parametrize("case", list(LARGE_REST))
def test_large_requests_are_refused_before_they_are_parsed(in_process, parses, case):
    path, body, phrase = LARGE_REST[case]
    assert len(body.encode()) <= MAX_REQUEST_BYTES
    status, reply = rest_call(in_process, "POST", path, body)
    assert (status, set(reply)) == (400, {"error"}), reply
    assert phrase in reply["error"], reply
    assert parses == []
    status, reply = rest_call(in_process, "POST", PREDICT,
                              {"signature_name": "double", "instances": [[1, 1]] * MAX_BATCH})
    assert status == 200 and reply["predictions"] == [[2.0, 2.0]] * MAX_BATCH
    assert len(parses) == 1  # the parser is watched


FEW_STRINGS = ["one huge instance", "values past the limit in a body holding NaN and Infinity",
               "2 Mi empty lists under another key", "2 Mi empty objects under another key",
               "empty lists nested 2 Mi deep", "lists of an empty object nested 1 Mi deep"]


@pytest.mark.parametrize("case", FEW_STRINGS)
def test_a_body_of_few_strings_over_the_values_limit_is_refused_before_its_events_are_counted(
        in_process, monkeypatch, case):
    counted = []

    class Watched(json_scan._Counter):
        def run(self):
            counted.append(len(self.body))
            super().run()

    monkeypatch.setattr(json_scan, "_Counter", Watched)
    path, body, _ = LARGE_REST[case]
    status, reply = rest_call(in_process, "POST", path, body)
    assert status == 400 and "holds at least" in reply["error"], reply
    assert counted == []
    assert rest_call(in_process, "POST", PREDICT, compact(
        {"signature_name": "double", "instances": [[1, 1]] * MAX_BATCH + [[1, 2]] * 4000}
    ))[0] == 400 and len(counted) == 1  # the counter is watched


def exact_values(value) -> int:
    """The values of a parsed JSON value, counted by hand: itself, and each key and value
    it holds."""
    if isinstance(value, dict):
        return 1 + sum(1 + exact_values(inner) for inner in value.values())
    if isinstance(value, list):
        return 1 + sum(exact_values(inner) for inner in value)
    return 1


TRICKY = st.text(alphabet=st.sampled_from(list(',:"\\[]{} a\u00e9\U0001f600')), max_size=6)
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY, inner, max_size=4),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(value=ANY_JSON, separators=st.sampled_from([(",", ":"), (", ", ": ")]),
       ascii_only=st.booleans())
def test_the_lower_bound_of_values_is_never_over_the_count(value, separators, ascii_only):
    body = json.dumps(value, separators=separators, ensure_ascii=ascii_only).encode()
    assert json_scan.values_at_least(body, Limits()) <= exact_values(value)


@settings(max_examples=300, deadline=None)
@given(value=ANY_JSON, separators=st.sampled_from([(",", ":"), (", ", ": ")]),
       ascii_only=st.booleans())
def test_the_values_outside_strings_are_the_count(value, separators, ascii_only):
    body = json.dumps(value, separators=separators, ensure_ascii=ascii_only).encode()
    assert json_scan._values_outside_strings(body) == exact_values(value)


@pytest.mark.parametrize("body,expected", [
    # lists past the limit inside an instance, in a string, or under another key
    (compact({"signature_name": "echo", "instances": ["[" + "1," * MILLION + "]"]}),
     [{"data_bytes": {"b64": base64.b64encode(b"[" + b"1," * MILLION + b"]").decode()},
       "length": 2 * MILLION + 2}]),
    (compact({"signature_name": "double", "instances": [[1, 1]], "other": [0] * MILLION}),
     [[2.0, 2.0]]),
])
def test_lists_that_are_not_rows_are_not_counted_as_rows(in_process, body, expected):
    status, reply = rest_call(in_process, "POST", PREDICT, body)
    assert status == 200 and reply["predictions"] == expected, reply


# Values counted by hand: one for each key, scalar, list and object, empty ones included.
VALUE_COUNTS = [
    ('{"a": []}', 3),
    ("[[], {}, [[]]]", 5),
    ('{"x": [{}, {}], "y": {"z": null}}', 9),
    ('{"instances": [[1, 2.5], ["s", true]]}', 9),
    ('{"inputs": {"x": [], "y": [[]]}}', 8),
    ("[" * 50 + "]" * 50, 50),
    ('{"a": NaN, "b": [-Infinity, Infinity]}', 7),
]


@pytest.mark.parametrize("body,count", VALUE_COUNTS)
def test_values_are_counted_one_for_each_key_scalar_list_and_object(body, count):
    json_scan.check_counts(body.encode(), Limits(max_request_bytes=8 * count))
    with pytest.raises(ServingError, match=f"holds (at least )?{count} values"):
        json_scan.check_counts(body.encode(), Limits(max_request_bytes=8 * (count - 1)))


# The key given twice, and where: TF Serving's parser would take the first value,
# json.loads the last.
REPEATED_KEYS = {
    "instances twice": (
        PREDICT, '{"signature_name": "double", "instances": [[1, 1]], "instances": [[1, 2]]}',
        "'instances'", "the top-level object"),
    "the signature name twice": (
        PREDICT, '{"signature_name": "double", "instances": [[1, 1]], "signature_name": "x"}',
        "'signature_name'", "the top-level object"),
    "the same key written with an escape": (
        PREDICT, '{"signature_name": "double", "instances": [[1, 1]], "\\u0069nstances": [[1, 2]]}',
        "'instances'", "the top-level object"),
    "a feature twice in an instance, with the same value": (
        PREDICT, '{"instances": [{"distance": 1.0, "hour": 1, "carrier": "AA", "hour": 1}]}',
        "'hour'", "the object at instances[0]"),
    "a feature twice in the second instance": (
        PREDICT, '{"instances": [{"distance": 1.0, "hour": 1, "carrier": "AA"}, '
                 '{"distance": 2.0, "distance": 3.0, "hour": 1, "carrier": "AA"}]}',
        "'distance'", "the object at instances[1]"),
    "b64 twice": (
        PREDICT, '{"signature_name": "echo", "instances": [{"b64": "YQ==", "b64": "Yg=="}]}',
        "'b64'", "the object at instances[0]"),
    "an input twice in inputs": (
        PREDICT, '{"inputs": {"distance": [1.0], "hour": [1], "carrier": ["AA"], '
                 '"distance": [2.0]}}', "'distance'", "the object at inputs"),
    "a feature twice in an example": (
        CLASSIFY, '{"signature_name": "classify", "examples": [{"distance": 1.0}, '
                  '{"distance": 1.0, "hour": 2, "hour": 3}]}', "'hour'", "the object at examples[1]"),
    "a feature twice in the context": (
        REGRESS, '{"signature_name": "regress", "context": {"hour": 1, "hour": 2}, '
                 '"examples": [{"distance": 1.0}]}', "'hour'", "the object at context"),
    "a key twice in an object nested in lists": (
        PREDICT, '{"signature_name": "double", "instances": [[1, 1], [1, [[{"a": 1, "a": 1}]]]]}',
        "'a'", "the object at instances[1][1][0][0]"),
    "a key twice under a key the API does not read": (
        PREDICT, '{"signature_name": "double", "instances": [[1, 1]], "other": {"x": {"y": 1, '
                 '"y": 2}}}', "'y'", "the object at other.x"),
}


@pytest.mark.parametrize("case", list(REPEATED_KEYS))
def test_a_key_given_twice_is_400_naming_it(server, case):
    path, body, key, where = REPEATED_KEYS[case]
    status, reply = server.rest("POST", path, body)
    assert (status, reply) == (400, {
        "error": f"the key {key} is given twice in {where}: give each key once"})
    assert_still_serving(server)


def raw_reply(port, data: bytes):
    """Send bytes as they are; the status line, the headers and the body of the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(data)
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line, *headers = head.decode("latin-1").split("\r\n")
    return status_line, dict(line.split(": ", 1) for line in headers), body


METHODS_NOT_TAKEN = ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND",
                     "post", "get", "G\u00e9T", "X" * 100]


@pytest.mark.parametrize("method", METHODS_NOT_TAKEN)
@pytest.mark.parametrize("path", [PREDICT, f"/v1/models/{MODEL}", "/v1/other", "*"])
def test_every_method_gets_a_json_answer(server, method, path):
    status_line, headers, body = raw_reply(server.rest_port, (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        f"Connection: close\r\n\r\n{{}}").encode("utf-8"))
    assert status_line.startswith("HTTP/1.1 404 "), status_line
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"error": f"Malformed request: {method} {path}"} \
        or method == "G\u00e9T"  # sent as UTF-8, read as Latin-1 by the HTTP layer
    assert_still_serving(server)


def test_head_gets_the_headers_of_a_json_answer(server):
    status_line, headers, body = raw_reply(
        server.rest_port, f"HEAD /v1/models/{MODEL} HTTP/1.1\r\nHost: x\r\n"
                          f"Connection: close\r\n\r\n".encode())
    assert status_line.startswith("HTTP/1.1 404 ") and body == b""
    assert headers["Content-Type"] == "application/json" and int(headers["Content-Length"]) > 0
    assert_still_serving(server)


BAD_REQUEST_LINES = {
    "HTTP/2.0": (b"GET /v1/models/flights HTTP/2.0\r\n\r\n", 505),
    "HTTP/9.9": (b"POST /v1/models/flights:predict HTTP/9.9\r\n\r\n", 505),
    "a version holding a quote and a backslash": (b'GET / HTTP/1.1"\\x\r\n\r\n', 400),
    "a version that is not HTTP": (b"GET / FTP/1.1\r\n\r\n", 400),
    "a version of three numbers": (b"GET / HTTP/1.1.1\r\n\r\n", 400),
    "a version of 300 digits": (b"GET / HTTP/1." + b"1" * 300 + b"\r\n\r\n", 400),
    "one word": (b"GARBAGE\r\n\r\n", 400),
    "four words": (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
    "POST without a version (HTTP/0.9)": (b"POST /v1/models/flights:predict\r\n", 400),
    "a request line over 64 KiB": (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    "a header line over 64 KiB": (b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n",
                                  431),
    "over 100 headers": (b"GET / HTTP/1.1\r\n" + b"X: 1\r\n" * 101 + b"\r\n", 431),
    "control bytes in the request line": (b"GET /\x00\x01 HTTP/1.1\x7f\r\n\r\n", 400),
    "a request line of spaces": (b"   \r\nGET /v1/models/flights HTTP/1.1\r\n\r\n", 400),
}


SMUGGLED = b"GET /v1/models/flights HTTP/1.1\r\nHost: x\r\n\r\n"
# Header lines Python's header parser stops at (or folds): each is followed by the
# Content-Length of a body that is a second request, which must not be answered.
BAD_HEADER_LINES = {
    "a space before the colon (as reported)": (b"X-Trace : 1", "'X-Trace : 1' is not"),
    "a tab before the colon": (b"X-Trace\t: 1", "is not 'name: value'"),
    "no colon": (b"nocolon", "'nocolon' is not 'name: value'"),
    "a name that is not ASCII": ("X-\u00e9t\u00e9: 1".encode(), "is not 'name: value'"),
    "a name of control bytes": (b"X\x01Y: 1", "is not 'name: value'"),
    "a line of spaces": (b"   x", "begins with a space or a tab"),
    "a folded line (obs-fold)": (b"X-Trace: 1\r\n 2", "begins with a space or a tab"),
    # characters the header parser splits a line at, hiding or inventing a header
    "a bare CR inside a line": (b"X-Trace: 1\rX-Other: 2", "is not 'name: value'"),
    "a vertical tab inside a value": (b"X-Trace: 1\x0b2", "is not 'name: value'"),
    "a form feed inside a value": (b"X-Trace: 1\x0c2", "is not 'name: value'"),
    "a NEL inside a value": (b"X-Trace: 1\xc2\x852", "is not 'name: value'"),
    "a NUL inside a value": (b"X-Trace: a\x00b", "is not 'name: value'"),
    "DEL inside a value": (b"X-Trace: a\x7fb", "is not 'name: value'"),
    "an empty name": (b": v", "': v' is not 'name: value'"),
}


def test_a_content_length_behind_a_bare_cr_is_not_read(server):
    """``Host: x\\rContent-Length: N``: a proxy reading the CR as a space sees no length and
    would send the body on as a request; the server must not read a length there either."""
    status_line, headers, body = raw_reply(server.rest_port, (
        f"POST {PREDICT} HTTP/1.1\r\nHost: x\rContent-Length: {len(SMUGGLED)}\r\n"
        f"Connection: close\r\n\r\n".encode() + SMUGGLED))
    assert status_line.startswith("HTTP/1.1 400 ") and headers["Connection"] == "close"
    assert "is not 'name: value'" in json.loads(body)["error"]
    assert_still_serving(server)


@pytest.mark.parametrize("case", list(BAD_HEADER_LINES))
def test_a_malformed_header_line_is_400_and_the_connection_closed(server, case):
    line, phrase = BAD_HEADER_LINES[case]
    status_line, headers, body = raw_reply(server.rest_port, (
        f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\n".encode() + line
        + f"\r\nContent-Length: {len(SMUGGLED)}\r\n\r\n".encode() + SMUGGLED))
    assert status_line.startswith("HTTP/1.1 400 "), status_line
    assert headers["Connection"] == "close"
    reply = json.loads(body)  # one answer: the body was not read as a request
    assert set(reply) == {"error"} and phrase in reply["error"], reply
    assert_still_serving(server)


STATUS_REQUEST = f"GET /v1/models/{MODEL} HTTP/1.1\r\nHost: x\r\n".encode()
EMPTY_LINE_BEFORE = {
    "CRLF before the first request": [b"\r\n" + STATUS_REQUEST],
    "LF before the first request": [b"\n" + STATUS_REQUEST],
    "CRLF between pipelined requests": [STATUS_REQUEST, b"\r\n" + STATUS_REQUEST],
    "several empty lines before the first request": [b"\r\n\n\r\n" + STATUS_REQUEST],
    "several empty lines between pipelined requests": [STATUS_REQUEST,
                                                       b"\r\n\r\n" + STATUS_REQUEST],
    "CRLF after a body, before the next request": [
        post_head(b"52") + b'{"signature_name": "double", "instances": [[1, 1]]}\n',
        b"\r\n" + STATUS_REQUEST],
}


@pytest.mark.parametrize("case", list(EMPTY_LINE_BEFORE))
def test_an_empty_line_before_a_request_is_ignored(server, case):
    requests = EMPTY_LINE_BEFORE[case]
    data = b"".join(request + b"Connection: close\r\n\r\n" if index == len(requests) - 1
                    else request + b"\r\n" * (not request.startswith(b"POST"))
                    for index, request in enumerate(requests))
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as connection:
        connection.sendall(data)
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk
    assert reply.count(b"HTTP/1.1 200 ") == len(requests), reply


@pytest.mark.parametrize("case", list(BAD_REQUEST_LINES))
def test_malformed_request_lines_get_a_json_answer(server, case):
    data, expected = BAD_REQUEST_LINES[case]
    status_line, headers, body = raw_reply(server.rest_port, data)
    assert status_line.startswith(f"HTTP/1.1 {expected} "), status_line
    assert headers["Content-Type"] == "application/json"
    assert set(json.loads(body)) == {"error"}, body
    assert_still_serving(server)


# ---- gRPC -------------------------------------------------------------------------------------



def flights(distance):
    request = predict_request({"hour": np.array([1], np.int64),
                               "carrier": np.array([b"AA"], object)})
    request.inputs["distance"].CopyFrom(distance)
    return request


def examples_with_context(count):
    request = classification_request()
    listed = request.input.example_list_with_context
    listed.context.features.feature["hour"].int64_list.value.append(1)
    for _ in range(count):
        listed.examples.add().features.feature["distance"].float_list.value.append(1.0)
    return request


FLOAT, STRING, UINT8 = types_pb2.DT_FLOAT, types_pb2.DT_STRING, types_pb2.DT_UINT8
BAD_GRPC = {
    "huge declared shape with one value": (
        "Predict", flights(tensor(FLOAT, [10 ** 10], float_val=[1.0])), "--max-batch-size"),
    "huge declared row size with one value": (
        "Predict", predict_of("double", x=tensor(FLOAT, [1, 10 ** 12], float_val=[1.0])),
        "--max-request-bytes"),
    "declared sizes whose product overflows int64": (
        "Predict", predict_of("double", x=tensor(FLOAT, [1, 2 ** 62, 2 ** 62], float_val=[1.0])),
        "--max-request-bytes"),
    "negative size": ("Predict", flights(tensor(FLOAT, [-1], float_val=[1.0])),
                      "negative size"),
    "rank 300": ("Predict", predict_of("double", x=tensor(FLOAT, [1] * 300, float_val=[1.0])),
                 "at most 64"),
    "rank 65": ("Predict", predict_of("double", x=tensor(FLOAT, [1] * 65, float_val=[1.0])),
                "at most 64"),
    "unknown rank": ("Predict", flights(tensor_pb2.TensorProto(
        dtype=FLOAT, tensor_shape={"unknown_rank": True}, float_val=[1.0])), "unknown rank"),
    "invalid dtype": ("Predict", flights(tensor(types_pb2.DT_INVALID, [1], float_val=[1.0])),
                      "must be float32, got DT_INVALID"),
    "dtype number not in the enum": ("Predict", flights(tensor(9999, [1], float_val=[1.0])),
                                     "must be float32, got dtype 9999"),
    "content of the wrong length": ("Predict", flights(tensor(FLOAT, [2], tensor_content=b"abc")),
                                    "not a valid TensorProto"),
    "more values than the shape": ("Predict", predict_of("echo", data=tensor(
        STRING, [1], string_val=[b"a", b"b"])), "not a valid TensorProto"),
    "uint8 of 300": ("Predict", predict_of("small", x=tensor(UINT8, [2], int_val=[1, 300])),
                     "input 'x': 300 is out of range for uint8"),
    "uint8 of -1": ("Predict", predict_of("small", x=tensor(UINT8, [1], int_val=[-1])),
                    "input 'x': -1 is out of range for uint8"),
    "examples with context past the batch limit": ("Classify", examples_with_context(100),
                                                   "--max-batch-size"),
}


@pytest.mark.parametrize("case", list(BAD_GRPC))
def test_malformed_grpc_request_is_invalid_argument_and_the_server_keeps_serving(server, case):
    method, request, phrase = BAD_GRPC[case]
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as raised:
        getattr(server.stub, method)(request, 30.0)
    assert raised.value.code() == Code.INVALID_ARGUMENT, raised.value.details()
    assert phrase in raised.value.details()
    assert time.monotonic() - started < 5
    assert_still_serving(server)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return bytes([number << 3 | 2, len(payload)]) + payload


UNDECODABLE = {
    "Predict": [b"\xff\xff\xff\xff", b"\x0a\x05ab", _field(1, _field(1, b"\xff\xfe"))],
    "Classify": [b"\x0a", _field(2, b"\x0a\x80")],
    "Regress": [b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"],
    "GetModelMetadata": [_field(1, _field(1, b"fl\xc3"))],
}


@pytest.mark.parametrize("method,data", [(m, d) for m, ds in UNDECODABLE.items() for d in ds])
def test_request_bytes_that_do_not_decode_are_invalid_argument(server, method, data):
    call = server.channel.unary_unary(f"/tensorflow.serving.PredictionService/{method}")
    with pytest.raises(grpc.RpcError) as raised:
        call(data, timeout=30.0)
    assert raised.value.code() == Code.INVALID_ARGUMENT, raised.value.details()
    assert "the request is not a valid tensorflow.serving." in raised.value.details()
    assert_still_serving(server)


@pytest.mark.parametrize("signature,value,proto", [
    ("small", 300, tensor(UINT8, [1], int_val=[300])),
    ("small", -5, tensor(UINT8, [1], int_val=[-5])),
])
def test_out_of_range_is_the_same_answer_over_rest_and_grpc(server, signature, value, proto):
    status, reply = server.rest("POST", PREDICT, {"signature_name": signature,
                                                  "instances": [value]})
    with pytest.raises(grpc.RpcError) as raised:
        server.stub.Predict(predict_of(signature, x=proto), 30.0)
    assert status == 400 and raised.value.code() == Code.INVALID_ARGUMENT
    assert reply["error"] == raised.value.details()


def test_a_grpc_message_over_the_size_limit_is_refused(server):
    request = predict_of("echo", data=tensor(STRING, [1], string_val=[b"x" * MAX_REQUEST_BYTES]))
    with pytest.raises(grpc.RpcError) as raised:
        server.stub.Predict(request, 30.0)
    assert raised.value.code() == Code.RESOURCE_EXHAUSTED  # gRPC's own answer, as TF Serving's
    assert_still_serving(server)


# Where a TensorProto of each dtype holds its values, and two values of it (by hand).
# ---- fuzz -------------------------------------------------------------------------------------

SIGNATURES = ["", "predict", "classify", "regress", "double", "echo", "small", "half", "nope"]
KEYS = st.sampled_from(["instances", "inputs", "examples", "context", "signature_name", "b64",
                        "distance", "hour", "carrier", "x", "data"]) | st.text(max_size=4)
LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
          | st.sampled_from(["\ud800", "a\udfff", "\U0001f600"])
          | st.builds(lambda t: {"b64": t}, st.text(max_size=8)))
JSON = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(KEYS, inner, max_size=4), max_leaves=25)
BODIES = st.fixed_dictionaries({}, optional={
    "signature_name": st.sampled_from(SIGNATURES) | JSON, "instances": JSON, "inputs": JSON,
    "examples": JSON, "context": JSON}) | JSON


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from([PREDICT, CLASSIFY, REGRESS]), body=BODIES)
def test_fuzzed_json_bodies_never_get_a_5xx(server, path, body):
    status, reply = server.rest("POST", path, json.dumps(body))
    assert status < 500, reply
    assert status == 200 or set(reply) == {"error"}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from([PREDICT, CLASSIFY, REGRESS]),
       data=st.binary(max_size=64) | JSON.map(lambda v: json.dumps(v).encode()[:-1]))
def test_fuzzed_bytes_bodies_never_get_a_5xx(server, path, data):
    status, reply = server.rest("POST", path, data)
    assert 400 <= status < 500 and set(reply) == {"error"}, reply


# ---- ports ------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["gRPC", "REST"])
def test_a_port_in_use_is_an_error(server, which):
    port = server.grpc_port if which == "gRPC" else server.rest_port
    ports = ["--port", str(port), "--rest-port", "0"] if which == "gRPC" else \
        ["--port", "0", "--rest-port", str(port)]
    second = subprocess.run(
        [sys.executable, "-m", "skewless", "serve", server.process.args[4], "--model-name",
         MODEL, *ports], capture_output=True, text=True, timeout=180)
    assert second.returncode == 1, second.stderr
    assert f"cannot listen for {which} on 127.0.0.1:{port}" in second.stderr
    assert "Traceback" not in second.stderr
    assert_still_serving(server)
