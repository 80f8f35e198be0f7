"""Large vocabularies are written as asset files beside the generated module; tokens that
a text file cannot hold as a line (empty, line breaks) survive the round trip."""
import importlib.util
import os
import threading

import numpy as np
import pytest
import tensorflow as tf

import skewless
from skewless import cli
from skewless.codegen import VOCABULARY_INLINE_LIMIT
from skewless.errors import ExportError

SPECIAL = ["", "a\nb", "c\r", "x\\ny", "x\ny", "\\e", "tab\tinside", "é", " lead"]


def _write_records(path, tokens):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for token in tokens:
            example = tf.train.Example()
            example.features.feature["tok"].bytes_list.value.append(token.encode("utf-8"))
            writer.write(example.SerializeToString())


def _import(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _compile_words(folder, tokens, feature: str, *extra_args: str):
    """``w.feat`` (``input tok: string`` and ``feature``) compiled with data holding each of
    ``tokens`` once into ``folder/w_features.py``: the compile arguments and the asset file."""
    data = folder / "train.tfrecord"
    _write_records(data, tokens)
    spec = folder / "w.feat"
    spec.write_text(f"input tok: string\n{feature}\n")
    args = ["compile", str(spec), "--data", str(data), "-o", str(folder / "w_features.py"),
            *extra_args]
    assert cli.main(args) == 0
    [asset] = (folder / "w_features_assets").glob("id-*.vocab")
    return args, asset


def _ids(features, tokens):
    raw = {"tok": tf.constant([t.encode("utf-8") for t in tokens])}
    return features.raw_serving_input_receiver_fn()(raw)["id"].numpy()


def test_large_vocabulary_round_trips_through_an_asset_file(tmp_path):
    tokens = SPECIAL + [f"t{i:05d}" for i in range(VOCABULARY_INLINE_LIMIT + 50)]
    data = tmp_path / "train.tfrecord"
    _write_records(data, tokens)  # each token once: the order is by ascending bytes
    spec = tmp_path / "toks.feat"
    spec.write_text("input tok: string\nfeature id = vocab(tok, oov_buckets=1)\n")
    out = tmp_path / "out" / "toks_features.py"

    assert cli.main(["compile", str(spec), "--data", str(data), "-o", str(out)]) == 0

    [asset] = (out.parent / "toks_features_assets").glob("id-*.vocab")
    assert str(asset.name) in out.read_text()
    assert "t00001" not in out.read_text()  # the vocabulary is not inline
    expected_order = sorted(tokens, key=lambda t: t.encode("utf-8"))
    expected = {t: i for i, t in enumerate(expected_order)}
    queries = tokens + ["never seen", "a\\nb"]
    want = np.array([expected.get(t, len(tokens)) for t in queries])

    generated = _import(out)
    np.testing.assert_array_equal(_ids(generated, queries), want)
    loaded = skewless.load(str(spec), data=[str(data)])
    np.testing.assert_array_equal(_ids(loaded, queries), want)


def test_module_stays_valid_when_moved_with_its_assets(tmp_path):
    tokens = [f"w{i}" for i in range(VOCABULARY_INLINE_LIMIT + 1)]
    data = tmp_path / "train.tfrecord"
    _write_records(data, tokens)
    spec = tmp_path / "w.feat"
    spec.write_text("input tok: string\nfeature id = vocab(tok, oov_buckets=0)\n")
    out = tmp_path / "a" / "w_features.py"
    assert cli.main(["compile", str(spec), "--data", str(data), "-o", str(out)]) == 0
    moved = tmp_path / "b"
    os.rename(out.parent, moved)
    module = _import(moved / "w_features.py")
    order = sorted(tokens, key=lambda t: t.encode("utf-8"))
    got = _ids(module, [order[0], order[-1], "unknown"])
    np.testing.assert_array_equal(got, [0, len(tokens) - 1, -1])


def test_check_reports_a_changed_asset_as_stale(tmp_path, capsys):
    tokens = [f"w{i}" for i in range(VOCABULARY_INLINE_LIMIT + 1)]
    args, asset = _compile_words(tmp_path, tokens, "feature id = vocab(tok)")
    out = tmp_path / "w_features.py"
    assert cli.main(args + ["--check"]) == 0
    asset.write_bytes(asset.read_bytes() + b"extra\n")
    assert cli.main(args + ["--check"]) == 1
    err = capsys.readouterr().err
    assert f"{asset} is different" in err and f"{out} is different" not in err
    asset.unlink()
    assert cli.main(args + ["--check"]) == 1
    err = capsys.readouterr().err
    assert f"{asset} is missing" in err and f"{out} is missing" not in err


def test_unknown_tokens_of_an_escaped_asset_vocabulary_get_the_in_memory_buckets(tmp_path):
    """An asset vocabulary whose tokens need escaping (here "") looks tokens up escaped, but
    an unknown token's bucket is the hash of the token itself: the ids equal those of
    tf.lookup.StaticVocabularyTable over the same vocabulary in memory, and skewless.load's."""
    from skewless_test_helpers import compile_both

    vocabulary = ["", "a\\b"] + [f"t{i}" for i in range(VOCABULARY_INLINE_LIMIT)]
    literal = ", ".join('"' + token.replace("\\", "\\\\") + '"' for token in vocabulary)
    for oov_buckets in (1, 5):
        text = (f"input tok: string\n"
                f"feature id = lookup(tok, vocabulary=[{literal}], oov_buckets={oov_buckets})\n")
        loaded, module = compile_both(text, tmp_path / f"oov{oov_buckets}", f"oov{oov_buckets}")
        assert module.COLUMNS and os.listdir(tmp_path / f"oov{oov_buckets}" / f"oov{oov_buckets}_assets")
        reference = tf.lookup.StaticVocabularyTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(vocabulary), tf.range(len(vocabulary), dtype=tf.int64)), oov_buckets)
        tokens = ["", "a\\b", "t7", "zzz", "x\ny", "a\\\\b", "\\e", "é", "t1000"]
        expected = reference.lookup(tf.constant(tokens)).numpy()
        assert list(expected[:3]) == [0, 1, 9]
        assert np.array_equal(_ids(module, tokens), expected)
        assert np.array_equal(_ids(loaded, tokens), expected)


