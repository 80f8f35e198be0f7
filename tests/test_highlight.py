"""The Pygments lexer of .feat files (skewless.highlight): every spec of the repository and
every generated valid spec lexes without an Error token and splits into the tokens the
language's own lexer (lark's, from grammar/skewless.lark) finds; hand-written snippets give
hand-written tokens; any text at all comes back whole from the tokens. Finding the lexer
through its entry point is tested on an installed wheel, in tests/test_install.py."""
from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st
from pygments.token import (Comment, Error, Keyword, Name, Number, Operator, Punctuation, String,
                            Token, Whitespace)

from skewless.highlight import FUNCTIONS, FeatLexer
from skewless.lark_parse import parser as _parser
from skewless.testing import spec_sources

from spec_files import REPO, SPECS, spec_id


def _tokens(text: str) -> list:
    """(token type, value) of ``text``, whitespace left out."""
    return [(kind, value) for kind, value in FeatLexer().get_tokens(text)
            if kind is not Whitespace]


def _joined_strings(tokens: list) -> list:
    """The tokens with each string literal's pieces (quotes, text, escapes) joined in one."""
    out, inside = [], False
    for kind, value in tokens:
        if kind in String and inside:
            out[-1] = (String, out[-1][1] + value)
        else:
            out.append((String if kind in String else kind, value))
        if kind is String.Double and value == '"':  # the text between never is a lone quote
            inside = not inside
    return out


# lark's token type -> the token types the lexer may give that text (lark's basic lexer calls
# keywords NAME; names are split further by the lexer into keywords, dtypes and functions)
_KINDS = {"INT": {Number.Integer}, "FLOAT": {Number.Float}, "STRING": {String},
          "NAME": {Name, Name.Builtin, Keyword, Keyword.Declaration, Keyword.Constant,
                   Keyword.Type, Operator.Word, Number.Float}}
_SYMBOLS_AND_KEYWORDS = {Operator, Punctuation, Operator.Word, Keyword, Keyword.Declaration,
                         Keyword.Constant}


def _agrees_with_the_language(text: str) -> None:
    tokens = _tokens(text)
    assert [t for t in tokens if t[0] in Error] == []
    ours = [t for t in _joined_strings(tokens) if t[0] not in Comment]
    theirs = list(_parser().lex(text))
    assert [value for _, value in ours] == [str(t) for t in theirs]
    for (kind, value), token in zip(ours, theirs):
        assert kind in _KINDS.get(token.type, _SYMBOLS_AND_KEYWORDS), (value, token.type)


@pytest.mark.parametrize("path", SPECS, ids=spec_id)
def test_every_spec_of_the_repository_lexes_as_the_language_does(path):
    text = path.read_text(encoding="utf-8")
    _agrees_with_the_language(text)
    assert any(kind is Comment.Single for kind, _ in _tokens(text)) or "#" not in text


def test_there_are_specs_to_lex():
    names = {p.name for p in SPECS}
    assert {"flights.feat", "heavy.feat", "type_errors.feat"} <= names


@settings(deadline=None)
@given(spec_sources(max_inputs=4, max_features=4))
def test_every_generated_valid_spec_lexes_as_the_language_does(text):
    _agrees_with_the_language(text)


