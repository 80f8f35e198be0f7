"""TF Serving's protocol messages (from the ``tensorflow-serving-api`` package) to and from
what a ``Servable`` takes and gives. The REST front end builds the same metadata and status
messages and prints them as JSON, as TF Serving does."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2,
                                     get_model_status_pb2, model_pb2, predict_pb2,
                                     regression_pb2)

from .limits import Limits, check_half_values, check_int_values
from .servable import Servable
from .status import invalid, not_found
from .models import Models

SIGNATURE_DEF = "signature_def"
_State = get_model_status_pb2.ModelVersionStatus.State


def resolve(models: Models, spec: model_pb2.ModelSpec) -> Servable:
    """The servable answering ``spec``: the version it names by number or by label, or the
    newest served."""
    return models.resolve(spec.name, _version_number(spec), spec.version_label)


def _version_number(spec: model_pb2.ModelSpec) -> Optional[int]:
    return spec.version.value if spec.HasField("version") else None


def answered_spec(name: str, servable: Servable, signature_name: str = "") -> model_pb2.ModelSpec:
    """The model spec of a response: which version (and signature) answered."""
    spec = model_pb2.ModelSpec(name=name, signature_name=signature_name)
    spec.version.value = servable.version
    return spec


def predict_response(name: str, servable: Servable, signature_name: str,
                     outputs: dict) -> predict_pb2.PredictResponse:
    """The PredictResponse of ``outputs`` (numpy arrays by name)."""
    response = predict_pb2.PredictResponse(model_spec=answered_spec(name, servable,
                                                                    signature_name))
    for output, value in outputs.items():
        response.outputs[output].CopyFrom(tf.make_tensor_proto(value))
    return response


def predict_request(spec: model_pb2.ModelSpec, inputs: dict) -> predict_pb2.PredictRequest:
    """The PredictRequest of ``inputs`` (tensors by name) for the model ``spec`` names."""
    request = predict_pb2.PredictRequest(model_spec=spec)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
    return request


def classification_response(name: str, servable: Servable, signature_name: str, classes,
                            scores) -> classification_pb2.ClassificationResponse:
    """The ClassificationResponse of ``classes`` and ``scores`` (each [examples, n], or None)."""
    response = classification_pb2.ClassificationResponse(model_spec=answered_spec(
        name, servable, signature_name))
    rows, columns = (classes if classes is not None else scores).shape
    for row in range(rows):
        classification = response.result.classifications.add()
        for column in range(columns):
            entry = classification.classes.add()
            if classes is not None:
                entry.label = classes[row, column].decode("utf-8", "replace")
            if scores is not None:
                entry.score = scores[row, column]
    return response


def regression_response(name: str, servable: Servable, signature_name: str,
                        values) -> regression_pb2.RegressionResponse:
    """The RegressionResponse of ``values`` (one float per example)."""
    response = regression_pb2.RegressionResponse(model_spec=answered_spec(
        name, servable, signature_name))
    for value in values:
        response.result.regressions.add(value=value)
    return response


# The TensorProto field holding each dtype's values, and how many of them make an element.
_VALUE_FIELDS = {
    types_pb2.DT_FLOAT: ("float_val", 1), types_pb2.DT_DOUBLE: ("double_val", 1),
    types_pb2.DT_HALF: ("half_val", 1), types_pb2.DT_BFLOAT16: ("half_val", 1),
    types_pb2.DT_INT8: ("int_val", 1), types_pb2.DT_INT16: ("int_val", 1),
    types_pb2.DT_INT32: ("int_val", 1), types_pb2.DT_UINT8: ("int_val", 1),
    types_pb2.DT_UINT16: ("int_val", 1), types_pb2.DT_INT64: ("int64_val", 1),
    types_pb2.DT_UINT32: ("uint32_val", 1), types_pb2.DT_UINT64: ("uint64_val", 1),
    types_pb2.DT_BOOL: ("bool_val", 1), types_pb2.DT_STRING: ("string_val", 1),
    types_pb2.DT_COMPLEX64: ("scomplex_val", 2), types_pb2.DT_COMPLEX128: ("dcomplex_val", 2),
}


def tensor_from_proto(name: str, proto, info, limits: Limits) -> tf.Tensor:
    """The tensor of a request's TensorProto for a signature input described by ``info``
    (a TensorInfo). Its dtype, declared shape (rank, batch, size in memory), the number of
    values it gives and the range of values stored wider than the dtype are checked before
    anything is built.

    As in TensorFlow, values may be fewer than the shape's elements: the last is repeated
    (none at all: zeros, or empty strings); the repeated tensor is built by TensorFlow
    (``tf.fill``), so a small request declaring a large shape costs no more than the
    tensor itself, which ``limits`` bound. More values than elements, or ``tensor_content``
    of another length than the elements', are INVALID_ARGUMENT."""
    if proto.dtype != info.dtype:
        raise invalid(f"input {name!r} must be {_dtype_name(info.dtype)}, got "
                      f"{_dtype_name(proto.dtype)}")
    if proto.tensor_shape.unknown_rank:
        raise invalid(f"input {name!r} has an unknown rank: a request's tensor has a shape")
    dtype = tf.as_dtype(proto.dtype)
    numpy_dtype = np.dtype(object if dtype == tf.string else dtype.as_numpy_dtype)
    dims = [dim.size for dim in proto.tensor_shape.dim]
    limits.check_shape(name, dims, numpy_dtype)
    elements = math.prod(dims)
    given = _values_given(name, proto, dtype, elements)
    check_int_values(name, proto.int_val, numpy_dtype)
    if proto.dtype in (types_pb2.DT_HALF, types_pb2.DT_BFLOAT16):
        check_half_values(name, proto.half_val, numpy_dtype)
    if given == 0 and elements:
        return tf.zeros(dims, dtype=dtype)
    if given < elements:
        values = tensor_pb2.TensorProto()
        values.CopyFrom(proto)
        values.tensor_shape.Clear()
        values.tensor_shape.dim.add(size=given)
        values = tf.constant(_ndarray(name, values), dtype=dtype)
        return tf.reshape(tf.concat([values, tf.fill([elements - given], values[-1])], 0), dims)
    return tf.constant(_ndarray(name, proto), dtype=dtype)


