"""Analyzers' constants from training data: phases, the local engine, the stats file.

The local engine (``analyze``, which reads data with TensorFlow) is imported when it is first
used, so that reading or writing a stats file costs no import of the engine."""
from .phases import phases
from .stats import Stats, read_stats, write_stats

__all__ = ["analyze", "phases", "Stats", "read_stats", "write_stats"]


def __getattr__(name: str):
    if name == "analyze":
        from .local import analyze

        return analyze
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
