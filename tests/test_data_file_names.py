"""A data name that exists as a file is read as that file, whatever characters it holds
(``data[1].tfrecord``, ``a?b.tfrecord``, ``x*.tfrecord``); any other name is a glob. Each case
has a decoy file that the name, taken as a glob, would match: reading it would change the
records and the constants."""
from __future__ import annotations

import numpy as np
import pytest

import skewless
from skewless import cli
from skewless_test_helpers import example, import_module, write_records

SPEC = "input x: float32\nfeature x\nfeature m = minmax(x)\n"
# the literal name, and a file that the name matches as a glob
NAMES = {
    "brackets": ("data[1].tfrecord", "data1.tfrecord"),
    "question mark": ("a?b.tfrecord", "axb.tfrecord"),
    "star": ("x*.tfrecord", "xyz.tfrecord"),
    "a bracket set": ("[ab].tfrecord", "a.tfrecord"),
    "a range and a star": ("run[0-9]*.tfrecord", "run7.tfrecord"),
    "a GZIP file": ("part[0].tfrecord.gz", "part0.tfrecord.gz"),
    "a GZIP file named in capitals": ("PART[0].TFRECORD.GZ", "PART0.TFRECORD.GZ"),
}
VALUES, DECOY = [10.0, 20.0, 15.0], [1000.0]


def _files(folder, case):
    name, decoy = NAMES[case]
    compression = "GZIP" if name.lower().endswith(".gz") else ""
    write_records(folder / name, [example(x=v) for v in VALUES], compression)
    write_records(folder / decoy, [example(x=v) for v in DECOY], compression)
    spec = folder / "s.feat"
    spec.write_text(SPEC, encoding="utf-8")
    return str(spec), str(folder / name)


@pytest.mark.parametrize("case", sorted(NAMES))
def test_input_fn_reads_a_file_named_with_glob_characters(tmp_path, case):
    spec, path = _files(tmp_path, case)
    features = skewless.load(spec, stats={"m/minmax": {"min": 0.0, "max": 40.0}})
    xs = [x for batch, _ in features.input_fn(path, batch_size=2, shuffle=False)
          for x in batch["x"].numpy().tolist()]
    assert xs == VALUES
    both = features.input_fn([path, str(tmp_path / NAMES[case][1])], batch_size=8,
                             shuffle=False)  # a list names each file
    assert sorted(x for batch, _ in both for x in batch["x"].numpy().tolist()) == sorted(
        VALUES + DECOY)


@pytest.mark.parametrize("case", sorted(NAMES))
def test_compile_data_reads_a_file_named_with_glob_characters(tmp_path, capsys, case):
    spec, path = _files(tmp_path, case)
    module = tmp_path / "s_features.py"
    assert cli.main(["compile", spec, "--data", path, "-o", str(module)]) == 0
    generated = import_module(module, f"glob_names_{abs(hash(case))}")
    # min 10 and max 20 of the file alone (the decoy's 1000 would give 15 -> 0.005)
    scaled = generated.transform_features({"x": np.array([10.0, 15.0, 20.0], np.float32)})["m"]
    np.testing.assert_array_equal(scaled.numpy(), np.array([0.0, 0.5, 1.0], np.float32))


def test_a_name_that_is_not_a_file_is_still_a_glob(tmp_path):
    spec, _ = _files(tmp_path, "brackets")  # data[1].tfrecord and data1.tfrecord exist
    features = skewless.load(spec, stats={"m/minmax": {"min": 0.0, "max": 40.0}})
    read = features.input_fn(str(tmp_path / "data[0-9].tfrecord"), batch_size=8, shuffle=False)
    assert [x for batch, _ in read for x in batch["x"].numpy().tolist()] == DECOY
