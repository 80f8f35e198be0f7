"""Reading TFRecord files strictly: every record of every file, or an error naming the file.

Plain ``tf.data.TFRecordDataset`` reports a damaged record without saying which file it is
in (``corrupted record at 2445``), and reads a file cut inside a record header, or a GZIP
file cut anywhere, as its first records, silently. Here each file is read by its own
``TFRecordDataset`` whose errors are caught (``ignore_errors``) and whose bytes are counted:
when the count at the end of the file falls short of the file's length (for GZIP files, of
the uncompressed length its trailer records; for ZLIB files, whose stream records no length,
of the length found by decompressing the stream once more in Python, which also finds a
stream cut short or damaged), the reading stopped early, and an
``InvalidArgumentError`` is raised that names the file, the record and its byte offset
(found by reading the file again, record by record, once it is known to be damaged). The
count costs one ``tf.strings.length`` per batch, and the file's length one Python call per
file when its reading begins, so reading stays as fast as plain reading.

Facts known before reading are checked then, as ``DataError``: no file matches, a directory,
a file that cannot be opened, every file empty."""
from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from typing import Optional, Sequence

from .lazy import np, tf

from .errors import DataError

COMPRESSIONS = ("auto", "GZIP", "ZLIB", "")
GZIP_TRAILER_MODULUS = 2**32  # a GZIP trailer holds the uncompressed length modulo 2**32
_GZIP_SMALLEST = 18  # header, an empty deflate block, trailer
# deflate compresses at most about 1032:1, so a GZIP file this small holds less than 2**32
# bytes of data, and its trailer's length is exact
_GZIP_EXACT_BELOW = 2**21
_READER_BUFFER_BYTES = 256 * 1024  # tf.data.TFRecordDataset's default buffer
_PLAIN_MODULUS = 2**62  # counts of plain and ZLIB data are compared modulo this
_DECOMPRESS_BYTES = 1 << 20  # compressed files are decompressed this many bytes at a time
_LENGTH_BYTES = 8  # a record's header begins with its length, a little-endian uint64
_RECORD_FRAMING = 16  # length (8) and its CRC (4) before the data, the data's CRC (4) after
_ASSERTION = re.compile(r"assertion failed: \[(.*)\]\s*$", re.S)


@dataclass(frozen=True)
class Source:
    """A TFRecord file to read: its ``compression`` ("GZIP", "ZLIB" or ""), the number of
    bytes its records take once uncompressed (``expected``, modulo ``modulus``; None for a
    ZLIB file, whose length is found by decompressing it only when its reading begins), and
    whether it certainly holds no record."""

    path: str
    compression: str
    expected: Optional[int]
    modulus: int
    empty: bool


def list_files(file_pattern) -> list[str]:
    """Sorted files matching a glob, a file name, or a list of them; a DataError if none, or
    if one is a directory. A name that exists as a file is that file, whatever characters
    it holds (``data[1].tfrecord``); any other name is a glob."""
    patterns = [file_pattern] if isinstance(file_pattern, (str, bytes)) else list(file_pattern)
    files = sorted({path for pattern in patterns for path in (
        [pattern] if tf.io.gfile.exists(pattern) and not tf.io.gfile.isdir(pattern)
        else tf.io.gfile.glob(pattern))})
    if not files:
        shown = patterns[0] if len(patterns) == 1 else patterns
        raise DataError(f"no file matches {shown!r}")
    for path in files:
        if tf.io.gfile.isdir(path):
            raise DataError(f"{path}: is a directory, not a TFRecord file (to read the files "
                            f"in it, give a glob such as '{path.rstrip('/')}/*')")
    return files


def sources(files: Sequence[str], compression: str) -> list[Source]:
    """What is known of each file before reading it; a DataError naming a file that cannot
    be opened. ``compression`` "auto" means GZIP for names ending in ``.gz`` (in any case)."""
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be 'auto', 'GZIP', 'ZLIB' or '', got {compression!r}")
    return [_source(path, compression) for path in files]


def _compression_of(path: str, compression: str) -> str:
    return ("GZIP" if path.lower().endswith(".gz") else "") if compression == "auto" \
        else compression


