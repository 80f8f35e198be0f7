"""Strings: elementwise functions of string values.

Strings read from a ``tf.train.Example`` are arbitrary bytes; every function here accepts
bytes that are not valid UTF-8 without an error (each says what it does with them). A
character is a Unicode code point of the UTF-8 text."""
from __future__ import annotations

import functools

from ..lazy import tf

from .. import types as t
from .common import elementwise, need, need_int_const, need_string_const, shape_of
from .registry import ArgError, Param, op

X = Param("x")

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def need_string(args, name: str = "x") -> str:
    return need(args, name, "string", what="a string")


def _string_same(args) -> t.Type:
    need_string(args)
    return args.type("x")


def _string_to(dtype: str):
    def infer(args) -> t.Type:
        need_string(args)
        return t.Type(dtype, args.type("x").shape)

    return infer


@op("lower", X, infer=_string_same)
@elementwise
def lower(x):
    """Lowercase, Unicode-aware ("ÉCOLE" → "école"). Bytes that are not valid UTF-8 are
    replaced by U+FFFD (�); they never cause an error. NUL bytes are kept."""
    return case_converted(tf.strings.lower, x)


@op("upper", X, infer=_string_same)
@elementwise
def upper(x):
    """Uppercase, Unicode-aware, with full case mapping ("straße" → "STRASSE"). Bytes that
    are not valid UTF-8 are replaced by U+FFFD (�). NUL bytes are kept."""
    return case_converted(tf.strings.upper, x)


def case_converted(convert, x):
    """``convert(x, encoding="utf-8")`` (``tf.strings.lower`` or ``upper``) over every byte
    of each string. TensorFlow's kernel converts a string only up to its first NUL byte
    (ICU reads it as a C string) and drops the rest; so a batch that holds a NUL converts
    each run between NULs and puts the NULs back, which for a string without one is the
    plain conversion. Any shape; a string tensor of the same shape.

    The plain conversion runs alongside the check, which is RE2's fastest form, "all
    characters but NUL" (a string that is not valid UTF-8 fails it too, and takes the runs
    with the same result). At batch 64 the check and the branch cost about 1.5% of a
    flights receiver call (docs/performance.md)."""
    plain = convert(x, encoding="utf-8")
    all_text = tf.reduce_all(tf.strings.regex_full_match(x, r"[^\x00]*"))
    return tf.cond(all_text, lambda: plain, lambda: _converted_by_runs(convert, x))


def _converted_by_runs(convert, x):
    flat = tf.reshape(x, [-1])
    runs = tf.raw_ops.StringSplitV2(input=flat, sep=tf.constant("\0"), maxsplit=-1)
    # each run ends with its NUL (given as tensor data: a NUL ends an op's string attribute)
    ended = tf.strings.join([convert(runs.values, encoding="utf-8"), tf.constant("\0")])
    joined = tf.raw_ops.UnsortedSegmentJoin(inputs=ended, segment_ids=runs.indices[:, 0],
                                            num_segments=tf.size(flat), separator="")
    size = tf.strings.length(joined) - 1  # the last run's NUL was not in the string
    return tf.reshape(tf.strings.substr(joined, tf.zeros_like(size), size), tf.shape(x))


@op("strip", X, infer=_string_same)
@elementwise
def strip(x):
    """Removes leading and trailing ASCII whitespace (space, \\t, \\n, \\v, \\f, \\r); other
    Unicode spaces such as U+00A0 are kept."""
    return tf.strings.strip(x)


def _char_length(x):
    return tf.cast(tf.strings.length(x, unit="UTF8_CHAR"), tf.int64)


@op("length", X, infer=_string_to("int64"))
@elementwise
def length(x):
    """Number of characters, as int64 ("héllo" → 5). For bytes that are not valid UTF-8,
    every byte that is not a UTF-8 continuation byte (10xxxxxx) counts as one character."""
    return _char_length(x)


def _substr_type(args) -> t.Type:
    need_string(args)
    need_int_const(args, "start")
    need_int_const(args, "len", minimum=0)
    return args.type("x")


# Bounds that keep const positions inside int64 arithmetic; no string is this long.
_POSITION_LIMIT = 2**40


