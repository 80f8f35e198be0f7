"""One loaded version of a model: its signatures, and the three ways to run them.

Everything here is read from the SavedModel's signature defs, as TF Serving does: a
signature's method name says whether Classify or Regress may use it, its TensorInfos say
what each input must be. Requests arrive as tensors (both front ends convert their formats
first) and results leave as numpy arrays."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.python.saved_model import loader_impl

from .feature_kinds import feature_kinds
from .status import from_tensorflow, invalid

DEFAULT_SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
CLASSIFY = tf.saved_model.CLASSIFY_METHOD_NAME
REGRESS = tf.saved_model.REGRESS_METHOD_NAME
_EXAMPLES = tf.saved_model.CLASSIFY_INPUTS  # "inputs", for Regress as well
_CLASSES = tf.saved_model.CLASSIFY_OUTPUT_CLASSES
_SCORES = tf.saved_model.CLASSIFY_OUTPUT_SCORES
_REGRESSION = tf.saved_model.REGRESS_OUTPUTS


@dataclass(frozen=True)
class Signature:
    name: str
    definition: meta_graph_pb2.SignatureDef
    function: object  # the loaded ConcreteFunction; takes and returns dicts of tensors


class Servable:
    """A SavedModel version loaded completely (variables restored, tables initialized)."""

    def __init__(self, version: int, path: str, max_batch_size: int, model_name: str = "",
                 batcher=None):
        """``batcher`` (a ``batching.Batcher``, optional) runs the signatures in batches
        with other requests'."""
        self.version = version
        self.path = path
        self.max_batch_size = max_batch_size
        self.model_name = model_name
        self._batcher = batcher
        meta_graph = _serving_meta_graph(path)
        self.signature_defs = meta_graph.signature_def
        self.feature_kinds = feature_kinds(meta_graph)
        self._loaded = tf.saved_model.load(path, tags=[tf.saved_model.SERVING])

    def signature(self, name: str) -> Signature:
        name = name or DEFAULT_SIGNATURE
        if name not in self._loaded.signatures:
            known = ", ".join(sorted(self._loaded.signatures)) or "none"
            raise invalid(f'Serving signature key "{name}" not found (the model has: {known})')
        return Signature(name, self.signature_defs[name], self._loaded.signatures[name])

    # ---- the three APIs -------------------------------------------------------------------

    def predict(self, signature: Signature, inputs: dict, output_filter=()) -> dict:
        """Named tensors in, named numpy arrays out (only ``output_filter``'s, if given), in the
        order of their names: a loaded SavedModel gives a signature's outputs in an order that
        changes from process to process, and answers must not."""
        self.check_input_names(signature, inputs)
        unknown = set(output_filter) - set(signature.definition.outputs)
        if unknown:
            raise invalid(f"output tensor alias not found in signature {signature.name!r}: "
                          f"{_names(unknown)}; it has {_names(signature.definition.outputs)}")
        for name, tensor in inputs.items():
            _check_tensor(name, tensor, signature.definition.inputs[name])
        batch = max((int(t.shape[0]) for t in inputs.values() if t.shape.rank), default=0)
        outputs = self._run(signature, inputs, batch)
        return {name: outputs[name] for name in sorted(outputs)
                if not output_filter or name in output_filter}

    @staticmethod
    def check_input_names(signature: Signature, names) -> None:
        expected = set(signature.definition.inputs)
        if set(names) != expected:
            raise invalid(
                f"inputs do not match signature {signature.name!r}: sent {_names(names)}, "
                f"expected {_names(expected)}; missing {_names(expected - set(names))}, "
                f"unknown {_names(set(names) - expected)}")

    def classify(self, signature: Signature, serialized: list) -> tuple:
        """Serialized tf.Examples → (classes or None, scores or None), each [batch, n]."""
        outputs = self._run_on_examples(signature, serialized, CLASSIFY, "classification")
        classes, scores = outputs.get(_CLASSES), outputs.get(_SCORES)
        if classes is None and scores is None:
            raise invalid(f"classification signature {signature.name!r} has neither a "
                          f"'{_CLASSES}' nor a '{_SCORES}' output")
        for name, value, dtype in ((_CLASSES, classes, object), (_SCORES, scores, np.float32)):
            if value is not None and (value.ndim != 2 or value.shape[0] != len(serialized)
                                      or value.dtype != dtype):
                raise invalid(f"expected '{name}' output of shape [batch_size, num_classes] "
                              f"({len(serialized)} examples) but got {list(value.shape)} "
                              f"{value.dtype}")
        if classes is not None and scores is not None and classes.shape != scores.shape:
            raise invalid(f"'{_CLASSES}' and '{_SCORES}' outputs differ in shape: "
                          f"{list(classes.shape)} vs {list(scores.shape)}")
        return classes, scores

    def regress(self, signature: Signature, serialized: list) -> np.ndarray:
        """Serialized tf.Examples → one float per example."""
        value = self._run_on_examples(signature, serialized, REGRESS, "regression").get(_REGRESSION)
        if value is None:
            raise invalid(f"regression signature {signature.name!r} has no '{_REGRESSION}' output")
        if value.dtype != np.float32 or value.shape[:1] != (len(serialized),) or \
                value.shape[1:] not in ((), (1,)):
            raise invalid(f"expected '{_REGRESSION}' output of shape [batch_size] or "
                          f"[batch_size, 1] float ({len(serialized)} examples) but got "
                          f"{list(value.shape)} {value.dtype}")
        return value.reshape(-1)

    # ---- running a signature --------------------------------------------------------------

    def _run_on_examples(self, signature: Signature, serialized: list, method: str,
                         what: str) -> dict:
        definition = signature.definition
        if definition.method_name != method:
            raise invalid(f"signature {signature.name!r} is not a {what} signature: expected "
                          f"method_name {method}, it has {definition.method_name or '(none)'}")
        if set(definition.inputs) != {_EXAMPLES} or \
                definition.inputs[_EXAMPLES].dtype != tf.string.as_datatype_enum:
            raise invalid(f"{what} signature {signature.name!r} must take exactly one input "
                          f"'{_EXAMPLES}' of serialized tf.Examples (DT_STRING)")
        if not serialized:
            raise invalid("Input is empty: send at least one example")
        examples = tf.constant(serialized, dtype=tf.string)
        return self._run(signature, {_EXAMPLES: examples}, len(serialized))

    def _run(self, signature: Signature, feeds: dict, batch: int) -> dict:
        if batch > self.max_batch_size:
            raise invalid(f"batch of {batch} is larger than the server's --max-batch-size "
                          f"{self.max_batch_size}: split the request")
        if self._batcher is not None:
            return self._batcher.run(self, signature, feeds, batch)
        return self.run_now(signature, feeds)

    def run_now(self, signature: Signature, feeds: dict) -> dict:
        """The signature's outputs for ``feeds`` (checked already), as numpy arrays."""
        try:
            outputs = signature.function(**feeds)
        except tf.errors.OpError as error:
            raise from_tensorflow(error) from None
        except (TypeError, ValueError) as error:  # inputs the function cannot bind
            raise invalid(f"signature {signature.name!r} rejected its inputs: {error}") from None
        return {name: tensor.numpy() for name, tensor in outputs.items()}


