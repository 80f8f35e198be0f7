"""Interrupted writes: a generated module and its vocabulary assets change together, an
export's garbage collection never leaves half a version, and exported folders get the
permissions of a user's own files. Kills are simulated by making the N-th file operation
raise, for every N."""
from __future__ import annotations

import importlib.util
import itertools
import os
import socket
import stat
import subprocess
import sys

import pytest
import tensorflow as tf

from skewless import cli, codegen, compiler, files, versions
from skewless.codegen import VOCABULARY_INLINE_LIMIT
from skewless.errors import AssetError

SPEC = ("input tok: string\n"
        "feature a = vocab(tok, oov_buckets=1)\n"
        "feature b = vocab(tok, oov_buckets=0)\n")
OLD_TOKENS = [f"old{i:05d}" for i in range(VOCABULARY_INLINE_LIMIT + 20)] + ["both", "z"]
NEW_TOKENS = [f"new{i:05d}" for i in range(VOCABULARY_INLINE_LIMIT + 40)] + ["both", "a0"]
QUERIES = ["both", "z", "a0", "old00003", "new00007", "neither"]


class Killed(BaseException):
    """What a SIGKILL looks like to the code that was running: nothing after it happens."""


def _write_records(path, tokens):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for token in tokens:
            example = tf.train.Example()
            example.features.feature["tok"].bytes_list.value.append(token.encode())
            writer.write(example.SerializeToString())


def _expected_ids(tokens):
    """Each token appears once, so the vocabulary is ordered by bytes: computed here."""
    ids = {t: i for i, t in enumerate(sorted(tokens, key=str.encode))}
    return ([ids.get(q, len(tokens)) for q in QUERIES],  # a: one OOV bucket
            [ids.get(q, -1) for q in QUERIES])  # b: default -1


def _generated(tmp_path, name, tokens):
    data = tmp_path / f"{name}.tfrecord"
    _write_records(data, tokens)
    spec = tmp_path / "toks.feat"
    spec.write_text(SPEC)
    graph, _ = compiler.constants_for(str(spec), data=[str(data)])
    return codegen.generate(graph, spec.name, module_name="toks_features")


_imports = itertools.count()


def _ids(module_path):
    spec = importlib.util.spec_from_file_location(f"toks_{next(_imports)}", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.raw_serving_input_receiver_fn()({"tok": tf.constant([q.encode() for q in QUERIES])})
    return out["a"].numpy().tolist(), out["b"].numpy().tolist()


@pytest.fixture(scope="module")
def old_and_new(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("generated")
    return _generated(tmp_path, "old", OLD_TOKENS), _generated(tmp_path, "new", NEW_TOKENS)


def _kill_at(monkeypatch, n):
    """Make the n-th file replacement or removal (counting from 0) raise Killed, so that
    it and everything after it never happen."""
    done = itertools.count()
    for name in ("replace", "remove"):
        real = getattr(os, name)

        def operation(*args, _real=real, **kwargs):
            if next(done) == n:
                raise Killed()
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, operation)


def _write(module_path, generated):
    files.write_module(str(module_path), generated.source, generated.assets,
                       generated.asset_folder)


def test_module_and_assets_change_together_whenever_the_write_is_killed(
        tmp_path, old_and_new, monkeypatch):
    old, new = old_and_new
    assert len(old.assets) == len(new.assets) == 2
    expected_old, expected_new = _expected_ids(OLD_TOKENS), _expected_ids(NEW_TOKENS)
    assert expected_old != expected_new and expected_old[0][0] != expected_new[0][0]
    outcomes = []
    for n in itertools.count():
        folder = tmp_path / str(n)
        module = folder / "toks_features.py"
        _write(module, old)
        with monkeypatch.context() as patch:
            _kill_at(patch, n)
            try:
                _write(module, new)
                killed = False
            except Killed:
                killed = True
        ids = _ids(module)
        assert ids in (expected_old, expected_new), f"killed at operation {n}: mixed ids {ids}"
        outcomes.append("old" if ids == expected_old else "new")
        if not killed:
            break
    # 2 assets, the module, 2 old assets removed: old until the module's rename, then new.
    assert outcomes == ["old"] * 3 + ["new"] * 3
    names = sorted(p.name for p in (tmp_path / str(n) / "toks_features_assets").iterdir())
    assert names == sorted(os.path.basename(r) for r in new.assets)


def test_unused_assets_are_removed_and_other_files_kept(tmp_path, old_and_new):
    old, new = old_and_new
    module = tmp_path / "toks_features.py"
    _write(module, old)
    folder = tmp_path / "toks_features_assets"
    (folder / "notes.txt").write_text("mine")
    _write(module, new)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [os.path.basename(r) for r in new.assets] + ["notes.txt"])
    (folder / "notes.txt").unlink()
    _write(module, codegen.Generated("X = 1\n", {}, new.asset_folder))  # no assets any more
    assert not folder.exists() and module.read_text() == "X = 1\n"


