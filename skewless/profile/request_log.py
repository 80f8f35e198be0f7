"""Profiles of a request log (``skewless serve --request-log DIR``, or TF Serving's own): the
requests logged as ``tensorflow.serving.PredictionLog`` records, turned back into the raw
tf.Examples they stand for and profiled as ``--data`` is (``local.profile_passes``), so
that the features are computed by the same transform the model saw.

| log record | its tf.Examples |
|---|---|
| ``classify_log``, ``regress_log`` | the request's examples as they are (with its context, merged as TF Serving merges it) |
| ``predict_log`` with the raw inputs of the spec | one per row of the tensors, as the Predict signature of a skewless export reads them (docs/usage.md, "Predict inputs: the raw columns") |
| ``predict_log`` with the one input ``examples`` or ``inputs`` (and not the spec's raw inputs) | the serialized tf.Examples of that tensor (a skewless ``K_examples`` signature, or a Classify or Regress signature called through Predict) |

A record of any other kind, or of a Predict signature with other inputs (another model's),
is a data error naming the file, the record and the model spec, left out (counted as one
record that breaks the spec). Each example is named "FILE: record N: example J" in data
errors."""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from ..lazy import tf

from ..errors import DataError
from ..ir import Graph
from ..records import all_records
from . import MAX_ERRORS
from .accumulators import Settings
from .batches import as_tensors
from .file import Profile
from .local import Result, profile_passes

# the one input of a Predict signature over serialized tf.Examples: skewless's K_examples
# signatures name it "examples", a Classify or Regress signature (which Predict may call too)
# "inputs" (tf.saved_model.CLASSIFY_INPUTS, REGRESS_INPUTS)
EXAMPLES_INPUTS = ("examples", "inputs")


def profile_request_log(graph: Graph, directory: str, settings: Settings = Settings(),
                        baseline: Optional[Profile] = None, baseline_path: str = "<baseline>",
                        batch_size: int = 4096, max_errors: int = MAX_ERRORS,
                        model_name: Optional[str] = None) -> Result:
    """The profile of the requests logged in ``directory``'s complete files (see
    :func:`log_files`) to the model ``model_name``: the requests of other models (a server
    of several logs them all in one folder) are left out. Without ``model_name``, the model
    of the first record is profiled and a request of another is a data error. A DataError
    when the folder has none, a file cannot be read whole, or no request is valid."""
    files = log_files(directory)
    reader = _Reader(graph, model_name)
    return profile_passes(graph, lambda title: reader.batches(files, batch_size),
                          directory, settings, baseline, baseline_path, max_errors)


def log_files(directory: str) -> list:
    """The complete files of a request log folder: every file whose name does not begin
    with ``.`` (a file being written has a hidden name), sorted by name; a DataError when
    the folder is missing or has none."""
    if not os.path.isdir(directory):
        raise DataError(f"{directory}: not a folder: --request-log takes the folder given "
                        f"to 'skewless serve --request-log'")
    files = sorted(os.path.join(directory, name) for name in os.listdir(directory)
                   if not name.startswith(".") and os.path.isfile(os.path.join(directory, name)))
    if not files:
        raise DataError(f"{directory}: no complete request log file (a file being written is "
                        f"hidden until complete: stop the server, or wait for "
                        f"--log-flush-seconds)")
    return files