def _swap_first_two_lines(data: bytes) -> bytes:
    first, second, rest = data.split(b"\n", 2)
    return b"\n".join([second, first, rest])


# Ways a vocabulary file can change between a module's import and an export: other ids
# for some tokens (same size or not), or no file at all.
ASSET_CHANGES = {
    "two tokens swap ids": lambda path: path.write_bytes(_swap_first_two_lines(path.read_bytes())),
    "a token appended": lambda path: path.write_bytes(path.read_bytes() + b"extra\n"),
    "the last token cut": lambda path: path.write_bytes(path.read_bytes()[:-3]),
    "emptied": lambda path: path.write_bytes(b""),
    "one byte changed": lambda path: path.write_bytes(b"x" + path.read_bytes()[1:]),
    "deleted": lambda path: path.unlink(),
    "replaced by a folder": lambda path: (path.unlink(), path.mkdir()),
    "replaced by a pipe": lambda path: (path.unlink(), os.mkfifo(path)),
}
GONE = ("deleted", "replaced by a folder", "replaced by a pipe")


def _restore(path, data: bytes) -> None:
    if path.is_dir():
        path.rmdir()
    elif path.exists() and not path.is_file():
        path.unlink()
    path.write_bytes(data)


def _export_error(model, features, base):
    """The ExportError that exporting raises, waiting at most a minute (reading a pipe
    would wait forever)."""
    outcome = []

    def export():
        try:
            skewless.export_saved_model(model, features, base)
            outcome.append(None)
        except ExportError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=export, daemon=True)
    thread.start()
    thread.join(60)
    assert outcome and outcome[0] is not None, "no ExportError within a minute"
    return outcome[0]


@pytest.fixture(scope="module")
def imported_asset_module(tmp_path_factory):
    """A generated module whose vocabulary is an asset file, imported, and a model on it."""
    import keras

    tmp = tmp_path_factory.mktemp("asset_export")
    tokens = [f"w{i:04d}" for i in range(VOCABULARY_INLINE_LIMIT + 20)]
    _, asset = _compile_words(tmp, tokens, "feature id = vocab(tok, oov_buckets=2)")
    module = _import(tmp / "w_features.py")
    inputs = module.keras_inputs()
    model = keras.Model(inputs, keras.ops.cast(inputs["id"], "float32"))
    return module, model, asset, tokens


