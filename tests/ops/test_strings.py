"""String functions: expected values come from Python's own string methods, ``re``,
``int()``/``float()`` or are written by hand."""
import math
import re

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings, strategies as st

import skewless.ops as ops
from skewless import types as t
from skewless.ops.registry import ArgError, Args, all_ops

REG = all_ops()
STR = t.Type("string", t.SCALAR)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


def texts(values):
    return [v.decode("utf-8") for v in np.asarray(values).ravel()]


def infer(name, types=None, rest=(), **consts):
    return REG[name].infer(Args(op=name, types=types or {}, consts=consts, rest=list(rest)))


def infer_x(name, x=STR, **consts):
    return infer(name, {"x": x}, **consts)


def error_of(name, *args, **kwargs) -> str:
    caller = infer if name == "concat" else infer_x
    with pytest.raises(ArgError) as info:
        caller(name, *args, **kwargs)
    return str(info.value)


# ---- lower / upper / strip / length -----------------------------------------------------------

WORDS = ["ÉCOLE Straße", "ΑΒΓ δ", "MiXeD 123", "", "ПРИВЕТ"]


def test_lower_upper_follow_python_on_valid_text():
    x = tf.constant(WORDS)
    assert texts(ops.lower(x)) == [w.lower() for w in WORDS]
    assert texts(ops.upper(x)) == [w.upper() for w in WORDS]


def test_nul_bytes_are_kept_by_hand():
    words = ["a\x00B", "\x00", "A\x00\x00b\x00", "\x00ÉCOLE\x00straße", "MiXeD\x00", ""]
    x = tf.constant(words)
    assert texts(ops.lower(x)) == [w.lower() for w in words]
    assert texts(ops.upper(x)) == [w.upper() for w in words]
    fixed = tf.constant([["a\x00b", "c"], ["\x00D", ""]])
    assert ops.upper(fixed).numpy().tolist() == [[b"A\x00B", b"C"], [b"\x00D", b""]]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=12) | st.text(alphabet="aBÉß\x00 ", max_size=8).map(str.encode),
                min_size=1, max_size=8))
def test_case_mapping_converts_every_run_between_nul_bytes(values):
    """However many NUL bytes a string holds, and wherever, the result is the conversion of
    each run between them (TensorFlow's own conversion of a string without NUL), joined by
    the same NULs: nothing after a NUL is lost."""
    x = tf.constant(values)
    for fn, tf_fn in ((ops.lower, tf.strings.lower), (ops.upper, tf.strings.upper)):
        expected = [b"\x00".join(tf_fn(tf.constant(value.split(b"\x00")), encoding="utf-8")
                                   .numpy().tolist()) for value in values]
        assert fn(x).numpy().tolist() == expected


def test_case_mapping_replaces_invalid_utf8_instead_of_failing():
    x = tf.constant([b"AB\xff\xfeC", b"\xc3", b"a\x82B"])
    assert ops.lower(x).numpy().tolist() == [
        b"ab\xef\xbf\xbd\xef\xbf\xbdc", b"\xef\xbf\xbd", b"a\xef\xbf\xbdb"]
    assert ops.upper(x).numpy().tolist() == [
        b"AB\xef\xbf\xbd\xef\xbf\xbdC", b"\xef\xbf\xbd", b"A\xef\xbf\xbdB"]


def test_elementwise_forms_keep_their_shape():
    fixed = tf.constant([["Ab", "CD"], ["É", ""]])
    assert ops.lower(fixed).numpy().tolist() == [[b"ab", b"cd"], ["é".encode(), b""]]
    ragged = tf.ragged.constant([["Ab", "C"], [], ["ÉÉ"]])
    result = ops.lower(ragged)
    assert isinstance(result, tf.RaggedTensor)
    assert result.to_list() == [[b"ab", b"c"], [], ["éé".encode()]]
    assert ops.length(ragged).to_list() == [[2, 1], [], [2]]
    assert ops.upper(tf.constant("ab")).numpy() == b"AB"


def test_strip_removes_ascii_whitespace_only():
    x = tf.constant([" \t\n\v\f\ra b\r\n", "\u00a0x\u00a0", "", "   "])
    assert texts(ops.strip(x)) == ["a b", "\u00a0x\u00a0", "", ""]


@settings(max_examples=60, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=5))
def test_length_counts_characters(words):
    result = ops.length(tf.constant(words))
    assert result.dtype == tf.int64
    assert result.numpy().tolist() == [len(w) for w in words]


