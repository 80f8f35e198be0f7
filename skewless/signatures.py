"""The signature functions of an exported model, laid out as TF Serving expects them
(docs/usage.md, "Exporting for TF Serving"): classify and regress over serialized
``tf.Example``s, predict over the raw serving columns or over examples.

Every signature runs the same serving receivers as ``skewless check`` verifies, so the
exported preprocessing is the compiled transform itself. Signatures take only dense
tensors: variable-length and sparse columns arrive padded, with their lengths, and are
rebuilt here into the ``tf.RaggedTensor``/``tf.SparseTensor`` that parse_example gives."""
from __future__ import annotations

import re
from typing import Callable, Sequence

import tensorflow as tf

from .errors import ExportError
from .ir import ColumnSpec
from .parse import sparse_column
from .types import STORAGE_DTYPES

CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
PREDICT_METHOD = "tensorflow/serving/predict"


# ---- the Predict inputs: raw columns, flattened to dense tensors ---------------------------

def predict_input_specs(columns: Sequence[ColumnSpec]) -> dict:
    """The signature inputs of the raw serving columns, by name."""
    specs: dict[str, tf.TensorSpec] = {}
    owners: dict[str, str] = {}

    def add(key: str, shape, dtype, column: ColumnSpec) -> None:
        if key in specs:
            raise ExportError(
                f"the Predict input {key!r} of column {column.name!r} has the name of an input "
                f"of column {owners[key]!r}: rename one of the columns")
        specs[key] = tf.TensorSpec(shape, dtype, name=key)
        owners[key] = column.name

    for column in columns:
        dtype = STORAGE_DTYPES[column.dtype]
        kind = column.shape.kind
        if kind == "variable":
            add(column.name, [None, None], dtype, column)
            add(f"{column.name}_lengths", [None], tf.int64, column)
        elif kind == "sparse":
            add(f"{column.name}_indices", [None, None], tf.int64, column)
            add(f"{column.name}_values", [None, None], dtype, column)
            add(f"{column.name}_lengths", [None], tf.int64, column)
        else:
            add(column.name, [None, *column.shape.dims], dtype, column)
    return specs


def raw_columns(inputs: dict, columns: Sequence[ColumnSpec]) -> dict:
    """The raw batch in parse_example's form, from the Predict inputs."""
    raw = {}
    for column in columns:
        name = column.name
        if column.shape.kind == "variable":
            lengths = _checked_lengths(inputs[name], inputs[f"{name}_lengths"], f"{name}_lengths")
            raw[name] = tf.RaggedTensor.from_tensor(inputs[name], lengths=lengths,
                                                    row_splits_dtype=tf.int64)
        elif column.shape.kind == "sparse":
            raw[name] = _sparse(inputs[f"{name}_indices"], inputs[f"{name}_values"],
                                inputs[f"{name}_lengths"], column.shape.dims[0], name)
        else:
            raw[name] = inputs[name]
    return raw


def _checked_lengths(padded, lengths, key: str):
    """``lengths``, once it is known to fit ``padded`` row by row."""
    width = tf.shape(padded, out_type=tf.int64)[1]
    checks = [
        tf.debugging.assert_equal(tf.shape(lengths, out_type=tf.int64)[0],
                                  tf.shape(padded, out_type=tf.int64)[0],
                                  message=f"{key} must have one length per example"),
        tf.debugging.assert_non_negative(lengths, message=f"{key} must not be negative"),
        tf.debugging.assert_less_equal(lengths, width,
                                       message=f"{key} must not exceed the padded width"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(lengths)


def _sparse(indices, values, lengths, size: int, name: str) -> tf.SparseTensor:
    """Entries ``(indices[r, j], values[r, j])`` for ``j < lengths[r]``, checked and sorted
    as ``parse_examples`` checks and sorts a SparseFeature's."""
    with tf.control_dependencies([tf.debugging.assert_equal(
            tf.shape(indices), tf.shape(values),
            message=f"{name}_indices and {name}_values must have the same shape")]):
        lengths = _checked_lengths(indices, lengths, f"{name}_lengths")
    return sparse_column(tf.RaggedTensor.from_tensor(indices, lengths=lengths),
                         tf.RaggedTensor.from_tensor(values, lengths=lengths), size,
                         f"{name} (inputs {name}_indices, {name}_values)", names=None)


# ---- signature functions -------------------------------------------------------------------

def model_outputs(model, tensors: dict, features) -> dict:
    """The model's outputs by name: a dict output as it is, one tensor as ``output``, a
    list as ``output_0``, ``output_1``, …

    Raises ``ExportError`` when the model cannot be called on ``tensors`` (the features of
    ``features`` by name), saying what it must take."""
    declared = getattr(model, "input", None) if hasattr(model, "inputs") else None
    unknown = sorted(set(declared) - set(tensors)) if isinstance(declared, dict) else []
    try:
        if unknown:  # Keras would only warn, and feed the model something else
            raise ValueError(f"it takes {', '.join(map(repr, unknown))}, which "
                             f"{'is not a feature' if len(unknown) == 1 else 'are not features'}")
        outputs = model(tensors, training=False)
    except (ValueError, TypeError, KeyError) as exc:
        taken = ", ".join(
            f"{name} ({tensor.dtype}, shape {tuple(tensor.shape[1:])}"
            f"{', sparse' if tensor.sparse else ''})"
            for name, tensor in features.keras_inputs().items())
        raise ExportError(f"the model cannot be called on the features: {_message(exc)}. "
                          f"It must take a dict of the features, as keras_inputs() gives "
                          f"them: {taken}; build it on keras_inputs()") from None
    if isinstance(outputs, dict):
        return dict(outputs)
    if isinstance(outputs, (list, tuple)):
        return {f"output_{i}": output for i, output in enumerate(outputs)}
    return {"output": outputs}


def _message(exc: Exception) -> str:
    """What an exception says, without Keras's frame around it ("Exception encountered when
    calling …", "Arguments received by …") and without terminal escapes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split("Arguments received by")[0]
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.startswith("Exception encountered when calling")]
    return " ".join(lines).rstrip(".") or type(exc).__name__


def over_examples(features, model, head_outputs: Callable, input_name: str):
    """The concrete function from serialized ``tf.Example``s (input ``input_name``) to
    ``head_outputs(model outputs)``."""
    receive = features.serving_input_receiver_fn()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=input_name)],
                 autograph=False)
    def signature(serialized):
        return head_outputs(model_outputs(model, receive(serialized), features))

    return signature.get_concrete_function()


def over_raw_columns(features, model, head_outputs: Callable):
    """The concrete function from the Predict inputs to ``head_outputs(model outputs)``."""
    receive = features.raw_serving_input_receiver_fn()
    columns = features.serving_columns

    @tf.function(input_signature=[predict_input_specs(columns)], autograph=False)
    def signature(inputs):
        raw = raw_columns(inputs, columns)
        return head_outputs(model_outputs(model, receive(raw), features))

    return signature.get_concrete_function()