@pytest.mark.parametrize("damage", ["append", "truncate", "swap", "delete"])
def test_an_asset_that_is_not_the_modules_own_is_detected_at_import(tmp_path, old_and_new,
                                                                     damage):
    old, new = old_and_new
    module = tmp_path / "toks_features.py"
    _write(module, old)
    asset = tmp_path / sorted(old.assets)[0]
    if damage == "append":
        asset.write_bytes(asset.read_bytes() + b"zzz\n")
    elif damage == "truncate":
        asset.write_bytes(asset.read_bytes()[:-3])
    elif damage == "swap":  # another module's vocabulary under this name
        asset.write_bytes(new.assets[sorted(new.assets)[0]])
    else:
        asset.unlink()
    with pytest.raises(AssetError, match=f"{asset.name}.*compile the spec again"):
        _ids(module)


def test_compile_replaces_assets_and_check_still_works(tmp_path, capsys):
    spec = tmp_path / "toks.feat"
    spec.write_text(SPEC)
    out = tmp_path / "toks_features.py"
    for name, tokens in (("old", OLD_TOKENS), ("new", NEW_TOKENS)):
        data = tmp_path / f"{name}.tfrecord"
        _write_records(data, tokens)
        args = ["compile", str(spec), "--data", str(data), "-o", str(out)]
        assert cli.main(args) == 0
        assert cli.main(args + ["--check"]) == 0
    assert _ids(out) == _expected_ids(NEW_TOKENS)
    assets = sorted((tmp_path / "toks_features_assets").iterdir())
    assert len(assets) == 2 and all(files.ASSET_NAME.fullmatch(p.name) for p in assets)
    assets[0].write_bytes(b"x\n")
    assert cli.main(args + ["--check"]) == 1
    assert assets[0].name in capsys.readouterr().err


# ---- export versions --------------------------------------------------------------------------

def _write_tree(directory):
    os.makedirs(os.path.join(directory, "variables"))
    for name in ("saved_model.pb", "variables/variables.index", "variables/variables.data"):
        with open(os.path.join(directory, name), "w") as handle:
            handle.write(name)


TREE = ["saved_model.pb", "variables/variables.data", "variables/variables.index"]


def _tree(path):
    return sorted(os.path.relpath(os.path.join(folder, name), path)
                  for folder, _, names in os.walk(path) for name in names)


def _rmtree_killed_after(count):
    """shutil.rmtree that removes ``count`` files and then is killed."""

    def rmtree(path, *args, **kwargs):
        for folder, _, names in os.walk(path):
            for name in names:
                if rmtree.left == 0:
                    raise Killed()
                os.remove(os.path.join(folder, name))
                rmtree.left -= 1
        raise Killed()

    rmtree.left = count
    return rmtree


@pytest.mark.parametrize("removed", [0, 1, 2, 3])
def test_an_export_killed_while_deleting_old_versions_leaves_no_half_version(
        tmp_path, monkeypatch, removed):
    for version in ("100", "200", "300"):
        _write_tree(tmp_path / version)
    with monkeypatch.context() as patch:
        patch.setattr(versions.shutil, "rmtree", _rmtree_killed_after(removed))
        with pytest.raises(Killed):
            versions.write_version(str(tmp_path), _write_tree, keep=2)
    numbered = versions.versions(str(tmp_path))
    assert 100 not in numbered and len(numbered) == 3  # moved away in one rename
    for version in numbered:
        assert _tree(tmp_path / str(version)) == TREE
    leftovers = [n for n in os.listdir(tmp_path) if not n.isdigit()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".tmp-delete-")
    newest = versions.write_version(str(tmp_path), _write_tree, keep=2)  # cleans up
    assert sorted(os.listdir(tmp_path)) == sorted(
        [str(numbered[-1]), os.path.basename(newest)])


def test_an_export_killed_while_renaming_an_old_version_away_leaves_it_whole(
        tmp_path, monkeypatch):
    for version in ("100", "200"):
        _write_tree(tmp_path / version)
    real_rename, renames = os.rename, itertools.count()

    def rename(source, target):
        if os.path.basename(source) == "100" and next(renames) == 0:
            raise Killed()
        return real_rename(source, target)

    with monkeypatch.context() as patch:
        patch.setattr(os, "rename", rename)
        with pytest.raises(Killed):
            versions.write_version(str(tmp_path), _write_tree, keep=1)
    assert len(versions.versions(str(tmp_path))) == 3
    assert all(_tree(tmp_path / str(v)) == TREE for v in versions.versions(str(tmp_path)))


def test_staging_folders_of_dead_exports_are_cleaned_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    host = socket.gethostname()
    names = {
        f".tmp-export-{dead.stdout.strip()}@{host}-0123abcd": False,  # killed export
        f".tmp-export-{os.getpid()}@{host}-0123abcd": True,  # an export running now
        f".tmp-export-{dead.stdout.strip()}@another-host-0123abcd": True,  # unknowable
        ".tmp-delete-100-0123abcd": False,
        ".tmp-crashed": True,  # not ours
        "notes": True,
    }
    for name in names:
        _write_tree(tmp_path / name)
    newest = versions.write_version(str(tmp_path), _write_tree, keep=None)
    assert sorted(os.listdir(tmp_path)) == sorted(
        [name for name, kept in names.items() if kept] + [os.path.basename(newest)])


