"""The compiled module: deterministic bytes, exactly the documented names, the same tensors
as ``skewless.load``, values checked independently with numpy, ``compile --check``, and
atomic output."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import skewless
from skewless import compiler
from skewless.cli import main
from skewless_test_helpers import (FLIGHTS, REPO, assert_same_dict, import_module, make_data)

# The example's columns with features from most families of the standard library; every
# analyzer is given its constants, so no data pass is needed.
SPEC = """\
# flights, for the tests of the compiled module
spec flights_test

input carrier: string
input origin: string
input dest: string
input tailnum: string = ""
input distance: int64
input sched_dep_time: int64
input dep_delay: float32 = 0.0
input tags: string[]
input position: float32[2]

label arr_delay: float32
weight importance: float32 = 1.0

let hour = sched_dep_time // 100

feature distance_z      = zscore(distance, mean=1000, std=600)
feature delay_log       = dep_delay | clip(0, 1000) | log1p
feature carrier_id      = lookup(carrier, ["AA", "UA", "DL", "WN", "B6"], oov_buckets=1)
feature dest_id         = dest | lower | hash(buckets=64, salt=7)
feature no_tail         = cast(tailnum == "", int64)
feature route           = cross(origin, dest, buckets=512)
feature tag_ids         = tags | hash(buckets=64, salt=[1, 2]) | pad(length=4, value=-1)
feature tag_count       = count(tags)
feature position_scaled = position * 2.0
feature morning         = hour < 12
feature carrier

target late  = cast(arr_delay > 15, int64)
target delay = arr_delay
"""

CARRIERS = ["AA", "UA", "DL", "WN", "B6"]

# LANGUAGE.md's table of what compiling produces, plus keras_inputs and COLUMNS (documented
# extensions in docs/usage.md).
MODULE_NAMES = {
    "RAW_FEATURE_SPEC", "SERVING_FEATURE_SPEC", "FEATURE_KEYS", "TARGET_KEYS", "LABEL_KEYS",
    "WEIGHT_KEY", "transform_features", "transform_targets", "input_fn",
    "serving_input_receiver_fn", "raw_serving_input_receiver_fn", "SPEC_FINGERPRINT",
    "keras_inputs", "COLUMNS",
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The spec, its compiled module and the example data (2 training shards, serve file)."""
    root = tmp_path_factory.mktemp("codegen")
    (root / "flights.feat").write_text(SPEC, encoding="utf-8")
    paths = make_data().write_dataset(root / "data", rows=300, shards=2, seed=11)
    assert main(["compile", str(root / "flights.feat"), "-o", str(root / "flights_features.py")]) == 0
    return root, paths


@pytest.fixture(scope="module")
def generated(workdir):
    root, _ = workdir
    return import_module(root / "flights_features.py", "flights_features_under_test")


@pytest.fixture(scope="module")
def loaded(workdir):
    root, _ = workdir
    return skewless.load(str(root / "flights.feat"))


# ---- determinism -----------------------------------------------------------------------------


def test_compiling_twice_gives_identical_bytes(workdir, tmp_path):
    root, _ = workdir
    first = (root / "flights_features.py").read_bytes()
    again = tmp_path / "flights_features.py"
    assert main(["compile", str(root / "flights.feat"), "-o", str(again)]) == 0
    assert again.read_bytes() == first


def test_identical_bytes_across_processes_with_different_hash_seeds(workdir, tmp_path):
    """Set and dict orders that depend on string hashing must not reach the output."""
    root, _ = workdir
    outputs = []
    for seed in ("1", "2"):
        (tmp_path / seed).mkdir()
        output = tmp_path / seed / "flights_features.py"
        env = dict(os.environ, PYTHONHASHSEED=seed, TF_CPP_MIN_LOG_LEVEL="3")
        subprocess.run([sys.executable, "-m", "skewless", "compile", str(root / "flights.feat"),
                        "-o", str(output)], check=True, env=env, cwd=tmp_path,
                       capture_output=True)
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1] == (root / "flights_features.py").read_bytes()


def test_the_output_does_not_depend_on_where_the_spec_is(workdir, tmp_path, monkeypatch):
    root, _ = workdir
    (tmp_path / "flights.feat").write_text(SPEC, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "flights.feat"]) == 0  # the default output: beside the spec
    assert (tmp_path / "flights_features.py").read_bytes() == \
        (root / "flights_features.py").read_bytes()


