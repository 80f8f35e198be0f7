"""Numbered version directories, as TF Serving watches them: ``BASE/<version>/``.

A version is written into a temporary directory inside BASE whose name is not a number
(TF Serving ignores it), then renamed, so a server polling BASE never loads half a model.
Old versions leave the same way: renamed to a temporary name, then deleted. Temporary
folders that killed exports left behind are deleted by the next export. Versions are Unix
seconds, and always above every existing version, so the newest export is the one TF
Serving serves even after a clock step backwards. Folders get the permissions of a user's
own folders (0o777 less the umask)."""
from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import time
from typing import Callable, Optional

from .errors import ExportError
from .files import left_by_dead_process, owner_tag

_VERSION = re.compile(r"[0-9]+")
_DELETING = ".tmp-delete-"  # + version + random: an old version being deleted
_STAGING = ".tmp-export-"  # + pid@host + random: a version being written


def versions(base: str) -> list[int]:
    """The version numbers under ``base``, oldest first."""
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return []
    return sorted(int(name) for name in names
                  if _VERSION.fullmatch(name) and os.path.isdir(os.path.join(base, name)))


def write_version(base: str, write: Callable[[str], None], keep: Optional[int]) -> str:
    """Call ``write(directory)`` on a fresh temporary directory inside ``base``, move it to
    the next version, and delete all but the newest ``keep`` versions (None: keep all).
    Returns the new version's path."""
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
        raise ExportError(f"keep must be a positive number of versions or None, got {keep!r}")
    try:
        os.makedirs(base, exist_ok=True)
        _remove_leftovers(base)
        staging = _new_folder(base, f"{_STAGING}{owner_tag()}-")
    except OSError as exc:
        raise ExportError(f"cannot write to {base}: {exc.strerror}") from None
    try:
        write(staging)
        path = _move_to_next_version(staging, base)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if keep is not None:
        for old in versions(base)[:-keep]:
            _delete_version(base, old)
    return path


def _new_folder(base: str, prefix: str) -> str:
    """A new folder ``base/prefix<8 hex digits>`` with mode 0o777 less the umask (which the
    kernel applies; ``tempfile.mkdtemp`` would give 0o700)."""
    while True:
        path = os.path.join(base, prefix + secrets.token_hex(4))
        try:
            os.mkdir(path, 0o777)
            return path
        except FileExistsError:
            continue


def _delete_version(base: str, version: int) -> None:
    """Rename the version away in one step (TF Serving then sees it gone), then delete it."""
    doomed = os.path.join(base, f"{_DELETING}{version}-{secrets.token_hex(4)}")
    try:
        os.rename(os.path.join(base, str(version)), doomed)
    except FileNotFoundError:  # another export deleted it meanwhile
        return
    shutil.rmtree(doomed)


def _remove_leftovers(base: str) -> None:
    """Delete what killed exports left: versions being deleted, and versions being
    written by a process of this host that no longer runs."""
    for name in os.listdir(base):
        if name.startswith(_DELETING) or left_by_dead_process(name, _STAGING):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)


def _move_to_next_version(staging: str, base: str) -> str:
    existing = versions(base)
    version = max(int(time.time()), existing[-1] + 1 if existing else 0)
    while True:
        path = os.path.join(base, str(version))
        if not os.path.exists(path):
            try:
                os.rename(staging, path)
                return path
            except OSError as exc:  # another export took this version meanwhile
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        version += 1
