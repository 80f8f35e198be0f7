"""skewless serve against TensorProtos and numbers that do not fit: a TensorProto gives
values for its shape's elements or fewer (the last repeated, as in TensorFlow), never more,
and a shape past the limits is refused before anything is allocated, for every dtype; a
number out of its dtype's range is refused the same way over REST and gRPC."""
from __future__ import annotations

import grpc
import numpy as np
import pytest
import tensorflow as tf
from serve_hostile import (MAX_REQUEST_BYTES, NUMERIC, PREDICT, model_dir,  # noqa: F401
                           predict_of, server, tensor)  # model_dir and server are fixtures
from tensorflow.core.framework import types_pb2

from skewless.serve.limits import checked_array
from skewless.serve.status import ServingError
from test_serve import assert_still_serving

Code = grpc.StatusCode


FIELDS = {tf.float16: "half_val", tf.bfloat16: "half_val", tf.float32: "float_val",
          tf.float64: "double_val", tf.int8: "int_val", tf.int16: "int_val",
          tf.int32: "int_val", tf.int64: "int64_val", tf.uint8: "int_val", tf.uint16: "int_val",
          tf.uint32: "uint32_val", tf.uint64: "uint64_val"}
# 1.5 and 3.0 as the bits of float16 (0x3E00, 0x4200) and bfloat16 (0x3FC0, 0x4040)
TWO_VALUES = {tf.float16: ([0x3E00, 0x4200], [1.5, 3.0]),
              tf.bfloat16: ([0x3FC0, 0x4040], [1.5, 3.0])}


def values_of(dtype):
    """Two values of ``dtype`` in its TensorProto field, and what they are as float64."""
    if dtype in TWO_VALUES:
        return TWO_VALUES[dtype]
    return ([1.5, 3.0], [1.5, 3.0]) if dtype.is_floating else ([7, 9], [7.0, 9.0])


def proto_of(dtype, dims, values=(), content=None):
    if content is not None:
        return tensor(dtype.as_datatype_enum, dims, tensor_content=content)
    return tensor(dtype.as_datatype_enum, dims, **{FIELDS[dtype]: list(values)})


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda dtype: dtype.name)
def test_a_tensorproto_gives_values_for_its_shape_or_fewer_repeated(server, dtype):
    given, expected = values_of(dtype)
    cases = [  # (dims, values, what TensorFlow makes of them: the last value repeated)
        ([2], given, expected),
        ([5], given, expected + [expected[-1]] * 3),
        ([4], given[:1], expected[:1] * 4),
        ([3], [], [0.0] * 3),
        ([0], [], []),
    ]
    for dims, values, result in cases:
        reply = server.stub.Predict(predict_of(f"as_{dtype.name}",
                                               x=proto_of(dtype, dims, values)), 30.0)
        assert tf.make_ndarray(reply.outputs["y"]).tolist() == result, (dims, values)
    content = np.array(expected, dtype.as_numpy_dtype).tobytes()
    reply = server.stub.Predict(predict_of(f"as_{dtype.name}",
                                           x=proto_of(dtype, [2], content=content)), 30.0)
    assert tf.make_ndarray(reply.outputs["y"]).tolist() == expected


