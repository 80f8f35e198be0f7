"""Profiles of data sets (skewless.profile, ``skewless stats``): every statistic checked
against numpy or counting by hand on generated records, determinism, the data errors of
records that break the spec, and the command on the example's data."""
from __future__ import annotations

import json
import math
import random
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf
import hypothesis
from hypothesis import given, settings, strategies as st

from skewless import cli, compiler
from skewless.errors import SkewlessError
from skewless.profile import Settings, profile, read_profile
from skewless_test_helpers import FLIGHTS, QUIET, example, make_data, write_records
from property_budget import BUDGET, count

pytestmark = pytest.mark.usefixtures("quiet_tensorflow")

SPEC = """\
spec profiled
input x: float32 = 0.0
input n: int64 = 7
input s: string = ""
input words: string[]
input v: float32[2]
feature x2 = x * 2.0
feature word_id = vocab(words, vocabulary=["a", "b"], oov_buckets=1) | pad(length=4, value=-1)
feature s
feature n
"""
VOCABULARY = {"a", "b"}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "profiled.feat"
    path.write_text(SPEC)
    return compiler.constants_for(str(path))[0]


def _row():
    floats = st.one_of(st.floats(-1e6, 1e6, width=32),
                       st.sampled_from([math.nan, math.inf, -math.inf, 0.5, 0.5]))
    return st.fixed_dictionaries({
        "x": st.one_of(st.none(), floats),
        "n": st.one_of(st.none(), st.integers(-5, 5), st.integers(-2**63, 2**63 - 1)),
        "s": st.one_of(st.none(), st.sampled_from(["", "p", "q", "r", "é", "\u91cd"])),
        "words": st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4),
        "v": st.lists(st.floats(-100, 100, width=32), min_size=2, max_size=2),
    })


def _records(rows):
    return [example(x=row["x"], n=row["n"], s=row["s"], words=row["words"], v=row["v"])
            for row in rows]


def _numbers_match(summary: dict, values: np.ndarray) -> None:
    """min, max, mean and std of the finite ``values`` (float64); histogram counts as
    np.histogram counts them over the profile's edges, open at both ends. The profile's
    moments are exact sums rounded once; numpy's float64 sums of at most a few hundred
    values err by far less than the 1e-9 relative tolerance."""
    finite = values[np.isfinite(values)]
    numbers = summary["numbers"]
    assert numbers["count"] == finite.size
    if finite.size:
        assert numbers["min"] == finite.min() and numbers["max"] == finite.max()
        assert numbers["mean"] == pytest.approx(finite.mean(), rel=1e-9, abs=1e-9)
        assert numbers["std"] == pytest.approx(finite.std(), rel=1e-9, abs=1e-6)
    edges = numbers["histogram"]["edges"]
    expected, _ = np.histogram(finite, bins=[-np.inf, *edges, np.inf])
    assert numbers["histogram"]["counts"] == expected.tolist()


def _flushed(values: np.ndarray) -> np.ndarray:
    """float32 ``values`` with subnormals made ±0, as TensorFlow's CPU kernels read and
    write them in arithmetic (docs/language.md); numpy keeps them."""
    subnormal = np.abs(values) < np.finfo(np.float32).tiny
    return np.where(subnormal, np.copysign(np.float32(0), values), values)


def _top(values: list, k: int) -> list:
    counts = Counter(values)
    key = (lambda v: v.encode("utf-8")) if values and isinstance(values[0], str) else (lambda v: v)
    return [[v, c] for v, c in sorted(counts.items(), key=lambda vc: (-vc[1], key(vc[0])))][:k]


