"""Writing records (the dicts of ``skewless.testing.strategies``) as CSV, by hand: the
test's own writer, in the form docs/usage.md gives, independent of the reader under test;
and making a record expressible in CSV (the same record is then written as a tf.Example)."""
from __future__ import annotations

import csv
import math
import sys

from skewless.testing.strategies import columns_of

EXTRA = "not a column"  # a header field that no spec reads (a name can hold no space)


def expressible(record: dict, columns) -> dict:
    """The record with what CSV cannot hold replaced: strings that are not UTF-8 (decoded
    with U+FFFD), NaN payloads (the quiet NaN of its sign), NUL characters on Python 3.10
    (whose csv module refuses them), and the empty string of a scalar string column (an
    empty field is a missing value)."""
    result = {}
    by_name = {column.name: column for column in columns_of(columns)}
    for name, value in record.items():
        column = by_name.get(name)
        if column is None:
            continue
        if column.shape.kind == "sparse":
            result[name] = [(i, _value(v, column.dtype)) for i, v in value]
        elif column.shape.kind == "scalar":
            value = _value(value, column.dtype)
            result[name] = "∅" if value == "" else value
        else:
            result[name] = _nested(value, column.dtype)
    return result


def _nested(value, dtype):
    if isinstance(value, list):
        return [_nested(item, dtype) for item in value]
    return _value(value, dtype)


def _value(value, dtype):
    if dtype == "string":
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        return text.replace("\x00", "0") if sys.version_info < (3, 11) else text
    if dtype == "float32" and math.isnan(value):
        return math.copysign(math.nan, math.copysign(1.0, value))
    return value


def _flat(value) -> list:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


def text(value, dtype: str) -> str:
    """One value as a CSV field holds it."""
    if dtype == "bool":
        return "true" if value else "false"
    if dtype == "float32":
        if math.isnan(value):
            return "-nan" if math.copysign(1.0, value) < 0 else "nan"
        return repr(float(value))  # shortest text that reads back as the same float64
    return str(value)


def listed(values: list, dtype: str) -> str:
    """A list as one field: values separated by |; in strings \\ and | escaped, and an
    empty string written \\e."""
    if dtype != "string":
        return "|".join(text(value, dtype) for value in values)
    return "|".join(value.replace("\\", "\\\\").replace("|", "\\|") or "\\e"
                    for value in values)


def header(columns) -> list[str]:
    keys = [EXTRA]
    for column in columns_of(columns):
        keys += list(column.sparse_keys) if column.shape.kind == "sparse" else [column.name]
    return keys


def row(record: dict, columns) -> list[str]:
    fields = ["ignored"]
    for column in columns_of(columns):
        value = record.get(column.name)
        if column.shape.kind == "sparse":
            pairs = value or []
            fields += [listed([i for i, _ in pairs], "int64"),
                       listed([v for _, v in pairs], column.dtype)]
        elif value is None:
            fields.append("")
        elif column.shape.kind == "scalar":
            fields.append(text(value, column.dtype))
        else:
            fields.append(listed(_flat(value), column.dtype))
    return fields


def write_csv(path, records, columns) -> str:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header(columns))
        for record in records:
            writer.writerow(row(record, columns))
    return str(path)
