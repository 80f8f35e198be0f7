"""Text functions: expected tokens come from Python's ``str.split``, ``re`` with the Keras
punctuation set, or are written by hand."""
import re
import string

import pytest
import tensorflow as tf
from hypothesis import given, settings, strategies as st

import skewless.ops as ops
from skewless import types as t
from skewless.ops.registry import ArgError, Args, all_ops

REG = all_ops()
VAR = t.Type("string", t.VARIABLE)


def decoded(ragged: tf.RaggedTensor):
    assert isinstance(ragged, tf.RaggedTensor)
    assert ragged.shape.rank == 2 and ragged.row_splits.dtype == tf.int64
    return [[token.decode("utf-8") for token in row] for row in ragged.to_list()]


def type_of(name, x, **consts):
    return REG[name].infer(Args(op=name, types={"x": x}, consts=consts))


def rejection(name, x, **consts) -> str:
    with pytest.raises(ArgError) as info:
        type_of(name, x, **consts)
    return str(info.value)


# ---- split --------------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet="ab ,-", max_size=10), min_size=1, max_size=4),
       st.sampled_from([" ", ",", "--", "ab"]))
def test_split_is_python_str_split(lines, sep):
    assert decoded(ops.split(tf.constant(lines), sep=sep)) == [line.split(sep) for line in lines]


def test_split_keeps_empty_pieces():
    result = ops.split(tf.constant(["a,,b", "", "x"]), sep=",")
    assert decoded(result) == [["a", "", "b"], [""], ["x"]]


def test_split_of_variable_and_fixed_values_concatenates_per_example():
    ragged = tf.ragged.constant([["a b", "c"], [], ["d e f"]])
    assert decoded(ops.split(ragged)) == [["a", "b", "c"], [], ["d", "e", "f"]]
    fixed = tf.constant([["a-b", "c"], ["", "d-e"]])
    assert decoded(ops.split(fixed, sep="-")) == [["a", "b", "c"], ["", "d", "e"]]


WORDS = st.text(alphabet="aB ,-", max_size=7)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(WORDS, max_size=3), min_size=1, max_size=5), st.sampled_from([",", "-"]))
def test_split_and_tokenize_of_variable_values_concatenate_each_examples_pieces(rows, sep):
    """Rows with no values, values with no tokens, empty strings, in any position."""
    x = tf.ragged.constant(rows, tf.string, row_splits_dtype=tf.int64, ragged_rank=1)
    assert decoded(ops.split(x, sep=sep)) == [
        [piece for value in row for piece in value.split(sep)] for row in rows]
    assert decoded(ops.tokenize(x)) == [
        [word for value in row for word in re.sub(r"[,-]", "", value.lower()).split()]
        for row in rows]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3).flatmap(lambda width: st.lists(
    st.lists(WORDS, min_size=width, max_size=width), min_size=1, max_size=4)))
def test_split_and_tokenize_of_fixed_values_concatenate_each_examples_pieces(rows):
    x = tf.constant(rows, tf.string)
    assert decoded(ops.split(x, sep=",")) == [
        [piece for value in row for piece in value.split(",")] for row in rows]
    assert decoded(ops.tokenize(x)) == [
        [word for value in row for word in re.sub(r"[,-]", "", value.lower()).split()]
        for row in rows]


def test_split_type_rule():
    scalar = t.Type("string", t.SCALAR)
    assert type_of("split", scalar, sep=" ") == VAR
    assert type_of("split", VAR, sep=",") == VAR
    assert type_of("split", t.Type("string", t.fixed(2)), sep=",") == VAR
    assert rejection("split", scalar, sep="") == (
        "split: sep must not be empty (tokenize(x) splits on whitespace)")
    assert rejection("split", t.Type("int64", t.SCALAR), sep=" ") == (
        "split expects a string, got int64")
    assert rejection("split", t.Type("string", t.CONST), sep=" ") == (
        "split expects a per-example string (scalar, fixed-shape or variable-length), "
        "got a constant")


# ---- tokenize -------------------------------------------------------------------------------

# Keras's "lower_and_strip_punctuation" removes exactly the ASCII punctuation characters.
PUNCTUATION = re.compile("[" + re.escape(string.punctuation) + "]")


def test_tokenize_examples():
    lines = ["Hello, World!  Don't  e-mail ÉCOLE", "  ", "", "a\tb\nc", "(x)...[y]"]
    assert decoded(ops.tokenize(tf.constant(lines))) == [
        ["hello", "world", "dont", "email", "école"], [], [], ["a", "b", "c"], ["xy"]]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet=string.ascii_letters + string.punctuation + " \t\nÉé",
                        max_size=15), min_size=1, max_size=4))
