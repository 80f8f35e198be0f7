"""``skewless fmt`` on files: in-place rewrite, --check and --diff, folders, and files it must
leave alone (syntax errors, unreadable files), never with a traceback."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from skewless.cli import main

from skewless_test_helpers import REPO

UGLY = "input x :float32\nfeature y=x+1  # one\n"
FORMATTED = "input x: float32\nfeature y = x + 1  # one\n"
BROKEN = "input x: float32\nfeature y = x +\n"


def test_a_file_is_rewritten_in_place_and_reported(tmp_path, capsys):
    spec = tmp_path / "a.feat"
    spec.write_text(UGLY, encoding="utf-8")
    spec.chmod(0o640)
    assert main(["fmt", str(spec)]) == 0
    assert spec.read_text(encoding="utf-8") == FORMATTED
    assert stat.S_IMODE(spec.stat().st_mode) == 0o640  # the file keeps its permissions
    out, err = capsys.readouterr()
    assert out == f"reformatted {spec}\n"
    assert "1 file reformatted, 0 unchanged" in err
    assert [p.name for p in tmp_path.iterdir()] == ["a.feat"]  # no temporary file left


def test_a_formatted_file_is_not_written(tmp_path, capsys):
    spec = tmp_path / "a.feat"
    spec.write_text(FORMATTED, encoding="utf-8")
    before = spec.stat().st_mtime_ns
    os.utime(spec, ns=(before - 10**9, before - 10**9))
    assert main(["fmt", str(spec)]) == 0
    assert spec.stat().st_mtime_ns == before - 10**9
    assert capsys.readouterr().out == ""


def test_windows_line_ends_are_rewritten(tmp_path):
    spec = tmp_path / "a.feat"
    spec.write_bytes(FORMATTED.replace("\n", "\r\n").encode("utf-8"))
    assert main(["fmt", "--check", str(spec)]) == 1
    assert main(["fmt", str(spec)]) == 0
    assert spec.read_bytes() == FORMATTED.encode("utf-8")


def test_check_writes_nothing_prints_a_unified_diff_and_exits_1(tmp_path, capsys):
    spec = tmp_path / "a.feat"
    spec.write_text(UGLY, encoding="utf-8")
    assert main(["fmt", "--check", str(spec)]) == 1
    assert spec.read_text(encoding="utf-8") == UGLY
    out, err = capsys.readouterr()
    assert out == (f"--- {spec} (original)\n+++ {spec} (formatted)\n@@ -1,2 +1,2 @@\n"
                   "-input x :float32\n-feature y=x+1  # one\n"
                   "+input x: float32\n+feature y = x + 1  # one\n")
    assert f"would reformat {spec}" in err


def test_check_exits_0_when_every_file_is_formatted(tmp_path, capsys):
    for name in ("a.feat", "b.feat"):
        (tmp_path / name).write_text(FORMATTED, encoding="utf-8")
    assert main(["fmt", "--check", str(tmp_path / "a.feat"), str(tmp_path / "b.feat")]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "0 files would be reformatted, 2 unchanged" in err


def test_diff_prints_the_diff_writes_nothing_and_exits_0(tmp_path, capsys):
    spec = tmp_path / "a.feat"
    spec.write_text("input x: float32", encoding="utf-8")  # no line end at the end
    assert main(["fmt", "--diff", str(spec)]) == 0
    assert spec.read_text(encoding="utf-8") == "input x: float32"
    out = capsys.readouterr().out
    assert "-input x: float32\n\\ No newline at end of file\n+input x: float32\n" in out


def test_a_folder_means_its_feat_files(tmp_path, capsys):
    (tmp_path / "deep" / "er").mkdir(parents=True)
    for path in (tmp_path / "a.feat", tmp_path / "deep" / "er" / "b.feat"):
        path.write_text(UGLY, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(UGLY, encoding="utf-8")
    assert main(["fmt", str(tmp_path)]) == 0
    assert (tmp_path / "a.feat").read_text(encoding="utf-8") == FORMATTED
    assert (tmp_path / "deep" / "er" / "b.feat").read_text(encoding="utf-8") == FORMATTED
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == UGLY


def test_a_linked_file_is_formatted_through_the_link(tmp_path):
    spec = tmp_path / "real.feat"
    spec.write_text(UGLY, encoding="utf-8")
    (tmp_path / "link.feat").symlink_to(spec)
    assert main(["fmt", str(tmp_path / "link.feat")]) == 0
    assert (tmp_path / "link.feat").is_symlink()
    assert spec.read_text(encoding="utf-8") == FORMATTED


def test_a_syntax_error_is_reported_the_file_untouched_and_the_others_formatted(tmp_path,
                                                                                capsys):
    broken, good = tmp_path / "broken.feat", tmp_path / "good.feat"
    broken.write_text(BROKEN, encoding="utf-8")
    good.write_text(UGLY, encoding="utf-8")
    assert main(["fmt", str(broken), str(good)]) == 1
    assert broken.read_text(encoding="utf-8") == BROKEN
    assert good.read_text(encoding="utf-8") == FORMATTED
    err = capsys.readouterr().err
    assert f"{broken}:2:16: error: unexpected end of statement" in err
    assert "1 file reformatted, 0 unchanged, 1 failed" in err


@pytest.mark.parametrize("content, message", [
    (None, ": no such file"),
    (b"input x: float32 # \xff\n", ":1:20: error: not UTF-8 text: byte 0xff"),
])
def test_unreadable_files_are_messages(tmp_path, capsys, content, message):
    spec = tmp_path / "a.feat"
    if content is not None:
        spec.write_bytes(content)
    assert main(["fmt", "--check", str(spec)]) == 1
    assert f"{spec}{message}" in capsys.readouterr().err


def test_errors_show_no_traceback(tmp_path):
    (tmp_path / "broken.feat").write_text(BROKEN, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "skewless", "fmt", "broken.feat", "gone.feat"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 1
    assert "broken.feat:2:16: error:" in result.stderr
    assert "gone.feat: no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_read_only_file_is_not_rewritten(tmp_path, capsys):
    spec = tmp_path / "a.feat"
    spec.write_text(UGLY, encoding="utf-8")
    spec.chmod(0o444)
    assert main(["fmt", str(spec)]) == 1
    assert f"{spec}: is read-only: not rewritten" in capsys.readouterr().err
    assert spec.read_text(encoding="utf-8") == UGLY
    assert main(["fmt", "--check", str(spec)]) == 1  # still checked: it is not formatted


def test_a_file_that_is_not_a_regular_file_is_a_message_not_a_wait(tmp_path, capsys):
    fifo = tmp_path / "pipe.feat"
    os.mkfifo(fifo)
    assert main(["fmt", "--check", str(fifo)]) == 1  # a read would wait for a writer
    assert f"{fifo}: not a regular file" in capsys.readouterr().err
