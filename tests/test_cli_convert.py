"""``skewless convert``: CSV files to a TFRecord file whose tf.Examples give the tensors the
CSV rows give; compression; never over an input; errors without a traceback."""
from __future__ import annotations

import gzip
import os

import pytest
import tensorflow as tf

import skewless
from skewless.cli import main
from skewless.records import all_records

pytestmark = pytest.mark.usefixtures("quiet_tensorflow")

SPEC = """\
input n: int64
input x: float32 = 0.5
input tags: string[]
label y: float32
feature n2 = n * 2
feature x_ = x
feature tag_count = count(tags)
target y_ = y
"""
ROWS = "tags,n,x,y,unused\na|b,1,0.25,3,?\n,2,,4,?\n"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "spec.feat").write_text(SPEC, encoding="utf-8")
    (tmp_path / "a.csv").write_text(ROWS, encoding="utf-8")
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(b"n,y\n3,5\n", mtime=0))
    return tmp_path


def _batches(features, pattern):
    return [[{name: value.numpy().tolist() for name, value in part.items()} for part in batch]
            for batch in features.input_fn(pattern, batch_size=10, shuffle=False)]


def test_convert_writes_the_examples_of_the_rows(folder, capsys):
    output = folder / "out.tfrecord"
    assert main(["convert", str(folder / "*.csv*"), "--spec", str(folder / "spec.feat"),
                 "-o", str(output)]) == 0
    assert capsys.readouterr().out == f"wrote {output}: 3 records from 2 CSV files\n"
    examples = [tf.train.Example.FromString(record) for record, _ in all_records([str(output)])]
    # the columns of the spec that the header names, no others; empty fields left out
    assert [sorted(e.features.feature) for e in examples] == [
        ["n", "tags", "x", "y"], ["n", "y"], ["n", "y"]]
    first = examples[0].features.feature
    assert list(first["tags"].bytes_list.value) == [b"a", b"b"]
    assert list(first["n"].int64_list.value) == [1]
    assert list(first["x"].float_list.value) == [0.25]
    features = skewless.load(str(folder / "spec.feat"))
    expected = [[{"n2": [2, 4, 6], "x_": [0.25, 0.5, 0.5], "tag_count": [2, 0, 0]},
                 {"y_": [3.0, 4.0, 5.0]}]]
    assert _batches(features, str(output)) == expected
    assert _batches(features, [str(folder / "a.csv"), str(folder / "b.csv.gz")]) == expected


@pytest.mark.parametrize("name, option, gzipped", [
    ("out.tfrecord.gz", [], True), ("out.tfrecord", ["--compression", "GZIP"], True),
    ("out.gz", ["--compression", "none"], False)])
def test_the_output_is_compressed_as_asked(folder, name, option, gzipped):
    output = folder / name
    assert main(["convert", str(folder / "a.csv"), "--spec", str(folder / "spec.feat"),
                 "-o", str(output), *option]) == 0
    assert (output.read_bytes()[:2] == b"\x1f\x8b") == gzipped
    compression = "GZIP" if gzipped else ""
    assert len(list(all_records([str(output)], compression))) == 2


@pytest.mark.parametrize("which", ["a.csv", "spec.feat"])
def test_convert_refuses_to_write_over_an_input(folder, which, capsys):
    before = (folder / which).read_bytes()
    assert main(["convert", str(folder / "a.csv"), "--spec", str(folder / "spec.feat"),
                 "-o", str(folder / which)]) == 1
    err = capsys.readouterr().err
    assert "writing it would replace it" in err and "Traceback" not in err
    assert (folder / which).read_bytes() == before


def test_convert_reads_only_csv_files(folder, capsys):
    (folder / "c.tfrecord").write_bytes(b"")
    assert main(["convert", str(folder / "c.tfrecord"), "--spec", str(folder / "spec.feat"),
                 "-o", str(folder / "out.tfrecord")]) == 1
    assert "c.tfrecord: not a CSV file" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["", "n,y\n"])  # nothing at all; a header, no rows
def test_csv_without_rows_is_refused_and_writes_nothing(folder, capsys, text):
    (folder / "empty.csv").write_text(text, encoding="utf-8")
    output = folder / "empty.tfrecord"
    assert main(["convert", str(folder / "empty.csv"), "--spec", str(folder / "spec.feat"),
                 "-o", str(output)]) == 1
    assert f"no records in {folder / 'empty.csv'}: nothing to convert" in capsys.readouterr().err
    assert not output.exists() and [p.name for p in folder.iterdir() if "empty" in p.name] == [
        "empty.csv"]


def test_a_bad_row_leaves_the_old_output_and_no_temporary_file(folder, capsys):
    output = folder / "out.tfrecord"
    output.write_bytes(b"old")
    (folder / "a.csv").write_text(ROWS + "x,oops,1,1,?\n", encoding="utf-8")
    assert main(["convert", str(folder / "a.csv"), "--spec", str(folder / "spec.feat"),
                 "-o", str(output)]) == 1
    err = capsys.readouterr().err
    assert f"bad CSV: {folder / 'a.csv'}:4:3: field 2 (n): not an int64: oops" in err
    assert output.read_bytes() == b"old"
    assert sorted(os.listdir(folder)) == ["a.csv", "b.csv.gz", "out.tfrecord", "spec.feat"]
