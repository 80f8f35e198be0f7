"""A spec's description (:mod:`skewless.describe`) as ``skewless explain`` shows it: an
aligned table, or a JSON document (``--format json``; schema in docs/usage.md) whose keys
are in a fixed order, so that its text changes only when the spec, or its analyzer
constants, do."""
from __future__ import annotations

from .analyze.stats import json_safe  # NaN and ±inf as the stats file writes them
from .describe import Column, Description, Value, constants_text, default_text, shape_text

NONE = "-"  # an empty cell of the table


# ---- JSON -----------------------------------------------------------------------------------


def to_json(description: Description) -> dict:
    """The JSON document of a description (see docs/usage.md, "skewless explain")."""
    return {
        "spec": description.path,
        "name": description.spec_name,
        "outputs": [_value_json(value) for value in description.outputs],
        "lets": [_value_json(value) for value in description.lets],
        "analyzers": [{
            "key": analyzer.key,
            "function": analyzer.function,
            "constants": json_safe(analyzer.constants),
            "origin": analyzer.origin,
            "line": analyzer.line,
            "column": analyzer.column,
        } for analyzer in description.analyzers],
        "columns": [_column_json(column) for column in description.columns],
    }


def _value_json(value: Value) -> dict:
    out = {"name": value.name}
    if value.kind != "let":
        out["kind"] = value.kind
    return {**out, "dtype": value.dtype, "shape": _shape_json(value.shape),
            "reads": list(value.reads), "columns": list(value.columns),
            "analyzers": list(value.analyzers), "line": value.line, "column": value.column}


def _column_json(column: Column) -> dict:
    default = column.default
    return {
        "name": column.name,
        "role": column.role,
        "dtype": column.dtype,
        "shape": _shape_json(column.shape),
        "default": json_safe(list(default) if isinstance(default, tuple) else default),
        "sparse_keys": list(column.sparse_keys) if column.sparse_keys else None,
        "read_by": list(column.read_by),
        "served": column.served,
        "line": column.line,
        "column": column.column,
    }


def _shape_json(shape) -> dict:
    return {"kind": shape.kind, "dims": list(shape.dims)}


# ---- the table ------------------------------------------------------------------------------


def table(description: Description) -> str:
    """Aligned plain text: outputs, analyzers, lets and raw columns, one section each."""
    title = f"spec {description.spec_name}" if description.spec_name else "spec"
    sections = [f"{title} ({description.path})"]
    sections.append(_aligned(
        ("OUTPUT", "KIND", "DTYPE", "SHAPE", "RAW COLUMNS", "ANALYZERS", "AT"),
        [(v.name, v.kind, v.dtype, shape_text(v.shape), _names(v.columns),
          _names(v.analyzers), f"{v.line}:{v.column}") for v in description.outputs]))
    if description.analyzers:
        sections.append(_aligned(
            ("ANALYZER", "FUNCTION", "CONSTANTS", "AT"),
            [(a.key, a.function, constants_text(a) + (" (in the spec)" if a.origin == "spec"
                                                       else ""), f"{a.line}:{a.column}")
             for a in description.analyzers]))
    if description.lets:
        sections.append(_aligned(
            ("LET", "DTYPE", "SHAPE", "READS", "RAW COLUMNS", "AT"),
            [(v.name, v.dtype, shape_text(v.shape), _names(v.reads), _names(v.columns),
              f"{v.line}:{v.column}") for v in description.lets]))
    sections.append(_aligned(
        ("RAW COLUMN", "ROLE", "DTYPE", "SHAPE", "DEFAULT", "READ BY", "SERVING", "AT"),
        [(c.name, c.role, c.dtype, _column_shape(c), default_text(c), _names(c.read_by),
          "yes" if c.served else "no (training only)", f"{c.line}:{c.column}")
         for c in description.columns]))
    return "\n\n".join(sections)


def _column_shape(column: Column) -> str:
    text = shape_text(column.shape)
    if column.sparse_keys:
        text += f" from ({column.sparse_keys[0]}, {column.sparse_keys[1]})"
    return text


def _names(names) -> str:
    return ", ".join(names) or NONE


def _aligned(headers: tuple, rows: list) -> str:
    """Columns padded to their widest cell, two spaces apart; no trailing spaces."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in [headers, *rows])