def first_record_bytes(files: Sequence[str], compression: str) -> Optional[int]:
    """The length of the first record of the first file that holds one, from its header
    (through the decompressor for GZIP and ZLIB files): an estimate of a record's size.
    None when no header can be read; a damaged file is found, and named, by reading it."""
    for path in files:
        kind = _compression_of(path, compression)
        try:
            with tf.io.gfile.GFile(path, "rb") as handle:
                if kind == "GZIP":
                    header = gzip.GzipFile(fileobj=handle).read(_LENGTH_BYTES)
                elif kind == "ZLIB":
                    header = zlib.decompressobj().decompress(handle.read(1 << 16), _LENGTH_BYTES)
                else:
                    header = handle.read(_LENGTH_BYTES)
        except (OSError, EOFError, zlib.error, tf.errors.OpError):
            return None
        if len(header) == _LENGTH_BYTES:
            return int.from_bytes(header, "little")
        if header:
            return None
    return None


def _source(path: str, compression: str) -> Source:
    kind = _compression_of(path, compression)
    try:
        with tf.io.gfile.GFile(path, "rb") as handle:
            size = handle.size()
            handle.read(1)  # a file that cannot be read fails here, not in the pipeline
            if kind == "GZIP" and size >= _GZIP_SMALLEST:
                handle.seek(size - 4)
                length = int.from_bytes(handle.read(4), "little")
                if length == 0 and size < _GZIP_EXACT_BELOW and not _holds_no_data(
                        handle, 16 + zlib.MAX_WBITS):
                    length = GZIP_TRAILER_MODULUS  # not its trailer (padding?): never matched
                return Source(path, kind, length, GZIP_TRAILER_MODULUS,
                              length == 0 and size < _GZIP_EXACT_BELOW)
            if kind == "ZLIB":
                return Source(path, kind, None, _PLAIN_MODULUS,
                              size == 0 or _holds_no_data(handle, zlib.MAX_WBITS))
    except (OSError, tf.errors.OpError) as exc:
        raise DataError(f"{path}: cannot read: {getattr(exc, 'message', None) or exc}") from None
    if kind == "GZIP":  # too short for a GZIP file, unless empty
        return Source(path, kind, 0 if size == 0 else GZIP_TRAILER_MODULUS,
                      GZIP_TRAILER_MODULUS, size == 0)
    return Source(path, kind, size, _PLAIN_MODULUS, size == 0)


def _zlib_length(path: str) -> int:
    """The length of the data of the ZLIB stream in ``path``, found by decompressing it (a
    ZLIB stream records no length), in bounded memory; ``_PLAIN_MODULUS``, which no count
    matches, when the stream is damaged, ends before its end marker (a file cut short, even
    between two records), or is followed by anything."""
    stream, length = zlib.decompressobj(), 0
    try:
        with tf.io.gfile.GFile(path, "rb") as handle:
            while not stream.eof:
                data = stream.unconsumed_tail or handle.read(_DECOMPRESS_BYTES)
                if not data:
                    break
                length += len(stream.decompress(data, _DECOMPRESS_BYTES))
            # TensorFlow's reader stops at the stream's end: bytes after it (a second
            # stream, padding) would be records never read
            after = stream.unused_data or handle.read(1)
    except zlib.error:
        return _PLAIN_MODULUS
    return length if stream.eof and not after else _PLAIN_MODULUS


def _holds_no_data(handle, wbits: int) -> bool:
    """Whether a file begins with a whole GZIP member or ZLIB stream (``wbits`` as for
    ``zlib.decompressobj``) that holds no data: for a small GZIP file whose last 4 bytes say
    it holds none (zeros after a member, a padded file, say so too), and for a ZLIB file."""
    handle.seek(0)
    stream = zlib.decompressobj(wbits)
    try:
        return stream.decompress(handle.read(_DECOMPRESS_BYTES), 1) == b"" and stream.eof
    except zlib.error:
        return False


def source_dataset(files: Sequence[str], compression: str) -> tf.data.Dataset:
    """The files as a dataset of (path, compression), for :func:`read_batches`; a
    DataError if one cannot be read, or if every file is empty."""
    found = sources(files, compression)
    if all(source.empty for source in found):
        raise DataError(f"no records in {', '.join(files)}: every file is empty")
    return tf.data.Dataset.from_tensor_slices((tf.constant([s.path for s in found]),
                                               tf.constant([s.compression for s in found])))


def _facts_now(path: bytes, compression: bytes):
    """(expected, modulus, readable) of a file as it is when its reading begins: files may
    change between calling ``input_fn`` and reading them (every epoch reads them again)."""
    try:
        source = _source(np.asarray(path).item().decode("utf-8", "surrogateescape"),
                         np.asarray(compression).item().decode())
    except DataError:
        return np.int64(0), np.int64(1), False
    expected = _zlib_length(source.path) if source.expected is None else source.expected
    return np.int64(expected), np.int64(source.modulus), True


