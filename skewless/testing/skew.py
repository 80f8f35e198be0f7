"""The skew assertion: training and serving give bit-identical features for the same records.

For a list of records (see ``skewless.testing.strategies``), ``assert_no_skew`` computes the
model features along every path a record can take and compares them per record:

- training: the records written to a TFRecord file and read back by ``input_fn`` (labels and
  weight included), once per batch size (``1``: one record per batch; ``None``: all the
  records in one batch). ``input_fn`` transforms chunks of up to four batches at a time
  (``runtime.read_size``), so at batch size 1 up to four records are still transformed
  together; the targets are therefore also computed for each record alone
  (``parse_example`` of the record, then ``transform_targets``);
- serving, Classify/Regress: ``serving_input_receiver_fn()`` on the serialized examples with
  labels and weight removed, one record per call: each record transformed alone, so that a
  record's features cannot depend on its batch;
- serving, Predict: ``raw_serving_input_receiver_fn()`` on raw tensors built straight from
  the Python values (``strategies.raw_tensors``), labels absent, all the records in one
  call;
- serving as TF Serving runs it: ``serving_input_receiver_fn()`` saved as a SavedModel and
  loaded into a TF1 session (``tf.compat.v1.saved_model.loader.load``), whose grappler
  optimizes the graph and its function library under the session's options; the
  serialized examples without labels, all the records in one call.

Tensors are compared by their bits: dtypes and shapes must agree, NaN must be where NaN is
(any NaN matches any NaN), ``-0.0`` differs from ``0.0``, strings compare as bytes, sparse
tensors by indices, values and dense shape. Targets and weights are compared across the
training batch sizes. Before any record is run, the serving signatures are checked not to
mention a label or the weight.

A failure raises ``AssertionError`` naming the output, the record (its values) and the
differing tensors. The TensorFlow functions are traced once per ``SkewChecker`` (one per
``Features``): ``assert_no_skew`` keeps the last one it built and reuses it while it is
called with the same ``Features``.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .strategies import columns_of, raw_tensors, to_example

__all__ = ["assert_no_skew", "assert_same_features", "compare_outputs", "SkewChecker",
           "assert_same_transform", "check_batches", "SessionReceiver"]

WHOLE_LIST = 1 << 30  # the batch size that puts every record in one batch


def _tf():
    import tensorflow as tf

    return tf


# ---- per-record values -----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One record's slice of an output: ``dense`` (one array), ``sparse`` (indices without
    the batch column, values, dense shape without the batch size) or ``ragged`` (values)."""

    kind: str
    parts: tuple

    def same(self, other: "Row") -> bool:
        return self.kind == other.kind and len(self.parts) == len(other.parts) and all(
            _same_bits(a, b) for a, b in zip(self.parts, other.parts))

    def describe(self) -> str:
        if self.kind == "dense":
            return _describe_array(self.parts[0])
        names = ("indices", "values", "dense shape") if self.kind == "sparse" else ("values",)
        return self.kind + " " + ", ".join(f"{n} {_describe_array(p)}"
                                           for n, p in zip(names, self.parts))


_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        bits = _UINT[a.dtype.itemsize]
        return bool(np.array_equal(nan_a, nan_b)) and bool(
            np.array_equal(a.view(bits)[~nan_a], b.view(bits)[~nan_b]))
    if a.dtype == object:
        return a.tolist() == b.tolist()
    return bool(np.array_equal(a, b))


def _describe_array(a: np.ndarray) -> str:
    text = f"{a.dtype.name if a.dtype != object else 'string'}{list(a.shape)} {a.tolist()!r}"
    if a.dtype.kind == "f" and a.size:
        bits = a.view(_UINT[a.dtype.itemsize]).ravel()
        text += " bits [" + ", ".join(f"0x{b:0{a.dtype.itemsize * 2}x}" for b in bits) + "]"
    return text


