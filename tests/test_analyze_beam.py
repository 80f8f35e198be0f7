"""The Beam engine (skewless.analyze.beam) on Beam's in-process runner: the same constants as
the local engine, and as numpy computed independently, however the data is split and ordered;
two-phase specs; NaN skipped and counted; clear errors; the command line's --runner beam."""
from __future__ import annotations

import math
import os
import sys
from collections import Counter

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from skewless import compiler
from skewless.analyze import Stats, analyze as analyze_locally
from skewless.analyze.beam import AnalyzeSpec, analyze as analyze_on_beam
from skewless.cli import main
from skewless.errors import DataError
from skewless_test_helpers import FLIGHTS, example, make_data, write_records

# Two threads: the work is split into bundles whose accumulators Beam merges.
TWO_WORKERS = ["--direct_num_workers", "2", "--direct_running_mode", "multi_threading"]
# Two worker processes: every step's functions and accumulators are pickled to reach them.
TWO_PROCESSES = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]

# Every analyzer: moments (also of a zscore, in a second phase), range, quantiles of float32
# and int64, vocabularies of strings (top_k), of variable-length values (min_freq) and of
# int64, and a range over vocabulary ids (a lookup table inside the second phase).
EVERY = """\
spec every

input x: float32
input n: int64
input word: string
input tags: string[]
input code: int64
label y: float32

feature x_z = zscore(x)
feature x_zz = zscore(zscore(x))
feature n_range = minmax(n)
feature x_q = bucketize(x, quantiles=4)
feature n_q = bucketize(n, quantiles=5)
feature word_id = vocab(word, top_k=5)
feature tag_ids = tags | vocab(min_freq=2) | pad(length=3, value=-1)
feature code_id = vocab(code, oov_buckets=0)
feature word_scaled = minmax(vocab(word))
target y = y
"""

WORDS = ["the", "café", "b", "a", "zebra", "Zebra", "naïve", "x y"]
TAGS = ["red", "green", "blue", "重要", "tiny"]


def _rows(count: int, seed: int = 7) -> list:
    rng = np.random.default_rng(seed)
    x = (rng.normal(3.0, 10.0, count)).astype(np.float32)
    x[rng.random(count) < 0.05] = np.nan
    weights = 1.0 / np.arange(1, len(WORDS) + 1)
    words = rng.choice(len(WORDS), size=count, p=weights / weights.sum())
    return [{
        "x": float(x[i]),
        "n": int(rng.integers(-10**12, 10**12)),
        "word": WORDS[words[i]],
        "tags": [TAGS[t] for t in rng.choice(len(TAGS), size=rng.integers(0, 4), replace=False)],
        "code": int(rng.integers(-5, 15)),
        "y": float(rng.normal()),
    } for i in range(count)]


def _write(directory, rows, sizes) -> str:
    """The rows in files of the given sizes; returns their glob."""
    directory.mkdir()
    start = 0
    for number, size in enumerate(sizes):
        write_records(directory / f"part-{number}.tfrecord",
                      [example(**row) for row in rows[start:start + size]])
        start += size
    assert start == len(rows)
    return str(directory / "part-*.tfrecord")


def _ranked(counts: Counter, top_k=None, min_freq=None) -> list:
    """LANGUAGE.md's vocabulary order: descending count, ties by ascending bytes (ints: value)."""
    tokens = sorted(counts, key=lambda t: (-counts[t], t.encode() if isinstance(t, str) else t))
    return [t for t in tokens if min_freq is None or counts[t] >= min_freq][:top_k]


def _higher_quantiles(values: np.ndarray, n: int) -> list:
    return np.unique(np.quantile(values, [i / n for i in range(1, n)], method="higher")).tolist()


