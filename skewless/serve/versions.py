"""The versions of one served model: which are on disk, which its version policy serves,
which are loaded, which one answers a request that names no version.

Like TF Serving, versions are the numbered directories under the base directory, and the
newest one served answers requests that name no version. A poll (every second) notices new
versions; a new version is loaded completely before it replaces the old one, and requests
already holding the old one finish on it (a request keeps a reference to its ``Servable``).
If a version the policy selects fails to load, the next one it allows serves instead (for
``latest``: the next older version). Without a policy (a model given by ``--model_name``),
the newest version serves and a version a client asks for by number is loaded on demand and
kept while its directory exists; with one (``--model_config_file``), only the versions it
serves answer, as in TF Serving."""
from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Optional

from .limits import Limits
from .servable import Servable
from .status import not_found

_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def holds_saved_model(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, name)) for name in _MODEL_FILES)


def base_dir_problem(base_dir: str) -> Optional[str]:
    """Why ``base_dir`` cannot be a model's base path (None if it can)."""
    if not os.path.isdir(base_dir):
        return (f"{base_dir} is not a directory: give the folder that holds the model's "
                f"numbered version folders")
    if holds_saved_model(base_dir):
        parent = os.path.dirname(os.path.abspath(base_dir))
        return (f"{base_dir} is a SavedModel, one version of a model: give the folder that "
                f"holds the numbered version folders ({parent})")
    return None


@dataclass(frozen=True)
class VersionPolicy:
    """TF Serving's ``ServableVersionPolicy``: the ``latest`` versions on disk that load
    (``latest {num_versions: N}``), or, with ``latest`` None, every version on disk that
    loads among ``specific`` (``specific {versions: …}``), or among all (``all {}``, when
    ``specific`` is None too)."""

    latest: Optional[int] = 1
    specific: Optional[frozenset] = None

    def candidates(self, on_disk) -> list[int]:
        """The versions of ``on_disk`` it may serve, newest first."""
        return sorted((version for version in on_disk
                       if self.specific is None or version in self.specific), reverse=True)

    def __str__(self) -> str:
        if self.latest is not None:
            return f"latest {self.latest}"
        if self.specific is not None:
            return "specific " + ", ".join(map(str, sorted(self.specific)))
        return "all"


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
    """One model's versions. ``policy`` None: the newest version serves, and any other
    version on disk is loaded when a request names it."""

    def __init__(self, name: str, base_dir: str, limits: Limits,
                 log: Callable[[str], None] = lambda message: print(message, file=sys.stderr,
                                                                    flush=True),
                 policy: Optional[VersionPolicy] = None, batcher=None):
        """``batcher``: a ``batching.Batcher`` running the versions' signatures, if any."""
        self.name = name
        self._batcher = batcher
        self.base_dir = base_dir
        self.limits = limits
        self.policy = policy or VersionPolicy()
        self._on_request = policy is None
        self._log = log
        self._lock = threading.Lock()  # guards the fields below
        self._loaded: dict[int, Servable] = {}
        self._served: tuple[int, ...] = ()  # what the policy serves, newest first
        self._requested: set[int] = set()
        self._failed: dict[int, tuple] = {}  # version → (fingerprint, message)
        self._load_locks: dict[int, threading.Lock] = {}

    # ---- what requests see ----------------------------------------------------------------

    def resolve(self, version: Optional[int] = None) -> Servable:
        """The servable answering a request for ``version`` (None: the newest served)."""
        wanted = (f"Latest({self.name})" if version is None
                  else f"Specific({self.name}, {version})")
        with self._lock:
            if version is None and self._served:
                return self._loaded[self._served[0]]
            if version in self._served:
                return self._loaded[version]
            failed = self._failed.get(version)
        if version is None:
            raise not_found(f"Servable not found for request: {wanted}: no version of "
                            f"{self.name!r} is loaded")
        if not self._on_request:
            reason = (f"it failed to load: {failed[1]}" if failed else
                      f"the model's version policy ({self.policy}) serves "
                      f"{_listed(self.served()) or 'no version now'}")
            raise not_found(f"Servable not found for request: {wanted}: {reason}")
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

    def served(self) -> tuple[int, ...]:
        """The versions the policy serves now, newest first."""
        with self._lock:
            return self._served

    def states(self) -> dict[int, Optional[str]]:
        """Each version loaded (→ None) or failed to load (→ the error)."""
        with self._lock:
            states = {version: message for version, (_, message) in self._failed.items()}
            states.update({version: None for version in self._loaded})
            return states

    # ---- following the directory ----------------------------------------------------------

    def poll(self) -> None:
        """Serve what the policy selects among the versions on disk that load; unload the
        rest, and forget versions whose folder is gone."""
        on_disk = versions_on_disk(self.base_dir)
        serving = []
        for version in self.policy.candidates(on_disk):
            if len(serving) == self.policy.latest:
                break
            if self._load(version, on_disk[version]) is not None:
                serving.append(version)
        with self._lock:
            previous, self._served = self._served, tuple(serving)
        self._forget(on_disk)
        if serving and tuple(serving) != previous:
            self._log(f"serving {self.name} version{'s' * (len(serving) > 1)} "
                      f"{_listed(serving)}" + (f" (was {_listed(previous)})" if previous else ""))
        elif previous and not serving:
            self._log(f"no version of {self.name} left to serve under {self.base_dir}")

    def _forget(self, on_disk: dict) -> None:
        """Unload what no request can ask for any more: versions neither served nor asked
        for by number, and those whose folder is gone. Requests holding an unloaded version
        still finish on it."""
        with self._lock:
            self._requested &= set(on_disk)
            keep = self._requested | set(self._served)
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
                servable = Servable(version, path, self.limits.max_batch_size, self.name,
                                    self._batcher)
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


def _listed(versions) -> str:
    return ", ".join(map(str, sorted(versions)))
