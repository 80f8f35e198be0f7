"""Profiles of data sets: the statistics of every input and feature of a spec (see
docs/usage.md, "Profiles"), and the records that break the spec.

The package itself imports nothing heavy (``skewless --help`` reads ``MAX_ERRORS`` without
numpy); its names are imported from their modules when first used."""
import importlib

MAX_ERRORS = 100  # data errors kept (every one is counted)

_HOMES = {"Settings": "accumulators", "Profile": "file", "read_profile": "file",
          "write_profile": "file", "Result": "local", "profile": "local",
          "profile_request_log": "request_log"}

__all__ = ["MAX_ERRORS", *sorted(_HOMES)]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
