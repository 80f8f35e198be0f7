"""Categorical functions: expected ids are written by hand, counted with collections.Counter,
or computed by the TensorFlow/Keras reference each function promises to match
(StaticVocabularyTable's hash, keras.layers.Hashing, keras.layers.HashedCrossing,
tf.sparse.cross_hashed)."""
import itertools
from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, strategies as st

import skewless.ops as ops
from skewless import types as t
from skewless.ops.categorical import VocabAccumulator, vocab_table
from skewless.ops.registry import ArgError, Args, all_ops

REG = all_ops()
STR = t.Type("string", t.SCALAR)
I64 = t.Type("int64", t.SCALAR)


def infer(name, x=STR, rest=(), **consts):
    defaults = {p.name: p.default for p in REG[name].const_params if not p.required}
    return REG[name].infer(Args(op=name, types={} if rest else {"x": x}, rest=list(rest),
                                consts={**defaults, **consts}, sources={"x": "carrier"}))


def error_of(name, x=STR, rest=(), **consts) -> str:
    with pytest.raises(ArgError) as info:
        infer(name, x, rest, **consts)
    return str(info.value)


def ragged(rows, dtype=None):
    return tf.ragged.constant(rows, dtype, row_splits_dtype=tf.int64)


def fast_hash(tokens, buckets):
    return tf.strings.to_hash_bucket_fast(tokens, buckets).numpy().tolist()


# ---- the vocabulary analyzer -------------------------------------------------------------


def vocabulary_of(batches, **consts):
    acc = VocabAccumulator(consts)
    for batch in batches:
        acc.add(batch if isinstance(batch, np.ndarray) else np.array(batch, dtype=object))
    return acc.result()["vocabulary"]


def test_vocabulary_orders_by_frequency_then_bytes():
    batches = [[b"b", b"c", b"a"], [b"c", b"B", b"b", b"c", b"\xc3\xa9"]]
    assert vocabulary_of(batches) == ["c", "b", "B", "a", "é"]
    assert vocabulary_of(batches, top_k=2) == ["c", "b"]
    assert vocabulary_of(batches, min_freq=2) == ["c", "b"]
    assert vocabulary_of(batches, min_freq=5) == []


def test_int_vocabulary_ties_by_value():
    assert vocabulary_of([np.array([10, -3, 7, 10], np.int64)]) == [10, -3, 7]


@given(st.lists(st.sampled_from([b"x", b"y", b"zz", b"\xff", b""]), min_size=1, max_size=40),
       st.data())
def test_vocabulary_matches_counter_whatever_the_batching(tokens, data):
    cut = data.draw(st.integers(0, len(tokens)))
    counts = Counter(tokens)
    expected = sorted(counts, key=lambda token: (-counts[token], token))
    result = vocabulary_of([tokens[:cut], tokens[cut:]])
    assert [token.encode("utf-8", "surrogateescape") for token in result] == expected
    merged = VocabAccumulator({})
    for part in (tokens[cut:], tokens[:cut]):
        other = VocabAccumulator({})
        other.add(np.array(part, dtype=object))
        merged.merge(other)
    assert merged.result()["vocabulary"] == result


@given(st.lists(st.sampled_from([b"x", b"y", b"zz", b"\xff", b""]), max_size=40),
       st.lists(st.integers(-3, 3), max_size=40), st.data())
def test_a_batch_summary_counts_as_its_tokens(words, ints, data):
    # the engines feed vocab the distinct tokens of each batch and their counts
    summary = REG["vocab"].analyzer.batch_summary
    for tokens, dtype in ((words, tf.string), (ints, tf.int64)):
        cut = data.draw(st.integers(0, len(tokens)))
        summarized, direct = VocabAccumulator({}), VocabAccumulator({})
        for part in (tokens[:cut], tokens[cut:]):
            summarized.add_summary(*(array.numpy() for array in summary(tf.constant(part, dtype))))
            direct.add(np.array(part, dtype=object if dtype == tf.string else np.int64))
        assert summarized.counts == Counter(tokens) and summarized.count == len(tokens)
        if tokens:
            assert summarized.result() == direct.result()