@pytest.mark.parametrize("dtype", NUMERIC + [tf.string], ids=lambda dtype: dtype.name)
def test_a_tensorproto_that_does_not_fit_its_shape_is_refused_before_allocation(server, dtype):
    one = [b"a"] if dtype == tf.string else values_of(dtype)[0][:1]
    field = "string_val" if dtype == tf.string else FIELDS[dtype]
    make = (lambda dims, values=(), content=None: tensor(
        types_pb2.DT_STRING, dims, string_val=list(values))) if dtype == tf.string else \
        (lambda dims, values=(), content=None: proto_of(dtype, dims, values, content))
    signature, name = ("echo", "data") if dtype == tf.string else (f"as_{dtype.name}", "x")
    itemsize = 24 if dtype == tf.string else dtype.size  # a string element: a tstring
    cases = {  # a shape the values do not fill, past the size limits: one value, or none
        "10**9 elements, one value": (make([10 ** 9], one), "--max-batch-size"),
        "a row of 10**9 elements": (make([1, 10 ** 9], one), "--max-request-bytes"),
        "one element past the size limit": (make([1, MAX_REQUEST_BYTES // itemsize + 1], one),
                                             "--max-request-bytes"),
        "no value for 10**12 elements": (make([1, 10 ** 12]), "--max-request-bytes"),
        "more values than elements": (make([1], one * 3), f"3 values in {field} for 1 "),
    }
    if dtype == tf.string:
        cases["8.4 million elements, one value"] = (make([1, 8_400_000], one),
                                                    "--max-request-bytes")
    else:
        cases["tensor_content one byte short"] = (
            make([2], content=b"\0" * (2 * dtype.size - 1)), "tensor_content of")
        cases["tensor_content for 10**9 elements"] = (
            make([1, 10 ** 9], content=b"\0" * dtype.size), "--max-request-bytes")
    for case, (proto, phrase) in cases.items():
        with pytest.raises(grpc.RpcError) as raised:
            server.stub.Predict(predict_of(signature, **{name: proto}), 30.0)
        assert raised.value.code() == Code.INVALID_ARGUMENT, (case, raised.value.details())
        assert phrase in raised.value.details(), (case, raised.value.details())
    assert_still_serving(server)


# A number past each dtype's range, each way; both are over REST, and over gRPC too where
# the TensorProto field is wider than the dtype (gRPC's float, double, int32 and 64-bit
# fields cannot hold a value out of their dtype's range).
OUT_OF_RANGE = {
    tf.float16: [70000, -1e5], tf.bfloat16: [3.4e38, -1e39], tf.float32: [1e39, -3.5e38],
    tf.float64: [2 ** 1100, -(2 ** 1100)],
    **{dtype: [int(np.iinfo(dtype.as_numpy_dtype).max) + 1,
               int(np.iinfo(dtype.as_numpy_dtype).min) - 1]
       for dtype in NUMERIC if dtype.is_integer},
}
WIDER_FIELD = {tf.int8, tf.int16, tf.uint8, tf.uint16}


@pytest.mark.parametrize("dtype,value", [(dtype, value) for dtype, values in OUT_OF_RANGE.items()
                                         for value in values],
                         ids=lambda item: getattr(item, "name", str(item)[:12]))
def test_a_number_out_of_its_dtype_is_refused_the_same_way_over_rest_and_grpc(server, dtype,
                                                                             value):
    status, reply = server.rest("POST", PREDICT, {"signature_name": f"as_{dtype.name}",
                                                  "instances": [1, value]})
    assert status == 400 and reply["error"].startswith("input 'x': "), reply
    assert reply["error"].endswith(f" is out of range for {dtype.name}"), reply
    if dtype in WIDER_FIELD:
        with pytest.raises(grpc.RpcError) as raised:
            server.stub.Predict(predict_of(f"as_{dtype.name}",
                                           x=proto_of(dtype, [2], [1, value])), 30.0)
        assert raised.value.code() == Code.INVALID_ARGUMENT
        assert raised.value.details() == reply["error"]
    assert_still_serving(server)


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16], ids=lambda dtype: dtype.name)
@pytest.mark.parametrize("bits", [0x10000, 70000, -1, 2 ** 31 - 1])
def test_half_val_past_16_bits_is_refused(server, dtype, bits):
    with pytest.raises(grpc.RpcError) as raised:
        server.stub.Predict(predict_of(f"as_{dtype.name}", x=proto_of(dtype, [2], [0, bits])),
                            30.0)
    assert raised.value.code() == Code.INVALID_ARGUMENT
    assert raised.value.details() == (f"input 'x': half_val {bits} is not the 16 bits of a "
                                      f"{dtype.name} (0 to 65535)")


