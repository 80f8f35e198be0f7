"""A command never writes its output over one of its own inputs: the spec, the stats file or a
data file, however the output is spelled (another path to it, a symbolic link, a glob that
matches it). It stops before any work with exit status 1, the input untouched."""
from __future__ import annotations

import os

import pytest

from skewless import cli

SPEC = "spec t\ninput x: float32 = 0.0\nlabel y: float32\nfeature f = x * 2\ntarget y = y\n"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.feat").write_text(SPEC)
    (tmp_path / "stats.json").write_text("{}")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train-0.tfrecord").write_bytes(b"not read")
    os.symlink("t.feat", tmp_path / "link.feat")
    return tmp_path


CASES = {
    "compile -o the spec": (["compile", "t.feat", "-o", "t.feat"], "t.feat", "the spec"),
    "compile -o the spec by another path": (["compile", "t.feat", "-o", "data/../t.feat"],
                                            "t.feat", "the spec"),
    "compile -o a link to the spec": (["compile", "t.feat", "-o", "link.feat"], "t.feat",
                                      "the spec"),
    "compile -o the stats file": (["compile", "t.feat", "--stats", "stats.json", "-o",
                                   "stats.json"], "stats.json", "the stats file"),
    "compile -o a data file its glob matches": (["compile", "t.feat", "--data", "data/*",
                                                 "-o", "data/train-0.tfrecord"],
                                                "data/train-0.tfrecord", "a data file"),
    "graph -o a link to the spec": (["graph", "t.feat", "-o", "link.feat"], "t.feat",
                                    "the spec"),
    "graph -o the stats file": (["graph", "t.feat", "--stats", "stats.json", "-o",
                                 "stats.json"], "stats.json", "the stats file"),
    "analyze -o the spec": (["analyze", "t.feat", "--data", "data/*", "-o", "t.feat"],
                            "t.feat", "the spec"),
    "analyze -o a data file": (["analyze", "t.feat", "--data", "data/train-0.tfrecord", "-o",
                                "./data/train-0.tfrecord"], "data/train-0.tfrecord",
                               "a data file"),
}


@pytest.mark.parametrize("argv, kept, what", CASES.values(), ids=CASES)
def test_an_output_over_an_input_is_refused_before_any_work(folder, capsys, argv, kept, what):
    before = (folder / kept).read_bytes()
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert f"is {what} this command reads" in error and "give another -o" in error, error
    assert (folder / kept).read_bytes() == before
    assert os.path.islink(folder / "link.feat")


def test_an_output_beside_its_inputs_is_written(folder, capsys):
    assert cli.main(["compile", "t.feat", "-o", "t_features.py"]) == 0
    assert "Features compiled by skewless from t.feat" in (folder / "t_features.py").read_text()
    assert (folder / "t.feat").read_text() == SPEC