def test_vocabulary_of_nothing_raises():
    with pytest.raises(ValueError, match="vocab: the data has no values to compute a vocabulary"):
        VocabAccumulator({}).result()


def test_bytes_that_are_not_utf8_survive_the_vocabulary():
    vocabulary = vocabulary_of([[b"\xff\xfe", b"ok", b"\xff\xfe"]])
    assert vocabulary == ["\udcff\udcfe", "ok"]
    table = vocab_table(vocabulary, 1, -1)
    assert ops.vocab(tf.constant([b"\xff\xfe", b"ok"]), table=table).numpy().tolist() == [0, 1]


# ---- vocab and lookup --------------------------------------------------------------------


def test_vocab_ids_and_oov_buckets_match_static_vocabulary_table():
    table = vocab_table(["b", "a"], 3, -1)
    x = ragged([["a", "b", "zz"], [], ["q"]])
    expected_oov = [2 + h for h in fast_hash(["zz", "q"], 3)]
    assert ops.vocab(x, table=table).to_list() == [[1, 0, expected_oov[0]], [], [expected_oov[1]]]


def test_int64_vocab_hashes_unknown_values_through_their_decimal_string():
    table = vocab_table([5, 7], 4, -1)
    result = ops.vocab(tf.constant([[7, 5], [100, -3]], tf.int64), table=table)
    assert result.numpy().tolist() == [[1, 0], [2 + h for h in fast_hash(["100", "-3"], 4)]]


def test_lookup_default_without_oov_buckets():
    table = vocab_table(["x", "y"], 0, -1)
    assert ops.lookup(tf.constant(["y", "z", "x"]), table=table).numpy().tolist() == [1, -1, 0]
    table = vocab_table([3], 0, 99)
    assert ops.lookup(tf.constant([3, 4], tf.int64), table=table).numpy().tolist() == [0, 99]


def test_empty_vocabulary():
    assert ops.vocab(tf.constant(["a", "b"]), table=vocab_table([], 5, -1)).numpy().tolist() == (
        fast_hash(["a", "b"], 5))
    assert ops.vocab(tf.constant([12], tf.int64), table=vocab_table([], 5, -1)).numpy().tolist() == (
        fast_hash(["12"], 5))
    assert ops.lookup(ragged([["a"], []]), table=vocab_table([], 0, -4)).to_list() == [[-4], []]


TOKENS = st.text(max_size=3) | st.sampled_from(["", "\n", "a\\b", "\\e", "\r"])


@given(st.lists(TOKENS, unique=True, min_size=1, max_size=8), st.lists(TOKENS, max_size=12),
       st.integers(0, 3), st.integers(-5, 5), st.booleans())
def test_tables_give_static_vocabulary_table_ids(vocabulary, tokens, oov_buckets, default,
                                                 from_file):
    """Whatever form the table takes (in memory or a file, escaped or not; with 0 or 1
    buckets a plain hash table whose default is the unknown tokens' id), every token gets
    the id tf.lookup.StaticVocabularyTable gives it (``default`` without buckets)."""
    import tempfile

    from skewless.ops.categorical import (vocab_table_from_file, vocabulary_file_bytes,
                                          vocabulary_needs_escape)

    keys = tf.constant([token.encode("utf-8") for token in vocabulary])
    initializer = tf.lookup.KeyValueTensorInitializer(keys, tf.range(len(vocabulary),
                                                                      dtype=tf.int64))
    reference = (tf.lookup.StaticVocabularyTable(initializer, oov_buckets) if oov_buckets else
                 tf.lookup.StaticHashTable(initializer, tf.constant(default, tf.int64)))
    queries = tf.constant([token.encode("utf-8") for token in tokens + vocabulary], tf.string)
    if from_file:
        escaped = vocabulary_needs_escape(vocabulary)
        with tempfile.NamedTemporaryFile(suffix=".vocab", delete=False) as handle:
            handle.write(vocabulary_file_bytes(vocabulary, escaped))
        table = vocab_table_from_file(handle.name, "string", oov_buckets, default, escaped)
    else:
        table = vocab_table(vocabulary, oov_buckets, default)
    assert ops.vocab(queries, table=table).numpy().tolist() == (
        reference.lookup(queries).numpy().tolist())


