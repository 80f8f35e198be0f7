"""Categorical: vocabularies (``vocab`` from data, ``lookup`` given), hashing (``hash``,
``cross``) and encodings (``one_hot``, ``multi_hot``).

Vocabulary constants are lists of str (string tokens: their UTF-8 bytes decoded with
errors="surrogateescape", which gives back the exact bytes of tokens that are not valid
UTF-8) or of int (int64 tokens)."""
from __future__ import annotations

import functools
import inspect
import math
from collections import Counter

from ..lazy import tf

from .. import types as t
from .common import elementwise, need, need_int_const, need_shape
from .registry import Analyzer, ArgError, Param, op
from .scaling import Accumulator
from .varlen import cells_of, per_example

X = Param("x")
INT64_MIN = -(2**63)
CATEGORIES = ("string", "int64")
# Unknown tokens get ids V + hash % oov_buckets: this keeps them inside int64.
MAX_OOV_BUCKETS = 2**62


# ---- vocabularies --------------------------------------------------------------------------


def _token_key(token):
    return token.encode("utf-8", "surrogateescape") if isinstance(token, str) else token


def order_vocabulary(counts: dict, top_k=None, min_freq=None) -> list:
    """Tokens by descending count, ties by ascending bytes (ints: value); ``min_freq`` drops
    the rarer ones, ``top_k`` keeps the first k."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], _token_key(item[0])))
    return [token for token, n in ranked if min_freq is None or n >= min_freq][:top_k]


def distinct_tokens(values) -> tuple:
    """The batch summary of ``vocab``: the distinct tokens of a 1-D tensor, and how many
    times each occurs (int64), so only those reach the accumulator."""
    tokens, _, counts = tf.unique_with_counts(values, out_idx=tf.int64)
    return tokens, counts


class VocabAccumulator(Accumulator):
    """Counts every distinct token exactly (memory grows with the number of distinct
    tokens), so the vocabulary does not depend on the order or batching of the data."""

    op, what = "vocab", "a vocabulary"

    def __init__(self, consts: dict):
        super().__init__()
        self.top_k, self.min_freq = consts.get("top_k"), consts.get("min_freq")
        self.counts: Counter = Counter()

    def _add(self, values):
        self.counts.update(values.tolist())  # hashing: faster than sorting object arrays

    def add_summary(self, tokens, counts):
        """A batch as :func:`distinct_tokens` summarizes it: its distinct tokens and how
        many times each occurs."""
        self.count += int(counts.sum())
        self.counts.update(dict(zip(tokens.tolist(), counts.tolist())))

    def _merge(self, other):
        self.counts.update(other.counts)

    def _result(self):
        counts = {(token.decode("utf-8", "surrogateescape") if isinstance(token, bytes)
                   else token): n for token, n in self.counts.items()}
        return {"vocabulary": order_vocabulary(counts, self.top_k, self.min_freq)}


class _NoVocabulary:
    """The table of an empty vocabulary: every token is out of vocabulary. Its ids are those
    of tf.lookup.StaticVocabularyTable (which cannot hold an empty vocabulary)."""

    def __init__(self, oov_buckets: int, default: int):
        self.oov_buckets, self.default = oov_buckets, default

    def lookup(self, keys):
        if not self.oov_buckets:
            return tf.fill(tf.shape(keys), tf.constant(self.default, tf.int64))
        strings = keys if keys.dtype == tf.string else tf.strings.as_string(keys)
        return tf.strings.to_hash_bucket_fast(strings, self.oov_buckets)


def vocab_table(vocabulary, oov_buckets, default, top_k=None, min_freq=None):
    """The lookup table of ``vocab`` and ``lookup``: token i of ``vocabulary`` has id i;
    other tokens get ``V + hash % oov_buckets`` (as tf.lookup.StaticVocabularyTable gives
    them), or ``default`` when oov_buckets is 0."""
    if not vocabulary:
        return _NoVocabulary(oov_buckets, default)
    strings = isinstance(vocabulary[0], str)
    keys = tf.constant([_token_key(token) for token in vocabulary],
                       tf.string if strings else tf.int64)
    ids = tf.range(len(vocabulary), dtype=tf.int64)
    return _table_from(tf.lookup.KeyValueTensorInitializer(keys, ids), oov_buckets, default,
                       len(vocabulary))


# ---- vocabulary files ----------------------------------------------------------------------
#
# Large vocabularies are written beside a generated module as text files, one token per
# line, and loaded with tf.lookup.TextFileInitializer, which also carries them into exported
# SavedModels as assets. A line cannot hold a line break and may not be empty, so when a
# vocabulary has such a token, every token is escaped (\\ \n \r, and \e for the empty
# string) and the table escapes its input the same way before the lookup.

def vocabulary_needs_escape(vocabulary) -> bool:
    return any(isinstance(token, str) and (token == "" or "\n" in token or "\r" in token)
               for token in vocabulary)


def _escape_token(token: str) -> str:
    if token == "":
        return "\\e"
    return token.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def _escape_tensor(keys):
    keys = tf.strings.regex_replace(keys, r"\\", r"\\\\")
    keys = tf.strings.regex_replace(keys, "\n", r"\\n")
    keys = tf.strings.regex_replace(keys, "\r", r"\\r")
    return tf.where(tf.equal(keys, ""), tf.constant("\\e"), keys)


def vocabulary_file_bytes(vocabulary, escaped: bool) -> bytes:
    """The content of a vocabulary file: one token per line, escaped when ``escaped``."""
    lines = [_escape_token(token) if escaped else token for token in vocabulary]
    return "".join(f"{line}\n" for line in map(str, lines)).encode("utf-8", "surrogateescape")


@functools.cache
def _escaped_lookup_class():
    """The class of a table over escaped tokens (defined on first use: it derives from
    ``tf.Module``, so that exporting tracks the table inside). Tokens are escaped to be
    looked up; with ``oov_buckets`` (more than one), an unknown token's bucket is the hash
    of the token itself, as tf.lookup.StaticVocabularyTable computes it for the same
    vocabulary held in memory, else its id is the table's default."""

    class EscapedLookup(tf.Module):
        def __init__(self, table, oov_buckets):
            super().__init__()
            self.table = table
            self.oov_buckets = oov_buckets

        def lookup(self, keys):
            ids = self.table.lookup(_escape_tensor(keys))
            if not self.oov_buckets:
                return ids
            buckets = tf.strings.to_hash_bucket_fast(keys, self.oov_buckets) + self.table.size()
            return tf.where(tf.not_equal(ids, -1), ids, buckets)

    return EscapedLookup


