"""The TextMate grammar of the VS Code extension (editors/vscode), tested without node:
textmate-grammar-python tokenizes with vscode-textmate's rules and the Oniguruma engine VS Code
uses (through onigurumacffi). Every spec of the repository and every generated valid spec is
scoped token by token as the language's own lexer (lark's) splits it: keywords, dtypes,
functions, names, numbers, strings and operators each in their scope, comments in a comment,
and no text outside a scope. The word lists of the grammar are the language's."""
from __future__ import annotations

import json
import logging
import re

import onigurumacffi
import pytest
from hypothesis import given, settings
from textmate_grammar.parsers import base as textmate

from skewless.highlight import FUNCTIONS
from skewless.lark_parse import parser as _parser
from skewless.syntax import FLOAT_NAMES, KEYWORDS, STATEMENT_STARTS
from skewless.testing import spec_sources
from skewless.types import DTYPES

from spec_files import REPO, SPECS, spec_id

logging.getLogger("textmate_grammar").setLevel(logging.ERROR)  # it logs each skipped space

EXTENSION = REPO / "editors" / "vscode"
GRAMMAR = json.loads((EXTENSION / "syntaxes" / "feat.tmLanguage.json").read_text("utf-8"))
PARSER = textmate.LanguageParser(GRAMMAR)

# the scope (less its ".feat" suffix) of each kind of word
WORDS = {
    "keyword.other.declaration": set(STATEMENT_STARTS),
    "keyword.other": {"sparse", "from"},
    "keyword.operator.word": {"and", "or", "not", "in"},
    "constant.language.boolean": {"true", "false"},
    "support.type.dtype": set(DTYPES),
    "support.function.builtin": set(FUNCTIONS),
}
SYMBOLS = {
    "|": "keyword.operator.pipe", "=": "keyword.operator.assignment",
    **dict.fromkeys(["==", "!=", "<=", ">=", "<", ">"], "keyword.operator.comparison"),
    **dict.fromkeys(["//", "+", "-", "*", "/", "%"], "keyword.operator.arithmetic"),
    ",": "punctuation.separator.comma", ":": "punctuation.separator.type",
    "(": "punctuation.section.parens", ")": "punctuation.section.parens",
    "[": "punctuation.section.brackets", "]": "punctuation.section.brackets",
}


def _expected_scope(kind: str, value: str) -> str:
    """The scope a token of lark's lexer (``kind``: its terminal) must have."""
    if kind in ("INT", "FLOAT", "STRING"):
        return {"INT": "constant.numeric.integer", "FLOAT": "constant.numeric.float",
                "STRING": "string.quoted.double"}[kind] + ".feat"
    if value in FLOAT_NAMES:
        return "constant.numeric.float.feat"
    for scope, words in WORDS.items():
        if value in words:
            return scope + ".feat"
    if value[0].isalpha() or value[0] == "_":
        return "variable.other.feat"
    return SYMBOLS[value] + ".feat"


def _scopes(text: str) -> dict:
    """(line, column), both from 0 -> the scopes of that character. (Neighbouring tokens of
    the same scopes come out as one, as in VS Code: the scopes are what there is to check.)"""
    scopes = {}
    for (line, column), content, names in PARSER.parse_string(text).flatten():
        for i, _ in enumerate(content):
            scopes[(line, column + i)] = names
    return scopes


def _scoped_as_the_language_splits(text: str) -> None:
    scopes = _scopes(text)
    covered = set()
    for token in _parser().lex(text):
        where = (token.line - 1, token.column - 1)
        expected = _expected_scope(token.type, str(token))
        chars = [(where[0], where[1] + i) for i in range(len(token))]
        covered.update(chars)
        assert all(expected in scopes.get(c, ()) for c in chars), (str(token), expected, where)
    for number, line in enumerate(text.split("\n")):
        for column, char in enumerate(line):
            if char.isspace() or (number, column) in covered:
                continue
            names = scopes.get((number, column), ())
            assert "comment.line.number-sign.feat" in names, (number, column, char, names)


@pytest.mark.parametrize("path", SPECS, ids=spec_id)
def test_every_spec_of_the_repository_is_scoped_as_the_language_splits_it(path):
    _scoped_as_the_language_splits(path.read_text(encoding="utf-8"))