@pytest.mark.parametrize("oov_buckets, hashes", [(0, 0), (1, 0), (2, 1)])
def test_a_lookup_hashes_only_with_two_buckets_or_more(oov_buckets, hashes):
    table = vocab_table(["a", "b"], oov_buckets, -1)
    fn = tf.function(lambda x: ops.vocab(x, table=table),
                     input_signature=[tf.TensorSpec([None], tf.string)])
    types = [op.type for op in fn.get_concrete_function().graph.get_operations()]
    assert types.count("LookupTableFindV2") == 1
    assert types.count("StringToHashBucketFast") == hashes


def test_vocab_in_graph_mode():
    table = vocab_table(["a", "b"], 1, -1)
    fn = tf.function(lambda x: ops.vocab(x, table=table),
                     input_signature=[tf.TensorSpec([None], tf.string)])
    assert fn(tf.constant(["b", "a", "c"])).numpy().tolist() == [1, 0, 2]


def test_vocab_and_lookup_type_rules():
    assert REG["vocab"].analyzer.constants == ("vocabulary",)
    assert REG["vocab"].table is vocab_table is REG["lookup"].table
    assert infer("vocab") == I64
    assert infer("vocab", t.Type("int64", t.VARIABLE), top_k=5) == t.Type("int64", t.VARIABLE)
    assert infer("lookup", t.Type("string", t.fixed(2)), vocabulary=["a"]) == t.Type("int64", t.fixed(2))
    assert error_of("vocab", t.Type("float32", t.SCALAR)) == (
        "vocab expects a string or an int64, got float32 (carrier)")
    assert error_of("vocab", top_k=0) == "vocab: top_k must be at least 1, got 0"
    assert error_of("vocab", oov_buckets=-1) == "vocab: oov_buckets must be at least 0, got -1"
    assert error_of("vocab", vocabulary=[1]) == (
        "vocab: vocabulary item 1 does not match string (carrier)")
    assert error_of("lookup", vocabulary=["a", "b", "a"]) == "lookup: vocabulary has 'a' twice"
    assert error_of("lookup", I64, vocabulary=["1"]) == (
        "lookup: vocabulary item '1' does not match int64 (carrier)")
    assert error_of("lookup", I64, vocabulary=[2**63]) == (
        "lookup: vocabulary item 9223372036854775808 does not match int64 (carrier)")
    assert error_of("lookup", vocabulary="a") == "lookup: vocabulary must be a list, got 'a'"
    assert error_of("lookup", vocabulary=[], default=0.5) == (
        "lookup: default must be an integer, got 0.5")


# ---- hash --------------------------------------------------------------------------------


@pytest.mark.parametrize("salt", [None, 7, [133, 137]])
def test_hash_matches_keras_hashing(salt):
    strings = tf.constant(["", "a", "carrier", "é"])
    ints = tf.constant([0, -1, 123456789012, 7], tf.int64)
    floats = tf.constant([1.9, -1.9, 0.1, 3e9], tf.float32)
    layer = keras.layers.Hashing(num_bins=97, salt=salt)
    for x in (strings, ints, floats):
        np.testing.assert_array_equal(ops.hash_(x, buckets=97, salt=salt), layer(x))


def test_hash_of_numbers_goes_through_their_decimal_string():
    assert ops.hash_(tf.constant([7, -2], tf.int64), buckets=50).numpy().tolist() == (
        fast_hash(["7", "-2"], 50))
    weird = tf.constant([np.nan, np.inf, -np.inf, 1e20], tf.float32)
    assert ops.hash_(weird, buckets=50).numpy().tolist() == fast_hash(["-9223372036854775808"] * 4, 50)