@op("substr", X, Param("start", const=True), Param("len", const=True), infer=_substr_type)
@elementwise
def substr(x, start, len):  # noqa: A002 (the language's parameter name)
    """The characters ``x[start:][:len]`` in Python slicing terms: up to ``len`` characters
    from position ``start``; a negative ``start`` counts from the end (-1 is the last
    character) and stops at the beginning; a ``start`` past the end gives "". Counts
    characters like ``length``."""
    count = _char_length(x)
    if start >= 0:
        pos = tf.minimum(count, min(start, _POSITION_LIMIT))
    else:
        pos = tf.maximum(count + max(start, -_POSITION_LIMIT), 0)
    # Substr's shape function wants pos and len with equal static dimensions, also when a
    # function holding it is instantiated, where a dimension Python knew may be unknown:
    # tf.zeros_like or tf.fill would make len a constant of Python's shape, the raw op keeps
    # len's shape pos's at every stage
    size = tf.raw_ops.ZerosLike(x=pos) + tf.constant(min(len, _POSITION_LIMIT), tf.int64)
    return tf.strings.substr(x, pos, size, unit="UTF8_CHAR")


# ---- regular expressions ------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _compiled(pattern: str):
    """``pattern`` compiled by RE2 (the ``google-re2`` binding: the regular expression
    library TensorFlow's string ops use, with the options they use, without importing
    TensorFlow), or RE2's reason for refusing it: ``missing ): (abc``."""
    import re2

    options = re2.Options()
    options.log_errors = False  # the reason is returned, not logged to stderr
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    # RE2 releases since 2023 also read (?<name>...) as a named group; the RE2 of
    # TensorFlow 2.16-2.21 knows only (?P<name>...) and refuses the other spelling. A NUL
    # after each "(?<" spoils only a group name (elsewhere, escaped, quoted or in a class,
    # it is one more literal character), so RE2 itself tells whether the pattern has one.
    if compiled.groupindex and "(?<" in pattern:
        try:
            re2.compile(pattern.replace("(?<", "(?<\0"), options)
        except re2.error:
            return "invalid perl operator: (?<; write a named group as (?P<name>...)"
    return compiled


def _pattern_error(pattern: str):
    """Why TensorFlow's RE2 refuses ``pattern``, or None."""
    compiled = _compiled(pattern)
    return compiled if isinstance(compiled, str) else None


def _has_group(pattern: str, group: str) -> bool:
    """Whether a rewrite may use ``\\group`` with ``pattern`` (an accepted pattern): RE2
    accepts a rewrite whose groups are at most the pattern's number of capturing groups
    (``RE2::CheckRewriteString``); ``\\0`` is the whole match."""
    return int(group) <= _compiled(pattern).groups


def _need_pattern(args) -> str:
    pattern = need_string_const(args, "pattern")
    error = _pattern_error(pattern)
    if error is not None:
        raise ArgError(f"{args.op}: invalid regular expression {pattern!r}: {error}", "pattern")
    return pattern


def _rewrite_groups(args, rewrite: str) -> list:
    """The group digits a rewrite refers to; a backslash must escape a digit or a
    backslash (RE2's rewrite syntax)."""
    groups, i = [], 0
    while i < len(rewrite):
        if rewrite[i] == "\\":
            following = rewrite[i + 1: i + 2]
            if not (following.isdigit() and following.isascii() or following == "\\"):
                raise ArgError(f"{args.op}: in rewrite {rewrite!r}, a backslash must be followed "
                               "by a group number 0-9 or another backslash", "rewrite")
            if following != "\\":
                groups.append(following)
            i += 2
        else:
            i += 1
    return groups


def _regex_replace_type(args) -> t.Type:
    need_string(args)
    pattern = _need_pattern(args)
    rewrite = need_string_const(args, "rewrite")
    for group in _rewrite_groups(args, rewrite):
        if not _has_group(pattern, group):
            raise ArgError(f"{args.op}: rewrite {rewrite!r} refers to group \\{group}, which "
                           f"pattern {pattern!r} does not have", "rewrite")
    return args.type("x")


@op("regex_replace", X, Param("pattern", const=True), Param("rewrite", const=True),
    infer=_regex_replace_type)
@elementwise
def regex_replace(x, pattern, rewrite):
    """Replaces every match of ``pattern`` (RE2 syntax) by ``rewrite``, in which ``\\1``…
    ``\\9`` insert a captured group, ``\\0`` the whole match and ``\\\\`` a backslash. An
    empty match right after a previous match is skipped (``"aaa"`` with ``a*`` → ``"-"``).
    ``.`` matches neither a newline (unless the pattern starts with ``(?s)``) nor bytes that
    are not valid UTF-8, which are otherwise left as they are."""
    return tf.strings.regex_replace(x, pattern, rewrite, replace_global=True)


