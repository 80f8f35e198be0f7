"""Text: splitting strings into variable-length lists of tokens, and n-grams of them."""
from __future__ import annotations

from ..lazy import tf

from .. import types as t
from .common import need_int_const, need_shape, need_string_const
from .registry import ArgError, Param, op
from .strings import case_converted, need_string

X = Param("x")

# Keras TextVectorization's "lower_and_strip_punctuation": every ASCII punctuation character.
KERAS_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


def _tokens_type(args) -> t.Type:
    need_string(args)
    need_shape(args, "x", "scalar", "fixed", "variable",
               what="a per-example string (scalar, fixed-shape or variable-length)")
    return t.Type("string", t.VARIABLE)


def _split_type(args) -> t.Type:
    if not need_string_const(args, "sep"):
        raise ArgError(f"{args.op}: sep must not be empty (tokenize(x) splits on whitespace)",
                       "sep")
    return _tokens_type(args)


def _split_all(x, sep) -> tf.RaggedTensor:
    """The tokens of every value of each example, in order, as ``[batch, None]``: the
    values are split as one list (``tf.strings.split``) and each example's tokens are those
    of its values, found from where its values end; the same tokens and row splits as
    ``tf.strings.split(x).merge_dims(1, 2)``, in a handful of nodes where ``merge_dims``
    builds a hundred (paid by every instantiation of the transform)."""
    if isinstance(x, tf.Tensor) and x.shape.rank == 1:
        return tf.strings.split(x, sep=sep)
    if isinstance(x, tf.RaggedTensor):
        tokens = tf.strings.split(x.flat_values, sep=sep)
        splits = tf.gather(tokens.row_splits, x.row_splits)  # where each example's values end
    else:
        width = x.shape[1:].num_elements()  # every example has `width` values
        tokens = tf.strings.split(tf.reshape(x, [-1]), sep=sep)
        splits = tokens.row_splits[::width]
    return tf.RaggedTensor.from_row_splits(tokens.values, splits, validate=False)


@op("split", X, Param("sep", const=True, default=" "), infer=_split_type)
def split(x, sep=" "):
    """The pieces of ``x`` between occurrences of ``sep``, as a variable-length string value,
    like Python's ``str.split(sep)``: empty pieces are kept ("a,,b" → ["a", "", "b"], ""
    → [""]). ``sep`` may be several characters but not empty. For a fixed-shape or
    variable-length input, the pieces of all its values in order, concatenated per example."""
    return _split_all(x, sep)


@op("tokenize", X, infer=_tokens_type)
def tokenize(x):
    """Words of ``x``, as a variable-length string value: lowercased (Unicode-aware, as
    ``lower``), ASCII punctuation removed exactly like Keras TextVectorization's
    "lower_and_strip_punctuation" (so "don't" → "dont", "e-mail" → "email": punctuation
    joins what is around it), then split on
    runs of ASCII whitespace; no empty tokens. Unlike Keras, non-ASCII letters are
    lowercased too. For a fixed-shape or variable-length input, the tokens of all its values
    in order, concatenated per example."""
    values = x.flat_values if isinstance(x, tf.RaggedTensor) else x
    clean = tf.strings.regex_replace(case_converted(tf.strings.lower, values),
                                     KERAS_PUNCTUATION, "")
    if isinstance(x, tf.RaggedTensor):
        clean = x.with_flat_values(clean)
    return _split_all(clean, None)


def _ngrams_type(args) -> t.Type:
    need_string(args)
    need_shape(args, "x", "variable",
               what="a variable-length string value such as tokenize(x)")
    need_int_const(args, "n", minimum=1, maximum=2**31 - 1)  # tf.strings.ngrams: int32
    need_string_const(args, "sep")
    return t.Type("string", t.VARIABLE)


@op("ngrams", X, Param("n", const=True), Param("sep", const=True, default=" "),
    infer=_ngrams_type)
def ngrams(x, n, sep=" "):
    """The n-grams of each example's values: every run of ``n`` consecutive values joined
    with ``sep``, in order (["a", "b", "c"] with n=2 → ["a b", "b c"]). An example with fewer
    than ``n`` values gives an empty list; no padding is added."""
    return tf.strings.ngrams(x, ngram_width=n, separator=sep)
