"""CSV files as training data: each row read as the ``tf.train.Example`` it stands for.

A file is CSV when its name ends in ``.csv`` or ``.csv.gz`` (in any case); every other file
is a TFRecord file, and one list of data files holds one kind or the other. The first line
that is not blank is the header: it names the Example's feature keys (a column's name, or a
sparse column's index and value keys); the spec gives their types. Each row becomes a
serialized ``tf.train.Example`` holding the fields of the columns read, which
``tf.io.parse_example`` then parses as it parses any record: a row gives bit for bit the
tensors of the Example a program would write with the same values. See docs/usage.md
("CSV data") for the forms of values.

Rows are parsed by Python's ``csv`` module (the Excel dialect, strictly: a quote must open
a field and close it) from UTF-8 text (a byte order mark is skipped). A field that does not
hold a value of its column, a row with another number of fields than the header, bad
quoting and bytes that are not UTF-8 are a ``DataError`` naming the file, the line and the
column where the field starts, both counted from 1 in characters, as a text editor counts
them: ``bad CSV: train.csv:4:9: field 3 (distance): not an int64: 12.5``."""
from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import math
import zlib
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

from .lazy import np, tf

from .csv_values import PARSE, SEPARATOR, BadValue, add_values, pieces, shown
from .errors import DataError
from .ir import ColumnSpec

SUFFIXES = (".csv", ".csv.gz")
BAD_CSV = "bad CSV: "  # how every message about a CSV file's content begins
_FIELD_LIMIT = 2**31 - 1  # the csv module's default (131072 characters) is too few for lists
_BLOCK = 1 << 20


def is_csv(path) -> bool:
    """Whether a data file is CSV: its name ends in ``.csv`` or ``.csv.gz``, in any case."""
    name = path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else str(path)
    return name.lower().endswith(SUFFIXES)


def all_csv(files: Sequence[str]) -> bool:
    """Whether the data files are CSV files (True) or TFRecord files (False); a DataError
    when they are both."""
    kinds = {is_csv(path) for path in files}
    if len(kinds) > 1:
        csv_file = next(path for path in files if is_csv(path))
        other = next(path for path in files if not is_csv(path))
        raise DataError(f"the data mixes CSV files ({csv_file}) and TFRecord files ({other}): "
                        f"give one kind, or convert the CSV files with 'skewless convert'")
    return kinds == {True}


def batch_reader(files: Sequence[str], compression: str, columns: Sequence[ColumnSpec]):
    """The function reading ``files`` in batches: ``records.read_batches`` for TFRecord
    files, :func:`read_batches` (reading ``columns``) for CSV files; both take
    ``(sources, batch_size, parse=None, parallel=True, shard=None)``. A DataError when the files mix the
    two kinds, or CSV files are said to be ZLIB-compressed."""
    from . import records

    if not all_csv(files):
        return records.read_batches
    if compression == "ZLIB":
        raise DataError("CSV files are read plain or GZIP-compressed, not ZLIB")
    return functools.partial(read_batches, columns=tuple(columns))


