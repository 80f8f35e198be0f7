"""A statement parsed by lark's LALR parser over ``grammar/skewless.lark``, with what was
expected where, for the statements ``skewless.fast_parse`` leaves: those with a mistake
(``skewless.syntax`` reports it as a positioned diagnostic) and the few odd ones it does
not take. Also the lexer ``skewless fmt`` reads a file with.

Nothing here recurses on the depth of what a user wrote: lark's LALR parser keeps its own
stack, and it builds the AST bottom-up as it reduces each rule (no parse tree)."""
from __future__ import annotations

import functools
import hashlib
import math
import os
import sys
import threading
from importlib import resources
from pathlib import Path

import lark

from . import ast
from .errors import Collector
from .syntax import FLOAT_NAMES, KEYWORDS, MAX_INT_DIGITS, STATEMENT_STARTS, unescape
from .types import FLOAT32_MAX, beyond_float32, rounds_to_zero_in_float32

# What each terminal is called in "expected …": one or more words, listed with the others'
_TOKEN_WORDS = {
    "NAME": ("a name",), "INT": ("an integer",), "FLOAT": ("a number",),
    "STRING": ("a string",), "COLUMN_KIND": ("'input'", "'label'", "'weight'"),
    "COMPARE": ("a comparison",), "ADD_OP": ("'+'", "'-'"),
    "MUL_OP": ("'*'", "'/'", "'//'", "'%'"), "SPARSE": ("'sparse'",),
    "$END": ("end of statement",), "EXPRESSION": ("an expression",),
    "OPERATOR": ("an operator",),
}
_OPERATORS = frozenset({"ADD_OP", "MUL_OP", "COMPARE", "AND", "OR", "IN", "VBAR"})
# The terminals that can start an expression: where any value may come, "an expression".
_EXPRESSION_STARTS = frozenset(
    {"NAME", "INT", "FLOAT", "STRING", "TRUE", "FALSE", "LPAR", "LSQB", "MINUS"})


@functools.lru_cache(maxsize=1)
def parser() -> lark.Lark:
    """The parser, with the AST builder lark calls as it reduces each rule; parses take turns
    on it (``_parsing``), as the builder holds the statement being parsed."""
    grammar = _grammar()
    return lark.Lark(grammar, parser="lalr", maybe_placeholders=True, transformer=_BUILDER,
                     cache=_cache_file(grammar))


def _cache_file(grammar: str) -> str | bool:
    """Where lark keeps its analysis of the grammar between runs (building it takes longer
    than parsing a long spec): a file of the user's own cache folder, never a folder others
    may write to, as lark's cache is a pickle. False (no cache) if there is no such folder."""
    try:
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "skewless"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home folder
        return False
    key = f"{grammar}\0{lark.__version__}\0{sys.version_info[:2]}".encode("utf-8")
    return str(folder / f"grammar-{hashlib.sha256(key).hexdigest()[:24]}.lark")


def _grammar() -> str:
    """The grammar: in a source checkout (where ``skewless/`` itself is imported, e.g.
    ``python -m pytest`` from the repository root) the file ``grammar/skewless.lark`` beside
    it, which an editable install of another checkout must not shadow; when installed, the
    package data ``skewless.grammar``."""
    beside = Path(__file__).resolve().parents[1] / "grammar" / "skewless.lark"
    if beside.is_file():
        return beside.read_text("utf-8")
    return resources.files("skewless.grammar").joinpath("skewless.lark").read_text("utf-8")


def parse_statement(text: str, first_line: int, errors: Collector):
    """A statement's AST by lark's parser, its syntax errors and diagnostics given to
    ``errors``; None when it has a syntax error."""
    with _parsing:
        _BUILDER.begin(first_line)
        try:
            node = parser().parse(text)
        except lark.exceptions.UnexpectedInput as exc:
            _BUILDER.begin(1)  # what was built before the mistake is not reported
            pos = _error_pos(exc)
            shift = first_line - 1
            errors.error(ast.Pos(pos.line + shift, pos.column,
                                 pos.end_line + shift * bool(pos.end_line), pos.end_column),
                         _describe(exc, text))
            return None
        _BUILDER.finish(errors)
    return node


def tokens(source: str) -> list:
    """Every token of a source as the grammar lexes it, comments (``COMMENT``) and whitespace
    included (lark's ``Token``: ``str`` with ``type``, ``line``, ``column``). Which keyword a
    word is, and whether ``-`` negates or subtracts, is left to the reader: the lexer alone
    does not know."""
    return list(parser().lex(source, dont_ignore=True))


def _error_pos(exc: lark.exceptions.UnexpectedInput) -> ast.Pos:
    token = getattr(exc, "token", None)
    if token is not None and getattr(token, "line", None) is not None and token.type != "$END":
        return ast.Pos(token.line, token.column, token.end_line, token.end_column)
    if token is not None and getattr(token, "end_line", None) is not None:
        # lark's end-of-input token borrows the last token's position: point just after it
        return ast.Pos(token.end_line, token.end_column)
    if getattr(exc, "line", -1) not in (-1, None):
        return ast.Pos(exc.line, exc.column)
    prev = getattr(getattr(exc, "interactive_parser", None), "lexer_thread", None)
    last = getattr(getattr(prev, "state", None), "last_token", None)
    if last is not None:
        return ast.Pos(last.end_line, last.end_column)
    return ast.Pos(1, 1)


