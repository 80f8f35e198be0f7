"""TensorFlow and numpy, imported when they are first used rather than when skewless is.

Checking and compiling a spec that reads no data touches neither, so those commands start in
a fraction of a second; ops, the runtime and the analyzers use ``tf`` and ``np`` from here,
and the module is imported the first time one of its names is looked up."""
from __future__ import annotations

import importlib
import os
import sys

QUIET_IMPORT = False  # set by the command line: first use imports TensorFlow quietly


def import_tensorflow():
    """The ``tensorflow`` module, imported now if it is not yet (quietly with
    ``QUIET_IMPORT``)."""
    module = sys.modules.get("tensorflow")
    if module is not None:
        return module
    return import_tensorflow_quietly() if QUIET_IMPORT else importlib.import_module("tensorflow")


def import_tensorflow_quietly():
    """Import TensorFlow without its native start-up messages (CUDA probing, oneDNN notices),
    which it writes to stderr before its log level applies; returns the module."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            return importlib.import_module("tensorflow")
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _LazyModule:
    """Stands for a module: the first attribute looked up imports it (``tf.math.exp``)."""

    def __init__(self, name: str, importer):
        self._name = name
        self._import = importer

    def __getattr__(self, attribute: str):
        return getattr(self._import(), attribute)

    def __repr__(self) -> str:
        return f"<{self._name}, imported on first use>"


tf = _LazyModule("tensorflow", import_tensorflow)
np = _LazyModule("numpy", lambda: importlib.import_module("numpy"))


def import_beam(module: str):
    """The ``apache_beam`` module, for ``module`` (a skewless module that needs it); a
    ModuleNotFoundError saying so, and how to install it, when Apache Beam is not installed
    (it is an optional dependency)."""
    try:
        return importlib.import_module("apache_beam")
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(f"{module} needs Apache Beam: pip install 'skewless[beam]'",
                                  name=exc.name) from exc
