"""Checks of raw column declarations: dtype, shape, sparse keys, defaults, labels and weight."""
from __future__ import annotations

import math

from .. import ast
from ..errors import Collector
from ..ir import ColumnSpec
from ..types import (DTYPES, MAX_ELEMENTS, MAX_RANK, MAX_SPARSE_SIZE, SCALAR, VARIABLE, Shape,
                     fixed, float32_literal)
from .names import suggest


def check_columns(spec: ast.Spec, errors: Collector) -> list[ColumnSpec]:
    columns, weights = [], []
    keys = {c.name for c in spec.columns}
    for column in spec.columns:
        result = _check_column(column, keys, errors)
        if result is None:
            continue
        columns.append(result)
        if column.kind == "weight":
            weights.append(column)
    for extra in weights[1:]:
        errors.error(extra.name_pos, f"a spec has at most one weight; '{weights[0].name}' is "
                                     f"already the weight")
    return columns


def _check_column(column: ast.Column, keys: set, errors: Collector) -> ColumnSpec | None:
    decl = column.type
    if decl.dtype not in DTYPES:
        hint = suggest(decl.dtype, DTYPES)
        errors.error(decl.pos, f"unknown type '{decl.dtype}'{hint}; the types are {', '.join(DTYPES)}")
        return None
    shape = _shape(column, errors)
    if shape is None:
        return None
    if column.kind == "weight" and (shape != SCALAR or decl.dtype not in ("float32", "int64")):
        errors.error(decl.pos, f"weight '{column.name}' must be a scalar number, got {decl.dtype}{shape}")
        return None
    if decl.sparse_keys:
        for key in decl.sparse_keys:
            if key in keys:
                errors.error(decl.pos, f"sparse key '{key}' is also the name of a column")
        if decl.sparse_keys[0] == decl.sparse_keys[1]:
            errors.error(decl.pos, "a sparse column needs two different keys: (indices, values)")
    default = _default(column, shape, errors)
    return ColumnSpec(column.name, column.kind, decl.dtype, shape, default, decl.sparse_keys)


def _shape(column: ast.Column, errors: Collector) -> Shape | None:
    decl = column.type
    if decl.sparse:
        if decl.dims is None or len(decl.dims) != 1 or decl.sparse_keys is None:
            errors.error(decl.pos, "a sparse column is declared as "
                                   "'sparse DTYPE[SIZE] from (INDEX_KEY, VALUE_KEY)'")
            return None
        if not 1 <= decl.dims[0] <= MAX_SPARSE_SIZE:
            errors.error(decl.pos, f"a sparse vector's size must be from 1 to {MAX_SPARSE_SIZE} "
                                   f"(2**62), got {decl.dims[0]}")
            return None
        if decl.dtype == "bool":
            errors.error(decl.pos, "a sparse column holds int64, float32 or string values")
            return None
        return Shape("sparse", decl.dims)
    if decl.sparse_keys is not None:
        errors.error(decl.pos, "'from (INDEX_KEY, VALUE_KEY)' belongs to sparse columns: "
                               "write 'sparse DTYPE[SIZE] from (…)'")
        return None
    if decl.dims is None:
        return SCALAR
    if decl.dims == ():
        return VARIABLE
    if any(d < 1 for d in decl.dims):
        errors.error(decl.pos, "every dimension of a fixed shape must be at least 1")
        return None
    if len(decl.dims) > MAX_RANK or math.prod(decl.dims) > MAX_ELEMENTS:
        errors.error(decl.pos, f"a fixed shape holds at most {MAX_ELEMENTS} values (2**20) in at "
                               f"most {MAX_RANK} dimensions, got {len(decl.dims)} dimensions of "
                               f"{math.prod(decl.dims)} values")
        return None
    return fixed(*decl.dims)


def _default(column: ast.Column, shape: Shape, errors: Collector):
    if column.default is None:
        return None
    where = column.default.pos
    if shape.kind in ("variable", "sparse"):
        errors.error(where, f"{shape.describe.split(' ')[1]} columns take no default: a missing "
                            "value is an empty list")
        return None
    value = literal_value(column.default, as_compiled=False)  # as written, for the messages
    if value is None:
        errors.error(where, "a default must be a literal: a number, a string, true, false "
                            "or a list of them")
        return None
    if isinstance(value, list) and not _nesting_fits(column.default, shape, errors):
        return None
    size = math.prod(shape.dims) if shape.kind == "fixed" else 1
    items = _flatten(value) if isinstance(value, list) else [value]
    if isinstance(value, list) and len(items) != size:
        errors.error(where, f"default has {len(items)} values, the shape {shape} needs {size} "
                            "(or give one value to fill every element)")
        return None
    for item in items:
        if not _fits(item, column.type.dtype):
            article = "an" if column.type.dtype[0] in "aeiou" else "a"
            errors.error(where, f"default {item!r} is not {article} {column.type.dtype}")
            return None
    if column.type.dtype == "float32":
        items = [float32_literal(float(v)) for v in items]
    if column.type.dtype == "bool":
        items = [int(v) for v in items]
    if len(items) == 1 and not isinstance(value, list):
        return items[0]
    return tuple(items)


def _nesting_fits(default: ast.ListLit, shape: Shape, errors: Collector) -> bool:
    """Whether a list default is flat (one value per element, counted afterwards) or nested
    exactly as the shape; otherwise an error at the first list or value out of place."""
    if shape.kind != "fixed":
        errors.error(default.pos, "the default of a scalar column is one value, not a list")
        return False
    if not any(isinstance(item, ast.ListLit) for item in default.items):
        return True  # flat
    todo = [(default, 0)]
    while todo:
        node, depth = todo.pop()
        if depth == len(shape.dims):
            if isinstance(node, ast.ListLit):
                errors.error(node.pos, f"default nested deeper than the shape {shape}: a value "
                                       f"is expected here, not a list")
                return False
            continue
        if not isinstance(node, ast.ListLit) or len(node.items) != shape.dims[depth]:
            got = f"a list of {len(node.items)}" if isinstance(node, ast.ListLit) else "a value"
            errors.error(node.pos, f"default nested unlike the shape {shape}: a list of "
                                   f"{shape.dims[depth]} is expected here (dimension "
                                   f"{depth + 1}), got {got}; or give the {math.prod(shape.dims)} "
                                   f"values as one flat list")
            return False
        todo.extend((item, depth + 1) for item in reversed(node.items))
    return True


def literal_value(expr, as_compiled: bool = True):
    """The Python value of a literal expression as the compiled code holds it (a float
    through :func:`float32_literal`; ``as_compiled=False``: as written), or None when it is
    not a literal."""
    if isinstance(expr, ast.Literal):
        if as_compiled and isinstance(expr.value, float):
            return float32_literal(expr.value)
        return expr.value
    if isinstance(expr, ast.ListLit):
        values = [literal_value(item, as_compiled) for item in expr.items]
        return None if any(v is None for v in values) else values
    return None


def int64_overflow(value):
    """The first integer of a literal value (lists included) outside int64, or None."""
    for item in _flatten(value) if isinstance(value, list) else [value]:
        if isinstance(item, int) and not isinstance(item, bool) and not -2**63 <= item < 2**63:
            return item
    return None


def _flatten(value):
    if isinstance(value, list):
        return [leaf for item in value for leaf in _flatten(item)]
    return [value]


def _fits(value, dtype: str) -> bool:
    if dtype == "string":
        return isinstance(value, str)
    if dtype == "bool":
        return isinstance(value, bool)
    if dtype == "int64":
        return isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        int64_overflow(value) is None