def _describe(exc: lark.exceptions.UnexpectedInput, text: str) -> str:
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        char = text[exc.pos_in_stream]
        if char == '"':
            return "unterminated string"
        return f"unexpected character {char!r}"
    terminals = set(getattr(exc, "expected", ()) or ())
    interactive = getattr(exc, "interactive_parser", None)
    if interactive is not None:  # what really fits here (LALR's lookahead sets are wider)
        terminals = set(interactive.accepts())
    if {"NAME", "INT", "FLOAT", "STRING"} <= terminals:
        terminals = (terminals - _EXPRESSION_STARTS - {"NOT"}) | {"EXPRESSION"}
    if len(terminals & _OPERATORS) > 1:
        terminals = (terminals - _OPERATORS) | {"OPERATOR"}
    expected = sorted({word for name in terminals for word in _words(name)})
    token = getattr(exc, "token", None)
    if token is None or token.type == "$END":
        found = "end of statement"
    else:
        found = repr(str(token))
    if str(token) in KEYWORDS and ("a name" in expected or "an expression" in expected):
        return f"{found} is a reserved keyword and cannot be used as a name"
    if str(token) in STATEMENT_STARTS and token.type != "$END":
        return f"unexpected {found}: one statement per line (a statement continues on the " \
               "next line only inside ( ) or [ ])"
    if not expected:
        return f"unexpected {found}"
    wanted = expected[-1] if len(expected) == 1 else \
        f"{', '.join(expected[:-1])} or {expected[-1]}"
    return f"unexpected {found}, expected {wanted}"


def _words(terminal: str) -> tuple:
    """How a terminal is named in a list of what was expected."""
    if terminal in _TOKEN_WORDS:
        return _TOKEN_WORDS[terminal]
    try:
        pattern = parser().get_terminal(terminal).pattern
    except KeyError:
        return (terminal.lower(),)
    return (repr(pattern.value) if pattern.type == "str" else terminal.lower(),)


