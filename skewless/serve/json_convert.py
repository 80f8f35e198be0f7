"""TF Serving's REST request and response bodies to and from tensors and tf.Examples.

JSON has one kind of number, so a number takes its type from where it goes: a Predict input
from the signature's dtype, a Classify/Regress example feature from the dtype the model
parses that feature with (``feature_kinds``). Only features the model does not parse are
typed by their literal, as TF Serving types all of them (``30`` int64, ``30.0`` float).
Binary strings are ``{"b64": "…"}``; output strings are ``{"b64": …}`` when their name ends
in ``_bytes`` (TF Serving's rule) or they are not UTF-8."""
from __future__ import annotations

import base64
import binascii
import math
import reprlib

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import input_pb2

from .feature_kinds import BYTES, FLOAT, INT64
from .limits import MAX_RANK, Limits, checked_array
from .status import invalid

_B64 = "b64"


def _is_b64(value) -> bool:
    return isinstance(value, dict) and set(value) == {_B64}


def _b64_decode(value: dict, where: str) -> bytes:
    try:
        return base64.b64decode(value[_B64], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise invalid(f"{where}: {value[_B64]!r:.60} is not valid base64") from None


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 2, 40, 40, 4, 4


def shown(value) -> str:
    """A short form of a JSON value, whatever its size or depth."""
    return _REPR.repr(value)


# ---- Predict --------------------------------------------------------------------------------

def predict_inputs(body: dict, signature_inputs, check_names,
                   limits: Limits) -> tuple[dict, bool]:
    """The input tensors of a predict body, and whether it used the row format
    (``instances``) rather than the columnar one (``inputs``). ``check_names`` raises for
    names the signature does not take. The batch size is checked before any conversion."""
    if ("instances" in body) == ("inputs" in body):
        raise invalid("the request must have exactly one of 'instances' (row format) and "
                      "'inputs' (columnar format)")
    if "instances" in body:
        columns = _columns_of_instances(body["instances"], signature_inputs, limits)
    else:
        columns = _named(body["inputs"], signature_inputs, "'inputs'")
        for name, value in columns.items():
            if isinstance(value, list):
                limits.check_rows(len(value), f"input {name!r}")
    check_names(columns)
    return ({name: _tensor(name, value, tf.as_dtype(signature_inputs[name].dtype))
             for name, value in columns.items()}, "instances" in body)


def _named(value, signature_inputs, where: str) -> dict:
    """``{name: value, …}``, or a bare value when the signature has a single input."""
    if isinstance(value, dict) and not _is_b64(value):
        return value
    if len(signature_inputs) != 1:
        raise invalid(f"{where} must be an object naming each input of the signature "
                      f"({', '.join(sorted(signature_inputs))})")
    return {next(iter(signature_inputs)): value}


def _columns_of_instances(instances, signature_inputs, limits: Limits) -> dict:
    if not isinstance(instances, list) or not instances:
        raise invalid("'instances' must be a non-empty list")
    limits.check_rows(len(instances), "'instances'")
    rows = [_named(instance, signature_inputs, f"instance {i}")
            for i, instance in enumerate(instances)]
    names = set(rows[0])
    for i, row in enumerate(rows):
        if set(row) != names:
            raise invalid(f"instance {i} names inputs {sorted(row)}, instance 0 names "
                          f"{sorted(names)}: every instance must give the same inputs")
    return {name: [row[name] for row in rows] for name in names}


def _tensor(name: str, value, dtype: tf.DType) -> tf.Tensor:
    shape, leaves = _shape_and_leaves(name, value)
    convert = _leaf_converter(name, dtype)
    converted = [convert(leaf) for leaf in leaves]
    if dtype == tf.string:
        array = np.array(converted, dtype=object)
    else:
        array = checked_array(converted, dtype.as_numpy_dtype, f"input {name!r}")
    return tf.constant(array.reshape(shape), dtype=dtype)


def _shape_and_leaves(name: str, value, depth: int = 0) -> tuple[tuple, list]:
    if not isinstance(value, list):
        return (), [value]
    if depth == MAX_RANK:
        raise invalid(f"input {name!r} has lists nested more than {MAX_RANK} deep: a tensor "
                      f"has at most {MAX_RANK} dimensions")
    parts = [_shape_and_leaves(name, item, depth + 1) for item in value]
    shapes = {shape for shape, _ in parts}
    if len(shapes) > 1:
        raise invalid(f"input {name!r} has lists of different lengths (or depths) at the same "
                      f"level: a tensor must be rectangular")
    inner = shapes.pop() if shapes else ()
    return (len(value), *inner), [leaf for _, leaves in parts for leaf in leaves]


def _leaf_converter(name: str, dtype: tf.DType):
    where = f"input {name!r} ({dtype.name})"
    if dtype == tf.string:
        return lambda leaf: _bytes_leaf(leaf, where)
    if dtype == tf.bool:
        return lambda leaf: leaf if isinstance(leaf, bool) else _wrong(where, "true or false", leaf)
    if dtype.is_floating:
        return lambda leaf: _float_leaf(leaf, where)
    if dtype.is_integer:
        return lambda leaf: _int_leaf(leaf, where)
    raise invalid(f"{where}: JSON requests cannot carry {dtype.name} tensors; use gRPC")


def _wrong(where: str, expected: str, leaf):
    raise invalid(f"{where} expects {expected}, got {shown(leaf)}")


class ExplicitInfinity(float):
    """``Infinity`` or ``-Infinity`` written as such; any other infinite float of a parsed
    body is a number too large for a double (``1e400``)."""


def json_constant(name: str) -> float:
    """``json.loads``'s ``parse_constant``: NaN, Infinity, -Infinity."""
    return float(name) if name == "NaN" else ExplicitInfinity(name)


def _float_leaf(leaf, where: str) -> float:
    if isinstance(leaf, float) and math.isinf(leaf) and not isinstance(leaf, ExplicitInfinity):
        raise invalid(f"{where}: a number is out of range for a double (write Infinity for "
                      f"an infinite value)")
    if isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
        return leaf
    return _wrong(where, "numbers", leaf)


def _int_leaf(leaf, where: str) -> int:
    if isinstance(leaf, float) and leaf.is_integer():
        return int(leaf)
    if isinstance(leaf, int) and not isinstance(leaf, bool):
        return leaf
    return _wrong(where, "integers", leaf)


def _bytes_leaf(leaf, where: str) -> bytes:
    if isinstance(leaf, str):
        return leaf.encode("utf-8")
    if _is_b64(leaf):
        return _b64_decode(leaf, where)
    return _wrong(where, 'strings or {"b64": …}', leaf)


def predict_response(outputs: dict, row_format: bool) -> dict:
    """``{"predictions": […]}`` (one entry per instance; an object per instance when there
    are several outputs) or ``{"outputs": …}`` (one value, or an object of them)."""
    values = {name: to_json(name, value) for name, value in outputs.items()}
    if not row_format:
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    batch_sizes = {name: value.shape[0] if value.ndim else None for name, value in outputs.items()}
    if len(set(batch_sizes.values())) != 1 or None in batch_sizes.values():
        raise invalid(f"outputs of different batch sizes {batch_sizes} cannot be returned in "
                      f"the row format: send 'inputs' (columnar) instead of 'instances'")
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    rows = next(iter(batch_sizes.values()))
    return {"predictions": [{name: value[i] for name, value in values.items()}
                            for i in range(rows)]}


def to_json(name: str, array: np.ndarray):
    """A numpy array as nested lists; float32 values with their shortest decimal form."""
    if array.dtype == object:
        binary = name.endswith("_bytes")
        return _mapped(array, lambda value: _string_json(value, binary))
    if array.dtype in (np.float16, np.float32):
        return _mapped(array, lambda value: float(str(value)))
    return array.tolist()


def _mapped(array: np.ndarray, convert):
    flat = np.empty(array.size, dtype=object)
    flat[:] = [convert(value) for value in array.reshape(-1)]
    return flat.reshape(array.shape).tolist()


def _string_json(value: bytes, binary: bool):
    if not binary:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return {_B64: base64.b64encode(value).decode("ascii")}


# ---- Classify and Regress -------------------------------------------------------------------

def examples_input(body: dict, kinds: dict, limits: Limits) -> input_pb2.Input:
    """The ``Input`` of a classify/regress body ``{"examples": […], "context": {…}}``; the
    number of examples is checked before any is converted."""
    examples = body.get("examples")
    if not isinstance(examples, list) or not examples:
        raise invalid("'examples' must be a non-empty list of objects, one per example "
                      "({feature: value or [values], …})")
    limits.check_rows(len(examples), "'examples'")
    request_input = input_pb2.Input()
    if "context" in body:
        listed = request_input.example_list_with_context
        listed.context.CopyFrom(_example(body["context"], kinds, "context"))
    else:
        listed = request_input.example_list
    for i, example in enumerate(examples):
        listed.examples.add().CopyFrom(_example(example, kinds, f"example {i}"))
    return request_input


def _example(features, kinds: dict, where: str) -> tf.train.Example:
    if not isinstance(features, dict):
        raise invalid(f"{where} must be an object of features, got {shown(features)}")
    example = tf.train.Example()
    for name, value in features.items():
        values = value if isinstance(value, list) else [value]
        kind = kinds.get(name) or _literal_kind(values)
        if kind is None:
            continue  # an empty list of a feature the model does not parse
        where_feature = f"{where}: feature {name!r} ({kind})"
        feature = example.features.feature[name]
        if kind == FLOAT:
            feature.float_list.value.extend(checked_array(
                [_float_leaf(v, where_feature) for v in values], np.float32, where_feature).tolist())
        elif kind == INT64:
            feature.int64_list.value.extend(checked_array(
                [_example_int(v, where_feature) for v in values], np.int64, where_feature).tolist())
        else:
            feature.bytes_list.value.extend(_bytes_leaf(v, where_feature) for v in values)
    return example


def _example_int(value, where: str) -> int:
    """bool columns are stored as int64 0/1, so true/false are welcome here."""
    return int(value) if isinstance(value, bool) else _int_leaf(value, where)


def _literal_kind(values: list):
    """TF Serving's typing of a feature by its JSON literals."""
    if not values:
        return None
    if all(isinstance(v, str) or _is_b64(v) for v in values):
        return BYTES
    if all(isinstance(v, int) for v in values):  # bool included
        return INT64
    return FLOAT


def classify_response(classes, scores) -> dict:
    """``{"results": [[[label, score], …] per example]}``."""
    table = classes if classes is not None else scores
    labels = to_json("classes", classes) if classes is not None else [[""] * table.shape[1]] * len(table)
    values = to_json("scores", scores) if scores is not None else [[0.0] * table.shape[1]] * len(table)
    return {"results": [[list(pair) for pair in zip(row_labels, row_scores)]
                        for row_labels, row_scores in zip(labels, values)]}


def regress_response(values: np.ndarray) -> dict:
    return {"results": to_json("outputs", values)}