def _serving_meta_graph(path: str) -> meta_graph_pb2.MetaGraphDef:
    for meta_graph in loader_impl.parse_saved_model(path).meta_graphs:
        if set(meta_graph.meta_info_def.tags) == {tf.saved_model.SERVING}:
            return meta_graph
    raise ValueError(f"{path} has no MetaGraph tagged '{tf.saved_model.SERVING}'")


def _check_tensor(name: str, tensor: tf.Tensor, info) -> None:
    dtype = tf.as_dtype(info.dtype)
    if tensor.dtype != dtype:
        raise invalid(f"input {name!r} must be {dtype.name}, got {tensor.dtype.name}")
    expected = tf.TensorShape(None if info.tensor_shape.unknown_rank else
                              [d.size if d.size >= 0 else None for d in info.tensor_shape.dim])
    if not expected.is_compatible_with(tensor.shape):
        raise invalid(f"input {name!r} has shape {_shape(tensor.shape)}; the signature "
                      f"expects {_shape(expected)} (-1: any size)")


def _shape(shape: tf.TensorShape) -> str:
    if shape.rank is None:
        return "any"
    return "[" + ", ".join("-1" if d is None else str(d) for d in shape.as_list()) + "]"


def _names(names) -> str:
    return "{" + ", ".join(sorted(names)) + "}"