def test_length_of_invalid_utf8_counts_non_continuation_bytes():
    x = tf.constant([b"AB\xff\xfeC", b"\xc3", b"a\x82\x82b", b"\x82", b""])
    assert ops.length(x).numpy().tolist() == [5, 1, 2, 0, 0]


# ---- substr -------------------------------------------------------------------------------------


def test_substr_examples():
    x = tf.constant(["hello", "héllo", "", "ab"])
    assert texts(ops.substr(x, start=1, len=3)) == ["ell", "éll", "", "b"]
    assert texts(ops.substr(x, start=-2, len=1)) == ["l", "l", "", "a"]
    assert texts(ops.substr(x, start=-10, len=2)) == ["he", "hé", "", "ab"]
    assert texts(ops.substr(x, start=9, len=2)) == ["", "", "", ""]
    assert texts(ops.substr(x, start=0, len=0)) == ["", "", "", ""]
    assert texts(ops.substr(x, start=2, len=10**30)) == ["llo", "llo", "", ""]


@settings(max_examples=150, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=4), st.integers(-15, 15), st.integers(0, 15))
def test_substr_is_python_slicing(words, start, size):
    result = ops.substr(tf.constant(words), start=start, len=size)
    assert texts(result) == [w[start:][:size] for w in words]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.binary(max_size=10), min_size=1, max_size=4), st.integers(-12, 12))
def test_substr_never_fails_on_arbitrary_bytes(values, start):
    x = tf.constant(values)
    ops.substr(x, start=start, len=3).numpy()
    ops.length(x).numpy()
    ops.lower(x).numpy()
    ops.regex_match(x, pattern=".*").numpy()


def test_substr_on_ragged_and_fixed():
    ragged = tf.ragged.constant([["abc", "de"], []])
    assert ops.substr(ragged, start=-1, len=1).to_list() == [[b"c", b"e"], []]
    fixed = tf.constant([["abc", "de"]])
    assert ops.substr(fixed, start=1, len=5).numpy().tolist() == [[b"bc", b"e"]]


# ---- regular expressions ------------------------------------------------------------------


def test_regex_replace_replaces_every_match_like_re_sub():
    words = ["a1b22c333", "no digits", "", "9"]
    result = ops.regex_replace(tf.constant(words), pattern="[0-9]+", rewrite="#")
    assert texts(result) == [re.sub("[0-9]+", "#", w) for w in words]


def test_regex_replace_groups_and_backslash():
    x = tf.constant(["john smith", "a b"])
    swapped = ops.regex_replace(x, pattern=r"(\w+) (\w+)", rewrite=r"\2, \1")
    assert texts(swapped) == ["smith, john", "b, a"]
    whole = ops.regex_replace(x, pattern="o", rewrite=r"[\0\\]")
    assert texts(whole) == ["j[o\\]hn smith", "a b"]


def test_regex_replace_empty_match_rule_differs_from_python():
    assert ops.regex_replace(tf.constant(["aaa"]), pattern="a*", rewrite="-").numpy() == [b"-"]


def test_regex_replace_leaves_invalid_utf8_bytes():
    x = tf.constant([b"AB\xff\xfeC"])
    assert ops.regex_replace(x, pattern="[A-Z]", rewrite="x").numpy() == [b"xx\xff\xfex"]


def test_regex_match_is_a_full_match():
    x = tf.constant(["abc", "ab", "xabx", "a\nb", ""])
    assert ops.regex_match(x, pattern="ab").numpy().tolist() == [False, True, False, False, False]
    assert ops.regex_match(x, pattern=".*ab.*").numpy().tolist() == [True, True, True, False,
                                                                      False]
    assert ops.regex_match(x, pattern="(?s)a.*b").numpy().tolist() == [False, True, False, True,
                                                                       False]
    assert ops.regex_match(x, pattern="").numpy().tolist() == [False] * 4 + [True]


def test_regex_match_and_invalid_utf8():
    x = tf.constant([b"\xc3", b"ok"])
    assert ops.regex_match(x, pattern=".*").numpy().tolist() == [False, True]
    assert ops.regex_match(x, pattern=r"\C*").numpy().tolist() == [True, True]