def test_the_fingerprint_changes_with_a_constant(tmp_path):
    (tmp_path / "a.feat").write_text(SPEC, encoding="utf-8")
    (tmp_path / "b.feat").write_text(SPEC.replace("std=600", "std=601"), encoding="utf-8")
    (tmp_path / "c.feat").write_text("# only a comment differs\n" + SPEC, encoding="utf-8")
    a, b, c = (compiler.check_file(str(tmp_path / f"{n}.feat")).fingerprint() for n in "abc")
    assert a != b
    assert a == c


# ---- the module's names ----------------------------------------------------------------------


def test_the_module_has_exactly_the_documented_names(generated):
    public = {name for name in vars(generated) if not name.startswith("_")}
    assert public == MODULE_NAMES


def test_the_loaded_spec_has_the_same_names(loaded):
    for name in MODULE_NAMES - {"COLUMNS"}:
        assert hasattr(loaded, name), name


def test_keys_and_fingerprint(generated, loaded):
    assert generated.FEATURE_KEYS == (
        "distance_z", "delay_log", "carrier_id", "dest_id", "no_tail", "route", "tag_ids",
        "tag_count", "position_scaled", "morning", "carrier")
    assert generated.TARGET_KEYS == ("late", "delay")
    assert generated.LABEL_KEYS == ("arr_delay",)
    assert generated.WEIGHT_KEY == "importance"
    assert len(generated.SPEC_FINGERPRINT) == 16
    int(generated.SPEC_FINGERPRINT, 16)
    for name in ("FEATURE_KEYS", "TARGET_KEYS", "LABEL_KEYS", "WEIGHT_KEY", "SPEC_FINGERPRINT"):
        assert getattr(loaded, name) == getattr(generated, name), name


def test_parse_specs(generated, loaded):
    fixed = tf.io.FixedLenFeature
    serving = {
        "carrier": fixed([], tf.string),
        "origin": fixed([], tf.string),
        "dest": fixed([], tf.string),
        "tailnum": fixed([], tf.string, ""),
        "distance": fixed([], tf.int64),
        "sched_dep_time": fixed([], tf.int64),
        "dep_delay": fixed([], tf.float32, 0.0),
        "tags": tf.io.RaggedFeature(tf.string, row_splits_dtype=tf.int64),
        "position": fixed([2], tf.float32),
    }
    raw = dict(serving, arr_delay=fixed([], tf.float32), importance=fixed([], tf.float32, 1.0))
    assert generated.SERVING_FEATURE_SPEC == serving
    assert generated.RAW_FEATURE_SPEC == raw
    assert loaded.SERVING_FEATURE_SPEC == serving
    assert loaded.RAW_FEATURE_SPEC == raw


# ---- the same tensors, and the right ones ----------------------------------------------------


def _records(paths):
    return [bytes(r.numpy()) for r in tf.data.TFRecordDataset(paths)]


def _column(examples, name, default=None):
    """One column of parsed tf.Examples as python values (lists for list features)."""
    out = []
    for ex in examples:
        feature = ex.features.feature.get(name)
        if feature is None:
            out.append(default)
            continue
        kind = feature.WhichOneof("kind")
        out.append(list(getattr(feature, kind).value))
    return out


def test_generated_module_and_load_give_identical_tensors(workdir, generated, loaded):
    _, paths = workdir
    train, serve = paths[:-1], paths[-1]
    batches = 0
    for gen, ref in zip(generated.input_fn(train, batch_size=64, shuffle=False),
                        loaded.input_fn(train, batch_size=64, shuffle=False), strict=True):
        assert len(gen) == len(ref) == 3
        assert_same_dict(gen[0], ref[0], "features")
        assert_same_dict(gen[1], ref[1], "targets")
        np.testing.assert_array_equal(gen[2].numpy(), ref[2].numpy())
        batches += 1
    assert batches == 5  # 300 records in batches of 64

    serialized = tf.constant(_records([serve]))
    assert_same_dict(generated.serving_input_receiver_fn()(serialized),
                     loaded.serving_input_receiver_fn()(serialized), "serving")

    raw = tf.io.parse_example(serialized, generated.SERVING_FEATURE_SPEC)
    assert_same_dict(generated.raw_serving_input_receiver_fn()(raw),
                     loaded.raw_serving_input_receiver_fn()(raw), "raw serving")
    assert_same_dict(generated.transform_features(raw), loaded.transform_features(raw), "direct")


