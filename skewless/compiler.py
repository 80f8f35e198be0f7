"""From a .feat file to a checked graph with its analyzer constants, and to Features."""
from __future__ import annotations

import functools
import os
from typing import Optional

from . import syntax
from .check import check
from .errors import Collector, SkewlessError
from .files import read_spec
from .ir import Graph
from .types import constant_error


def check_source(source: str, path: str = "<spec>") -> Graph:
    """Parse and check; raises SpecError listing every problem."""
    return check(syntax.parse(source, path))


def check_file(path: str) -> Graph:
    """Read (UTF-8), parse and check the spec at ``path``; raises SpecError listing every
    problem, SkewlessError when the file cannot be read."""
    return check_source(read_spec(path), os.fspath(path))


def with_constants(graph: Graph, source: str, path: str, stats: Optional[dict],
                   how: str = "run 'skewless compile --data FILES'",
                   stats_name: str = "the stats") -> Graph:
    """Fill analyzer constants from stats (``stats_name``: the stats file, for messages);
    constants the spec could not hold (see :func:`refuse_stats`) are positioned errors, and
    so is every analyzer still without constants, with how to get them (``how``)."""
    errors = Collector(path, source)
    if stats:
        refuse_stats(graph, source, path, stats, stats_name)
        graph = graph.with_constants(stats)
        for key, node_id in graph.analyzers().items():
            refused = stats.get(key) and graph.constants_error(node_id)
            if refused:
                errors.error(graph.positions[key], f"the constants of {key} in {stats_name} "
                                                   f"are refused: {refused}")
        errors.raise_if_any()
    missing = graph.missing_constants()
    if missing:
        for key in missing:
            node = graph.nodes[graph.analyzers()[key]]
            names = ", ".join(f"{name}=…" for name in graph.unknown_constants(graph.analyzers()[key]))
            if stats is not None and key not in stats:  # stats were given, for another spec
                reason = (f"{stats_name} holds no constants for {key} (computed for another "
                          f"version of the spec?): run 'skewless analyze' on this spec again")
            else:
                reason = f"{node.op} needs constants computed from training data: {how}"
            errors.error(graph.positions[key], f"{reason} (or give them: {node.op}(…, {names}))")
        errors.raise_if_any()
    return graph


def refuse_stats(graph: Graph, source: str, path: str, stats: dict, stats_name: str) -> None:
    """A SpecError, at each analyzer of the spec, for every constant of ``stats`` that could
    not be written as a literal in the spec (an integer outside int64, a finite number
    beyond float32, text that is not text; see ``types.constant_error``): before anything
    is built from them."""
    errors = Collector(path, source)
    for key, node_id in graph.analyzers().items():
        given = stats.get(key)
        computed = graph.op_of(node_id).analyzer.constants
        for name in computed if isinstance(given, dict) else ():
            refused = constant_error(given.get(name))
            if refused:
                errors.error(graph.positions[key], f"the constants of {key} in {stats_name} "
                                                   f"are refused: {name}: {refused}")
    errors.raise_if_any()


def load(path: str, stats=None, data=None):
    """The compiled features of a spec without code generation: the same object a
    generated module exposes, computed by interpreting the checked graph.

    Analyzer constants come from ``stats`` (a stats file's path, a ``Stats``, or a dict of
    analyzer key -> constants) or, with ``data`` (TFRecord globs), from a pass over it."""
    from .plan import build_features

    return build_features(constants_for(path, stats=stats, data=data)[0])


def constants_for(path: str, stats=None, data=None, progress=None, engine=None):
    """The checked graph of a spec with its analyzer constants, and the Stats used.

    ``engine(graph, data) -> Stats`` computes the missing constants (default: the local
    engine)."""
    from .analyze import Stats, read_stats

    path = os.fspath(path)
    source = read_spec(path)
    graph = check_source(source, path)
    stats_name = "the stats given"
    if isinstance(stats, (str, os.PathLike)):
        stats_name = os.fspath(stats)
        stats = read_stats(stats_name)
    elif isinstance(stats, dict):
        stats = Stats(graph.spec_name, dict(stats))
    if stats:
        refuse_stats(graph, source, path, stats.constants, stats_name)
    if data and graph.missing_constants():
        from .analyze import analyze

        engine = engine or functools.partial(analyze, progress=progress)
        computed = engine(graph.with_constants(stats.constants) if stats else graph, data)
        if stats:
            computed.constants = {**stats.constants, **computed.constants}
        stats = computed
    graph = with_constants(graph, source, path,
                           stats.constants if stats is not None else None,
                           stats_name=stats_name)
    return graph, stats