def test_regex_types_and_validation():
    assert infer_x("regex_match", pattern="a+") == t.Type("bool", t.SCALAR)
    assert infer_x("regex_replace", t.Type("string", t.VARIABLE), pattern="(a)", rewrite=r"\1") \
        == t.Type("string", t.VARIABLE)
    message = error_of("regex_match", pattern="(ab")
    assert message.startswith("regex_match: invalid regular expression '(ab': missing )")
    assert "invalid regular expression '[z-a]'" in error_of("regex_replace", pattern="[z-a]",
                                                            rewrite="")
    assert error_of("regex_replace", pattern="(a)", rewrite=r"\2") == (
        "regex_replace: rewrite '\\\\2' refers to group \\2, which pattern '(a)' does not have")
    assert "a backslash must be followed" in error_of("regex_replace", pattern="a",
                                                      rewrite="x\\")
    assert "a backslash must be followed" in error_of("regex_replace", pattern="a", rewrite=r"\n")
    assert error_of("regex_match", t.Type("int64", t.SCALAR), pattern="a") == (
        "regex_match expects a string, got int64")


def _tensorflow_refuses(pattern: str) -> bool:
    try:
        tf.strings.regex_full_match(tf.constant(""), pattern)
    except tf.errors.InvalidArgumentError:
        return True
    return False


def _tensorflow_has_group(pattern: str, group: int) -> bool:
    """Whether TensorFlow's regex_replace takes the rewrite \\group with ``pattern``: it
    leaves a string unchanged, without an error, for a rewrite RE2 refuses, so the empty
    match of ``(?:pattern)|`` in "" becomes "#" only when \\group# is taken. (A pattern
    that ends inside \\Q… quoting needs \\E before the closing parenthesis.)"""
    for wrapped in (f"(?:{pattern})|", f"(?:{pattern}\\E)|"):
        try:
            out = tf.strings.regex_replace(tf.constant(""), wrapped, f"\\{group}#")
        except tf.errors.InvalidArgumentError:
            continue
        return out.numpy() == b"#"
    raise AssertionError(f"no wrapping of {pattern!r} is valid")


REGEX_PIECES = st.sampled_from(list("()[]{}?*+|\\^$.:<>=!-,Pa1z") + [
    "(?P<n>", "(?<n>", "(?<=", "(?i)", "(?s", "\\p{Greek}", "\\pL", "\\Q", "\\E", "[:alpha:]",
    "{2,1}", "{1001}", "é", "\\C", "\\z", "\\b", "\\8", "\\x{41}", "(?:", "(?-m)"])
SPECIAL_PATTERNS = ["(abc", "a**", "[z-a]", "\\", "(?P<n>a)(?P<n>b)", "a{1001}", "(?<=a)b",
                    "(?<n>a)", "(?P<n>a)", "\\p{Vith}", "[[:foo:]]", "é(", "\\Q(\\E", "(?P=n)",
                    "(a)(b)(?:c)", "\\((a)", "[(](a)", "(?P<n>a)(?<n>b)", "(?P<n>a)[(?<m>]",
                    "(?P<n>a)\\Q(?<m>\\E", "(?P<n>a)\\(?<m>", "(?P<n>(?<m>a))"]


def _assert_checked_as_tensorflow_does(pattern: str) -> None:
    """Patterns are checked without TensorFlow (by the RE2 binding): a spec compiles only
    with a pattern TensorFlow's regex ops run, and a rewrite's group only where TensorFlow's
    regex_replace has it."""
    from skewless.ops.strings import _has_group, _pattern_error

    assert (_pattern_error(pattern) is not None) == _tensorflow_refuses(pattern), pattern
    if _pattern_error(pattern) is None:
        assert [_has_group(pattern, str(g)) for g in range(10)] == [
            _tensorflow_has_group(pattern, g) for g in range(10)]


@pytest.mark.parametrize("pattern", SPECIAL_PATTERNS)
def test_patterns_are_refused_exactly_when_tensorflow_refuses_them(pattern):
    _assert_checked_as_tensorflow_does(pattern)


@settings(max_examples=300, deadline=None)
@given(st.lists(REGEX_PIECES, max_size=8).map("".join))
def test_drawn_patterns_are_refused_exactly_when_tensorflow_refuses_them(pattern):
    _assert_checked_as_tensorflow_does(pattern)


# ---- concat -------------------------------------------------------------------------------------


def test_concat_scalars_constants_and_separator():
    a, b = tf.constant(["x", "y"]), tf.constant(["1", ""])
    assert texts(ops.concat(a, b)) == ["x1", "y"]
    assert texts(ops.concat(a, tf.constant("-"), b, sep="|")) == ["x|-|1", "y|-|"]


