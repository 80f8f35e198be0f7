"""From a .feat file to a checked graph with its analyzer constants, and to Features."""
from __future__ import annotations

import functools
import os
from typing import Optional

from . import syntax
from .check import check
from .errors import Collector, SkewlessError
from .ir import Graph


def read_spec(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise SkewlessError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise SkewlessError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SkewlessError(f"{path}: {exc.strerror}") from None


def check_source(source: str, path: str = "<spec>") -> Graph:
    """Parse and check; raises SpecError listing every problem."""
    return check(syntax.parse(source, path))


def check_file(path: str) -> Graph:
    return check_source(read_spec(path), os.fspath(path))


def with_constants(graph: Graph, source: str, path: str, stats: Optional[dict],
                   how: str = "run 'skewless compile --data FILES'") -> Graph:
    """Fill analyzer constants from stats; every analyzer still without constants is a
    positioned error that says how to get them (``how``)."""
    errors = Collector(path, source)
    if stats:
        graph = graph.with_constants(stats)
        for key, node_id in graph.analyzers().items():
            refused = stats.get(key) and graph.constants_error(node_id)
            if refused:
                errors.error(graph.positions[key], f"the constants of {key} in the stats are "
                                                   f"refused: {refused}")
        errors.raise_if_any()
    missing = graph.missing_constants()
    if missing:
        for key in missing:
            node = graph.nodes[graph.analyzers()[key]]
            names = ", ".join(f"{name}=…" for name in graph.unknown_constants(graph.analyzers()[key]))
            errors.error(graph.positions[key],
                         f"{node.op} needs constants computed from training data: {how} "
                         f"(or give them: {node.op}(…, {names}))")
        errors.raise_if_any()
    return graph


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
    from .analyze import Stats, analyze, read_stats

    path = os.fspath(path)
    source = read_spec(path)
    graph = check_source(source, path)
    if isinstance(stats, (str, os.PathLike)):
        stats = read_stats(os.fspath(stats))
    elif isinstance(stats, dict):
        stats = Stats(graph.spec_name, dict(stats))
    if data and graph.missing_constants():
        engine = engine or functools.partial(analyze, progress=progress)
        computed = engine(graph.with_constants(stats.constants) if stats else graph, data)
        if stats:
            computed.constants = {**stats.constants, **computed.constants}
        stats = computed
    graph = with_constants(graph, source, path, stats.constants if stats else None)
    return graph, stats
