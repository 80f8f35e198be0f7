"""CSV files as data: the same records written as CSV and as TFRecord files of tf.Examples
give bit-identical tensors from ``input_fn`` and identical analyzer constants (properties
over generated specs and records); values read as docs/usage.md says (examples computed by
hand); and every kind of bad CSV named by file, line and column, by every entry point."""
from __future__ import annotations

import gzip
import struct
import tempfile

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings, strategies as st

import skewless
from skewless import csv_records, csv_values
from skewless.analyze import analyze
from skewless.cli import main
from skewless.errors import DataError
from skewless.testing import batches, edge_records, serialize, spec_sources

from csv_writing import expressible, text as float_text, write_csv
from property_budget import BUDGET, count
from skewless_test_helpers import KNOWN_BAD_NAMES, QUIET, write_records

pytestmark = pytest.mark.usefixtures("quiet_tensorflow")

SPEC_CASES = max(4, BUDGET.max_examples // 6)  # each loads a spec and traces input_fn twice


def _bits(value):
    """A tensor as comparable bits: dtype, shape and bytes (NaN payloads and -0.0 kept)."""
    if isinstance(value, tf.SparseTensor):
        return ("sparse", _bits(value.indices), _bits(value.values), _bits(value.dense_shape))
    if isinstance(value, tf.RaggedTensor):
        return ("ragged", _bits(value.row_splits), _bits(value.flat_values))
    if isinstance(value, dict):
        return {name: _bits(item) for name, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_bits(item) for item in value)
    array = value.numpy()
    data = array.tolist() if array.dtype == object else array.tobytes()
    return array.dtype.str, array.shape, data


def _input_bits(features, pattern, batch_size=7):
    return [_bits(batch) for batch in
            features.input_fn(pattern, batch_size=batch_size, shuffle=False)]


def _both(folder, records, columns):
    """The records written as a CSV file and as a TFRecord file of tf.Examples."""
    records = [expressible(record, columns) for record in records]
    return (write_csv(f"{folder}/data.csv", records, columns),
            write_records(f"{folder}/data.tfrecord", serialize(records, columns)))


# ---- the properties --------------------------------------------------------------------------


@settings(max_examples=SPEC_CASES, suppress_health_check=QUIET)
@given(st.data())
def test_csv_rows_give_the_tensors_of_their_tf_examples(data):
    """Any spec, any records (the edge records included): input_fn over the CSV file and
    over the TFRecord file of the same records gives bit-identical batches."""
    text = data.draw(spec_sources(avoid_names=KNOWN_BAD_NAMES), label="spec")
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/spec.feat"
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        features = skewless.load(path)
        records = data.draw(batches(features.columns, max_size=12), label="records")
        records += edge_records(features.columns)
        csv_file, tfrecord_file = _both(folder, records, features.columns)
        assert _input_bits(features, csv_file) == _input_bits(features, tfrecord_file)
    count("CSV rows as tf.Examples", 1)


ANALYZED = """\
input i: int64
input f: float32 = 0.5
input s: string = "none"
input tags: string[]
input w: float32[2] = [0, 1]
input codes: sparse int64[8] from (code_at, code)
input b: bool = false
label y: float32
feature i_z = zscore(i)
feature f_range = minmax(f)
feature s_id = vocab(s, oov_buckets=1)
feature tag_ids = tags | vocab(top_k=5) | pad(length=2, value=-1)
feature w_q = bucketize(w, quantiles=3)
feature code_z = dense(codes) | zscore
feature b_id = cast(b, int64) | vocab
target y_z = zscore(y)
"""


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    path = tmp_path_factory.mktemp("analyzed") / "analyzed.feat"
    path.write_text(ANALYZED, encoding="utf-8")
    return skewless.check_file(str(path))


@settings(max_examples=max(4, BUDGET.max_examples // 4), suppress_health_check=QUIET)
@given(st.data())
def test_csv_rows_give_the_analyzer_constants_of_their_tf_examples(analyzed, data):
    """Every analyzer, over any records: the stats of the CSV file and of the TFRecord file
    of the same records are the same text (constants, values seen, NaN skipped)."""
    records = data.draw(batches(analyzed.columns, max_size=20), label="records")
    records += edge_records(analyzed.columns)
    with tempfile.TemporaryDirectory() as folder:
        csv_file, tfrecord_file = _both(folder, records, analyzed.columns)
        from_csv = analyze(analyzed, csv_file, batch_size=16, progress=False)
        from_examples = analyze(analyzed, tfrecord_file, batch_size=16, progress=False)
    assert from_csv.to_json() == from_examples.to_json()
    assert from_csv.rows == len(records)


@settings(max_examples=BUDGET.max_examples * 20)
@given(st.one_of(st.floats(width=64), st.floats(width=32).map(lambda x: x * (1 + 2**-30)),
                 st.floats(-1e-37, 1e-37)))
def test_float_text_rounds_to_the_float32_numpy_gives(value):
    """Rounding a float64 to float32 (done in integers, as TensorFlow's threads flush
    subnormals to zero) equals numpy's cast, in this thread, bit for bit; an overflow is an
    error."""
    text = float_text(value, "float32")
    with np.errstate(over="ignore"):
        expected = np.array([value]).astype(np.float32)
    if np.isinf(expected[0]) and not np.isinf(value):
        with pytest.raises(csv_values.BadValue, match="beyond float32"):
            csv_values.PARSE["float32"](text)
        return
    if np.isnan(value):
        expected = np.array([np.copysign(np.nan, value)], np.float32)
    bits = csv_values.PARSE["float32"](text)
    assert bits == expected.view(np.uint32)[0], (text, hex(bits))


@pytest.mark.parametrize("field, dtype, expected", [
    ("a|b", "string", ["a", "b"]), ("a\\|b|c\\\\d", "string", ["a|b", "c\\d"]),
    ("\\e", "string", [""]), ("\\e|\\e", "string", ["", ""]), ("|", "string", ["", ""]),
    ("1|2", "int64", ["1", "2"]), ("a\\|b", "int64", ["a\\", "b"]),  # numbers: no escapes
])
def test_list_fields_split_as_documented(field, dtype, expected):
    assert csv_values.pieces(field, dtype) == expected


@pytest.mark.parametrize("field", ["a\\x", "x\\e", "\\ea", "a\\"])
def test_unknown_escapes_in_string_lists_are_errors(field):
    with pytest.raises(csv_values.BadValue, match="unknown escape"):
        csv_values.pieces(field, "string")


# ---- values, by hand ---------------------------------------------------------------------------

VALUES_SPEC = """\
input n: int64
input x: float32 = 2.5
input s: string = "default"
input flag: bool = false
input tags: string[]
input ids: int64[]
input pair: float32[2] = 7
input vec: sparse float32[6] from (at, val)
label y: float32
feature n_ = n
feature x_ = x
feature s_ = s
feature flag_ = flag
feature tags_ = pad(tags, length=3, value="<none>")
feature ids_ = pad(ids, length=2, value=-1)
feature pair_ = pair
feature vec_ = dense(vec)
target y_ = y
"""


@pytest.fixture(scope="module")
def values_spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("values") / "values.feat"
    path.write_text(VALUES_SPEC, encoding="utf-8")
    return skewless.load(str(path))


def _one_batch(features, path):
    (batch,) = list(features.input_fn(path, batch_size=100, shuffle=False))
    return {name: value.numpy() for part in batch for name, value in part.items()}


def _f32(bits: int) -> np.float32:
    return np.frombuffer(struct.pack("<I", bits), np.float32)[0]


def test_values_are_read_as_documented(values_spec, tmp_path):
    # header in another order than the spec, with a column no spec reads; CRLF line ends,
    # a byte order mark, blank lines, a quoted field holding a line break and a comma
    text = ("\ufeffy,extra,n,x,s,flag,tags,ids,pair,at,val\r\n"
            "1,zz, 42 ,0.1,plain,TRUE,a\\|b|c\\\\d,1|-2,1|2,0|5,0.5|-1\r\n"
            "\r\n"
            '2,,-9223372036854775808,,,0,,,,,\r\n'
            '3,,+7,1.000000059604644775390625,"two\nlines, one field",1,\\e,,,,\r\n'
            "4,,9223372036854775807,-inf,,false,|,,,,\r\n"
            "5,,0,1.000000059604644800000001,,,,,,,\r\n"
            "6,,1,-nan,,,,,,,\r\n")
    path = tmp_path / "values.csv"
    path.write_bytes(text.encode("utf-8"))
    got = _one_batch(values_spec, str(path))
    assert got["n_"].tolist() == [42, -(2**63), 7, 2**63 - 1, 0, 1]
    x = got["x_"]
    # 0.1 → float64 → float32 0x3DCCCCCD; the default; a float32 halfway (1 + 2**-24)
    # rounds to even (1.0); 1.000000059604644800000001 reads as the float64 1 + 2**-24 first,
    # so it too gives 1.0 (the nearest float32 of the decimal is 1 + 2**-23)
    assert x[:5].tobytes() == np.array([_f32(0x3DCCCCCD), 2.5, 1.0, -np.inf, 1.0],
                                       np.float32).tobytes()
    assert x[5].view(np.uint32) == 0xFFC00000  # -nan: the quiet NaN with the sign bit
    assert got["s_"].tolist() == [b"plain", b"default", b"two\nlines, one field",
                                  b"default", b"default", b"default"]
    assert got["flag_"].tolist() == [True, False, True, False, False, False]
    assert got["tags_"].tolist() == [[b"a|b", b"c\\d", b"<none>"],
                                     [b"<none>"] * 3, [b"", b"<none>", b"<none>"],
                                     [b"", b"", b"<none>"], [b"<none>"] * 3, [b"<none>"] * 3]
    assert got["ids_"].tolist() == [[1, -2], [-1, -1], [-1, -1], [-1, -1], [-1, -1], [-1, -1]]
    assert got["pair_"].tolist() == [[1, 2]] + [[7, 7]] * 5
    assert got["vec_"].tolist()[0] == [0.5, 0, 0, 0, 0, -1]
    assert got["vec_"].tolist()[1:] == [[0.0] * 6] * 5
    assert got["y_"].tolist() == [1, 2, 3, 4, 5, 6]


def test_gzip_csv_files_are_read_and_files_in_sorted_order(values_spec, tmp_path):
    head = "n,y\n"
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress((head + "3,0\n4,0\n").encode(), mtime=0))
    (tmp_path / "a.csv").write_text(head + "1,0\n2,0\n", encoding="utf-8")
    (tmp_path / "c.CSV").write_text(head, encoding="utf-8")  # a header, no rows
    (tmp_path / "d.csv").write_bytes(b"")  # nothing at all: no rows
    (tmp_path / "e.Csv.GZ").write_bytes(gzip.compress((head + "5,0\n").encode(), mtime=0))
    got = _one_batch(values_spec, str(tmp_path / "*"))
    assert got["n_"].tolist() == [1, 2, 3, 4, 5]


def test_csv_and_tfrecord_files_together_are_an_error(values_spec, tmp_path):
    (tmp_path / "a.csv").write_text("n,y\n1,0\n", encoding="utf-8")
    write_records(tmp_path / "b.tfrecord", [])
    with pytest.raises(DataError, match=r"mixes CSV files \(.*a\.csv\) and TFRecord files "
                                        r"\(.*b\.tfrecord\)"):
        values_spec.input_fn(str(tmp_path / "*"))
    spec = tmp_path / "spec.feat"
    spec.write_text("input n: int64\nfeature m = minmax(n)\n", encoding="utf-8")
    with pytest.raises(DataError, match="mixes CSV files"):
        skewless.load(str(spec), data=str(tmp_path / "*"))


def test_every_csv_file_empty_is_an_error(values_spec, tmp_path):
    (tmp_path / "a.csv").write_bytes(b"")
    with pytest.raises(DataError, match="every file is empty"):
        values_spec.input_fn(str(tmp_path / "a.csv"))


# ---- bad CSV, each named by file, line and column --------------------------------------------

BAD_SPEC = """\
input n: int64
input x: float32 = 0.0
input s: string
input v: int64[]
input w: float32[2] = 0.0
label y: float32
feature a = n
feature b = x
feature c = s
feature d = count(v)
feature e = w
target t = y
"""
HEADER = "n,x,s,v,w,y\n"
GOOD = "1,2,a,3,4|5,6\n"  # line 2 of every case below: the faults are on line 3

# name: (the file's bytes, the message after "bad CSV: FILE:"), columns counted by hand
BAD = {
    "too many fields": (GOOD + "1,2,a,3,4|5,6,7\n", "3:15: too many fields: 7, the header has 6"),
    "too few fields": (GOOD + "1,2,a,3,4|5\n", "3:12: too few fields: 5, the header has 6"),
    "unparsable int": (GOOD + "1.5,2,a,3,4|5,6\n", "3:1: field 1 (n): not an int64: 1.5"),
    "unparsable float": (GOOD + "1,abc,a,3,4|5,6\n", "3:3: field 2 (x): not a float32: abc"),
    "int64 overflow": (GOOD + "9223372036854775808,2,a,3,4|5,6\n",
                       "3:1: field 1 (n): 9223372036854775808 is outside int64"),
    "float32 overflow": (GOOD + "1,1e39,a,3,4|5,6\n", "3:3: field 2 (x): 1e39 is beyond float32"),
    "unparsable list value": (GOOD + "1,2,a,3|x,4|5,6\n", "3:7: field 4 (v): not an int64: x"),
    "wrong count of a fixed shape": (GOOD + "1,2,a,3,4|5|6,6\n",
                                     "3:9: field 5 (w): 3 values, the column has 2"),
    "unterminated quote": (GOOD + '1,2,"abc,3,4|5,6\n',
                           "3:5: bad quoting: a quoted field is not closed"),
    "text after a closing quote": (GOOD + '1,2,"a"b,3,4|5,6\n', "3:8: bad quoting: a closing "
                                                                "quote must be followed"),
    "a carriage return ending a line": (GOOD + "1,2,a,3,4|5,6\r1,2,a,3,4|5,6\n",
                                        "3:13: bad quoting: a carriage return (CR) outside "
                                        "quotes: lines must end with LF or CR LF"),
    "empty required field": (GOOD + ",2,a,3,4|5,6\n",
                             "3:1: field 1 (n): empty, and the column has no default"),
    "not UTF-8": (GOOD.encode() + b"1,2,a\xff,3,4|5,6\n", "3:6: not UTF-8 text (byte 0xff"),
    "a fault on the second line of a record": (GOOD + '1,2,"a\nb",x,4|5,6\n',
                                               "4:4: field 4 (v): not an int64: x"),
}
BAD_HEADERS = {
    "missing header column": ("n,x,v,w,y\n1,2,3,4|5,6\n",
                              "1: the header has no column s, which the spec requires"),
    "header column twice": ("n,x,s,v,w,y,n\n" + GOOD, "1:13: the header names n twice "
                                                      "(fields 1 and 7)"),
}
CASES = {**{name: ((HEADER.encode() + (body if isinstance(body, bytes) else body.encode())),
                   message) for name, (body, message) in BAD.items()},
         **{name: (body.encode(), message) for name, (body, message) in BAD_HEADERS.items()}}


@pytest.fixture(scope="module")
def bad_spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad") / "bad.feat"
    path.write_text(BAD_SPEC, encoding="utf-8")
    return path


def _bad_file(folder, name: str):
    data, message = CASES[name]
    path = folder / "bad data.csv"
    path.write_bytes(data)
    return path, f"bad CSV: {path}:{message}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_csv_is_named_by_file_line_and_column(name, tmp_path, bad_spec):
    path, expected = _bad_file(tmp_path, name)
    with pytest.raises(DataError) as raised:
        list(csv_records.examples(str(path), skewless.check_file(str(bad_spec)).columns))
    assert str(raised.value).startswith(expected), (str(raised.value), expected)


@pytest.mark.parametrize("name", sorted(CASES))
def test_input_fn_names_the_bad_csv_file_line_and_column(name, tmp_path, bad_spec):
    path, expected = _bad_file(tmp_path, name)
    features = skewless.load(str(bad_spec))
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        list(features.input_fn([str(path)], batch_size=1, shuffle=False))
    assert expected in raised.value.message


@pytest.mark.parametrize("name", ["unparsable float", "unterminated quote"])
@pytest.mark.parametrize("command", ["analyze", "check", "convert"])
def test_every_command_names_the_bad_csv_without_a_traceback(name, command, tmp_path, bad_spec,
                                                             capsys):
    path, expected = _bad_file(tmp_path, name)
    spec = tmp_path / "spec.feat"  # an analyzer reads every column, so each pass meets it
    spec.write_text(BAD_SPEC + "feature q = zscore(x + cast(n, float32) + count(v))\n"
                    "feature r = vocab(s)\n", encoding="utf-8")
    output = tmp_path / "out"
    argv = {"analyze": ["analyze", str(spec), "--data", str(path), "-o", str(output)],
            "check": ["check", str(spec), "--data", str(path), "--examples", "0"],
            "convert": ["convert", str(path), "--spec", str(spec), "-o", str(output)]}[command]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not output.exists()


def test_the_beam_engine_reads_csv_and_names_bad_csv(tmp_path, analyzed):
    from skewless.analyze.beam import analyze as analyze_on_beam

    records = edge_records(analyzed.columns)
    csv_file, _ = _both(tmp_path, records, analyzed.columns)
    local = analyze(analyzed, csv_file, progress=False)
    assert analyze_on_beam(analyzed, csv_file).to_json() == local.to_json()
    bad = tmp_path / "bad.csv"
    bad.write_text("i,y\n1,0\n1,x\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^bad CSV: {bad}:3:3: field 2 \(y\): not a float32"):
        analyze_on_beam(analyzed, str(bad))


def test_a_cut_gzip_csv_file_is_named(values_spec, tmp_path):
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(b"n,y\n" + b"1,2\n" * 1000, mtime=0)[:-12])
    with pytest.raises(DataError, match=rf"^bad CSV: {path}: not a whole GZIP file"):
        list(csv_records.examples(str(path), values_spec.columns))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a whole GZIP file"):
        list(values_spec.input_fn(str(path), shuffle=False))