def test_concat_broadcasts_scalars_over_fixed_and_ragged():
    fixed = tf.constant([["a", "b"], ["c", "d"]])
    per_example = tf.constant(["1", "2"])
    assert ops.concat(fixed, per_example, sep="_").numpy().tolist() == [
        [b"a_1", b"b_1"], [b"c_2", b"d_2"]]
    ragged = tf.ragged.constant([["a", "b"], [], ["c"]])
    result = ops.concat(tf.constant(["p", "q", "r"]), ragged, tf.constant("!"))
    assert result.to_list() == [[b"pa!", b"pb!"], [], [b"rc!"]]


def test_concat_type_rule():
    var = t.Type("string", t.VARIABLE)
    assert infer("concat", rest=[STR, t.Type("string", t.CONST)], sep="") == STR
    assert infer("concat", rest=[var, STR, STR], sep="-") == var
    assert error_of("concat", rest=[STR, t.Type("int64", t.SCALAR)], sep="") == (
        "concat expects strings, got int64 (argument 2); convert numbers to strings first")
    assert error_of("concat", rest=[STR], sep="") == "concat expects at least 2 strings, got 1"
    assert "two variable-length values" in error_of("concat", rest=[var, var], sep="")
    assert error_of("concat", rest=[STR, STR], sep=1) == "concat: sep must be a string, got 1"


# ---- to_number ----------------------------------------------------------------------------

INT_CASES = {
    "42": 42, " -7\t": -7, "+3": 3, "1_000": 1000, "007": 7, "-0": 0,
    "9223372036854775807": 2**63 - 1, "-9223372036854775808": -(2**63),
    "0009223372036854775807": 2**63 - 1, "9223372036854775808": -1,
    "-9223372036854775809": -1, "99999999999999999999": -1, "1e999": -1, "1.0": -1,
    "1e3": -1, "": -1, "   ": -1, "abc": -1, "nan": -1, "inf": -1, "0x10": -1, "1__0": -1,
    "_1": -1, "--1": -1, "+": -1, "١٢": -1, "abcdefghijklmnopqrs": -1,
    # underscores among the leading zeros, and after them
    "0_0_7": 7, "-0_0": 0, "+0_5_0": 50, "00_1_0": 10, "-0_009_223_372_036_854_775_808": -(2**63),
    "0_9_223372036854775808": -1, "0_": -1, "-_0": -1,
}

FLOAT_CASES = {
    "1.5": 1.5, " -2.25 ": -2.25, ".5": 0.5, "1.": 1.0, "1e3": 1000.0, "1E-2": 0.01,
    "1_000.5": 1000.5, "inf": math.inf, "-Infinity": -math.inf, "+iNf": math.inf,
    "3.4e38": 3.4e38, "3.4028235e38": 3.4028235e38, "3.5e38": -1.0, "1e-50": 0.0,
    "1e39": -1.0, "1e999": -1.0, "-1e999": -1.0,
    "99999999999999999999": 1e20, "": -1.0, "\t": -1.0, "abc": -1.0, "0x10": -1.0,
    "1e": -1.0, "e1": -1.0, "1,5": -1.0, "nan(1)": -1.0, "1_": -1.0, "inf inity": -1.0,
    # below float32's smallest normal, 2**-126: steps of 2**-149, rounded half to even
    "1.401298464324817e-45": 2.0**-149, "-1e-40": -71362 * 2.0**-149,
    "7e-46": 0.0, "7.1e-46": 2.0**-149, "2.1e-45": 2.0**-149, "2.2e-45": 2 * 2.0**-149,
    "1.1754942e-38": (2**23 - 1) * 2.0**-149, "1.17549434e-38": 2.0**-126,
    # just above 1 + 2**-24, halfway between float32's 1 and 1 + 2**-23: its nearest float64
    # is the halfway point, which rounds to even, 1.0 (as numpy.float32(float(text)))
    "1.0000000596046447753906250001": 1.0,
}
# 7e-46 is below half a step (2**-150 = 7.006e-46); 2.1e-45 is 1.4986 steps, 2.2e-45 1.57


def test_to_number_int64_cases():
    result = ops.to_number(tf.constant(list(INT_CASES)), dtype="int64", default=-1)
    assert result.dtype == tf.int64
    assert dict(zip(INT_CASES, result.numpy().tolist())) == INT_CASES


