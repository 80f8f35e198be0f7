"""Constants read from a stats file obey every rule of constants written in the spec: an
integer outside int64, a finite number beyond float32, text with a lone surrogate are
refused, as every constant the analyzer's own type rule refuses, through ``compile
--stats``, ``check --stats`` and ``skewless.load`` alike: a positioned error naming the stats
file, the analyzer and the value; nothing written, no traceback. And a vocabulary over bytes
that are not UTF-8 keeps those bytes exactly, from the stats file to the generated module."""
from __future__ import annotations

import json

import pytest
import tensorflow as tf

import skewless
from skewless import cli
from skewless.errors import SkewlessError
from skewless_test_helpers import import_module, write_records

SPEC = """\
input x: float32
input n: int64
input s: string
feature z = zscore(x)
feature r = minmax(x)
feature b = bucketize(n, quantiles=4)
feature bf = bucketize(x, quantiles=4)
feature v = vocab(s, oov_buckets=1)
feature vn = vocab(n, oov_buckets=0)
"""
POSITIONS = {"z/zscore": "4:13", "r/minmax": "5:13", "b/bucketize": "6:13",
             "bf/bucketize": "7:14", "v/vocab": "8:13", "vn/vocab": "9:14"}
GOOD = {
    "z/zscore": {"mean": 1.5, "std": 2.0},
    "r/minmax": {"min": 0.0, "max": 4.0},
    "b/bucketize": {"boundaries": [1, 5, 9]},
    "bf/bucketize": {"boundaries": [0.5, 1.5]},
    "v/vocab": {"vocabulary": ["a", "b"]},
    "vn/vocab": {"vocabulary": [3, 1]},
}
# analyzer key, constants, what the message says after "are refused: "
BAD = {
    "mean beyond float32": ("z/zscore", {"mean": 1e300, "std": 1.0},
                            "mean: number 1e+300 is beyond the float32 range"),
    "std beyond float32": ("z/zscore", {"mean": 0.0, "std": 3.5e38}, "std: number 3.5e+38"),
    "mean infinite": ("z/zscore", {"mean": {"float": "inf"}, "std": 1.0},
                      "mean must be a finite number, got inf"),
    "std NaN": ("z/zscore", {"mean": 0.0, "std": {"float": "nan"}}, "std must be a number, got nan"),
    "mean an integer beyond int64": ("z/zscore", {"mean": 10**30, "std": 1.0},
                                     "mean: integer 1000000000000000000000000000000 does not fit "
                                     "in int64"),
    "mean a string": ("z/zscore", {"mean": "1", "std": 1.0}, "mean must be a number, got '1'"),
    "min a list": ("r/minmax", {"min": [0.0], "max": 1.0}, "min must be a number, got [0.0]"),
    "max beyond float32": ("r/minmax", {"min": 0.0, "max": -1e39}, "max: number -1e+39"),
    "integer boundaries beyond int64": ("b/bucketize", {"boundaries": [1, 10**30]},
                                        "boundaries: integer 1000000000000000000000000000000 "
                                        "does not fit in int64"),
    "integer boundary 2**63": ("b/bucketize", {"boundaries": [2**63]},
                               "boundaries: integer 9223372036854775808 does not fit in int64"),
    "float boundaries beyond float32": ("bf/bucketize", {"boundaries": [0.5, 1e39]},
                                        "boundaries: number 1e+39 is beyond the float32 range"),
    "boundaries not increasing": ("bf/bucketize", {"boundaries": [2.0, 1.0]},
                                  "boundaries must be strictly increasing"),
    "a lone high surrogate token": ("v/vocab", {"vocabulary": ["a", "\ud800"]},
                                    "vocabulary: string '\\ud800' is not text"),
    "a reversed surrogate pair": ("v/vocab", {"vocabulary": ["\ude00\ud83d"]},
                                  "is not text"),
    "escapes of valid UTF-8 bytes": ("v/vocab", {"vocabulary": ["\udcc3\udca9"]},
                                     "is not text"),
    "an int64 token beyond int64": ("vn/vocab", {"vocabulary": [1, -(2**63) - 1]},
                                    "vocabulary: integer -9223372036854775809 does not fit"),
    "a float token of an int64 vocabulary": ("vn/vocab", {"vocabulary": [1, 2.5]}, "2.5"),
    "a token that is an object": ("v/vocab", {"vocabulary": [{"a": 1}]},
                                  "{'a': 1} is not a number, a string, a bool or a list"),
}


def _stats_file(folder, key, constants) -> str:
    analyzers = {k: {"constants": v} for k, v in {**GOOD, key: constants}.items()}
    path = folder / "bad.stats.json"
    path.write_text(json.dumps({"format": "skewless-stats/1", "spec": None, "rows": 9,
                                "analyzers": analyzers}), encoding="utf-8")
    return str(path)