# Every field of a TensorProto that holds values (float8_val from TensorFlow 2.19 on).
_ALL_VALUE_FIELDS = tuple(field for field in (
    "half_val", "float_val", "double_val", "int_val", "string_val", "scomplex_val", "int64_val",
    "bool_val", "dcomplex_val", "resource_handle_val", "variant_val", "uint32_val",
    "uint64_val", "float8_val") if field in tensor_pb2.TensorProto.DESCRIPTOR.fields_by_name)


def _values_given(name: str, proto, dtype: tf.DType, elements: int) -> int:
    """How many elements' values the proto holds, at most ``elements``. Values in a field
    the dtype does not read (``float_val`` of an int64 tensor), or in its field as well as in
    ``tensor_content``, are INVALID_ARGUMENT: TensorFlow would ignore them silently."""
    own = _VALUE_FIELDS.get(proto.dtype, ("tensor_content",))[0]
    allowed = {own} if dtype == tf.string else {own, "tensor_content"}
    given = [field for field in _ALL_VALUE_FIELDS if len(getattr(proto, field))]
    given += ["tensor_content"] * bool(proto.tensor_content)
    misplaced = [field for field in given if field not in allowed]
    if misplaced or len(given) > 1:  # a field the dtype does not read, or two fields
        takes = {"tensor_content": own, "string_val": "string_val only"}.get(
            own, f"{own} or tensor_content, not both")
        raise invalid(f"input {name!r} is not a valid TensorProto: values in {(misplaced or given)[0]}, "
                      f"where a {dtype.name} tensor takes them in {takes}")
    if proto.tensor_content:
        expected = elements * dtype.size
        if len(proto.tensor_content) != expected:
            raise invalid(f"input {name!r} is not a valid TensorProto: tensor_content of "
                          f"{len(proto.tensor_content)} bytes for {elements} elements of "
                          f"{dtype.name} ({expected} bytes)")
        return elements
    if proto.dtype not in _VALUE_FIELDS:
        raise invalid(f"input {name!r}: {dtype.name} tensors are taken in tensor_content only")
    field, per_element = _VALUE_FIELDS[proto.dtype]
    count = len(getattr(proto, field))
    if count % per_element or count // per_element > elements:
        raise invalid(f"input {name!r} is not a valid TensorProto: {count} values in {field} "
                      f"for {elements} elements of {dtype.name}")
    return count // per_element


def _ndarray(name: str, proto) -> np.ndarray:
    try:
        return tf.make_ndarray(proto)
    except (TypeError, ValueError) as error:
        raise invalid(f"input {name!r} is not a valid TensorProto: {error}") from None


def _dtype_name(enum: int) -> str:
    try:
        return tf.as_dtype(enum).name
    except TypeError:
        return types_pb2.DataType.Name(enum) if enum in types_pb2.DataType.values() \
            else f"dtype {enum}"


def serialized_examples(request_input, limits: Limits) -> list[bytes]:
    """The examples of an ``Input`` serialized (their number checked first), as
    :func:`examples_of` gives them."""
    kind = request_input.WhichOneof("kind")
    if kind is not None:
        limits.check_rows(len(getattr(request_input, kind).examples), "examples")
    return examples_of(request_input)


def examples_of(request_input) -> list[bytes]:
    """The examples of an ``Input`` serialized; with a context, each example is the context
    followed by the example, so the example's features win (protobuf merge), as in TF
    Serving."""
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        return [example.SerializeToString() for example in request_input.example_list.examples]
    if kind == "example_list_with_context":
        listed = request_input.example_list_with_context
        context = listed.context.SerializeToString()
        return [context + example.SerializeToString() for example in listed.examples]
    raise invalid("Input is empty: set input.example_list or input.example_list_with_context")


def metadata_response(name: str, servable: Servable, fields=(SIGNATURE_DEF,)):
    if not fields:
        raise invalid("GetModelMetadataRequest must specify at least one metadata_field")
    unsupported = [field for field in fields if field != SIGNATURE_DEF]
    if unsupported:
        raise invalid(f"Metadata field {unsupported[0]} is not supported: the one field is "
                      f"{SIGNATURE_DEF!r}")
    response = get_model_metadata_pb2.GetModelMetadataResponse(
        model_spec=answered_spec(name, servable))
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, definition in servable.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(definition)
    response.metadata[SIGNATURE_DEF].Pack(signature_map)
    return response


def status_response(models: Models, spec: model_pb2.ModelSpec):
    """GetModelStatusResponse: each version of the model that is loaded AVAILABLE, each that
    failed to load END with its error; only the version ``spec`` names by number or by
    label, if it names one."""
    versions = models.model(spec.name, f"Could not find any versions of model {spec.name}")
    version = (models.version_of(spec.name, spec.version_label) if spec.version_label
               else _version_number(spec))
    states = versions.states()
    if version is not None:
        if version not in states:
            raise not_found(f"Could not find version {version} of model {spec.name}")
        states = {version: states[version]}
    response = get_model_status_pb2.GetModelStatusResponse()
    for number, error in sorted(states.items()):
        status = response.model_version_status.add(version=number)
        status.state = _State.AVAILABLE if error is None else _State.END
        status.status.error_code = 0 if error is None else 2  # OK, UNKNOWN
        status.status.error_message = error or ""
    return response