class _AstBuilder:
    """Builds AST nodes while lark parses (lark's embedded transformer): each rule's method
    gets the rule's children, already built, as a list; no parse tree is made. Names that are
    keywords and malformed literals become diagnostics.

    A node's position runs from its first child's start to its last child's end (a token's
    own; a node's including the brackets around it, kept in ``outer``). ``begin`` sets the
    statement being parsed; ``finish`` hands its diagnostics to the collector."""

    def __init__(self):
        self.shift = 0  # lines before the statement being parsed
        self.pending: list = []  # (position, message) of the statement being parsed
        self.outer: dict = {}  # id(node) -> (position including its brackets, node)

    def begin(self, first_line: int) -> None:
        self.shift = first_line - 1
        self.pending = []
        self.outer = {}

    def finish(self, errors: Collector) -> None:
        for pos, message in self.pending:
            errors.error(pos, message)
        self.begin(1)

    def _error(self, pos: ast.Pos, message: str) -> None:
        self.pending.append((pos, message))

    def _pos(self, token) -> ast.Pos:
        shift = self.shift
        return ast.Pos(token.line + shift, token.column, token.end_line + shift, token.end_column)

    def _extent(self, item) -> ast.Pos:
        """The text a token or node covers, with the brackets around a node."""
        if isinstance(item, lark.Token):
            return self._pos(item)
        around = self.outer.get(id(item))
        return item.pos if around is None else around[0]

    def _span(self, first, last) -> ast.Pos:
        begin, end = self._extent(first), self._extent(last)
        return ast.Pos(begin.line, begin.column, end.end_line, end.end_column)

    def _name(self, token) -> str:
        if str(token) in KEYWORDS or str(token) in FLOAT_NAMES:
            self._error(self._pos(token), f"'{token}' is a reserved keyword and cannot be used as a name")
        return str(token)

    def _int(self, token) -> int:
        """An INT token's value; one with more digits than any int64 is an error (and 0)."""
        digits = str(token).lstrip("0") or "0"
        if len(digits) > MAX_INT_DIGITS:
            self._error(self._pos(token), f"integer literal of {len(digits)} digits does not "
                                          f"fit in int64 (at most {2**63 - 1})")
            return 0
        return int(digits)

    # ---- statements (lark calls the rule's method with its children) ----

    def start(self, children):
        return children[0]

    def spec_decl(self, children):
        keyword, name = children
        return (self._name(name), self._span(keyword, name))

    def column_decl(self, children):
        kind, name, type_decl, default = children
        pos = self._span(kind, type_decl if default is None else default)
        return ast.Column(str(kind), self._name(name), type_decl, default, pos, self._pos(name))

    def let_decl(self, children):
        return self._definition("let", *children)

    def feature_decl(self, children):
        keyword, name, expr = children
        pos = self._span(keyword, name if expr is None else expr)
        if expr is None:
            expr = ast.Name(str(name), self._pos(name))
        return ast.Definition("feature", self._name(name), expr, pos, self._pos(name))

    def target_decl(self, children):
        return self._definition("target", *children)

    def _definition(self, kind, keyword, name, expr):
        return ast.Definition(kind, self._name(name), expr, self._span(keyword, expr), self._pos(name))

    def type_decl(self, children):
        sparse, dtype, shape, keys = children
        closed_by = keys or shape  # (value, its closing bracket) or None
        pos = self._span(sparse or dtype, dtype if closed_by is None else closed_by[1])
        return ast.TypeDecl(str(dtype), shape and shape[0], sparse is not None, keys and keys[0], pos)

    def shape(self, children):
        """(dims, the "]" token)."""
        return (tuple(self._int(d) for d in children[1:-1] if d is not None), children[-1])

    def from_clause(self, children):
        """((index key, value key), the ")" token)."""
        _, _, index_key, value_key, close = children
        return ((str(index_key), str(value_key)), close)

    # ---- expressions ----

    def pipe(self, children):
        value, (func, args, keywords, pos) = children
        call = ast.Call(func, (value,) + args, keywords, pos, piped=True)
        begin = self._extent(value)  # the call is the stage; its text starts with the value
        self.outer[id(call)] = (ast.Pos(begin.line, begin.column, pos.end_line, pos.end_column), call)
        return call

    def stage(self, children):
        name, _, arguments, close = children
        args, keywords = arguments if arguments is not None else ((), ())
        return (str(name), args, keywords, self._span(name, name if close is None else close))

    def call(self, children):
        name, _, arguments, close = children
        args, keywords = arguments if arguments is not None else ((), ())
        return ast.Call(str(name), args, keywords, self._span(name, close))

    def arguments(self, items):
        items = [item for item in items if item is not None]
        args = tuple(item for item in items if not isinstance(item, ast.Keyword))
        keywords = tuple(item for item in items if isinstance(item, ast.Keyword))
        first_keyword = next((i for i, item in enumerate(items) if isinstance(item, ast.Keyword)),
                             len(items))
        for item in items[first_keyword:]:
            if not isinstance(item, ast.Keyword):
                self._error(item.pos, "a positional argument cannot follow a keyword argument")
        return args, keywords

    def keyword(self, children):
        name, value = children
        return ast.Keyword(str(name), value, self._span(name, value))

    def or_op(self, children):
        left, right = children
        return ast.BinOp("or", left, right, self._span(left, right))

    def and_op(self, children):
        left, right = children
        return ast.BinOp("and", left, right, self._span(left, right))

    def not_op(self, children):
        keyword, operand = children
        return ast.UnaryOp("not", operand, self._span(keyword, operand))

    def binary(self, children):
        left, op, right = children
        return ast.BinOp(str(op), left, right, self._span(left, right))

    compare = binary

    def in_list(self, children):
        value, items = children
        return ast.InList(value, items, self._span(value, items))

    def negate(self, children):
        minus, operand = children
        pos = self._span(minus, operand)
        if isinstance(operand, ast.Literal) and isinstance(operand.value, (int, float)) \
                and not isinstance(operand.value, bool):
            return ast.Literal(-operand.value, pos)
        return ast.UnaryOp("-", operand, pos)

    def parenthesised(self, children):
        open_, expr, close = children
        self.outer[id(expr)] = (self._span(open_, close), expr)
        return expr

    def name(self, children):
        token, = children
        if str(token) in FLOAT_NAMES:
            return ast.Literal(FLOAT_NAMES[str(token)], self._pos(token))
        return ast.Name(str(token), self._pos(token))

    def int_lit(self, children):
        token, = children
        return ast.Literal(self._int(token), self._pos(token))

    def float_lit(self, children):
        token, = children
        value = float(token)
        if math.isinf(value) or beyond_float32(value):  # a number token too large for float64
            self._error(self._pos(token), f"number {token} is beyond the float32 range "
                                          f"(±{FLOAT32_MAX:.8g}); write inf for infinity")
            return ast.Literal(0.0, self._pos(token))
        written_nonzero = any(digit in "123456789" for digit in token.lower().partition("e")[0])
        if written_nonzero and rounds_to_zero_in_float32(value):  # 1e-400 reads as 0.0
            self._error(self._pos(token), f"number {token} rounds to 0 in float32 (the smallest "
                                          f"float32 above 0 is 2**-149, about 1.4e-45); write 0 "
                                          f"if 0 is meant")
        return ast.Literal(value, self._pos(token))

    def string_lit(self, children):
        token, = children
        try:
            return ast.Literal(unescape(str(token)), self._pos(token))
        except (ValueError, IndexError) as exc:
            self._error(self._pos(token), str(exc))
            return ast.Literal("", self._pos(token))

    def true_lit(self, children):
        return ast.Literal(True, self._pos(children[0]))

    def false_lit(self, children):
        return ast.Literal(False, self._pos(children[0]))

    def list(self, children):
        items = tuple(item for item in children[1:-1] if item is not None)
        return ast.ListLit(items, self._span(children[0], children[-1]))


_BUILDER = _AstBuilder()
_parsing = threading.Lock()