@settings(max_examples=max(5, BUDGET.max_examples // 5), deadline=None, suppress_health_check=QUIET)
@given(rows=st.lists(_row(), min_size=1, max_size=60), batch_size=st.integers(1, 16),
       bins=st.integers(2, 6))
@hypothesis.example(  # subnormal inputs and results: TensorFlow computes x * 2 with them as ±0
    rows=[{"x": -2.8e-45, "n": None, "s": None, "words": [], "v": [1e-40, 2.0]},
          {"x": 1e-39, "n": 1, "s": "p", "words": ["a"], "v": [-1e-45, 3.0]}]
    + [{"x": float(i), "n": i, "s": "q", "words": [], "v": [0.0, 1.0]} for i in range(8)],
    batch_size=3, bins=2)
def test_every_statistic_is_what_numpy_computes(graph, tmp_path_factory, rows, batch_size, bins):
    count("profile statistics", 1)
    path = write_records(tmp_path_factory.mktemp("data") / "d.tfrecord", _records(rows))
    top_k = 3
    found = profile(graph, path, Settings(bins=bins, top_k=top_k), batch_size=batch_size)
    assert found.errors == [] and found.profile.invalid_records == 0
    inputs, features = found.profile.columns["inputs"], found.profile.columns["features"]
    assert found.profile.records == len(rows)
    for name in ("x", "n", "s", "words", "v"):
        assert inputs[name]["examples"] == len(rows)
    for name in ("x", "n", "s"):  # defaults are not profiled as values: missing counts them
        assert inputs[name]["missing"] == sum(row[name] is None for row in rows)
    assert inputs["words"]["missing"] == sum(not row["words"] for row in rows)

    x = np.array([row["x"] for row in rows if row["x"] is not None], np.float32).astype(np.float64)
    assert inputs["x"]["nan"] == int(np.isnan(x).sum())
    assert inputs["x"]["inf"] == int(np.isinf(x).sum())
    _numbers_match(inputs["x"], x)
    finite = x[np.isfinite(x)]
    if finite.size:  # edges: bucketize's quantiles, exact below 32768 values
        ranks = [-(-i * (finite.size - 1) // bins) for i in range(1, bins)]
        assert inputs["x"]["numbers"]["histogram"]["edges"] == np.unique(
            np.sort(finite)[ranks]).tolist()
    x2 = _flushed(_flushed(np.array([row["x"] if row["x"] is not None else 0.0 for row in rows],
                                     np.float32)) * np.float32(2)).astype(np.float64)
    assert features["x2"]["nan"] == int(np.isnan(x2).sum())
    _numbers_match(features["x2"], x2)

    n = [row["n"] for row in rows if row["n"] is not None]
    _numbers_match(inputs["n"], np.array(n, np.float64) if n else np.zeros(0))
    assert inputs["n"]["values"] == {"distinct": len(set(n)), "exact": True, "top": _top(n, top_k)}
    feature_n = [row["n"] if row["n"] is not None else 7 for row in rows]
    assert features["n"]["values"]["top"] == _top(feature_n, top_k)

    s = [row["s"] for row in rows if row["s"] is not None]
    assert inputs["s"]["values"] == {"distinct": len(set(s)), "exact": True, "top": _top(s, top_k)}
    assert "numbers" not in inputs["s"]

    lengths = Counter(len(row["words"]) for row in rows)
    assert inputs["words"]["lengths"] == [[k, lengths[k]] for k in sorted(lengths)]
    tokens = [w for row in rows for w in row["words"]]
    oov = sum(w not in VOCABULARY for w in tokens)
    assert features["word_id"]["oov"] == {"tokens": len(tokens), "oov": oov,
                                           "rate": oov / len(tokens) if tokens else None}
    v = np.array([row["v"] for row in rows], np.float32).astype(np.float64).reshape(-1)
    _numbers_match(inputs["v"], v)


def _rows(count_: int, seed: int):
    rng = random.Random(seed)
    return [{"x": rng.choice([None, math.nan, rng.uniform(-9, 9)]), "n": rng.randrange(40),
             "s": rng.choice(["p", "q", "r", None]),
             "words": rng.sample(["a", "b", "c"], rng.randrange(3)),
             "v": [rng.uniform(0, 1), rng.uniform(0, 1)]} for _ in range(count_)]


def test_same_data_gives_a_byte_identical_file_whatever_the_record_order(graph, tmp_path):
    records = _records(_rows(300, seed=1))
    first = write_records(tmp_path / "a.tfrecord", records)
    again = profile(graph, first, batch_size=64).profile.to_json()
    assert profile(graph, first, batch_size=64).profile.to_json() == again
    shuffled = records[:]
    random.Random(2).shuffle(shuffled)  # and split across two files, other batches
    parts = [write_records(tmp_path / "b1.tfrecord", shuffled[:111]),
             write_records(tmp_path / "b2.tfrecord", shuffled[111:])]
    assert profile(graph, parts[::-1], batch_size=17).profile.to_json() == again


def test_csv_rows_give_the_profile_of_their_tf_examples(graph, tmp_path):
    """The same rows as CSV (written by hand: an empty field is a missing value, list values
    joined by |) and as tf.Examples give byte-identical profiles. Floats are written with
    their float32 value's shortest text, which reads back as the same float32."""
    rows = [{**row, "words": row["words"] or ["a"]} for row in _rows(200, seed=3)]

    def field(value):
        if value is None:
            return ""
        if isinstance(value, list):
            return "|".join(field(item) for item in value)
        if isinstance(value, float):
            return repr(float(np.float32(value)))
        return str(value)

    lines = ["x,n,s,words,v"] + [",".join(field(row[key]) for key in ("x", "n", "s", "words",
                                                                     "v")) for row in rows]
    csv_file = tmp_path / "rows.csv"
    csv_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tfrecord = write_records(tmp_path / "rows.tfrecord", _records(rows))
    expected = profile(graph, tfrecord, batch_size=64).profile.to_json()
    assert profile(graph, str(csv_file), batch_size=64).profile.to_json() == expected


def test_past_the_distinct_limit_sketches_estimate_within_their_bounds(graph, tmp_path):
    """3000 distinct int64 values, one taking a third of the records: the HyperLogLog
    estimate within 4 standard errors (1.6 % each), the heavy hitter's count within the
    frequent-items sketch's error, in any order of the records."""
    values = [10**6] * 1500 + list(range(3000))
    rows = [{"x": 1.0, "n": value, "s": "p", "words": [], "v": [0.0, 0.0]} for value in values]
    records = _records(rows)
    path = write_records(tmp_path / "a.tfrecord", records)
    found = profile(graph, path, Settings(distinct_limit=100), batch_size=256).profile
    summary = found.columns["inputs"]["n"]["values"]
    assert summary["exact"] is False
    assert abs(summary["distinct"] - 3001) <= 4 * 0.016 * 3001
    value, estimate = summary["top"][0]
    assert value == 10**6 and abs(estimate - 1500) <= summary["top_max_error"]
    random.Random(3).shuffle(records)
    other = write_records(tmp_path / "b.tfrecord", records)
    shuffled = profile(graph, other, Settings(distinct_limit=100), batch_size=100).profile
    summary = shuffled.columns["inputs"]["n"]["values"]
    assert abs(summary["distinct"] - 3001) <= 4 * 0.016 * 3001
    assert abs(dict(map(tuple, summary["top"]))[10**6] - 1500) <= summary["top_max_error"]


def test_a_baseline_gives_its_bin_edges(graph, tmp_path):
    train = write_records(tmp_path / "train.tfrecord", _records(_rows(200, seed=4)))
    serving_rows = _rows(50, seed=5)
    serving = write_records(tmp_path / "serve.tfrecord", _records(serving_rows))
    baseline = profile(graph, train).profile
    found = profile(graph, serving, baseline=baseline).profile
    assert found.settings["edges"] == "baseline"
    for section in ("inputs", "features"):
        for name, column in found.columns[section].items():
            if "numbers" in column:
                assert (column["numbers"]["histogram"]["edges"]
                        == baseline.columns[section][name]["numbers"]["histogram"]["edges"])
    x = np.array([r["x"] for r in serving_rows if r["x"] is not None], np.float32)
    _numbers_match(found.columns["inputs"]["x"], x.astype(np.float64))


@pytest.mark.parametrize("edges", [[5, 3], [1, 1], [1, "x"], [float("nan")], [1, None],
                                   [True], "1,2", [float("inf")]])
def test_a_baseline_with_edges_out_of_order_or_not_numbers_is_refused(graph, tmp_path, edges):
    data = write_records(tmp_path / "d.tfrecord", _records(_rows(20, seed=6)))
    baseline = profile(graph, data).profile
    baseline.columns["inputs"]["x"]["numbers"]["histogram"]["edges"] = edges
    with pytest.raises(SkewlessError, match="the histogram edges of input 'x' must be finite "
                                            "numbers in increasing order"):
        profile(graph, data, baseline=baseline, baseline_path="b.json")


@pytest.mark.parametrize("edit, said", [
    ({"examples": "20"}, "examples must be a whole number, at least 0: got '20'"),
    ({"examples": -100}, "examples must be a whole number, at least 0: got -100"),
    ({"missing": 1e300}, "missing must be a whole number, at least 0: got 1e+300"),
    ({"nan": True}, "nan must be a whole number, at least 0: got True"),
    ({"examples": 3, "missing": 4}, "missing (4) is more than examples (3)"),
])
def test_a_profile_with_impossible_counts_is_refused_naming_them(graph, tmp_path, edit, said):
    data = write_records(tmp_path / "d.tfrecord", _records(_rows(20, seed=7)))
    payload = json.loads(profile(graph, data).profile.to_json())
    payload["inputs"]["x"].update(edit)
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(payload))
    with pytest.raises(SkewlessError) as raised:
        read_profile(str(edited))
    assert str(raised.value) == f"{edited}: error: input 'x': {said}"


GOOD = dict(x=1.5, n=3, s="p", words=["a"], v=[1.0, 2.0])
BROKEN = [  # (record, what the error says after "column C: ")
    (example(**{**GOOD, "x": 4}), "x: holds int64_list values, but is declared float32 (float_list values)"),
    (example(**{**GOOD, "v": None}), "v: missing (it is required: it has no default)"),
    (example(**{**GOOD, "v": [1.0, 2.0, 3.0]}), "v: 3 values, but it holds 2 (float32[2])"),
    (example(**{**GOOD, "s": ["p", "q"]}), "s: 2 values, but it holds 1 (string)"),
    (example(**{**GOOD, "words": [1, 2]}), "words: holds int64_list values, but is declared "
                                            "string (bytes_list values)"),
]


def test_every_record_that_breaks_the_spec_is_named_and_left_out(graph, tmp_path):
    records = [example(**GOOD)]
    for record, _ in BROKEN:
        records += [record, example(**GOOD)]
    records.append(b"\x0a\xff not a tf.Example")
    path = write_records(tmp_path / "mixed.tfrecord", records)
    found = profile(graph, path, batch_size=4)
    expected = [f"{path}: record {2 * i + 1}: column {what}" for i, (_, what) in enumerate(BROKEN)]
    assert found.errors[:len(BROKEN)] == expected
    assert found.errors[-1].startswith(f"{path}: record {len(records) - 1}: not a tf.train.Example")
    assert found.error_count == len(BROKEN) + 1
    assert found.profile.invalid_records == len(BROKEN) + 1
    assert found.profile.records == len(BROKEN) + 1
    assert found.profile.columns["inputs"]["x"]["numbers"]["mean"] == 1.5
    limited = profile(graph, path, batch_size=4, max_errors=2)
    assert limited.errors == expected[:2] and limited.error_count == len(BROKEN) + 1


@pytest.fixture(scope="module")
def flights(tmp_path_factory):
    root = tmp_path_factory.mktemp("flights")
    make_data().write_dataset(root, rows=400, shards=2, seed=3)
    stats = root / "flights.stats.json"
    assert cli.main(["analyze", str(FLIGHTS / "flights.feat"), "--data",
                     str(root / "train-*"), "-o", str(stats)]) == 0
    return root, stats


def test_the_command_profiles_the_example_data(flights, capsys):
    root, stats = flights
    spec = str(FLIGHTS / "flights.feat")
    train, serve = root / "train.profile.json", root / "serve.profile.json"
    assert cli.main(["stats", spec, "--stats", str(stats), "--data", str(root / "train-*"),
                     "-o", str(train)]) == 0
    assert cli.main(["stats", spec, "--stats", str(stats), "--data", str(root / "serve.tfrecord"),
                     "--baseline", str(train), "-o", str(serve)]) == 0
    assert "wrote" in capsys.readouterr().out
    trained, served = read_profile(str(train)), read_profile(str(serve))
    payload = json.loads(train.read_text())
    assert payload["format"] == "skewless-profile/1" and payload["records"] == 400
    assert sorted(payload["inputs"]) == sorted(["carrier", "origin", "dest", "tailnum",
                                                "distance", "sched_dep_time", "dep_delay",
                                                "tags", "position"])
    assert sorted(payload["features"]) == sorted(["distance_z", "delay_log", "carrier_id",
                                                  "dest_id", "tail_bucket", "hour_bucket",
                                                  "dep_q", "route", "tag_ids", "carrier"])
    assert payload["inputs"]["tailnum"]["missing"] > 0  # the data leaves out ~10 %
    assert payload["features"]["carrier_id"]["oov"]["oov"] == 0  # its own vocabulary
    assert served.columns["inputs"]["distance"]["numbers"]["histogram"]["edges"] == \
        trained.columns["inputs"]["distance"]["numbers"]["histogram"]["edges"]


def test_the_command_lists_data_errors_and_exits_1(flights, tmp_path, capsys):
    root, stats = flights
    good = tf.data.TFRecordDataset(str(root / "serve.tfrecord")).take(1).get_single_element()
    data = write_records(tmp_path / "bad.tfrecord", [example(carrier="AA", origin="JFK"),
                                                     good.numpy()])
    output = tmp_path / "p.json"
    command = ["stats", str(FLIGHTS / "flights.feat"), "--stats", str(stats), "--data", data,
               "-o", str(output)]
    assert cli.main(command) == 1
    err = capsys.readouterr().err
    assert f"{data}: record 0: column dest: missing (it is required: it has no default)" in err
    assert "1 of 2 records break the spec" in err
    assert read_profile(str(output)).records == 1
    write_records(data, [example(carrier="AA", origin="JFK")])
    assert cli.main(command) == 1
    err = capsys.readouterr().err
    assert "every record breaks the spec" in err
    assert f"{data}: record 0: column dest: missing" in err


def test_the_command_needs_the_analyzer_constants(flights, tmp_path, capsys):
    root, _ = flights
    assert cli.main(["stats", str(FLIGHTS / "flights.feat"), "--data", str(root / "train-*"),
                     "-o", str(tmp_path / "p.json")]) == 1
    assert "give 'skewless stats' --stats FILE" in capsys.readouterr().err