# ---- a header's fields -------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """A field of the header that the spec reads: the Example's feature ``key``, its
    position in a row, its dtype, whether it holds a list (and of how many values, for a
    fixed shape), and whether an empty field is an error."""

    key: str
    index: int
    dtype: str
    listed: bool
    count: Optional[int]
    required: bool


@dataclass(frozen=True)
class _Sparse:
    """A sparse column whose keys the header names: its name, size, and the fields of its
    indices and values."""

    name: str
    size: int
    indices: _Field
    values: _Field


class _Converter:
    """Rows of one CSV file → serialized tf.Examples, as its header lays them out."""

    def __init__(self, columns: Sequence[ColumnSpec], header: list, path: str, line: int,
                 lines: list):
        self.path, self.width = path, len(header)
        positions, twice = {}, {}
        for index, key in enumerate(header):
            if key in positions:
                twice.setdefault(key, index)
            positions.setdefault(key, index)
        read = {key for column in columns
                for key in (column.sparse_keys or ()) + (column.name,)}
        for key, index in twice.items():
            if key in read:
                raise _located(path, line, lines, index, f"the header names {shown(key)} twice "
                                                         f"(fields {positions[key] + 1} and "
                                                         f"{index + 1})")
        self.fields, self.sparse = [], []
        for column in columns:
            kind = column.shape.kind
            if kind == "sparse":
                index_key, value_key = column.sparse_keys
                found = [key for key in (index_key, value_key) if key in positions]
                if len(found) == 1:
                    missing = value_key if found == [index_key] else index_key
                    raise DataError(f"{BAD_CSV}{path}:{line}: the header has {found[0]} but "
                                    f"not {missing}: sparse column {column.name} reads "
                                    f"both")
                if found:
                    self.sparse.append(_Sparse(
                        column.name, column.shape.dims[0],
                        _Field(index_key, positions[index_key], "int64", True, None, False),
                        _Field(value_key, positions[value_key], column.dtype, True, None,
                               False)))
                continue
            required = column.default is None and kind != "variable"
            if column.name not in positions:
                if required:
                    raise DataError(f"{BAD_CSV}{path}:{line}: the header has no column "
                                    f"{column.name}, which the spec requires ({column.kind} "
                                    f"{column.name}: {column.type} has no default)")
                continue
            count = math.prod(column.shape.dims) if kind == "fixed" else None
            self.fields.append(_Field(column.name, positions[column.name], column.dtype,
                                      kind != "scalar", count, required))

    def example(self, fields: list, line: int, lines: list) -> bytes:
        """The serialized tf.Example of a row (its ``fields``, its first ``line`` number and
        its ``lines`` of text, for errors)."""
        if len(fields) != self.width:
            raise _wrong_width(self.path, line, lines, len(fields), self.width)
        example = tf.train.Example()
        feature = example.features.feature
        field = None
        try:
            for field in self.fields:
                values = self._values(field, fields[field.index])
                if values:
                    add_values(feature[field.key], field.dtype, values)
            for sparse in self.sparse:
                field = sparse.indices
                indices = self._values(field, fields[field.index])
                self._check_indices(sparse, indices)
                field = sparse.values
                values = self._values(field, fields[field.index])
                if len(values) != len(indices):
                    raise BadValue(f"{len(values)} values for the {len(indices)} indices in "
                                   f"{sparse.indices.key} (sparse column {sparse.name})")
                if values:
                    add_values(feature[sparse.indices.key], "int64", indices)
                    add_values(feature[field.key], field.dtype, values)
        except BadValue as exc:
            raise _located(self.path, line, lines, field.index,
                           f"field {field.index + 1} ({field.key}): {exc}") from None
        return example.SerializeToString()

    @staticmethod
    def _values(field: _Field, text: str) -> list:
        if not text:
            if field.required:
                raise BadValue("empty, and the column has no default")
            return []
        parse = PARSE[field.dtype]
        if not field.listed:
            return [parse(text)]
        values = [parse(piece) for piece in pieces(text, field.dtype)]
        if field.count is not None and len(values) != field.count:
            raise BadValue(f"{len(values)} value{'s' * (len(values) != 1)}, the column has "
                           f"{field.count} (separated by {SEPARATOR})")
        return values

    @staticmethod
    def _check_indices(sparse: _Sparse, indices: list) -> None:
        outside = [index for index in indices if not 0 <= index < sparse.size]
        if outside:
            raise BadValue(f"index {outside[0]} is outside [0, {sparse.size}) (sparse column "
                           f"{sparse.name})")
        if len(set(indices)) != len(indices):
            raise BadValue(f"an index is given twice (sparse column {sparse.name})")


# ---- where in the file -------------------------------------------------------------------


def _scan(text: str) -> tuple[list[int], Optional[int]]:
    """Where the fields of a record's ``text`` start (offsets), and where its quoting goes
    wrong (None if it does not): a character other than a delimiter or a line end after a
    closing quote, or a quote that never closes (the offset of the opening one). The
    Excel dialect, as the csv module reads it: only for locating an error it found."""
    starts, at, field_start = [0], 0, True
    while at < len(text):
        char = text[at]
        if field_start and char == '"':
            opened, at = at, at + 1
            while True:
                close = text.find('"', at)
                if close < 0:
                    return starts, opened
                if text[close + 1:close + 2] != '"':
                    break
                at = close + 2
            at = close + 1
            if at < len(text) and text[at] not in ",\r\n":
                return starts, at
            field_start = False
            continue
        if char == ",":
            starts.append(at + 1)
            field_start = True
        elif char in "\r\n":
            break
        else:
            field_start = False
        at += 1
    return starts, None


def _position(first: int, lines: list, offset: int) -> tuple[int, int]:
    """(line, column), from 1, of the character at ``offset`` of a record whose ``lines``
    begin at line ``first``."""
    for number, text in enumerate(lines):
        if offset < len(text) or number == len(lines) - 1:
            return first + number, offset + 1
        offset -= len(text)
    return first, 1


def _at(path: str, line: int, column: int, message: str) -> DataError:
    return DataError(f"{BAD_CSV}{path}:{line}:{column}: {message}")


def _located(path: str, first: int, lines: list, index: int, message: str) -> DataError:
    """The DataError of field ``index`` (from 0) of the record of ``lines``."""
    starts, _ = _scan("".join(lines))
    return _at(path, *_position(first, lines, starts[min(index, len(starts) - 1)]), message)


def _wrong_width(path: str, first: int, lines: list, count: int, width: int) -> DataError:
    text = "".join(lines)
    starts, _ = _scan(text)
    if count > width:
        offset, what = starts[width], "too many"
    else:
        offset, what = len(text.rstrip("\r\n")), "too few"
    return _at(path, *_position(first, lines, offset),
               f"{what} fields: {count}, the header has {width}")


def _quoting(path: str, first: int, lines: list, exc: csv.Error) -> DataError:
    starts, wrong = _scan("".join(lines))
    reason = str(exc)
    if reason == "unexpected end of data":
        reason = "a quoted field is not closed before the end of the file (it opens here)"
    elif reason.startswith("new-line character seen in unquoted field"):
        reason = ("a carriage return (CR) outside quotes: lines must end with LF or CR LF, "
                  "and a CR inside a field must be quoted")
    elif wrong is not None:
        reason = "a closing quote must be followed by a comma or the end of the line"
    offset = starts[-1] if wrong is None else wrong
    return _at(path, *_position(first, lines, offset), f"bad quoting: {reason}")


# ---- reading a file ----------------------------------------------------------------------


def _byte_lines(handle, path: str) -> Iterator[bytes]:
    """The lines of a binary file, each with its ``\\n`` (a ``\\r`` ends no line)."""
    rest = b""
    try:
        while True:
            block = handle.read(_BLOCK)
            if not block:
                break
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield line + b"\n"
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{BAD_CSV}{path}: not a whole GZIP file ({exc})") from None
    except (OSError, tf.errors.OpError) as exc:
        raise DataError(f"{path}: cannot read: {getattr(exc, 'message', None) or exc}") from None
    if rest:
        yield rest


@contextlib.contextmanager
def _opened(path: str, compression: str):
    try:
        handle = tf.io.gfile.GFile(path, "rb")
    except (OSError, tf.errors.OpError) as exc:
        raise DataError(f"{path}: cannot read: {getattr(exc, 'message', None) or exc}") from None
    with handle:
        if compression == "GZIP":
            with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
                yield unzipped
        else:
            yield handle


def _records(path: str, compression: str) -> Iterator[tuple[int, list, list]]:
    """(first line number, fields, lines) of each record of a CSV file that is not a blank
    line; ``lines`` (its text, for errors) is valid until the next record is asked for."""
    lines: list = []

    def text_lines(raw_lines):
        for number, raw in enumerate(raw_lines, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                column = len(raw[:exc.start].decode("utf-8")) + 1
                raise _at(path, number, column, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}"
                                                 f": {exc.reason})") from None
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            lines.append(text)
            yield text

    csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
    with _opened(path, compression) as handle:
        reader = csv.reader(text_lines(_byte_lines(handle, path)), strict=True)
        while True:
            first = reader.line_num + 1
            lines.clear()
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise _quoting(path, first, lines, exc) from None
            if fields:
                yield first, fields, lines


def _resolved(path: str, compression: str) -> str:
    from .records import sources

    kind = sources([path], compression)[0].compression
    if kind == "ZLIB":
        raise DataError("CSV files are read plain or GZIP-compressed, not ZLIB")
    return kind


def examples(path: str, columns: Sequence[ColumnSpec],
             compression: str = "auto") -> Iterator[tuple[bytes, str]]:
    """(serialized tf.Example, name) of each row of a CSV file, its name "path: line N" (the
    row's first line). Only ``columns`` are read; ``compression`` is "auto" (GZIP for names
    ending in ``.gz``), "GZIP" or "". A DataError names the file, line and column of the
    first field, row or header that does not fit the columns."""
    compression = _resolved(path, compression)
    converter = None
    for first, fields, lines in _records(path, compression):
        if converter is None:
            converter = _Converter(columns, fields, path, first, lines)
            continue
        yield converter.example(fields, first, lines), f"{path}: line {first}"


def batches(path: str, columns: Sequence[ColumnSpec], compression: str = "auto",
            batch_size: int = 1024, shard: Optional[tuple[int, int]] = None
            ) -> Iterator[tuple]:
    """The (records, names) of :func:`examples`, in batches of ``batch_size`` (the last may
    be smaller), as 1-D numpy arrays of bytes, as ``records.read_file`` gives them. With
    ``shard=(count, index)`` only the rows N (counted from 0) with ``N % count == index``;
    every row is still read and checked."""
    records, names = [], []
    for number, (record, name) in enumerate(examples(path, columns, compression)):
        if shard is not None and number % shard[0] != shard[1]:
            continue
        records.append(record)
        names.append(name.encode("utf-8", "surrogateescape"))
        if len(records) == batch_size:
            yield np.array(records, dtype=object), np.array(names, dtype=object)
            records, names = [], []
    if records:
        yield np.array(records, dtype=object), np.array(names, dtype=object)


def read_batches(sources, batch_size: int, parse=None, parallel: bool = True,
                 shard: Optional[tuple[int, int]] = None, *, columns: Sequence[ColumnSpec]):
    """``records.read_batches`` for CSV files: ``parse(records, names)`` (by default the
    pair itself) of every batch of ``batch_size`` rows (the last of each file may be
    smaller) of the files of ``sources`` (a dataset of (path, compression)), each row a
    serialized tf.Example of ``columns``, named "path: line N". A row that does not fit
    raises ``InvalidArgumentError`` whose message is the DataError's of :func:`examples`
    (``records.read_error`` finds it). Files are read one after the other, in Python;
    ``parse`` runs in the map that follows, in parallel unless ``parallel`` is False.
    ``shard`` keeps a share of each file's rows, as in :func:`batches`."""
    parse = parse or (lambda records, names: (records, names))
    file_batches = functools.partial(_file_batches, columns=tuple(columns),
                                     batch_size=batch_size, shard=shard)

    def read(path, compression):
        strings = tf.TensorSpec([None], tf.string)
        return tf.data.Dataset.from_generator(
            file_batches, args=(path, compression),
            output_signature=(strings, strings, tf.TensorSpec([], tf.string)))

    def checked(records, names, message):
        ok = tf.equal(message, "")
        with tf.control_dependencies([tf.debugging.Assert(ok, [message])]):
            records = tf.identity(records)
        return parse(records, names)

    return (sources.flat_map(tf.autograph.experimental.do_not_convert(read))
            .map(tf.autograph.experimental.do_not_convert(checked),
                 **({"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True}
                    if parallel else {})))


def _file_batches(path, compression, columns: tuple, batch_size: int,
                  shard: Optional[tuple[int, int]]):
    """The (records, names, b"") batches of a CSV file (path and compression as numpy
    bytes), then, if it does not fit, an empty batch with the DataError's message."""
    path = np.asarray(path).item().decode("utf-8", "surrogateescape")
    compression = np.asarray(compression).item().decode()
    try:
        for records, names in batches(path, columns, compression, batch_size, shard):
            yield records, names, b""
    except DataError as exc:
        yield [], [], str(exc).encode("utf-8", "surrogateescape")