class _Reader:
    """PredictionLog records → batches of the tf.Examples they stand for."""

    def __init__(self, graph: Graph, model_name: Optional[str]):
        from ..signatures import predict_input_specs

        self.model_name, self.chosen = model_name, model_name is not None
        self.other_models: set = set()  # with --model-name: the models of the records left out
        self.matched = 0  # the records of the model profiled
        self.spec_name = graph.spec_name
        self.columns = graph.serving_columns
        self.raw_inputs = predict_input_specs(self.columns)

    def batches(self, files: list, batch_size: int):
        """``(records, names, errors)`` batches of at most ``batch_size`` tf.Examples."""
        records, names, errors = [], [], []
        for record, name in all_records(files):
            name = name.decode("utf-8", "surrogateescape")
            try:
                examples = self._examples(record)
            except _Unreadable as problem:
                errors.append(f"{name}: {problem}")
                continue
            records += examples
            names += [f"{name}: example {j}" for j in range(len(examples))]
            if len(records) >= batch_size:
                yield (*as_tensors(records, names), errors)
                records, names, errors = [], [], []
        if records or errors:
            yield (*as_tensors(records, names), errors)
        if self.chosen and not self.matched and self.other_models:
            raise DataError(f"no request of model {self.model_name!r} in the request log; it "
                            f"holds requests of {', '.join(map(repr, sorted(self.other_models)))}"
                            f": give one of them to --model-name")

    def _examples(self, record: bytes) -> list:
        from tensorflow_serving.apis import prediction_log_pb2

        from ..serve.messages import examples_of

        try:
            entry = prediction_log_pb2.PredictionLog.FromString(record)
        except Exception as error:  # noqa: BLE001 - protobuf's DecodeError, whatever its module
            raise _Unreadable(f"not a tensorflow.serving.PredictionLog ({error})") from None
        kind = entry.WhichOneof("log_type")
        if kind is None:
            raise _Unreadable("not a log of a Predict, Classify or Regress request (a "
                              "tensorflow.serving.PredictionLog without one)")
        if kind not in ("predict_log", "classify_log", "regress_log"):
            raise _Unreadable(f"a {kind} record: only Predict, Classify and Regress requests "
                              f"are profiled")
        model = entry.log_metadata.model_spec.name
        if self.model_name is None:
            self.model_name = model  # the first request's
        if model != self.model_name:
            if self.chosen:
                self.other_models.add(model)
                return []
            raise _Unreadable(f"a request of model {model!r}, where the log's first is of "
                              f"model {self.model_name!r}: give --model-name to profile the "
                              f"requests of one model")
        self.matched += 1
        if kind != "predict_log":
            return examples_of(getattr(entry, kind).request.input)
        inputs = entry.predict_log.request.inputs
        if set(inputs) != set(self.raw_inputs):
            if len(inputs) == 1 and next(iter(inputs)) in EXAMPLES_INPUTS:
                name = next(iter(inputs))
                return [bytes(value) for value in _array(inputs, name, tf.string).reshape(-1)]
            spec = entry.log_metadata.model_spec
            raise _Unreadable(
                f"a Predict request of model {spec.name!r} version {spec.version.value} "
                f"signature {spec.signature_name!r} whose inputs ({', '.join(sorted(inputs))}) "
                f"are neither the raw inputs of spec {self.spec_name!r} "
                f"({', '.join(sorted(self.raw_inputs))}) nor one of serialized tf.Examples "
                f"({' or '.join(EXAMPLES_INPUTS)})")
        arrays = {name: _array(inputs, name, spec.dtype, spec.shape.rank)
                  for name, spec in self.raw_inputs.items()}
        rows = {array.shape[0] for array in arrays.values()}
        if len(rows) != 1:
            raise _Unreadable(f"the Predict inputs have different numbers of rows "
                              f"({', '.join(map(str, sorted(rows)))})")
        return [self._example(arrays, row).SerializeToString() for row in range(rows.pop())]

    def _example(self, arrays: dict, row: int):
        """The tf.Example of one row of the raw Predict inputs."""
        example = tf.train.Example()
        features = example.features.feature
        for column in self.columns:
            name, kind = column.name, column.shape.kind
            if kind == "variable":
                values = _first(arrays, name, row)
                _put(features[name], column.dtype, values)
            elif kind == "sparse":
                index_key, value_key = column.sparse_keys
                _put(features[index_key], "int64", _first(arrays, f"{name}_indices", row,
                                                          f"{name}_lengths"))
                _put(features[value_key], column.dtype, _first(arrays, f"{name}_values", row,
                                                               f"{name}_lengths"))
            else:
                _put(features[name], column.dtype, np.reshape(arrays[name][row], -1))
        return example


class _Unreadable(Exception):
    """A log record that stands for no tf.Example the spec reads."""


def _array(inputs, name: str, dtype, rank: Optional[int] = None) -> np.ndarray:
    proto = inputs[name]
    if proto.dtype != dtype.as_datatype_enum:
        raise _Unreadable(f"Predict input {name!r} is {_dtype_name(proto.dtype)}, where the "
                          f"spec's is {dtype.name}")
    try:
        array = tf.make_ndarray(proto)
    except (TypeError, ValueError) as error:
        raise _Unreadable(f"Predict input {name!r} is not a valid TensorProto: {error}") from None
    if array.ndim == 0 or (rank is not None and array.ndim != rank):
        raise _Unreadable(f"Predict input {name!r} has shape {list(array.shape)}, where the "
                          f"spec's is of rank {rank or 1} (the first dimension: the rows)")
    return array


def _first(arrays: dict, name: str, row: int, lengths: Optional[str] = None) -> np.ndarray:
    """The first ``NAME_lengths[row]`` values of row ``row`` of a padded input."""
    padded = arrays[name][row]
    length = int(arrays[lengths or f"{name}_lengths"][row])
    if not 0 <= length <= padded.shape[0]:
        raise _Unreadable(f"row {row}: {lengths or name + '_lengths'} {length} is outside "
                          f"[0, {padded.shape[0]}], the padded width of {name!r}")
    return padded[:length]


def _put(feature, dtype: str, values: np.ndarray) -> None:
    if dtype == "string":
        feature.bytes_list.value.extend(values.tolist())
    elif dtype == "float32":
        feature.float_list.value.extend(values.tolist())
    else:  # int64, and bool stored as int64 0/1
        feature.int64_list.value.extend(values.astype(np.int64).tolist())


def _dtype_name(enum: int) -> str:
    try:
        return tf.as_dtype(enum).name
    except TypeError:
        return f"dtype {enum}"