def test_tokenize_matches_keras_standardization(lines):
    expected = [PUNCTUATION.sub("", line.lower()).split() for line in lines]
    assert decoded(ops.tokenize(tf.constant(lines))) == expected


def test_tokenize_agrees_with_keras_text_vectorization():
    keras = pytest.importorskip("keras")
    lines = ["The quick, brown fox!", "It's 5 o'clock; isn't it?", "[a] {b} <c> ~d~ x_y\tz"]
    layer = keras.layers.TextVectorization(standardize="lower_and_strip_punctuation",
                                           split="whitespace", output_mode="int", ragged=True)
    layer.adapt(tf.constant(lines))
    vocabulary = layer.get_vocabulary()
    expected = [[str(vocabulary[i]) for i in row] for row in layer(tf.constant(lines)).numpy()]
    assert decoded(ops.tokenize(tf.constant(lines))) == expected
    # Keras lowercases ASCII only; tokenize lowercases every letter.
    assert decoded(ops.tokenize(tf.constant(["ÉCOLE"]))) == [["école"]]


def test_tokenize_keeps_what_follows_a_nul_byte():
    assert ops.tokenize(tf.constant([b"Hello\x00World foo", b"\x00A"])).to_list() == [
        [b"hello\x00world", b"foo"], [b"\x00a"]]


def test_tokenize_variable_input_and_invalid_bytes():
    ragged = tf.ragged.constant([["A b.", "C"], []])
    assert decoded(ops.tokenize(ragged)) == [["a", "b", "c"], []]
    result = ops.tokenize(tf.constant([b"AB\xff x"]))
    assert result.to_list() == [["ab\ufffd".encode(), b"x"]]


def test_tokenize_type_rule():
    assert type_of("tokenize", t.Type("string", t.SCALAR)) == VAR
    assert rejection("tokenize", t.Type("float32", t.SCALAR)) == (
        "tokenize expects a string, got float32")


# ---- ngrams -----------------------------------------------------------------------------------


def python_ngrams(row, n, sep):
    return [sep.join(row[i:i + n]) for i in range(len(row) - n + 1)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "cd", ""]), max_size=5), min_size=1,
                max_size=4), st.integers(1, 4), st.sampled_from([" ", "_", ""]))
def test_ngrams_match_python(rows, n, sep):
    ragged = tf.ragged.constant(rows, dtype=tf.string, row_splits_dtype=tf.int64)
    assert decoded(ops.ngrams(ragged, n=n, sep=sep)) == [python_ngrams(r, n, sep) for r in rows]


def test_ngrams_examples():
    ragged = tf.ragged.constant([["a", "b", "c"], [], ["d"]])
    assert decoded(ops.ngrams(ragged, n=2)) == [["a b", "b c"], [], []]
    assert decoded(ops.ngrams(ragged, n=1, sep="+")) == [["a", "b", "c"], [], ["d"]]
    assert decoded(ops.ngrams(ragged, n=4)) == [[], [], []]


def test_ngrams_type_rule():
    assert type_of("ngrams", VAR, n=2, sep=" ") == VAR
    assert rejection("ngrams", VAR, n=0, sep=" ") == "ngrams: n must be at least 1, got 0"
    assert rejection("ngrams", t.Type("string", t.SCALAR), n=2, sep=" ") == (
        "ngrams expects a variable-length string value such as tokenize(x), got a scalar")
    assert rejection("ngrams", t.Type("int64", t.VARIABLE), n=2, sep=" ") == (
        "ngrams expects a string, got int64")


# ---- graph mode -----------------------------------------------------------------------------


def test_text_functions_in_graph_mode():
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def pipeline(x):
        words = ops.tokenize(x)
        return ops.split(x, sep=","), words, ops.ngrams(words, n=2, sep="_")

    pieces, words, pairs = pipeline(tf.constant(["A,b c", "", "One, two, three"]))
    assert decoded(pieces) == [["A", "b c"], [""], ["One", " two", " three"]]
    assert decoded(words) == [["ab", "c"], [], ["one", "two", "three"]]
    assert decoded(pairs) == [["ab_c"], [], ["one_two", "two_three"]]
    assert all(r.nrows().numpy() == 0 for r in pipeline(tf.constant([], tf.string)))
