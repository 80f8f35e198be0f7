"""``skewless check``: a spec with analyzers says up front that it needs --data or --stats,
and takes its constants from --stats."""
from __future__ import annotations

from skewless import cli
from skewless_test_helpers import example, write_records

SPEC = """\
input x: float32
label y: float32 = 0.0
feature z = zscore(x)
feature b = bucketize(x, quantiles=3)
target y = y
"""


def test_check_without_constants_says_what_it_needs_before_anything_else(tmp_path, capsys):
    spec = tmp_path / "s.feat"
    spec.write_text(SPEC)
    assert cli.main(["check", str(spec), "--examples", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # no "spec is valid" before the error
    for position, op in (("3:13", "zscore"), ("4:13", "bucketize")):
        assert (f"s.feat:{position}: error: {op} needs constants computed from training data: "
                "give 'skewless check' --data FILES (training data to compute them from) or "
                "--stats FILE (written by 'skewless analyze')") in captured.err
    assert "2 errors" in captured.err
    assert "Traceback" not in captured.err


def test_check_takes_constants_from_stats(tmp_path, capsys):
    spec = tmp_path / "s.feat"
    spec.write_text(SPEC)
    data = write_records(tmp_path / "d.tfrecord", [example(x=float(v)) for v in range(10)])
    assert cli.main(["analyze", str(spec), "--data", data, "-o", str(tmp_path / "s.json")]) == 0
    capsys.readouterr()
    assert cli.main(["check", str(spec), "--stats", str(tmp_path / "s.json"),
                     "--examples", "5", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "spec is valid" in out and "no skew in 5 generated batches" in out
    assert cli.main(["check", str(spec), "--stats", str(tmp_path / "missing.json")]) == 1
    assert "missing.json" in capsys.readouterr().err
