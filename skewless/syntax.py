"""Text → AST. The file is cut into statements, each parsed with the lark grammar; lark's
errors become positioned diagnostics, and every statement's error is reported in one run.

Nothing here recurses on the depth of what a user wrote: lark's LALR parser keeps its own
stack, and the AST is built bottom-up over the parse tree's subtrees in a loop. Brackets may
nest at most ``MAX_NESTING`` deep; chains of operators and pipes have no length limit."""
from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import lark

from . import ast
from .errors import Collector

KEYWORDS = frozenset(
    "spec input label weight let feature target true false and or not in from sparse".split()
)
FLOAT_NAMES = {"inf": float("inf"), "nan": float("nan")}
STATEMENT_STARTS = ("spec", "input", "label", "weight", "let", "feature", "target")

_TOKEN_WORDS = {
    "NAME": "a name", "INT": "an integer", "FLOAT": "a number", "STRING": "a string",
    "COLUMN_KIND": "'input', 'label' or 'weight'", "COMPARE": "a comparison",
    "ADD_OP": "'+' or '-'", "MUL_OP": "'*', '/', '//' or '%'", "SPARSE": "'sparse'",
    "$END": "end of statement", "EXPRESSION": "an expression", "OPERATOR": "an operator",
}
_OPERATORS = frozenset({"ADD_OP", "MUL_OP", "COMPARE", "AND", "OR", "IN", "VBAR"})
# The terminals that can start an expression: where any value may come, "an expression".
_EXPRESSION_STARTS = frozenset(
    {"NAME", "INT", "FLOAT", "STRING", "TRUE", "FALSE", "LPAR", "LSQB", "MINUS"})
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
MAX_NESTING = 100  # brackets ( and [ open at once in one statement
MAX_INT_DIGITS = 20  # more digits than any int64 has: such a literal is rejected when parsed
FLOAT32_MAX = 3.4028234663852886e38
_FLOAT32_OVERFLOW = 2.0**128 - 2.0**103  # from here on a number rounds to inf in float32


@functools.lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    return lark.Lark(_grammar(), parser="lalr", propagate_positions=True, maybe_placeholders=True)


def _grammar() -> str:
    """The grammar: package data ``skewless.grammar`` when installed; in a source checkout
    (where ``skewless/`` itself is imported, e.g. ``python -m pytest`` from the repository
    root) the file ``grammar/skewless.lark`` beside it."""
    try:
        return resources.files("skewless.grammar").joinpath("skewless.lark").read_text("utf-8")
    except ModuleNotFoundError:
        return (Path(__file__).resolve().parents[1] / "grammar" / "skewless.lark").read_text("utf-8")


def parse(source: str, path: str = "<spec>") -> ast.Spec:
    """Parse a whole .feat file; raises SpecError with every syntax error of the file."""
    errors = Collector(path, source)
    builder = _AstBuilder(errors)
    columns, definitions, spec_name = [], [], None
    for first_line, text in split_statements(source):
        too_deep = _too_deep(text, first_line)
        if too_deep is not None:
            errors.error(too_deep, f"brackets nest more than {MAX_NESTING} deep here; split the "
                                   "expression with let")
            continue
        try:
            tree = _parser().parse(text)
        except lark.exceptions.UnexpectedInput as exc:
            pos = _error_pos(exc)
            shift = first_line - 1
            errors.error(ast.Pos(pos.line + shift, pos.column, pos.end_line + shift * bool(pos.end_line),
                                 pos.end_column), _describe(exc, text))
            continue
        builder.first_line = first_line
        node = builder.build(tree)
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


def split_statements(source: str) -> list[tuple[int, str]]:
    """Cut the file into (first line, text) statements: a newline outside brackets ends one.

    An unclosed bracket is forgiven at a line that starts with a statement keyword, so that
    it produces one error instead of swallowing the rest of the file."""
    statements, current, start_line, depth = [], [], 1, 0
    lines = source.splitlines(keepends=True)
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
    in_string, escaped = False, False
    for column, char in enumerate(line, start=1):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "#":
            break
        elif char in "([":
            yield column, 1
        elif char in ")]":
            yield column, -1