def vocab_table_from_file(path, key_dtype, oov_buckets, default, escaped=False):
    """The table of a vocabulary written by ``vocabulary_file_bytes``: line i has id i."""
    with open(path, "rb") as handle:
        size = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    initializer = tf.lookup.TextFileInitializer(
        path, t.TF_DTYPES[key_dtype], tf.lookup.TextFileIndex.WHOLE_LINE,
        tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER, vocab_size=size)
    if escaped:
        missing = _unknown_id(oov_buckets, default, size)
        table = tf.lookup.StaticHashTable(
            initializer, default_value=tf.constant(-1 if missing is None else missing, tf.int64))
        return _escaped_lookup_class()(table, oov_buckets if missing is None else 0)
    return _table_from(initializer, oov_buckets, default, size)


def _unknown_id(oov_buckets, default, size):
    """The id of every unknown token when it does not depend on the token: ``default``
    without buckets, ``size`` (V + hash % 1) with one; None with more."""
    return {0: default, 1: size}.get(oov_buckets)


def _table_from(initializer, oov_buckets, default, size):
    """A table of ``size`` tokens. With one bucket or none, a tf.lookup.StaticHashTable
    whose default is the unknown tokens' id: one lookup op, where
    tf.lookup.StaticVocabularyTable also hashes every token and picks (six ops)."""
    missing = _unknown_id(oov_buckets, default, size)
    if missing is None:
        return tf.lookup.StaticVocabularyTable(initializer, oov_buckets)
    return tf.lookup.StaticHashTable(initializer, default_value=tf.constant(missing, tf.int64))


def _need_category(args) -> str:
    return need(args, "x", *CATEGORIES, what="a string or an int64")


def _need_tokens(args, name: str, dtype: str) -> None:
    tokens = args.consts.get(name)
    if not isinstance(tokens, (list, tuple)):
        raise ArgError(f"{args.op}: {name} must be a list, got {tokens!r}", name)
    for token in tokens:
        fits = isinstance(token, str) if dtype == "string" else (
            isinstance(token, int) and not isinstance(token, bool) and INT64_MIN <= token < 2**63)
        if not fits:
            raise ArgError(f"{args.op}: {name} item {token!r} does not match "
                           f"{args.describe('x')}", name)
    seen = set()
    for token in tokens:
        if token in seen:
            raise ArgError(f"{args.op}: {name} has {token!r} twice", name)
        seen.add(token)


def _table_type(args, vocabulary_required: bool) -> t.Type:
    """Shared by vocab and lookup: the vocabulary (when given) and how unknown tokens map."""
    dtype = _need_category(args)
    if vocabulary_required or args.consts.get("vocabulary") is not None:
        _need_tokens(args, "vocabulary", dtype)
    need_int_const(args, "oov_buckets", minimum=0, maximum=MAX_OOV_BUCKETS)
    need_int_const(args, "default")
    return t.Type("int64", args.type("x").shape)


