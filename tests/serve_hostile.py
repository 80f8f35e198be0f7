"""The model and helpers of the hostile-request tests: the flights model with inputs of
every numeric dtype, a server over it with small limits, TensorProtos built field by field."""
from __future__ import annotations

import os
import tempfile

import pytest
import tensorflow as tf
from serve_models import METHODS, FlightsModel
from tensorflow.core.framework import tensor_pb2
from test_serve import MODEL, Server, predict_request

from skewless.export import read_saved_model, set_method_names

MAX_BATCH = 8
MAX_REQUEST_BYTES = 16 * 2 ** 20
PREDICT = f"/v1/models/{MODEL}:predict"
CLASSIFY = f"/v1/models/{MODEL}:classify"
REGRESS = f"/v1/models/{MODEL}:regress"



# Every dtype a request's numbers may take: a signature "as_DTYPE" for each.
NUMERIC = [tf.float16, tf.bfloat16, tf.float32, tf.float64, tf.int8, tf.int16, tf.int32,
           tf.int64, tf.uint8, tf.uint16, tf.uint32, tf.uint64]


def widened(dtype):
    """A signature taking a vector of ``dtype`` and giving it back as float64 (exact for
    every value of the narrower types used here)."""
    return tf.function(lambda x: {"y": tf.cast(x, tf.float64)},
                       input_signature=[tf.TensorSpec([None], dtype)])


class HostileModel(FlightsModel):
    """The flights model with inputs of narrow dtypes as well."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.uint8)])
    def small(self, x):
        return {"y": tf.cast(x, tf.int64) + 1}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float16)])
    def half(self, x):
        return {"y": tf.cast(x, tf.float32) * 2.0}


def write_hostile_model(base) -> None:
    """Version 1 of the hostile model under ``base``."""
    os.makedirs(base)
    staging = tempfile.mkdtemp(dir=base)
    model = HostileModel(1)
    tf.saved_model.save(model, staging, signatures={
        "serving_default": model.predict, "classify": model.classify, "regress": model.regress,
        "predict": model.predict, "double": model.double, "echo": model.echo,
        "small": model.small, "half": model.half,
        **{f"as_{dtype.name}": widened(dtype) for dtype in NUMERIC}})
    set_method_names(staging, read_saved_model(staging), METHODS)
    os.rename(staging, base / "1")


def hostile_server(base, *options) -> Server:
    return Server(base, "--max-batch-size", str(MAX_BATCH),
                  "--max-request-bytes", str(MAX_REQUEST_BYTES), *options)


def tensor(dtype, dims, **values):
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for size in dims:
        proto.tensor_shape.dim.add(size=size)
    for field, items in values.items():
        if field == "tensor_content":
            proto.tensor_content = items
        else:
            getattr(proto, field).extend(items)
    return proto


def predict_of(signature, **inputs):
    request = predict_request({}, signature)
    for name, proto in inputs.items():
        request.inputs[name].CopyFrom(proto)
    return request


# Fixtures: the hostile model, and a server of it, once per test module that imports them.
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile") / MODEL
    write_hostile_model(base)
    return base


@pytest.fixture(scope="module")
def server(model_dir):
    running = hostile_server(model_dir)
    yield running
    running.stop()
