"""The runtime around the one transform: input_fn (files, compression, order, epochs,
batches, weights, defaults, errors), the serving receivers, parse specs, bool columns,
keras_inputs and a one-epoch model.fit. Records are written by hand, so every expected value
is known."""
from __future__ import annotations

import gc
import os

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings, strategies as st

import skewless
from property_budget import BUDGET, count
from skewless import records, runtime
from skewless_test_helpers import QUIET, compile_both, example, write_records

SPEC = """\
spec runtime_test
input x: float32
input n: int64 = 7
input flag: bool = false
input vec: float32[3] = 0.5
input words: string[]
input sp: sparse float32[5] from (sp_idx, sp_val)
label y: float32
weight w: float32 = 2.0

feature x2     = x * 2
feature n1     = n + 1
feature flag_b = flag
feature flag_i = cast(flag, int64)
feature scaled = vec * x
feature nwords = count(words)
feature words2 = words | pad(length=2, value="?")
feature sp
target y2 = y + 1
"""

# The same columns without a weight, and only numeric features: for model.fit.
SPEC_NO_WEIGHT = """\
input x: float32
input vec: float32[3] = 0.5
label y: float32
feature x2 = x * 2
feature v = vec * 1.0
target y = y
"""


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "runtime.feat"
    path.write_text(SPEC, encoding="utf-8")
    return skewless.load(str(path))