def _vocab_type(args) -> t.Type:
    for name in ("top_k", "min_freq"):
        if args.consts.get(name) is not None:
            need_int_const(args, name, minimum=1)
    return _table_type(args, vocabulary_required=False)


def _lookup_type(args) -> t.Type:
    return _table_type(args, vocabulary_required=True)


def _table_op(name: str, *params, doc: str, **kwargs):
    """Register an op that looks its input up in ``vocab_table``."""

    def apply(x, table):
        return table.lookup(x)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = inspect.cleandoc(doc)
    return op(name, X, *params, table=vocab_table, **kwargs)(elementwise(apply))


def _oov(buckets: int) -> tuple:
    return Param("oov_buckets", const=True, default=buckets), Param("default", const=True, default=-1)


vocab = _table_op(
    "vocab", Param("top_k", const=True, default=None), Param("min_freq", const=True, default=None),
    *_oov(1), Param("vocabulary", const=True, default=None), infer=_vocab_type,
    analyzer=Analyzer(constants=("vocabulary",), accumulator=VocabAccumulator,
                      knobs=("top_k", "min_freq"), batch_summary=distinct_tokens),
    doc="""The id of each token (string or int64) in the vocabulary of the training data, as
    int64. The vocabulary orders tokens by descending frequency, ties by ascending bytes
    (ints: ascending value); ``top_k`` keeps the first k, ``min_freq`` drops tokens seen
    fewer times (both only shape the analysis). Ids are 0..V-1; an unknown token gets
    ``V + hash % oov_buckets`` as tf.lookup.StaticVocabularyTable gives it, or ``default``
    (-1) when ``oov_buckets=0``. An empty vocabulary (V = 0) is allowed.
    ``vocabulary=[..]`` gives the vocabulary instead of computing it.""")

lookup = _table_op(
    "lookup", Param("vocabulary", const=True), *_oov(0), infer=_lookup_type,
    doc="""The id of each token in a vocabulary given as a list of distinct literals:
    ``lookup(x, ["a", "b"])`` gives 0 for "a", 1 for "b", and for an unknown token
    ``default`` (-1), or ``V + hash % oov_buckets`` when ``oov_buckets`` is given (as
    tf.lookup.StaticVocabularyTable). int64.""")


# ---- hash and cross ------------------------------------------------------------------------


def _salt_key(salt) -> list:
    """The key of to_hash_bucket_strong, as Keras Hashing makes it: [salt, salt] or the two."""
    return list(salt) if isinstance(salt, (list, tuple)) else [salt, salt]


def _need_salt(args) -> None:
    salt = args.consts.get("salt")
    if salt is not None and not (len(_salt_key(salt)) == 2 and all(
            isinstance(p, int) and not isinstance(p, bool) and 0 <= p < 2**63
            for p in _salt_key(salt))):
        raise ArgError(f"{args.op}: salt must be an integer in [0, 2**63) or a list of two, "
                       f"got {salt!r}", "salt")


def _hash_type(args) -> t.Type:
    need(args, "x", "string", "int64", "float32", what="a string or a number")
    need_int_const(args, "buckets", minimum=1)
    _need_salt(args)
    return t.Type("int64", args.type("x").shape)


def _decimal(x):
    """Numbers as Keras Hashing turns them into strings: float32 truncated toward zero to
    int64 (NaN, ±inf and values outside the int64 range give INT64_MIN, as x86 does),
    then the decimal digits."""
    if x.dtype == tf.float32:
        inside = (x >= -(2.0**63)) & (x < 2.0**63)
        x = tf.where(inside, tf.cast(tf.where(inside, x, 0.0), tf.int64), INT64_MIN)
    return tf.strings.as_string(x)


@op("hash", X, Param("buckets", const=True), Param("salt", const=True, default=None),
    infer=_hash_type)
@elementwise
def hash_(x, buckets, salt=None):
    """A bucket in [0, buckets) as int64, as keras.layers.Hashing computes it: the
    fingerprint hash tf.strings.to_hash_bucket_fast, or with ``salt`` (an integer, or a list
    of two) the keyed SipHash to_hash_bucket_strong with key [salt, salt] (or the two). int64
    values are hashed through their decimal string (hash(7) == hash("7")); float32 values
    are first truncated toward zero to int64, as Keras does (hash(1.9) == hash(1)); NaN,
    ±inf and values beyond the int64 range hash as -9223372036854775808."""
    strings = x if x.dtype == tf.string else _decimal(x)
    if salt is None:
        return tf.strings.to_hash_bucket_fast(strings, buckets)
    return tf.strings.to_hash_bucket_strong(strings, buckets, key=_salt_key(salt))