def test_to_number_float32_cases():
    result = ops.to_number(tf.constant(list(FLOAT_CASES)), dtype="float32", default=-1.0)
    assert result.dtype == tf.float32
    expected = np.array(list(FLOAT_CASES.values()), dtype=np.float32)
    np.testing.assert_array_equal(result.numpy().view(np.uint32), expected.view(np.uint32))
    negative_zero = ops.to_number(tf.constant(["-0", "-0.0", "-1e-50"]), dtype="float32",
                                  default=1.0)
    assert negative_zero.numpy().view(np.uint32).tolist() == [2**31] * 3
    nan = ops.to_number(tf.constant(["nan", "-NaN", " +nan "]), dtype="float32", default=0)
    assert np.isnan(nan.numpy()).all()


NUMBERISH = st.text(alphabet="0123456789+-._eE \tinfatyINF", max_size=12)


def python_int(text: str, default: int) -> int:
    try:
        value = int(text)
    except ValueError:
        return default
    return value if -(2**63) <= value < 2**63 else default


def python_float(text: str, default: float) -> float:
    try:
        value = float(text)
    except ValueError:
        return default
    spelled_infinite = text.strip().lstrip("+-").lower() in ("inf", "infinity")
    with np.errstate(over="ignore"):  # "1e39" and "1E309" are finite numbers, too large
        overflows = not spelled_infinite and not math.isnan(value) and \
            not math.isfinite(np.float32(value))
    return default if overflows else value


@settings(max_examples=200, deadline=None)
@given(st.lists(NUMBERISH | st.integers().map(str), min_size=1, max_size=6))
def test_to_number_matches_python_int(values):
    result = ops.to_number(tf.constant(values), dtype="int64", default=-5)
    assert result.numpy().tolist() == [python_int(v, -5) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(NUMBERISH | st.floats(width=32).map(repr), min_size=1, max_size=6))
def test_to_number_matches_python_float(values):
    result = ops.to_number(tf.constant(values), dtype="float32", default=-5.0).numpy()
    expected = np.array([python_float(v, -5.0) for v in values], dtype=np.float32)
    np.testing.assert_allclose(result, expected, rtol=1e-7, equal_nan=True)


PLAIN_INT = (st.from_regex(r"-?[0-9]{1,18}", fullmatch=True)
             | st.integers(-(10**18 - 1), 10**18 - 1).map(str))
# plain texts shorter than 32 characters: TensorFlow 2.16's parser fails on longer number
# texts (docs/language.md, to_number); `test_to_number_of_long_plain_decimals` covers them
PLAIN_DECIMAL = (st.from_regex(r"-?(?:[0-9]{1,12}\.?[0-9]{0,8}|\.[0-9]{1,8})", fullmatch=True)
                 | st.floats(allow_nan=False, allow_infinity=False).map("{:f}".format)
                 .filter(lambda text: len(text) < 32)
                 | st.floats(-1, 1, width=32).map("{:.25f}".format))
READS_LONG_NUMBER_TEXTS = tuple(map(int, tf.__version__.split(".")[:2])) >= (2, 17)


@settings(max_examples=150, deadline=None)
@given(st.lists(PLAIN_INT | st.just(""), min_size=1, max_size=6))
def test_to_number_of_plain_integers_and_empty_texts_matches_python_int(values):
    """Batches with no other text are read without the general validation."""
    result = ops.to_number(tf.constant(values), dtype="int64", default=-5)
    assert result.numpy().tolist() == [python_int(v, -5) for v in values]


@settings(max_examples=150, deadline=None)
@given(st.lists(PLAIN_DECIMAL | st.just(""), min_size=1, max_size=6))
def test_to_number_of_plain_decimals_and_empty_texts_matches_python_float_bit_for_bit(values):
    result = ops.to_number(tf.constant(values), dtype="float32", default=-5.0).numpy()
    expected = np.array([python_float(v, -5.0) for v in values], dtype=np.float32)
    assert result.view(np.uint32).tolist() == expected.view(np.uint32).tolist()


@pytest.mark.skipif(not READS_LONG_NUMBER_TEXTS,
                    reason="TensorFlow 2.16 fails on number texts of 32 characters or more "
                           "(docs/language.md, to_number)")
def test_to_number_of_long_plain_decimals():
    """Plain texts beyond float32's largest give the default; the others are read."""
    texts = ["4" + "0" * 38, "-3" + "0" * 39 + ".5", "1" * 38, "0." + "0" * 40 + "1", ""]
    result = ops.to_number(tf.constant(texts), dtype="float32", default=-5.0).numpy()
    expected = np.array([python_float(text, -5.0) for text in texts], dtype=np.float32)
    assert expected.tolist()[:2] == [-5.0, -5.0]  # the first two overflow float32
    assert result.view(np.uint32).tolist() == expected.view(np.uint32).tolist()


