"""skewless: define features, labels and preprocessing once in a .feat file and compile
them into TensorFlow training and serving code that cannot skew.

The public API (each name's own documentation follows below, in ``help(skewless)``):

- ``load(path, stats=None, data=None)``: the compiled features of a spec, computed by
  interpreting it (the object a generated module exposes: ``input_fn``, serving receivers).
- ``check_file(path)``, ``check_source(source, path)``: parse and check a spec; the checked
  graph, or SpecError listing every problem.
- ``export_saved_model(model, features, export_dir_base, heads=None, ...)``: export a Keras
  model with the serving transform of ``features`` as a SavedModel version for TF Serving.
- ``ClassificationHead``, ``RegressionHead``, ``PredictHead``: the signatures an export
  serves (TF Serving's Classify, Regress and Predict APIs).
- ``SkewlessError`` (a user's mistake) and its kinds ``SpecError``, ``DataError``,
  ``ExportError``.
- ``skewless.testing``: hypothesis strategies for records and specs, and
  ``assert_no_skew``.

TensorFlow is imported on first use of the API (not by ``import skewless``), so the command
line starts quickly and can quieten TensorFlow's start-up logging first; ``help(skewless)``
imports it to show every name's documentation."""
from .errors import DataError, ExportError, SkewlessError, SpecError

__all__ = ["load", "check_file", "check_source", "export_saved_model", "ClassificationHead",
           "RegressionHead", "PredictHead", "SpecError", "DataError", "ExportError", "SkewlessError"]

_LAZY = {"load": "compiler", "check_file": "compiler", "check_source": "compiler",
         "export_saved_model": "export", "ClassificationHead": "heads",
         "RegressionHead": "heads", "PredictHead": "heads"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module 'skewless' has no attribute {name!r}")


def __dir__():
    """The module's names and the API's, which are imported on first use (pydoc and
    completion list them)."""
    return sorted(set(globals()) | set(__all__) | {"__version__"})


def _installed_version() -> str:
    """The installed distribution's version; ``0+unknown`` for sources that are not
    installed."""
    from importlib import metadata

    try:
        return metadata.version("skewless")
    except metadata.PackageNotFoundError:
        return "0+unknown"
