"""Properties of ``skewless fmt`` on generated specs laid out at random (spacing, line breaks
inside brackets, comments, blank lines, number and string spellings): formatting never
changes what a spec compiles to (the graph's fingerprint) nor, for a spec that does not
check, its diagnostics; formatting twice is formatting once; every comment survives."""
from __future__ import annotations

import re

from hypothesis import assume, given, strategies as st

from skewless import syntax
from skewless.compiler import check_source
from skewless.errors import SpecError
from skewless.fmt import format_source
from skewless.testing import spec_sources

from test_spec_fuzz import mutated

SPECS = spec_sources(max_inputs=4, max_features=4)
COMMENT = st.text(st.characters(exclude_characters="\n\r", exclude_categories=("Cs",)),
                  max_size=12).map(lambda text: "#" + text)
# Punctuation that no neighbour can merge with into another token ("/" "/" would be "//").
_SOLO = frozenset("()[],:|+-*%")


def _respelled_number(draw, kind: str, text: str) -> str:
    """Another spelling of the same number: leading zeros, ".5" for "0.5", "1." for "1.0",
    "E", "+" and leading zeros in the exponent."""
    zeros = "0" * draw(st.integers(0, 2))
    if kind == "INT":
        return zeros + text
    whole, fraction, exponent = re.fullmatch(r"([0-9]*)(?:\.([0-9]*))?(?:[eE](.*))?",
                                             text).groups()
    if whole == "0" and fraction and draw(st.booleans()):
        whole = ""
    elif whole:
        whole = zeros + whole
    if fraction is not None:
        fraction = "" if fraction == "0" and whole and draw(st.booleans()) else fraction
        whole += "." + fraction
    if exponent is not None:
        sign = exponent[0] if exponent[0] in "+-" else draw(st.sampled_from(["", "+"]))
        whole += draw(st.sampled_from("eE")) + sign + zeros + exponent.lstrip("+-")
    return whole


def _respelled_string(draw, text: str) -> str:
    """The same string with some characters written as ``\\uXXXX``."""
    out = []
    for char in syntax.unescape(text):
        if ord(char) < 0x10000 and not 0xD800 <= ord(char) <= 0xDFFF and draw(st.booleans()):
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(syntax.quote(char)[1:-1])
    return '"' + "".join(out) + '"'


@st.composite
def relaid(draw, source: str, same_lines: bool = False) -> str:
    """``source`` (a spec that parses) with a random layout and comments. With
    ``same_lines`` every statement keeps its line number: no blank lines, no lines inside
    brackets, no comment lines (the diagnostics' messages name lines)."""
    out, depth, previous = [], 0, None
    newlines = not same_lines and draw(st.integers(0, 2))
    out.append("\n" * newlines)
    for token in syntax.tokens(source):
        text = str(token)
        if token.type == "COMMENT" or not text.strip(" \t\f\r\n"):
            if "\n" in text and depth == 0:  # a statement ends
                if draw(st.booleans()):
                    out.append(draw(st.sampled_from([" ", "  ", "\t"])) + draw(COMMENT))
                out.append("\n")
                if not same_lines:
                    out.append("\n" * draw(st.integers(0, 2)))
                    if draw(st.integers(0, 3)) == 0:
                        out.append(draw(st.sampled_from(["", "  "])) + draw(COMMENT) + "\n")
                previous = None
            continue
        if previous is None:
            out.append(draw(st.sampled_from(["", "", " ", "\t"])))
        else:
            choices = [" ", "  ", "\t"]
            if previous in _SOLO or text in _SOLO:
                choices.append("")
            if depth > 0 and not same_lines:
                choices += ["\n  ", "\n", " " + draw(COMMENT) + "\n   ", "\n" + draw(COMMENT) + "\n"]
            out.append(draw(st.sampled_from(choices)))
        if token.type in ("INT", "FLOAT"):
            text = _respelled_number(draw, token.type, text)
        elif token.type == "STRING":
            text = _respelled_string(draw, text)
        out.append(text)
        depth += (text in "([") - (text in ")]")
        previous = text
    return "".join(out) + "\n"


def outcome(source: str):
    """What a source compiles to: its fingerprint, or its diagnostics' lines and messages.

    A message may quote the expression it is about as written (``got string ("a")``), so
    messages are compared without spaces, with numbers and strings by value."""
    try:
        return check_source(source).fingerprint()
    except SpecError as error:
        return [(d.pos.line, _by_value(d.message)) for d in error.diagnostics]


def _unescaped(text: str) -> str:
    try:
        return syntax.unescape(text)
    except ValueError:  # quotes that are not a literal
        return text


_NUMBER = re.compile(r"(?<![A-Za-z0-9_])(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_STRING = re.compile(r'"(?:\\.|[^"\\\n])*"')


def _by_value(message: str) -> str:
    message = _STRING.sub(lambda found: repr(_unescaped(found[0])), message)
    return _NUMBER.sub(lambda found: repr(float(found[0])), re.sub(r"\s+", "", message))


def comments(source: str) -> list[str]:
    return [str(t).rstrip(" \t\r\f\v") for t in syntax.tokens(source) if t.type == "COMMENT"]


@st.composite
def laid_out_specs(draw) -> tuple[str, str]:
    """(a generated spec, the same spec laid out at random)."""
    source = draw(SPECS)
    return source, draw(relaid(source))


@given(laid_out_specs())
def test_formatting_keeps_what_a_spec_compiles_to(report_cases, case):
    report_cases("fmt: same fingerprint")
    source, laid_out = case
    expected = check_source(source).fingerprint()
    assert check_source(laid_out).fingerprint() == expected  # the generator's own check
    assert check_source(format_source(laid_out)).fingerprint() == expected


@given(laid_out_specs())
def test_formatting_twice_is_formatting_once(report_cases, case):
    report_cases("fmt: idempotent")
    once = format_source(case[1])
    assert format_source(once) == once


@given(laid_out_specs())
def test_every_comment_survives(report_cases, case):
    report_cases("fmt: comments survive")
    laid_out = case[1]
    assert comments(format_source(laid_out)) == comments(laid_out)


@st.composite
def broken_specs(draw) -> str:
    """A generated spec with a name replaced by an unknown one, or a number by a string
    (kept on its lines, as messages name lines), laid out at random."""
    source = draw(SPECS)
    tokens = [t for t in syntax.tokens(source) if t.type in ("NAME", "INT", "FLOAT")]
    token = draw(st.sampled_from(tokens))
    replacement = "undefined_name" if token.type == "NAME" else '"text"'
    lines = source.split("\n")
    line = lines[token.line - 1]
    lines[token.line - 1] = line[:token.column - 1] + replacement + line[token.end_column - 1:]
    broken = "\n".join(lines)
    try:
        syntax.parse(broken)
    except SpecError:
        assume(False)  # e.g. a string where a shape's size must be
    return draw(relaid(broken, same_lines=True))


@given(broken_specs())
def test_formatting_keeps_the_diagnostics_of_a_spec_that_does_not_check(report_cases, source):
    report_cases("fmt: same diagnostics")
    assert outcome(format_source(source)) == outcome(source)


def _masked(result):
    if isinstance(result, str):
        return result
    return [re.sub(r"line[0-9.]+", "line N", message) for _, message in result]


@given(mutated())
def test_mutated_specs_either_do_not_parse_or_format_to_the_same_meaning(report_cases, text):
    report_cases("fmt: mutated specs")
    try:
        formatted = format_source(text)
    except SpecError:
        return
    assert _masked(outcome(formatted)) == _masked(outcome(text))
    assert format_source(formatted) == formatted
    assert comments(formatted) == comments(text)
