"""Hostile specs: chains as long as a file, nesting past the limit, literals out of range and
absurd sizes. Long flat chains compile and run; everything else is a positioned error."""
from __future__ import annotations

import numpy as np
import pytest

from skewless.compiler import check_file, check_source
from skewless.errors import SpecError
from skewless.syntax import MAX_NESTING
from skewless.testing import raw_tensors

from skewless_test_helpers import compile_both

N = 10_000


def errors_of(text: str) -> list[str]:
    """``line:col: message`` of every diagnostic of a spec that must not compile."""
    with pytest.raises(SpecError) as caught:
        check_source(text, "t.feat")
    return [f"{d.pos.line}:{d.pos.column}: {d.message}" for d in caught.value.diagnostics]


# ---- long flat chains compile and run ---------------------------------------------------------

CHAINS = {
    "plus": ("input x: float32\nfeature y = " + " + ".join(["x"] * N),
             lambda x: x * N),
    "pipe": ("input x: float32\nfeature y = x" + " | abs" * N, np.abs),
    "minus": ("input x: float32\nfeature y = " + "- " * N + "x", lambda x: x),
    "not": ("input x: float32\nfeature y = cast(" + "not " * (N + 1) + "(x > 0), float32)",
            lambda x: (x <= 0).astype(np.float32)),
    "lets": ("input x: float32\nlet a0 = x\n" + "".join(f"let a{i + 1} = a{i} + 1\n" for i in range(N))
             + f"feature y = a{N}", lambda x: x + N),
    "and": ("input x: float32\nfeature y = cast(" + " and ".join(["x > 0"] * N) + ", float32)",
            lambda x: (x > 0).astype(np.float32)),
}


@pytest.mark.parametrize("kind", sorted(CHAINS))
def test_a_flat_chain_of_ten_thousand_compiles(kind):
    graph = check_source(CHAINS[kind][0])
    assert len(graph.nodes) >= N - 1  # one node per operator: nothing was cut short


@pytest.mark.parametrize("kind", ["plus", "pipe", "lets"])
def test_a_flat_chain_of_ten_thousand_runs_loaded_and_generated(kind, tmp_path):
    text, expected = CHAINS[kind]
    loaded, module = compile_both(text, tmp_path, f"chain_{kind}")
    x = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    raw = raw_tensors([{"x": float(v)} for v in x], loaded.columns)
    for features in (loaded, module):
        y = features.transform_features(raw)["y"].numpy()
        np.testing.assert_array_equal(y, expected(x).astype(np.float32))


# ---- nesting -----------------------------------------------------------------------------------