END = -1  # the "first record" of the empty batch that marks a file's end


def _file_batches(batch_size: int):
    """A function from a file's (path, compression) to a dataset of its records in batches
    of ``batch_size`` (the last may be smaller), each as (records, the index of its first
    record, facts = (path, compression, expected, modulus)), then one empty batch whose
    first record is END. Errors of reading are caught; :func:`read_batches` finds them out
    by the byte count. No function runs per file but the look at its length."""

    def read(path, compression):
        # Once per file: its length is looked at, and it is opened, before the reader opens
        # it (ignore_errors would retry a failing open forever).
        expected, modulus, readable = tf.numpy_function(
            _facts_now, [path, compression], [tf.int64, tf.int64, tf.bool], stateful=True)
        with tf.control_dependencies([tf.debugging.Assert(readable, [tf.strings.join(
                [path, ": cannot be read (it could when reading began)"])])]):
            path = tf.identity(path)
        facts = tf.data.Dataset.from_tensors((path, compression, expected, modulus)).repeat()
        # A damaged record ends the file's reading: the batch it is in is dropped
        records = (_records_of(path, compression)
                   .batch(batch_size).ignore_errors(log_warning=True))
        batches = tf.data.Dataset.zip((records, tf.data.Dataset.range(0, 2**62, batch_size),
                                       facts))
        end = tf.data.Dataset.zip((tf.data.Dataset.from_tensors(tf.zeros([0], tf.string)),
                                   tf.data.Dataset.from_tensors(tf.constant(END, tf.int64)),
                                   facts))
        return batches.concatenate(end)

    return tf.autograph.experimental.do_not_convert(read)


def _records_of(path, compression) -> tf.data.Dataset:
    """The records of one file (``path`` and ``compression``: string scalars), read by the
    op ``tf.data.TFRecordDataset`` wraps, with its default buffer. The wrapper adds a
    ``flat_map`` over file names whose function every iterator of a file instantiates
    again, graph passes included: inside :func:`_file_batches`, once per file per pass."""
    variant = tf.raw_ops.TFRecordDataset(
        filenames=path, compression_type=compression,
        buffer_size=tf.constant(_READER_BUFFER_BYTES, tf.int64))
    return tf.data.experimental.from_variant(variant, tf.TensorSpec([], tf.string))


