"""The direct parser (skewless/fast_parse.py) against lark's, statement by statement: where
the direct parser gives an AST, lark's path gives the same one, positions included, with no
diagnostic; on generated well-formed specs it gives one for every statement."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skewless import fast_parse, lark_parse, syntax
from skewless.errors import Collector, SpecError
from skewless.testing import spec_sources

from test_spec_fuzz import EXAMPLES, SOUP, mutated


def _flat(node) -> list:
    """A node's fields, depth first, without recursion (a 10,000-term chain is deep)."""
    out, stack = [], [node]
    while stack:
        item = stack.pop()
        if dataclasses.is_dataclass(item):
            out.append(type(item).__name__)
            stack.extend(getattr(item, field.name) for field in dataclasses.fields(item))
        elif isinstance(item, tuple):
            out.append(("tuple", len(item)))
            stack.extend(item)
        else:
            out.append(repr(item))
    return out


def _by_lark(text: str, first_line: int):
    errors = Collector("t.feat", text)
    node = lark_parse.parse_statement(text, first_line, errors)
    try:
        errors.raise_if_any()
    except SpecError:
        return None
    return node


def _compare(source: str) -> tuple[int, int]:
    """(statements parsed directly, statements left to lark) of a source, asserting that
    lark's path gives the same AST wherever the direct parser gives one."""
    direct = left = 0
    for first_line, text in syntax.split_statements(source):
        if syntax._too_deep(text, first_line) is not None:
            continue
        node = fast_parse.parse_statement(text, first_line)
        if node is None:
            left += 1
            continue
        direct += 1
        expected = _by_lark(text, first_line)
        assert expected is not None, f"accepted what lark refuses: {text!r}"
        assert _flat(node) == _flat(expected), text
    return direct, left


@settings(max_examples=EXAMPLES)
@given(spec_sources(max_inputs=4, max_features=6))
def test_every_statement_of_a_generated_spec_is_parsed_directly_as_lark_does(source):
    direct, left = _compare(source)
    assert left == 0 and direct > 0


@settings(max_examples=EXAMPLES)
@given(st.one_of(mutated(), SOUP.map(lambda soup: "feature x = " + soup),
                 SOUP.map(lambda soup: "input x: " + soup)))
def test_the_direct_parser_accepts_only_what_lark_accepts_as_lark_does(source):
    _compare(source)


OPERANDS = st.sampled_from(["a", "1", "2.5", "(a)", "-a", "- -1", "not a", "f(a)", "a | g",
                            "a in [1]", "a in []", '"s"', "true", "[1, 2]", "(a == b)"])
OPERATORS = st.sampled_from(["or", "and", "not", "==", "!=", "<", "<=", ">", ">=", "in",
                             "+", "-", "*", "/", "//", "%", "|"])


@settings(max_examples=EXAMPLES * 4)
@given(st.lists(st.tuples(OPERATORS, OPERANDS), max_size=6), OPERANDS)
def test_any_sequence_of_operators_is_parsed_as_lark_parses_it_or_left_to_lark(rest, first):
    """Operands joined by operators of every precedence level, in any order, right or wrong
    (``a in [1] + 1``, ``a < b < c``, ``a == not b``): the direct parser gives lark's AST or
    leaves the statement to lark."""
    expression = " ".join([first, *(f"{operator} {operand}" for operator, operand in rest)])
    _compare(f"feature y = {expression}\n")


@pytest.mark.parametrize("text", [
    "let in = 1", "let inf = 1", "spec not", "feature x = a + not b", "feature x = in",
    "feature x = a | not", "feature x = a | inf", "feature x = nan(1)", "feature x = true(1)",
    "feature x = a == b == c", "feature x = a < b in [1]", "feature x = a in b",
    "feature x = a in [1] + 1", "feature x = not a in [1] * 2", "feature x = a in [1] < 2",
    "feature x = f(k=1, 2)", "feature x = f(in=1)", "feature x = f(,)", "feature x = [,]",
    "feature x = 99999999999999999999999", "feature x = 1e39", "feature x = 1e-50",
    'feature x = "\\q"', 'feature x = "open', "feature x = a $ b", "feature x = a b",
    "input a: sparse", "input a: from", "input a: int64[3,]", "input a: int64[x]",
    "input a int64", "feature", "feature x =", "feature x = (a", "feature x = " + "(" * 30
    + "a" + ")" * 30, "target y = - not a", "let v = 1_000", "let v = a\u00a0+ b",
])
def test_statements_with_a_mistake_or_an_oddity_are_left_to_lark(text):
    assert fast_parse.parse_statement(text + "\n", 1) is None


@pytest.mark.parametrize("expression", [
    " + ".join(["x"] * 10_000), " - ".join(["x"] * 10_000), "- " * 10_000 + "x",
    "not " * 10_000 + "x", "x" + " | abs" * 10_000, " and ".join(["x"] * 10_000),
    "(" * fast_parse.MAX_DEPTH + "x" + ")" * fast_parse.MAX_DEPTH,
])
def test_long_chains_are_parsed_directly_without_recursion(expression):
    assert _compare(f"input x: float32\nfeature y = {expression}\n") == (2, 0)
