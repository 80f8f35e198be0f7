"""TF Serving's config files, in protobuf's text format, read by protobuf's own parser; and
the two message classes of those files that ``tensorflow-serving-api`` does not ship,
``BatchingParameters`` (``--batching_parameters_file``) and ``MonitoringConfig``
(``--monitoring_config_file``), built here from their field definitions in TF Serving's
``session_bundle_config.proto`` and ``monitoring_config.proto`` (same package, names,
numbers and types), so that any file TF Serving reads with them reads the same here."""
from __future__ import annotations

import re

from google.protobuf import (descriptor_pb2, descriptor_pool, message_factory, text_format,
                             wrappers_pb2)

from ..ast import Pos
from ..errors import Diagnostic, SkewlessError

_Field = descriptor_pb2.FieldDescriptorProto
_INT64 = (_Field.TYPE_MESSAGE, ".google.protobuf.Int64Value")
_STRING = (_Field.TYPE_MESSAGE, ".google.protobuf.StringValue")
_BOOL = (_Field.TYPE_BOOL, "")
_MESSAGES = {  # message → (field, number, (type, type name), repeated), as TF Serving's
    "BatchingParameters": [
        ("max_batch_size", 1, _INT64, False),
        ("batch_timeout_micros", 2, _INT64, False),
        ("max_enqueued_batches", 3, _INT64, False),
        ("num_batch_threads", 4, _INT64, False),
        ("thread_pool_name", 5, _STRING, False),
        ("allowed_batch_sizes", 6, (_Field.TYPE_INT64, ""), True),
        ("pad_variable_length_inputs", 7, _BOOL, False),
    ],
    "PrometheusConfig": [
        ("enable", 1, _BOOL, False),
        ("path", 2, (_Field.TYPE_STRING, ""), False),
    ],
    "MonitoringConfig": [
        ("prometheus_config", 1, (_Field.TYPE_MESSAGE, ".tensorflow.serving.PrometheusConfig"),
         False),
    ],
}


def _message_classes() -> dict:
    file = descriptor_pb2.FileDescriptorProto(
        name="skewless/serve/tensorflow_serving_config.proto", package="tensorflow.serving",
        syntax="proto3", dependency=[wrappers_pb2.DESCRIPTOR.name])
    for name, fields in _MESSAGES.items():
        message = file.message_type.add(name=name)
        for field, number, (kind, type_name), repeated in fields:
            added = message.field.add(name=field, number=number, type=kind,
                                      label=_Field.LABEL_REPEATED if repeated else
                                      _Field.LABEL_OPTIONAL)
            if type_name:
                added.type_name = type_name
    pool = descriptor_pool.DescriptorPool()  # its own: nothing else named alike can clash
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(wrappers_pb2.DESCRIPTOR.serialized_pb))
    pool.Add(file)
    return {name: message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"tensorflow.serving.{name}")) for name in _MESSAGES}


_CLASSES = _message_classes()
BatchingParameters = _CLASSES["BatchingParameters"]
MonitoringConfig = _CLASSES["MonitoringConfig"]


class ConfigFileError(SkewlessError):
    """A config file that cannot be read, or used as written."""


def read_text_proto(path: str, message, what: str, error=ConfigFileError):
    """``message`` (a new protobuf message) filled from the text-format file at ``path``;
    a file that cannot be read, is not UTF-8, or does not parse is ``error``, naming the
    file (and the line and column, with the line and a caret, for a syntax error)."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as problem:
        raise error(f"{path}: cannot read the {what}: {problem.strerror or problem}") from None
    except UnicodeDecodeError as problem:
        raise error(f"{path}: the {what} is not UTF-8 text (byte {problem.start}: "
                    f"{problem.reason})") from None
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as problem:
        raise error(_syntax_error(path, text, problem)) from None
    return message


def _syntax_error(path: str, text: str, error: text_format.ParseError) -> str:
    message = re.sub(r"^\d+:\d+ : ", "", str(error))
    if message.startswith("'") and "': " in message:  # a value error quoting the whole text
        message = message.rsplit("': ", 1)[1]
    if error.GetLine() is None:
        return f"{path}: error: {message}"
    return Diagnostic(path, Pos(error.GetLine(), error.GetColumn() or 1),
                      message).render(text)
