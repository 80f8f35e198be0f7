"""Damaged, cut-short, wrongly compressed, misplaced and non-tf.Example data, read by every
entry point: ``compile --data``, ``analyze``, ``check --data`` and ``input_fn`` (of
``skewless.load`` and of a generated module). Each damaged file is given after a good one, so
an error that does not name the damaged file is caught. The damaged files are made here by
hand, byte by byte, so where each is damaged is known."""
from __future__ import annotations

import gzip
import subprocess
import sys
import zlib

import pytest
import tensorflow as tf

import skewless
from skewless import cli
from skewless.errors import DataError
from skewless_test_helpers import REPO, example, import_module, write_records

SPEC = """\
input x: float32
label y: float32 = 0.0
feature z = zscore(x)
target y = y
"""
RECORDS = [example(x=float(i), y=1.0) for i in range(6)]
FRAMED = len(RECORDS[0]) + 16  # every record has the same length here
PLAIN = b""


def _plain() -> bytes:
    global PLAIN
    if not PLAIN:
        import tempfile
        with tempfile.TemporaryDirectory() as folder:
            path = write_records(f"{folder}/r.tfrecord", RECORDS)
            with open(path, "rb") as handle:
                PLAIN = handle.read()
    return PLAIN


def _gzip() -> bytes:
    return gzip.compress(_plain(), mtime=0)


def flipped(data: bytes, at: int) -> bytes:
    damaged = bytearray(data)
    damaged[at] ^= 0xFF
    return bytes(damaged)


def framed(*records: bytes) -> bytes:
    """Records framed as TFRecords (valid lengths and CRCs), whatever their bytes."""
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        with open(write_records(f"{folder}/r", [RECORDS[0], *records]), "rb") as handle:
            return handle.read()


