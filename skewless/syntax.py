"""Text → AST. The file is cut into statements, each parsed with the lark grammar; lark's
errors become positioned diagnostics, and every statement's error is reported in one run.

Nothing here recurses on the depth of what a user wrote: lark's LALR parser keeps its own
stack, and it builds the AST bottom-up as it reduces each rule (no parse tree). Brackets may
nest at most ``MAX_NESTING`` deep; chains of operators and pipes have no length limit."""
from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import sys
import threading
from importlib import resources
from pathlib import Path

import lark

from . import ast
from .errors import Collector, source_lines
from .types import FLOAT32_MAX, beyond_float32, rounds_to_zero_in_float32

KEYWORDS = frozenset(
    "spec input label weight let feature target true false and or not in from sparse".split()
)
FLOAT_NAMES = {"inf": float("inf"), "nan": float("nan")}
STATEMENT_STARTS = ("spec", "input", "label", "weight", "let", "feature", "target")

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
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_QUOTES = {value: "\\" + code for code, value in _ESCAPES.items()}
# Characters that some editors and str.splitlines take for line breaks: escaped by quote().
_LINE_BREAKS = frozenset("\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# A string (to the line's end if unclosed), a comment, or a bracket; the string's pattern is
# unrolled so that matching keeps no state per character
_BRACKET_SCAN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|#|[()\[\]]', re.S)
_ESCAPE = re.compile(r"\\(.)", re.S)  # a backslash and the character it escapes
MAX_NESTING = 100  # brackets ( and [ open at once in one statement
MAX_INT_DIGITS = 20  # more digits than any int64 has: such a literal is rejected when parsed


@functools.lru_cache(maxsize=1)
def _parser() -> lark.Lark:
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


def parse(source: str, path: str = "<spec>") -> ast.Spec:
    """Parse a whole .feat file; raises SpecError with every syntax error of the file."""
    errors = Collector(path, source)
    columns, definitions, spec_name = [], [], None
    for first_line, text in split_statements(source):
        too_deep = _too_deep(text, first_line)
        if too_deep is not None:
            errors.error(too_deep, f"brackets nest more than {MAX_NESTING} deep here; split the "
                                   "expression with let")
            continue
        with _parsing:
            _BUILDER.begin(first_line)
            try:
                node = _parser().parse(text)
            except lark.exceptions.UnexpectedInput as exc:
                _BUILDER.begin(1)  # what was built before the mistake is not reported
                pos = _error_pos(exc)
                shift = first_line - 1
                errors.error(ast.Pos(pos.line + shift, pos.column,
                                     pos.end_line + shift * bool(pos.end_line), pos.end_column),
                             _describe(exc, text))
                continue
            _BUILDER.finish(errors)
        if isinstance(node, ast.Column):
            columns.append(node)
        elif isinstance(node, ast.Definition):
            definitions.append(node)
        elif spec_name is not None:
            errors.error(node[1], "the spec is named twice")
        else:
            spec_name = node[0]
    errors.raise_if_any()
    return ast.Spec(spec_name, tuple(columns), tuple(definitions), path, source)


def tokens(source: str) -> list:
    """Every token of a source as the grammar lexes it, comments (``COMMENT``) and whitespace
    included (lark's ``Token``: ``str`` with ``type``, ``line``, ``column``). Which keyword a
    word is, and whether ``-`` negates or subtracts, is left to the reader: the lexer alone
    does not know."""
    return list(_parser().lex(source, dont_ignore=True))


def split_statements(source: str) -> list[tuple[int, str]]:
    """Cut the file into (first line, text) statements: a newline outside brackets ends one.

    An unclosed bracket is forgiven at a line that starts with a statement keyword, so that
    it produces one error instead of swallowing the rest of the file."""
    statements, current, start_line, depth = [], [], 1, 0
    lines = source_lines(source, keepends=True)
    for number, line in enumerate(lines, start=1):
        if depth > 0 and line.lstrip().split(" ", 1)[0] in STATEMENT_STARTS and line[:1] != " ":
            depth = 0
            statements.append((start_line, "".join(current)))
            current = []
        if not current:
            start_line = number
        current.append(line)
        depth = max(0, depth + _bracket_balance(line))
        if depth == 0:
            statements.append((start_line, "".join(current)))
            current = []
    if current:
        statements.append((start_line, "".join(current)))
    return [(n, text) for n, text in statements if _has_code(text)]


def _brackets(line: str):
    """(column, +1 or -1) of each bracket of a line outside strings and comments."""
    for match in _BRACKET_SCAN.finditer(line):
        char = match[0][0]
        if char == "#":
            return
        if char != '"':
            yield match.start() + 1, 1 if char in "([" else -1


def _bracket_balance(line: str) -> int:
    if '"' not in line and "#" not in line:  # no string or comment to skip
        return line.count("(") + line.count("[") - line.count(")") - line.count("]")
    return sum(step for _, step in _brackets(line))


def _too_deep(text: str, first_line: int) -> ast.Pos | None:
    """The position of the first bracket that opens deeper than MAX_NESTING, if any."""
    if text.count("(") + text.count("[") <= MAX_NESTING:  # not enough brackets to nest so deep
        return None
    depth = 0
    for number, line in enumerate(source_lines(text), start=first_line):
        for column, step in _brackets(line):
            depth += step
            if depth > MAX_NESTING:
                return ast.Pos(number, column, number, column + 1)
    return None


def _has_code(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("#") for line in source_lines(text))


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
        pattern = _parser().get_terminal(terminal).pattern
    except KeyError:
        return (terminal.lower(),)
    return (repr(pattern.value) if pattern.type == "str" else terminal.lower(),)


def unescape(token: str) -> str:
    """The value of a string literal: ``\\" \\\\ \\n \\t \\uXXXX`` escapes (UTF-8)."""
    body = token[1:-1]
    if "\\" not in body:
        return body
    out, start = [], 0
    for match in _ESCAPE.finditer(body):
        out.append(body[start:match.start()])
        code, start = match[1], match.end()
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
        elif code == "u":
            digits = body[start:start + 4]
            if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError("'\\u' in a string must be followed by 4 hex digits, as in '\\u00e9'")
            if 0xD800 <= int(digits, 16) <= 0xDFFF:
                raise ValueError(f"'\\u{digits}' is a UTF-16 surrogate, not a character")
            out.append(chr(int(digits, 16)))
            start += 4
        else:
            raise ValueError(f"unknown escape '\\{code}' in string")
    out.append(body[start:])
    return "".join(out)


def quote(value: str) -> str:
    """The canonical literal of a string, which ``unescape`` reads back as ``value``: ``\\"``
    ``\\\\`` ``\\n`` ``\\t`` for those four characters; ``\\uXXXX`` (lower-case hex) for other
    control characters, line and paragraph separators and unprintable characters of the
    Basic Multilingual Plane; every other character as itself."""
    if value.isprintable() and '"' not in value and "\\" not in value:
        return '"' + value + '"'  # nothing to escape (a break or control is not printable)
    out = []
    for char in value:
        escape = _QUOTES.get(char)
        if escape:
            out.append(escape)
        elif char in _LINE_BREAKS or ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F or (
                ord(char) < 0x10000 and not char.isprintable()):
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


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