@settings(deadline=None)
@given(spec_sources(max_inputs=4, max_features=4))
def test_every_generated_valid_spec_is_scoped_as_the_language_splits_it(text):
    _scoped_as_the_language_splits(text)


SNIPPETS = [  # text, the text of one of its tokens, that token's innermost scope
    ('let x = "a\\qb"', "\\q", "invalid.illegal.escape.feat"),
    ('let x = "a\\u00e9"', "\\u00e9", "constant.character.escape.feat"),
    ('let x = "open\nlet y = 1', "let", "keyword.other.declaration.feat"),  # on line 2
    ("feature f = x  # log1p here, 1", " log1p here, 1", "comment.line.number-sign.feat"),
    ("feature f = x  # log1p here, 1", "#", "punctuation.definition.comment.feat"),
    ("let inputs = specs + int64x + log1p_ + infinity", "int64x", "variable.other.feat"),
    ("let x = 1e", "e", "variable.other.feat"),
    ("let x = a @ b", " @ ", "source.feat"),  # no scope: not a token of the language
]


@pytest.mark.parametrize("text, token, scope", SNIPPETS, ids=[s[0] for s in SNIPPETS])
def test_snippets_are_scoped_by_hand(text, token, scope):
    found = [(content, names) for _, content, names in PARSER.parse_string(text).flatten()
             if content == token]
    assert found, PARSER.parse_string(text).flatten()
    assert found[-1][1][-1] == scope


def _rules(node):
    """Every rule of the grammar (a dict with match, begin or end), depth first."""
    if isinstance(node, dict):
        if any(key in node for key in ("match", "begin", "end")):
            yield node
        for value in node.values():
            yield from _rules(value)
    elif isinstance(node, list):
        for value in node:
            yield from _rules(value)


def _words(rule: dict) -> set:
    match = re.fullmatch(r"\\b\(\?:([a-z0-9_|]+)\)\\b", rule["match"])
    assert match, rule["match"]
    return set(match.group(1).split("|"))


def test_the_grammars_word_lists_are_the_languages():
    repository = GRAMMAR["repository"]
    keywords = {rule["name"]: _words(rule) for rule in repository["keyword"]["patterns"]}
    assert keywords == {scope + ".feat": WORDS[scope] for scope in
                        ("keyword.other.declaration", "keyword.other", "keyword.operator.word")}
    assert set().union(*keywords.values(), _words(repository["constant"])) == KEYWORDS
    assert _words(repository["type"]) == {"int64", "float32", "string", "bool"}
    assert _words(repository["number"]["patterns"][0]) == {"inf", "nan"}
    # the registry's functions, and by hand a few of docs/language.md's
    assert _words(repository["function"]) == set(FUNCTIONS)
    assert {"log1p", "vocab", "bucketize", "if", "regex_replace"} <= _words(repository["function"])


def test_every_regex_compiles_with_oniguruma():
    rules = list(_rules(GRAMMAR))
    assert len(rules) >= 15
    for rule in rules:
        for key in ("match", "begin", "end"):
            if key in rule:
                onigurumacffi.compile(rule[key])


def test_the_vs_code_extension_uses_the_grammar_for_feat_files():
    package = json.loads((EXTENSION / "package.json").read_text("utf-8"))
    (language,) = package["contributes"]["languages"]
    (grammar,) = package["contributes"]["grammars"]
    assert language["extensions"] == [".feat"]
    assert grammar["language"] == language["id"]
    assert grammar["scopeName"] == GRAMMAR["scopeName"] == "source.feat"
    assert (EXTENSION / grammar["path"]).resolve() == (
        EXTENSION / "syntaxes" / "feat.tmLanguage.json").resolve()
    configuration = json.loads((EXTENSION / language["configuration"]).read_text("utf-8"))
    assert configuration["comments"] == {"lineComment": "#"}
    assert configuration["brackets"] == [["(", ")"], ["[", "]"]]
    pairs = {(p["open"], p["close"]) for p in configuration["autoClosingPairs"]}
    assert pairs == {("(", ")"), ("[", "]"), ('"', '"')}
