"""Analyzer constants computed from data are always constants the compiler accepts: every
analyzer of the registry, fed arbitrary values (NaN, ±inf, the largest floats whose sums
overflow, subnormals, nothing), gives constants its own type rule accepts as if written in
the spec, or the error for data without values. And the rule for non-finite values, end to
end: records x = 1, 2, 3, +inf."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from skewless import cli, types as t
from skewless.ops.registry import Args, ArgError, constants_error, all_ops
from skewless_test_helpers import example, write_records

ANALYZERS = {name: op for name, op in sorted(all_ops().items()) if op.analyzer}
EDGE_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, 3.4028235e38, -3.4028235e38,
                               1e-45, -1e-45, 1.1754942e-38, 0.0, -0.0])
FLOATS = st.one_of(EDGE_FLOATS, st.floats(width=32))
INTS = st.one_of(st.sampled_from([2**63 - 1, -(2**63), 0]), st.integers(-(2**63), 2**63 - 1))
STRINGS = st.binary(max_size=4)
VALUES = {"float32": (FLOATS, np.float32), "int64": (INTS, np.int64), "string": (STRINGS, object)}


def _accepts(op, dtype: str) -> bool:
    try:
        op.infer(Args(op=op.name, types={"x": t.Type(dtype, t.SCALAR)}, consts=_knobs(op, 2)))
    except ArgError:
        return False
    return True


def _knobs(op, value) -> dict:
    consts = {p.name: p.default for p in op.const_params if not p.required}
    consts.update({knob: value for knob in op.analyzer.knobs})
    return consts


CASES = [(name, dtype) for name, op in ANALYZERS.items() for dtype in VALUES if _accepts(op, dtype)]


def test_every_analyzer_is_covered():
    assert {name for name, _ in CASES} == set(ANALYZERS) and len(ANALYZERS) >= 4


@pytest.mark.parametrize("name, dtype", CASES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_computed_constants_pass_the_rules_of_hand_written_ones(name, dtype, data):
    op = ANALYZERS[name]
    values, numpy_dtype = VALUES[dtype]
    consts = _knobs(op, data.draw(st.integers(2, 10), label="knob"))
    accumulator = op.analyzer.accumulator(consts)
    for batch in data.draw(st.lists(st.lists(values, max_size=12), max_size=4), label="batches"):
        accumulator.add(np.array(batch, dtype=numpy_dtype))
    try:
        result = accumulator.result()
    except ValueError as exc:
        assert accumulator.count == 0 and "has no values" in str(exc)
        return
    assert set(result) == set(op.analyzer.constants)
    assert constants_error(op, {"x": t.Type(dtype, t.SCALAR)}, {**consts, **result}) is None, result


@pytest.mark.parametrize("name, dtype", CASES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_constants_do_not_depend_on_the_order_or_the_batches_of_the_values(name, dtype, data):
    """The same values in another order, cut into other batches whose accumulators are
    merged in any order (as the engines and Beam's workers do), give the same constants, bit
    for bit: 0.0 and -0.0 too, which are equal, so a minimum or a quantile could give either."""
    op = ANALYZERS[name]
    values, numpy_dtype = VALUES[dtype]
    consts = _knobs(op, data.draw(st.integers(2, 10), label="knob"))
    # values from a small pool, so that equal values (0.0 and -0.0 among them) are common
    pool = data.draw(st.lists(values, min_size=1, max_size=3), label="pool")
    pool += [0.0, -0.0] if dtype == "float32" else []
    flat = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=30), label="values")
    shuffled = data.draw(st.permutations(flat), label="shuffled")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(flat)), max_size=4), label="cuts"))
    pieces = [shuffled[start:end] for start, end in zip([0, *cuts], [*cuts, len(flat)])]

    def constants(batches):
        accumulators = []
        for batch in batches:
            accumulator = op.analyzer.accumulator(consts)
            accumulator.add(np.array(batch, dtype=numpy_dtype))
            accumulators.append(accumulator)
        merged = accumulators[0]
        for other in accumulators[1:]:
            merged = merged.merge(other)
        try:
            return repr(merged.result())  # repr tells 0.0 from -0.0
        except ValueError as exc:
            return str(exc)

    merge_order = data.draw(st.permutations(pieces), label="merge order")
    assert constants(merge_order) == constants([flat])


def test_non_finite_values_cannot_be_written_by_hand():
    zscore, minmax = ANALYZERS["zscore"], ANALYZERS["minmax"]
    x = {"x": t.Type("float32", t.SCALAR)}
    for bad, refusal in ((math.nan, "a number"), (math.inf, "a finite number"),
                         (-math.inf, "a finite number"), (10**400, "a finite number")):
        assert f"mean must be {refusal}, got" in constants_error(zscore, x, {"mean": bad, "std": 1.0})
        assert f"std must be {refusal}, got" in constants_error(zscore, x, {"mean": 0.0, "std": bad})
        assert f"max must be {refusal}, got" in constants_error(
            minmax, x, {"lo": 0, "hi": 1, "min": 0.0, "max": bad})
    assert "max - min" in constants_error(minmax, x, {"lo": 0, "hi": 1, "min": -1e308,
                                                      "max": 1e308})


SPEC = """\
input x: float32
label y: float32 = 0.0
feature z = zscore(x)
feature m = minmax(x)
feature q = bucketize(x, quantiles=2)
target y = y
"""


def test_infinities_in_records_are_skipped_reported_and_refused_from_stats(tmp_path, capsys):
    spec = tmp_path / "s.feat"
    spec.write_text(SPEC)
    data = write_records(tmp_path / "d.tfrecord", [example(x=v) for v in (1.0, 2.0, 3.0, math.inf)])
    assert cli.main(["analyze", str(spec), "--data", data, "-o", str(tmp_path / "s.json")]) == 0
    printed = capsys.readouterr().out
    for key in ("z/zscore", "m/minmax", "q/bucketize"):
        assert f"{key}: skipped 1 infinite value of 4" in printed
    stats = json.loads((tmp_path / "s.json").read_text())["analyzers"]
    assert stats["z/zscore"]["constants"] == {"mean": 2.0, "std": math.sqrt(2 / 3)}
    assert stats["m/minmax"]["constants"] == {"min": 1.0, "max": 3.0}
    assert stats["q/bucketize"]["constants"] == {"boundaries": [2.0]}
    assert stats["z/zscore"]["inf_skipped"] == 1 and stats["z/zscore"]["values"] == 3
    # a stats file edited by hand is held to the rules of the spec
    stats["z/zscore"]["constants"]["std"] = {"float": "nan"}
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps({"format": "skewless-stats/1", "spec": None, "rows": 4,
                                  "analyzers": stats}))
    assert cli.main(["compile", str(spec), "--stats", str(edited), "-o", str(tmp_path / "o.py")]) == 1
    err = capsys.readouterr().err
    assert (f"s.feat:3:13: error: the constants of z/zscore in {edited} are refused: zscore: "
            "std must be a number, got nan") in err
    assert not (tmp_path / "o.py").exists()