@pytest.fixture(scope="module")
def features_no_weight(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "no_weight.feat"
    path.write_text(SPEC_NO_WEIGHT, encoding="utf-8")
    return skewless.load(str(path))


def record(i: int, **overrides) -> bytes:
    """Record number i: x = i, y = 10 * i, everything else left to its default."""
    columns = dict(x=float(i), y=10.0 * i)
    columns.update(overrides)
    return example(**columns)


@pytest.fixture
def files(tmp_path):
    """Three files of 4, 3 and 5 records, x numbering the records 0..11 in sorted-file order;
    the middle one GZIP-compressed. Written out of order, so sorting matters."""
    write_records(tmp_path / "part-2.tfrecord", [record(i) for i in range(7, 12)])
    write_records(tmp_path / "part-0.tfrecord", [record(i) for i in range(0, 4)])
    write_records(tmp_path / "part-1.tfrecord.gz", [record(i) for i in range(4, 7)], "GZIP")
    return tmp_path


def xs(dataset) -> list[float]:
    """The x of every record, in the order the dataset gives them (x2 = 2x)."""
    return [float(v) / 2 for batch in dataset for v in batch[0]["x2"].numpy()]


# ---- files ---------------------------------------------------------------------------------


def test_glob_reads_every_file_in_sorted_order(features, files):
    assert xs(features.input_fn(str(files / "part-*"), batch_size=5, shuffle=False)) == list(range(12))


def test_list_of_files_and_globs(features, files):
    got = xs(features.input_fn([str(files / "part-2.tfrecord"), str(files / "part-0.tfrecord")],
                               batch_size=5, shuffle=False))
    assert got == [0, 1, 2, 3, 7, 8, 9, 10, 11]
    # a file named twice (directly and through a glob) is read once
    got = xs(features.input_fn([str(files / "part-0.tfrecord"), str(files / "part-[01]*")],
                               batch_size=5, shuffle=False))
    assert got == list(range(7))


def test_gzip_files_by_name_and_by_option(features, tmp_path):
    write_records(tmp_path / "a.tfrecord.gz", [record(i) for i in range(3)], "GZIP")
    assert xs(features.input_fn(str(tmp_path / "a.tfrecord.gz"), shuffle=False)) == [0, 1, 2]
    write_records(tmp_path / "b.tfrecord", [record(i) for i in range(3)], "GZIP")
    got = xs(features.input_fn(str(tmp_path / "b.tfrecord"), shuffle=False, compression="GZIP"))
    assert got == [0, 1, 2]
    with pytest.raises(ValueError, match="compression"):
        features.input_fn(str(tmp_path / "b.tfrecord"), compression="gzip")


def test_a_pattern_matching_no_file(features, tmp_path):
    with pytest.raises(skewless.DataError, match="no file matches") as info:
        features.input_fn(str(tmp_path / "nothing-*.tfrecord"))
    assert str(tmp_path / "nothing-*.tfrecord") in str(info.value)
    with pytest.raises(skewless.DataError):
        features.input_fn([str(tmp_path / "a-*"), str(tmp_path / "b-*")])


# ---- order, epochs, batches ----------------------------------------------------------------


def test_shuffle_with_a_seed_is_deterministic(features, files):
    pattern = str(files / "part-*")
    first = xs(features.input_fn(pattern, batch_size=4, shuffle=True, seed=3))
    again = xs(features.input_fn(pattern, batch_size=4, shuffle=True, seed=3))
    assert first == again
    assert sorted(first) == list(range(12))
    orders = {tuple(xs(features.input_fn(pattern, batch_size=4, shuffle=True, seed=s)))
              for s in range(4)}
    assert len(orders) > 1  # the seed matters
    assert first != list(range(12))  # records are shuffled, not only files


def test_num_epochs(features, files):
    pattern = str(files / "part-*")
    assert xs(features.input_fn(pattern, batch_size=5, shuffle=False, num_epochs=2)) == \
        list(range(12)) * 2
    forever = features.input_fn(pattern, batch_size=5, shuffle=False, num_epochs=None)
    assert xs(forever.take(6)) == (list(range(12)) * 3)[:30]
    shuffled = xs(features.input_fn(pattern, batch_size=5, shuffle=True, seed=1, num_epochs=3))
    assert sorted(shuffled) == sorted(list(range(12)) * 3)


@pytest.mark.parametrize("batch_size, record_bytes, chunk", [
    (1, 300, 4), (5, 300, 20), (128, 300, 512), (1024, 300, 4096), (1500, 300, 3000),
    (2048, 300, 4096), (4096, 300, 4096), (5000, 300, 5000), (1024, 0, 4096),
    (1024, 4096, 4096), (1024, 4097, 3072), (1024, 8192, 2048), (1024, 200_000, 1024),
    (64, 200_000, 64), (64, 80_000, 192), (128, None, 128), (1, None, 1)])
def test_files_are_read_in_chunks_of_up_to_four_batches_4096_records_and_16_mib(
        batch_size, record_bytes, chunk):
    assert runtime.read_size(batch_size, record_bytes) == chunk


@pytest.mark.parametrize("compression, name", [("auto", "a.tfrecord"), ("auto", "a.tfrecord.gz"),
                                               ("ZLIB", "a.tfrecord")])
def test_a_records_size_is_read_from_the_first_file_that_holds_one(tmp_path, compression, name):
    kind = {"auto": "GZIP" if name.endswith(".gz") else "", "ZLIB": "ZLIB"}[compression]
    write_records(tmp_path / "0-empty.tfrecord", [])
    write_records(tmp_path / name, [b"x" * 1234, b"y"], kind)
    files = [str(tmp_path / "0-empty.tfrecord"), str(tmp_path / name)]
    assert records.first_record_bytes(files, compression) == 1234
    (tmp_path / "cut").write_bytes(b"\x01\x02")
    assert records.first_record_bytes([str(tmp_path / "cut")], "") is None


@settings(max_examples=max(5, BUDGET.max_examples // 5), deadline=None, suppress_health_check=QUIET)
@given(sizes=st.lists(st.integers(0, 23), min_size=1, max_size=4).filter(any),
       batch_size=st.integers(1, 7))
def test_batches_are_whole_and_in_order_across_chunks_and_files(features, tmp_path_factory,
                                                                sizes, batch_size):
    """Files of any sizes (empty ones too), read in chunks of up to four batches: every
    batch but the last holds batch_size records, in file order, each transformed as alone."""
    count("input_fn chunks and batches", 1)
    directory = tmp_path_factory.mktemp("chunks")
    starts = np.cumsum([0, *sizes])
    for number, size in enumerate(sizes):
        write_records(directory / f"part-{number}.tfrecord",
                      [record(i) for i in range(starts[number], starts[number] + size)])
    batches = list(features.input_fn(str(directory / "part-*"), batch_size=batch_size,
                                     shuffle=False))
    total = int(starts[-1])
    assert [int(b[0]["x2"].shape[0]) for b in batches] == \
        [batch_size] * (total // batch_size) + ([total % batch_size] if total % batch_size else [])
    assert [float(v) for b in batches for v in b[0]["x2"].numpy()] == \
        [2.0 * i for i in range(total)]
    assert [float(v) for b in batches for v in b[1]["y2"].numpy()] == \
        [10.0 * i + 1 for i in range(total)]


def test_the_last_batch_may_be_smaller(features, files):
    sizes = [int(b[0]["x2"].shape[0]) for b in features.input_fn(str(files / "part-*"),
                                                                  batch_size=5, shuffle=False)]
    assert sizes == [5, 5, 2]
    sizes = [int(b[0]["x2"].shape[0]) for b in features.input_fn(str(files / "part-*"),
                                                                  batch_size=12, shuffle=False)]
    assert sizes == [12]
    with pytest.raises(ValueError, match="batch_size"):
        features.input_fn(str(files / "part-*"), batch_size=0)


# ---- what a batch holds --------------------------------------------------------------------


def test_features_targets_and_weights(features, tmp_path):
    path = write_records(tmp_path / "d.tfrecord", [
        example(x=1.5, y=3.0, n=2, flag=1, vec=[1.0, 2.0, 3.0], words=["a", "b", "c"],
                sp_idx=[4, 1], sp_val=[0.5, -1.0], w=0.25),
        example(x=-2.0, y=4.0),  # every optional column missing: defaults
        example(x=0.0, y=-1.0, flag=0, words=["z"], w=1.0),
    ])
    (batch,) = list(features.input_fn(path, batch_size=8, shuffle=False))
    assert len(batch) == 3
    got, targets, weights = batch
    assert list(got) == ["x2", "n1", "flag_b", "flag_i", "scaled", "nwords", "words2", "sp"]
    np.testing.assert_array_equal(got["x2"].numpy(), np.float32([3.0, -4.0, 0.0]))
    np.testing.assert_array_equal(got["n1"].numpy(), [3, 8, 8])
    assert got["flag_b"].dtype == tf.bool
    np.testing.assert_array_equal(got["flag_b"].numpy(), [True, False, False])
    np.testing.assert_array_equal(got["flag_i"].numpy(), [1, 0, 0])
    np.testing.assert_array_equal(got["scaled"].numpy(), np.float32(
        [[1.5, 3.0, 4.5], [-1.0, -1.0, -1.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_array_equal(got["nwords"].numpy(), [3, 0, 1])
    np.testing.assert_array_equal(got["words2"].numpy(),
                                  [[b"a", b"b"], [b"?", b"?"], [b"z", b"?"]])
    sparse = got["sp"]
    assert isinstance(sparse, tf.SparseTensor)
    np.testing.assert_array_equal(tf.sparse.to_dense(tf.sparse.reorder(sparse)).numpy(),
                                  np.float32([[0, -1, 0, 0, 0.5], [0] * 5, [0] * 5]))
    assert list(targets) == ["y2"]
    np.testing.assert_array_equal(targets["y2"].numpy(), np.float32([4.0, 5.0, 0.0]))
    assert weights.dtype == tf.float32
    np.testing.assert_array_equal(weights.numpy(), np.float32([0.25, 2.0, 1.0]))


def test_without_a_weight_batches_are_pairs(features_no_weight, tmp_path):
    path = write_records(tmp_path / "d.tfrecord", [record(i) for i in range(3)])
    (batch,) = list(features_no_weight.input_fn(path, batch_size=8, shuffle=False))
    assert len(batch) == 2
    got, targets = batch
    np.testing.assert_array_equal(got["x2"].numpy(), np.float32([0, 2, 4]))
    np.testing.assert_array_equal(targets["y"].numpy(), np.float32([0, 10, 20]))
    assert features_no_weight.WEIGHT_KEY is None


def test_a_missing_required_column_names_column_file_and_record(features, tmp_path):
    path = write_records(tmp_path / "broken.tfrecord",
                         [record(0), record(1), example(y=5.0), record(3)])
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        list(features.input_fn(path, batch_size=8, shuffle=False))
    message = str(info.value)
    assert "Feature: x " in message and "is required" in message
    assert f"{path}: record 2" in message  # records are counted from 0 in each file
    # a required label is required in training too
    path = write_records(tmp_path / "nolabel.tfrecord", [example(x=1.0)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Feature: y "):
        list(features.input_fn(path, batch_size=8, shuffle=False))


def test_a_record_of_the_wrong_dtype_is_an_error(features, tmp_path):
    path = write_records(tmp_path / "bad.tfrecord", [example(x="one", y=1.0)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="record 0"):
        list(features.input_fn(path, batch_size=8, shuffle=False))


# ---- serving -------------------------------------------------------------------------------


def test_parse_specs_exclude_labels_and_weight_from_serving(features):
    fixed = tf.io.FixedLenFeature
    serving = {
        "x": fixed([], tf.float32),
        "n": fixed([], tf.int64, 7),
        "flag": fixed([], tf.int64, 0),
        "vec": fixed([3], tf.float32, [0.5, 0.5, 0.5]),
        "words": tf.io.RaggedFeature(tf.string, row_splits_dtype=tf.int64),
        "sp": tf.io.SparseFeature("sp_idx", "sp_val", tf.float32, 5),
    }
    assert features.SERVING_FEATURE_SPEC == serving
    assert features.RAW_FEATURE_SPEC == dict(serving, y=fixed([], tf.float32),
                                             w=fixed([], tf.float32, 2.0))
    assert features.LABEL_KEYS == ("y",)
    assert features.WEIGHT_KEY == "w"
    assert set(features.raw_input_signature()) == set(serving)


@pytest.mark.parametrize("first", [0.0, -0.0])
def test_signed_zero_defaults_survive_an_eager_parse_example(tmp_path, first):
    """A user parsing eagerly with the parse specs (as a Predict client may) gets each
    default's own zero, whichever zero TensorFlow's eager cache of Python scalars met first
    (it keys -0.0 and 0.0 alike)."""
    spec = tmp_path / "zeros.feat"
    spec.write_text("input a: float32 = -0.0\ninput b: float32 = 0.0\n"
                    "input c: float32[2] = [-0.0, 0.0]\ninput d: float32[2] = -0.0\n"
                    "feature a\nfeature b\nfeature c\nfeature d\n")
    features = skewless.load(str(spec))
    tf.constant(first)  # what the process met first
    empty = [tf.train.Example().SerializeToString()]
    for parse_spec in (features.SERVING_FEATURE_SPEC, features.RAW_FEATURE_SPEC):
        parsed = tf.io.parse_example(empty, parse_spec)
        signs = {name: np.signbit(parsed[name].numpy()).tolist() for name in "abcd"}
        assert signs == {"a": [True], "b": [False], "c": [[True, False]], "d": [[True, True]]}


def test_serving_receiver_on_serialized_examples_without_labels(features):
    receive = features.serving_input_receiver_fn()
    records = tf.constant([
        example(x=1.0, flag=1, words=["p", "q", "r"], sp_idx=[0], sp_val=[9.0]),
        example(x=3.0, n=-1, vec=[0.0, 1.0, -1.0]),
    ])
    got = receive(records)
    assert list(got) == list(features.FEATURE_KEYS)
    np.testing.assert_array_equal(got["x2"].numpy(), np.float32([2, 6]))
    np.testing.assert_array_equal(got["n1"].numpy(), [8, 0])
    np.testing.assert_array_equal(got["flag_b"].numpy(), [True, False])
    np.testing.assert_array_equal(got["scaled"].numpy(),
                                  np.float32([[0.5, 0.5, 0.5], [0.0, 3.0, -3.0]]))
    np.testing.assert_array_equal(got["nwords"].numpy(), [3, 0])
    np.testing.assert_array_equal(got["words2"].numpy(), [[b"p", b"q"], [b"?", b"?"]])
    np.testing.assert_array_equal(tf.sparse.to_dense(got["sp"]).numpy(),
                                  np.float32([[9, 0, 0, 0, 0], [0] * 5]))
    # one example at a time gives the same as the batch: no batch-dependent padding
    for i in range(2):
        alone = receive(records[i:i + 1])
        np.testing.assert_array_equal(alone["words2"].numpy()[0], got["words2"].numpy()[i])
        np.testing.assert_array_equal(alone["scaled"].numpy()[0], got["scaled"].numpy()[i])
    # a label or weight sent along is ignored, and never needed
    with_label = receive(tf.constant([example(x=1.0, y=100.0, w=3.0)]))
    np.testing.assert_array_equal(with_label["x2"].numpy(), np.float32([2]))


def test_the_serving_receiver_takes_a_1d_string_tensor(features):
    receive = features.serving_input_receiver_fn()
    (spec,) = receive.input_signature
    assert spec.shape.as_list() == [None] and spec.dtype == tf.string
    assert list(receive(tf.constant([], tf.string))["x2"].numpy()) == []


def test_raw_serving_receiver_on_raw_tensors(features):
    receive = features.raw_serving_input_receiver_fn()
    raw = {
        "x": tf.constant([1.0, -0.5]),
        "n": tf.constant([1, 2], tf.int64),
        "flag": tf.constant([0, 5], tf.int64),  # bool columns come as int64; non-zero is true
        "vec": tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        "words": tf.ragged.constant([["a"], ["b", "c", "d"]], row_splits_dtype=tf.int64),
        "sp": tf.SparseTensor([[0, 2], [1, 4]], tf.constant([7.0, 8.0]), [2, 5]),
    }
    got = receive(raw)
    np.testing.assert_array_equal(got["x2"].numpy(), np.float32([2, -1]))
    np.testing.assert_array_equal(got["n1"].numpy(), [2, 3])
    np.testing.assert_array_equal(got["flag_b"].numpy(), [False, True])
    np.testing.assert_array_equal(got["flag_i"].numpy(), [0, 1])
    np.testing.assert_array_equal(got["scaled"].numpy(),
                                  np.float32([[1, 2, 3], [-2, -2.5, -3]]))
    np.testing.assert_array_equal(got["nwords"].numpy(), [1, 3])
    np.testing.assert_array_equal(got["words2"].numpy(), [[b"a", b"?"], [b"b", b"c"]])
    np.testing.assert_array_equal(tf.sparse.to_dense(got["sp"]).numpy(),
                                  np.float32([[0, 0, 7, 0, 0], [0, 0, 0, 0, 8]]))
    # labels and weight are not part of the signature
    (signature,) = receive.input_signature
    assert set(signature) == {"x", "n", "flag", "vec", "words", "sp"}
    assert signature["words"] == tf.RaggedTensorSpec([None, None], tf.string, 1, tf.int64)
    assert signature["sp"] == tf.SparseTensorSpec([None, 5], tf.float32)
    assert signature["vec"] == tf.TensorSpec([None, 3], tf.float32)
    assert signature["flag"] == tf.TensorSpec([None], tf.int64)


def _raw_batch(rows: int) -> dict:
    """A raw serving batch of ``rows`` examples of SPEC's serving columns."""
    return {
        "x": tf.fill([rows], 1.0), "n": tf.fill([rows], tf.constant(1, tf.int64)),
        "flag": tf.zeros([rows], tf.int64), "vec": tf.ones([rows, 3]),
        "words": tf.RaggedTensor.from_row_lengths(tf.fill([rows], "w"),
                                                  tf.ones([rows], tf.int64)),
        "sp": tf.SparseTensor(tf.zeros([0, 2], tf.int64), tf.zeros([0]), [rows, 5]),
    }


@pytest.mark.parametrize("column", ["x", "n", "flag", "vec", "words", "sp"])
@pytest.mark.parametrize("rows, other", [(3, 1), (1, 3), (2, 0), (0, 2)])
def test_raw_columns_of_different_batch_sizes_are_refused(features, column, rows, other):
    """A column of one row would broadcast against the others' rows (x * vec, x + n): the
    raw receiver refuses every column whose batch size is not the others', of every kind
    (dense, fixed, ragged, sparse)."""
    raw = {**_raw_batch(rows), column: _raw_batch(other)[column]}
    other_column = column if column != "x" else r"\w+"  # x is the first: all the others fail
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=f"columns x and {other_column} have different batch sizes"):
        features.raw_serving_input_receiver_fn()(raw)
    assert features.raw_serving_input_receiver_fn()(_raw_batch(rows))["x2"].shape == [rows]


def test_both_receivers_and_training_agree(features, tmp_path):
    records = [example(x=float(i), y=0.0, n=i, flag=i % 2, words=["w"] * (i % 4),
                       vec=[i, i + 1.0, -i], sp_idx=[i % 5], sp_val=[float(i)])
               for i in range(6)]
    path = write_records(tmp_path / "r.tfrecord", records)
    (train, _, _), = list(features.input_fn(path, batch_size=6, shuffle=False))
    served = features.serving_input_receiver_fn()(tf.constant(records))
    raw = tf.io.parse_example(tf.constant(records), features.SERVING_FEATURE_SPEC)
    raw_served = features.raw_serving_input_receiver_fn()(raw)
    for name in features.FEATURE_KEYS:
        for other in (served, raw_served):
            a, b = train[name], other[name]
            if isinstance(a, tf.SparseTensor):
                a, b = tf.sparse.to_dense(a), tf.sparse.to_dense(b)
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


# ---- keras ---------------------------------------------------------------------------------


def test_keras_inputs(features):
    inputs = features.keras_inputs()
    assert list(inputs) == list(features.FEATURE_KEYS)
    expected = {
        "x2": ("float32", (None,), False),
        "n1": ("int64", (None,), False),
        "flag_b": ("bool", (None,), False),
        "flag_i": ("int64", (None,), False),
        "scaled": ("float32", (None, 3), False),
        "nwords": ("int64", (None,), False),
        "words2": ("string", (None, 2), False),
        "sp": ("float32", (None, 5), True),
    }
    for name, (dtype, shape, sparse) in expected.items():
        tensor = inputs[name]
        assert tensor.dtype == dtype, name
        assert tuple(tensor.shape) == shape, name
        assert bool(tensor.sparse) == sparse, name
        assert tensor.name == name


@pytest.mark.filterwarnings("ignore:Your input ran out of data")
def test_a_small_model_trains_on_input_fn(features_no_weight, features, tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    path = write_records(tmp_path / "train.tfrecord",
                         [example(x=float(i % 7), y=2.0 * (i % 7), vec=[1.0, 0.0, float(i % 3)])
                          for i in range(40)])
    inputs = features_no_weight.keras_inputs()
    joined = keras.layers.Concatenate()([keras.layers.Reshape((1,))(inputs["x2"]), inputs["v"]])
    model = keras.Model(inputs, {"y": keras.layers.Reshape(())(keras.layers.Dense(1)(joined))})
    model.compile(optimizer="sgd", loss={"y": "mse"})
    before = [w.copy() for w in model.get_weights()]
    batches = []  # per epoch: Keras warns at the first one's end, and nothing is cut short

    class CountBatches(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            batches.append(0)

        def on_train_batch_end(self, batch, logs=None):
            batches[-1] += 1

    history = model.fit(features_no_weight.input_fn(path, batch_size=16, seed=0), epochs=3,
                        shuffle=False, verbose=0, callbacks=[CountBatches()])
    assert batches == [3, 3, 3]  # 40 records in batches of 16, 16 and 8
    assert len(history.history["loss"]) == 3 and np.isfinite(history.history["loss"]).all()
    assert any((a != b).any() for a, b in zip(before, model.get_weights()))  # it learned

    # with a weight, batches are (features, targets, weights): fit takes them as sample weights
    path = write_records(tmp_path / "weighted.tfrecord",
                         [example(x=float(i), y=1.0, w=0.5) for i in range(8)])
    inputs = {"x2": features.keras_inputs()["x2"]}
    model = keras.Model(inputs, {"y2": keras.layers.Reshape(())(keras.layers.Dense(1)(
        keras.layers.Reshape((1,))(inputs["x2"])))})
    model.compile(optimizer="sgd", loss={"y2": "mse"})
    dataset = features.input_fn(path, batch_size=4, shuffle=False).map(
        lambda f, t, w: ({"x2": f["x2"]}, t, w))
    history = model.fit(dataset, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])


# ---- the transform's call options --------------------------------------------------------

REWRITABLE = """\
input a: float32
input w: float32
let g = (((w + a) + 1000.0) + a)
feature t = ((g + g) + a)
feature d = minmax(a, min=-0.0, max=1)
"""


def _minmax_from_negative_zero(values) -> list:
    """The bits of ``minmax(a, min=-0.0, max=1)``, by hand: (a - min) / (max - min) in
    float64, as minmax computes, rounded to float32; -0.0 - (-0.0) is +0.0."""
    return np.array([np.float32((np.float64(a) - -0.0) / 1.0) for a in values],
                    np.float32).view(np.uint32).tolist()


def _step_by_step(w: float, a: float) -> np.float32:
    """``((g + g) + a)`` in float32, one addition after the other, as written."""
    w, a = np.float32(w), np.float32(a)
    g = ((w + a) + np.float32(1000.0)) + a
    return (g + g) + a


@pytest.mark.parametrize("options", [
    {}, {"arithmetic_optimization": False}, {"constant_folding": False},
    {"disable_meta_optimizer": True}])
def test_the_transform_runs_as_written_whatever_the_grappler_options(tmp_path, options):
    """The transform's ops run as the spec writes them, on every path, whatever grappler
    options the process set when the path was traced: the transform's call turns grappler
    off for it. Before, the call took the options of its tracing, and under the default
    ones grappler's constant folding simplified ``a - (-0.0)`` into ``a`` (minmax with
    min -0.0 gave -0.0 at a = -0.0 instead of 0.0); with constant folding off it did not.
    Checked against numpy: float32 additions one after the other, at values where a
    reassociated sum differs by 1 ulp (w = 1, a = 1e10), and minmax's float64 arithmetic."""
    path = tmp_path / "rewritable.feat"
    path.write_text(REWRITABLE)
    rows = [(1.0, 1e10), (3.0, -7.5e9), (0.5, 123.25), (2.0, -0.0)]
    data = write_records(tmp_path / "d.tfrecord", [example(w=w, a=a) for w, a in rows])
    expected = {
        "t": np.array([_step_by_step(w, a) for w, a in rows]).view(np.uint32).tolist(),
        "d": _minmax_from_negative_zero([a for _, a in rows])}
    assert expected["t"][0] == 0x513a43b8 and expected["d"][3] == 0
    tf.config.optimizer.set_experimental_options(options)
    try:
        features = skewless.load(str(path))
        serialized = tf.constant([example(w=w, a=a) for w, a in rows])
        paths = {
            "serving": features.serving_input_receiver_fn()(serialized),
            "raw serving": features.raw_serving_input_receiver_fn()(
                {"a": tf.constant([a for _, a in rows], tf.float32),
                 "w": tf.constant([w for w, _ in rows], tf.float32)}),
            "training": next(iter(features.input_fn(data, batch_size=8, shuffle=False)))[0]}
    finally:  # an option once set cannot be unset: back to what the defaults do
        tf.config.optimizer.set_experimental_options(
            {"arithmetic_optimization": True, "constant_folding": True,
             "disable_meta_optimizer": False})
    for where, outputs in paths.items():
        for name, bits in expected.items():
            assert outputs[name].numpy().view(np.uint32).tolist() == bits, (where, name)


NEGATIVE_ZERO_BOUND = "input a: float32\nfeature d = minmax(a, min=-0.0, max=1)\n"


@pytest.mark.parametrize("how", ["skewless.load", "generated module"])
def test_transform_features_called_in_a_users_function_gives_what_training_gives(
        tmp_path, how):
    """A model or a preprocessing function of the user's that calls ``transform_features``
    inside its own ``tf.function`` gets what training gets. The generated module's
    ``transform_features`` used to be the plain function, whose ops grappler then rewrote
    within the caller's graph: ``a - (-0.0)`` became ``a``, and minmax with min -0.0 gave
    -0.0 at a = -0.0 where training gives 0.0."""
    loaded, module = compile_both(NEGATIVE_ZERO_BOUND, tmp_path, "negzero")
    features = loaded if how == "skewless.load" else module
    values = [-0.0, 0.0, 0.25, -3.0]
    data = write_records(tmp_path / "d.tfrecord", [example(a=v) for v in values])
    expected = _minmax_from_negative_zero(values)
    assert expected[:2] == [0, 0]
    users = tf.function(lambda raw: features.transform_features(raw)["d"], autograph=False)
    called = users({"a": tf.constant(values, tf.float32)})
    eager = features.transform_features({"a": tf.constant(values, tf.float32)})["d"]
    trained = next(iter(features.input_fn(data, batch_size=8, shuffle=False)))[0]["d"]
    for where, got in (("the user's function", called), ("an eager call", eager),
                       ("training", trained)):
        assert got.numpy().view(np.uint32).tolist() == expected, where


def _resident_megabytes() -> float:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
def test_specs_loaded_and_dropped_leave_no_memory_behind(tmp_path):
    """A spec's transform called eagerly, then dropped, leaves nothing in TensorFlow's
    eager context: a PartitionedCall run eagerly kept its kernel (the function's
    instantiation) for good, a third of a megabyte per spec, 33 MB per 100 loads."""
    path = tmp_path / "small.feat"
    path.write_text("input a: float32\ninput s: string\nfeature b = a * 2 + 1\n"
                    "feature h = hash(s, buckets=10)\n")

    def load_call_drop(rows: int) -> None:
        features = skewless.load(str(path))
        features.transform_features({"a": tf.zeros([rows]), "s": tf.fill([rows], "x")})
        del features
        gc.collect()

    for rows in range(1, 11):  # TensorFlow's own caches fill up first
        load_call_drop(rows)
    before = _resident_megabytes()
    for index in range(100):
        load_call_drop(index % 10 + 1)
    assert _resident_megabytes() - before < 12


def test_a_graph_traced_while_functions_run_eagerly_still_runs_the_transform_as_written(
        tmp_path):
    """A serving function traced (an export's, say) while tf.config.run_functions_eagerly
    is on must still call the shared transform: it took the plain tf.function, whose ops
    the graph took in, and grappler then simplified a - (-0.0) into a when it ran."""
    loaded, module = compile_both(NEGATIVE_ZERO_BOUND, tmp_path, "negzero_traced")
    spec = {"a": tf.TensorSpec([None], tf.float32)}
    tf.config.run_functions_eagerly(True)
    functions = [tf.function(lambda raw, f=f: f.transform_features(raw)["d"],
                             autograph=False) for f in (loaded, module)]
    try:
        for function in functions:
            function.get_concrete_function(spec)
    finally:
        tf.config.run_functions_eagerly(False)
    for function in functions:
        got = function({"a": tf.constant([-0.0, 0.25], tf.float32)})
        assert function.experimental_get_tracing_count() == 1  # the graph traced above
        assert got.numpy().view(np.uint32).tolist() == [0, 0x3E800000]  # 0.0, 0.25