def test_values_match_an_independent_computation(workdir, generated):
    _, paths = workdir
    train = paths[:-1]
    examples = [tf.train.Example.FromString(r) for r in _records(train)]
    features, targets, weights = {}, {}, []
    for batch in generated.input_fn(train, batch_size=128, shuffle=False):
        for name, value in batch[0].items():
            features.setdefault(name, []).append(value)
        for name, value in batch[1].items():
            targets.setdefault(name, []).append(value)
        weights.append(batch[2].numpy())
    dense = {name: np.concatenate([v.numpy() for v in values])
             for name, values in {**features, **targets}.items()}
    n = len(examples)
    assert n == 300

    distance = np.array([v[0] for v in _column(examples, "distance")], np.int64)
    np.testing.assert_allclose(dense["distance_z"], (distance - 1000) / 600, rtol=1e-6)

    dep_delay = np.array([v[0] for v in _column(examples, "dep_delay", [0.0])], np.float32)
    assert np.isnan(dep_delay).any()  # the example data has NaN delays: they stay NaN
    np.testing.assert_allclose(dense["delay_log"], np.log1p(np.clip(dep_delay, 0, 1000)),
                               rtol=1e-6)

    carrier = [v[0].decode() for v in _column(examples, "carrier")]
    expected_ids = [CARRIERS.index(c) if c in CARRIERS else len(CARRIERS) for c in carrier]
    np.testing.assert_array_equal(dense["carrier_id"], expected_ids)
    assert set(expected_ids) == set(range(6))
    np.testing.assert_array_equal(dense["carrier"], [c.encode() for c in carrier])

    tailnum = [v[0].decode() if v else "" for v in _column(examples, "tailnum", [])]
    np.testing.assert_array_equal(dense["no_tail"], [int(t == "") for t in tailnum])
    assert 0 < sum(t == "" for t in tailnum) < n

    tags = _column(examples, "tags", [])
    np.testing.assert_array_equal(dense["tag_count"], [len(t) for t in tags])
    padded = dense["tag_ids"]
    assert padded.shape == (n, 4)
    for row, row_tags in zip(padded, tags):
        k = min(len(row_tags), 4)
        assert ((row[:k] >= 0) & (row[:k] < 64)).all()
        assert (row[k:] == -1).all()

    dest = [v[0].decode() for v in _column(examples, "dest")]
    ids_by_dest = {}
    for d, i in zip(dest, dense["dest_id"]):
        ids_by_dest.setdefault(d.lower(), set()).add(int(i))
    assert all(len(ids) == 1 for ids in ids_by_dest.values())  # lower() before hashing
    assert any(d != d.upper() for d in dest)  # the data has mixed-case codes
    assert ((dense["dest_id"] >= 0) & (dense["dest_id"] < 64)).all()
    assert ((dense["route"] >= 0) & (dense["route"] < 512)).all()

    position = np.array(_column(examples, "position"), np.float32)
    np.testing.assert_array_equal(dense["position_scaled"], position * 2)

    sched = np.array([v[0] for v in _column(examples, "sched_dep_time")], np.int64)
    np.testing.assert_array_equal(dense["morning"], sched // 100 < 12)

    arr_delay = np.array([v[0] for v in _column(examples, "arr_delay")], np.float32)
    np.testing.assert_array_equal(dense["delay"], arr_delay)
    np.testing.assert_array_equal(dense["late"], (arr_delay > 15).astype(np.int64))

    importance = np.array([v[0] for v in _column(examples, "importance", [1.0])], np.float32)
    np.testing.assert_array_equal(np.concatenate(weights), importance)
    assert (importance == 1.0).sum() > 50  # ~30% of the records lack a weight


def test_serving_never_reads_labels(workdir, generated):
    """The serve file has no label or weight columns; the receivers do not need them."""
    _, paths = workdir
    records = _records([paths[-1]])
    assert all("arr_delay" not in tf.train.Example.FromString(r).features.feature for r in records)
    features = generated.serving_input_receiver_fn()(tf.constant(records))
    assert list(features) == list(generated.FEATURE_KEYS)
    assert features["distance_z"].shape == (len(records),)


def test_the_flights_example_compiles_with_data(workdir, tmp_path):
    """The example spec's analyzers take their constants from the example data."""
    _, paths = workdir
    output = tmp_path / "flights_features.py"
    assert main(["compile", str(FLIGHTS / "flights.feat"), "--data", *paths[:-1],
                 "-o", str(output)]) == 0
    module = import_module(output, "flights_example_features")
    assert module.LABEL_KEYS == ("arr_delay",) and module.WEIGHT_KEY == "importance"
    features = module.serving_input_receiver_fn()(tf.constant(_records([paths[-1]])))
    assert list(features) == list(module.FEATURE_KEYS)
    assert all(features[name].shape[0] == 20 for name in module.FEATURE_KEYS)


# ---- compile --check -------------------------------------------------------------------------


def test_check_passes_when_up_to_date(workdir, capsys):
    root, _ = workdir
    output = root / "flights_features.py"
    before = output.stat().st_mtime_ns
    assert main(["compile", str(root / "flights.feat"), "-o", str(output), "--check"]) == 0
    assert capsys.readouterr().out == f"{output} is up to date\n"
    assert output.stat().st_mtime_ns == before


def test_check_fails_when_stale_or_missing(tmp_path, capsys):
    spec = tmp_path / "s.feat"
    output = tmp_path / "s_features.py"
    spec.write_text(SPEC, encoding="utf-8")

    assert main(["compile", str(spec), "--check"]) == 1  # the default output: missing
    err = capsys.readouterr().err
    assert err.startswith(f"{output} is ") and f"skewless compile {spec} -o {output}" in err
    assert f"{output} is missing" in err and "different" not in err
    assert not output.exists()

    assert main(["compile", str(spec)]) == 0
    assert output.is_file()
    capsys.readouterr()
    assert main(["compile", str(spec), "--check"]) == 0

    spec.write_text(SPEC.replace("mean=1000", "mean=999"), encoding="utf-8")
    before = output.read_bytes()
    assert main(["compile", str(spec), "--check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{output} is stale") and f"skewless compile {spec} -o {output}" in err
    assert f"{output} is different" in err and "missing" not in err
    assert output.read_bytes() == before  # --check writes nothing

    output.write_text(before.decode("utf-8") + "# edited by hand\n", encoding="utf-8")
    spec.write_text(SPEC, encoding="utf-8")
    assert main(["compile", str(spec), "--check"]) == 1


def test_check_of_a_spec_with_errors_fails_with_the_errors(tmp_path, capsys):
    spec = tmp_path / "bad.feat"
    spec.write_text("input a: int64\nfeature x = log1p(aa)\n", encoding="utf-8")
    assert main(["compile", str(spec), "--check"]) == 1
    assert "undefined name 'aa' (did you mean 'a'?)" in capsys.readouterr().err


# ---- atomic output ---------------------------------------------------------------------------


def test_an_existing_output_is_untouched_when_the_spec_has_errors(tmp_path, capsys):
    spec = tmp_path / "s.feat"
    output = tmp_path / "out.py"
    spec.write_text(SPEC, encoding="utf-8")
    assert main(["compile", str(spec), "-o", str(output)]) == 0
    good = output.read_bytes()
    spec.write_text(SPEC.replace("log1p", "log1q"), encoding="utf-8")
    assert main(["compile", str(spec), "-o", str(output)]) == 1
    assert "unknown function 'log1q'" in capsys.readouterr().err
    assert output.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.py", "s.feat"]


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch, capsys):
    import skewless.files

    spec = tmp_path / "s.feat"
    output = tmp_path / "out.py"
    spec.write_text(SPEC, encoding="utf-8")
    output.write_text("# the previous module\n", encoding="utf-8")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(skewless.files.os, "replace", fail)
    assert main(["compile", str(spec), "-o", str(output)]) == 1
    err = capsys.readouterr().err
    assert err == f"cannot write {output}: No space left on device\n"
    assert output.read_text(encoding="utf-8") == "# the previous module\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.py", "s.feat"]


def test_an_unwritable_output_is_a_message_not_a_traceback(tmp_path, capsys):
    spec = tmp_path / "s.feat"
    spec.write_text(SPEC, encoding="utf-8")
    (tmp_path / "a_file").write_text("", encoding="utf-8")
    output = tmp_path / "a_file" / "out.py"  # its directory is a file
    assert main(["compile", str(spec), "-o", str(output)]) == 1
    assert capsys.readouterr().err.startswith(f"cannot write {output}: ")


def test_the_written_module_is_complete_python(workdir):
    root, _ = workdir
    text = (root / "flights_features.py").read_text(encoding="utf-8")
    compile(text, "flights_features.py", "exec")
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert str(REPO) not in text and str(root) not in text  # no absolute paths baked in
