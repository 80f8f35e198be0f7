"""The execution plan of a graph: for each node, which function is called with what.

The interpreter (``interpret.py``) runs these steps and the code generator (``codegen.py``)
writes them out, so the two cannot differ in what they compute."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from .ir import COLUMN, CONST, Graph
from .ops.common import constant, read_column


@dataclass(frozen=True)
class Step:
    """``fn(*[values of inputs], **kwargs)``; columns read ``raw``; table ops get ``table=``."""

    node_id: int
    fn: Callable
    inputs: tuple
    kwargs: dict
    reads_raw: bool = False
    table: bool = False


@dataclass(frozen=True)
class TableStep:
    node_id: int
    builder: Callable
    kwargs: dict


def steps(graph: Graph, roots) -> list[Step]:
    return [step_of(graph, node_id) for node_id in graph.order(roots)]


def table_steps(graph: Graph) -> list[TableStep]:
    """The lookup tables the graph needs, each built once per transform object."""
    result = []
    for node_id, node in enumerate(graph.nodes):
        if node.op in (COLUMN, CONST):
            continue
        op = graph.op_of(node_id)
        if op.table is not None:
            result.append(TableStep(node_id, op.table, node.const_dict))
    return result


def step_of(graph: Graph, node_id: int) -> Step:
    node = graph.nodes[node_id]
    if node.op == COLUMN:
        return Step(node_id, read_column, (), {"name": node.const_dict["name"],
                                               "dtype": node.type.dtype}, reads_raw=True)
    if node.op == CONST:
        return Step(node_id, constant, (), {"value": node.const_dict["value"],
                                            "dtype": node.type.dtype})
    op = graph.op_of(node_id)
    if op.table is not None:
        return Step(node_id, op.fn, node.inputs, {}, table=True)
    missing = graph.unknown_constants(node_id)
    if missing:
        raise ValueError(f"constants {missing} of {node.analyzer} are not computed")
    return Step(node_id, op.fn, node.inputs, node.const_dict)


def run(plan: list[Step], raw: dict, tables: dict, outputs: dict) -> dict:
    values: dict[int, object] = {}
    for step in plan:
        args = [values[i] for i in step.inputs]
        if step.reads_raw:
            values[step.node_id] = step.fn(raw, **step.kwargs)
        elif step.table:
            values[step.node_id] = step.fn(*args, table=tables[step.node_id])
        else:
            values[step.node_id] = step.fn(*args, **step.kwargs)
    return {name: values[node_id] for name, node_id in outputs.items()}


def output_types(graph: Graph, outputs: dict) -> dict:
    return {name: graph.nodes[node_id].type for name, node_id in outputs.items()}


def build_features(graph: Graph, tables: Optional[dict] = None):
    """A runtime.Features that interprets ``graph`` (``skewless.load``)."""
    from .runtime import Features

    tables = tables if tables is not None else {
        t.node_id: t.builder(**t.kwargs) for t in table_steps(graph)}
    feature_plan = steps(graph, graph.features.values())
    target_plan = steps(graph, graph.targets.values())
    return Features(
        columns=graph.columns,
        transform_features=lambda raw: run(feature_plan, raw, tables, graph.features),
        transform_targets=lambda raw: run(target_plan, raw, tables, graph.targets),
        feature_types=output_types(graph, graph.features),
        target_types=output_types(graph, graph.targets),
        fingerprint=graph.fingerprint(),
        tables=list(tables.values()),
        name=graph.spec_name,
    )