@pytest.mark.parametrize("change", sorted(ASSET_CHANGES))
def test_an_asset_changed_after_import_is_refused_at_export(imported_asset_module, tmp_path,
                                                            change):
    """The module's tables hold the vocabulary read at import; an export copies the file as
    it is then. A changed file would serve other ids than training used, a deleted one a
    SavedModel that cannot load: both are an ExportError naming the file, and no version."""
    module, model, asset, _ = imported_asset_module
    original = asset.read_bytes()
    ASSET_CHANGES[change](asset)
    try:
        error = _export_error(model, module, tmp_path / "models")
    finally:
        _restore(asset, original)
    assert str(asset) in str(error)
    assert ("gone or not a regular file" if change in GONE
            else "changed since its module was imported") in str(error)
    assert not os.path.exists(tmp_path / "models") or os.listdir(tmp_path / "models") == []


def test_an_unchanged_asset_exports_and_serves_the_modules_ids(imported_asset_module, tmp_path):
    module, model, asset, tokens = imported_asset_module
    path = skewless.export_saved_model(model, module, tmp_path / "models")
    [exported] = os.listdir(os.path.join(path, "assets"))
    assert exported == asset.name
    with open(os.path.join(path, "assets", exported), "rb") as handle:
        assert handle.read() == asset.read_bytes()
    queries = [tokens[0], tokens[-1], tokens[7], "unknown", ""]
    served = tf.saved_model.load(path).signatures["serving_default"](
        tok=tf.constant([q.encode("utf-8") for q in queries]))
    np.testing.assert_array_equal(served["output"].numpy(), _ids(module, queries))
    np.testing.assert_array_equal(served["output"].numpy()[:3], [0, len(tokens) - 1, 7])


def test_an_asset_that_cannot_be_read_is_an_export_error(imported_asset_module, tmp_path,
                                                         monkeypatch):
    """As a user without permission to read it meets it (simulated: tests may run as root,
    who reads any file)."""
    from skewless import files

    module, model, asset, _ = imported_asset_module

    def unreadable(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(files, "sha256_of_file", unreadable)
    error = _export_error(model, module, tmp_path / "models")
    assert f"{asset}: asset file of the features cannot be read (Permission denied)" in str(error)


def test_the_copies_an_export_wrote_are_checked_too(imported_asset_module, tmp_path):
    """Whatever happens between the check of the sources and the copy, the copies in the
    written version are checked against the SHA-256 of the import before it is published."""
    from skewless.export import check_assets, read_saved_model

    module, model, asset, _ = imported_asset_module
    path = skewless.export_saved_model(model, module, tmp_path / "models")
    check_assets(path, read_saved_model(path))
    copy = os.path.join(path, "assets", asset.name)
    for change, message in ((lambda: open(copy, "ab").write(b"x\n"), "changed since"),
                            (lambda: os.remove(copy), "gone or not a regular file")):
        change()
        with pytest.raises(ExportError, match=message):
            check_assets(path, read_saved_model(path))


@pytest.mark.parametrize("change", GONE)
def test_a_model_asset_that_is_not_a_regular_file_is_refused(tmp_path, change):
    """Any asset the SavedModel would carry (here a model's own vocabulary file, not a
    module's) must be a regular file: tf.saved_model.save leaves out a source that is gone
    and waits forever on a pipe."""
    from skewless_test_helpers import file_vocabulary_model

    vocabulary = tmp_path / "words.txt"
    vocabulary.write_text("a\nb\n")
    model, features = file_vocabulary_model(vocabulary)
    ASSET_CHANGES[change](vocabulary)
    error = _export_error(model, features, tmp_path / "models")
    assert f"{vocabulary}: asset file of the model is not a regular file" in str(error)
    assert not os.path.exists(tmp_path / "models") or os.listdir(tmp_path / "models") == []
