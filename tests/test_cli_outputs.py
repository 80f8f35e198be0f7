"""A command never writes its output over one of its own inputs: the spec, the stats file or a
data file, however the output is spelled (another path to it, a symbolic link, a glob that
matches it). It stops before any work with exit status 1, the input untouched."""
from __future__ import annotations

import os
import stat

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


# ---- an output that cannot be written: a folder, a file where its folder should be ----------

ANALYZED = "spec t\ninput x: float32 = 0.0\ninput c: string = \"\"\nlabel y: float32\n" \
           "feature f = zscore(x)\nfeature g = c\ntarget y = y\n"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A spec with an analyzer, its data, stats and profile; a folder and a plain file."""
    from skewless_test_helpers import example, write_records

    root = tmp_path_factory.mktemp("unwritable")
    (root / "t.feat").write_text(ANALYZED)
    write_records(root / "d.tfrecord", [example(x=[float(i)], c=["ab"[i % 2]],
                                                y=[1.0]) for i in range(20)])
    (root / "folder").mkdir()
    (root / "plain").write_text("a file")
    os.mkfifo(root / "fifo")  # not a regular file: replacing it would lose it
    names = {"spec": "t.feat", "data": "d.tfrecord", "stats": "t.stats.json",
             "profile": "t.profile.json"}
    paths = {key: str(root / name) for key, name in names.items()}
    assert cli.main(["analyze", paths["spec"], "--data", paths["data"], "-o",
                     paths["stats"]]) == 0
    assert cli.main(["stats", paths["spec"], "--stats", paths["stats"], "--data", paths["data"],
                     "-o", paths["profile"]]) == 0
    return root, paths


def _unwritable_commands(paths):
    spec, data, stats, profile = paths["spec"], paths["data"], paths["stats"], paths["profile"]
    return {
        "compile": ["compile", spec, "--stats", stats, "-o"],
        "analyze": ["analyze", spec, "--data", data, "-o"],
        "stats": ["stats", spec, "--stats", stats, "--data", data, "-o"],
        "drift json": ["drift", spec, "--stats", stats, "--baseline", profile, "--profile",
                       profile, "--format", "json", "-o"],
        "drift html": ["drift", spec, "--stats", stats, "--baseline", profile, "--profile",
                       profile, "--format", "html", "-o"],
        "graph": ["graph", spec, "--stats", stats, "-o"],
    }


@pytest.mark.parametrize("target", ["folder", "plain/out.json", "fifo"])
@pytest.mark.parametrize("command", ["compile", "analyze", "stats", "drift json", "drift html",
                                     "graph"])
def test_an_output_that_cannot_be_written_is_an_error_naming_it(written, capsys, command,
                                                                target):
    root, paths = written
    output = str(root / target) + (".dot" if command == "graph" and target == "plain/out.json" else "")
    status = cli.main(_unwritable_commands(paths)[command] + [output])
    err = capsys.readouterr().err
    assert status == 1, err
    assert "Traceback" not in err and output in err, err
    assert (root / "plain").read_text() == "a file" and not os.listdir(root / "folder")
    assert stat.S_ISFIFO(os.stat(root / "fifo").st_mode)
