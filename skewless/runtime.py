"""What training and serving run: parse specs, the training ``input_fn`` and the serving
receivers, all around one shared transform. Generated modules and ``skewless.load`` both
build a ``Features`` object from here; only the transform functions differ in origin
(straight-line generated code, or the IR interpreted), and both call the same ops."""
from __future__ import annotations

import math
import os
from typing import Callable, Optional, Sequence, Union

import numpy as np

from .lazy import tf

from . import distribute
from .csv_records import all_csv, batch_reader
from .files import verified_asset
from .ir import ColumnSpec
from .ops.common import constant, read_column
from .parse import parse_examples
from .records import first_record_bytes, list_files, source_dataset
from .types import STORAGE_DTYPES, TF_DTYPES, Shape, Type

__all__ = ["Features", "ColumnSpec", "Shape", "Type", "asset_path", "constant", "read_column"]


def asset_path(module_file: str, relative: str, sha256: Optional[str] = None) -> str:
    """The path of an asset file written beside a generated module; with ``sha256``, once
    the file's content is checked against it (AssetError naming the file if not)."""
    path = os.path.join(os.path.dirname(os.path.abspath(module_file)), relative)
    return path if sha256 is None else verified_asset(path, sha256)


def parse_spec(columns: Sequence[ColumnSpec]) -> dict:
    """The ``tf.io.parse_example`` spec of the given columns."""
    spec = {}
    for column in columns:
        dtype = STORAGE_DTYPES[column.dtype]
        if column.shape.kind == "variable":
            spec[column.name] = tf.io.RaggedFeature(dtype, row_splits_dtype=tf.int64)
        elif column.shape.kind == "sparse":
            index_key, value_key = column.sparse_keys
            spec[column.name] = tf.io.SparseFeature(index_key, value_key, dtype, column.shape.dims[0])
        else:
            default = column.default
            if isinstance(default, tuple):
                default = list(default)
            elif default is not None and column.shape.kind == "fixed":
                default = [default] * math.prod(column.shape.dims)  # a scalar fills every element
            elif default is not None and dtype == tf.float32:
                # a numpy scalar, not a Python float: TensorFlow's eager cache of Python
                # scalars keys -0.0 and 0.0 alike, so an eager parse_example could fill
                # either zero with the other one (lists are not cached)
                default = np.float32(default)
            spec[column.name] = tf.io.FixedLenFeature(list(column.shape.dims), dtype, default)
    return spec


def raw_tensor_spec(column: ColumnSpec):
    """The ``tf.TypeSpec`` of a batch of one raw column, as parse_example returns it."""
    dtype = STORAGE_DTYPES[column.dtype]
    if column.shape.kind == "variable":
        return tf.RaggedTensorSpec([None, None], dtype, ragged_rank=1, row_splits_dtype=tf.int64)
    if column.shape.kind == "sparse":
        return tf.SparseTensorSpec([None, column.shape.dims[0]], dtype)
    return tf.TensorSpec([None, *column.shape.dims], dtype)


READ_CHUNK_RECORDS = 4096  # a chunk of input_fn(shuffle=False) holds up to this many records,
MOST_BATCHES_PER_CHUNK = 4  # at most this many batches,
READ_CHUNK_BYTES = 16 << 20  # and about this many bytes of records, unless one batch is more


def read_size(batch_size: int, record_bytes: Optional[int]) -> int:
    """Records per chunk of ``input_fn(shuffle=False)``: a whole number of batches, up to
    ``READ_CHUNK_RECORDS`` records, ``MOST_BATCHES_PER_CHUNK`` batches, and
    ``READ_CHUNK_BYTES`` of records of ``record_bytes`` each (one batch when the size of a
    record is not known). Each chunk passes through the reading stages, ``parse_example``
    and the transform's call as one element, and each of those costs a function call per
    element (measured in ``docs/performance.md``)."""
    if record_bytes is None:
        return batch_size
    fitting = READ_CHUNK_BYTES // max(1, batch_size * record_bytes)
    return batch_size * max(1, min(MOST_BATCHES_PER_CHUNK, READ_CHUNK_RECORDS // batch_size,
                                   fitting))


