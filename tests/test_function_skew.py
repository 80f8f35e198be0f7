"""Every registered function's own skew property: generated specs that call it, through
``input_fn`` (one record per batch, and all the records in one batch) and both serving
receivers, bit for bit, on many batches of records. Registering a function is all it takes
to have it checked.

Each spec is traced once (one SkewChecker) and checked on all its batches at once
(``check_batches``: one ``input_fn`` pass per batch size over all the records, one serving
call per batch), since tracing, not the records, is what a case costs. Each spec's batches
are the fixed edge batch (``edge_records``: every edge value of every column's dtype) and
batches drawn by hypothesis; hypothesis' first example is its simplest (zeros, empty
strings), so without the edge batch the first spec would see only those."""
from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings, strategies as st

import skewless
from skewless.ir import ColumnSpec
from skewless.ops.registry import all_ops
from skewless.plan import build_features
from skewless.testing import (SkewChecker, batches, check_batches, edge_records, spec_sources,
                              uncovered_ops)
from skewless.testing.strategies import FLOAT32_EDGES, INT64_EDGES, STRING_EDGES
from skewless.types import SCALAR, Shape, fixed

from property_budget import BUDGET, count
from skewless_test_helpers import KNOWN_BAD_NAMES, KNOWN_SKEW_OPS, QUIET

FUNCTIONS = [pytest.param(op, marks=pytest.mark.xfail(strict=True, reason="a known skew bug"))
             if op in KNOWN_SKEW_OPS else op for op in sorted(all_ops())]


pytestmark = pytest.mark.usefixtures("quiet_tensorflow")


def test_every_registered_function_can_be_generated():
    assert uncovered_ops() == [], (
        "add a row for these functions to skewless.testing.specs.CONSTANTS or "
        "BY_PARAMETER, so that generated specs call them")


@pytest.mark.parametrize("op", FUNCTIONS)
def test_function_cannot_skew(op):
    """Specs that call ``op`` one to three times (on drawn argument types, with drawn
    constants), each checked on the edge batch and on drawn batches of records."""
    @settings(max_examples=BUDGET.specs_per_function, suppress_health_check=QUIET)
    @given(st.data())
    def cannot_skew(data):
        text = data.draw(spec_sources(ops=[op], calls=op, max_inputs=2, max_features=1,
                                      avoid_names=KNOWN_BAD_NAMES), label="spec")
        graph = skewless.check_source(text, f"{op}.feat")
        assume(op in {node.op for node in graph.nodes})
        features = build_features(graph)
        groups = [edge_records(features)] + [
            data.draw(batches(features), label=f"records {i}")
            for i in range(BUDGET.batches_per_spec - 1)]
        with SkewChecker(features) as checker:
            check_batches(checker, groups)
        count(f"function {op}", len(groups))

    cannot_skew()


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) ==
                                                      math.copysign(1, b))
    return type(a) is type(b) and a == b


def test_edge_records_hold_every_edge_value():
    """Checked against the edge lists by hand: each column takes every edge of its dtype
    (both zeros and NaN payloads apart), required columns are always there, columns that
    may be absent sometimes are not, lists are sometimes empty, sparse indices are valid."""
    columns = (ColumnSpec("f", "input", "float32", SCALAR),
               ColumnSpec("i", "input", "int64", fixed(2), default=0),
               ColumnSpec("s", "input", "string", Shape("variable")),
               ColumnSpec("p", "input", "string", Shape("sparse", (3,)), sparse_keys=("k", "v")),
               ColumnSpec("y", "label", "bool", SCALAR))
    found = edge_records(columns)
    assert len(found) == max(len(FLOAT32_EDGES), len(INT64_EDGES), len(STRING_EDGES)) == 32
    assert all("f" in r and "y" in r for r in found)
    floats = [r["f"] for r in found]
    assert all(any(_same(edge, f) for f in floats) for edge in FLOAT32_EDGES)
    ints = {v for r in found if "i" in r for v in r["i"]}
    assert ints == set(INT64_EDGES) and all(len(r["i"]) == 2 for r in found if "i" in r)
    strings = [v for r in found for v in r.get("s", []) + [v for _, v in r.get("p", [])]]
    assert all(any(_same(edge, s) for s in strings) for edge in STRING_EDGES)
    assert {r["y"] for r in found} == {False, True}
    assert any("i" not in r for r in found) and any("s" not in r for r in found)
    assert any(r.get("s") == [] for r in found) and any(r.get("p") == [] for r in found)
    for r in found:
        indices = [i for i, _ in r.get("p", [])]
        assert len(set(indices)) == len(indices) and all(0 <= i < 3 for i in indices)
    assert any(indices != sorted(indices) for indices in
               ([i for i, _ in r.get("p", [])] for r in found))
    assert edge_records(columns, labels=False)[0].keys() == found[0].keys() - {"y"}
