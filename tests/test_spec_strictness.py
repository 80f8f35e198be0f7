"""The checker accepts nothing the language does not define: a default nested unlike its
column's shape, a float literal in an int64 'in' list, non-finite minmax bounds; and a
misused call gets one error per problem, at its culprit."""
from __future__ import annotations

import pytest

from skewless.compiler import check_source
from skewless.errors import SpecError

HEAD = "input x: float32\ninput n: int64\ninput s: string\n"


def errors_of(text: str) -> list[str]:
    """``line:col: message`` of every diagnostic of a spec that must not compile."""
    with pytest.raises(SpecError) as caught:
        check_source(text, "t.feat")
    return [f"{d.pos.line}:{d.pos.column}: {d.message}" for d in caught.value.diagnostics]


# ---- defaults: flat (one value per element) or nested exactly as the shape ---------------------

BAD_DEFAULTS = {
    "nested deeper than [2]": ("input v: float32[2] = [[1], [2]]", "1:24", "deeper than the shape [2]"),
    "ragged rows for [2]": ("input v: float32[2] = [[1, 2], [3]]", "1:24", "deeper than the shape [2]"),
    "ragged second row of [2, 2]": ("input v: float32[2, 2] = [[1, 2], [3]]", "1:35",
                                    "a list of 2 is expected here (dimension 2), got a list of 1"),
    "three rows for [2, 2]": ("input v: int64[2, 2] = [[1, 2], [3, 4], [5, 6]]", "1:24",
                              "a list of 2 is expected here (dimension 1), got a list of 3"),
    "rows mixed with values": ("input v: float32[2, 2] = [[1, 2], 3, 4]", "1:26",
                               "(dimension 1), got a list of 3"),
    "a value where a row goes": ("input v: float32[2, 2] = [[1, 2], [3, 4]] ", None, None),
    "a value among rows": ("input v: float32[2, 2] = [[1, 2], 5]", "1:35",
                           "(dimension 2), got a value"),
    "one level too deep": ("input v: string[1, 2] = [[[\"a\"], [\"b\"]]]", "1:27",
                           "deeper than the shape [1, 2]"),
    "a list for a scalar": ("input v: float32 = [1]", "1:20", "scalar column is one value"),
    "an empty list for a scalar": ("input v: int64 = []", "1:18", "scalar column is one value"),
    "transposed [2, 3]": ("input v: int64[2, 3] = [[1, 2], [3, 4], [5, 6]]", "1:24",
                          "a list of 2 is expected here (dimension 1), got a list of 3"),
}


@pytest.mark.parametrize("case", sorted(BAD_DEFAULTS))
def test_a_default_nested_unlike_its_shape_is_a_positioned_error(case):
    declaration, where, message = BAD_DEFAULTS[case]
    text = f"{declaration}\nfeature v\n"
    if where is None:  # the control: nested as the shape
        check_source(text, "t.feat")
        return
    found = errors_of(text)
    assert len(found) == 1 and found[0].startswith(f"{where}: ") and message in found[0], found


GOOD_DEFAULTS = {
    "flat for [2, 2]": ("input v: float32[2, 2] = [1, 2, 3, 4]", (1.0, 2.0, 3.0, 4.0)),
    "nested for [2, 2]": ("input v: float32[2, 2] = [[1, 2], [3, 4]]", (1.0, 2.0, 3.0, 4.0)),
    "nested for [2, 1, 2]": ("input v: int64[2, 1, 2] = [[[1, 2]], [[3, 4]]]", (1, 2, 3, 4)),
    "nested for [1, 3]": ("input v: string[1, 3] = [[\"a\", \"b\", \"c\"]]", ("a", "b", "c")),
    "flat for [3]": ("input v: int64[3] = [7, 8, 9]", (7, 8, 9)),
    "one value fills": ("input v: float32[2, 2] = 0.5", 0.5),
}


@pytest.mark.parametrize("case", sorted(GOOD_DEFAULTS))
def test_flat_and_shaped_defaults_are_accepted_row_major(case):
    declaration, expected = GOOD_DEFAULTS[case]
    graph = check_source(f"{declaration}\nfeature v\n", "t.feat")
    assert graph.columns[0].default == expected


# ---- 'in': literals of the tested value's dtype; an integer literal is also a float32 ---------