class SharedTransform:
    """One transform of a spec (its features, its targets, or both for training) as every
    path calls it: a never-inlined ``tf.function`` (``_noinline``), so that no caller's
    graph takes its ops in, called through a plain function-call node: wherever the call is
    made (a tf.data map, a serving receiver, a SavedModel loaded by TF Serving, eagerly),
    the runtime instantiates the function on its own, for one device, where grappler does
    not run. Takes a dict of raw tensors (dense, ragged, sparse); gives the transform's
    dict of tensors.

    Inlined in a caller, the transform's ops would be optimized with the caller's graph,
    under the grappler options of that path (tf.data's, the serving session's, those of
    ``tf.config.optimizer.set_experimental_options``); grappler's constant folding, for
    one, turns ``x - (-0.0)`` into ``x``. Called, they run as the transform builds them.
    One more optimizer would reach them: a TF1 session (TF Serving's) runs grappler over
    every function of its graph's library, where constant folding turned ``a / 3.0`` into
    ``a * (1 / 3.0)``. Grappler leaves alone the functions marked ``_tf_data_function``
    (tf.data marks its own so, which tf.data's optimizer sees to), so the transform's
    function is marked so on every path.

    Grappler treats a plain call and a ``PartitionedCall`` alike in the caller's graph
    (neither is inlined while ``_noinline`` is set); a ``PartitionedCall`` would instantiate
    its callee as a multi-device function, with graph passes (the oneDNN layout pass among
    them) that cost about 40 µs a call and a lazy instantiation on the first batch of each
    training iterator (measured in ``docs/performance.md``).

    Called eagerly, the call runs in a ``tf.function`` of its own, whose instantiation is
    freed with it. Called eagerly under ``tf.config.run_functions_eagerly(True)``, the
    transform runs op by op, as any ``tf.function`` then does (for debugging: TensorFlow's
    eager scalar cache may then take a literal -0.0 for 0.0 or the reverse); a graph traced
    in that mode, an export's for one, still makes the call."""

    def __init__(self, transform: Callable):
        # AutoGraph off: the transform has no control flow on tensors (its Python loops and
        # branches run while tracing), and converting the interpreter's loops and every
        # library function call made tracing skewless.load's transform ~30 times slower.
        # Automatic control dependencies off (_disable_acd): they order stateful ops and
        # pass every output through an Identity that waits on all of them, a dozen nodes
        # per call for flights; the transform's only stateful ops read tables or assert
        # (checked in _call), so no order between them matters.
        # _tf_data_function: a session's grappler leaves the function's body alone
        self.function = tf.function(_distinct_outputs(transform), reduce_retracing=True,
                                    autograph=False,
                                    experimental_attributes={"_noinline": True,
                                                             "_disable_acd": True,
                                                             "_tf_data_function": True})
        self._eager_call = tf.function(self._call, reduce_retracing=True, autograph=False)

    def __call__(self, raw: dict) -> dict:
        if not tf.executing_eagerly():
            return self._call(raw)
        if tf.config.functions_run_eagerly():
            return self.function(raw)  # op by op in Python, as asked
        return self._eager_call(raw)

    def _call(self, raw: dict) -> dict:
        """The call op, added to the graph being traced."""
        concrete = self.function.get_concrete_function(raw)
        if not concrete.outputs:
            return tf.nest.pack_sequence_as(concrete.structured_outputs, [],
                                            expand_composites=True)
        unordered = _order_dependent_ops(concrete)
        if unordered:
            raise RuntimeError(f"the transform has stateful ops {sorted(unordered)}, which it "
                               "would run in no particular order")
        graph = tf.compat.v1.get_default_graph()
        concrete.add_to_graph(graph)
        call = graph.create_op(concrete.function_def.signature.name,
                               tf.nest.flatten(raw, expand_composites=True)
                               + list(concrete.captured_inputs),
                               [output.dtype for output in concrete.outputs], name="transform")
        flat = call.outputs
        for output, traced in zip(flat, concrete.outputs):
            output.set_shape(traced.shape)
        return tf.nest.pack_sequence_as(concrete.structured_outputs, flat,
                                        expand_composites=True)


