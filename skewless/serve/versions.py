"""The versions of the served model: which are on disk, which are loaded, which one answers
a request that names no version.

Like TF Serving, versions are the numbered directories under the base directory, and the
newest one serves. A poll (every second) notices new versions; a new version is loaded
completely before it replaces the old one, and requests already holding the old one finish
on it (a request keeps a reference to its ``Servable``). If the newest version fails to
load, the one serving now goes on serving. A version a client asks for by number is loaded
on demand and kept while its directory exists."""
from __future__ import annotations

import os
import sys
import threading
from typing import Callable, Optional

from .limits import Limits
from .servable import Servable
from .status import not_found

_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def holds_saved_model(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, name)) for name in _MODEL_FILES)


def versions_on_disk(base_dir: str) -> dict[int, str]:
    """Version number → directory, for each numbered directory holding a SavedModel."""
    try:
        names = os.listdir(base_dir)
    except OSError:
        return {}
    found = {}
    for name in names:
        path = os.path.join(base_dir, name)
        if name.isascii() and name.isdigit() and holds_saved_model(path):
            found[int(name)] = path
    return found


def _fingerprint(path: str) -> tuple:
    """Changes when any file of the directory does: a version that failed to load (say,
    copied in file by file) is tried again once it changes."""
    entries = []
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                stat = os.stat(os.path.join(folder, name))
            except OSError:
                continue
            entries.append((os.path.relpath(os.path.join(folder, name), path), stat.st_size,
                            stat.st_mtime_ns))
    return tuple(sorted(entries))


class Versions:
    def __init__(self, name: str, base_dir: str, limits: Limits,
                 log: Callable[[str], None] = lambda message: print(message, file=sys.stderr,
                                                                    flush=True)):
        self.name = name
        self.base_dir = base_dir
        self.limits = limits
        self._log = log
        self._lock = threading.Lock()  # guards the fields below
        self._loaded: dict[int, Servable] = {}
        self._latest: Optional[int] = None
        self._requested: set[int] = set()
        self._failed: dict[int, tuple] = {}  # version → (fingerprint, message)
        self._load_locks: dict[int, threading.Lock] = {}

    # ---- what requests see ----------------------------------------------------------------

    def resolve(self, name: str, version: Optional[int] = None) -> Servable:
        """The servable answering a request for model ``name`` (and ``version``, if given)."""
        wanted = f"Latest({name})" if version is None else f"Specific({name}, {version})"
        if name != self.name:
            raise not_found(f"Servable not found for request: {wanted}: this server serves "
                            f"model {self.name!r}")
        if version is None:
            with self._lock:
                if self._latest is not None:
                    return self._loaded[self._latest]
            raise not_found(f"Servable not found for request: {wanted}: no version of "
                            f"{self.name!r} is loaded")
        path = versions_on_disk(self.base_dir).get(version)
        if path is None:
            raise not_found(f"Servable not found for request: {wanted}: there is no version "
                            f"{version}")
        servable = self._load(version, path)
        if servable is None:
            with self._lock:
                failed = self._failed.get(version)
            reason = failed[1] if failed else "its folder is gone"
            raise not_found(f"Servable not found for request: {wanted}: version {version} "
                            f"failed to load: {reason}")
        with self._lock:
            self._requested.add(version)
        return servable

    def states(self) -> dict[int, Optional[str]]:
        """Each version loaded (→ None) or failed to load (→ the error)."""
        with self._lock:
            states = {version: message for version, (_, message) in self._failed.items()}
            states.update({version: None for version in self._loaded})
            return states

    # ---- following the directory ----------------------------------------------------------

    def poll(self) -> None:
        """Serve the newest version that loads; forget versions whose folder is gone."""
        on_disk = versions_on_disk(self.base_dir)
        self._forget(on_disk)
        for version in sorted(on_disk, reverse=True):
            if version == self._latest:
                break
            if self._load(version, on_disk[version]) is not None:
                with self._lock:
                    previous, self._latest = self._latest, version
                self._log(f"serving {self.name} version {version}"
                          + ("" if previous is None else f" (was {previous})"))
                break
        else:
            if self._latest is not None:
                self._log(f"no version of {self.name} left to serve under {self.base_dir}")
            with self._lock:
                self._latest = None

    def _forget(self, on_disk: dict) -> None:
        """Unload what no request can ask for any more: versions neither serving nor asked
        for by number, and those whose folder is gone. The serving version stays until
        another replaces it, even if its folder is deleted. Requests holding an unloaded
        version still finish on it."""
        with self._lock:
            self._requested &= set(on_disk)
            keep = self._requested | {self._latest}
            for version in list(self._loaded):
                if version not in keep:
                    del self._loaded[version]
            for records in (self._failed, self._load_locks):
                for version in list(records):
                    if version not in on_disk:
                        del records[version]

    def _load(self, version: int, path: str) -> Optional[Servable]:
        """The loaded version, loading it once however many threads ask; None if it failed
        (and has not changed on disk since)."""
        with self._lock:
            lock = self._load_locks.setdefault(version, threading.Lock())
        with lock:
            with self._lock:
                if version in self._loaded:
                    return self._loaded[version]
                failed = self._failed.get(version)
            fingerprint = _fingerprint(path)
            if failed is not None and failed[0] == fingerprint:
                return None
            try:
                servable = Servable(version, path, self.limits.max_batch_size)
            except Exception as error:  # a broken SavedModel must not stop the server
                message = f"{type(error).__name__}: {error}".splitlines()[0]
                with self._lock:
                    self._failed[version] = (fingerprint, message)
                self._log(f"cannot load {self.name} version {version} from {path}: {message}")
                return None
            with self._lock:
                self._failed.pop(version, None)
                self._loaded[version] = servable
            return servable
