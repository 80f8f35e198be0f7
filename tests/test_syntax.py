"""The parser: text → AST. Expressions are compared as s-expressions written by hand, so a
test reads as the grouping the language reference promises."""
from __future__ import annotations

import math
import re
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skewless import SpecError, ast, lark_parse, syntax
from skewless.compiler import check_source
from skewless.syntax import parse, split_statements


def sexp(node) -> str:
    """A position-free rendering of an expression: ``(f a b k=v)``, ``(+ a b)``, ``[1 2]``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Literal):
        return repr(node.value)
    if isinstance(node, ast.ListLit):
        return "[" + " ".join(sexp(item) for item in node.items) + "]"
    if isinstance(node, ast.Call):
        parts = [node.func] + [sexp(a) for a in node.args]
        parts += [f"{k.name}={sexp(k.value)}" for k in node.keywords]
        return "(" + " ".join(parts) + ")"
    if isinstance(node, ast.BinOp):
        return f"({node.op} {sexp(node.left)} {sexp(node.right)})"
    if isinstance(node, ast.UnaryOp):
        return f"({node.op} {sexp(node.operand)})"
    if isinstance(node, ast.InList):
        return f"(in {sexp(node.value)} {sexp(node.items)})"
    raise TypeError(node)


def expr(text: str):
    """The AST of one expression, parsed as the body of a let."""
    spec = parse(f"let v = {text}\n", "t.feat")
    (definition,) = spec.definitions
    return definition.expr


def messages(source: str) -> list[tuple[int, int, str]]:
    with pytest.raises(SpecError) as info:
        parse(source, "t.feat")
    return [(d.pos.line, d.pos.column, d.message) for d in info.value.diagnostics]


# ---- pipes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, tree", [
    ("x | f", "(f x)"),
    ("x | f()", "(f x)"),
    ("x | f(a)", "(f x a)"),
    ("x | f(a, k=1)", "(f x a k=1)"),
    ("x | f | g(2)", "(g (f x) 2)"),
    ("a + b | log1p", "(log1p (+ a b))"),
    ("a * b + c | f", "(f (+ (* a b) c))"),
    ("a or b | f", "(f (or a b))"),
    ("not a | f", "(f (not a))"),
    ("a > 1 | f", "(f (> a 1))"),
    ("-a | f", "(f (- a))"),
    ("a | f(b | g)", "(f a (g b))"),
    ("(a | f) + 1", "(+ (f a) 1)"),
    ("f(a | g, k=b | h)", "(f (g a) k=(h b))"),
])
def test_pipes_bind_loosest(text, tree):
    assert sexp(expr(text)) == tree


def test_a_pipe_is_a_call_marked_piped():
    node = expr("x | f(a)")
    assert isinstance(node, ast.Call) and node.piped
    assert not expr("f(x, a)").piped
    assert sexp(expr("x | f(a)")) == sexp(expr("f(x, a)"))


# ---- precedence and associativity ---------------------------------------------------------


@pytest.mark.parametrize("text, tree", [
    ("a + b * c", "(+ a (* b c))"),
    ("a * b + c", "(+ (* a b) c)"),
    ("a - b - c", "(- (- a b) c)"),
    ("a / b / c", "(/ (/ a b) c)"),
    ("a // b % c", "(% (// a b) c)"),
    ("a - b + c", "(+ (- a b) c)"),
    ("(a + b) * c", "(* (+ a b) c)"),
    ("-a * b", "(* (- a) b)"),
    ("a * -b", "(* a (- b))"),
    ("- -a", "(- (- a))"),
    ("-(a + b)", "(- (+ a b))"),
    ("a + 1 > b * 2", "(> (+ a 1) (* b 2))"),
    ("a == b", "(== a b)"),
    ("a != b", "(!= a b)"),
    ("a <= b", "(<= a b)"),
    ("a >= -1", "(>= a -1)"),
    ("a < b and c", "(and (< a b) c)"),
    ("not a and b", "(and (not a) b)"),
    ("not a == b", "(not (== a b))"),
    ("not not a", "(not (not a))"),
    ("a or b and c", "(or a (and b c))"),
    ("a and b or c and d", "(or (and a b) (and c d))"),
    ("a or b or c", "(or (or a b) c)"),
    ("a and b and c", "(and (and a b) c)"),
    ("not a or b", "(or (not a) b)"),
    ("a in [1, 2]", "(in a [1 2])"),
    ("a + 1 in [1]", "(in (+ a 1) [1])"),
    ("not a in [\"x\"]", "(not (in a ['x']))"),
    ("a in [1] and b", "(and (in a [1]) b)"),
    ("f(g(a), -b)", "(f (g a) (- b))"),
    ("if(a > 0, a, -a)", "(if (> a 0) a (- a))"),
])
def test_precedence(text, tree):
    assert sexp(expr(text)) == tree


@pytest.mark.parametrize("text", ["a < b < c", "a == b == c", "a < b == c"])
def test_comparisons_do_not_chain(text):
    assert messages(f"let v = {text}\n")  # a syntax error, not a silent grouping


def test_positions_of_nodes():
    spec = parse("input carrier: string\nfeature lg = log1p(carrier)\n", "t.feat")
    column, = spec.columns
    assert column.name_pos == ast.Pos(1, 7, 1, 14)
    definition, = spec.definitions
    assert definition.name_pos == ast.Pos(2, 9, 2, 11)
    call = definition.expr
    assert call.pos == ast.Pos(2, 14, 2, 28)
    assert call.args[0].pos == ast.Pos(2, 20, 2, 27)


# A node's position runs from its first token to its last; brackets around an operand count
# in the enclosing node's position but not in the operand's own. Written out by hand: the
# expression starts at column 9, after "let v = ".
@pytest.mark.parametrize("text, node, pos", [
    ("-(3)", lambda e: e, (1, 9, 1, 13)),
    ("-x", lambda e: e, (1, 9, 1, 11)),
    ("not (a)", lambda e: e, (1, 9, 1, 16)),
    ("(a) * b", lambda e: e, (1, 9, 1, 16)),
    ("(a) * b", lambda e: e.left, (1, 10, 1, 11)),
    ("a * (b)", lambda e: e, (1, 9, 1, 16)),
    ("((a)) - 1", lambda e: e, (1, 9, 1, 18)),
    ("((a)) - 1", lambda e: e.left, (1, 11, 1, 12)),
    ("[1, 2]", lambda e: e, (1, 9, 1, 15)),
    ("x in [1]", lambda e: e, (1, 9, 1, 17)),
    ("x in [1]", lambda e: e.items, (1, 14, 1, 17)),
    ("f()", lambda e: e, (1, 9, 1, 12)),
    ("g(k=(1))", lambda e: e.keywords[0], (1, 11, 1, 16)),
    ("a | f(1)", lambda e: e, (1, 13, 1, 17)),  # a piped call is where its stage is
    ("a | f", lambda e: e, (1, 13, 1, 14)),
    ("(a | f) + 1", lambda e: e, (1, 9, 1, 20)),
    ("(a | f) + 1", lambda e: e.left, (1, 14, 1, 15)),
    ("true", lambda e: e, (1, 9, 1, 13)),
    ("f(\n  a\n)", lambda e: e, (1, 9, 3, 2)),
])
def test_positions_span_first_to_last_token(text, node, pos):
    assert node(expr(text)).pos == ast.Pos(*pos)


@pytest.mark.parametrize("text, pos, type_pos", [
    ("input x: sparse float32[3] from (i, v)", (1, 1, 1, 39), (1, 10, 1, 39)),
    ("input x: float32[]", (1, 1, 1, 19), (1, 10, 1, 19)),
    ("input x: float32 = -(1)", (1, 1, 1, 24), (1, 10, 1, 17)),
    ("weight w: float32", (1, 1, 1, 18), (1, 11, 1, 18)),
])
def test_positions_of_columns(text, pos, type_pos):
    column, = parse(text + "\n", "t.feat").columns
    assert (column.pos, column.type.pos) == (ast.Pos(*pos), ast.Pos(*type_pos))


@pytest.mark.parametrize("text, pos", [
    ("let v = (a)", (1, 1, 1, 12)),
    ("feature x", (1, 1, 1, 10)),
    ("target t = [\n1]", (1, 1, 2, 3)),
])
def test_positions_of_definitions(text, pos):
    definition, = parse(text + "\n", "t.feat").definitions
    assert definition.pos == ast.Pos(*pos)


def test_a_statement_with_a_syntax_error_reports_only_that():
    # the keyword name and the too long integer come before the mistake: not reported
    found = messages("let if = 99999999999999999999999 +\nlet in = 1\n")
    assert [(line, column) for line, column, _ in found] == [(1, 35), (2, 5)]
    assert found[0][2].startswith("unexpected end of statement")
    assert "reserved keyword" in found[1][2]


# A list of what was expected: items with no " or " of their own, the last joined by " or "
_EXPECTED_LIST = re.compile(
    r", expected ((?:(?:(?! or ).)+, )*(?:(?! or ).)+ or (?:(?! or ).)+"
    r"|(?:(?! or ).)+)$")


@pytest.mark.parametrize("text, words", [
    ("foo\n", ["'feature'", "'input'", "'label'", "'let'", "'spec'", "'target'", "'weight'"]),
    ("input a int64\n", ["':'"]),
    ("input a: int64 = 1 2\n", ["an operator", "end of statement"]),
    ("let b = 1 +\n", ["an expression"]),
    ("let b = f(1 2)\n", None),
    ("let b = [1, 2\n", None),
    ("input a: int64 = \n", None),
    ("input a: sparse\n", None),
    ("feature\n", None),
])
def test_a_list_of_what_was_expected_reads_as_one_list(text, words):
    [(_, _, message)] = messages(text)
    match = _EXPECTED_LIST.search(message)
    assert match, message
    listed = re.split(r", | or ", match[1])
    assert len(listed) == len(set(listed)), message
    if words is not None:
        assert listed == words


# ---- literals -------------------------------------------------------------------------------


@pytest.mark.parametrize("text, value", [
    ("42", 42),
    ("0", 0),
    ("-3", -3),
    ("1.5", 1.5),
    ("5.", 5.0),
    (".5", 0.5),
    ("1e-3", 0.001),
    ("1E3", 1000.0),
    ("2.5e+2", 250.0),
    (".5e1", 5.0),
    ("-0.25", -0.25),
    ("inf", math.inf),
    ("-inf", -math.inf),
    ("true", True),
    ("false", False),
    ("99999999999999999999", 99999999999999999999),
])
def test_number_and_boolean_literals(text, value):
    node = expr(text)
    assert isinstance(node, ast.Literal)
    assert node.value == value
    assert type(node.value) is type(value)


def test_nan_literal():
    node = expr("nan")
    assert isinstance(node, ast.Literal) and isinstance(node.value, float)
    assert math.isnan(node.value)


def test_minus_of_a_name_is_an_operator_not_a_literal():
    assert isinstance(expr("-x"), ast.UnaryOp)
    assert sexp(expr("1 - 2")) == "(- 1 2)"
    assert sexp(expr("1 -2")) == "(- 1 2)"


@pytest.mark.parametrize("text, value", [
    (r'""', ""),
    (r'"plain"', "plain"),
    (r'"say \"hi\""', 'say "hi"'),
    (r'"back\\slash"', "back\\slash"),
    (r'"a\nb"', "a\nb"),
    (r'"a\tb"', "a\tb"),
    (r'"\u00e9t\u00E9"', "été"),
    (r'"\u4e2d\u6587"', "中文"),
    (r'"\\n"', "\\n"),
    (r'"\\\""', '\\"'),
    ('"重要"', "重要"),
    ('"# not a comment"', "# not a comment"),
    ('"(["', "(["),
])
def test_string_literals_and_escapes(text, value):
    node = expr(text)
    assert isinstance(node, ast.Literal)
    assert node.value == value


@pytest.mark.parametrize("text", [r'"\q"', r'"\u12"', r'"\uXYZW"', r'"\ud83d"'])
def test_bad_escapes_are_errors(text):
    (found,) = messages(f"let v = {text}\n")
    assert found[:2] == (1, 9)


@pytest.mark.parametrize("text, tree", [
    ("[]", "[]"),
    ("[1, 2.5, \"x\", true]", "[1 2.5 'x' True]"),
    ("[1, 2,]", "[1 2]"),
    ("[[1, 2], [3, 4]]", "[[1 2] [3 4]]"),
    ("[-1, -inf]", "[-1 -inf]"),
])
def test_list_literals(text, tree):
    assert sexp(expr(text)) == tree


# ---- statements, lines and comments -------------------------------------------------------


def test_declarations():
    spec = parse(
        "spec flights\n"
        "input carrier: string\n"
        "input tailnum: string = \"\"\n"
        "input position: float32[2]\n"
        "input grid: int64[2, 4] = 0\n"
        "input tags: string[]\n"
        "input sp: sparse float32[1000] from (idx, val)\n"
        "label arr_delay: float32\n"
        "weight importance: float32 = 1.0\n"
        "let hour = sched // 100\n"
        "feature carrier\n"
        "feature x = hour\n"
        "target t = arr_delay\n",
        "t.feat",
    )
    assert spec.name == "flights"
    got = [(c.kind, c.name, c.type.dtype, c.type.dims, c.type.sparse, c.type.sparse_keys,
            None if c.default is None else c.default.value) for c in spec.columns]
    assert got == [
        ("input", "carrier", "string", None, False, None, None),
        ("input", "tailnum", "string", None, False, None, ""),
        ("input", "position", "float32", (2,), False, None, None),
        ("input", "grid", "int64", (2, 4), False, None, 0),
        ("input", "tags", "string", (), False, None, None),
        ("input", "sp", "float32", (1000,), True, ("idx", "val"), None),
        ("label", "arr_delay", "float32", None, False, None, None),
        ("weight", "importance", "float32", None, False, None, 1.0),
    ]
    assert [(d.kind, d.name, sexp(d.expr)) for d in spec.definitions] == [
        ("let", "hour", "(// sched 100)"),
        ("feature", "carrier", "carrier"),
        ("feature", "x", "hour"),
        ("target", "t", "arr_delay"),
    ]


def test_passthrough_shorthand_is_a_name_at_the_feature_name():
    (definition,) = parse("feature carrier\n", "t.feat").definitions
    assert definition.expr == ast.Name("carrier", definition.name_pos)


def test_a_statement_continues_inside_parentheses_and_brackets():
    source = (
        "input a: int64\n"
        "feature x = clip(a,\n"
        "                 0,   # the low end\n"
        "\n"
        "                 10)\n"
        "feature y = a in [1,\n"
        "    2,\n"
        "    3]\n"
        "feature z = (a\n"
        "   + 1)\n"
    )
    spec = parse(source, "t.feat")
    assert [(d.name, d.pos.line, sexp(d.expr)) for d in spec.definitions] == [
        ("x", 2, "(clip a 0 10)"),
        ("y", 6, "(in a [1 2 3])"),
        ("z", 9, "(+ a 1)"),
    ]
    assert split_statements(source) == [
        (1, "input a: int64\n"),
        (2, "feature x = clip(a,\n                 0,   # the low end\n\n                 10)\n"),
        (6, "feature y = a in [1,\n    2,\n    3]\n"),
        (9, "feature z = (a\n   + 1)\n"),
    ]


def test_brackets_in_strings_and_comments_do_not_continue_a_statement():
    spec = parse(
        'input a: string\n'
        'feature x = concat(a, "(")  # a comment with ( and [\n'
        'feature y = concat(a, "\\"[")\n',
        "t.feat",
    )
    assert [sexp(d.expr) for d in spec.definitions] == ["(concat a '(')", "(concat a '\"[')"]


def test_comments_and_blank_lines():
    spec = parse(
        "# a spec\n"
        "\n"
        "   # indented comment\n"
        "input a: int64   # trailing comment\n"
        "\n"
        "feature x = a # another\n"
        "# last line without newline",
        "t.feat",
    )
    assert [c.name for c in spec.columns] == ["a"]
    assert [(d.name, d.pos.line) for d in spec.definitions] == [("x", 6)]


def test_windows_line_endings():
    spec = parse("input a: int64\r\nfeature x = clip(a,\r\n  0, 1)\r\n", "t.feat")
    assert [sexp(d.expr) for d in spec.definitions] == ["(clip a 0 1)"]


def test_an_empty_spec_parses():
    spec = parse("# nothing here\n", "t.feat")
    assert spec.columns == () and spec.definitions == () and spec.name is None


def test_two_statements_on_one_line_are_an_error():
    (found,) = messages("input a: int64 input b: int64\n")
    assert found[:2] == (1, 16)
    assert "one statement per line" in found[2]
    (found,) = messages("input a: int64\nfeature x = a feature y = a\n")
    assert found[:2] == (2, 15)
    assert "one statement per line" in found[2]


def test_a_statement_cannot_continue_outside_brackets():
    found = messages("input a: int64\nlet x = a +\n  1\n")
    assert [f[:2] for f in found] == [(2, 12), (3, 3)]


def test_every_statement_with_an_error_is_reported():
    found = messages(
        "input a: int64\n"
        "let x = a +\n"
        "let y = (a\n"
        "feature = 1\n"
        "feature ok = a\n"
        "let from = 1\n"
    )
    assert [f[:2] for f in found] == [(2, 12), (3, 11), (4, 9), (6, 5)]


def test_an_unclosed_bracket_does_not_swallow_the_following_statements():
    found = messages("input a: int64\nfeature x = clip(a, 0, 1\nfeature y = a\nlet z = ]\n")
    assert [f[:2] for f in found] == [(2, 25), (4, 9)]


@pytest.mark.parametrize("name", ["spec", "input", "label", "weight", "let", "feature", "target",
                                  "true", "false", "and", "or", "not", "in", "from", "sparse",
                                  "inf", "nan"])
def test_reserved_words_cannot_be_names(name):
    found = messages(f"let {name} = 1\n")
    assert len(found) == 1
    assert found[0][:2] == (1, 5)


def test_the_spec_is_named_once():
    (found,) = messages("spec a\nspec b\n")
    assert found == (2, 1, "the spec is named twice")


def test_positional_argument_after_keyword():
    (found,) = messages("let v = f(a, k=1, b)\n")
    assert found == (1, 19, "a positional argument cannot follow a keyword argument")


# ---- the grammar's cache ----------------------------------------------------------------------


@pytest.fixture
def fresh_parser():
    """Each use of the parser builds it again (or loads it from the cache)."""
    lark_parse.parser.cache_clear()
    yield lambda: lark_parse.parser.cache_clear()
    lark_parse.parser.cache_clear()


def parses_as_before():
    definition, = parse("let v = (x + 1) | log1p\n", "t.feat").definitions
    assert sexp(definition.expr) == "(log1p (+ x 1))"
    assert definition.expr.pos == ast.Pos(1, 19, 1, 24)
    assert messages("let v = (1 +\n") == [(1, 13, "unexpected end of statement, expected an expression")]


def test_the_grammar_is_cached_in_a_private_folder(tmp_path, monkeypatch, fresh_parser):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    parses_as_before()  # writes the cache
    folder = tmp_path / "skewless"
    cached, = folder.iterdir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    written = cached.stat().st_mtime_ns
    fresh_parser()
    parses_as_before()  # reads it
    assert cached.stat().st_mtime_ns == written


@pytest.mark.parametrize("damage", ["garbage", "cut short"])
def test_a_damaged_cache_is_built_again(tmp_path, monkeypatch, fresh_parser, damage):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    parses_as_before()
    cached, = (tmp_path / "skewless").iterdir()
    data = cached.read_bytes()
    cached.write_bytes(b"\x80\x04garbage" if damage == "garbage" else data[:len(data) // 2])
    fresh_parser()
    parses_as_before()  # and writes the cache again, which the next run reads
    rewritten = cached.stat().st_mtime_ns
    fresh_parser()
    parses_as_before()
    assert cached.read_bytes().split(b"\n")[0] == data.split(b"\n")[0]
    assert cached.stat().st_mtime_ns == rewritten


def test_without_a_cache_folder_the_grammar_is_built(tmp_path, monkeypatch, fresh_parser):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    parses_as_before()


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\f", "\v", "\x1c", "\x1d", "\x1e",
                                       "\x85"])
def test_only_a_newline_ends_a_line(tmp_path, separator):
    """str.splitlines() cuts at these too; the language does not: inside a string they are
    characters, and line numbers after them stay right."""
    text = (f'input x: string\nfeature y = concat(x,\n  "a{separator}b",\n  x)\n'
            f'# a comment{separator}with a separator\nfeature w = nosuch(x)\n')
    with pytest.raises(SpecError) as raised:
        check_source(text, "s.feat")
    message = str(raised.value)
    assert message.count("error:") == 1, message
    assert "s.feat:6:13: error:" in message and "nosuch" in message
    assert "feature w = nosuch(x)" in message


# ---- brackets and escapes, against a character-by-character reading ----------------------------

def _brackets_by_character(line):
    """The bracket steps of a line read one character at a time: the reference."""
    in_string = escaped = False
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
            return
        elif char in "([":
            yield column, 1
        elif char in ")]":
            yield column, -1


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from('()[]"\\#ab \n'), max_size=60))
def test_brackets_outside_strings_and_comments_are_found_as_by_reading_each_character(line):
    assert list(syntax._brackets(line)) == list(_brackets_by_character(line))


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_a_quoted_string_reads_back_as_itself(value):
    assert syntax.unescape(syntax.quote(value)) == value


@pytest.mark.parametrize("token, value", [
    ('""', ""), ('"abc"', "abc"), ('"a\\"b"', 'a"b'), ('"\\\\"', "\\"), ('"\\\\n"', "\\n"),
    ('"\\n\\t"', "\n\t"), ('"x\\u00e9y"', "xéy"), ('"\\u00E9\\u0041"', "éA"),
    ('"\\\\\\""', '\\"'), ('"a\\\\u0041"', "a\\u0041"),
])
def test_escapes_by_hand(token, value):
    assert syntax.unescape(token) == value


@pytest.mark.parametrize("token, message", [
    ('"\\q"', "unknown escape '\\q'"), ('"\\u00g1"', "4 hex digits"), ('"\\u12"', "4 hex digits"),
    ('"\\ud800"', "UTF-16 surrogate"), ('"ok\\u0041\\x"', "unknown escape '\\x'"),
])
def test_bad_escapes_by_hand(token, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        syntax.unescape(token)