@pytest.mark.parametrize("dtype,value", [
    (tf.float16, 65504), (tf.bfloat16, 3.3e38), (tf.float32, 3.4028234e38), (tf.float64, 1e308),
    (tf.int8, -128), (tf.uint64, 2 ** 64 - 1), (tf.int64, -2 ** 63), (tf.uint32, 2 ** 32 - 1)],
    ids=lambda item: getattr(item, "name", str(item)))
def test_the_largest_numbers_of_a_dtype_are_taken(server, dtype, value):
    status, reply = server.rest("POST", PREDICT, {"signature_name": f"as_{dtype.name}",
                                                  "instances": [value]})
    assert status == 200, reply
    assert reply["predictions"] == [float(np.array(value, dtype.as_numpy_dtype))]




# ---- checked_array: every integer dtype's range, whatever numpy's own conversion does ---------
# (numpy 1.x wraps a Python int past a narrow integer dtype; numpy 2 raises)

@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                                   np.uint32, np.uint64], ids=lambda d: np.dtype(d).name)
def test_checked_array_keeps_every_integer_in_range_and_refuses_the_next_one(dtype):
    info = np.iinfo(dtype)
    low, high = int(info.min), int(info.max)
    kept = checked_array([low, 0, high], dtype, "input 'x'")
    assert kept.dtype == dtype and kept.tolist() == [low, 0, high]
    for value in (low - 1, high + 1, -(2 ** 70), 2 ** 70):
        with pytest.raises(ServingError, match=rf"^input 'x': {value} is out of range for "
                                               rf"{np.dtype(dtype).name}$"):
            checked_array([1, value, 2], dtype, "input 'x'")


def test_values_in_a_field_the_dtype_does_not_read_are_refused(server):
    """TensorFlow reads one field per dtype and ignores the others: a request whose values
    sit in another field would be served as zeros (or as its tensor_content alone)."""
    int64_content = np.array([7, 9], np.int64).tobytes()
    cases = {  # (signature, input, proto, the field named)
        "int64 values in float_val": ("as_int64", "x", tensor(
            types_pb2.DT_INT64, [2], float_val=[7.0, 9.0]), "values in float_val, where a int64 "
                                                            "tensor takes them in int64_val or "
                                                            "tensor_content, not both"),
        "int64 values in bool_val": ("as_int64", "x", tensor(types_pb2.DT_INT64, [1],
                                                             bool_val=[True]), "bool_val"),
        "int64 values in int_val": ("as_int64", "x", tensor(types_pb2.DT_INT64, [1],
                                                            int_val=[7]), "int_val"),
        "float values in double_val": ("as_float32", "x", tensor(
            types_pb2.DT_FLOAT, [1], double_val=[1.5]), "double_val"),
        "int64_val and tensor_content": ("as_int64", "x", tensor(
            types_pb2.DT_INT64, [2], int64_val=[1, 2], tensor_content=int64_content),
            "values in int64_val, where a int64 tensor takes them in int64_val or "
            "tensor_content, not both"),
        "strings in int_val": ("echo", "data", tensor(types_pb2.DT_STRING, [1], int_val=[5]),
                               "values in int_val, where a string tensor takes them in "
                               "string_val only"),
        "its own values and another field's": ("as_int64", "x", tensor(
            types_pb2.DT_INT64, [2], int64_val=[7, 9], float_val=[1.0]), "float_val"),
    }
    for case, (signature, name, proto, phrase) in cases.items():
        with pytest.raises(grpc.RpcError) as raised:
            server.stub.Predict(predict_of(signature, **{name: proto}), 30.0)
        assert raised.value.code() == Code.INVALID_ARGUMENT, (case, raised.value.details())
        assert phrase in raised.value.details(), (case, raised.value.details())
    assert_still_serving(server)