def test_hash_forms_and_graph_mode():
    x = ragged([["a", "b"], []])
    assert ops.hash_(x, buckets=10).to_list() == [fast_hash(["a", "b"], 10), []]
    fn = tf.function(lambda x: ops.hash_(x, buckets=10, salt=3),
                     input_signature=[tf.TensorSpec([None], tf.int64)])
    expected = tf.strings.to_hash_bucket_strong(["5"], 10, key=[3, 3]).numpy().tolist()
    assert fn(tf.constant([5], tf.int64)).numpy().tolist() == expected


def test_hash_type_rule():
    assert infer("hash", t.Type("float32", t.VARIABLE), buckets=3) == t.Type("int64", t.VARIABLE)
    assert error_of("hash", t.Type("bool", t.SCALAR), buckets=3) == (
        "hash expects a string or a number, got bool (carrier)")
    assert error_of("hash", buckets=0) == "hash: buckets must be at least 1, got 0"
    assert error_of("hash", buckets=2, salt=[1]) == (
        "hash: salt must be an integer in [0, 2**63) or a list of two, got [1]")
    assert error_of("hash", buckets=2, salt=-1).startswith("hash: salt must be an integer")
    assert error_of("hash", buckets=2, salt="s").startswith("hash: salt must be an integer")


# ---- cross -------------------------------------------------------------------------------


def test_cross_of_scalars_matches_keras_hashed_crossing():
    a = tf.constant(["A", "B", "A", "B", "A"])
    b = tf.constant([101, 101, 101, 102, 102], tf.int64)
    expected = keras.layers.HashedCrossing(num_bins=5)((a, b))
    result = ops.cross(a, b, buckets=5)
    assert result.shape == [5]
    np.testing.assert_array_equal(result, expected)


def one_cross(token, number, buckets):
    """The cross_hashed id of one (string, int64) combination, crossed on its own."""
    inputs = [tf.constant([[token]]), tf.constant([[number]], tf.int64)]
    return int(tf.sparse.cross_hashed(inputs, buckets).values[0])


def test_cross_of_variable_length_values_gives_every_combination():
    tags = ragged([["x", "y"], [], ["z"]])
    ids = tf.constant([[1, 2], [3, 4], [5, 6]], tf.int64)
    result = ops.cross(tags, ids, buckets=1000)
    assert isinstance(result, tf.RaggedTensor)
    expected = [[one_cross(tag, i, 1000)
                 for tag, i in itertools.product(tag_row, id_row)]
                for tag_row, id_row in zip([["x", "y"], [], ["z"]], [[1, 2], [3, 4], [5, 6]])]
    assert result.to_list() == expected
    trailing = ops.cross(ragged([["x"], []]), tf.constant([7, 8], tf.int64), buckets=1000)
    assert trailing.to_list() == [[one_cross("x", 7, 1000)], []]


def test_cross_of_fixed_and_scalar_values_is_fixed_shape():
    result = ops.cross(tf.constant(["A", "B"]), tf.constant([[1, 2], [3, 4]], tf.int64), buckets=100)
    assert result.shape == [2, 2]
    expected = [[one_cross("A", i, 100) for i in (1, 2)],
                [one_cross("B", i, 100) for i in (3, 4)]]
    assert result.numpy().tolist() == expected


def test_cross_of_two_fixed_values_varies_the_first_slowest():
    tokens = tf.constant([["A", "B"], ["C", "D"], ["E", "F"]])
    numbers = tf.constant([[1, 2, 3], [4, 5, 6], [7, 8, 9]], tf.int64)
    result = ops.cross(tokens, numbers, buckets=1000)
    assert result.shape == [3, 6]
    expected = [[one_cross(token, number, 1000) for token in row_tokens for number in row_numbers]
                for row_tokens, row_numbers in zip(tokens.numpy().astype(str).tolist(),
                                                   numbers.numpy().tolist())]
    assert result.numpy().tolist() == expected


