"""Parsing tf.Examples with sparse columns checked (``skewless.parse``): valid data gives
what ``tf.io.parse_example`` gives, bit for bit; invalid sparse data (an index outside
``[0, size)``, an index twice in a record, more or fewer indices than values) is an error
naming the record and the column on every path that parses: training input, the
tf.Example receiver, the Predict inputs, and analysis."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings, strategies as st

import skewless
from skewless import cli
from property_budget import BUDGET, count
from skewless.parse import parse_examples
from skewless.signatures import raw_columns
from skewless_test_helpers import QUIET, assert_same_dict, example, write_records

SIZE = 10
SPEC = {"v": tf.io.SparseFeature("idx", "val", tf.float32, SIZE),
        "w": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
        "t": tf.io.RaggedFeature(tf.string, row_splits_dtype=tf.int64)}

entries = st.dictionaries(st.integers(0, SIZE - 1),
                          st.floats(-1e6, 1e6, width=32, allow_subnormal=False),
                          max_size=SIZE)
rows = st.lists(st.tuples(entries, st.booleans(), st.randoms()), min_size=1, max_size=6)


def _record(pairs: dict, with_w: bool, random) -> bytes:
    items = list(pairs.items())
    random.shuffle(items)  # parse_example sorts a record's entries; any order is valid
    if not items:  # an empty list would be a bytes_list, which int64 and float32 refuse
        return example(w=7 if with_w else None)
    return example(idx=[i for i, _ in items], val=[v for _, v in items],
                   w=7 if with_w else None, t=["a"] * len(items))


@settings(max_examples=BUDGET.max_examples, deadline=None, suppress_health_check=QUIET)
@given(rows)
def test_valid_records_parse_as_parse_example_parses_them(drawn):
    count("parse_examples of valid sparse data", 1)
    records = tf.constant([_record(*row) for row in drawn])
    names = tf.constant([f"f: record {i}" for i in range(len(drawn))])
    expected = tf.io.parse_example(records, SPEC, example_names=names)
    assert_same_dict(parse_examples(records, SPEC, names), expected)
    assert_same_dict(tf.function(lambda r: parse_examples(r, SPEC))(records), expected)


BAD = [  # (idx, val) of the bad record, what the message says
    ([3, 10], [1.0, 2.0], "index 10 is outside \\[0, 10\\)"),
    ([-1], [1.0], "index -1 is outside \\[0, 10\\)"),
    ([2**40], [1.0], f"index {2**40} is outside"),
    ([4, 1, 4], [1.0, 2.0, 3.0], "index 4 is given twice"),
    ([1, 2], [1.0], "2 indices (?:\\(idx\\) but|and) 1 values"),
    ([1], [1.0, 2.0], "1 indices and 2 values"),
    ([1], None, "1 indices and 0 values"),
    (None, [1.0], "0 indices and 1 values"),
    ([5, 5, 5], [1.0, 2.0], "3 indices and 2 values"),
]
BAD_IDS = ["past the size", "negative", "far past", "twice", "more indices", "more values",
           "no values", "no indices", "twice and more indices"]


@pytest.mark.parametrize("idx, val, says", BAD, ids=BAD_IDS)
def test_bad_sparse_data_names_the_record_and_column(idx, val, says):
    good = example(idx=[0, 9], val=[1.0, 2.0])
    records = tf.constant([good, good, example(idx=idx, val=val), good])
    names = tf.constant([f"data.tfrecord: record {i}" for i in range(4)])
    column = r"sparse column v \(indices idx, values val\): "
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="data.tfrecord: record 2: " + column + says):
        parse_examples(records, SPEC, names)
    with pytest.raises(tf.errors.InvalidArgumentError, match="example 2: " + column + says):
        tf.function(lambda r: parse_examples(r, SPEC))(records)


SPARSE_SPEC = "input v: sparse float32[10] from (idx, val)\nfeature s = zscore(sum(v))\n"


@pytest.mark.parametrize("idx, val, says", BAD[:1] + BAD[3:5], ids=BAD_IDS[:1] + BAD_IDS[3:5])
def test_every_path_that_parses_refuses_bad_sparse_data(tmp_path, idx, val, says):
    spec = tmp_path / "s.feat"
    spec.write_text(SPARSE_SPEC)
    good = example(idx=[0, 9], val=[1.0, 2.0])
    data = write_records(tmp_path / "d.tfrecord", [good, example(idx=idx, val=val), good])
    features = skewless.load(str(spec), stats={"s/zscore": {"mean": 0.0, "std": 1.0}})
    for shuffle in (False, True):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"d.tfrecord: record 1: sparse column v .*" + says):
            list(features.input_fn(data, batch_size=2, shuffle=shuffle))
    with pytest.raises(tf.errors.InvalidArgumentError, match="example 1: .*" + says):
        features.serving_input_receiver_fn()(tf.constant([good, example(idx=idx, val=val)]))
    for command in (["compile", str(spec), "--data", data, "-o", str(tmp_path / "out.py")],
                    ["check", str(spec), "--data", data]):
        run = subprocess.run([sys.executable, "-m", "skewless", *command],
                             capture_output=True, text=True)
        assert run.returncode == 1, command
        assert "Traceback" not in run.stderr
        assert f"bad record: {data}: record 1: sparse column v" in run.stderr, command
    assert not (tmp_path / "out.py").exists()


def test_the_predict_inputs_and_the_tf_example_receiver_agree_on_valid_sparse_data(tmp_path):
    """The Predict signature's padded inputs (indices, values, lengths) and the tf.Example
    receiver give the same SparseTensor, sorted by index within each example."""
    spec = tmp_path / "s.feat"
    spec.write_text("input v: sparse float32[10] from (idx, val)\nfeature v\n")
    features = skewless.load(str(spec))
    examples = [example(idx=[7, 2], val=[1.5, -0.5]), example(),
                example(idx=[9], val=[3.0])]
    from_examples = features.serving_input_receiver_fn()(tf.constant(examples))["v"]
    from_tensors = raw_columns({
        "v_indices": tf.constant([[7, 2], [0, 0], [9, 0]], tf.int64),
        "v_values": tf.constant([[1.5, -0.5], [0.0, 0.0], [3.0, 0.0]]),
        "v_lengths": tf.constant([2, 0, 1], tf.int64)}, features.serving_columns)["v"]
    assert from_examples.indices.numpy().tolist() == [[0, 2], [0, 7], [2, 9]]
    assert from_examples.values.numpy().tolist() == [-0.5, 1.5, 3.0]
    for got in (from_examples, from_tensors):
        np.testing.assert_array_equal(tf.sparse.to_dense(got).numpy()[0, [2, 7]], [-0.5, 1.5])
    assert_same_dict({"v": from_tensors}, {"v": from_examples})


@pytest.mark.parametrize("idx, val, says", BAD[:1] + BAD[3:5], ids=BAD_IDS[:1] + BAD_IDS[3:5])
def test_stats_names_each_bad_sparse_record_once(tmp_path, capsys, idx, val, says):
    spec = tmp_path / "s.feat"
    spec.write_text("input v: sparse float32[10] from (idx, val)\nfeature s = sum(v)\n")
    good = example(idx=[0, 9], val=[1.0, 2.0])
    data = write_records(tmp_path / "d.tfrecord", [good, example(idx=idx, val=val), good])
    assert cli.main(["stats", str(spec), "--data", data, "-o", str(tmp_path / "p.json")]) == 1
    err = capsys.readouterr().err
    assert re.search(f"^{re.escape(data)}: record 1: column v: {says}", err, re.M), err
    assert err.count(f"{data}: record 1") == 1, err
