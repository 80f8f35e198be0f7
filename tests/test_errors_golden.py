"""Golden tests of the messages users see: each ``tests/golden/errors/NAME.feat`` must make
``skewless compile`` fail with exit status 1, print exactly ``NAME.txt`` to stderr (the
expected text is written by hand: position, source line, caret underline, error count), and
write no output file.

A ``.feat`` whose first line is ``# requires: f, g`` names the functions its message depends
on: the case fails, rather than passing or skipping, if one of them is not registered."""
from __future__ import annotations

import pathlib
import re
import unicodedata

import pytest
from hypothesis import given, strategies as st

from skewless.ast import Pos
from skewless.cli import main
from skewless.ops.registry import all_ops

GOLDEN = pathlib.Path(__file__).parent / "golden" / "errors"
CASES = sorted(path.stem for path in GOLDEN.glob("*.feat"))


def _required_ops(feat: pathlib.Path) -> list[str]:
    first = feat.read_text(encoding="utf-8").splitlines()[0]
    if not first.startswith("# requires:"):
        return []
    return [name.strip() for name in first.split(":", 1)[1].split(",") if name.strip()]


def test_every_case_has_its_expected_text():
    assert len(CASES) >= 20
    for name in CASES:
        assert (GOLDEN / f"{name}.txt").is_file(), name
    assert sorted(p.stem for p in GOLDEN.glob("*.txt")) == CASES


@pytest.mark.parametrize("name", CASES)
def test_compile_error_message(name, tmp_path, monkeypatch, capsys):
    feat = GOLDEN / f"{name}.feat"
    missing = [op for op in _required_ops(feat) if op not in all_ops()]
    assert not missing, f"{name}.feat needs functions that are not registered: {missing}"
    expected = (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / "features.py"
    monkeypatch.chdir(GOLDEN)  # the message names the spec as given: a relative path

    status = main(["compile", f"{name}.feat", "-o", str(output)])

    captured = capsys.readouterr()
    assert status == 1
    assert captured.err == expected
    assert captured.out == ""
    assert list(out_dir.iterdir()) == []  # nothing written, not even a temporary file


def test_existing_output_is_untouched_by_a_failed_compile(tmp_path, monkeypatch, capsys):
    output = tmp_path / "features.py"
    output.write_text("# the previous module\n", encoding="utf-8")
    monkeypatch.chdir(GOLDEN)
    assert main(["compile", "type_errors.feat", "-o", str(output)]) == 1
    assert output.read_text(encoding="utf-8") == "# the previous module\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.py"]
    assert "10 errors" in capsys.readouterr().err


def test_missing_spec_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "nowhere.feat", "-o", "out.py"]) == 1
    assert capsys.readouterr().err == "nowhere.feat: no such file\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("raw, positions", [
    (b"input a: int64\nlet b = \"\xe9t\xe9\"\nfeature c = a\n", [(2, 10), (2, 12)]),
    (b"\xef\xbb\xbfinput a: int64 # \xff\xfe\n", [(1, 18), (1, 19)]),  # after a BOM
    (b"input \xc3: int64\n", [(1, 7)]),  # a sequence cut short
    (b"# \xe2\x82\n\x80\n", [(1, 3), (2, 1)]),
])
def test_every_byte_that_is_not_utf8_is_a_positioned_error(tmp_path, capsys, raw, positions):
    (tmp_path / "s.feat").write_bytes(raw)
    assert main(["compile", str(tmp_path / "s.feat"), "-o", str(tmp_path / "out.py")]) == 1
    err = capsys.readouterr().err
    found = [(int(line), int(column)) for line, column in
             re.findall(r"s\.feat:(\d+):(\d+): error: not UTF-8 text: byte 0x", err)]
    assert found == positions, err
    assert err.endswith(f"{len(positions)} error{'s' * (len(positions) > 1)}\n")
    assert not (tmp_path / "out.py").exists()


def test_spec_that_is_not_utf8(tmp_path, monkeypatch, capsys):
    (tmp_path / "latin1.feat").write_bytes(b"input caf\xe9: int64\n")
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "latin1.feat", "-o", "out.py"]) == 1
    assert capsys.readouterr().err == (
        "latin1.feat:1:10: error: not UTF-8 text: byte 0xe9 (invalid continuation byte); save "
        "the file as UTF-8\n"
        "    input caf\ufffd: int64\n"
        "             ^\n"
        "1 error\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latin1.feat"]


@pytest.mark.parametrize("text, cells", [
    ("abc", 3), ("", 0),
    ("重要", 4),              # CJK: wide
    ("ＡＢ", 4),              # fullwidth Latin
    ("e\u0301", 1),          # e and a combining acute accent
    ("\u00e9", 1),           # é written as one character
    ("\u1100\u1161\u11a8", 2),  # a Hangul syllable written as three conjoining jamo
    ("\u00ad", 1),           # a soft hyphen
    ("a\x01b", 2),           # a control character, drawn as nothing
    ("\U0001F44D", 2),       # an emoji
    ("ｶﾀ", 2),               # halfwidth katakana: narrow
])
def test_the_caret_counts_terminal_cells(text, cells):
    """The caret of a message stands under its token however wide the characters before it
    are: the cells a terminal gives each character (wcwidth's count), counted by hand here."""
    from skewless.errors import display_width
    assert display_width(text) == cells


