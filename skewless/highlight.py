"""Syntax highlighting of ``.feat`` files with Pygments: ``FeatLexer``.

Installed with skewless, the lexer is registered with Pygments (the ``pygments.lexers``
entry point ``feat``), so ``pygmentize -l feat flights.feat``, ``pygmentize flights.feat``,
``pygments.lexers.get_lexer_by_name("feat")`` and ``get_lexer_for_filename("x.feat")`` (and
so ``rich``'s ``Syntax``) find it. Pygments itself is not a dependency of skewless: install it
with ``pip install 'skewless[highlight]'``.

The lexer follows ``grammar/skewless.lark``; the built-in functions are the op registry's
(importing it does not import TensorFlow). Text the language does not accept (a ``.`` alone,
``@``, an unterminated string's end of line) is an ``Error`` token; every other character
belongs to a token of its kind, and the tokens' values put together are the input (with
``\n`` line ends, as Pygments reads every text)."""
from __future__ import annotations

from pygments.lexer import RegexLexer, words
from pygments.token import (Comment, Error, Keyword, Name, Number, Operator, Punctuation, String,
                            Whitespace)

from .ops.registry import all_ops
from .syntax import FLOAT_NAMES, KEYWORDS, STATEMENT_STARTS
from .types import DTYPES

WORD_OPERATORS = ("and", "or", "not", "in")
CONSTANTS = ("true", "false")
# The names a call may use: the registry's ops that are written as a name (not "+", "and"…).
FUNCTIONS = tuple(sorted(name for name in all_ops()
                         if name.isidentifier() and name not in KEYWORDS))
# The other reserved words: "sparse" and "from" of a sparse column's type.
OTHER_KEYWORDS = tuple(sorted(KEYWORDS - set(STATEMENT_STARTS) - set(WORD_OPERATORS)
                              - set(CONSTANTS)))

_EXPONENT = r"(?:[eE][+-]?[0-9]+)"


class FeatLexer(RegexLexer):
    """Tokens of a ``.feat`` spec: statement keywords (``Keyword.Declaration``), ``sparse``
    and ``from`` (``Keyword``), ``and or not in`` (``Operator.Word``), ``true false``
    (``Keyword.Constant``), dtypes (``Keyword.Type``), built-in functions (``Name.Builtin``),
    other names (``Name``), ``Number.Integer`` and ``Number.Float`` (``inf`` and ``nan``
    included), double-quoted strings with ``String.Escape`` escapes, ``#`` comments,
    operators and punctuation."""

    def __init__(self, **options):
        # Pygments strips a text's leading and trailing line breaks and adds one at its end
        # by default; the tokens here are the text as given (its line ends as "\n").
        options.setdefault("stripnl", False)
        options.setdefault("ensurenl", False)
        super().__init__(**options)

    name = "skewless feature spec"
    aliases = ["feat", "skewless"]
    filenames = ["*.feat"]
    mimetypes = ["text/x-feat"]

    tokens = {
        "root": [
            (r"[ \t\f\r\n]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"', String.Double, "string"),
            (words(STATEMENT_STARTS, suffix=r"\b"), Keyword.Declaration),
            (words(OTHER_KEYWORDS, suffix=r"\b"), Keyword),
            (words(WORD_OPERATORS, suffix=r"\b"), Operator.Word),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(DTYPES, suffix=r"\b"), Keyword.Type),
            (words(tuple(FLOAT_NAMES), suffix=r"\b"), Number.Float),
            (words(FUNCTIONS, suffix=r"\b"), Name.Builtin),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            # the grammar's FLOAT forms, then INT
            (rf"[0-9]+\.[0-9]*{_EXPONENT}?|\.[0-9]+{_EXPONENT}?|[0-9]+{_EXPONENT}", Number.Float),
            (r"[0-9]+", Number.Integer),
            (r"//|==|!=|<=|>=|[-+*/%<>|=]", Operator),
            (r"[()\[\],:]", Punctuation),
        ],
        "string": [
            (r'\\u[0-9A-Fa-f]{4}|\\["\\nt]', String.Escape),
            (r'[^"\\\n]+', String.Double),
            (r'"', String.Double, "#pop"),
            (r"\\[^\n]", Error),  # an escape the language does not have
            (r"\\", Error),
            (r"\n", Error, "#pop"),  # a string ends on its line
        ],
    }
