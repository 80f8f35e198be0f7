"""The models ``skewless serve`` serves: one given by ``--model_name`` and its base path,
or those of a model server config file (``--model_config_file``), TF Serving's
``ModelServerConfig`` in protobuf's text format, read by protobuf's own parser into the
message class of ``tensorflow-serving-api``:

    model_config_list {
      config {
        name: "flights"
        base_path: "/models/flights"
        model_platform: "tensorflow"
        model_version_policy { specific { versions: 1 versions: 2 } }
        version_labels { key: "stable" value: 1 }
        version_labels { key: "canary" value: 2 }
      }
    }

As in TF Serving, ``model_version_policy`` is ``latest {num_versions: N}`` (N 0 is 1; the
default when no policy is given: ``latest {num_versions: 1}``), ``specific {versions: …}``
or ``all {}``. Unlike TF Serving, which requires absolute paths, a relative ``base_path`` is
taken from the config file's folder. Every mistake is a ``SkewlessError`` naming the file,
the line and column for a syntax error, and the model otherwise; all of them at once."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Optional

from tensorflow_serving.config import model_server_config_pb2

from ..errors import SkewlessError
from .text_config import ConfigFileError, read_text_proto
from .versions import VersionPolicy

TENSORFLOW = "tensorflow"  # the one model_platform served
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")  # gs://bucket/…, s3://…, hdfs://…


class ModelConfigError(ConfigFileError):
    """A model config file that cannot be read or served as written."""


@dataclass(frozen=True)
class ModelConfig:
    """One model to serve. ``policy`` None: the newest version serves, and any other on
    disk is loaded when a request names it (a model given by ``--model_name``)."""

    name: str
    base_path: str
    policy: Optional[VersionPolicy] = None
    labels: dict = field(default_factory=dict)  # version label → version number
    source: str = ""  # the config file it was read from, if any


def models_to_serve(config_file: Optional[str], model_name: Optional[str],
                    export_dir_base: Optional[str], model_base_path: Optional[str]
                    ) -> list[ModelConfig]:
    """The models named by ``skewless serve``'s arguments: a config file, or one model's
    name and base path (given as ``EXPORT_DIR_BASE`` or ``--model_base_path``)."""
    if export_dir_base is not None and model_base_path is not None:
        raise SkewlessError("the base path is given twice (EXPORT_DIR_BASE and "
                            "--model_base_path): give one")
    base_path = export_dir_base if model_base_path is None else model_base_path
    if config_file is not None:
        if model_name is not None or base_path is not None:
            raise SkewlessError("give either --model_config_file or one model (--model_name "
                                "and its base path), not both: the config file lists every "
                                "model served")
        return read_model_config(config_file)
    if model_name is None or base_path is None:
        raise SkewlessError("give the model to serve: --model_name and its base path "
                            "(EXPORT_DIR_BASE or --model_base_path), or a --model_config_file")
    problem = _name_problem(model_name)
    if problem:
        raise SkewlessError(f"--model_name {model_name!r}: {problem}")
    return [ModelConfig(model_name, base_path)]


def _name_problem(name: str) -> Optional[str]:
    """Why a model name cannot be served, if it cannot: REST paths (/v1/models/NAME:predict,
    as TF Serving routes them) end the name at the first '/' or ':'."""
    if "/" in name or ":" in name:
        return ("a model name cannot hold '/' or ':': REST requests (/v1/models/NAME…) "
                "could not name it")
    return None


def read_model_config(path: str) -> list[ModelConfig]:
    """The models of the model server config file at ``path``."""
    config = read_text_proto(path, model_server_config_pb2.ModelServerConfig(),
                             "model config file", ModelConfigError)
    problems: list[str] = []
    models = _models(config, os.path.dirname(os.path.abspath(path)), problems)
    if problems:
        raise ModelConfigError("\n".join(f"{path}: error: {problem}" for problem in problems))
    return [ModelConfig(model.name, model.base_path, model.policy, model.labels, path)
            for model in models]


def _models(config, folder: str, problems: list) -> list[ModelConfig]:
    if config.HasField("custom_model_config"):
        problems.append("custom_model_config is not supported: list the models in "
                        "model_config_list { config { … } }")
        return []
    if not config.model_config_list.config:
        problems.append('the file lists no model: write model_config_list { config { name: '
                        '"…" base_path: "…" model_platform: "tensorflow" } }')
    models, first = [], {}
    for number, model in enumerate(config.model_config_list.config, start=1):
        where = f"model {model.name!r}" if model.name else f"config {number}"
        if not model.name:
            problems.append(f"config {number} has no name: give the name clients ask for")
        elif problem := _name_problem(model.name):
            problems.append(f"{where}: {problem}")
        elif model.name in first:
            problems.append(f"model {model.name!r} is listed twice (configs {first[model.name]} "
                            f"and {number}): list each model once")
        first.setdefault(model.name, number)
        if not model.base_path:
            problems.append(f"{where} has no base_path: give the folder of its numbered "
                            f"version folders")
        elif _URI.match(model.base_path):
            problems.append(f"{where}: base_path {model.base_path!r} is a URI: skewless serve "
                            f"reads local folders only")
        problems.extend(f"{where}: {problem}" for problem in _platform_problems(model))
        if model.HasField("logging_config"):
            problems.append(f"{where}: logging_config (request logging) is not supported: "
                            f"remove it")
        policy = _policy(model.model_version_policy, where, problems)
        for label, version in sorted(model.version_labels.items()):
            if not label:
                problems.append(f"{where}: a version label is empty: a request cannot name it")
            elif policy.specific is not None and version not in policy.specific:
                problems.append(f"{where}: version label {label!r} points at version "
                                f"{version}, which its version policy ({policy}) does not "
                                f"serve")
        base_path = os.path.normpath(os.path.join(folder, model.base_path))
        models.append(ModelConfig(model.name, base_path, policy, dict(model.version_labels)))
    return models


def _platform_problems(model) -> list[str]:
    """TF Serving's rules for ``model_platform`` and the deprecated ``model_type``, and the
    one platform served here."""
    types = model_server_config_pb2.ModelType
    if model.model_type != types.MODEL_TYPE_UNSPECIFIED:
        if model.model_platform:
            return ["both model_type (deprecated) and model_platform are set: set "
                    "model_platform only"]
        if model.model_type != types.TENSORFLOW:
            return [f"model_type {types.Name(model.model_type)} is not supported: set "
                    f'model_platform: "{TENSORFLOW}"']
        return []
    if not model.model_platform:
        return [f'no model_platform: set model_platform: "{TENSORFLOW}" (TF Serving '
                f'requires it too)']
    if model.model_platform != TENSORFLOW:
        return [f"model_platform {model.model_platform!r} is not supported: skewless serve "
                f'serves TensorFlow SavedModels (model_platform: "{TENSORFLOW}")']
    return []


def _policy(proto, where: str, problems: list) -> VersionPolicy:
    kind = proto.WhichOneof("policy_choice")
    if kind == "all":
        return VersionPolicy(latest=None)
    if kind == "specific":
        versions = list(proto.specific.versions)
        if not versions:
            problems.append(f"{where}: model_version_policy specific lists no version: list "
                            f"the versions to serve (versions: 1 versions: 2)")
        problems.extend(f"{where}: version {version} of model_version_policy specific is "
                        f"negative: versions are the numbers of version folders"
                        for version in versions if version < 0)
        return VersionPolicy(latest=None, specific=frozenset(versions))
    return VersionPolicy(latest=max(proto.latest.num_versions, 1))
