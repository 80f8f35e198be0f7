"""Atomic output: a file is either its old self or its complete new self, never partial;
a generated module and its asset files change together.

Files get the permissions a user's own files get (0o666 less the umask).

A file is written under a temporary name, ``.tmp-PID@HOST-RANDOM``, in its folder, then
renamed. Temporary files that a killed write left behind are removed by the next write of a
module, its assets or a stats file to the same folder: those of this host whose process no
longer runs (a live process's, or another host's, are left alone)."""
from __future__ import annotations

import codecs
import contextlib
import errno
import hashlib
import os
import re
import secrets
from typing import Optional

from .ast import Pos
from .errors import AssetError, Collector, SkewlessError, SpecError

# An asset's name carries the start of its content's SHA-256: ``id-0123456789abcdef.vocab``.
ASSET_NAME = re.compile(r"(?P<stem>.+)-(?P<digest>[0-9a-f]{16})(?P<suffix>\.[a-z]+)")
TEMPORARY = ".tmp-"  # + owner_tag() + "-" + random hex digits: a file being written


def owner_tag() -> str:
    """``PID@HOST`` of this process, for the names of what it writes under a temporary name."""
    return f"{os.getpid()}@{_host()}"


def left_by_dead_process(name: str, prefix: str) -> bool:
    """Whether ``name`` is ``prefix + owner_tag() + "-" + hex digits`` of a process of this
    host that no longer runs (another host's processes cannot be known: False)."""
    found = re.fullmatch(re.escape(prefix) + r"(?P<pid>[0-9]+)@(?P<host>.+)-[0-9a-f]+", name)
    return bool(found) and found["host"] == _host() and not _running(
        int(found["pid"]))


def _host() -> str:
    """This host's name as ``socket.gethostname()`` gives it: on POSIX the node name of
    ``uname(2)``, read without importing socket (every command that writes calls this)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(folder: str) -> None:
    """Remove the temporary files that killed writes left in ``folder`` (best effort)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        if left_by_dead_process(name, TEMPORARY) and os.path.isfile(path):
            try:
                os.remove(path)
            except OSError:
                pass


def read_spec(path: str) -> str:
    """The text of a spec file: UTF-8 (a byte order mark before it is skipped), its
    ``\\r\\n`` and ``\\r`` line ends read as ``\\n``; SkewlessError when it cannot be read."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read()
    except FileNotFoundError:
        raise SkewlessError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except OSError as exc:
        raise SkewlessError(f"{path}: {exc.strerror}") from None


def _not_utf8(path: str, most: int = 20) -> SpecError:
    """Every byte sequence of the file that is not UTF-8 (the first ``most``), each at its
    line and column, the text shown with U+FFFD in their place."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    shown = raw.decode("utf-8", "replace")
    errors = Collector(path, shown)
    at = 0
    while len(errors.diagnostics) < most:
        try:
            raw[at:].decode("utf-8")
            break
        except UnicodeDecodeError as exc:
            start, end, reason = at + exc.start, at + exc.end, exc.reason
        line_start = raw.rfind(b"\n", 0, start) + 1
        line = raw.count(b"\n", 0, start) + 1
        column = len(raw[line_start:start].decode("utf-8", "replace")) + 1
        errors.error(Pos(line, column, line, column + 1),
                     f"not UTF-8 text: byte 0x{raw[start]:02x} ({reason}); save the "
                     f"file as UTF-8")
        at = end
    return SpecError(errors.diagnostics, shown)


def write_atomic(path: str, text: str, mode: Optional[int] = None) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), mode)


def write_bytes_atomic(path: str, data: bytes, mode: Optional[int] = None) -> None:
    """Write ``data`` to ``path`` atomically; ``mode``: the file's permissions (default:
    0o666 less the umask), e.g. those of the file it replaces."""
    with atomic_path(path, mode) as temporary:
        with open(temporary, "wb") as out:
            out.write(data)


@contextlib.contextmanager
def atomic_path(path: str, mode: Optional[int] = None):
    """The path of a new empty file, beside ``path``, for the block to write ``path``'s
    content to (by any writer, e.g. a ``tf.io.TFRecordWriter``): renamed to ``path`` when
    the block ends, removed if it raises. ``mode`` as in :func:`write_bytes_atomic`. An
    OSError naming ``path`` when it is a folder or another file that is not a regular one,
    or its folder cannot be made."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "is a folder: give the name of a file to write",
                                path)
    if os.path.exists(path) and not os.path.isfile(path):  # a device, a FIFO, a socket
        raise OSError(errno.EINVAL, "is not a regular file (it would be replaced by one): "
                      "give the name of a file to write", path)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:  # a file where a folder of the path should be
        raise OSError(exc.errno, f"cannot make its folder ({exc.filename}: {exc.strerror})",
                      path) from None
    handle, temporary = _new_file(directory)
    os.close(handle)
    try:
        yield temporary
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _new_file(directory: str) -> tuple[int, str]:
    """A new empty file with a temporary name; its mode is 0o666 less the umask (which the
    kernel applies), unlike ``tempfile.mkstemp``'s 0o600."""
    while True:
        path = os.path.join(directory, f"{TEMPORARY}{owner_tag()}-{secrets.token_hex(8)}")
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:
            continue


