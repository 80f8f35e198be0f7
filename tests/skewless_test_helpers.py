"""Helpers shared by the tests of the compiler output and the runtime: writing tf.Example
records by hand, the example data generator, loading a generated module, comparing tensors;
the functions and names with known skew bugs."""
from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck

REPO = pathlib.Path(__file__).resolve().parent.parent
FLIGHTS = REPO / "examples" / "flights"

# A function with a known skew bug is listed here: its own property (test_function_skew.py)
# is a strict xfail, and it is left out of the other generated specs until it is fixed (then
# its entry goes: the strict xfail turns into a failure to remind). Names that the code
# generator cannot use go in KNOWN_BAD_NAMES likewise.
KNOWN_SKEW_OPS = frozenset()
KNOWN_BAD_NAMES = frozenset()


def feature(values) -> tf.train.Feature:
    """A tf.train.Feature of a python value or list: str → bytes, bool/int → int64, else float."""
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    if values and all(isinstance(v, str) for v in values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode("utf-8") for v in values]))
    if values and all(isinstance(v, (bool, int, np.integer)) for v in values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
    if not values:  # an empty list: its kind does not matter to parse_example
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[]))
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def example(**columns) -> bytes:
    """A serialized tf.Example; a column whose value is None is left out."""
    features = {name: feature(value) for name, value in columns.items() if value is not None}
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def write_records(path, records, compression: str = "") -> str:
    options = tf.io.TFRecordOptions(compression_type=compression)
    with tf.io.TFRecordWriter(str(path), options=options) as writer:
        for record in records:
            writer.write(record)
    return str(path)


def make_data():
    """The example's data generator (examples/flights/make_data.py) as a module."""
    spec = importlib.util.spec_from_file_location("flights_make_data", FLIGHTS / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_both(text: str, folder, name: str, spec_file: str | None = None):
    """The spec through ``skewless.load`` and through its generated module ``name.py``,
    imported; the spec is written to ``spec_file`` (default ``name.feat``) in ``folder``."""
    import skewless
    from skewless import codegen, compiler

    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / (spec_file or f"{name}.feat")
    spec.write_text(text, encoding="utf-8")
    loaded = skewless.load(str(spec))
    graph, _ = compiler.constants_for(str(spec))
    generated = codegen.generate(graph, spec.name, module_name=name)
    module_path = folder / f"{name}.py"
    module_path.write_text(generated.source, encoding="utf-8")
    for relative, data in generated.assets.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    return loaded, import_module(module_path, f"skew_{name}")


def import_module(path, name: str):
    """Import a generated module from its file."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def assert_same_tensor(a, b, where: str = "") -> None:
    """Same type of tensor, dtype, shape and values (NaN equal to NaN)."""
    assert type(a) is type(b), where
    if isinstance(a, tf.SparseTensor):
        np.testing.assert_array_equal(a.indices.numpy(), b.indices.numpy(), err_msg=where)
        np.testing.assert_array_equal(a.dense_shape.numpy(), b.dense_shape.numpy(), err_msg=where)
        a, b = a.values, b.values
    if isinstance(a, tf.RaggedTensor):
        np.testing.assert_array_equal(a.row_splits.numpy(), b.row_splits.numpy(), err_msg=where)
        a, b = a.flat_values, b.flat_values
    assert a.dtype == b.dtype, where
    assert a.shape == b.shape, where
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=where)


def assert_same_dict(a: dict, b: dict, where: str = "") -> None:
    assert list(a) == list(b), where
    for name in a:
        assert_same_tensor(a[name], b[name], f"{where} {name}")


# Health checks the skew properties switch off: their cases are slow and large by design.
QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
         HealthCheck.large_base_example]


def file_vocabulary_model(vocabulary):
    """Hand-built features whose table (one OOV bucket) reads the vocabulary file
    ``vocabulary``, and a Keras model returning the id as float32: (model, features)."""
    import keras

    from skewless.ir import ColumnSpec
    from skewless.runtime import Features
    from skewless.types import Shape, Type

    table = tf.lookup.StaticVocabularyTable(tf.lookup.TextFileInitializer(
        str(vocabulary), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
        tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), num_oov_buckets=1)
    features = Features(
        columns=[ColumnSpec("word", "input", "string", Shape("scalar"))],
        transform_features=lambda raw: {"word_id": table.lookup(raw["word"])},
        transform_targets=lambda raw: {},
        feature_types={"word_id": Type("int64", Shape("scalar"))}, target_types={},
        fingerprint="words", tables=[table])
    inputs = features.keras_inputs()
    return keras.Model(inputs, keras.ops.cast(inputs["word_id"], "float32")), features