def _cross_type(args) -> t.Type:
    if len(args.rest) < 2:
        raise ArgError(f"{args.op} expects at least 2 values, got {len(args.rest)}", "values")
    for position, value in enumerate(args.rest, 1):
        if value.dtype not in CATEGORIES:
            raise ArgError(f"{args.op} expects strings or int64 values, got {value.dtype} "
                           f"(argument {position})", "values")
        if value.shape.kind not in ("scalar", "fixed", "variable"):
            raise ArgError(f"{args.op} expects scalars, fixed-shape or variable-length values, "
                           f"got {value.shape.describe} (argument {position})", "values")
    need_int_const(args, "buckets", minimum=1)
    shapes = [value.shape for value in args.rest]
    if any(shape.kind == "variable" for shape in shapes):
        return t.Type("int64", t.VARIABLE)
    if all(shape.kind == "scalar" for shape in shapes):
        return t.Type("int64", t.SCALAR)
    return t.Type("int64", t.fixed(math.prod(math.prod(s.dims) for s in shapes)))


def _cross_input(value):
    if isinstance(value, tf.RaggedTensor):
        return value.to_sparse()
    return tf.reshape(value, [-1, value.shape[1:].num_elements()])


@op("cross", Param("values"), Param("buckets", const=True), infer=_cross_type,
    variadic="values")
def cross(*values, buckets):
    """The combinations of two or more string or int64 values, hashed into [0, buckets) as
    int64 by tf.sparse.cross_hashed with its default key (as keras.layers.HashedCrossing).
    Scalars give one id per example; fixed-shape values count as their elements and
    variable-length values as their values: every combination gets an id, the first
    value's elements varying slowest. With a variable-length value the result is
    variable-length (empty when any value is empty); otherwise it is fixed-shape, with as
    many ids as combinations."""
    crossed = tf.sparse.cross_hashed([_cross_input(v) for v in values], buckets)
    if any(isinstance(v, tf.RaggedTensor) for v in values):
        # SparseCross lists each example's ids in order, example by example, so the row
        # indices are the value row ids (RaggedTensor.from_sparse's check of that order,
        # a tf.cond around an Assert, is left out)
        return tf.RaggedTensor.from_value_rowids(crossed.values, crossed.indices[:, 0],
                                                 nrows=crossed.dense_shape[0], validate=False)
    # every example has all `size` combinations, listed example by example in
    # tf.sparse.cross_hashed's order, so its values are the dense result row by row
    if all(v.shape.rank == 1 for v in values):
        return tf.reshape(crossed.values, [-1])
    size = math.prod(v.shape[1:].num_elements() for v in values)
    return tf.reshape(crossed.values, [-1, size])


# ---- one_hot and multi_hot -----------------------------------------------------------------


def _one_hot_type(args) -> t.Type:
    need(args, "x", "int64", what="an int64 index")
    if args.type("x").shape.kind == "variable":
        raise ArgError(f"{args.op} expects a scalar or fixed-shape index, got a variable-length "
                       "value: use multi_hot to encode variable-length values", "x")
    shape = need_shape(args, "x", "scalar", "fixed", what="a scalar or fixed-shape index")
    depth = need_int_const(args, "depth", minimum=1, maximum=t.MAX_ELEMENTS)
    return t.Type("float32", t.fixed(*shape.dims, depth))


@op("one_hot", X, Param("depth", const=True), infer=_one_hot_type)
def one_hot(x, depth):
    """A float32 vector of ``depth`` zeros with 1.0 at index x (all zeros when x is outside
    [0, depth)); a fixed-shape [k] index gives [k, depth]."""
    return tf.one_hot(x, depth, dtype=tf.float32)


def _multi_hot_type(args) -> t.Type:
    need(args, "x", "int64", what="int64 indices")
    need_shape(args, "x", "scalar", "fixed", "variable",
               what="a scalar, fixed-shape or variable-length value")
    depth = need_int_const(args, "depth", minimum=1, maximum=t.MAX_ELEMENTS)
    return t.Type("float32", t.fixed(depth))


@op("multi_hot", X, Param("depth", const=True), infer=_multi_hot_type)
def multi_hot(x, depth):
    """A float32 vector of ``depth`` zeros per example, with 1.0 at every index that one of
    its values equals (values outside [0, depth) are ignored)."""
    values, rows, examples = per_example(x)
    slots, cells = cells_of(rows, values, depth, examples)
    hits = tf.math.unsorted_segment_sum(tf.ones_like(values, tf.float32), slots, cells)[:-1]
    return tf.reshape(tf.minimum(hits, 1.0), [-1, depth])
