"""``skewless fmt``'s layout, by example: hand-written before/after pairs for each rule of
docs/language.md "Layout", the bundled specs, chains of 10,000 terms and syntax errors."""
from __future__ import annotations

import pytest

from skewless.compiler import check_source
from skewless.errors import SpecError
from skewless.fmt import format_source, normalize_number

from skewless_test_helpers import FLIGHTS, REPO

N = 10_000

# (before, after): after is what fmt must write, typed by hand.
EXAMPLES = {
    "spaces around operators and =": (
        "input x: float32\nfeature y=x*2+1//3-x%2/x\n",
        "input x: float32\nfeature y = x * 2 + 1 // 3 - x % 2 / x\n"),
    "comparisons, and, or, not, in": (
        "input x: int64\nfeature y=cast(x>1 and not x<=2 or x in[1,2],int64)\n",
        "input x: int64\nfeature y = cast(x > 1 and not x <= 2 or x in [1, 2], int64)\n"),
    "pipes": (
        "input x: float32\nfeature y = x|fill_nan(0)  |clip( -5 ,5 )|log1p\n",
        "input x: float32\nfeature y = x | fill_nan(0) | clip(-5, 5) | log1p\n"),
    "keyword arguments take no spaces": (
        "input s: string\nfeature h = hash( s , buckets = 10 )\n",
        "input s: string\nfeature h = hash(s, buckets=10)\n"),
    "negation against its operand, subtraction spaced": (
        "input x: float32\nfeature y = - x - - 1 * -(x)\n",
        "input x: float32\nfeature y = -x - -1 * -(x)\n"),
    "a negation of a negation keeps its space": (
        "input x: float32\nfeature y = - -x\n",
        "input x: float32\nfeature y = - -x\n"),
    "column declarations: name:, type, shape, sparse, from": (
        "input  v :sparse   float32 [ 4 ]  from( i , w )\n",
        "input v: sparse float32[4] from (i, w)\n"),
    "number spellings": (
        "input x: float32\nfeature y = x * 1. + .5 - 007 + 1E+05 + 2.50e-007 + 3e0 + 00.0\n",
        "input x: float32\nfeature y = x * 1.0 + 0.5 - 7 + 1e5 + 2.50e-7 + 3e0 + 0.0\n"),
    "string spellings": (
        'input s: string\nfeature y = concat(s, "\\u00e9\\u0041", "\\"\\\\", "\\u000a\\u0009",'
        ' "\\u0000\\u2028")\n',
        'input s: string\nfeature y = concat(s, "éA", "\\"\\\\", "\\n\\t", "\\u0000\\u2028")\n'),
    "a trailing comma before its bracket goes": (
        "input x: float32\nfeature y = bucketize(x, boundaries=[1, 2,],)\n",
        "input x: float32\nfeature y = bucketize(x, boundaries=[1, 2])\n"),
    "inputs aligned on the type and on =": (
        "input carrier: string\ninput tailnum: string = \"\"\ninput sched_dep_time: int64\n"
        "input dep_delay: float32 = 0.0\n",
        "input carrier:        string\ninput tailnum:        string  = \"\"\n"
        "input sched_dep_time: int64\ninput dep_delay:      float32 = 0.0\n"),
    "features aligned on =, a passthrough among them": (
        "input x: float32\nfeature a = x\nfeature carrier\nfeature long_name = x + 1\n",
        "input x: float32\nfeature a         = x\nfeature carrier\nfeature long_name = x + 1\n"),
    "runs end at a blank line, a comment and another keyword": (
        "input x: float32\ninput yy: float32\n\ninput zzz: float32\n# c\ninput w: int64\n"
        "label long_label: float32\nlet a = x\nlet bb = x\nfeature c = a\n",
        "input x:  float32\ninput yy: float32\n\ninput zzz: float32\n# c\ninput w: int64\n"
        "label long_label: float32\nlet a  = x\nlet bb = x\nfeature c = a\n"),
    "end-of-line comments of a run on one column": (
        "input x: float32 # one\ninput long: string\ninput yy: int64   #two\n",
        "input x:    float32  # one\ninput long: string\ninput yy:   int64    #two\n"),
    "comments and blank lines kept, runs of blank lines one": (
        "\n\n# head  \nspec s\n\n\n\n# own line\ninput x: float32\n\n\nfeature y = x  # end\n\n\n",
        "# head\nspec s\n\n# own line\ninput x: float32\n\nfeature y = x  # end\n"),
    "line breaks inside brackets kept, indentation normalized": (
        "input x: float32\nfeature y = clip(x,\n  -1,\n          1)\n",
        "input x: float32\nfeature y = clip(x,\n    -1,\n    1)\n"),
    "a closing bracket on its own line, a comment inside brackets": (
        "input x: float32\nfeature y = bucketize(\n x,  # the value\n   # the edges\n"
        " boundaries=[\n  1,\n  2,\n  ],\n   )\n",
        "input x: float32\nfeature y = bucketize(\n    x,  # the value\n    # the edges\n"
        "    boundaries=[\n        1,\n        2,\n    ],\n)\n"),
    "brackets opened on one line indent once": (
        "input x: float32\nfeature y = abs(clip(\nx, 0, 1))\n",
        "input x: float32\nfeature y = abs(clip(\n    x, 0, 1))\n"),
    "multi-line statements are not aligned": (
        "input x: float32\nfeature a = x\nfeature longer = clip(\nx, 0, 1)\nfeature b = x\n",
        "input x: float32\nfeature a = x\nfeature longer = clip(\n    x, 0, 1)\nfeature b = x\n"),
    "tabs, form feeds and indented statements": (
        "\tinput\tx:\tfloat32\n  feature y =\x0cx\n",
        "input x: float32\nfeature y = x\n"),
    "a file of comments only": ("  # a\n\n\n# b", "# a\n\n# b\n"),
    "an empty file": ("\n \n\n", ""),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_layout_examples(name):
    before, after = EXAMPLES[name]
    assert format_source(before) == after
    assert format_source(after) == after


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_layout_examples_keep_the_meaning(name):
    before, after = EXAMPLES[name]
    try:
        expected = check_source(before).fingerprint()
    except SpecError as error:  # the examples that are not whole specs check alike
        expected = [d.message for d in error.diagnostics]
    try:
        assert check_source(after).fingerprint() == expected
    except SpecError as error:
        assert [d.message for d in error.diagnostics] == expected


NUMBERS = [  # (kind, written, canonical): the same value and type, by hand
    ("INT", "0", "0"), ("INT", "000", "0"), ("INT", "0042", "42"),
    ("FLOAT", "1.", "1.0"), ("FLOAT", ".5", "0.5"),
    ("FLOAT", "00.250", "0.250"), ("FLOAT", "1E5", "1e5"), ("FLOAT", "1e+5", "1e5"),
    ("FLOAT", "1e-05", "1e-5"), ("FLOAT", "1.e-0", "1.0e0"), ("FLOAT", ".5E+010", "0.5e10"),
    ("FLOAT", "5e000", "5e0"),
]


@pytest.mark.parametrize("kind, written, canonical", NUMBERS)
def test_number_spellings(kind, written, canonical):
    assert normalize_number(kind, written) == canonical
    assert float(canonical) == float(written)


@pytest.mark.parametrize("path", [FLIGHTS / "flights.feat", REPO / "benchmarks" / "heavy.feat"],
                         ids=["flights", "heavy"])
def test_bundled_specs_format_stably_and_keep_their_meaning(path):
    source = path.read_text(encoding="utf-8")
    formatted = format_source(source)
    assert format_source(formatted) == formatted
    assert check_source(formatted).fingerprint() == check_source(source).fingerprint()
    comments = [line[line.index("#"):].rstrip() for line in source.splitlines() if "#" in line]
    assert [line[line.index("#"):] for line in formatted.splitlines() if "#" in line] == comments


CHAINS = {
    "plus": ("input x: float32\nfeature y=" + "+".join(["x"] * N) + "\n",
             "input x: float32\nfeature y = " + " + ".join(["x"] * N) + "\n"),
    "pipe": ("input x: float32\nfeature y=x" + "|abs" * N + "\n",
             "input x: float32\nfeature y = x" + " | abs" * N + "\n"),
    "minus": ("input x: float32\nfeature y = " + "- " * N + "x\n",
              "input x: float32\nfeature y = " + "- " * (N - 1) + "-x\n"),
    "lines": ("input x: float32\nfeature y = (x\n" + "+ x\n" * N + ")\n",
              "input x: float32\nfeature y = (x\n" + "    + x\n" * N + ")\n"),
}


@pytest.mark.parametrize("kind", sorted(CHAINS))
def test_chains_of_ten_thousand_are_formatted(kind):
    before, after = CHAINS[kind]
    assert format_source(before) == after


@pytest.mark.parametrize("source, position", [
    ("input x: float32\nfeature y = x +\n", "<spec>:2:16: error:"),
    ("input x: float32\nfeature y = clip(x, 0, 1\ninput z: int64\n", "<spec>:2:25: error:"),
    ('input s: string\nfeature y = concat(s, "\\q")\n', "<spec>:2:23: error:"),
    ("input x: float32\nfeature input = x\n", "<spec>:2:9: error:"),
])
def test_syntax_errors_are_positioned_diagnostics(source, position):
    with pytest.raises(SpecError) as raised:
        format_source(source)
    assert str(raised.value).startswith(position)