def rows(value, count: int) -> list[Row]:
    """The per-record rows of a batch of ``count`` records of one output."""
    tf = _tf()
    if isinstance(value, tf.SparseTensor):
        indices, values = value.indices.numpy(), value.values.numpy()
        shape = value.dense_shape.numpy()
        return [Row("sparse", (indices[indices[:, 0] == i][:, 1:], values[indices[:, 0] == i],
                               shape[1:])) for i in range(count)]
    if isinstance(value, tf.RaggedTensor):
        return [Row("ragged", (np.asarray(value[i].numpy()),)) for i in range(count)]
    array = np.asarray(value.numpy())
    if array.ndim == 0 or array.shape[0] != count:
        raise AssertionError(f"an output of shape {list(array.shape)} for a batch of {count} "
                             "records has no batch dimension")
    return [Row("dense", (array[i, ...],)) for i in range(count)]


# ---- the checker -----------------------------------------------------------------------------


class SkewChecker:
    """The skew property for one ``Features`` (or generated module), its TensorFlow functions
    traced once: the ``input_fn`` datasets read a file that each ``check`` rewrites."""

    def __init__(self, features, batch_sizes: Sequence[Optional[int]] = (1, None)):
        self.features = features
        self.columns = columns_of(features)
        self.batch_sizes = tuple(batch_sizes)
        if not self.batch_sizes:
            raise ValueError("batch_sizes must name at least one batch size")
        self.training_keys = {c.name for c in self.columns if c.kind != "input"}
        self.receive_examples = features.serving_input_receiver_fn()
        self.receive_raw = features.raw_serving_input_receiver_fn()
        # the targets of serialized records, parsed and transformed in a graph as training
        # does (eagerly, a literal's subnormal or -0.0 may be taken for another constant)
        tf = _tf()
        self.receive_targets = tf.function(
            lambda serialized: features.transform_targets(tf.io.parse_example(
                serialized, features.RAW_FEATURE_SPEC)),
            input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
        self.check_signatures()
        self._directory = tempfile.TemporaryDirectory(prefix="skewless-skew-")
        from ..export import features_of

        self.receive_in_session = SessionReceiver(self.receive_examples, features_of(
            features).tables, os.path.join(self._directory.name, "model"))
        self.path = os.path.join(self._directory.name, "records.tfrecord")
        with _tf().io.TFRecordWriter(self.path) as writer:
            writer.write(b"")  # input_fn refuses data without records; check() rewrites it
        self.datasets = {size: features.input_fn(self.path, batch_size=size or WHOLE_LIST,
                                                  shuffle=False)
                         for size in self.batch_sizes}

    def close(self) -> None:
        self.receive_in_session.close()
        self._directory.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ---- static checks ---------------------------------------------------------------------

    def check_signatures(self) -> None:
        """No serving function's input signature, nor the serving parse spec, mentions a label
        or the weight."""
        features, training = self.features, self.training_keys
        sparse_keys = {key for c in self.columns if c.kind != "input" and c.sparse_keys
                       for key in c.sparse_keys}
        for name, spec in features.SERVING_FEATURE_SPEC.items():
            keys = {name, getattr(spec, "index_key", None), getattr(spec, "value_key", None)}
            leaked = keys & (training | sparse_keys)
            if leaked:
                raise AssertionError(f"SERVING_FEATURE_SPEC parses training-only column "
                                     f"{sorted(leaked)[0]!r}")
        signatures = {}
        for title, function in (("serving_input_receiver_fn", self.receive_examples),
                                ("raw_serving_input_receiver_fn", self.receive_raw)):
            signature = signatures[title] = getattr(function, "input_signature", None)
            if signature is None:
                raise AssertionError(f"{title}() has no input signature")
            for name in _signature_names(signature):
                if name in training:
                    raise AssertionError(f"the input signature of {title}() mentions "
                                         f"training-only column {name!r}")
        raw = signatures["raw_serving_input_receiver_fn"][0]
        inputs = {c.name for c in self.columns if c.kind == "input"}
        if set(raw) != inputs:
            raise AssertionError(f"raw_serving_input_receiver_fn() takes {sorted(raw)}, but the "
                                 f"serving columns are {sorted(inputs)}")

    # ---- running every path ----------------------------------------------------------------

    def outputs(self, records: Sequence[dict], examples=None,
                groups: Optional[Sequence[int]] = None) -> dict:
        """Every path's per-record rows: ``{path: {"features"|"targets"|"weights": {name:
        [Row, …]}}}``. ``examples`` are the records' ``tf.train.Example``s when they come
        from files (default: built from the records). ``groups`` (sizes summing to the
        number of records) split the records into batches for both serving calls (by
        default, one record per Classify call and all of them in one Predict call);
        training reads them all from one file either way."""
        tf = _tf()
        count = len(records)
        bounds = _bounds(groups or [count], count)
        alone = _bounds([1] * count, count)
        if examples is None:
            examples = [to_example(record, self.columns) for record in records]
        written = [example.SerializeToString() for example in examples]
        with tf.io.TFRecordWriter(self.path) as writer:
            for record in written:
                writer.write(record)
        result = {}
        for size in self.batch_sizes:
            label = (f"training (input_fn, batch_size={size})" if size else
                     f"training (input_fn, {count} record{'s' if count != 1 else ''} in one "
                     "batch)")
            result[label] = self._run(label, records, lambda: self._training(size, count))
        serving = [self._serving_example(e).SerializeToString() for e in examples]
        if self.features.TARGET_KEYS:
            label = "training (parse_example and transform_targets, each record alone)"
            result[label] = self._run(label, records, lambda: _serve(alone, lambda lo, hi: (
                self.receive_targets(tf.constant(written[lo:hi], dtype=tf.string))), "targets"))
        label = "serving (serving_input_receiver_fn, tf.Examples without labels)"
        result[label] = self._run(label, records, lambda: _serve(bounds if groups else alone,
                                                                 lambda lo, hi: (
            self.receive_examples(tf.constant(serving[lo:hi], dtype=tf.string)))))
        label = "serving (serving_input_receiver_fn in a TF1 session, as TF Serving runs it)"
        result[label] = self._run(label, records, lambda: _serve(bounds, lambda lo, hi: (
            self.receive_in_session(serving[lo:hi]))))
        label = "serving (raw_serving_input_receiver_fn, raw tensors)"
        result[label] = self._run(label, records, lambda: _serve(bounds, lambda lo, hi: (
            self.receive_raw(raw_tensors(records[lo:hi], self.columns)))))
        return result

    def _training(self, size: Optional[int], count: int) -> dict:
        parts = {"features": {}, "targets": {}, "weights": {}}
        seen = 0
        for batch in self.datasets[size]:
            features, targets = batch[0], batch[1]
            n = _batch_count(features, targets)
            for part, value in (("features", features), ("targets", targets)):
                for name, rows_ in _rows_of(value, n).items():
                    parts[part].setdefault(name, []).extend(rows_)
            if len(batch) == 3:
                parts["weights"].setdefault("weight", []).extend(rows(batch[2], n))
            seen += n
        if seen != count:
            raise AssertionError(f"input_fn gave {seen} records, {count} were written")
        return parts

    def _serving_example(self, example):
        copy = type(example)()
        copy.CopyFrom(example)
        for column in self.columns:
            if column.kind == "input":
                continue
            for key in (column.sparse_keys or (column.name,)):
                if key in copy.features.feature:
                    del copy.features.feature[key]
        return copy

    @staticmethod
    def _run(label: str, records, compute) -> dict:
        try:
            return compute()
        except AssertionError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of one path is a difference
            message = " ".join(str(exc).split())
            raise AssertionError(f"{label} failed on {len(records)} records: "
                                 f"{type(exc).__name__}: {message[:2000]}\n"
                                 f"  records: {_show(records)}") from exc

    # ---- the property ----------------------------------------------------------------------

    def check(self, records: Sequence[dict], examples=None,
              groups: Optional[Sequence[int]] = None) -> dict:
        """Raise AssertionError unless every path gives bit-identical features (and every
        training batch size identical targets and weights) for each record; return the
        outputs (as ``outputs``, whose ``groups`` split the serving calls)."""
        if not records:
            return {}
        results = self.outputs(records, examples, groups)
        labels = list(results)
        whole = [label for label, size in zip(labels, self.batch_sizes) if size is None]
        reference = whole[0] if whole else labels[0]
        for label, parts in results.items():
            if label == reference:
                continue
            for part in ("features", "targets", "weights"):
                if part in parts:
                    compare(part, results[reference][part], parts[part], reference, label,
                            records)
        return results


class SessionReceiver:
    """A receiver (a ``tf.function`` of one string tensor ``[batch]``) saved as a SavedModel
    in ``path``, with the lookup tables it reads, and run in a TF1 session, as TF Serving
    runs a SavedModel: called with a list of serialized examples, it gives the receiver's
    outputs as eager tensors (sparse and ragged ones rebuilt from their components, which
    a signature gives one by one)."""

    def __init__(self, receive, tables, path: str):
        tf = _tf()
        concrete = receive.get_concrete_function()
        self.structure = concrete.structured_outputs
        flat = tf.function(lambda examples: {
            str(i): tensor for i, tensor in enumerate(
                tf.nest.flatten(receive(examples), expand_composites=True))},
            input_signature=concrete.structured_input_signature[0], autograph=False)
        module = tf.Module()
        module.receive = receive
        module.tables = list(tables)  # tracked, so that the tables are saved
        tf.saved_model.save(module, path,
                            signatures={"serving_default": flat.get_concrete_function()})
        with tf.Graph().as_default() as graph:
            self.session = tf.compat.v1.Session(graph=graph)
            signature = tf.compat.v1.saved_model.loader.load(
                self.session, ["serve"], path).signature_def["serving_default"]
        self.fetches = [signature.outputs[str(i)].name for i in range(len(signature.outputs))]
        (self.input,) = [tensor.name for tensor in signature.inputs.values()]

    def __call__(self, serialized: list) -> dict:
        tf = _tf()
        values = self.session.run(self.fetches, {self.input: serialized})
        return tf.nest.pack_sequence_as(self.structure, [tf.constant(v) for v in values],
                                        expand_composites=True)

    def close(self) -> None:
        self.session.close()


def check_batches(checker: SkewChecker, batches: Sequence[Sequence[dict]]) -> int:
    """``checker.check`` on many batches of records at a time, the cheap way: all the records
    go to ``input_fn`` in one file (one pass per batch size: one record per batch, and all in
    one batch), and each batch is one call of each serving receiver. Returns the number of
    records checked."""
    batches = [list(batch) for batch in batches if batch]
    records = [record for batch in batches for record in batch]
    checker.check(records, groups=[len(batch) for batch in batches])
    return len(records)


def _bounds(groups: Sequence[int], count: int) -> list[tuple]:
    if sum(groups) != count or any(size < 1 for size in groups):
        raise ValueError(f"groups {list(groups)} do not split {count} records")
    ends = np.cumsum([0, *groups]).tolist()
    return list(zip(ends[:-1], ends[1:]))


def _serve(bounds: list, receive, part: str = "features") -> dict:
    """The rows of ``part`` of every group of records, one ``receive(lo, hi)`` call per
    group."""
    rows_ = {}
    for lo, hi in bounds:
        for name, rows_of_name in _rows_of(receive(lo, hi), hi - lo).items():
            rows_.setdefault(name, []).extend(rows_of_name)
    return {part: rows_}


def _signature_names(signature) -> list[str]:
    tf = _tf()
    names = []
    for item in tf.nest.flatten(signature, expand_composites=False):
        name = getattr(item, "name", None)
        if name:
            names.append(name)
    for item in signature:
        if isinstance(item, dict):
            names.extend(item)
    return names


def _batch_count(features: dict, targets: dict) -> int:
    tf = _tf()
    for value in list(features.values()) + list(targets.values()):
        if isinstance(value, tf.SparseTensor):
            return int(value.dense_shape[0])
        return int(value.shape[0]) if value.shape[0] is not None else int(tf.shape(value)[0])
    raise AssertionError("the spec has no outputs")


def _rows_of(outputs: dict, count: int) -> dict:
    return {name: rows(value, count) for name, value in outputs.items()}


def _show(records) -> str:
    text = repr(list(records))
    return text if len(text) < 4000 else text[:4000] + " …"


_SINGULAR = {"features": "feature", "targets": "target", "weights": "weight"}


def compare(part: str, expected: dict, actual: dict, expected_label: str, actual_label: str,
            records: Sequence[dict]) -> None:
    """Raise AssertionError at the first output and record where two paths differ."""
    if set(expected) != set(actual):
        raise AssertionError(f"{actual_label} gives {part} {sorted(actual)}, {expected_label} "
                             f"gives {sorted(expected)}")
    for name in expected:
        for index, (want, got) in enumerate(zip(expected[name], actual[name])):
            if not want.same(got):
                what = f"{_SINGULAR[part]} {name!r}" if part != "weights" else "the weight"
                raise AssertionError(
                    f"{what} differs for record {index} of {len(records)} between "
                    f"{expected_label} and {actual_label}:\n"
                    f"  record: {records[index]!r}\n"
                    f"  {expected_label}: {want.describe()}\n"
                    f"  {actual_label}: {got.describe()}")


# ---- the public assertions -------------------------------------------------------------------

_CACHE: list = []  # the last few checkers built, most recent last
_CACHE_SIZE = 4


def checker_for(features, batch_sizes: Sequence[Optional[int]] = (1, None)) -> SkewChecker:
    """A SkewChecker for ``features``, reused while the same object is checked again (its
    functions are traced once); the last few are kept."""
    for checker in _CACHE:
        if checker.features is features and checker.batch_sizes == tuple(batch_sizes):
            return checker
    checker = SkewChecker(features, batch_sizes)
    _CACHE.append(checker)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.pop(0).close()
    return checker


def assert_no_skew(features, records: Sequence[dict],
                   batch_sizes: Sequence[Optional[int]] = (1, None)) -> None:
    """Assert that training and serving give bit-identical features for ``records`` (dicts
    of raw values, labels included, as ``strategies.records`` makes them), and that no
    record's outputs depend on its batch. ``features`` is a ``Features`` (``skewless.load``)
    or a generated module; ``None`` in ``batch_sizes`` means all the records in one batch."""
    checker_for(features, batch_sizes).check(list(records))


def assert_same_features(first, second, records: Sequence[dict],
                         batch_sizes: Sequence[Optional[int]] = (1, None)) -> None:
    """Assert that two compilations of a spec (``skewless.load`` and the generated module,
    say) give bit-identical features, targets and weights for ``records``, along every
    path of ``assert_no_skew``."""
    records = list(records)
    if records:
        compare_outputs(checker_for(first, batch_sizes).outputs(records),
                        checker_for(second, batch_sizes).outputs(records), records)


def assert_same_transform(first, second, records: Sequence[dict], run=None,
                          names: tuple = ("the first", "the second")) -> None:
    """Assert that two compilations of a spec give bit-identical ``transform_features`` and
    ``transform_targets`` outputs for ``records``, called straight on their raw tensors
    (each side's tensors built with its own columns' defaults): the cheap comparison, without
    ``input_fn`` or the serving receivers. ``run(features, raw) -> (features, targets)``
    runs one side (default: the two calls, as they are)."""
    records = list(records)
    if not records:
        return
    run = run or (lambda features, raw: (features.transform_features(raw),
                                         features.transform_targets(raw)))
    outputs = []
    for features in (first, second):
        raw = raw_tensors(records, columns_of(features), kinds=("input", "label", "weight"))
        outputs.append([_rows_of(part, len(records)) for part in run(features, raw)])
    for index, part in enumerate(("features", "targets")):
        compare(part, outputs[0][index], outputs[1][index], names[0], names[1], records)


def compare_outputs(first: dict, second: dict, records: Sequence[dict],
                    names: tuple = ("the first", "the second")) -> None:
    """Assert that two ``SkewChecker.outputs`` (or ``check``) results of the same records
    are bit-identical, path by path."""
    for label in first:
        if label not in second:
            raise AssertionError(f"{names[1]} has no path {label!r}")
        for part in first[label]:
            compare(part, first[label][part], second[label][part], f"{label} of {names[0]}",
                    f"{label} of {names[1]}", records)
