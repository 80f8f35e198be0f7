"""The local analyzer engine through the command line: the stats file, the two-step compile,
phases, and what a pass reads."""
import io
import json

import numpy as np
import tensorflow as tf

from skewless import cli
from skewless.analyze import phases, read_stats
from skewless.analyze.progress import Progress
from skewless.compiler import check_source

SPEC = """\
input x: float32
input word: string
label y: float32
feature z = zscore(x)
feature twice = zscore(zscore(x) * 2)
feature id = vocab(word, oov_buckets=1)
target t = y
"""


def _write(path, rows, with_label=True):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for x, word in rows:
            example = tf.train.Example()
            example.features.feature["x"].float_list.value.append(x)
            example.features.feature["word"].bytes_list.value.append(word.encode())
            if with_label:
                example.features.feature["y"].float_list.value.append(1.0)
            writer.write(example.SerializeToString())


ROWS = [(1.0, "b"), (2.0, "a"), (4.0, "b"), (float("nan"), "c"), (8.0, "b"), (-3.0, "a")]


def test_stats_file_is_deterministic_readable_and_matches_numpy(tmp_path, capsys):
    spec, data = tmp_path / "s.feat", tmp_path / "d.tfrecord"
    spec.write_text(SPEC)
    _write(data, ROWS)
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    assert cli.main(["analyze", str(spec), "--data", str(data), "-o", str(first)]) == 0
    printed = capsys.readouterr().out
    assert "z/zscore: skipped 1 NaN value of 6" in printed
    assert "twice/zscore: skipped 1 NaN value of 6" in printed
    assert cli.main(["analyze", str(spec), "--data", str(data), "-o", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text()
    assert text.endswith("\n") and text.count("\n") > 20  # one constant per line
    payload = json.loads(text)
    values = np.array([x for x, _ in ROWS if x == x], dtype=np.float64)
    zscore = payload["analyzers"]["z/zscore"]
    assert zscore["nan_skipped"] == 1 and zscore["values"] == 5
    assert np.isclose(zscore["constants"]["mean"], values.mean())
    assert np.isclose(zscore["constants"]["std"], values.std())  # population std
    assert payload["analyzers"]["id/vocab"]["constants"]["vocabulary"] == ["b", "a", "c"]
    second_phase = payload["analyzers"]["twice/zscore"]["constants"]
    assert np.isclose(second_phase["mean"], 0.0, atol=1e-6)
    assert np.isclose(second_phase["std"], 2.0, atol=1e-6)


def test_two_step_compile_equals_compile_with_data(tmp_path):
    spec, data = tmp_path / "s.feat", tmp_path / "d.tfrecord"
    spec.write_text(SPEC)
    _write(data, ROWS)
    stats, direct, two_step = tmp_path / "s.json", tmp_path / "a.py", tmp_path / "b.py"
    assert cli.main(["compile", str(spec), "--data", str(data), "-o", str(direct)]) == 0
    assert cli.main(["analyze", str(spec), "--data", str(data), "-o", str(stats)]) == 0
    assert cli.main(["compile", str(spec), "--stats", str(stats), "-o", str(two_step)]) == 0
    assert direct.read_text().replace("a.py", "") == two_step.read_text().replace("b.py", "")
    assert cli.main(["compile", str(spec), "--stats", str(stats), "-o", str(two_step),
                     "--check"]) == 0
    loaded = read_stats(str(stats))
    assert set(loaded.constants) == {"z/zscore", "twice/zscore", "id/vocab"}


def test_an_analyzer_over_an_analyzer_runs_in_a_later_phase():
    graph = check_source(SPEC)
    assert phases(graph) == [["id/vocab", "z/zscore"], ["twice/zscore"]]


def test_a_pass_reads_only_the_columns_its_analyzers_need(tmp_path):
    spec, data = tmp_path / "s.feat", tmp_path / "d.tfrecord"
    spec.write_text(SPEC)
    _write(data, ROWS, with_label=False)  # the label is required, but no analyzer reads it
    assert cli.main(["analyze", str(spec), "--data", str(data), "-o", str(tmp_path / "s.json")]) == 0


def test_missing_data_and_empty_data_are_clear_errors(tmp_path, capsys):
    spec = tmp_path / "s.feat"
    spec.write_text(SPEC)
    assert cli.main(["analyze", str(spec), "--data", str(tmp_path / "none-*"), "-o",
                     str(tmp_path / "s.json")]) == 1
    assert "no file matches" in capsys.readouterr().err
    empty = tmp_path / "empty.tfrecord"
    _write(empty, [])
    assert cli.main(["analyze", str(spec), "--data", str(empty), "-o", str(tmp_path / "s.json")]) == 1
    assert "no records" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()


def test_progress_shows_rows_and_rate_on_a_terminal_only():
    shown, hidden = io.StringIO(), io.StringIO()
    for stream, enabled in ((shown, True), (hidden, False)):
        progress = Progress("analyze pass 1", stream=stream, enabled=enabled)
        progress.update(1500)
        progress.close()
    assert "1,500 rows" in shown.getvalue() and "rows/s" in shown.getvalue()
    assert hidden.getvalue() == ""


LATER_SPEC = """\
input x: float32
input word: string
input vals: float32[]
input pos: float32[2]
let z = zscore(x)
feature q = bucketize(z, quantiles=4)
feature w = vocab(word)
feature m = minmax(vals * z) | pad(length=2)
feature p = zscore(pos * z)
"""


def _write_later_data(path, rows):
    random = np.random.default_rng(7)
    x = random.normal(50, 20, rows).astype(np.float32)
    x[::17] = np.nan
    vals = [random.uniform(-5, 5, random.integers(0, 4)).astype(np.float32) for _ in range(rows)]
    pos = random.uniform(0, 9, (rows, 2)).astype(np.float32)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i in range(rows):
            example = tf.train.Example()
            features = example.features.feature
            features["x"].float_list.value.append(x[i])
            features["word"].bytes_list.value.append(f"w{i % 5}".encode())
            features["vals"].float_list.value.extend(vals[i])
            features["pos"].float_list.value.extend(pos[i])
            writer.write(example.SerializeToString())
    return x, vals, pos


def test_later_phases_use_the_kept_columns_within_the_budget_and_stream_past_it(
        tmp_path, monkeypatch):
    from skewless.analyze import local

    data = tmp_path / "d.tfrecord"
    x, vals, pos = _write_later_data(data, 300)
    graph = check_source(LATER_SPEC)
    reads = []

    def counted(files, compression):
        reads.append(files)
        return source_dataset(files, compression)

    source_dataset = local.source_dataset
    monkeypatch.setattr(local, "source_dataset", counted)
    results = {}
    # the whole budget; none; enough for the first few batches of 16 rows only
    for budget, passes in ((local.KEEP_BUDGET_BYTES, 1), (0, 2), (600, 2)):
        reads.clear()
        stats = local.analyze(graph, str(data), batch_size=16, progress=False, keep_budget=budget)
        assert len(reads) == passes, budget
        results[budget] = stats.to_json()
    assert len(set(results.values())) == 1  # the same constants, byte for byte
    constants = stats.constants
    kept = x[~np.isnan(x)].astype(np.float64)
    mean, std = kept.mean(), kept.std()
    assert np.isclose(constants["z/zscore"]["mean"], mean, rtol=1e-12)
    assert np.isclose(constants["z/zscore"]["std"], std, rtol=1e-12)
    mean, std = constants["z/zscore"]["mean"], constants["z/zscore"]["std"]
    z = ((x.astype(np.float64) - mean) / std).astype(np.float32)
    ordered = np.sort(z[~np.isnan(z)])  # fewer values than the sketch keeps: exact quantiles
    expected = sorted({float(ordered[-(-i * (ordered.size - 1) // 4)]) for i in (1, 2, 3)})
    assert constants["q/bucketize"]["boundaries"] == expected
    scaled = np.concatenate([v * z[i] for i, v in enumerate(vals)])
    scaled = scaled[np.isfinite(scaled)]
    assert constants["m/minmax"] == {"min": float(scaled.min()), "max": float(scaled.max())}
    product = (pos * z[:, None]).astype(np.float64)
    product = product[np.isfinite(product)]
    assert np.isclose(constants["p/zscore"]["mean"], product.mean(), rtol=1e-9)
    assert constants["w/vocab"]["vocabulary"] == ["w0", "w1", "w2", "w3", "w4"]