K, D, B, N = Keyword.Declaration, Keyword.Type, Name.Builtin, Name
SNIPPETS = [
    ("spec flights", [(K, "spec"), (N, "flights")]),
    ("input tags: string[]  # 0..n", [
        (K, "input"), (N, "tags"), (Punctuation, ":"), (D, "string"), (Punctuation, "["),
        (Punctuation, "]"), (Comment.Single, "# 0..n")]),
    ("label y: float32 = -1.5e-3", [
        (K, "label"), (N, "y"), (Punctuation, ":"), (D, "float32"), (Operator, "="),
        (Operator, "-"), (Number.Float, "1.5e-3")]),
    ("weight w: bool = true", [
        (K, "weight"), (N, "w"), (Punctuation, ":"), (D, "bool"), (Operator, "="),
        (Keyword.Constant, "true")]),
    ("input v: sparse float32[10] from (i, x)", [
        (K, "input"), (N, "v"), (Punctuation, ":"), (Keyword, "sparse"), (D, "float32"),
        (Punctuation, "["), (Number.Integer, "10"), (Punctuation, "]"), (Keyword, "from"),
        (Punctuation, "("), (N, "i"), (Punctuation, ","), (N, "x"), (Punctuation, ")")]),
    ("let h = t // 100 % 7", [
        (K, "let"), (N, "h"), (Operator, "="), (N, "t"), (Operator, "//"),
        (Number.Integer, "100"), (Operator, "%"), (Number.Integer, "7")]),
    ("feature d = x | fill_nan(0) | log1p", [
        (K, "feature"), (N, "d"), (Operator, "="), (N, "x"), (Operator, "|"), (B, "fill_nan"),
        (Punctuation, "("), (Number.Integer, "0"), (Punctuation, ")"), (Operator, "|"),
        (B, "log1p")]),
    ("target t = cast(a >= .5 and not b in [1, 2], int64)", [
        (K, "target"), (N, "t"), (Operator, "="), (B, "cast"), (Punctuation, "("), (N, "a"),
        (Operator, ">="), (Number.Float, ".5"), (Operator.Word, "and"), (Operator.Word, "not"),
        (N, "b"), (Operator.Word, "in"), (Punctuation, "["), (Number.Integer, "1"),
        (Punctuation, ","), (Number.Integer, "2"), (Punctuation, "]"), (Punctuation, ","),
        (D, "int64"), (Punctuation, ")")]),
    ("feature c = if(x == 1., inf, nan) != 2E5 or false", [
        (K, "feature"), (N, "c"), (Operator, "="), (B, "if"), (Punctuation, "("), (N, "x"),
        (Operator, "=="), (Number.Float, "1."), (Punctuation, ","), (Number.Float, "inf"),
        (Punctuation, ","), (Number.Float, "nan"), (Punctuation, ")"), (Operator, "!="),
        (Number.Float, "2E5"), (Operator.Word, "or"), (Keyword.Constant, "false")]),
    ('feature s = concat(a, "x\\"\\\\\\n\\t\\u00e9y", sep="-")', [
        (K, "feature"), (N, "s"), (Operator, "="), (B, "concat"), (Punctuation, "("), (N, "a"),
        (Punctuation, ","), (String.Double, '"'), (String.Double, "x"), (String.Escape, '\\"'),
        (String.Escape, "\\\\"), (String.Escape, "\\n"), (String.Escape, "\\t"),
        (String.Escape, "\\u00e9"), (String.Double, "y"), (String.Double, '"'),
        (Punctuation, ","), (N, "sep"), (Operator, "="), (String.Double, '"'),
        (String.Double, "-"), (String.Double, '"'), (Punctuation, ")")]),
    # names that begin with a keyword, a dtype, a function or a float name are names
    ("feature inputs = specs + int64x + log1p_ + infinity + nan_count + in_", [
        (K, "feature"), (N, "inputs"), (Operator, "="), (N, "specs"), (Operator, "+"),
        (N, "int64x"), (Operator, "+"), (N, "log1p_"), (Operator, "+"), (N, "infinity"),
        (Operator, "+"), (N, "nan_count"), (Operator, "+"), (N, "in_")]),
    ("let x = 1e", [(K, "let"), (N, "x"), (Operator, "="), (Number.Integer, "1"), (N, "e")]),
    # what the language has no token for
    ('let x = "\\q" @ a.b', [
        (K, "let"), (N, "x"), (Operator, "="), (String.Double, '"'), (Error, "\\q"),
        (String.Double, '"'), (Error, "@"), (N, "a"), (Error, "."), (N, "b")]),
    ('let x = "open\nlet y = 1', [
        (K, "let"), (N, "x"), (Operator, "="), (String.Double, '"'), (String.Double, "open"),
        (Error, "\n"), (K, "let"), (N, "y"), (Operator, "="), (Number.Integer, "1")]),
]


@pytest.mark.parametrize("text, expected", SNIPPETS, ids=[s for s, _ in SNIPPETS])
def test_snippets_give_the_expected_tokens(text, expected):
    assert _tokens(text) == expected


def test_the_functions_are_the_registrys_named_ops():
    # by hand: names of the standard library (docs/language.md), and what is not a function
    assert {"log1p", "vocab", "zscore", "if", "regex_replace", "day_of_week"} <= set(FUNCTIONS)
    assert not {"and", "or", "not", "in", "+", "//", "=="} & set(FUNCTIONS)


def test_importing_the_lexer_imports_neither_tensorflow_nor_numpy():
    code = ("import sys, skewless.highlight; "
            "print(sorted(m for m in ('tensorflow', 'numpy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=REPO, timeout=60)
    assert result.stdout.strip() == "[]"


# Any text: what a user types mid-edit, of the language's pieces or of any characters.
_PIECES = st.sampled_from(
    ["spec", "input", "in", "int64", "log1p", "inf", "x", "1", "1.", ".5", "1e-3", "1e", '"',
     '"a\\"', "\\", "\\u00e", "#", "# c\n", "//", "|", "(", "]", ",", ":", "=", "@", ".", " ",
     "\n", "\r\n", "\t", "é", "\u2028", "\x00"])
TEXT = st.one_of(st.text(), st.lists(_PIECES, max_size=40).map("".join))


@given(TEXT)
def test_the_tokens_put_together_are_the_text(text):
    pieces = list(FeatLexer().get_tokens_unprocessed(text))
    assert "".join(value for _, _, value in pieces) == text
    assert [start for start, _, _ in pieces] == [
        sum(len(value) for _, _, value in pieces[:i]) for i in range(len(pieces))]
    assert all(kind in Token and value for _, kind, value in pieces)


def test_get_tokens_keeps_the_texts_leading_and_trailing_line_breaks():
    text = "\n\n# a spec\nspec t\n\n\n"
    assert "".join(value for _, value in FeatLexer().get_tokens(text)) == text