def _bracket_balance(line: str) -> int:
    return sum(step for _, step in _brackets(line))


def _too_deep(text: str, first_line: int) -> ast.Pos | None:
    """The position of the first bracket that opens deeper than MAX_NESTING, if any."""
    depth = 0
    for number, line in enumerate(text.splitlines(), start=first_line):
        for column, step in _brackets(line):
            depth += step
            if depth > MAX_NESTING:
                return ast.Pos(number, column, number, column + 1)
    return None


def _has_code(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("#") for line in text.splitlines())


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
    expected = sorted({_word(name) for name in terminals})
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
    wanted = ", ".join(expected[:-1]) + (" or " if len(expected) > 1 else "") + expected[-1] if expected else "something else"
    return f"unexpected {found}, expected {wanted}"


def _word(terminal: str) -> str:
    if terminal in _TOKEN_WORDS:
        return _TOKEN_WORDS[terminal]
    try:
        pattern = _parser().get_terminal(terminal).pattern
    except KeyError:
        return terminal.lower()
    return repr(pattern.value) if pattern.type == "str" else terminal.lower()


def unescape(token: str) -> str:
    """The value of a string literal: ``\\" \\\\ \\n \\t \\uXXXX`` escapes (UTF-8)."""
    out, i, body = [], 0, token[1:-1]
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        code = body[i + 1]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif code == "u":
            digits = body[i + 2:i + 6]
            if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError("'\\u' in a string must be followed by 4 hex digits, as in '\\u00e9'")
            if 0xD800 <= int(digits, 16) <= 0xDFFF:
                raise ValueError(f"'\\u{digits}' is a UTF-16 surrogate, not a character")
            out.append(chr(int(digits, 16)))
            i += 6
        else:
            raise ValueError(f"unknown escape '\\{code}' in string")
    return "".join(out)