def _expected(rows: list) -> tuple:
    """(constants, report) computed with numpy and collections from the rows themselves."""
    x = np.array([r["x"] for r in rows], np.float32)
    kept = x[~np.isnan(x)].astype(np.float64)
    mean, std = np.mean(kept), np.std(kept)
    z = ((kept - mean) / std).astype(np.float32).astype(np.float64)
    n = np.array([r["n"] for r in rows], np.int64)
    words = Counter(r["word"] for r in rows)
    tags = Counter(t for r in rows for t in r["tags"])
    constants = {
        "x_z/zscore": {"mean": mean, "std": std},
        "x_zz/zscore": {"mean": np.mean(z), "std": np.std(z)},
        "n_range/minmax": {"min": int(n.min()), "max": int(n.max())},
        "x_q/bucketize": {"boundaries": _higher_quantiles(kept.astype(np.float32), 4)},
        "n_q/bucketize": {"boundaries": _higher_quantiles(n, 5)},
        "word_id/vocab": {"vocabulary": _ranked(words, top_k=5)},
        "tag_ids/vocab": {"vocabulary": _ranked(tags, min_freq=2)},
        "code_id/vocab": {"vocabulary": _ranked(Counter(r["code"] for r in rows))},
        "word_scaled/vocab": {"vocabulary": _ranked(words)},
        "word_scaled/minmax#2": {"min": 0, "max": len(words) - 1},
    }
    nan = int(np.isnan(x).sum())
    report = {key: {"values": len(rows), "nan_skipped": 0} for key in constants}
    report["x_z/zscore"] = report["x_zz/zscore"] = {"values": kept.size, "nan_skipped": nan}
    report["x_q/bucketize"] = {"values": kept.size, "nan_skipped": nan}
    report["tag_ids/vocab"] = {"values": sum(tags.values()), "nan_skipped": 0}
    return constants, report


@pytest.fixture(scope="module")
def every(tmp_path_factory):
    """The spec with every analyzer, 400 rows in 3 files, and the same rows shuffled into 5
    files of other sizes."""
    directory = tmp_path_factory.mktemp("every")
    spec = directory / "every.feat"
    spec.write_text(EVERY)
    rows = _rows(400)
    shuffled = [rows[i] for i in np.random.default_rng(1).permutation(len(rows))]
    return {"spec": str(spec), "graph": compiler.check_file(str(spec)), "rows": rows,
            "files": _write(directory / "original", rows, [150, 150, 100]),
            "shuffled": _write(directory / "shuffled", shuffled, [1, 77, 200, 3, 119])}


@pytest.fixture(scope="module")
def flights(tmp_path_factory):
    directory = tmp_path_factory.mktemp("flights")
    make_data().write_dataset(directory, rows=300, shards=3, seed=5)
    return {"spec": str(FLIGHTS / "flights.feat"), "files": str(directory / "train-*.tfrecord")}


def _in_a_pipeline(transform_input, spec, tmp_path) -> str:
    """The documented way to use AnalyzeSpec in one's own pipeline; returns the stats JSON."""
    output = tmp_path / "stats.json"
    with beam.Pipeline(runner="FnApiRunner") as pipeline:
        _ = (pipeline
             | transform_input
             | AnalyzeSpec(spec)
             | beam.Map(Stats.to_json)
             | beam.io.WriteToText(str(output), shard_name_template="",
                                   append_trailing_newlines=False))
    return output.read_text(encoding="utf-8")


def test_flights_constants_are_the_local_engines(flights, tmp_path):
    graph = compiler.check_file(flights["spec"])
    local = analyze_locally(graph, flights["files"])
    assert local.rows == 300 and len(local.constants) == 4
    assert analyze_on_beam(graph, flights["files"], TWO_WORKERS) == local
    read = beam.io.ReadFromTFRecord(flights["files"])
    assert _in_a_pipeline(read, flights["spec"], tmp_path) == local.to_json()


