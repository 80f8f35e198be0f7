"""A direct parser for the statements of a .feat file that are well formed.

``skewless.syntax`` parses each statement with lark's LALR parser over
``grammar/skewless.lark``, which also says, for a statement with a mistake, what was
expected where. Most statements have none, and for them lark's generic loop (a lexer call
per token and a reduction per precedence level per operand: 44,551 reductions for the
12,586 tokens of a 500-feature spec) is most of the time ``skewless compile`` takes.

``parse_statement`` parses the same grammar by recursive descent, building the same AST
nodes with the same positions as lark's path does (``tests/test_syntax.py`` compares the
two on generated specs). It gives up — returns ``None`` — on anything it does not accept
without a diagnostic: a syntax error, a reserved keyword where a name goes, a literal out
of range, a bad escape, a keyword argument before a positional one, brackets nested deeper
than ``MAX_DEPTH``. lark's path then parses that statement and reports it, so messages and
positions are lark's, and accepting a statement lark would refuse is the one mistake this
module must not make.

Recursion: one Python call per precedence level and bracket; brackets are limited to
``MAX_DEPTH`` here, and chains of operators (``a + b + …``, ``- - x``, ``not not x``) and
pipes are loops."""
from __future__ import annotations

import bisect
import math
import re
from typing import Optional

from . import ast, syntax
from .types import beyond_float32, rounds_to_zero_in_float32

MAX_DEPTH = 24  # brackets open at once; deeper statements are left to lark

_TOKEN = re.compile(r"""
    [ \t\f\r\n]*  # the space before a token, or before the end
    (?:(?P<comment>\#[^\n]*)
  | (?P<FLOAT>[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?
              |[0-9]+[eE][+-]?[0-9]+)
  | (?P<INT>[0-9]+)
  | (?P<NAME>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<STRING>"[^"\\\n]*(?:\\.[^"\\\n]*)*")
  | (?P<PUNCT>//|==|!=|<=|>=|[-+*/%<>|=:,()\[\]])
  | $)
""", re.VERBOSE)
# precedence levels, loosest first; `not` is a prefix between `and` and the comparisons
_OR, _AND, _NOT, _COMPARISON, _SUM, _PRODUCT = range(1, 7)
_LEVEL = {("NAME", "or"): _OR, ("NAME", "and"): _AND, ("NAME", "in"): _COMPARISON,
          **{("PUNCT", op): _COMPARISON for op in ("==", "!=", "<=", ">=", "<", ">")},
          ("PUNCT", "+"): _SUM, ("PUNCT", "-"): _SUM,
          **{("PUNCT", op): _PRODUCT for op in ("*", "/", "//", "%")}}
_COLUMN_KINDS = frozenset({"input", "label", "weight"})


class _GiveUp(Exception):
    """The statement is not one this parser accepts without a diagnostic."""


class _Token:
    """A token and where it is; its ``ast.Pos`` is made only when a node takes it (most
    tokens only bound a span, which ``_span`` reads from the token itself)."""

    __slots__ = ("kind", "text", "line", "column", "end_column")

    def __init__(self, kind: str, text: str, line: int, column: int, end_column: int):
        self.kind, self.text = kind, text
        self.line, self.column, self.end_column = line, column, end_column

    @property
    def end_line(self) -> int:
        return self.line

    @property
    def pos(self) -> ast.Pos:
        return ast.Pos(self.line, self.column, self.line, self.end_column)


_END = _Token("END", "", 0, 0, 0)


def parse_statement(text: str, first_line: int):
    """The AST of one statement (``ast.Column``, ``ast.Definition``, or ``(spec name,
    position)`` for ``spec NAME``), its positions counted from ``first_line``; or ``None``
    when lark's path must parse it (see the module's docstring)."""
    try:
        return _Parser(_tokens(text, first_line)).statement()
    except _GiveUp:
        return None


def _tokens(text: str, first_line: int) -> list:
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)] if "\n" in text else None
    tokens = []
    at, end = 0, len(text)
    match = _TOKEN.match
    while at < end:
        found = match(text, at)
        if found is None:
            raise _GiveUp
        kind = found.lastgroup
        at = found.end()
        if kind is None or kind == "comment":  # only space was left, or a comment
            continue
        start = found.start(kind)
        if line_starts is None:  # a statement on one line
            line, column = first_line, start + 1
        else:
            index = bisect.bisect_right(line_starts, start) - 1
            line, column = first_line + index, start - line_starts[index] + 1
        tokens.append(_Token(kind, found[kind], line, column, column + at - start))
    tokens.append(_END)
    return tokens


