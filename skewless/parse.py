"""Parsing serialized tf.Examples into a raw batch: ``tf.io.parse_example``, with every
sparse column checked record by record.

``tf.io.parse_example`` checks neither the indices of a ``tf.io.SparseFeature`` against its
size nor their uniqueness (TensorFlow 2.16-2.21): an index outside ``[0, size)`` or twice in
one record gives a SparseTensor that later ops reject, or worse, use; and a record with
more indices than values fails with a message that names no record. Here a sparse column's
indices and values are parsed as two ``tf.io.RaggedFeature``s, checked, and joined into the
SparseTensor ``parse_example`` gives for valid data (entries sorted by ``tf.sparse.reorder``,
as ``parse_example`` sorts them). Every other column is parsed by ``parse_example`` itself.
The serving Predict path checks its sparse inputs the same way (``signatures``)."""
from __future__ import annotations

from .lazy import tf

BAD_SPARSE = ": sparse column "  # in a check's message, after the record's name


def parse_examples(records, spec: dict, names=None) -> dict:
    """``tf.io.parse_example(records, spec, example_names=names)``, with each
    ``tf.io.SparseFeature`` of ``spec`` (1-D indices: ``index_key`` a string) checked.

    records: a 1-D string tensor of serialized tf.Examples; names: their names for errors
    (a 1-D string tensor, e.g. "path: record N"), or None for "example N" (N from 0).
    Raises ``tf.errors.InvalidArgumentError`` (when the batch runs) naming the record and
    column where a sparse column has more or fewer indices than values, an index outside
    ``[0, size)``, or an index twice; else what ``parse_example`` raises."""
    sparse = {key: feature for key, feature in spec.items()
              if isinstance(feature, tf.io.SparseFeature)}
    if not sparse:
        return tf.io.parse_example(records, spec, example_names=names)
    parts = {}
    for key, feature in sparse.items():
        parts[f"{key}/indices"] = tf.io.RaggedFeature(
            tf.int64, value_key=feature.index_key, row_splits_dtype=tf.int64)
        parts[f"{key}/values"] = tf.io.RaggedFeature(
            feature.dtype, value_key=feature.value_key, row_splits_dtype=tf.int64)
    plain = {key: feature for key, feature in spec.items() if key not in sparse}
    parsed = tf.io.parse_example(records, {**plain, **parts}, example_names=names)
    raw = {key: parsed[key] for key in plain}
    for key, feature in sparse.items():
        raw[key] = sparse_column(
            parsed[f"{key}/indices"], parsed[f"{key}/values"], feature.size,
            f"{key} (indices {feature.index_key}, values {feature.value_key})", names)
    return raw


def sparse_column(indices, values, size: int, column: str, names) -> tf.SparseTensor:
    """The SparseTensor ``[batch, size]`` of one sparse column from its indices (int64) and
    values, RaggedTensors ``[batch, None]``, once they are checked (see
    :func:`parse_examples`); ``column`` describes the column in messages, ``names`` (a 1-D
    string tensor, or None for "example N") names the records. Entries are sorted as
    ``tf.sparse.reorder`` sorts."""
    counts, value_counts = indices.row_lengths(), values.row_lengths()
    with tf.control_dependencies([_check(tf.equal(counts, value_counts), names, lambda row: [
            column, ": ", tf.strings.as_string(counts[row]), " indices and ",
            tf.strings.as_string(value_counts[row]), " values"])]):
        rows, columns = indices.value_rowids(), tf.identity(indices.values)

    inside = (columns >= 0) & (columns < size)
    with tf.control_dependencies([_check(inside, names, lambda at: [
            column, ": index ", tf.strings.as_string(columns[at]),
            f" is outside [0, {size})"], rows)]):
        columns = tf.identity(columns)

    batch = tf.shape(counts, out_type=tf.int64)[0]
    entries = tf.sparse.reorder(tf.SparseTensor(
        tf.stack([rows, columns], axis=1), values.values,
        tf.stack([batch, tf.constant(size, tf.int64)])))
    at = entries.indices
    once = tf.concat([[True], ~tf.reduce_all(tf.equal(at[1:], at[:-1]), axis=1)], axis=0)
    with tf.control_dependencies([_check(once, names, lambda i: [
            column, ": index ", tf.strings.as_string(at[i, 1]), " is given twice"],
            at[:, 0])]):
        return tf.SparseTensor(tf.identity(at), entries.values, entries.dense_shape)


def _check(ok, names, describe, rows=None):
    """An assertion that fails the batch unless every element of ``ok`` holds, naming the
    record of the first that does not: ``rows[i]`` (the element's row), or ``i`` itself
    when ``rows`` is None; ``names[row]``, or "example ROW" when ``names`` is None, made
    only when the check fails. ``describe(i)`` gives the rest of the message (strings and
    string tensors). None when executing eagerly (it has then raised or passed)."""
    def message():
        first = tf.argmin(tf.cast(ok, tf.int32), output_type=tf.int64)
        row = first if rows is None else rows[first]
        name = names[row] if names is not None else tf.strings.join(
            ["example ", tf.strings.as_string(row)])
        return tf.strings.join([name, BAD_SPARSE, *describe(first)])

    everywhere = tf.reduce_all(ok)
    text = tf.cond(everywhere, lambda: tf.constant(""), message)
    return tf.debugging.Assert(everywhere, [text])