# Characters a terminal acts on instead of drawing: C0 controls (but the newline, which ends
# a line, and the tab, which is expanded), DEL, C1 controls and the bidirectional controls.
HIDDEN = ([chr(c) for c in range(0x20) if chr(c) not in "\n\t"] + ["\x7f"]
          + [chr(c) for c in range(0x80, 0xA0)]
          + list("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def _shown_by_hand(char: str) -> str:
    if char < " ":
        return chr(0x2400 + ord(char))
    if char == "\x7f":
        return "\u2421"
    if char in HIDDEN:
        return "\\u{%04x}" % ord(char)
    return char


@given(st.lists(st.sampled_from(HIDDEN) | st.characters(min_codepoint=0x20, max_codepoint=0x7e),
                min_size=1, max_size=30), st.data())
def test_a_source_line_is_shown_without_the_characters_a_terminal_acts_on(chars, data):
    """Whatever the line holds, the rendered message has no control or bidirectional
    character but its line breaks, and the caret stands under the character it points at."""
    from skewless.errors import Diagnostic

    column = data.draw(st.integers(1, len(chars)))
    rendered = Diagnostic("s.feat", Pos(1, column), "x").render("".join(chars) + "\n")
    head, line, caret = rendered.split("\n")
    assert not [c for c in rendered
                if c != "\n" and (c in HIDDEN or unicodedata.category(c) == "Cc")]
    shown = [_shown_by_hand(c) for c in chars]
    assert line == "    " + "".join(shown)
    under = shown[column - 1]  # underlined whole when shown as several characters
    assert caret == "    " + " " * len("".join(shown[:column - 1])) + "^" + "~" * (len(under) - 1)


def test_an_escape_sequence_in_a_spec_reaches_the_terminal_as_a_picture(tmp_path, capsys):
    spec = tmp_path / "esc.feat"
    spec.write_bytes(b"input a: float32\nfeature t = a \x1b[2J+ 2\n")
    assert main(["compile", str(spec), "-o", str(tmp_path / "esc.py")]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert err.endswith(f"{spec}:2:15: error: unexpected character '\\x1b'\n"
                        "    feature t = a \u241b[2J+ 2\n"
                        "                  ^\n"
                        "1 error\n")


HOSTILE = "\x1b[2J\x1b[31m\u202e\x00\x85\x07"


@pytest.mark.parametrize("where", ["a string literal", "a pattern", "a bad escape", "the path",
                                   "a missing file", "an unknown argument", "fmt --check",
                                   "a stale output"])
def test_no_error_message_passes_control_characters_to_the_terminal(tmp_path, capsys, where):
    """Messages quote what the user wrote (a string, a pattern, an escape, a path): whatever
    it holds, stderr holds no control or bidirectional character but line breaks."""
    name, text = "bad.feat", "input s: string\nfeature f = log1p(s)\n"
    if where == "a string literal":
        text = f'input s: string\nfeature f = log1p("{HOSTILE.replace(chr(0), "")}")\n'
    elif where == "a pattern":
        text = 'input s: string\nfeature f = regex_match(s, "(\\u001b[31m\\u202e\\u0000")\n'
    elif where == "a bad escape":
        text = 'input s: string\nfeature f = concat(s, "\\\x1b")\n'
    elif where in ("the path", "a missing file"):
        name = f"p{HOSTILE.replace(chr(0), '')}.feat"
    if where in ("fmt --check", "a stale output"):
        name, text = f"p{HOSTILE.replace(chr(0), '')}.feat", "input   s: string\nfeature f = s\n"
    spec = tmp_path / name
    if where != "a missing file":
        spec.write_text(text, encoding="utf-8")
    output = tmp_path / f"o{HOSTILE.replace(chr(0), '')}.py"
    if where == "an unknown argument":
        with pytest.raises(SystemExit):
            main(["compile", str(spec), f"--bogus{HOSTILE.replace(chr(0), '')}"])
    elif where == "fmt --check":
        assert main(["fmt", "--check", str(spec)]) == 1
    elif where == "a stale output":
        assert main(["compile", str(spec), "-o", str(output)]) == 0
        output.write_text(output.read_text() + "# changed\n")
        assert main(["compile", str(spec), "-o", str(output), "--check"]) == 1
    else:
        assert main(["compile", str(spec), "-o", str(output)]) == 1
    err = capsys.readouterr().err
    assert err
    assert not [c for c in err if c != "\n" and (c in HIDDEN or unicodedata.category(c) == "Cc")]
