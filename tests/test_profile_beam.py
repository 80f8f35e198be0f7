"""Profiles on Apache Beam (skewless.profile.beam): the same profile file as the local engine
(which tests/test_profile.py checks against numpy), byte for byte, whatever the order, split
and batching of the data, with and without a baseline; the same data errors in the same
order; two worker processes; the command line's --runner beam, TFRecord and CSV."""
from __future__ import annotations

import math
import pickle
import random
import sys

import apache_beam as beam
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from skewless import compiler
from skewless.beam_pipeline import run_for_result
from skewless.cli import main
from skewless.errors import DataError, SkewlessError
from skewless.profile import Profile, profile, read_profile
from skewless.profile.accumulators import Values
from skewless.profile.beam import ProfileSpec, profile as profile_on_beam
from csv_writing import write_csv
from skewless_test_helpers import QUIET, example, write_records
from property_budget import BUDGET, count

pytestmark = pytest.mark.usefixtures("quiet_tensorflow")

# Two threads: the work is split into bundles whose accumulators Beam merges.
TWO_WORKERS = ["--direct_num_workers", "2", "--direct_running_mode", "multi_threading"]
# Two worker processes: every step's functions and accumulators are pickled to reach them.
TWO_PROCESSES = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]

SPEC = """\
spec profiled_on_beam
input x: float32 = 0.0
input n: int64 = 7
input s: string = ""
input words: string[]
input counts: int64[]
input v: float32[2]
feature x2 = x * 2.0
feature word_id = vocab(words, vocabulary=["a", "b"], oov_buckets=1) | pad(length=4, value=-1)
feature s_id = vocab(s, vocabulary=["p", "q"], oov_buckets=2)
feature s
feature n
"""
COLUMNS = ("x", "n", "s", "words", "counts", "v")


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "profiled.feat"
    path.write_text(SPEC)
    return compiler.constants_for(str(path))[0]


def _records(rows: list) -> list:
    """The rows as tf.Examples; an empty int64 list is left out (an empty list is written as
    an empty bytes_list, which tf.io.parse_example refuses for int64 values)."""
    return [example(**{name: row[name] for name in COLUMNS if name != "counts"},
                    counts=row["counts"] or None) for row in rows]


def _rows(count_: int, seed: int, distinct: int = 3) -> list:
    """Rows with missing values, NaN and ±inf, variable-length lists (empty ones too), out of
    vocabulary words, and ``distinct`` different strings in ``s``."""
    rng = random.Random(seed)
    strings = [f"s{i}-é" for i in range(distinct)] + ["p", "q"]
    return [{"x": rng.choice([None, math.nan, math.inf, -math.inf, rng.uniform(-9, 9),
                              rng.uniform(-9, 9)]),
             "n": rng.choice([None, rng.randrange(40), rng.randrange(-2**63, 2**63)]),
             "s": rng.choice([None, *strings]),
             "words": rng.sample(["a", "b", "c", "é"], rng.randrange(5)),
             "counts": [rng.randrange(-3, 3) for _ in range(rng.randrange(4))],
             "v": [rng.uniform(0, 1), rng.uniform(-1e6, 1e6)]} for _ in range(count_)]


def _on_beam(graph, records: list, batch_size: int, baseline=None, options=()):
    """The Result of ProfileSpec over the records, in a pipeline of one's own."""
    return run_for_result(lambda pipeline: (
        pipeline
        | beam.Create(records)
        | ProfileSpec(graph, baseline=baseline, batch_size=batch_size)), options)


@pytest.fixture(scope="module")
def baseline(graph, tmp_path_factory):
    path = write_records(tmp_path_factory.mktemp("baseline") / "b.tfrecord",
                         _records(_rows(80, seed=11)))
    return profile(graph, path).profile


def _row():
    floats = st.one_of(st.floats(-1e6, 1e6, width=32),
                       st.sampled_from([math.nan, math.inf, -math.inf, 0.5]))
    return st.fixed_dictionaries({
        "x": st.one_of(st.none(), floats),
        "n": st.one_of(st.none(), st.integers(-5, 5), st.integers(-2**63, 2**63 - 1)),
        "s": st.one_of(st.none(), st.sampled_from(["", "p", "q", "r", "é", "\u91cd"])),
        "words": st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4),
        "counts": st.lists(st.integers(-3, 3), max_size=3),
        "v": st.lists(st.floats(-100, 100, width=32), min_size=2, max_size=2),
    })