def _regex_match_type(args) -> t.Type:
    need_string(args)
    _need_pattern(args)
    return t.Type("bool", args.type("x").shape)


@op("regex_match", X, Param("pattern", const=True), infer=_regex_match_type)
@elementwise
def regex_match(x, pattern):
    """True where the whole string matches ``pattern`` (RE2 syntax): ``regex_match(x,
    "ab")`` is false for "abc"; write ``".*ab.*"`` to test for a substring. ``.`` matches
    neither a newline (unless the pattern starts with ``(?s)``) nor bytes that are not valid
    UTF-8, so a string holding such bytes does not match ``.*``; ``\\C`` matches any byte."""
    return tf.strings.regex_full_match(x, pattern)


# ---- concat --------------------------------------------------------------------------------


def _concat_type(args) -> t.Type:
    if len(args.rest) < 2:
        raise ArgError(f"{args.op} expects at least 2 strings, got {len(args.rest)}", "values")
    for position, value in enumerate(args.rest, 1):
        if value.dtype != "string":
            raise ArgError(f"{args.op} expects strings, got {value.dtype} (argument {position});"
                           " convert numbers to strings first", "values")
    need_string_const(args, "sep")
    return t.Type("string", shape_of(args))


@op("concat", Param("values"), Param("sep", const=True, default=""), infer=_concat_type,
    variadic="values")
@elementwise
def concat(*values, sep=""):
    """The strings joined elementwise with ``sep`` between them: ``concat(a, b, sep="-")``.
    Takes two or more strings; constants and scalars combine with fixed-shape or
    variable-length values as in arithmetic."""
    shape = functools.reduce(tf.broadcast_dynamic_shape, [tf.shape(v) for v in values])
    static = functools.reduce(tf.broadcast_static_shape, [v.shape for v in values])
    joined = tf.strings.join([tf.broadcast_to(v, shape) for v in values], separator=sep)
    return tf.ensure_shape(joined, static)  # broadcast_to to a dynamic shape loses it


# ---- to_number -----------------------------------------------------------------------------

_DIGITS = r"[0-9](?:_?[0-9])*"
_INTEGER = rf"[+-]?{_DIGITS}"
_DECIMAL = rf"[+-]?(?:(?:{_DIGITS})?\.{_DIGITS}|{_DIGITS}\.?)(?:[eE][+-]?{_DIGITS})?"
_NON_FINITE = r"[+-]?(?i:inf|infinity|nan)"
# Plain texts, which StringToNumber reads as the general reading would, with no cleaning:
# an optional "-", digits and (float32) a point; int64 at most 18 digits, so it cannot overflow.
_PLAIN_INT64 = r"-?[0-9]{1,18}"
_PLAIN_DECIMAL = r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)"
_INT64_MAX_HEAD = INT64_MAX // 10  # the first 18 of its 19 digits


def _to_number_type(args) -> t.Type:
    need_string(args)
    dtype = args.consts.get("dtype")
    if dtype not in t.NUMERIC:
        raise ArgError(f"{args.op}: dtype must be int64 or float32, got {dtype}", "dtype")
    default = args.consts.get("default")
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        raise ArgError(f"{args.op}: default must be a number, got {default!r}", "default")
    if dtype == "int64" and not (isinstance(default, int) and INT64_MIN <= default <= INT64_MAX):
        raise ArgError(f"{args.op}: default must be an int64 integer for dtype int64, "
                       f"got {default!r}", "default")
    return t.Type(dtype, args.type("x").shape)


def _parse_any_int64(text, default: int):
    valid = tf.strings.regex_full_match(text, _INTEGER)
    # Where the text is valid: its sign, and its significant digits (the sign, the leading
    # zeros and the underscores between them, then every other underscore, taken out)
    negative = tf.equal(tf.strings.substr(text, 0, 1), "-")
    digits = tf.strings.regex_replace(text, "^[+-]?[0_]*|_", "")
    count = tf.strings.length(digits)
    nineteen = tf.where(valid & tf.equal(count, 19), digits, "0" * 19)
    head = tf.strings.to_number(tf.strings.substr(nineteen, 0, 18), tf.int64)
    last = tf.strings.to_number(tf.strings.substr(nineteen, 18, 1), tf.int64)
    fits = (count < 19) | (tf.equal(count, 19) & (
        (head < _INT64_MAX_HEAD)
        | (tf.equal(head, _INT64_MAX_HEAD) & (last <= 7 + tf.cast(negative, tf.int64)))))
    ok = valid & fits
    signed = tf.strings.join([tf.where(negative, "-", ""), digits])
    value = tf.strings.to_number(tf.where(ok & (count > 0), signed, "0"), tf.int64)
    return tf.where(ok, value, tf.constant(default, tf.int64))


