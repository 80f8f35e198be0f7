"""Text → AST. The file is cut into statements; each is parsed directly
(``skewless.fast_parse``) or, when it has a mistake, by lark's parser over the grammar
(``skewless.lark_parse``), whose errors become positioned diagnostics; every statement's
error is reported in one run.

Nothing here recurses on the depth of what a user wrote. Brackets may nest at most
``MAX_NESTING`` deep; chains of operators and pipes have no length limit."""
from __future__ import annotations

import re

from . import ast, fast_parse
from .errors import Collector, source_lines

KEYWORDS = frozenset(
    "spec input label weight let feature target true false and or not in from sparse".split()
)
FLOAT_NAMES = {"inf": float("inf"), "nan": float("nan")}
STATEMENT_STARTS = ("spec", "input", "label", "weight", "let", "feature", "target")

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
        node = fast_parse.parse_statement(text, first_line)
        if node is None:  # a statement with a mistake, or one the direct parser leaves
            from . import lark_parse

            node = lark_parse.parse_statement(text, first_line, errors)
            if node is None:
                continue
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
    """Every token of a source as the grammar lexes it, comments and whitespace included
    (``skewless.lark_parse.tokens``)."""
    from . import lark_parse

    return lark_parse.tokens(source)


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


