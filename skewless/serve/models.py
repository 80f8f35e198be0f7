"""The models one server serves, by name, with their version labels: which servable
answers a request's ``ModelSpec`` (name, and version number or version label).

As in TF Serving, a label is resolved to its version number first, then that version must
be served: an unknown label is INVALID_ARGUMENT ("Unrecognized servable version label"), a
label whose version is not served is NOT_FOUND, as is an unknown model."""
from __future__ import annotations

from typing import Optional

from .limits import Limits
from .servable import Servable
from .status import invalid, not_found
from .versions import Versions


class Models:
    def __init__(self, models: list[Versions], limits: Limits,
                 labels: Optional[dict[str, dict[str, int]]] = None):
        """``labels``: model name → label → version number."""
        self.limits = limits
        self._models = {versions.name: versions for versions in models}
        self._labels = labels or {}

    @property
    def names(self) -> list[str]:
        return list(self._models)

    def __iter__(self):
        return iter(self._models.values())

    def poll(self) -> None:
        for versions in self:
            versions.poll()

    def version_of(self, name: str, label: str) -> int:
        """The version number ``label`` names for model ``name``; INVALID_ARGUMENT if it
        names none."""
        version = self._labels.get(name, {}).get(label)
        if version is None:
            known = ", ".join(sorted(self._labels.get(name, {})))
            raise invalid(f"Unrecognized servable version label: {label}"
                          + (f" (model {name!r} has labels {known})" if known else
                             f" (model {name!r} has no version labels)"))
        return version

    def model(self, name: str, missing: str) -> Versions:
        """The model ``name``; NOT_FOUND, with the message ``missing`` (and the names
        served), if this server does not serve it."""
        versions = self._models.get(name)
        if versions is None:
            served = ", ".join(repr(known) for known in self._models)
            raise not_found(f"{missing}: this server serves "
                            f"model{'s' * (len(self._models) > 1)} {served}")
        return versions

    def resolve(self, name: str, version: Optional[int] = None, label: str = "") -> Servable:
        """The servable answering a request for model ``name``, at ``version`` or at the
        version ``label`` names (neither: the newest served)."""
        if label:
            version = self.version_of(name, label)
        wanted = f"Latest({name})" if version is None else f"Specific({name}, {version})"
        return self.model(name, f"Servable not found for request: {wanted}").resolve(version)
