"""What a spec contains, as ``skewless explain`` and ``skewless graph`` show it: its raw
columns, lets, outputs and analyzers, with their types, what each reads and where each is
written.

Everything comes from the checker's graph (types, per-example shapes, which columns a value
reads, analyzer constants) and the parsed spec (source positions); nothing is derived again
here. Describing a spec imports TensorFlow only to compute analyzer constants from ``data``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Optional

from . import syntax
from .check import check
from .files import read_spec
from .ir import COLUMN, Graph
from .types import Shape

TRAINING_ONLY = ("label", "weight")  # column roles that serving does not receive
LIST_ITEMS_SHOWN = 3  # the items of a long list constant shown in text


@dataclass(frozen=True)
class Analyzer:
    """An analyzer call: ``key`` names its constants in a stats file (``OWNER/FUNCTION``,
    ``#N`` after the first of one owner); ``constants``: constant name -> value, None for
    those not computed (no stats or data given, nor written in the spec); ``origin``: where
    they come from: ``spec``, ``stats`` or ``data`` (None: not computed)."""

    key: str
    function: str
    constants: dict
    origin: Optional[str]
    line: int
    column: int

    @property
    def computed(self) -> bool:
        return all(value is not None for value in self.constants.values())


@dataclass(frozen=True)
class Column:
    """A raw column of the ``tf.Example``. ``role``: input, label or weight; ``default``:
    the value a missing one takes (None: required, or an empty list for variable-length and
    sparse columns); ``read_by``: the outputs that read it, through lets or not."""

    name: str
    role: str
    dtype: str
    shape: Shape
    default: object
    sparse_keys: Optional[tuple]
    read_by: tuple
    line: int
    column: int

    @property
    def served(self) -> bool:
        """Whether serving receives it: inputs only (labels and the weight are for training)."""
        return self.role not in TRAINING_ONLY


@dataclass(frozen=True)
class Value:
    """A let, feature or target (``kind``). ``reads``: the column and let names its
    expression names; ``columns``: the raw columns it reads, through lets or not;
    ``analyzers``: the keys of the analyzers it uses, through lets or not; ``applies``: those
    its own expression calls, not through a let."""

    name: str
    kind: str
    dtype: str
    shape: Shape
    reads: tuple
    columns: tuple
    analyzers: tuple
    applies: tuple
    line: int
    column: int

    @property
    def node(self) -> str:
        """Its node in the dependency graph: a let and an output may share a name."""
        return f"{self.kind}.{self.name}"


@dataclass(frozen=True)
class Description:
    path: str
    spec_name: Optional[str]
    columns: tuple  # Column, in declaration order
    lets: tuple  # Value, in declaration order
    outputs: tuple  # Value, features then targets, each in declaration order
    analyzers: tuple  # Analyzer, in the order of their keys

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    def analyzer(self, key: str) -> Analyzer:
        return next(analyzer for analyzer in self.analyzers if analyzer.key == key)

    def edges(self) -> list[tuple[str, str]]:
        """The dependency graph's edges between ``node`` names: each read of a column or let
        by a let, feature or target, in order."""
        lets = {value.name for value in self.lets}
        return [(f"let.{name}" if name in lets else column_node(self.column(name)), value.node)
                for value in self.lets + self.outputs for name in value.reads]

    def training_only(self, value: Value) -> bool:
        """Whether a value reads a label or the weight (serving could not compute it)."""
        return any(self.column(name).role in TRAINING_ONLY for name in value.columns)


def column_node(column: Column) -> str:
    """A raw column's node in the dependency graph: ``ROLE.NAME``."""
    return f"{column.role}.{column.name}"


def describe(path: str, stats=None, data=None) -> Description:
    """The description of the spec at ``path``; analyzer constants from ``stats`` (a stats
    file's path) or computed from ``data`` (file globs; this imports TensorFlow), not both,
    else those written in the spec. Raises SpecError listing every problem of the spec
    (analyzers left without constants by ``stats`` included), SkewlessError for a file that
    cannot be read."""
    from .compiler import constants_for

    if stats and data:
        raise ValueError("describe takes stats or data, not both")
    path = os.fspath(path)
    source = read_spec(path)
    spec = syntax.parse(source, path)
    graph = check(spec)
    given = set(graph.analyzers()) - set(graph.missing_constants())
    if stats or data:
        graph, _ = constants_for(path, stats=stats, data=data)
    origins = {key: "spec" if key in given else "stats" if stats else "data" if data else None
               for key in graph.analyzers()}
    return _description(spec, graph, origins)


def _description(spec, graph: Graph, origins: dict) -> Description:
    positions = {("let" if d.kind == "let" else d.kind, d.name): d.pos for d in spec.definitions}
    lets = {name: _value(graph, "let", name, node_id, positions)
            for name, node_id in graph.lets.items()}
    let_order = [d.name for d in spec.definitions if d.kind == "let" and d.name in lets]
    outputs = [_value(graph, kind, name, node_id, positions)
               for kind, table in (("feature", graph.features), ("target", graph.targets))
               for name, node_id in table.items()]
    outputs = [_with_applies(value, lets) for value in outputs]
    declared = {column.name: column.pos for column in spec.columns}
    columns = tuple(
        Column(c.name, c.kind, c.dtype, c.shape, _default(c), c.sparse_keys,
               tuple(value.name for value in outputs if c.name in value.columns),
               declared[c.name].line, declared[c.name].column)
        for c in graph.columns)
    analyzers = tuple(_analyzer(graph, key, node_id, origins[key])
                      for key, node_id in sorted(graph.analyzers().items()))
    return Description(spec.path, spec.name, columns,
                       tuple(_with_applies(lets[name], lets) for name in let_order),
                       tuple(outputs), analyzers)


def _default(column):
    """A column's default as a Python value of its dtype (a tuple for a fixed shape): the
    checker keeps a bool default as 0/1."""
    if column.dtype != "bool" or column.default is None:
        return column.default
    if isinstance(column.default, tuple):
        return tuple(bool(item) for item in column.default)
    return bool(column.default)


def _value(graph: Graph, kind: str, name: str, node_id: int, positions: dict) -> Value:
    needed = graph.order([node_id])
    columns = {graph.nodes[i].const_dict["name"] for i in needed if graph.nodes[i].op == COLUMN}
    node_type = graph.nodes[node_id].type
    pos = positions[(kind, name)]
    return Value(name, kind, node_type.dtype, node_type.shape,
                 tuple(graph.reads.get((kind, name), ())),
                 tuple(c.name for c in graph.columns if c.name in columns),
                 tuple(sorted(graph.nodes[i].analyzer for i in needed if graph.nodes[i].analyzer)),
                 (), pos.line, pos.column)


def _with_applies(value: Value, lets: dict) -> Value:
    through_lets = {key for name in value.reads if name in lets for key in lets[name].analyzers}
    return replace(value, applies=tuple(k for k in value.analyzers if k not in through_lets))


def _analyzer(graph: Graph, key: str, node_id: int, origin: Optional[str]) -> Analyzer:
    node = graph.nodes[node_id]
    given = node.const_dict
    pos = graph.positions[key]
    return Analyzer(key, node.op, {name: given.get(name)
                                   for name in graph.op_of(node_id).analyzer.constants},
                    origin, pos.line, pos.column)


# ---- text of values -------------------------------------------------------------------------


def shape_text(shape: Shape) -> str:
    """A per-example shape for people: ``scalar``, ``[2, 3]``, ``[] (variable)``, ``sparse[10]``."""
    return {"scalar": "scalar", "variable": "[] (variable)"}.get(shape.kind, str(shape))


def literal_text(value) -> str:
    """A value as a .feat literal, a long list shortened to its first items and its length
    (``[1, 2, 3, … 10 values]``)."""
    if isinstance(value, (list, tuple)):
        items = [literal_text(item) for item in value[:LIST_ITEMS_SHOWN]]
        if len(value) > LIST_ITEMS_SHOWN:
            items.append(f"… {len(value)} values")
        return "[" + ", ".join(items) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return syntax.quote(value)
    return repr(value)  # nan, inf and -inf too, as the language writes them


def default_text(column: Column) -> str:
    """A column's default: its literal, ``required``, or ``empty list`` for a variable-length
    or sparse column."""
    if column.default is not None:
        return literal_text(column.default)
    return "empty list" if column.shape.kind in ("variable", "sparse") else "required"


def constants_text(analyzer: Analyzer) -> str:
    """``mean=1.5, std=0.5``; a constant not computed shows as such."""
    if not any(value is not None for value in analyzer.constants.values()):
        return "not computed"
    return ", ".join(f"{name}={'not computed' if value is None else literal_text(value)}"
                     for name, value in analyzer.constants.items())