@settings(max_examples=150, deadline=None)
@given(st.lists(PLAIN_INT | PLAIN_DECIMAL | NUMBERISH | st.just(""), min_size=2, max_size=6))
def test_to_number_gives_a_text_the_same_bits_whatever_else_is_in_its_batch(values):
    """Alone, each text of a batch is read by the plain or the general reading as its own
    kind decides; in the batch, by the general one as soon as one text needs it."""
    for dtype in ("int64", "float32"):
        together = ops.to_number(tf.constant(values), dtype=dtype, default=-5).numpy()
        alone = [ops.to_number(tf.constant([v]), dtype=dtype, default=-5).numpy()[0]
                 for v in values]
        assert together.tobytes() == np.array(alone, together.dtype).tobytes()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=25), min_size=1, max_size=5))
def test_to_number_never_fails(values):
    x = tf.constant(values)
    ops.to_number(x, dtype="int64", default=0).numpy()
    ops.to_number(x, dtype="float32", default=0).numpy()


def test_to_number_forms():
    ragged = tf.ragged.constant([["1", "x"], []])
    assert ops.to_number(ragged, dtype="int64", default=0).to_list() == [[1, 0], []]
    fixed = tf.constant([["2.5", ""]])
    np.testing.assert_array_equal(ops.to_number(fixed, dtype="float32", default=7).numpy(),
                                  [[2.5, 7.0]])


def test_to_number_type_rule():
    assert infer_x("to_number", dtype="int64", default=0) == t.Type("int64", t.SCALAR)
    var = t.Type("string", t.VARIABLE)
    assert infer_x("to_number", var, dtype="float32", default=-1.5) == t.Type("float32",
                                                                               t.VARIABLE)
    assert error_of("to_number", dtype="string", default=0) == (
        "to_number: dtype must be int64 or float32, got string")
    assert error_of("to_number", dtype="int64", default=1.5) == (
        "to_number: default must be an int64 integer for dtype int64, got 1.5")
    assert error_of("to_number", dtype="float32", default="0") == (
        "to_number: default must be a number, got '0'")
    assert error_of("to_number", t.Type("float32", t.SCALAR), dtype="int64", default=0) == (
        "to_number expects a string, got float32")


# ---- type rules of the simple functions ---------------------------------------------------


@pytest.mark.parametrize("name,dtype", [("lower", "string"), ("upper", "string"),
                                        ("strip", "string"), ("length", "int64")])
def test_unary_type_rules(name, dtype):
    fixed = t.Type("string", t.fixed(3))
    assert infer_x(name, fixed) == t.Type(dtype, t.fixed(3))
    args = Args(op=name, types={"x": t.Type("int64", t.SCALAR)}, consts={},
                sources={"x": "distance"})
    with pytest.raises(ArgError, match=f"^{name} expects a string, got int64 \\(distance\\)$"):
        REG[name].infer(args)


def test_substr_type_rule():
    assert infer_x("substr", start=-2, len=1) == STR
    assert error_of("substr", start=0, len=-1) == "substr: len must be at least 0, got -1"
    assert error_of("substr", start=1.5, len=1) == "substr: start must be an integer, got 1.5"


# ---- graph mode -----------------------------------------------------------------------------


def test_string_functions_in_graph_mode():
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def pipeline(x):
        text = ops.strip(ops.lower(x))
        return (ops.substr(text, start=-3, len=2), ops.length(text),
                ops.regex_replace(text, pattern="[aeiou]", rewrite=""),
                ops.regex_match(text, pattern="[a-z ]*"),
                ops.concat(text, tf.constant("!"), sep=" "),
                ops.to_number(x, dtype="int64", default=-1),
                ops.to_number(x, dtype="float32", default=-1))

    cut, size, vowels, plain, joined, as_int, as_float = pipeline(
        tf.constant([" Hello ", "12", b"\xff"]))
    assert cut.numpy().tolist() == [b"ll", b"12", "\ufffd".encode()]
    assert size.numpy().tolist() == [5, 2, 1]
    assert vowels.numpy().tolist() == [b"hll", b"12", "\ufffd".encode()]
    assert plain.numpy().tolist() == [True, False, False]
    assert joined.numpy().tolist() == [b"hello !", b"12 !", "\ufffd !".encode()]
    assert as_int.numpy().tolist() == [-1, 12, -1]
    assert as_float.numpy().tolist() == [-1.0, 12.0, -1.0]
    empty = pipeline(tf.constant([], tf.string))
    assert all(v.shape == (0,) for v in empty)