def _parse_any_float32(text, default: float):
    non_finite = tf.strings.regex_full_match(text, _NON_FINITE)
    valid = tf.strings.regex_full_match(text, _DECIMAL) | non_finite
    # "infinity" spelled out is read by TensorFlow 2.17 and later only: shorten it to "inf".
    clean = tf.where(valid, tf.strings.regex_replace(text, "_|(?i:inity)$", ""), "0")
    value = _to_float32(tf.strings.to_number(clean, tf.float64))
    ok = valid & (non_finite | tf.math.is_finite(value))
    return tf.where(ok, value, tf.constant(default, tf.float32))


def _parse(text, default, plain_pattern: str, parse_plain, parse_any):
    """``parse_any(text, default)``, the general reading, where a batch holds a text that
    is neither empty nor of the plain form (``plain_pattern``), which ``parse_plain`` reads
    exactly as ``parse_any`` would; else the plain reading alone, and ``default`` for empty
    texts. Which reading runs depends on the batch, what each text gives does not: the
    general one's validation (regular expressions that rewrite every text) is skipped for
    clean data."""
    plain = tf.strings.regex_full_match(text, plain_pattern)
    value = parse_plain(tf.where(plain, text, "0"))
    needs_any = tf.reduce_any(~plain & (tf.strings.length(text) > 0))
    return tf.cond(needs_any, lambda: tf.where(plain, value, parse_any(text, default)),
                   lambda: tf.where(plain, value, tf.constant(default, value.dtype)))


def _parse_int64(text, default: int):
    return _parse(text, default, _PLAIN_INT64,
                  lambda plain: tf.strings.to_number(plain, tf.int64), _parse_any_int64)


def _parse_float32(text, default: float):
    def parse_plain(plain):
        value = _to_float32(tf.strings.to_number(plain, tf.float64))
        # too large for float32 ("4" followed by 38 digits): the default, as in general
        return tf.where(tf.math.is_finite(value), value, tf.constant(default, tf.float32))

    return _parse(text, default, _PLAIN_DECIMAL, parse_plain, _parse_any_float32)


def _to_float32(wide):
    """float64 values rounded to float32 as numpy rounds them (to nearest, ties to even),
    values below float32's smallest normal, 2**-126, included: a cast gives 0 for those
    (TensorFlow's threads flush subnormal results to zero), so their bits are made with
    integer arithmetic: the number of steps of 2**-149 (float32's subnormal spacing),
    rounded half to even, and the sign."""
    steps = tf.cast(tf.round(tf.abs(wide) * 2.0**149), tf.int32)  # exact below 2**-126
    negative = tf.bitcast(wide, tf.int64) < 0
    bits = tf.where(negative, steps | tf.constant(-2**31, tf.int32), steps)
    tiny = tf.abs(wide) < 2.0**-126
    return tf.where(tiny, tf.bitcast(bits, tf.float32), tf.cast(wide, tf.float32))


@op("to_number", X, Param("dtype", const=True), Param("default", const=True, default=0),
    infer=_to_number_type)
@elementwise
def to_number(x, dtype, default=0):
    """Parses a number, as ``dtype`` (int64 or float32), giving ``default`` where the text is
    not a number or does not fit the dtype; never fails. Leading and trailing ASCII
    whitespace is ignored. int64 accepts what Python's ``int()`` accepts in ASCII: an
    optional sign and decimal digits, with single underscores between digits ("1_000");
    "1.0", "1e3" and values beyond the int64 range give ``default``. float32 accepts what
    Python's ``float()`` accepts in ASCII ("1.5", ".5", "1e-3", "1_000.5", "inf",
    "-Infinity", "nan", any case), read as the nearest float64 and rounded to float32, as
    Python's ``float()`` and numpy's conversion do (subnormals below 2**-126 included); a
    finite number too large for float32 ("1e39") gives ``default``, one too small for it
    becomes 0. Hexadecimal and
    non-ASCII digits give ``default``."""
    text = tf.strings.strip(x)
    if dtype == "int64":
        return _parse_int64(text, default)
    return _parse_float32(text, default)