def test_every_analyzer_agrees_with_numpy_and_the_local_engine(every):
    constants, report = _expected(every["rows"])
    stats = analyze_on_beam(every["graph"], every["files"], TWO_WORKERS)
    assert stats.rows == 400
    assert stats.report == report
    for key, expected in constants.items():
        for name, value in expected.items():
            got = stats.constants[key][name]
            if key == "x_zz/zscore":  # of float32 values computed with the engine's mean/std
                assert got == pytest.approx(value, rel=1e-6, abs=1e-7), (key, name)
            elif key == "x_z/zscore":
                assert got == pytest.approx(value, rel=1e-12), (key, name)
            else:
                assert got == value, (key, name)
    assert set(stats.constants) == set(constants)
    assert analyze_locally(every["graph"], every["files"]) == stats


def test_split_and_shuffled_data_gives_the_same_constants(every):
    original = analyze_locally(every["graph"], every["files"])
    assert analyze_locally(every["graph"], every["shuffled"]) == original
    assert analyze_on_beam(every["graph"], every["shuffled"], TWO_WORKERS) == original


def test_two_worker_processes_give_the_local_engines_constants(every, tmp_path):
    """Beam's direct runner with two worker processes, on the spec with every analyzer and
    two phases. A step of the same options records the process it runs in, to show the
    work left this process."""
    assert (analyze_on_beam(every["graph"], every["shuffled"], TWO_PROCESSES)
            == analyze_locally(every["graph"], every["files"]))
    output = tmp_path / "pids.txt"
    with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner", *TWO_PROCESSES])
                       ) as pipeline:
        _ = (pipeline | beam.Create(range(4)) | beam.Map(lambda _: os.getpid())
             | beam.Distinct() | beam.io.WriteToText(str(output), shard_name_template=""))
    pids = {int(line) for line in output.read_text().splitlines()}
    assert pids and os.getpid() not in pids


def test_nan_values_are_skipped_and_counted(tmp_path):
    spec = tmp_path / "nan.feat"
    spec.write_text("spec with_nan\ninput x: float32\n"
                    "feature z = zscore(x)\nfeature r = minmax(x)\n")
    rows = [{"x": value} for value in (1.0, math.nan, 3.0, math.nan, 8.0)]
    files = _write(tmp_path / "data", rows, [5])
    stats = analyze_on_beam(compiler.check_file(str(spec)), files)
    assert stats.constants["z/zscore"] == {"mean": 4.0, "std": pytest.approx(math.sqrt(26 / 3))}
    assert stats.constants["r/minmax"] == {"min": 1.0, "max": 8.0}
    assert stats.report["z/zscore"] == {"values": 3, "nan_skipped": 2}


