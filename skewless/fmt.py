"""The canonical layout of a .feat file, as ``skewless fmt`` writes it.

The formatter works on the tokens of the file (comments included) and its statement
structure, never on the expression tree: it does not recurse, so a chain of 10,000 ``+`` terms
or pipe stages is formatted like any other line. It only changes what separates tokens and
how numbers and strings are spelled, never what they denote; the rules are those of
docs/language.md, "Layout":

- one space around binary operators, ``|``, ``and``, ``or``, ``in``, and the ``=`` of a
  statement; none around the ``=`` of a keyword argument; ``, `` after commas and ``: ``
  after the column name; no space inside brackets or before ``(`` of a call or ``[`` of a
  shape; a negating ``-`` is written against its operand;
- integers without leading zeros; numbers with a fraction written ``0.5``, ``1.0``; exponents
  ``e5``, ``e-5`` (lower case, no ``+``, no leading zeros); strings in the form of
  ``syntax.quote``;
- consecutive one-line statements of the same keyword are aligned: columns on the type
  (after ``name:``) and on ``=``; lets, features and targets on ``=``; their end-of-line
  comments on one column, two spaces after the longest line that has one;
- comments stay where they were; runs of blank lines become one blank line; no blank lines
  begin or end the file;
- line breaks inside brackets are the user's: each continuation line is indented four
  spaces per line whose brackets are still open, a line starting with a closing bracket as
  the line that opened it; a trailing comma is dropped when its closing bracket follows on
  the same line and kept at the end of a line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from . import syntax
from .syntax import KEYWORDS

INDENT = "    "
OPENERS, CLOSERS = frozenset("(["), frozenset(")]")
COLUMN_KINDS = frozenset({"input", "label", "weight"})
DEFINITION_KINDS = frozenset({"let", "feature", "target"})
_NO_SPACE_BEFORE = frozenset({")", "]", ",", ":"})
_OPERAND_KEYWORDS = frozenset({"true", "false"})  # keywords that end an operand
_WHITESPACE = " \t\f\r\n"  # what the grammar ignores besides comments
_TRAILING = " \t\r\f\v"  # stripped from the end of a comment
_FLOAT = re.compile(r"([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?)([0-9]+))?")


@dataclass
class _Row:
    """One line of a statement: its code tokens as ``(kind, text)`` and its comment."""

    words: list = field(default_factory=list)
    comment: Optional[str] = None
    blank_before: bool = False


@dataclass
class _Statement:
    rows: list


@dataclass
class _Comment:
    """A comment on a line of its own between statements."""

    text: str


_BLANK = "blank line"


def format_source(source: str, path: str = "<spec>") -> str:
    """The canonical layout of a .feat source (``\\n`` line ends, one at the end of the file;
    the empty string for a file without code or comments).

    Raises SpecError, with every syntax error, when the source does not parse."""
    syntax.parse(source, path)
    lines: list[str] = []
    for group in _groups(_items(source)):
        if group is _BLANK:
            lines.append("")
        elif isinstance(group, _Comment):
            lines.append(group.text)
        else:
            lines.extend(_layout(group))
    formatted = "\n".join(lines) + "\n" if lines else ""
    if _kept(formatted) != _kept(source):  # a fault of the formatter, never the user's
        raise AssertionError(f"{path}: formatting would change the spec's tokens or comments")
    return formatted


def _kept(source: str) -> list[str]:
    """What formatting keeps: the code tokens, canonically spelled, without the commas that
    end a list or arguments, and the comments."""
    kept: list[str] = []
    for token in syntax.tokens(source):
        text = str(token)
        if token.type == "COMMENT":
            kept.append(text.rstrip(_TRAILING))
        elif text.strip(_WHITESPACE):
            text = _word(token)[1]
            if text in CLOSERS and kept and kept[-1] == ",":
                kept.pop()
            kept.append(text)
    return kept


def normalize_number(kind: str, text: str) -> str:
    """The canonical spelling of an ``INT`` or ``FLOAT`` token: same value, same type."""
    if kind == "INT":
        return text.lstrip("0") or "0"
    whole, fraction, sign, exponent = _FLOAT.fullmatch(text).groups()
    spelled = whole.lstrip("0") or "0"
    if fraction is not None:
        spelled += "." + (fraction or "0")
    if exponent is not None:
        digits = exponent.lstrip("0")
        spelled += "e" + ("-" if sign == "-" and digits else "") + (digits or "0")
    return spelled


def _word(token) -> tuple[str, str]:
    """(kind, canonical text) of a code token: kind is word, number, string or punctuation."""
    text = str(token)
    if token.type in ("INT", "FLOAT"):
        return "number", normalize_number(token.type, text)
    if token.type == "STRING":
        return "string", syntax.quote(syntax.unescape(text))
    return ("word" if text[0].isalpha() or text[0] == "_" else "punctuation"), text


def _items(source: str) -> list:
    """The file as statements, comments on lines of their own and blank lines (runs of them
    as one), in order."""
    items: list = []
    statement: Optional[_Statement] = None
    depth, newlines = 0, 1  # the file starts as after a line break
    for token in syntax.tokens(source):
        text = str(token)
        if token.type != "COMMENT" and not text.strip(_WHITESPACE):
            newlines += text.count("\n")
            continue
        line_start, blank, newlines = newlines > 0, newlines > 1, 0
        if line_start and statement is not None and depth == 0:
            items.append(statement)
            statement = None
        if line_start and blank and statement is None and items:
            items.append(_BLANK)
        if token.type == "COMMENT":
            if not line_start:  # after code on its line: the statement's row goes on
                statement.rows[-1].comment = text.rstrip(_TRAILING)
            elif statement is None:
                items.append(_Comment(text.rstrip(_TRAILING)))
            else:
                statement.rows.append(_Row(comment=text.rstrip(_TRAILING), blank_before=blank))
            continue
        if statement is None:
            statement = _Statement([_Row()])
        elif line_start:
            statement.rows.append(_Row(blank_before=blank))
        statement.rows[-1].words.append(_word(token))
        depth += (text in OPENERS) - (text in CLOSERS)
    if statement is not None:
        items.append(statement)
    return items


def _groups(items: list):
    """Items with the statements gathered into runs (lists) of consecutive one-line
    statements of the same keyword, which are aligned together."""
    run, run_key = [], None
    for item in items:
        key = _run_key(item)
        if run and key == run_key and key is not None:
            run.append(item)
            continue
        if run:
            yield run
        run, run_key = ([item], key) if isinstance(item, _Statement) else ([], None)
        if not isinstance(item, _Statement):
            yield item
    if run:
        yield run


def _run_key(item) -> Optional[str]:
    if not isinstance(item, _Statement) or len(item.rows) != 1:
        return None
    keyword = item.rows[0].words[0][1]
    return keyword if keyword in COLUMN_KINDS | DEFINITION_KINDS else None


def _pieces(statement: _Statement) -> list[list[tuple[str, str, int]]]:
    """Per row, its tokens as ``(space before, text, bracket depth before)``; the first
    token of a row has no space before it."""
    depth, previous, negating = 0, None, False
    rows = []
    for row in statement.rows:
        pieces = []
        for i, (kind, text) in enumerate(row.words):
            following = row.words[i + 1][1] if i + 1 < len(row.words) else None
            if text == "," and following in CLOSERS:
                continue  # a trailing comma before its closing bracket, on one line
            space = _space(previous, text, negating, depth) if pieces else ""
            pieces.append((space, text, depth))
            negating = text == "-" and not _ends_operand(previous)
            previous = (kind, text)
            depth += (text in OPENERS) - (text in CLOSERS)
        rows.append(pieces)
    return rows


def _ends_operand(word) -> bool:
    if word is None:
        return False
    kind, text = word
    if kind == "word":
        return text not in KEYWORDS or text in _OPERAND_KEYWORDS
    return kind in ("number", "string") or text in CLOSERS


def _space(previous, text: str, after_negation: bool, depth: int) -> str:
    kind, before = previous
    if text in _NO_SPACE_BEFORE or before in OPENERS:
        return ""
    if text in OPENERS and kind == "word" and before not in KEYWORDS:
        return ""  # a call, a pipe stage's arguments, a shape
    if depth > 0 and "=" in (text, before):
        return ""  # a keyword argument
    if after_negation and text != "-":
        return ""
    return " "


def _joined(pieces) -> str:
    return "".join(space + text for space, text, _ in pieces)


def _layout(run: list) -> list[str]:
    """The lines of a run of statements."""
    if len(run) == 1 and _run_key(run[0]) is None:
        return _lines_of(run[0])
    key = _run_key(run[0])
    parts = [_split(_pieces(statement)[0], key) for statement in run]
    head_width = max((len(head) for head, middle, _ in parts if middle is not None), default=0)
    type_width = max((len(middle) for _, middle, value in parts if value is not None),
                     default=0)
    codes = []
    for head, middle, value in parts:
        if key in COLUMN_KINDS:
            code = f"{head.ljust(head_width)} {middle}"
            if value is not None:
                code = f"{head.ljust(head_width)} {middle.ljust(type_width)} = {value}"
        else:
            code = head if middle is None else f"{head.ljust(head_width)} = {middle}"
        codes.append(code)
    commented = [len(code) for code, s in zip(codes, run) if s.rows[0].comment is not None]
    column = max(commented, default=0) + 2
    return [code if s.rows[0].comment is None else f"{code.ljust(column)}{s.rows[0].comment}"
            for code, s in zip(codes, run)]


def _split(pieces, key: str) -> tuple:
    """A one-line statement's parts that are aligned: for a column ``(input name:, type,
    default)``, for a definition ``(let name, expression, None)``; None for an absent part."""
    equals = next((i for i, (_, text, depth) in enumerate(pieces)
                   if text == "=" and depth == 0), None)
    if key in COLUMN_KINDS:
        colon = next(i for i, (_, text, _) in enumerate(pieces) if text == ":")
        end = len(pieces) if equals is None else equals
        value = None if equals is None else _joined(pieces[equals + 1:]).lstrip()
        return _joined(pieces[:colon + 1]), _joined(pieces[colon + 1:end]).lstrip(), value
    if equals is None:
        return _joined(pieces), None, None
    return _joined(pieces[:equals]), _joined(pieces[equals + 1:]).lstrip(), None


def _lines_of(statement: _Statement) -> list[str]:
    """A statement's lines, continuation lines indented by the brackets open before them."""
    lines, open_rows = [], []  # per bracket open, the row that opened it
    for number, (row, pieces) in enumerate(zip(statement.rows, _pieces(statement))):
        closing = 0
        while closing < len(row.words) and row.words[closing][1] in CLOSERS:
            closing += 1
        level = len(set(open_rows[:len(open_rows) - closing]))
        for _, text in row.words:
            if text in OPENERS:
                open_rows.append(number)
            elif text in CLOSERS:
                open_rows.pop()
        if row.blank_before:
            lines.append("")
        code = _joined(pieces)
        if row.comment is not None:
            code = f"{code}  {row.comment}" if code else row.comment
        lines.append(INDENT * level + code)
    return lines