BAD_IN = {  # the test, its item in error (its last occurrence), the message
    "float in int64 list": ("n in [1, 1.5]", "1.5", "1.5 does not match int64 (n)"),
    "float first": ("n in [2.0, 3]", "2.0", "2.0 does not match int64"),
    "inf": ("n in [inf]", "inf", "inf does not match int64"),
    "nan in an int64 list": ("n + 1 in [3, nan]", "nan", "nan does not match int64 (n + 1)"),
    "string in int64 list": ("n in [1, \"2\"]", "\"2\"", "'2' does not match int64"),
    "bool in int64 list": ("n in [true]", "true", "True does not match int64"),
    "number in string list": ("s in [\"a\", 1]", "1", "1 does not match string"),
    "bool in float32 list": ("x in [1.5, false]", "false", "False does not match float32"),
    "nested list": ("n in [1, [2]]", "[2]", "[2] does not match int64"),
}


@pytest.mark.parametrize("case", sorted(BAD_IN))
def test_an_in_list_item_of_another_dtype_is_an_error_at_the_item(case):
    test, item, message = BAD_IN[case]
    line = f"feature y = cast({test}, int64)"
    found = errors_of(f"{HEAD}{line}\n")
    where = f"4:{line.rindex(item) + 1}: "
    assert len(found) == 1 and found[0].startswith(where) and message in found[0], found


@pytest.mark.parametrize("test", ["n in [1, -2, 9223372036854775807]", "x in [1, 2.5, inf]",
                                  "x in [0]", "s in [\"a\", \"\"]", "n in []"])
def test_in_lists_of_the_dtype_are_accepted(test):
    check_source(f"{HEAD}feature y = cast({test}, int64)\n", "t.feat")


# ---- bounds: minmax lo and hi are finite numbers -----------------------------------------------

BAD_BOUNDS = {
    "hi inf": ("minmax(x, lo=0, hi=inf)", "4:32", "hi must be a finite number, got inf"),
    "lo -inf": ("minmax(x, lo=-inf, hi=1)", "4:26", "lo must be a finite number, got -inf"),
    "lo nan": ("minmax(x, lo=nan, hi=1, min=0, max=1)", "4:26", "lo must be a finite number, got nan"),
    "hi nan with constants": ("minmax(n, hi=nan, min=0, max=3)", "4:26", "hi must be a finite"),
    "hi -inf positional": ("minmax(x, 0, -inf)", "4:26", "hi must be a finite number, got -inf"),
}


@pytest.mark.parametrize("case", sorted(BAD_BOUNDS))
def test_non_finite_minmax_bounds_are_positioned_errors(case):
    call, where, message = BAD_BOUNDS[case]
    found = errors_of(f"{HEAD}feature y = {call}\n")
    assert len(found) == 1 and found[0].startswith(f"{where}: ") and message in found[0], found


# ---- one error per problem ---------------------------------------------------------------------

MISUSED_CALLS = {
    "three extra positionals": ("log1p(x, 1, 2, 3)", ["4:22: log1p takes 1 positional argument, got 4"]),
    "two extra, piped": ("x | log1p(1, 2)", ["4:23: log1p takes 1 positional argument, got 3 "
                                             "(counting the piped value)"]),
    "extra positionals of a two-argument function": (
        "pow(x, 2, 3, 4, 5)", ["4:23: pow takes 2 positional arguments, got 5"]),
    "extra positionals of an analyzer": (
        "zscore(x, 1, 2, 3, 4)", ["4:29: zscore takes 3 positional arguments, got 5"]),
    "a keyword given three times": (
        "zscore(x, mean=1, mean=2, mean=3, std=1)", ["4:31: zscore got 'mean' twice"]),
    "an unknown keyword given twice": (
        "zscore(x, foo=1, foo=2, mean=1, std=1)", ["4:23: zscore has no parameter 'foo'"]),
    "two distinct problems": (
        "clip(x, 0, 1, 2, 3, bar=1, bar=2)", ["4:27: clip takes 3 positional arguments, got 5",
                                              "4:33: clip has no parameter 'bar'"]),
}


@pytest.mark.parametrize("case", sorted(MISUSED_CALLS))
def test_a_misused_call_gets_one_error_per_problem(case):
    call, expected = MISUSED_CALLS[case]
    assert [e.split(" (did you")[0] for e in errors_of(f"{HEAD}feature y = {call}\n")] == expected