LAST = 5 * FRAMED  # where the last record starts
# name -> (file name, bytes): files that must never be read as less (or other) data
DAMAGED = {
    "flip in the first length": ("a.tfrecord", lambda: flipped(_plain(), 2)),
    "flip in the first length CRC": ("a.tfrecord", lambda: flipped(_plain(), 9)),
    "flip in the first data": ("a.tfrecord", lambda: flipped(_plain(), 14)),
    "flip in a middle record's data": ("a.tfrecord", lambda: flipped(_plain(), 2 * FRAMED + 20)),
    "flip in the last data CRC": ("a.tfrecord", lambda: flipped(_plain(), len(_plain()) - 1)),
    "cut in the last length": ("a.tfrecord", lambda: _plain()[:LAST + 4]),
    "cut in the last length CRC": ("a.tfrecord", lambda: _plain()[:LAST + 10]),
    "cut in the last data": ("a.tfrecord", lambda: _plain()[:LAST + 15]),
    "cut in the last data CRC": ("a.tfrecord", lambda: _plain()[:-2]),
    "cut in a middle record": ("a.tfrecord", lambda: _plain()[:2 * FRAMED + 7]),
    "gzip cut in half": ("a.gz", lambda: _gzip()[:len(_gzip()) // 2]),
    "gzip without its trailer": ("a.gz", lambda: _gzip()[:-8]),
    "gzip cut in its trailer": ("a.gz", lambda: _gzip()[:-3]),
    "gzip flipped": ("a.gz", lambda: flipped(_gzip(), len(_gzip()) // 2)),
    "gzip of two members": ("a.gz", lambda: _gzip() + _gzip()),
    "gzip followed by zeros": ("a.gz", lambda: _gzip() + bytes(64)),
    "gzip followed by 4 zeros": ("a.gz", lambda: _gzip() + bytes(4)),
    "gzip followed by 3 zeros": ("a.gz", lambda: _gzip() + bytes(3)),
    "gzip followed by a block of zeros": ("a.gz", lambda: _gzip() + bytes(4096)),
    "gzip followed by text": ("a.gz", lambda: _gzip() + b"padding\n"),
    "gzip whose trailer says 0 bytes": ("a.gz", lambda: _gzip()[:-4] + bytes(4)),
    "zeros named .gz": ("a.gz", lambda: bytes(100)),
    "plain data named .gz": ("a.gz", _plain),
    "gzip data not named .gz": ("a.tfrecord", _gzip),
    "text": ("a.tfrecord", lambda: b"x,y\n1.0,2.0\n" * 20),
    "not UTF-8 bytes in a record": ("a.tfrecord", lambda: framed(b"\xff\xfe\x00garbage\x80")),
    "text in a record": ("a.tfrecord", lambda: framed(b"hello, not a protocol buffer")),
    "JSON in a record": ("a.tfrecord", lambda: framed(b'{"x": 1.0}')),
    "a cut tf.Example in a record": ("a.tfrecord", lambda: framed(RECORDS[1][:-3])),
}
# Records that frame well but are not tf.Examples: TensorFlow's parse error names no record.
NOT_EXAMPLES = {"not UTF-8 bytes in a record", "text in a record", "JSON in a record",
                "a cut tf.Example in a record"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("damaged")
    (root / "spec.feat").write_text(SPEC, encoding="utf-8")
    write_records(root / "good.tfrecord", RECORDS)
    return root


def damaged_file(folder, case: str) -> str:
    name, make = DAMAGED[case]
    case_folder = folder / case.replace(" ", "_").replace("'", "").replace(".", "")
    case_folder.mkdir(exist_ok=True)
    path = case_folder / name
    path.write_bytes(make())
    return str(path)


@pytest.fixture(scope="module")
def loaded(folder):
    return skewless.load(str(folder / "spec.feat"), stats={"z/zscore": {"mean": 0, "std": 1}})


@pytest.fixture(scope="module")
def generated(folder):
    stats = folder / "stats.json"
    assert cli.main(["analyze", str(folder / "spec.feat"), "--data",
                     str(folder / "good.tfrecord"), "-o", str(stats)]) == 0
    module = folder / "spec_features.py"
    assert cli.main(["compile", str(folder / "spec.feat"), "--stats", str(stats),
                     "-o", str(module)]) == 0
    return import_module(module, "damaged_data_features")


def commands(folder, data: list) -> dict:
    spec = str(folder / "spec.feat")
    return {
        "compile --data": ["compile", spec, "--data", *data, "-o", str(folder / "out.py")],
        "analyze": ["analyze", spec, "--data", *data, "-o", str(folder / "out.json")],
        "check --data": ["check", spec, "--data", *data, "--examples", "0"],
    }


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_every_command_names_the_damaged_file(folder, case, capsys):
    path = damaged_file(folder, case)
    for command, argv in commands(folder, [str(folder / "good.tfrecord"), path]).items():
        assert cli.main(argv) == 1, (command, case)
        err = capsys.readouterr().err
        assert path in err, (command, case, err)
        assert "Traceback" not in err
    assert not (folder / "out.py").exists() and not (folder / "out.json").exists()


def _read_all(features, data, compression="auto"):
    return sum(int(tf.shape(batch[1]["y"])[0])
               for batch in features.input_fn(data, batch_size=4, shuffle=False,
                                              compression=compression))


@pytest.mark.parametrize("case", sorted(set(DAMAGED) - NOT_EXAMPLES))
@pytest.mark.parametrize("which", ["loaded", "generated"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_input_fn_names_the_damaged_file(folder, case, which, shuffle, request):
    features = request.getfixturevalue(which)
    path = damaged_file(folder, case)
    data = [str(folder / "good.tfrecord"), path]
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        for _ in features.input_fn(data, batch_size=4, shuffle=shuffle, seed=1):
            pass
    assert f"{path}: cannot read record" in info.value.message


@pytest.mark.parametrize("case", sorted(NOT_EXAMPLES))
def test_input_fn_stops_at_a_record_that_is_not_an_example(folder, case, loaded):
    path = damaged_file(folder, case)
    with pytest.raises((tf.errors.InvalidArgumentError, UnicodeDecodeError)):
        _read_all(loaded, [str(folder / "good.tfrecord"), path])


def _zlib(cut_after: int = 0) -> bytes:
    """The records as one ZLIB stream, flushed after each record; with ``cut_after``, cut
    right after that many whole records, before the stream's end."""
    stream, data, framed_at = zlib.compressobj(), b"", []
    for start in range(0, len(_plain()), FRAMED):
        data += stream.compress(_plain()[start:start + FRAMED]) + stream.flush(zlib.Z_SYNC_FLUSH)
        framed_at.append(len(data))
    return data[:framed_at[cut_after - 1]] if cut_after else data + stream.flush()


ZLIB_DAMAGED = {
    "cut in half": lambda: _zlib()[:len(_zlib()) // 2],
    "cut between two records": lambda: _zlib(cut_after=3),
    "cut after its last record, before the end of the stream": lambda: _zlib(cut_after=6),
    "without its checksum": lambda: _zlib()[:-4],
    "flipped": lambda: flipped(_zlib(), len(_zlib()) // 2),
    "plain data": _plain,
    "gzip data": _gzip,
    "followed by a second stream": lambda: _zlib() + _zlib(),
    "followed by an empty stream": lambda: _zlib() + zlib.compress(b""),
    "followed by a zero": lambda: _zlib() + bytes(1),
    "followed by text": lambda: _zlib() + b"padding\n",
}


@pytest.mark.parametrize("case", sorted(ZLIB_DAMAGED))
@pytest.mark.parametrize("shuffle", [False, True])
def test_input_fn_names_a_damaged_zlib_file(folder, loaded, case, shuffle):
    """A ZLIB stream records no length: it is decompressed once more to find it, and a
    stream that ends before its end marker is cut short, even between two records."""
    good, path = folder / "good.zlib", folder / f"zlib_{case.replace(' ', '_')}"
    good.write_bytes(_zlib())
    path.write_bytes(ZLIB_DAMAGED[case]())
    assert _read_all(loaded, [str(good)], compression="ZLIB") == len(RECORDS)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        for _ in loaded.input_fn([str(good), str(path)], batch_size=4, shuffle=shuffle, seed=1,
                                 compression="ZLIB"):
            pass
    assert f"{path}: cannot read record" in info.value.message


def test_an_empty_zlib_stream_holds_no_records(folder, loaded):
    good, path = folder / "good.zlib", folder / "empty.zlib"
    good.write_bytes(_zlib())
    path.write_bytes(zlib.compress(b""))
    with pytest.raises(DataError, match="every file is empty"):
        loaded.input_fn(str(path), compression="ZLIB")
    assert _read_all(loaded, [str(good), str(path)], compression="ZLIB") == len(RECORDS)


def test_the_error_gives_the_record_and_byte_offset(folder, loaded, capsys):
    path = damaged_file(folder, "flip in a middle record's data")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=f"{path}: cannot read record 2 \\(at byte {2 * FRAMED}\\)"):
        _read_all(loaded, [path])
    path = damaged_file(folder, "cut in the last length")
    argv = commands(folder, [path])["analyze"]
    assert cli.main(argv) == 1
    assert f"{path}: cannot read record 5 (at byte {LAST})" in capsys.readouterr().err
    path = damaged_file(folder, "not UTF-8 bytes in a record")
    assert cli.main(commands(folder, [path])["analyze"]) == 1
    assert f"{path}: record 1: not a tf.train.Example" in capsys.readouterr().err


PADDED = ["gzip followed by zeros", "gzip followed by 4 zeros", "gzip followed by 3 zeros",
          "gzip followed by a block of zeros", "gzip followed by text"]


@pytest.mark.parametrize("case", PADDED)
def test_a_padded_gzip_file_alone_is_named_at_its_end(folder, loaded, generated, case, capsys):
    """Alone, a padded GZIP file is not taken for an empty one: every record is read, then
    the error names the file at the end of its data."""
    path = damaged_file(folder, case)
    at = f"{path}: cannot read record {len(RECORDS)} (at byte {len(_plain())} of the GZIP data)"
    for features in (loaded, generated):
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            _read_all(features, [path])
        assert at in info.value.message
    for command, argv in commands(folder, [path]).items():
        assert cli.main(argv) == 1, command
        err = capsys.readouterr().err
        assert at in err and "Traceback" not in err, (command, err)


def test_an_empty_gzip_member_followed_by_zeros_holds_no_records(folder, loaded):
    padded = folder / "empty_padded.gz"
    padded.write_bytes(gzip.compress(b"", mtime=0) + bytes(64))
    with pytest.raises(DataError, match="every file is empty"):
        loaded.input_fn([str(padded)])
    assert _read_all(loaded, [str(padded), str(folder / "good.tfrecord")]) == len(RECORDS)


def test_a_directory_is_named(folder, loaded, capsys):
    directory = folder / "a_directory"
    directory.mkdir(exist_ok=True)
    data = [str(folder / "good.tfrecord"), str(directory)]
    for command, argv in commands(folder, data).items():
        assert cli.main(argv) == 1, command
        err = capsys.readouterr().err
        assert f"{directory}: is a directory" in err and "Traceback" not in err
    with pytest.raises(DataError, match="is a directory"):
        loaded.input_fn(data)


def test_empty_data_is_an_error_and_an_empty_file_among_others_is_not(folder, loaded,
                                                                       generated, capsys):
    empty = folder / "empty.tfrecord"
    empty.write_bytes(b"")
    empty_gz = folder / "empty.gz"
    empty_gz.write_bytes(gzip.compress(b""))
    for data in ([str(empty)], [str(empty_gz)], [str(empty), str(empty_gz)]):
        for command, argv in commands(folder, data).items():
            assert cli.main(argv) == 1, command
            err = capsys.readouterr().err
            assert err.startswith("no records in ") and "Traceback" not in err
            assert all(path in err for path in data), err
        for features in (loaded, generated):
            with pytest.raises(DataError, match="^no records in .*every file is empty") as info:
                features.input_fn(data)
            assert all(path in str(info.value) for path in data)
    mixed = [str(empty), str(folder / "good.tfrecord"), str(empty_gz)]
    for features in (loaded, generated):
        assert _read_all(features, mixed) == len(RECORDS)
    assert cli.main(commands(folder, mixed)["analyze"]) == 0
    capsys.readouterr()


def test_good_gzip_and_plain_files_are_read_whole(folder, loaded):
    good_gz = folder / "good.gz"
    good_gz.write_bytes(_gzip())
    assert _read_all(loaded, [str(good_gz), str(folder / "good.tfrecord")]) == 2 * len(RECORDS)


def test_the_command_line_shows_no_traceback_for_damaged_data(folder):
    path = damaged_file(folder, "gzip cut in half")
    result = subprocess.run(
        [sys.executable, "-m", "skewless", *commands(folder, [path])["compile --data"]],
        capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 1
    assert path in result.stderr and "Traceback" not in result.stderr


def test_the_beam_engine_names_a_cut_file(folder, capsys):
    pytest.importorskip("apache_beam")
    path = damaged_file(folder, "gzip without its trailer")
    argv = commands(folder, [str(folder / "good.tfrecord"), path])["analyze"] + ["--runner", "beam"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"{path}: cannot read record" in err and "Traceback" not in err