def one_batch_size(raw: dict) -> dict:
    """``raw`` (tensors, ``tf.RaggedTensor``s and ``tf.SparseTensor``s by column), once every
    column is known to have as many rows as the first: InvalidArgumentError naming a column
    that has not."""
    rows = {name: _rows(value) for name, value in raw.items()}
    first = next(iter(rows), None)
    checks = [tf.debugging.assert_equal(
        rows[first], count, message=f"the raw serving columns {first} and {name} have "
                                    f"different batch sizes (first dimensions, shown in "
                                    f"this order); every column needs one row per example")
        for name, count in rows.items() if name != first]
    if not checks:
        return raw
    with tf.control_dependencies(checks):
        return tf.nest.map_structure(tf.identity, raw, expand_composites=True)


def _rows(value):
    """The number of rows (the batch size) of a tensor, ragged tensor or sparse tensor."""
    if isinstance(value, tf.RaggedTensor):
        return value.nrows(out_type=tf.int64)
    if isinstance(value, tf.SparseTensor):
        return value.dense_shape[0]
    return tf.shape(value, out_type=tf.int64)[0]


def _distinct_outputs(transform: Callable) -> Callable:
    """``transform`` with every tensor it returns more than once (two features of the same
    column; two sparse features sharing their indices) returned through an ``Identity``
    after its first time: a function that returns one tensor twice is called and exported
    fine, but ``tf.saved_model.load`` cannot rebuild the graph that calls it
    (``KeyError: 'transform:raw:0'``)."""

    def distinct(raw):
        outputs = transform(raw)
        seen = set()

        def once(tensor):
            if tensor.ref() in seen:
                return tf.identity(tensor)
            seen.add(tensor.ref())
            return tensor

        return tf.nest.map_structure(once, outputs, expand_composites=True)

    return distinct


# stateful ops whose order does not matter: table reads, assertions (each runs once, and
# what depends on one waits for it through its own control dependency), and control flow,
# whose branches and bodies are functions of the library, looked at op by op themselves
ORDER_FREE = frozenset({"LookupTableFindV2", "LookupTableSizeV2", "Assert", "If", "While",
                        "Case", "StatefulPartitionedCall"})


def _order_dependent_ops(concrete) -> set:
    """The types of the stateful ops, outside ``ORDER_FREE``, in ``concrete``'s graph and in
    every function it holds (a ``tf.cond``'s branches, say): the ops that automatic control
    dependencies would have to order."""
    from tensorflow.python.framework import op_def_registry
    graph = concrete.graph.as_graph_def()
    nodes = [*graph.node, *(node for function in graph.library.function
                            for node in function.node_def)]
    found = set()
    for node in nodes:
        op_def = op_def_registry.get(node.op)  # None for a call of a library function
        if op_def is not None and op_def.is_stateful and node.op not in ORDER_FREE:
            found.add(node.op)
    return found