NESTINGS = {
    "parentheses": lambda d: "(" * d + "x" + ")" * d,
    "calls": lambda d: "abs(" * d + "x" + ")" * d,
    "lists": lambda d: "x in " + "[" * d + "1" + "]" * d,
    "mixed": lambda d: "abs([(" * (d // 3) + "x" + ")])" * (d // 3),
}


def test_a_chain_of_ten_thousand_lets_each_read_by_a_feature_compiles():
    """The leakage check visits each name once, however many features read a long chain
    (it searched the chain again from every feature, copying the path at every step)."""
    lines = ["input x: float32", "label y: float32", "let l0 = x"]
    lines += [f"let l{i} = l{i - 1} + 1" for i in range(1, 10_000)]
    lines += [f"feature f{i} = l{i} * 2" for i in range(10_000)]
    graph = check_source("\n".join(lines + ["target t = y"]) + "\n", "chain.feat")
    assert len(graph.features) == 10_000


@pytest.mark.parametrize("text, message", [
    ("feature f = a + c", "(1:13) feature 'f' depends on label 'y' via let 'a' -> let 'b'"),
    ("feature f = c + a", "(1:17) feature 'f' depends on label 'y' via let 'a' -> let 'b'"),
    ("feature f = c + y2 * a", "(1:17) feature 'f' depends on label 'y2'; labels"),
    ("feature f = d", "(1:13) feature 'f' depends on weight 'w' via let 'd'"),
])
def test_leakage_names_a_shortest_chain_from_its_first_reference(text, message):
    spec = ("input x: float32\nlabel y: float32\nlabel y2: float32\nweight w: float32\n"
            "let b = y * 2\nlet a = b + 1\nlet c = a + x\nlet d = w + b\n")
    with pytest.raises(SpecError) as raised:
        check_source(f"{text}\n{spec}target t = y\n", "leak.feat")
    [found] = [f"({d.pos.line}:{d.pos.column}) {d.message}" for d in raised.value.diagnostics]
    assert found.startswith(message), found


@pytest.mark.parametrize("kind", sorted(NESTINGS))
def test_nesting_past_the_limit_is_a_positioned_error(kind):
    expr = NESTINGS[kind](MAX_NESTING + 3)
    text = f"input x: float32\n\nfeature y = {expr}\n"
    column = 13 + next(i for i in range(len(expr)) if expr[:i + 1].count("(") + expr[:i + 1].count("[") > MAX_NESTING)
    assert errors_of(text) == [f"3:{column}: brackets nest more than {MAX_NESTING} deep here; "
                               "split the expression with let"]


def test_nesting_up_to_the_limit_is_accepted():
    check_source("input x: float32\nfeature y = " + "(" * MAX_NESTING + "x" + ")" * MAX_NESTING)


def test_nesting_is_counted_per_statement_and_over_lines():
    deep = "(\n" * (MAX_NESTING + 1) + "x" + ")" * (MAX_NESTING + 1)
    messages = errors_of(f"input x: float32\nfeature y = {deep}\nfeature z = x +\n")
    assert messages[0].startswith(f"{MAX_NESTING + 2}:1: brackets nest more than")
    assert len(messages) == 2  # the statement after it is still checked


# ---- literals ----------------------------------------------------------------------------------

HEAD = "input x: float32\ninput n: int64\ninput s: string\ninput v: int64[]\n"
BIG = "9" * 5000
LITERALS = [
    # (statement, line:col: message)
    (f"feature y = n + {BIG}", "5:17: integer literal of 5000 digits does not fit in int64 "
                               "(at most 9223372036854775807)"),
    (f"feature y = n + 000{'0' * 5000}7", None),
    ("feature y = n + 9223372036854775807", None),
    ("feature y = n + -9223372036854775808", None),
    ("feature y = n + 9223372036854775808", "5:17: integer 9223372036854775808 does not fit in int64"),
    ("feature y = n + 123456789012345678901", "5:17: integer literal of 21 digits does not fit in "
                                              "int64 (at most 9223372036854775807)"),
    ("feature y = hash(s, 9223372036854775808)", "5:21: integer 9223372036854775808 does not fit in int64"),
    ("feature y = n in [1, 2, 18446744073709551616]",
     "5:18: integer 18446744073709551616 does not fit in int64"),
    ("feature y = bucketize(n, boundaries=[1, 99999999999999999999])",
     "5:37: integer 99999999999999999999 does not fit in int64"),
    ("feature y = x * 1e39", "5:17: number 1e39 is beyond the float32 range (±3.4028235e+38); "
                             "write inf for infinity"),
    ("feature y = x * -1e39", "5:18: number 1e39 is beyond the float32 range (±3.4028235e+38); "
                              "write inf for infinity"),
    ("feature y = x * 1e99999", "5:17: number 1e99999 is beyond the float32 range "
                                "(±3.4028235e+38); write inf for infinity"),
    ("feature y = x * 3.4028235e38", None),  # the largest float32, as printed
    ("feature y = x * 3.40282356e38", None),  # still rounds to it
    ("feature y = x * -inf", None),
    # a number written other than 0 that float32 rounds to 0 (1e-400 is 0.0 even in float64)
    ("feature y = x * 1e-50", "5:17: number 1e-50 rounds to 0 in float32 (the smallest float32 above 0 is 2**-149, "
                               "about 1.4e-45); write 0 if 0 is meant"),
    ("feature y = x * 1e-400", "5:17: number 1e-400 rounds to 0 in float32 (the smallest float32 above 0 is 2**-149, "
                               "about 1.4e-45); write 0 if 0 is meant"),
    ("feature y = x * 7.006492321624085e-46", "5:17: number 7.006492321624085e-46 rounds to 0 in float32 (the smallest float32 above 0 is 2**-149, "
                               "about 1.4e-45); write 0 if 0 is meant"),
    ("feature y = x * 7.1e-46", None),  # past half the smallest subnormal: rounds up to it
    ("feature y = x * 1.4e-45", None),  # the smallest subnormal float32, as printed
    ("feature y = x * 0.000e-999", None),  # 0, written as such
    ("feature y = x * 00.0", None),
    ("feature y = clip(x, lo=0, hi=1e40)", "5:30: number 1e40 is beyond the float32 range "
                                           "(±3.4028235e+38); write inf for infinity"),
    ("feature y = minmax(x, min=0, max=5e38)", "5:34: number 5e38 is beyond the float32 range "
                                               "(±3.4028235e+38); write inf for infinity"),
]


@pytest.mark.parametrize("statement, message", LITERALS)
def test_literals_out_of_range_are_positioned_errors(statement, message):
    if message is None:
        check_source(HEAD + statement)
    else:
        assert message in errors_of(HEAD + statement)


def test_a_byte_order_mark_before_a_spec_is_skipped(tmp_path):
    path = tmp_path / "bom.feat"
    path.write_bytes(b"\xef\xbb\xbf" + (HEAD + "feature y = x * 2\n").encode("utf-8"))
    assert list(check_file(str(path)).features) == ["y"]


@pytest.mark.parametrize("column, message", [
    (f"input q: float32[{BIG}]", "1:18: integer literal of 5000 digits does not fit in int64 "
                                 "(at most 9223372036854775807)"),
    ("input q: int64 = 9223372036854775808", "1:18: default 9223372036854775808 is not an int64"),
    ("input q: float32 = 99999999999999999999", "1:20: default 99999999999999999999 is not a float32"),
    ("input q: float32 = 1e39", "1:20: number 1e39 is beyond the float32 range (±3.4028235e+38); "
                                "write inf for infinity"),
    (f"input q: float32[2] = [1.0, {BIG}]", "1:29: integer literal of 5000 digits does not fit "
                                            "in int64 (at most 9223372036854775807)"),
])
def test_column_literals_out_of_range_are_positioned_errors(column, message):
    assert message in errors_of(f"{column}\nfeature y = q\n")


# ---- sizes -------------------------------------------------------------------------------------

E = 2**20  # the per-example element limit
SIZES = [
    # (a feature expression, the largest accepted value, the message at one more)
    ("pad(v, length={})", E, "pad: length must be at most 1048576, got {}"),
    ("one_hot(n, {})", E, "one_hot: depth must be at most 1048576, got {}"),
    ("multi_hot(v, {})", E, "multi_hot: depth must be at most 1048576, got {}"),
    ("bucketize(x, quantiles={})", 2**15, "bucketize: quantiles must be at most 32768, got {}"),
    ("vocab(s, oov_buckets={})", 2**62, "vocab: oov_buckets must be at most 4611686018427387904, got {}"),
    ("lookup(s, [\"a\"], oov_buckets={})", 2**62,
     "lookup: oov_buckets must be at most 4611686018427387904, got {}"),
    ("cast(count(ngrams(split(s), {})), float32)", 2**31 - 1,
     "ngrams: n must be at most 2147483647, got {}"),
    ("hash(s, {})", 2**63 - 1, "integer {} does not fit in int64"),
    ("cross(s, n, buckets={})", 2**63 - 1, "integer {} does not fit in int64"),
    ("vocab(s, top_k={}, vocabulary=[\"a\"])", 2**63 - 1, "integer {} does not fit in int64"),
    ("substr(s, {}, 2)", 2**63 - 1, "integer {} does not fit in int64"),
]


@pytest.mark.parametrize("expression, limit, message", SIZES)
def test_sizes_up_to_the_limit_are_accepted_and_past_it_rejected(expression, limit, message):
    check_source(HEAD + "feature y = " + expression.format(limit))
    errors = errors_of(HEAD + "feature y = " + expression.format(limit + 1))
    column = 13 + expression.index("{}")
    assert errors == [f"5:{column}: " + message.format(limit + 1)]


@pytest.mark.parametrize("expression, wrapped", [("one_hot(n, {})", 2**32 + 3), ("pad(v, length={})", 2**32 + 1)])
def test_sizes_that_wrap_in_32_bits_are_rejected(expression, wrapped):
    assert "must be at most 1048576" in errors_of(HEAD + "feature y = " + expression.format(wrapped))[0]


@pytest.mark.parametrize("spec, message", [
    ("input q: float32[1000000000]\nfeature y = q",
     "1:10: a fixed shape holds at most 1048576 values (2**20) in at most 32 dimensions, got 1 "
     "dimensions of 1000000000 values"),
    ("input q: float32[1024, 1025]\nfeature y = q",
     "1:10: a fixed shape holds at most 1048576 values (2**20) in at most 32 dimensions, got 2 "
     "dimensions of 1049600 values"),
    ("input q: float32[" + ", ".join(["1"] * 33) + "]\nfeature y = q",
     "1:10: a fixed shape holds at most 1048576 values (2**20) in at most 32 dimensions, got 33 "
     "dimensions of 1 values"),
    ("input q: sparse float32[4611686018427387905] from (i, j)\nfeature y = q",
     "1:10: a sparse vector's size must be from 1 to 4611686018427387904 (2**62), got "
     "4611686018427387905"),
    ("input q: sparse float32[1000000000000] from (i, j)\nfeature y = dense(q)",
     "2:13: dense gives float32[1000000000000] per example: more than the limit of 1048576 "
     "values in at most 32 dimensions"),
    ("input q: int64[1024]\nfeature y = one_hot(q, 1025)",
     "2:13: one_hot gives float32[1024, 1025] per example: more than the limit of 1048576 "
     "values in at most 32 dimensions"),
    ("input q: string[1024]\ninput r: string[1025]\nfeature y = cross(q, r, buckets=10)",
     "3:13: cross gives int64[1049600] per example: more than the limit of 1048576 values in "
     "at most 32 dimensions"),
])
def test_shapes_past_the_limits_are_positioned_errors(spec, message):
    assert errors_of(spec) == [message]


def test_shapes_at_the_limits_are_accepted():
    check_source("input q: float32[1024, 1024]\ninput r: int64[1024]\n"
                 "input p: sparse float32[4611686018427387904] from (i, j)\n"
                 "input w: float32[" + ", ".join(["1"] * 32) + "]\n"
                 "feature a = q\nfeature b = one_hot(r, 1024)\nfeature c = p\nfeature d = w\n")


# ---- long string literals: memory and time in proportion to their length ------------------------

def test_a_string_literal_of_megabytes_is_parsed_in_memory_in_proportion_to_it():
    """The lexer's string pattern keeps no matching state per character (it did: about 350
    bytes a character, 1.7 GB for a 5 MB literal), nor do the bracket count and unescaping."""
    import tracemalloc

    from skewless.syntax import parse

    size = 4 * 2**20
    # bytes traced per byte of literal, at most: a few copies of the text; and with an escape
    # every 6 characters, the pieces between escapes as well (some 46 per byte)
    for body, bound in (("a" * size, 8), ("(\\\"# " * (size // 6), 64)):
        text = f'input s: string\nfeature f = s == "{body}"\n'
        tracemalloc.start()
        try:
            spec = parse(text, "big.feat")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert spec.definitions[0].expr.right.value == body.replace('\\"', '"')
        assert peak < bound * size, f"{peak / 2**20:.0f} MB traced for a {size // 2**20} MB literal"