def _spec(folder) -> str:
    spec = folder / "s.feat"
    spec.write_text(SPEC, encoding="utf-8")
    return str(spec)


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["compile", "check", "load"])
def test_stats_constants_the_spec_could_not_hold_are_refused(tmp_path, capsys, case, command):
    key, constants, refusal = BAD[case]
    spec, stats = _spec(tmp_path), _stats_file(tmp_path, key, constants)
    output = tmp_path / "out.py"
    if command == "load":
        with pytest.raises(SkewlessError) as caught:
            skewless.load(spec, stats=stats)
        err = str(caught.value)
    else:
        argv = [command, spec, "--stats", stats] + (
            ["-o", str(output)] if command == "compile" else ["--examples", "1"])
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
    assert f"s.feat:{POSITIONS[key]}: error: the constants of {key} in {stats} are refused" in err
    assert refusal in err and "Traceback" not in err and err.count("error:") == 1, err
    assert not output.exists()


def test_the_good_stats_of_the_table_are_accepted(tmp_path):
    features = skewless.load(_spec(tmp_path), stats=_stats_file(tmp_path, "z/zscore",
                                                                 GOOD["z/zscore"]))
    assert features is not None


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_dict_of_constants_is_held_to_the_same_rules(tmp_path, case):
    key, constants, refusal = BAD[case]
    given = {**GOOD, key: json.loads(json.dumps(constants))}
    if isinstance(given[key].get("mean", given[key].get("std")), dict):  # the file's encoding
        given[key] = {k: float(v["float"]) if isinstance(v, dict) else v
                      for k, v in given[key].items()}
    with pytest.raises(SkewlessError) as caught:
        skewless.load(_spec(tmp_path), stats=given)
    assert f"{key} in the stats given are refused" in str(caught.value)


UNREADABLE = {
    "an integer of 5,000 digits": (b'{"format": "skewless-stats/1", "analyzers": {"z/zscore": '
                                   b'{"constants": {"mean": ' + b"9" * 5000 + b', "std": 1}}}}',
                                   "not valid JSON"),
    "a float encoding that is not a non-finite number": (
        b'{"format": "skewless-stats/1", "analyzers": {"z/zscore": '
        b'{"constants": {"mean": {"float": "1.5"}, "std": 1}}}}', '{"float": "1.5"} is not one'),
    "a float encoding of a list": (
        b'{"format": "skewless-stats/1", "analyzers": {"z/zscore": '
        b'{"constants": {"mean": {"float": [1]}, "std": 1}}}}', '{"float": [1]} is not one'),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
@pytest.mark.parametrize("command", ["compile", "check"])
def test_stats_values_json_cannot_give_are_named(tmp_path, capsys, case, command):
    content, message = UNREADABLE[case]
    stats = tmp_path / "bad.stats.json"
    stats.write_bytes(content)
    argv = [command, _spec(tmp_path), "--stats", str(stats)] + (
        ["-o", str(tmp_path / "out.py")] if command == "compile" else ["--examples", "1"])
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"{stats}: error:" in err and message in err and "Traceback" not in err, err


NOT_UTF8 = [b"\xff\xfe", b"ok", b"\xc3", b"\xff\xfe", b"\xe9t\xe9", b"caf\xc3\xa9", b"\xed\xa0\x80"]


def test_a_vocabulary_over_bytes_that_are_not_utf8_keeps_them_exactly(tmp_path, capsys):
    """analyze → stats file → compile --stats → the generated module imports and gives each
    byte string the id of its rank (counted by hand: \\xff\\xfe twice, then by bytes)."""
    spec = tmp_path / "t.feat"
    spec.write_text("input s: string\nfeature v = vocab(s, oov_buckets=1)\n", encoding="utf-8")
    data = write_records(tmp_path / "d.tfrecord", [_bytes_example(token) for token in NOT_UTF8])
    stats, module = tmp_path / "t.stats.json", tmp_path / "t_features.py"
    assert cli.main(["analyze", str(spec), "--data", data, "-o", str(stats)]) == 0
    assert cli.main(["compile", str(spec), "--stats", str(stats), "-o", str(module)]) == 0
    capsys.readouterr()
    expected = [b"\xff\xfe", b"caf\xc3\xa9", b"ok", b"\xc3", b"\xe9t\xe9", b"\xed\xa0\x80"]
    vocabulary = json.loads(stats.read_text("utf-8"))["analyzers"]["v/vocab"]["constants"]
    assert [t.encode("utf-8", "surrogateescape") for t in vocabulary["vocabulary"]] == expected
    generated = import_module(module, "t_not_utf8_features")
    loaded = skewless.load(str(spec), stats=str(stats))
    probe = expected + [b"unknown"]
    for features in (generated, loaded):
        ids = features.transform_features({"s": tf.constant(probe)})["v"].numpy()
        assert ids.tolist() == [0, 1, 2, 3, 4, 5, 6]


def _bytes_example(token: bytes) -> bytes:
    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[token]))
    return tf.train.Example(features=tf.train.Features(feature={"s": feature})).SerializeToString()
