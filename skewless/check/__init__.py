"""The checker: every static check of a spec, all errors collected, then the typed IR."""
from __future__ import annotations

from .. import ast
from ..errors import Collector
from ..ir import Graph
from .columns import check_columns
from .lower import Lowering
from .names import Scope
from .outputs import check_leakage, check_output_shapes


def check(spec: ast.Spec) -> Graph:
    """Check a parsed spec; raise SpecError with every problem, or return its IR."""
    errors = Collector(spec.path, spec.source)
    scope = Scope(spec, errors)
    graph = Graph(columns=tuple(check_columns(spec, errors)), spec_name=spec.name)
    scope.check_references(spec, errors)
    on_cycle = scope.check_cycles(errors)
    check_leakage(spec, scope, errors)
    lowering = Lowering(scope, graph, errors, on_cycle)
    for definition in spec.definitions:
        if definition.kind == "let" and scope.lets.get(definition.name) is not definition:
            continue  # a duplicate, reported by the scope
        node_id = lowering.definition(definition)
        if node_id is not None and definition.kind == "let":
            graph.lets[definition.name] = node_id
        elif node_id is not None:
            (graph.features if definition.kind == "feature" else graph.targets)[definition.name] = node_id
    check_output_shapes(spec, graph, errors)
    if not any(definition.kind == "feature" for definition in spec.definitions):
        errors.error(ast.Pos(1, 1), "the spec defines no feature")
    errors.raise_if_any()
    return graph
