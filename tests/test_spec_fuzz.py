"""Fuzzing the spec front end: random text, token soup and mutations of valid specs either
compile or raise SpecError with every diagnostic inside the file, never another exception;
a spec that compiles gives a module that is valid Python. Front end only: nothing is traced."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from skewless import codegen
from skewless.compiler import check_source
from skewless.errors import SpecError
from skewless.ops.registry import all_ops
from skewless.syntax import KEYWORDS, MAX_NESTING
from skewless.testing import spec_sources

from skewless_test_helpers import FLIGHTS

EXAMPLES = 8 * settings.default.max_examples  # 1200 each with the ci profile, 200 with dev
FLIGHTS_SPEC = (FLIGHTS / "flights.feat").read_text(encoding="utf-8")

TOKENS = sorted(KEYWORDS) + sorted(all_ops()) + [
    "(", ")", "[", "]", ",", ":", "=", "|", "+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=",
    ">", ">=", "0", "1", "-1", "9223372036854775807", "9223372036854775808", "9" * 30, "1.5",
    ".5", "1e39", "1e-50", "inf", "nan", '"a"', '""', '"\\u00e9"', '"\\q"', '"\\ud800"', '"open',
    "float32", "int64", "string", "bool", "x", "y", "z", "length=", "depth=", "quantiles=",
    "10000000000", "4294967299", "# comment", "\n", "\n", " ", "\t", "\r", "\u2028", "\x00",
    "é", "sparse float32[3] from (i, v)",
]
SOUP = st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join)
VALID = st.one_of(st.just(FLIGHTS_SPEC), spec_sources(max_inputs=3, max_features=3))


def _deep(kind: str, depth: int) -> str:
    return {"(": "(" * depth + "x" + ")" * depth, "[": "[" * depth + "1" + "]" * depth,
            "call": "abs(" * depth + "x" + ")" * depth, "-": "- " * depth + "x",
            "+": " + ".join(["x"] * depth), "|": "x" + " | abs" * depth}[kind]


@st.composite
def mutated(draw) -> str:
    """A valid spec with a few edits: a slice deleted or duplicated, tokens or a deep
    expression inserted, or characters replaced."""
    text = draw(VALID)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 40)))
        edit = draw(st.sampled_from(["delete", "duplicate", "insert", "deep", "replace"]))
        if edit == "delete":
            text = text[:i] + text[j:]
        elif edit == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        elif edit == "insert":
            text = text[:i] + " " + draw(SOUP) + " " + text[i:]
        elif edit == "deep":
            kind = draw(st.sampled_from(["(", "[", "call", "-", "+", "|"]))
            depth = draw(st.sampled_from([MAX_NESTING, MAX_NESTING + 1, 300, 1000]))
            text = text[:i] + _deep(kind, depth) + text[i:]
        else:
            text = text[:i] + draw(st.text(max_size=j - i + 1)) + text[j:]
    return text


def front_end(text: str) -> None:
    """Check the spec; assert what may come out of it."""
    try:
        graph = check_source(text, "fuzz.feat")
    except SpecError as error:
        assert error.diagnostics
        lines = text.split("\n")  # only a newline ends a line of a spec
        for d in error.diagnostics:
            assert 1 <= d.pos.line <= len(lines), (d, len(lines))
            assert 1 <= d.pos.column <= len(lines[d.pos.line - 1]) + 1, d
            assert d.render(text).startswith(f"fuzz.feat:{d.pos.line}:{d.pos.column}: error: ")
        return
    if not graph.missing_constants():  # analyzers without data cannot be written out
        compile(codegen.generate(graph, "fuzz.feat").source, "features.py", "exec")


@settings(max_examples=EXAMPLES)
@given(st.text(max_size=300))
def test_random_text(report_cases, text):
    report_cases("spec front end fuzz: random text")
    front_end(text)


@settings(max_examples=EXAMPLES)
@given(SOUP)
def test_token_soup(report_cases, text):
    report_cases("spec front end fuzz: token soup")
    front_end(text)


@settings(max_examples=EXAMPLES)
@given(mutated())
def test_mutated_specs(report_cases, text):
    report_cases("spec front end fuzz: mutated specs")
    front_end(text)


@settings(max_examples=max(25, EXAMPLES // 8))
@given(VALID)
def test_valid_specs_compile_to_python(report_cases, text):
    report_cases("spec front end fuzz: valid specs")
    check_source(text, "fuzz.feat")
    front_end(text)