def _span(first, last) -> ast.Pos:
    """From the start of ``first`` to the end of ``last`` (each an ``ast.Pos`` or a token)."""
    return ast.Pos(first.line, first.column, last.end_line, last.end_column)


class _Parser:
    """Recursive descent over one statement's tokens. Expression methods return ``(node,
    extent)``: the extent includes the brackets around a parenthesised node, as lark's path
    counts them in the positions of the nodes around it."""

    def __init__(self, tokens: list):
        self.tokens, self.at, self.depth = tokens, 0, 0
        # skewless.syntax's rules for names, literals and strings
        self.keywords, self.float_names = syntax.KEYWORDS, syntax.FLOAT_NAMES
        self.max_int_digits, self.unescape = syntax.MAX_INT_DIGITS, syntax.unescape

    # ---- tokens ----

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expect(self, text: str) -> _Token:
        token = self.take()
        if token.text != text or token.kind not in ("PUNCT", "NAME"):
            raise _GiveUp
        return token

    def name(self) -> _Token:
        """A name that is no keyword (a keyword there is a diagnostic of lark's path)."""
        token = self.take()
        if token.kind != "NAME" or token.text in self.keywords or token.text in self.float_names:
            raise _GiveUp
        return token

    def at_punct(self, text: str) -> bool:
        token = self.tokens[self.at]
        return token.kind == "PUNCT" and token.text == text

    def at_word(self, text: str) -> bool:
        token = self.tokens[self.at]
        return token.kind == "NAME" and token.text == text

    # ---- statements ----

    def statement(self):
        keyword = self.take()
        if keyword.kind != "NAME":
            raise _GiveUp
        word = keyword.text
        if word == "spec":
            name = self.name()
            result = (name.text, _span(keyword, name))
        elif word in _COLUMN_KINDS:
            result = self.column(keyword)
        elif word in ("let", "target"):
            name = self.name()
            self.expect("=")
            expr, extent = self.expr()
            result = ast.Definition(word, name.text, expr, _span(keyword, extent), name.pos)
        elif word == "feature":
            name = self.name()
            if self.at_punct("="):
                self.take()
                expr, extent = self.expr()
            else:
                expr, extent = ast.Name(name.text, name.pos), name
            result = ast.Definition("feature", name.text, expr, _span(keyword, extent),
                                    name.pos)
        else:
            raise _GiveUp
        if self.peek() is not _END:
            raise _GiveUp
        return result

    def column(self, kind: _Token) -> ast.Column:
        name = self.name()
        self.expect(":")
        sparse = self.take() if self.at_word("sparse") else None
        dtype = self.name()
        dims, last = None, dtype
        if self.at_punct("["):
            self.take()
            found = []
            if not self.at_punct("]"):
                found.append(self.integer(self.take()))
                while self.at_punct(","):
                    self.take()
                    found.append(self.integer(self.take()))
            dims, last = tuple(found), self.expect("]")
        keys = None
        if self.at_word("from"):
            self.take()
            self.expect("(")
            index_key = self.name()
            self.expect(",")
            value_key = self.name()
            keys, last = (index_key.text, value_key.text), self.expect(")")
        type_decl = ast.TypeDecl(dtype.text, dims, sparse is not None, keys,
                                 _span(sparse or dtype, last))
        default, end = None, type_decl.pos
        if self.at_punct("="):
            self.take()
            default, end = self.expr()
        return ast.Column(kind.text, name.text, type_decl, default, _span(kind, end),
                          name.pos)

    def integer(self, token: _Token) -> int:
        if token.kind != "INT":
            raise _GiveUp
        digits = token.text.lstrip("0") or "0"
        if len(digits) > self.max_int_digits:
            raise _GiveUp
        return int(digits)

    # ---- expressions, loosest first ----

    def expr(self):
        value, extent = self.binary(_OR)
        while self.at_punct("|"):
            self.take()
            name = self.name()
            args, keywords, last = (), (), name
            if self.at_punct("("):
                args, keywords, last = self.arguments()
            stage = _span(name, last)
            value = ast.Call(name.text, (value,) + args, keywords, stage, piped=True)
            extent = _span(extent, stage)
        return value, extent

    def binary(self, loosest: int):
        """An operand and the binary operators that follow it, by precedence climbing: only
        operators of precedence ``loosest`` or tighter (``_LEVEL``: or, and, not, the
        comparisons, sums, products), left to right within a level. What the grammar's one
        rule per level gives, with a call per operator instead of one per level."""
        if loosest <= _NOT and self.at_word("not"):
            nots = []
            while self.at_word("not"):
                nots.append(self.take())
            value, extent = self.binary(_COMPARISON)
            for keyword in reversed(nots):
                extent = _span(keyword, extent)
                value = ast.UnaryOp("not", value, extent)
        else:
            value, extent = self.unary()
        while True:
            token = self.peek()
            level = _LEVEL.get((token.kind, token.text))
            if level is None or level < loosest:
                return value, extent
            self.take()
            if level != _COMPARISON:
                right, right_extent = self.binary(level + 1)
                extent = _span(extent, right_extent)
                value = ast.BinOp(token.text, value, right, extent)
                continue
            if token.text == "in":
                if not self.at_punct("["):
                    raise _GiveUp
                items, items_extent = self.list_literal()
                extent = _span(extent, items_extent)
                value = ast.InList(value, items, extent)
            else:
                right, right_extent = self.binary(_COMPARISON + 1)
                extent = _span(extent, right_extent)
                value = ast.BinOp(token.text, value, right, extent)
            if (_LEVEL.get((self.peek().kind, self.peek().text)) or 0) >= _COMPARISON:
                raise _GiveUp  # comparisons do not chain, and `x in [..]` ends an operand

    def unary(self):
        minuses = []
        while self.at_punct("-"):
            minuses.append(self.take())
        value, extent = self.primary()
        for minus in reversed(minuses):
            extent = _span(minus, extent)
            if isinstance(value, ast.Literal) and isinstance(value.value, (int, float)) \
                    and not isinstance(value.value, bool):
                value = ast.Literal(-value.value, extent)
            else:
                value = ast.UnaryOp("-", value, extent)
        return value, extent

    def primary(self):
        token = self.take()
        kind, text = token.kind, token.text
        if kind == "NAME":
            if text == "true" or text == "false":
                return ast.Literal(text == "true", token.pos), token
            if text in self.float_names:
                return ast.Literal(self.float_names[text], token.pos), token
            if text in self.keywords:
                raise _GiveUp
            if self.at_punct("("):
                args, keywords, close = self.arguments()
                pos = _span(token, close)
                return ast.Call(text, args, keywords, pos), pos
            return ast.Name(text, token.pos), token
        if kind == "INT":
            return ast.Literal(self.integer(token), token.pos), token
        if kind == "FLOAT":
            return ast.Literal(self.floating(token), token.pos), token
        if kind == "STRING":
            try:
                return ast.Literal(self.unescape(text), token.pos), token
            except (ValueError, IndexError):
                raise _GiveUp from None
        if kind == "PUNCT" and text == "[":
            self.at -= 1
            return self.list_literal()
        if kind == "PUNCT" and text == "(":
            self.enter()
            value, _ = self.expr()
            close = self.expect(")")
            self.depth -= 1
            return value, _span(token, close)
        raise _GiveUp

    def floating(self, token: _Token) -> float:
        value = float(token.text)
        if math.isinf(value) or beyond_float32(value):
            raise _GiveUp
        written_nonzero = any(digit in "123456789"
                              for digit in token.text.lower().partition("e")[0])
        if written_nonzero and rounds_to_zero_in_float32(value):
            raise _GiveUp
        return value

    def list_literal(self):
        open_ = self.expect("[")
        self.enter()
        items = []
        while not self.at_punct("]"):
            items.append(self.expr()[0])
            if not self.at_punct(","):
                break
            self.take()
        close = self.expect("]")
        self.depth -= 1
        pos = _span(open_, close)
        return ast.ListLit(tuple(items), pos), pos

    def arguments(self):
        """``( arguments )`` of a call or stage: (positional, keyword arguments, the ``)``
        token's position)."""
        self.expect("(")
        self.enter()
        args, keywords = [], []
        while not self.at_punct(")"):
            token = self.peek()
            if token.kind == "NAME" and self.tokens[self.at + 1].text == "=" \
                    and self.tokens[self.at + 1].kind == "PUNCT":
                name = self.name()
                self.take()
                value, extent = self.expr()
                keywords.append(ast.Keyword(name.text, value, _span(name, extent)))
            elif keywords:
                raise _GiveUp  # a positional argument after a keyword argument
            else:
                args.append(self.expr()[0])
            if not self.at_punct(","):
                break
            self.take()
        close = self.expect(")")
        self.depth -= 1
        return tuple(args), tuple(keywords), close

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _GiveUp
