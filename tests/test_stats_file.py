"""A stats file that is not what skewless writes is an error naming the file, never a
traceback, whatever is wrong with it."""
from __future__ import annotations

import pytest

from skewless import cli
from skewless_test_helpers import FLIGHTS

MALFORMED = {
    "analyzers is a list": b'{"format": "skewless-stats/1", "analyzers": []}',
    "an analyzer is a number": b'{"format": "skewless-stats/1", "analyzers": {"d/zscore": 5}}',
    "an analyzer without constants": b'{"format": "skewless-stats/1", "analyzers": {"d/zscore": {}}}',
    "constants are a list": (b'{"format": "skewless-stats/1", '
                             b'"analyzers": {"d/zscore": {"constants": [1, 2]}}}'),
    "not UTF-8": b'\xff{"format": "skewless-stats/1"}',
    "nested 100,000 deep": b"[" * 100_000,
    "not JSON": b"format: skewless-stats/1",
    "another format": b'{"format": "skewless-stats/9", "analyzers": {}}',
    "empty": b"",
}


@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("command", ["compile", "check"])
def test_a_malformed_stats_file_is_named(tmp_path, capsys, command, content):
    stats = tmp_path / "bad.stats.json"
    stats.write_bytes(content)
    argv = [command, str(FLIGHTS / "flights.feat"), "--stats", str(stats)]
    if command == "compile":
        argv += ["-o", str(tmp_path / "out.py")]
    else:
        argv += ["--examples", "1"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert str(stats) in err
    assert "Traceback" not in err
    assert not (tmp_path / "out.py").exists()