class Features:
    """Everything training and serving need, generated from one spec.

    ``transform_features(raw)`` and ``transform_targets(raw)`` map a batch of raw columns
    (as ``tf.io.parse_example`` returns them with ``RAW_FEATURE_SPEC``) to dicts of tensors.
    """

    def __init__(self, *, columns: Sequence[ColumnSpec], transform_features: Callable,
                 transform_targets: Callable, feature_types: dict, target_types: dict,
                 fingerprint: str, tables: Sequence = (), name: Optional[str] = None):
        self.columns = tuple(columns)
        self.name = name
        self.feature_types = dict(feature_types)
        self.target_types = dict(target_types)
        self.tables = tuple(tables)
        self.SPEC_FINGERPRINT = fingerprint
        self.FEATURE_KEYS = tuple(feature_types)
        self.TARGET_KEYS = tuple(target_types)
        self.LABEL_KEYS = tuple(c.name for c in self.columns if c.kind == "label")
        self.WEIGHT_KEY = next((c.name for c in self.columns if c.kind == "weight"), None)
        self.serving_columns = tuple(c for c in self.columns if c.kind == "input")
        self.RAW_FEATURE_SPEC = parse_spec(self.columns)
        self.SERVING_FEATURE_SPEC = parse_spec(self.serving_columns)
        # One transform for training and serving alike (see SharedTransform); the targets
        # too (training only), so that no rewrite makes them depend on the batch size.
        self._transform_features = SharedTransform(transform_features)
        self._transform_targets = SharedTransform(transform_targets)
        # training makes one call for both: one function to instantiate per iterator (once
        # per epoch), one nested call per batch; its ops are those of the two above
        self._transform_training = SharedTransform(
            lambda raw: (transform_features(raw), transform_targets(raw)))

    # ---- the one transformation ---------------------------------------------------------

    def transform_features(self, raw: dict) -> dict:
        """The model features of a batch of raw columns (labels and weight are never read)."""
        return self._transform_features(raw)

    def transform_targets(self, raw: dict) -> dict:
        """The targets of a batch of raw columns, labels included (training only)."""
        return self._transform_targets(raw)

    # ---- training -----------------------------------------------------------------------

    def input_fn(self, file_pattern: Union[str, Sequence[str]], batch_size: int = 128,
                 num_epochs: Optional[int] = 1, shuffle: bool = True, seed: Optional[int] = None,
                 shuffle_buffer_size: int = 10_000, compression: str = "auto",
                 input_context: Optional[tf.distribute.InputContext] = None
                 ) -> tf.data.Dataset:
        """A ``tf.data.Dataset`` of ``(features, targets)`` batches, or
        ``(features, targets, weights)`` when the spec has a weight — ready for
        ``keras.Model.fit``.

        ``file_pattern`` is a glob, a file, or a list of them; files are read in sorted order
        (and, with ``shuffle=False``, records in file order). ``num_epochs=None`` repeats
        forever. ``compression`` is ``"auto"`` (GZIP for names ending in ``.gz``, any case),
        ``"GZIP"``, ``"ZLIB"`` or ``""``. Files named ``*.csv`` or ``*.csv.gz`` are CSV
        files, each row read as the tf.Example it stands for (see ``csv_records``; a row
        that does not fit the spec raises ``InvalidArgumentError`` naming the file, line
        and column); the files are all CSV or all TFRecord. Records are batched before
        parsing, so parsing and the transform are vectorized; the last batch may be
        smaller. With ``shuffle=False`` each TFRecord file is read, parsed and transformed in
        chunks of up to four batches and about 16 MiB of records (``read_size``, from the
        size of the first record), then cut into batches: the same tensors.

        Reading is stricter than plain ``tf.data``: a ``DataError`` is raised here when no
        file matches, a match is a directory or cannot be opened, or every file is empty;
        while iterating, a damaged file, or one cut short (even at a record boundary of a
        GZIP file), raises ``tf.errors.InvalidArgumentError`` naming the file, the record
        and its byte offset, instead of ending the data early.

        With ``input_context`` (the ``tf.distribute.InputContext`` that
        ``strategy.distribute_datasets_from_function`` passes), ``batch_size`` is the global
        batch size: batches hold ``batch_size / input_context.num_replicas_in_sync`` records
        (a ValueError if that does not divide), and this input pipeline reads only its share
        of the data: files ``input_pipeline_id``, ``input_pipeline_id + n``, … of the sorted
        files, ``n`` being ``num_input_pipelines``, when there are at least ``n`` files; else
        records ``input_pipeline_id``, ``input_pipeline_id + n``, … of every file. Each
        record is read by exactly one pipeline, and the files are checked as above by each."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        files = list_files(file_pattern)
        read = batch_reader(files, compression, self.columns)
        dataset = source_dataset(files, compression)
        file_count, record_shard = len(files), None
        if input_context is not None:
            dataset, file_count, record_shard, batch_size = distribute.share(
                dataset, file_count, batch_size, input_context)
        if shuffle:
            dataset = dataset.shuffle(file_count, seed=seed)
            dataset = dataset.interleave(
                tf.autograph.experimental.do_not_convert(lambda path, compression: read(
                    tf.data.Dataset.from_tensors((path, compression)), batch_size,
                    parallel=False, shard=record_shard)),
                cycle_length=min(file_count, 8), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=seed is not None)
            dataset = dataset.unbatch().shuffle(shuffle_buffer_size, seed=seed)
            if num_epochs != 1:
                dataset = dataset.repeat(num_epochs)
            dataset = dataset.batch(batch_size).map(
                self._parse_training_batch, num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
        else:
            # Each file is read in chunks of its own of a few batches, parsed and
            # transformed a chunk at a time, then cut into batches: the transform is
            # batch-invariant, so this gives the tensors of reading batch_size records at a
            # time, with fewer, larger elements through every stage; joining a file's last
            # chunk with the next file's first after the transform moves less data than
            # joining the records.
            record_bytes = None if all_csv(files) else first_record_bytes(files, compression)
            dataset = read(dataset, read_size(batch_size, record_bytes),
                           self._parse_training_batch, shard=record_shard)
            if num_epochs != 1:
                dataset = dataset.repeat(num_epochs)
            dataset = dataset.rebatch(batch_size)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def _parse_training_batch(self, records, names):
        raw = parse_examples(records, self.RAW_FEATURE_SPEC, names)
        features, targets = self._transform_training(raw)
        if self.WEIGHT_KEY is None:
            return features, targets
        return features, targets, tf.cast(raw[self.WEIGHT_KEY], tf.float32)

    # ---- serving ------------------------------------------------------------------------

    def serving_input_receiver_fn(self) -> tf.types.experimental.GenericFunction:
        """A ``tf.function`` from a 1-D string tensor of serialized ``tf.Example``s (without
        labels) to the model features: the Classify/Regress path."""

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
                     autograph=False)
        def receive_examples(serialized):
            raw = parse_examples(serialized, self.SERVING_FEATURE_SPEC)
            return self.transform_features(raw)

        return receive_examples

    def raw_serving_input_receiver_fn(self) -> tf.types.experimental.GenericFunction:
        """A ``tf.function`` from a dict of raw tensors to the model features: the Predict
        path. Each serving column is passed as a batch, in the form parse_example gives:
        scalars ``[batch]``, fixed shapes ``[batch, *dims]``, variable-length columns as a
        ``tf.RaggedTensor`` ``[batch, None]``, sparse columns as a ``tf.SparseTensor``
        ``[batch, size]``, bool columns as int64 0/1. Every column must have the same batch
        size: else InvalidArgumentError naming two columns (a column of one row would
        broadcast against the others' rows)."""

        @tf.function(input_signature=[self.raw_input_signature()], autograph=False)
        def receive_raw(raw):
            return self.transform_features(one_batch_size(raw))

        return receive_raw

    def raw_input_signature(self) -> dict:
        """The ``tf.TypeSpec`` of each raw serving column, as the raw receiver takes it."""
        return {c.name: raw_tensor_spec(c) for c in self.serving_columns}

    def keras_inputs(self) -> dict:
        """A ``keras.Input`` per feature, matching its dtype and per-example shape."""
        import keras

        inputs = {}
        for name, value_type in self.feature_types.items():
            shape = value_type.shape
            dims = (shape.dims[0],) if shape.kind == "sparse" else tuple(shape.dims)
            inputs[name] = keras.Input(shape=dims, dtype=TF_DTYPES[value_type.dtype].name,
                                       sparse=shape.kind == "sparse", name=name)
        return inputs
