"""Every numeric option of every command refuses values out of its range as argparse does:
exit status 2, the usage and a message naming the option, before any work."""
from __future__ import annotations

import pytest

from skewless import cli

SPEC = "never_read.feat"  # the options are refused before the spec is looked at
SERVE = ["serve", "exports", "--model-name", "m"]

REFUSED = {
    "check: negative examples": (["check", SPEC, "--examples", "-5"], "--examples"),
    "check: 0 examples without --data checks nothing": (["check", SPEC, "--examples", "0"],
                                                        "--examples 0"),
    "check: examples not a number": (["check", SPEC, "--examples", "ten"], "--examples"),
    "check: examples a float": (["check", SPEC, "--examples", "1.5"], "--examples"),
    "check: examples in non-ASCII digits": (["check", SPEC, "--examples", "\u0663"],
                                            "--examples"),
    "check: negative seed": (["check", SPEC, "--seed", "-1"], "--seed"),
    "check: seed past 2**32 - 1": (["check", SPEC, "--seed", str(2**32)], "--seed"),
    "check: seed of 5000 digits": (["check", SPEC, "--seed", "9" * 5000], "--seed"),
    "serve: an empty model name": (["serve", "exports", "--model-name", ""], "--model-name"),
    "serve: negative port": (SERVE + ["--port", "-1"], "--port"),
    "serve: port past 65535": (SERVE + ["--port", "65536"], "--port"),
    "serve: REST port past 65535": (SERVE + ["--rest-port", "99999"], "--rest-port"),
    "serve: REST port in superscript digits": (SERVE + ["--rest-port", "\u00b2"], "--rest-port"),
    "serve: batch size 0": (SERVE + ["--max-batch-size", "0"], "--max-batch-size"),
    "serve: negative batch size": (SERVE + ["--max-batch-size", "-3"], "--max-batch-size"),
    "serve: request bytes 0": (SERVE + ["--max-request-bytes", "0"], "--max-request-bytes"),
    "serve: request bytes past gRPC's 2 GiB": (SERVE + ["--max-request-bytes", str(2**31)],
                                               "--max-request-bytes"),
    "serve: idle timeout 0": (SERVE + ["--idle-timeout", "0"], "--idle-timeout"),
    "serve: read timeout 0": (SERVE + ["--read-timeout", "0"], "--read-timeout"),
    "serve: negative read timeout": (SERVE + ["--read-timeout", "-1"], "--read-timeout"),
    "serve: read timeout NaN": (SERVE + ["--read-timeout", "nan"], "--read-timeout"),
    "serve: read timeout infinite": (SERVE + ["--read-timeout", "inf"], "--read-timeout"),
    "serve: read timeout of a million seconds": (SERVE + ["--read-timeout", "1e6"],
                                                 "--read-timeout"),
    "serve: read timeout not a number": (SERVE + ["--read-timeout", "soon"], "--read-timeout"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_numeric_options_out_of_range_are_argparse_errors(case, capsys):
    argv, named = REFUSED[case]
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: skewless") and named in err and "error:" in err, err
    assert "Traceback" not in err and len(err) < 2000


@pytest.mark.parametrize("option", ["--idle-timeout", "--read-timeout"])
@pytest.mark.parametrize("value", ["1e10", "1000000", "0", "-2", "nan"])
def test_a_timeout_out_of_range_is_refused_stating_the_whole_range(option, value, capsys):
    with pytest.raises(SystemExit):
        cli.main(SERVE + [option, value])
    assert "above 0 and below 1000000" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert help_text.count("above 0 and below 1000000") == 2, help_text


ACCEPTED = {
    "check: 0 examples with --data": (["check", SPEC, "--examples", "0", "--data", "d"],
                                      {"examples": 0}),
    "check: the largest seed": (["check", SPEC, "--seed", str(2**32 - 1)], {"seed": 2**32 - 1}),
    "check: seed 0": (["check", SPEC, "--seed", "0"], {"seed": 0}),
    "serve: ports 0 and 65535": (SERVE + ["--port", "0", "--rest-port", "65535"],
                                 {"port": 0, "rest_port": 65535}),
    "serve: the largest request": (SERVE + ["--max-request-bytes", str(2**31 - 1)],
                                   {"max_request_bytes": 2**31 - 1}),
    "serve: batch size 1": (SERVE + ["--max-batch-size", "1"], {"max_batch_size": 1}),
    "serve: timeouts under a second": (SERVE + ["--idle-timeout", "0.5", "--read-timeout",
                                                "0.25"], {"idle_timeout": 0.5,
                                                          "read_timeout": 0.25}),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_numeric_options_in_range_are_accepted(case):
    argv, expected = ACCEPTED[case]
    args = cli._parse(cli._parser(), argv)
    assert {name: getattr(args, name) for name in expected} == expected