@settings(max_examples=max(4, BUDGET.max_examples // 15), deadline=None,
          suppress_health_check=QUIET)
@given(rows=st.lists(_row(), min_size=1, max_size=40), batch_size=st.integers(1, 16),
       with_baseline=st.booleans(), order=st.randoms(use_true_random=False))
def test_the_profile_is_the_local_engines(graph, baseline, tmp_path_factory, rows, batch_size,
                                          with_baseline, order):
    count("profile on beam", 1)
    records = _records(rows)
    path = write_records(tmp_path_factory.mktemp("data") / "d.tfrecord", records)
    chosen = baseline if with_baseline else None
    local = profile(graph, path, baseline=chosen)
    order.shuffle(records)
    found = _on_beam(graph, records, batch_size, chosen)
    assert found.profile.to_json() == local.profile.to_json()
    assert found.errors == [] and found.error_count == 0


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """600 rows with 500 distinct strings in ``s``, in one file, and shuffled into three
    files of other sizes."""
    directory = tmp_path_factory.mktemp("table")
    rows = _rows(600, seed=3, distinct=500)
    records = _records(rows)
    shuffled = records[:]
    random.Random(4).shuffle(shuffled)
    write_records(directory / "one.tfrecord", records)
    for number, (start, end) in enumerate([(0, 1), (1, 350), (350, 600)]):
        write_records(directory / f"part-{number}.tfrecord", shuffled[start:end])
    return {"rows": rows, "one": str(directory / "one.tfrecord"),
            "parts": str(directory / "part-*.tfrecord")}


@pytest.mark.parametrize("with_baseline", [False, True])
def test_split_and_shuffled_files_give_the_local_engines_profile(graph, baseline, table,
                                                                 with_baseline):
    chosen = baseline if with_baseline else None
    local = profile(graph, table["one"], baseline=chosen).profile
    found = profile_on_beam(graph, table["parts"], baseline=chosen, batch_size=64,
                            pipeline_args=TWO_WORKERS).profile
    assert found.to_json() == local.to_json()
    rows = table["rows"]
    strings = {row["s"] for row in rows if row["s"] is not None}
    assert found.records == 600 and len(strings) > 300  # counted here, by hand
    assert found.columns["inputs"]["s"]["values"]["distinct"] == len(strings)
    assert found.columns["inputs"]["s"]["values"]["exact"] is True
    assert found.columns["inputs"]["x"]["nan"] == sum(
        row["x"] is not None and math.isnan(row["x"]) for row in rows)
    tokens = [word for row in rows for word in row["words"]]
    assert found.columns["features"]["word_id"]["oov"]["oov"] == sum(
        word not in ("a", "b") for word in tokens)
    edges = found.columns["inputs"]["x"]["numbers"]["histogram"]["edges"]
    if with_baseline:
        assert edges == baseline.columns["inputs"]["x"]["numbers"]["histogram"]["edges"]
    else:  # the data's own quantiles (method "higher"), computed with numpy
        finite = np.sort([np.float32(row["x"]) for row in rows if row["x"] is not None
                          and math.isfinite(row["x"])]).astype(np.float64)
        ranks = [-(-i * (finite.size - 1) // 10) for i in range(1, 10)]
        assert edges == np.unique(finite[ranks]).tolist()


GOOD = dict(x=1.5, n=3, s="p", words=["a"], counts=[1], v=[1.0, 2.0])


def test_records_that_break_the_spec_are_the_local_engines_data_errors(graph, tmp_path):
    """Broken records in two files, batches of 3: the first errors in the local engine's
    order (file, then record), and all of them counted."""
    first = [example(**GOOD), example(**{**GOOD, "x": 4}), example(**GOOD),
             example(**{**GOOD, "v": None}), b"\x0a\xff not a tf.Example"]
    second = [example(**{**GOOD, "s": ["p", "q"]}), example(**GOOD),
              example(**{**GOOD, "words": [1, 2]})] + [example(**GOOD)] * 4
    paths = [write_records(tmp_path / "a.tfrecord", first),
             write_records(tmp_path / "b.tfrecord", second)]
    expected = [
        f"{paths[0]}: record 1: column x: holds int64_list values, but is declared float32 "
        "(float_list values)",
        f"{paths[0]}: record 3: column v: missing (it is required: it has no default)",
        f"{paths[0]}: record 4: not a tf.train.Example",
        f"{paths[1]}: record 0: column s: 2 values, but it holds 1 (string)",
        f"{paths[1]}: record 2: column words: holds int64_list values, but is declared string "
        "(bytes_list values)"]
    pattern = str(tmp_path / "*.tfrecord")
    for max_errors in (100, 2):
        local = profile(graph, pattern, batch_size=3, max_errors=max_errors)
        found = profile_on_beam(graph, pattern, batch_size=3, max_errors=max_errors,
                                pipeline_args=TWO_WORKERS)
        assert found.errors == local.errors and found.error_count == local.error_count == 5
        assert [error.split(" (")[0] for error in found.errors] == [
            error.split(" (")[0] for error in expected[:max_errors]]
        assert found.profile.to_json() == local.profile.to_json()
        assert found.profile.invalid_records == 5 and found.profile.records == 7

    write_records(paths[1], [example(**{**GOOD, "v": [1.0]})])
    with pytest.raises(DataError) as raised:
        profile(graph, paths[1])
    with pytest.raises(DataError) as on_beam:
        profile_on_beam(graph, paths[1])
    assert str(on_beam.value) == str(raised.value)
    assert str(on_beam.value).startswith(f"no valid record in {paths[1]}: every record breaks")


def test_two_worker_processes_give_the_local_engines_profile(graph, table):
    """Beam's direct runner with two worker processes (every function and accumulator
    pickled), without a baseline: the quantile edges reach the second pass as a side input."""
    local = profile(graph, table["one"]).profile
    found = profile_on_beam(graph, table["parts"], batch_size=128,
                            pipeline_args=TWO_PROCESSES).profile
    assert found.to_json() == local.to_json()


def test_values_past_the_limit_pickle_to_the_same_sketches():
    """Beam's workers pickle accumulators: the sketches a column's values turn into past the
    distinct limit come back estimating the same, and merge on."""
    for values in (np.array([b"a", b"b", b"\xff", b"c"], object), np.array([1, 2, -3, 2**62])):
        accumulated = Values(limit=2)
        accumulated.add(values, np.array([5, 1, 1, 2]))
        copy = pickle.loads(pickle.dumps(accumulated))
        assert copy.result(3) == accumulated.result(3)
        assert copy.result(3)["distinct"] == 4 and copy.result(3)["top"][0][1] == 5
        merged = copy.merge(pickle.loads(pickle.dumps(accumulated))).result(3)
        assert merged["top"][0][1] == 10 and merged["distinct"] == 4


def test_the_command_line_runs_beam_on_tfrecord_and_csv(graph, tmp_path, capsys):
    spec = tmp_path / "profiled.feat"
    spec.write_text(SPEC)
    rows = [row for row in _rows(120, seed=8) if row["words"] and row["counts"]]
    data = write_records(tmp_path / "d.tfrecord", _records(rows) + [example(**{**GOOD, "x": 4})])
    write_csv(tmp_path / "d.csv", rows, graph.columns)
    outputs = {}
    for name, source, runner in [("local", data, []), ("beam", data, ["--runner", "beam"]),
                                 ("csv", str(tmp_path / "d.csv"), ["--runner", "beam"])]:
        outputs[name] = tmp_path / f"{name}.json"
        command = ["stats", str(spec), "--data", source, "-o", str(outputs[name]), *runner]
        status = main(command + (["--", *TWO_WORKERS] if runner else []))
        assert status == (0 if name == "csv" else 1)
        captured = capsys.readouterr()
        assert f"wrote {outputs[name]}: {len(rows):,} records" in captured.out
        if name != "csv":
            assert captured.err == (
                f"{data}: record {len(rows)}: column x: holds int64_list values, but is "
                "declared float32 (float_list values)\n"
                f"1 of {len(rows) + 1:,} records break the spec: left out of the profile\n")
    assert outputs["beam"].read_text() == outputs["local"].read_text()
    assert outputs["csv"].read_text() == profile(graph, str(tmp_path / "d.csv")).profile.to_json()
    assert read_profile(str(outputs["csv"])).records == len(rows)
    assert main(["stats", str(spec), "--request-log", str(tmp_path), "-o",
                 str(tmp_path / "r.json"), "--runner", "beam"]) == 1
    assert "a request log is profiled by the local engine" in capsys.readouterr().err


def test_a_baseline_of_another_spec_is_refused_before_the_pipeline_runs(graph, baseline):
    other = Profile.from_json(baseline.to_json())
    del other.columns["inputs"]["x"]
    with pytest.raises(SkewlessError, match=r"^b\.json: the baseline profile has no float32 "
                                            r"input 'x': is it a profile of this spec\?$"):
        ProfileSpec(graph, baseline=other, baseline_path="b.json")


def test_without_beam_the_command_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    spec = tmp_path / "profiled.feat"
    spec.write_text(SPEC)
    data = write_records(tmp_path / "d.tfrecord", [example(**GOOD)])
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "skewless.profile.beam")
    assert main(["stats", str(spec), "--data", data, "-o", str(tmp_path / "p.json"),
                 "--runner", "beam"]) == 1
    assert capsys.readouterr().err == ("--runner beam: skewless.profile.beam needs Apache Beam: "
                                       "pip install 'skewless[beam]'\n")
    assert not (tmp_path / "p.json").exists()