def asset_name(stem: str, data: bytes, suffix: str) -> str:
    """The content-addressed file name of an asset: a new content is a new file, so a
    module never reads an asset written for another module."""
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:16]}{suffix}"


def sha256_of_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# The SHA-256 of every asset a module of this process checked at import, and its path, by
# file name: names are content-addressed, so one name stands for one content. An export
# checks its sources and the copies it writes against it (``asset_error``).
_IMPORTED_ASSETS: dict[str, tuple[str, str]] = {}


def verified_asset(path: str, sha256: str) -> str:
    """``path``, once its content is checked against the SHA-256 the module was built with;
    remembered for ``asset_error``. Raises AssetError naming the file if it is
    missing or different."""
    try:
        found = sha256_of_file(path)
    except OSError as exc:
        raise AssetError(f"{path}: asset file of a generated module cannot be read "
                         f"({exc.strerror or exc}): keep the module with its _assets folder, "
                         f"or compile the spec again") from None
    if found != sha256:
        raise AssetError(f"{path}: asset file is not the one its module was generated with "
                         f"(SHA-256 {found[:16]}…, expected {sha256[:16]}…): compile the "
                         f"spec again")
    _IMPORTED_ASSETS[os.path.basename(path)] = (path, sha256)
    return path


def asset_error(path: str, exported: bool) -> Optional[str]:
    """What is wrong with an asset file of a SavedModel being written, or None: its source
    before ``tf.saved_model.save`` copies it, or (``exported``) the copy in the staging
    folder.

    The save copies each asset from its source, and leaves out a source that is gone
    (``builder_impl.copy_assets_to_destination_dir``); it waits forever on a pipe. So an
    asset must be a regular file, and a generated module's vocabulary file must hold what the
    module checked at import: the tables hold that vocabulary, which the model was trained
    with. Reported naming the module's file; any other asset by its path or name."""
    name = os.path.basename(path)
    source, sha256 = _IMPORTED_ASSETS.get(name, (None, None))
    if not os.path.isfile(path):
        if source is None:
            return (f"{name}: asset file of the model was not written to the SavedModel: its "
                    f"source file is gone" if exported else
                    f"{path}: asset file of the model is not a regular file")
        return (f"{source}: asset file of the features is gone or not a regular file since "
                f"its module was imported, so the SavedModel could not load: keep the module "
                f"with its _assets folder until the export is written")
    if sha256 is None:
        return None
    try:
        found = sha256_of_file(path)
    except OSError as exc:
        return f"{source}: asset file of the features cannot be read ({exc.strerror or exc})"
    if found != sha256:
        return (f"{source}: asset file changed since its module was imported (SHA-256 "
                f"{found[:16]}…, imported with {sha256[:16]}…): the module's tables hold "
                f"the vocabulary read at import, which the model was trained with; import the "
                f"module again in a new process (or compile the spec again) and train again")
    return None


def write_module(path: str, source: str, assets: dict, asset_folder: str = "") -> None:
    """Write a generated module and its asset files (relative to its folder).

    The assets are content-addressed and written first, then the module in one rename: an
    interrupted write leaves the old module with its own (old) assets, or the new module
    with its own. Temporary files of killed writes are removed from both folders first.
    Afterwards, content-addressed files of ``asset_folder`` (relative to the
    module's folder) that the new module does not use are removed (best effort)."""
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temporaries(folder)
    if asset_folder:
        remove_stale_temporaries(os.path.join(folder, asset_folder))
    for relative, data in sorted(assets.items()):
        write_bytes_atomic(os.path.join(folder, relative), data)
    write_atomic(path, source)
    if asset_folder:
        _remove_unused_assets(os.path.join(folder, asset_folder),
                              {os.path.normpath(os.path.join(folder, r)) for r in assets})


def _remove_unused_assets(asset_folder: str, used: set) -> None:
    try:
        names = os.listdir(asset_folder)
    except OSError:
        return
    for name in sorted(names):
        path = os.path.normpath(os.path.join(asset_folder, name))
        if ASSET_NAME.fullmatch(name) and path not in used:
            try:
                os.remove(path)
            except OSError:
                pass
    try:
        os.rmdir(asset_folder)  # only if nothing is left in it
    except OSError:
        pass


def differing_files(path: str, source: str, assets: dict) -> list[tuple[str, str]]:
    """The files of a generated module that are not as expected, each with why, as a phrase
    that follows the name ("is missing", "is different", "cannot be read: …"); in the order
    of their names."""
    folder = os.path.dirname(os.path.abspath(path))
    expected = {path: source.encode("utf-8")}
    expected.update({os.path.join(folder, rel): data for rel, data in assets.items()})
    stale = []
    for name, data in sorted(expected.items()):
        try:
            with open(name, "rb") as handle:
                if handle.read() != data:
                    stale.append((name, "is different"))
        except FileNotFoundError:
            stale.append((name, "is missing"))
        except OSError as exc:
            stale.append((name, f"cannot be read: {exc.strerror or exc}"))
    return stale
