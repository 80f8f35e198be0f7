"""Checks of outputs: label leakage into features, and per-example shapes of outputs."""
from __future__ import annotations

from collections import deque

from .. import ast
from ..errors import Collector
from ..ir import Graph
from .names import Scope, references


def check_leakage(spec: ast.Spec, scope: Scope, errors: Collector) -> None:
    """A feature must be computable at serving time: no path to a label or weight."""
    distance, next_step = _chains_to_training_columns(scope)
    for definition in spec.definitions:
        if definition.kind != "feature":
            continue
        refs = [ref for ref in references(definition.expr) if ref.id in distance]
        if not refs:
            continue
        start = min(refs, key=lambda ref: distance[ref.id])  # the first of the shortest
        path, name = [], start.id
        while name in next_step:
            path.append(name)
            name = next_step[name]
        column = scope.columns[name]
        via = " via " + " -> ".join(f"let '{let}'" for let in path) if path else ""
        errors.error(start.pos, f"feature '{definition.name}' depends on {column.kind} "
                                f"'{column.name}'{via}; labels and weights are not available "
                                "at serving time (use a target for training-only values)")


def _chains_to_training_columns(scope: Scope) -> tuple[dict, dict]:
    """For each label, weight and let that reads one (through other lets or not): the
    length of the shortest chain of lets to a label or weight (0 for one itself), and, for
    a let, the next name on that chain. Breadth-first from the labels and the weight over
    who reads whom, so each name is visited once, however long the chains."""
    readers: dict = {}
    for name, let in scope.lets.items():
        for ref in references(let.expr):
            readers.setdefault(ref.id, []).append(name)
    distance = {name: 0 for name, column in scope.columns.items()
                if column.kind in ("label", "weight")}
    next_step: dict = {}
    queue = deque(distance)
    while queue:
        name = queue.popleft()
        for reader in readers.get(name, ()):
            if reader not in distance:
                distance[reader] = distance[name] + 1
                next_step[reader] = name
                queue.append(reader)
    return distance, next_step


def check_output_shapes(spec: ast.Spec, graph: Graph, errors: Collector) -> None:
    for definition in spec.definitions:
        outputs = graph.features if definition.kind == "feature" else graph.targets
        if definition.kind == "let" or definition.name not in outputs:
            continue
        node_type = graph.nodes[outputs[definition.name]].type
        kind = node_type.shape.kind
        if kind == "variable":
            errors.error(definition.name_pos,
                         f"{definition.kind} '{definition.name}' is variable-length "
                         f"({node_type}): pad it (pad(length=…)), reduce it (count, sum, mean, …) "
                         "or encode it (multi_hot) first; padding to the longest row of a batch "
                         "would make training differ from serving")
        elif kind == "const":
            errors.error(definition.name_pos,
                         f"{definition.kind} '{definition.name}' is a constant: it does not "
                         "depend on any column")
        elif kind == "sparse" and definition.kind == "target":
            errors.error(definition.name_pos, f"target '{definition.name}' is a sparse vector; "
                                              "targets must be dense (use dense(x))")
