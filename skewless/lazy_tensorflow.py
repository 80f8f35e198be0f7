"""TensorFlow, imported when it is first used rather than when skewless is imported.

Checking and compiling a spec that reads no data never touches TensorFlow, so those commands
start in a fraction of a second; ops, the runtime and the analyzers use ``tf`` from here and
TensorFlow is imported the first time they build a tensor."""
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


class _LazyTensorFlow:
    """Stands for the ``tensorflow`` module: ``tf.math.exp`` imports TensorFlow on first use."""

    def __getattr__(self, name: str):
        return getattr(import_tensorflow(), name)

    def __repr__(self) -> str:
        return "<tensorflow, imported on first use>"


tf = _LazyTensorFlow()