def test_cross_in_graph_mode():
    fn = tf.function(lambda a, b: ops.cross(a, b, buckets=5),
                     input_signature=[tf.TensorSpec([None], tf.string),
                                      tf.TensorSpec([None], tf.int64)])
    a, b = tf.constant(["A", "B"]), tf.constant([101, 102], tf.int64)
    np.testing.assert_array_equal(fn(a, b), keras.layers.HashedCrossing(num_bins=5)((a, b)))


def test_cross_type_rule():
    var = t.Type("string", t.VARIABLE)
    assert infer("cross", rest=[STR, I64], buckets=8) == I64
    assert infer("cross", rest=[STR, var, I64], buckets=8) == t.Type("int64", t.VARIABLE)
    assert infer("cross", rest=[t.Type("int64", t.fixed(2, 3)), STR, t.Type("string", t.fixed(4))],
                 buckets=8) == t.Type("int64", t.fixed(24))
    assert error_of("cross", rest=[STR], buckets=8) == "cross expects at least 2 values, got 1"
    assert error_of("cross", rest=[STR, t.Type("float32", t.SCALAR)], buckets=8) == (
        "cross expects strings or int64 values, got float32 (argument 2)")
    assert error_of("cross", rest=[STR, t.Type("int64", t.Shape("sparse", (9,)))], buckets=8) == (
        "cross expects scalars, fixed-shape or variable-length values, got a sparse vector "
        "sparse[9] (argument 2)")
    assert error_of("cross", rest=[STR, STR], buckets=0) == "cross: buckets must be at least 1, got 0"


# ---- one_hot and multi_hot ---------------------------------------------------------------


def test_one_hot():
    result = ops.one_hot(tf.constant([0, 2, 3, -1], tf.int64), 3)
    assert result.dtype == tf.float32
    assert result.numpy().tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]
    fixed = ops.one_hot(tf.constant([[1, 0]], tf.int64), 2)
    assert fixed.numpy().tolist() == [[[0, 1], [1, 0]]]
    fn = tf.function(lambda x: ops.one_hot(x, 2), input_signature=[tf.TensorSpec([None], tf.int64)])
    assert fn(tf.constant([1], tf.int64)).numpy().tolist() == [[0, 1]]


def test_one_hot_type_rule():
    assert infer("one_hot", I64, depth=4) == t.Type("float32", t.fixed(4))
    assert infer("one_hot", t.Type("int64", t.fixed(3)), depth=4) == t.Type("float32", t.fixed(3, 4))
    assert error_of("one_hot", t.Type("int64", t.VARIABLE), depth=4) == (
        "one_hot expects a scalar or fixed-shape index, got a variable-length value: use "
        "multi_hot to encode variable-length values")
    assert error_of("one_hot", STR, depth=4) == "one_hot expects an int64 index, got string (carrier)"
    assert error_of("one_hot", I64, depth=0) == "one_hot: depth must be at least 1, got 0"


def test_multi_hot():
    x = ragged([[0, 2, 2, 9, -1], [], [1]], tf.int64)
    assert ops.multi_hot(x, 3).numpy().tolist() == [[1, 0, 1], [0, 0, 0], [0, 1, 0]]
    assert ops.multi_hot(tf.constant([[1, 1], [0, 5]], tf.int64), 2).numpy().tolist() == (
        [[0, 1], [1, 0]])
    assert ops.multi_hot(tf.constant([1, 7], tf.int64), 2).numpy().tolist() == [[0, 1], [0, 0]]
    fn = tf.function(lambda x: ops.multi_hot(x, 3),
                     input_signature=[tf.RaggedTensorSpec([None, None], tf.int64,
                                                          row_splits_dtype=tf.int64)])
    assert fn(x).numpy().tolist() == [[1, 0, 1], [0, 0, 0], [0, 1, 0]]


def test_multi_hot_type_rule():
    assert infer("multi_hot", t.Type("int64", t.VARIABLE), depth=5) == t.Type("float32", t.fixed(5))
    assert error_of("multi_hot", t.Type("int64", t.Shape("sparse", (3,))), depth=5) == (
        "multi_hot expects a scalar, fixed-shape or variable-length value, got a sparse vector "
        "sparse[3]")