class _AstBuilder:
    """Builds AST nodes; names that are keywords or malformed literals become diagnostics.

    Each rule's method gets the rule's meta (positions) and its children, already built."""

    def __init__(self, errors: Collector):
        self.errors = errors
        self.first_line = 1  # of the statement being built: its lines are counted from it

    def _pos(self, meta_or_token) -> ast.Pos:
        shift = self.first_line - 1
        return ast.Pos(meta_or_token.line + shift, meta_or_token.column,
                       meta_or_token.end_line + shift, meta_or_token.end_column)

    def build(self, tree: lark.Tree):
        """The AST of a parse tree, built children first in a loop (no recursion)."""
        built = {}
        for subtree in tree.iter_subtrees():  # every subtree after its own subtrees
            children = [built[id(c)] if isinstance(c, lark.Tree) else c for c in subtree.children]
            built[id(subtree)] = getattr(self, str(subtree.data))(subtree.meta, *children)
        return built[id(tree)]

    def _name(self, token) -> str:
        if str(token) in KEYWORDS or str(token) in FLOAT_NAMES:
            self.errors.error(self._pos(token), f"'{token}' is a reserved keyword and cannot be used as a name")
        return str(token)

    def start(self, meta, statement):
        return statement

    def spec_decl(self, meta, name):
        return (self._name(name), self._pos(meta))

    def column_decl(self, meta, kind, name, type_decl, default):
        return ast.Column(str(kind), self._name(name), type_decl, default, self._pos(meta), self._pos(name))

    def let_decl(self, meta, name, expr):
        return ast.Definition("let", self._name(name), expr, self._pos(meta), self._pos(name))

    def feature_decl(self, meta, name, expr):
        if expr is None:
            expr = ast.Name(str(name), self._pos(name))
        return ast.Definition("feature", self._name(name), expr, self._pos(meta), self._pos(name))

    def target_decl(self, meta, name, expr):
        return ast.Definition("target", self._name(name), expr, self._pos(meta), self._pos(name))

    def type_decl(self, meta, sparse, dtype, dims, keys):
        return ast.TypeDecl(str(dtype), dims, sparse is not None, keys, self._pos(meta))

    def shape(self, meta, *dims):
        return tuple(self._int(d) for d in dims if d is not None)

    def _int(self, token) -> int:
        """An INT token's value; one with more digits than any int64 is an error (and 0)."""
        digits = str(token).lstrip("0") or "0"
        if len(digits) > MAX_INT_DIGITS:
            self.errors.error(self._pos(token), f"integer literal of {len(digits)} digits does not "
                                           f"fit in int64 (at most {2**63 - 1})")
            return 0
        return int(digits)

    def from_clause(self, meta, index_key, value_key):
        return (str(index_key), str(value_key))

    def pipe(self, meta, value, stage):
        func, args, keywords, pos = stage
        return ast.Call(func, (value,) + args, keywords, pos, piped=True)

    def stage(self, meta, name, arguments):
        args, keywords = arguments if arguments is not None else ((), ())
        return (str(name), args, keywords, self._pos(meta))

    def call(self, meta, name, arguments):
        args, keywords = arguments if arguments is not None else ((), ())
        return ast.Call(str(name), args, keywords, self._pos(meta))

    def arguments(self, meta, *items):
        items = [item for item in items if item is not None]
        args = tuple(item for item in items if not isinstance(item, ast.Keyword))
        keywords = tuple(item for item in items if isinstance(item, ast.Keyword))
        first_keyword = next((i for i, item in enumerate(items) if isinstance(item, ast.Keyword)),
                             len(items))
        for item in items[first_keyword:]:
            if not isinstance(item, ast.Keyword):
                self.errors.error(_node_pos(item), "a positional argument cannot follow a keyword argument")
        return args, keywords

    def keyword(self, meta, name, value):
        return ast.Keyword(str(name), value, self._pos(meta))

    def or_op(self, meta, left, right):
        return ast.BinOp("or", left, right, self._pos(meta))

    def and_op(self, meta, left, right):
        return ast.BinOp("and", left, right, self._pos(meta))

    def not_op(self, meta, operand):
        return ast.UnaryOp("not", operand, self._pos(meta))

    def compare(self, meta, left, op, right):
        return ast.BinOp(str(op), left, right, self._pos(meta))

    def binary(self, meta, left, op, right):
        return ast.BinOp(str(op), left, right, self._pos(meta))

    def in_list(self, meta, value, items):
        return ast.InList(value, items, self._pos(meta))

    def negate(self, meta, operand):
        if isinstance(operand, ast.Literal) and isinstance(operand.value, (int, float)) \
                and not isinstance(operand.value, bool):
            return ast.Literal(-operand.value, self._pos(meta))
        return ast.UnaryOp("-", operand, self._pos(meta))

    def name(self, meta, token):
        if str(token) in FLOAT_NAMES:
            return ast.Literal(FLOAT_NAMES[str(token)], self._pos(meta))
        return ast.Name(str(token), self._pos(meta))

    def int_lit(self, meta, token):
        return ast.Literal(self._int(token), self._pos(meta))

    def float_lit(self, meta, token):
        value = float(token)
        if abs(value) >= _FLOAT32_OVERFLOW:
            self.errors.error(self._pos(token), f"number {token} is beyond the float32 range "
                                           f"(±{FLOAT32_MAX:.8g}); write inf for infinity")
            return ast.Literal(0.0, self._pos(meta))
        return ast.Literal(value, self._pos(meta))

    def string_lit(self, meta, token):
        try:
            return ast.Literal(unescape(str(token)), self._pos(meta))
        except (ValueError, IndexError) as exc:
            self.errors.error(self._pos(token), str(exc))
            return ast.Literal("", self._pos(meta))

    def true_lit(self, meta):
        return ast.Literal(True, self._pos(meta))

    def false_lit(self, meta):
        return ast.Literal(False, self._pos(meta))

    def list(self, meta, *items):
        return ast.ListLit(tuple(item for item in items if item is not None), self._pos(meta))


def _node_pos(node) -> ast.Pos:
    return node.pos
