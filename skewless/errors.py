"""Errors users see: positioned diagnostics for specs, and data errors naming file and record."""
from __future__ import annotations

from dataclasses import dataclass

from .ast import Pos


def source_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of a spec: only a newline ends one, as in the grammar (str.splitlines would
    also cut at U+2028, form feeds and other separators, which may stand inside a string)."""
    lines = text.split("\n")
    if keepends:
        lines = [line + "\n" for line in lines[:-1]] + [lines[-1]]
    return lines if lines[-1] else lines[:-1]


@dataclass(frozen=True)
class Diagnostic:
    path: str
    pos: Pos
    message: str

    def render(self, source: str) -> str:
        """``path:line:col: error: message``, then the source line and a caret underline."""
        lines = source_lines(source)
        head = terminal_text(f"{self.path}:{self.pos.line}:{self.pos.column}: error: "
                             f"{self.message}")
        if not 1 <= self.pos.line <= len(lines):
            return head
        text = [shown(char) for char in lines[self.pos.line - 1].expandtabs(1)]
        start = self.pos.column - 1
        end = start + 1
        if self.pos.end_line == self.pos.line and self.pos.end_column > self.pos.column:
            end = self.pos.end_column - 1
        width = max(1, display_width("".join(text[start:end])))
        caret = " " * display_width("".join(text[:start])) + "^" + "~" * (width - 1)
        return f"{head}\n    {''.join(text)}\n    {caret}"


# Characters that change how a terminal shows what follows them: the right-to-left and
# isolate controls of Unicode's bidirectional algorithm (UAX #9), which can make a line read
# otherwise than it parses.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")


def shown(char: str) -> str:
    """How a character of a diagnostic is printed (its source line, and its message, which
    may quote a string, a pattern or a path), so that what a terminal shows is what the
    text holds: C0 controls and DEL as their Control Pictures
    (U+2400 ␀ … U+241F, U+2421 ␡, as rustc prints them), the C1 controls and the
    bidirectional controls as ``\\u{XXXX}``; any other character as it is."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if 0x80 <= code < 0xA0 or char in BIDI_CONTROLS:
        return f"\\u{{{code:04x}}}"
    return char


def terminal_text(text: str) -> str:
    """``text`` with every character ``shown`` but line breaks, tabs and carriage returns
    (which progress lines rewrite themselves with): a message as the CLI prints it (it may
    quote a path, a column or a value from data)."""
    return "".join(char if char in "\n\t\r" else shown(char) for char in text)


class ShownStream:
    """A text stream that writes through ``terminal_text`` to ``stream``: the CLI's stderr
    while a command runs, so that no message, whoever writes it (argparse included), passes
    a control or bidirectional character from a path, a spec or data to the terminal."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(terminal_text(text))
        return len(text)

    def __getattr__(self, name):  # flush, isatty, fileno, encoding, ...
        return getattr(self.stream, name)


def display_width(text: str) -> int:
    """How many terminal cells ``text`` takes, as wcwidth counts them (wide and fullwidth
    characters two, combining marks and joined sequences as terminals draw them); a control
    character, which a terminal does not advance over, none."""
    import wcwidth

    cells = wcwidth.wcswidth(text)
    if cells >= 0:
        return cells
    return sum(max(0, wcwidth.wcswidth(char)) for char in text)


class SkewlessError(Exception):
    """Base class of every error skewless raises for a user's mistake."""


class SpecError(SkewlessError):
    """One or more problems in a .feat file, all reported together."""

    def __init__(self, diagnostics: list[Diagnostic], source: str):
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.pos.line, d.pos.column))
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        body = "\n".join(d.render(self.source) for d in self.diagnostics)
        count = len(self.diagnostics)
        return f"{body}\n{count} error{'s' if count != 1 else ''}"


class DataError(SkewlessError):
    """Training or serving data that does not fit the spec."""


class AssetError(SkewlessError):
    """An asset file of a generated module that is missing, or not the one it was built with."""


class ExportError(SkewlessError):
    """A model, heads or export directory that cannot be exported as asked."""


class Collector:
    """Accumulates diagnostics for one file so that every problem is reported in one run."""

    def __init__(self, path: str, source: str):
        self.path = path
        self.source = source
        self.diagnostics: list[Diagnostic] = []

    def error(self, pos: Pos, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.path, pos, message))

    def raise_if_any(self) -> None:
        if self.diagnostics:
            raise SpecError(self.diagnostics, self.source)