def test_quantiles_of_more_values_than_the_sketch_keeps_are_within_its_bound(tmp_path):
    """50,000 values: the sketch (k = 16384) compacts, so the boundaries are approximate;
    bucketize documents a rank error of at most H·n/32768 with H ≤ log2(n/32768) + 1."""
    spec = tmp_path / "wide.feat"
    spec.write_text("spec wide\ninput v: float32[100]\nfeature q = bucketize(v, quantiles=8)\n")
    values = np.random.default_rng(3).standard_normal((500, 100)).astype(np.float32)
    files = _write(tmp_path / "data", [{"v": row.tolist()} for row in values], [200, 300])
    graph = compiler.check_file(str(spec))
    flat = np.sort(values.reshape(-1))
    error = (math.floor(math.log2(flat.size / 32768)) + 1) * flat.size / 32768
    for stats in (analyze_on_beam(graph, files, TWO_WORKERS), analyze_locally(graph, files)):
        boundaries = stats.constants["q/bucketize"]["boundaries"]
        assert len(boundaries) == 7
        for i, boundary in enumerate(boundaries, start=1):
            target = -(-i * (flat.size - 1) // 8)  # the exact boundary's position
            below = np.searchsorted(flat, np.float32(boundary), side="left")
            at_most = np.searchsorted(flat, np.float32(boundary), side="right")
            assert below <= target + error and at_most >= target + 1 - error, (i, boundary)


def test_no_records_is_a_data_error(tmp_path, every):
    empty = write_records(tmp_path / "empty.tfrecord", [])
    with pytest.raises(DataError, match=r"^no records in .*empty\.tfrecord: analyzers need "
                                        r"training data$"):
        analyze_on_beam(every["graph"], empty)
    with pytest.raises(DataError, match="no records in the input"):
        _in_a_pipeline(beam.Create([b"x"]) | beam.Filter(lambda record: False),
                       every["spec"], tmp_path)


def test_the_command_line_runs_beam_with_pipeline_options(flights, tmp_path, capsys):
    local, on_beam = tmp_path / "local.json", tmp_path / "beam.json"
    assert main(["analyze", flights["spec"], "--data", flights["files"], "-o", str(local)]) == 0
    assert main(["analyze", flights["spec"], "--data", flights["files"], "-o", str(on_beam),
                 "--runner", "beam", "--", *TWO_WORKERS]) == 0
    assert on_beam.read_text() == local.read_text()
    assert "wrote" in capsys.readouterr().out

    modules = [tmp_path / "local_features.py", tmp_path / "beam_features.py"]
    assert main(["compile", flights["spec"], "--data", flights["files"],
                 "-o", str(modules[0])]) == 0
    # options skewless does not know go to Beam too, without '--'
    assert main(["compile", flights["spec"], "--data", flights["files"], "-o", str(modules[1]),
                 "--runner", "beam", "--direct_num_workers", "1"]) == 0
    assert modules[1].read_text() == modules[0].read_text()


def test_pipeline_options_need_the_beam_runner(flights, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", flights["spec"], "--data", flights["files"], "-o",
              str(tmp_path / "s.json"), "--", "--direct_num_workers", "2"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --direct_num_workers 2" in capsys.readouterr().err
    assert main(["compile", flights["spec"], "--runner", "beam"]) == 1
    assert "give --data" in capsys.readouterr().err


def test_a_bad_record_is_named_as_by_the_local_engine(every, tmp_path, capsys):
    rows = _rows(5)
    del rows[3]["n"]
    files = _write(tmp_path / "data", rows, [5])
    message = (f"bad record: Name: {tmp_path / 'data' / 'part-0.tfrecord'}: record 3, "
               "Feature: n (data type: int64) is required but could not be found.")
    for runner in ("local", "beam"):
        assert main(["analyze", every["spec"], "--data", files, "-o", str(tmp_path / "s.json"),
                     "--runner", runner]) == 1
        assert capsys.readouterr().err == message + "\n"
    assert not (tmp_path / "s.json").exists()


def test_without_beam_the_command_says_how_to_install_it(flights, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "skewless.analyze.beam")
    assert main(["analyze", flights["spec"], "--data", flights["files"], "-o",
                 str(tmp_path / "s.json"), "--runner", "beam"]) == 1
    assert capsys.readouterr().err == ("--runner beam: skewless.analyze.beam needs Apache Beam: "
                                       "pip install 'skewless[beam]'\n")


@pytest.mark.parametrize("command", ["analyze", "stats"])
def test_options_beam_refuses_are_an_error_naming_them(flights, tmp_path, capsys, command):
    output = tmp_path / "out.json"
    argv = [command, flights["spec"], "--data", flights["files"], "-o", str(output)]
    if command == "stats":
        stats = tmp_path / "stats.json"
        assert main(["analyze", flights["spec"], "--data", flights["files"], "-o",
                     str(stats)]) == 0
        argv += ["--stats", str(stats)]
    capsys.readouterr()
    assert main(argv + ["--runner", "beam", "--", "--runner", "NoSuchRunner"]) == 1
    err = capsys.readouterr().err
    assert "Beam cannot run a pipeline with the options --runner NoSuchRunner" in err, err
    assert "Traceback" not in err and not output.exists()