def read_batches(sources: tf.data.Dataset, batch_size: int, parse=None,
                 parallel: bool = True, shard: Optional[tuple[int, int]] = None
                 ) -> tf.data.Dataset:
    """``parse(records, names)`` (by default the pair itself) of every batch of
    ``batch_size`` records (the last of each file may be smaller) of the files of
    ``sources`` (see :func:`source_dataset`), in file order; each record's name is
    "path: record N" (N counted from 0 in each file), for parse errors. Reading a damaged
    file, or one cut short, raises ``InvalidArgumentError`` whose message names it (see
    :func:`read_error`).

    With ``shard=(count, index)`` only records N with ``N % count == index`` are kept (the
    whole file is still read and checked): files are read ``count * batch_size`` records at
    a time, so each batch keeps at most ``batch_size`` (batches left empty are dropped).

    Files are read one after the other. The thread that reads them does little else: it
    adds up the records' byte counts (one ``tf.strings.length`` per batch) and checks the
    sum at each file's end. Names and ``parse`` run in the map that follows, in parallel
    unless ``parallel`` is False."""
    parse = parse or (lambda records, names: (records, names))

    def step(offset, batch):
        # offset: the bytes of the file's records read so far, framing included
        records, first, (path, compression, expected, modulus) = batch
        end = tf.equal(first, END)
        whole = ~end | tf.equal(offset % modulus, expected)
        message = tf.cond(whole, lambda: tf.constant(""), lambda: tf.numpy_function(
            _damage, [path, compression], tf.string, stateful=False))
        with tf.control_dependencies([tf.debugging.Assert(whole, [message])]):
            end = tf.identity(end)
        count = tf.size(records, out_type=tf.int64)
        size = tf.reduce_sum(tf.cast(tf.strings.length(records), tf.int64))
        offset = tf.where(end, tf.zeros([], tf.int64), offset + size + _RECORD_FRAMING * count)
        return offset, (records, first, path)

    every = 1 if shard is None else shard[0]

    def named(records, first, path):
        count = tf.size(records, out_type=tf.int64)
        numbers = (tf.range(first, first + count) if shard is None
                   else tf.range(first, first + count * every, every))
        # string + string concatenates: about 140 µs a batch of 1,024 cheaper than StringJoin
        names = (path + ": record ") + tf.strings.as_string(numbers)
        return parse(records, names)

    batches = (sources.flat_map(_file_batches(batch_size * every))
               .scan(tf.zeros([], tf.int64), tf.autograph.experimental.do_not_convert(step))
               .filter(lambda records, first, path: tf.not_equal(first, END)))
    if shard is not None:
        batches = batches.map(_record_shard(*shard)).filter(
            lambda records, first, path: tf.size(records) > 0)
    return batches.map(tf.autograph.experimental.do_not_convert(named),
                       **({"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True}
                          if parallel else {}))


def read_to_the_end(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` for a pass that skewless itself reads to its end (analysis, profiles,
    whole files), without tf.data's autotuning. Deleting an iterator waits for the
    autotuning thread to end its current wait, which lasts up to the optimization period in
    effect, a period that doubles from 10 ms as a pass goes on: 0 to 0.6 s after a pass of
    0.6 s, up to 10 s after one of 10 s (TensorFlow 2.21), with nothing to do. Without it,
    ``AUTOTUNE`` parallelism is the number of cores, as autotuning makes it on a busy
    pipeline."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _record_shard(count: int, index: int):
    """A function from a batch (records, number of its first record, path) to the batch of
    its records N with ``N % count == index``: every ``count``-th record from the first
    such, and that record's number."""

    def keep(records, first, path):
        offset = (index - first) % count
        return records[offset::count], first + offset, path

    return tf.autograph.experimental.do_not_convert(keep)


def _damage(path: bytes, compression: bytes) -> bytes:
    """The message of a file whose reading stopped before its end: the record and byte
    offset where it stops, found by reading it again record by record."""
    path = np.asarray(path).item().decode("utf-8", "surrogateescape")
    compression = np.asarray(compression).item().decode()
    index = offset = 0
    # TensorFlow's one reader that stops at the damaged record and says so; it is kept in
    # TF 2 as compat.v1, and its deprecation notice would bury the message.
    from tensorflow.python.util import deprecation

    try:
        options = tf.io.TFRecordOptions(compression_type=compression)
        with deprecation.silence():
            for record in tf.compat.v1.io.tf_record_iterator(path, options):
                index, offset = index + 1, offset + len(record) + _RECORD_FRAMING
    except (OSError, tf.errors.OpError):
        pass
    where = f" of the {compression} data" if compression else ""
    hint = (f"; is it a TFRecord file, and is it {compression or 'not'} compressed?"
            if offset == 0 else "")
    return (f"{path}: cannot read record {index} (at byte {offset}{where}): the file is "
            f"damaged or cut short{hint}").encode("utf-8", "surrogateescape")


def read_error(exc: tf.errors.OpError):
    """The message naming the file of an error raised by :func:`read_batches`'s reading,
    or None for any other error."""
    match = _ASSERTION.search(exc.message.split("\n\t [[")[0])
    return match.group(1) if match else None


def read_file(path: str, compression: str = "auto", batch_size: int = 1024):
    """The (records, names) batches of one file, as numpy arrays; a DataError naming the file
    if it cannot be read whole."""
    source = sources([path], compression)[0]
    dataset = read_to_the_end(read_batches(
        tf.data.Dataset.from_tensors((source.path, source.compression)), batch_size))
    try:
        yield from dataset.as_numpy_iterator()
    except tf.errors.OpError as exc:
        raise DataError(read_error(exc) or f"{path}: cannot read: {exc.message}") from None


def all_records(files: Sequence[str], compression: str = "auto"):
    """Every (record, name) of the files, in order, read as :func:`read_file` reads them."""
    for path in files:
        for records, names in read_file(path, compression):
            yield from zip(records, names)


def first_non_example(named_records):
    """"name: not a tf.train.Example (why)" of the first of the (record, name) pairs that
    does not parse as one, or None. TensorFlow's parse error does not say which record it
    is (and for bytes that are not UTF-8, Python cannot even show it), so the culprit is
    looked for again here, once such an error has stopped a pass."""
    for record, name in named_records:
        try:
            tf.train.Example.FromString(record)
        except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError, whatever its module
            name = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
            return f"{name}: not a tf.train.Example ({exc})"
    return None
