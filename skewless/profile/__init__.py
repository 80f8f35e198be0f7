"""Profiles of data sets: the statistics of every input and feature of a spec (see
docs/usage.md, "Profiles"), and the records that break the spec."""
from .accumulators import Settings
from .file import Profile, read_profile, write_profile
from .local import MAX_ERRORS, Result, profile

__all__ = ["MAX_ERRORS", "Profile", "Result", "Settings", "profile", "read_profile",
           "write_profile"]