def _modes(path):
    found = {}
    for folder, folders, names in os.walk(path):
        for name in folders + names:
            found[os.path.relpath(os.path.join(folder, name), path)] = \
                stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode)
    return found


class _Tiny(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(2.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def double(self, x):
        return {"y": self.w * x}


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o027, 0o077])
def test_exported_versions_get_the_permissions_of_the_users_own_files(tmp_path, umask):
    def save(directory):
        tf.saved_model.save(_Tiny(), directory)

    previous = os.umask(umask)
    try:
        path = versions.write_version(str(tmp_path / "base"), save, keep=None)
        module = tmp_path / "m" / "features.py"
        files.write_module(str(module), "X = 1\n", {"m_assets/a-0123456789abcdef.vocab": b"a\n"})
    finally:
        os.umask(previous)
    version_modes = _modes(path)
    assert "saved_model.pb" in version_modes and "variables" in version_modes
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o777 & ~umask
    for name, mode in version_modes.items():
        if os.path.isdir(os.path.join(path, name)):  # TensorFlow makes them 0o755 less umask
            assert mode == 0o755 & ~umask, name
        else:
            assert mode == 0o666 & ~umask, name
    for written in (module, tmp_path / "m" / "m_assets" / "a-0123456789abcdef.vocab"):
        assert stat.S_IMODE(os.stat(written).st_mode) == 0o666 & ~umask


def _dead_pid() -> str:
    return subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _stale_and_kept(dead: str) -> dict:
    """Temporary-looking names -> whether a write must keep them."""
    host = socket.gethostname()
    return {
        f".tmp-{dead}@{host}-0123456789abcdef": False,  # a killed compile's
        f".tmp-{dead}@{host}-00ff": False,  # any number of hex digits
        f".tmp-{os.getpid()}@{host}-0123456789abcdef": True,  # a write running now
        f".tmp-{dead}@another-host-0123456789abcdef": True,  # unknowable
        f".tmp-{dead}@{host}-notahexnumber": True,  # not the pattern
        ".tmp-0123456789abcdef": True,  # no process named: not known to be stale
        f".tmp-export-{dead}@{host}-0123abcd": True,  # an export's folder name, as a file
        "notes.tmp": True,
    }


@pytest.mark.parametrize("command", ["compile", "compile with assets", "analyze"])
def test_temporary_files_of_killed_writes_are_removed_by_the_next_write(tmp_path, command,
                                                                         capsys):
    """A compile or analyze killed mid-write leaves ``.tmp-PID@HOST-…`` files; the next one
    writing to the same folder (and asset folder) removes those whose process is dead on
    this host, and nothing else."""
    tokens = NEW_TOKENS if command == "compile with assets" else ["a", "b"]
    data = tmp_path / "d.tfrecord"
    _write_records(data, tokens)
    spec = tmp_path / "toks.feat"
    spec.write_text(SPEC)
    names = _stale_and_kept(_dead_pid())
    out = tmp_path / "out"
    folders = [out, out / "toks_features_assets"] if command == "compile with assets" else [out]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            (folder / name).write_text("half a write")
    argv = (["analyze", str(spec), "--data", str(data), "-o", str(out / "toks.json")]
            if command == "analyze" else
            ["compile", str(spec), "--data", str(data), "-o", str(out / "toks_features.py")])
    assert cli.main(argv) == 0
    capsys.readouterr()
    for folder in folders:
        left = {name for name in os.listdir(folder) if name in names}
        assert left == {name for name, kept in names.items() if kept}, folder
    if command == "compile with assets":
        assert any(name.endswith(".vocab") for name in os.listdir(folders[1]))


def test_a_process_killed_mid_write_leaves_a_file_the_next_compile_removes(tmp_path, capsys):
    """A real kill (the process exits between writing and renaming): its temporary file
    carries its PID and host, and the next compile to the folder removes it."""
    module = tmp_path / "toks_features.py"
    killed = subprocess.run(
        [sys.executable, "-c", "import os, sys; from skewless import files; "
         "os.replace = lambda source, target: os._exit(9); "
         "files.write_atomic(sys.argv[1], 'half')", str(module)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, capture_output=True)
    assert killed.returncode == 9, killed.stderr
    left, = os.listdir(tmp_path)
    assert left.startswith(".tmp-") and f"@{socket.gethostname()}-" in left
    data = tmp_path / "d.tfrecord"
    _write_records(data, ["a", "b"])
    (tmp_path / "toks.feat").write_text(SPEC)
    assert cli.main(["compile", str(tmp_path / "toks.feat"), "--data", str(data),
                     "-o", str(module)]) == 0
    capsys.readouterr()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]
