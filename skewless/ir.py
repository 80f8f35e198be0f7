"""The IR: a resolved, typed DAG of op nodes — the single source of truth downstream of the
checker. Identical subexpressions are one node, so they are computed (and analyzed) once."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from .ops.registry import constants_error, lookup
from .types import Shape, Type

COLUMN, CONST = "column", "const"


@dataclass(frozen=True)
class ColumnSpec:
    """A raw column of the tf.Example: its role, dtype, per-example shape and default."""

    name: str
    kind: str  # input | label | weight
    dtype: str
    shape: Shape
    default: Any = None  # None: required (fixed shapes), or no default (variable, sparse)
    sparse_keys: Optional[tuple] = None  # (index key, value key)

    @property
    def type(self) -> Type:
        return Type(self.dtype, self.shape)


@dataclass(frozen=True)
class Node:
    """``op`` is a registry op name, or COLUMN / CONST; ``consts`` are sorted (name, value)
    pairs with lists frozen to tuples. An analyzer node has an ``analyzer`` key naming its
    constants in the stats."""

    op: str
    inputs: tuple
    consts: tuple
    type: Type
    analyzer: Optional[str] = None

    @property
    def const_dict(self) -> dict:
        return {name: thaw(value) for name, value in self.consts}


@dataclass
class Graph:
    columns: tuple
    nodes: list = field(default_factory=list)
    features: dict = field(default_factory=dict)  # output name -> node id
    targets: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)  # node id -> the let/output name that made it
    lets: dict = field(default_factory=dict)  # let name -> node id
    # ("let" | "feature" | "target", name) -> the column and let names its expression reads
    # as values (not a type name given as a constant, as in cast(x, int64)), in source order
    reads: dict = field(default_factory=dict)
    spec_name: Optional[str] = None
    positions: dict = field(default_factory=dict)  # analyzer key -> source Pos, for messages
    _index: dict = field(default_factory=dict, repr=False)

    def add(self, node: Node) -> int:
        key = (node.op, node.inputs, repr(node.consts))  # repr: 0.0, -0.0, 0, False differ
        if key not in self._index:
            self._index[key] = len(self.nodes)
            self.nodes.append(node)
        return self._index[key]

    def find(self, op: str, inputs: tuple, consts: tuple) -> Optional[int]:
        """The id of an existing identical node, if any."""
        return self._index.get((op, inputs, repr(consts)))

    def order(self, roots) -> list[int]:
        """The node ids that ``roots`` need, each after its inputs (ids are topological)."""
        needed, stack = set(), list(roots)
        while stack:
            node_id = stack.pop()
            if node_id not in needed:
                needed.add(node_id)
                stack.extend(self.nodes[node_id].inputs)
        return sorted(needed)

    def analyzers(self) -> dict[str, int]:
        return {n.analyzer: i for i, n in enumerate(self.nodes) if n.analyzer}

    def missing_constants(self) -> list[str]:
        """Analyzer keys whose constants are neither given in the spec nor filled from data."""
        return [n.analyzer for i, n in enumerate(self.nodes)
                if n.analyzer and self.unknown_constants(i)]

    def unknown_constants(self, node_id: int) -> list[str]:
        """The analyzer constants of a node that are still unknown."""
        node = self.nodes[node_id]
        if not node.analyzer:
            return []
        consts = node.const_dict
        return [name for name in self.op_of(node_id).analyzer.constants if consts.get(name) is None]

    def with_constants(self, stats: dict) -> "Graph":
        """A copy with analyzer constants filled in from ``stats`` (key -> {name: value});
        only the constants an analyzer computes are taken, never its other arguments."""
        nodes = []
        for node_id, node in enumerate(self.nodes):
            given = stats.get(node.analyzer) if node.analyzer else None
            if given:
                consts = dict(node.consts)
                computed = self.op_of(node_id).analyzer.constants
                consts.update({k: freeze(v) for k, v in given.items() if k in computed})
                node = replace(node, consts=tuple(sorted(consts.items())))
            nodes.append(node)
        return replace(self, nodes=nodes, _index={})

    def constants_error(self, node_id: int) -> Optional[str]:
        """Why the type rule of an analyzer node refuses its constants (None: it accepts
        them): constants filled in from stats are held to the rules of constants written in
        the spec."""
        node, op = self.nodes[node_id], self.op_of(node_id)
        types = {param.name: self.nodes[i].type for param, i in zip(op.value_params, node.inputs)}
        return constants_error(op, types, node.const_dict)

    @property
    def label_keys(self) -> tuple:
        return tuple(c.name for c in self.columns if c.kind == "label")

    @property
    def weight_key(self) -> Optional[str]:
        return next((c.name for c in self.columns if c.kind == "weight"), None)

    @property
    def serving_columns(self) -> tuple:
        return tuple(c for c in self.columns if c.kind == "input")

    def fingerprint(self) -> str:
        """A hash of what the spec computes: columns, nodes with their constants, outputs."""
        payload = {
            "columns": [[c.name, c.kind, c.dtype, c.shape.kind, list(c.shape.dims),
                         _canonical(c.default), c.sparse_keys] for c in self.columns],
            "nodes": [[n.op, list(n.inputs), _canonical(n.consts), str(n.type)] for n in self.nodes],
            "features": sorted(self.features.items()),
            "targets": sorted(self.targets.items()),
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def op_of(self, node_id: int):
        return lookup(self.nodes[node_id].op)


def freeze(value):
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value):
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def _canonical(value):
    """JSON-safe form that tells NaN, ±inf and -0.0 apart."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value) or (value == 0 and math.copysign(1, value) < 0):
            return repr(value)
        return value
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    return value
