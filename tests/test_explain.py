"""``skewless explain``: the bundled example described by hand, generated specs against what
their syntax trees say, constants from a stats file and from data, and errors."""
from __future__ import annotations

import json
import os
import re
import tempfile

import numpy as np
import pytest
from hypothesis import given

from skewless.cli import main
from skewless.explain import to_json
from skewless.describe import describe
from skewless.testing import spec_sources
from skewless_test_helpers import FLIGHTS, example, write_records
from spec_dependencies import dependencies

SPEC = str(FLIGHTS / "flights.feat")

# (name, kind, dtype, shape kind, dims, raw columns, analyzers, line): read off flights.feat
FLIGHTS_OUTPUTS = [
    ("distance_z", "feature", "float32", "scalar", [], ["distance"], ["distance_z/zscore"], 19),
    ("delay_log", "feature", "float32", "scalar", [], ["dep_delay"], [], 20),
    ("carrier_id", "feature", "int64", "scalar", [], ["carrier"], ["carrier_id/vocab"], 21),
    ("dest_id", "feature", "int64", "scalar", [], ["dest"], ["dest_id/vocab"], 22),
    ("tail_bucket", "feature", "int64", "scalar", [], ["tailnum"], [], 23),
    ("hour_bucket", "feature", "int64", "scalar", [], ["sched_dep_time"],
     ["hour_bucket/bucketize"], 24),
    ("dep_q", "feature", "int64", "scalar", [], ["sched_dep_time"], ["dep_q/bucketize"], 25),
    ("route", "feature", "int64", "scalar", [], ["origin", "dest"], [], 26),
    ("tag_ids", "feature", "int64", "fixed", [4], ["tags"], [], 27),
    ("carrier", "feature", "string", "scalar", [], ["carrier"], [], 28),
    ("late", "target", "int64", "scalar", [], ["arr_delay"], [], 30),
    ("delay", "target", "float32", "scalar", [], ["arr_delay"], [], 31),
]
# (name, role, dtype, shape kind, dims, default, read by, served, line)
FLIGHTS_COLUMNS = [
    ("carrier", "input", "string", "scalar", [], None, ["carrier_id", "carrier"], True, 4),
    ("origin", "input", "string", "scalar", [], None, ["route"], True, 5),
    ("dest", "input", "string", "scalar", [], None, ["dest_id", "route"], True, 6),
    ("tailnum", "input", "string", "scalar", [], "", ["tail_bucket"], True, 7),
    ("distance", "input", "int64", "scalar", [], None, ["distance_z"], True, 8),
    ("sched_dep_time", "input", "int64", "scalar", [], None, ["hour_bucket", "dep_q"], True, 9),
    ("dep_delay", "input", "float32", "scalar", [], 0.0, ["delay_log"], True, 10),
    ("tags", "input", "string", "variable", [], None, ["tag_ids"], True, 11),
    ("position", "input", "float32", "fixed", [2], None, [], True, 12),
    ("arr_delay", "label", "float32", "scalar", [], None, ["late", "delay"], False, 14),
    ("importance", "weight", "float32", "scalar", [], 1.0, [], False, 15),
]


def explain(capsys, *args) -> tuple[int, str, str]:
    status = main(["explain", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def explain_json(capsys, *args) -> dict:
    status, out, err = explain(capsys, *args, "--format", "json")
    assert status == 0, err
    return json.loads(out)


def test_json_describes_every_output_and_column_of_the_example(capsys):
    document = explain_json(capsys, SPEC)
    assert list(document) == ["spec", "name", "outputs", "lets", "analyzers", "columns"]
    assert (document["spec"], document["name"]) == (SPEC, "flights")
    assert [(o["name"], o["kind"], o["dtype"], o["shape"]["kind"], o["shape"]["dims"],
             o["columns"], o["analyzers"], o["line"]) for o in document["outputs"]] \
        == FLIGHTS_OUTPUTS
    assert [(c["name"], c["role"], c["dtype"], c["shape"]["kind"], c["shape"]["dims"],
             c["default"], c["read_by"], c["served"], c["line"]) for c in document["columns"]] \
        == FLIGHTS_COLUMNS
    assert document["lets"] == [{
        "name": "hour", "dtype": "int64", "shape": {"kind": "scalar", "dims": []},
        "reads": ["sched_dep_time"], "columns": ["sched_dep_time"], "analyzers": [],
        "line": 17, "column": 1}]
    hour_bucket = next(o for o in document["outputs"] if o["name"] == "hour_bucket")
    assert hour_bucket["reads"] == ["hour"]  # the let, which reads sched_dep_time
    assert list(hour_bucket) == ["name", "kind", "dtype", "shape", "reads", "columns",
                                 "analyzers", "line", "column"]
    assert list(document["columns"][0]) == ["name", "role", "dtype", "shape", "default",
                                            "sparse_keys", "read_by", "served", "line", "column"]


def test_analyzers_without_stats_are_not_computed_and_spec_constants_are_shown(capsys):
    analyzers = {a["key"]: a for a in explain_json(capsys, SPEC)["analyzers"]}
    assert sorted(analyzers) == ["carrier_id/vocab", "dep_q/bucketize", "dest_id/vocab",
                                 "distance_z/zscore", "hour_bucket/bucketize"]
    assert analyzers["distance_z/zscore"] == {
        "key": "distance_z/zscore", "function": "zscore",
        "constants": {"mean": None, "std": None}, "origin": None, "line": 19, "column": 24}
    assert analyzers["hour_bucket/bucketize"]["constants"] == {"boundaries": [6, 12, 18]}
    assert analyzers["hour_bucket/bucketize"]["origin"] == "spec"
    status, out, _ = explain(capsys, SPEC)
    assert status == 0
    rows = _section(out, "ANALYZER")
    assert rows["distance_z/zscore"] == ["zscore", "not computed", "19:24"]
    assert rows["hour_bucket/bucketize"] == ["bucketize", "boundaries=[6, 12, 18] (in the spec)",
                                             "24:24"]


def test_the_table_lines_up_and_says_what_serving_receives(capsys):
    status, out, _ = explain(capsys, SPEC)
    assert status == 0
    assert out.splitlines()[0] == f"spec flights ({SPEC})"
    outputs = _section(out, "OUTPUT")
    assert outputs["tag_ids"] == ["feature", "int64", "[4]", "tags", "-", "27:1"]
    assert outputs["route"] == ["feature", "int64", "scalar", "origin, dest", "-", "26:1"]
    assert outputs["late"] == ["target", "int64", "scalar", "arr_delay", "-", "30:1"]
    columns = _section(out, "RAW COLUMN")
    assert columns["arr_delay"] == ["label", "float32", "scalar", "required", "late, delay",
                                    "no (training only)", "14:1"]
    assert columns["importance"] == ["weight", "float32", "scalar", "1.0", "-",
                                     "no (training only)", "15:1"]
    assert columns["tags"] == ["input", "string", "[] (variable)", "empty list", "tag_ids",
                               "yes", "11:1"]
    assert columns["tailnum"][3] == '""'
    assert _section(out, "LET")["hour"] == ["int64", "scalar", "sched_dep_time",
                                           "sched_dep_time", "17:1"]
    for block in out.strip().split("\n\n")[1:]:  # every cell starts where its header does
        lines = block.splitlines()
        starts = [m.start() for m in re.finditer(r"(?<=  )\S|^\S", lines[0])]
        for line in lines[1:]:
            for start in starts:
                assert line[start - 2:start] in ("  ", "") and line[start] != " ", (line, start)
        assert all(line == line.rstrip() for line in lines)


def _section(out: str, header: str) -> dict:
    """The rows of the table whose first header is ``header``: first cell -> other cells
    (cells are two or more spaces apart)."""
    for block in out.strip().split("\n\n"):
        lines = block.splitlines()
        if re.split(r"  +", lines[0])[0] == header:
            return {cells[0]: cells[1:] for cells in (re.split(r"  +", line) for line in lines[1:])}
    raise AssertionError(f"no section {header} in:\n{out}")


def test_constants_come_from_the_stats_file(tmp_path, capsys):
    constants = {"carrier_id/vocab": {"vocabulary": ["WN", "AA", "DL", "UA", "B6"]},
                 "dep_q/bucketize": {"boundaries": [700, 1200]},
                 "dest_id/vocab": {"vocabulary": ["atl"]},
                 "distance_z/zscore": {"mean": 1000.5, "std": 250.25}}
    stats = tmp_path / "flights.stats.json"
    stats.write_text(json.dumps({"format": "skewless-stats/1", "spec": "flights", "rows": 3,
                                 "analyzers": {k: {"constants": v} for k, v in constants.items()}}))
    analyzers = {a["key"]: a for a in explain_json(capsys, SPEC, "--stats", stats)["analyzers"]}
    for key, given in constants.items():
        assert (analyzers[key]["constants"], analyzers[key]["origin"]) == (given, "stats")
    assert analyzers["hour_bucket/bucketize"]["origin"] == "spec"
    status, out, _ = explain(capsys, SPEC, "--stats", stats)
    rows = _section(out, "ANALYZER")
    assert rows["distance_z/zscore"][1] == "mean=1000.5, std=250.25"
    assert rows["carrier_id/vocab"][1] == 'vocabulary=["WN", "AA", "DL", … 5 values]'


def test_constants_are_computed_from_data(tmp_path, capsys):
    spec = tmp_path / "small.feat"
    spec.write_text("input x: float32\ninput s: string\nlabel y: float32\n"
                    "feature z = zscore(x)\nfeature i = vocab(s)\ntarget t = y\n")
    xs = [1.0, 2.0, 4.0, 9.0]
    data = write_records(tmp_path / "train.tfrecord",
                         [example(x=x, s=s, y=0.0) for x, s in zip(xs, "abab")])
    analyzers = {a["key"]: a for a in explain_json(capsys, spec, "--data", data)["analyzers"]}
    zscore = analyzers["z/zscore"]["constants"]
    assert zscore["mean"] == pytest.approx(np.mean(xs))
    assert zscore["std"] == pytest.approx(np.std(xs))
    assert analyzers["z/zscore"]["origin"] == "data"
    assert sorted(analyzers["i/vocab"]["constants"]["vocabulary"]) == ["a", "b"]


@given(spec_sources(max_inputs=4, max_features=4))
def test_generated_specs_are_described_as_their_syntax_says(source):
    """Every column and output once, in declaration order; what each reads, directly and
    through lets, as worked out from the syntax tree; serving receives the inputs only."""
    expected = dependencies(source)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "generated.feat")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(source)
        document = json.loads(json.dumps(to_json(describe(path))))
    columns = document["columns"]
    assert [(c["name"], c["role"]) for c in columns] == list(expected.roles.items())
    assert [c["served"] for c in columns] == [role == "input" for role in expected.roles.values()]
    outputs = document["outputs"]
    kinds = [(kind, name) for kind, name in expected.outputs if kind == "feature"] + \
        [(kind, name) for kind, name in expected.outputs if kind == "target"]
    assert [(o["kind"], o["name"]) for o in outputs] == kinds
    assert [let["name"] for let in document["lets"]] == expected.lets
    for value in outputs + [dict(let, kind="let") for let in document["lets"]]:
        key = (value["kind"], value["name"])
        assert set(value["reads"]) == expected.reads[key]
        assert len(value["reads"]) == len(set(value["reads"]))
        assert set(value["columns"]) == expected.columns(*key)
    for column in columns:
        assert set(column["read_by"]) == {name for kind, name in expected.outputs
                                          if column["name"] in expected.columns(kind, name)}
    for analyzer in document["analyzers"]:  # generated specs write their constants
        assert analyzer["origin"] == "spec"
        assert None not in analyzer["constants"].values()


def test_a_let_named_as_a_type_is_read_only_where_it_is_a_value(tmp_path, capsys):
    spec = tmp_path / "types.feat"
    spec.write_text("input x: float32\nlet int64 = x * 2\n"
                    "feature f = cast(x, int64)\nfeature g = int64 + 1\n")
    outputs = {o["name"]: o for o in explain_json(capsys, spec)["outputs"]}
    assert outputs["f"]["reads"] == ["x"] and outputs["f"]["dtype"] == "int64"
    assert outputs["g"]["reads"] == ["int64"] and outputs["g"]["dtype"] == "float32"


def test_bool_and_non_finite_defaults_and_sparse_keys(tmp_path, capsys):
    spec = tmp_path / "odd.feat"
    spec.write_text("input b: bool[2] = [true, false]\ninput f: float32 = nan\n"
                    "input s: sparse float32[10] from (ix, vx)\n"
                    "feature fb = cast(b, int64)\nfeature ff = fill_nan(f, 0)\n"
                    "feature fs = dense(s)\n")
    columns = {c["name"]: c for c in explain_json(capsys, spec)["columns"]}
    assert columns["b"]["default"] == [True, False]
    assert columns["f"]["default"] == {"float": "nan"}  # as a stats file writes NaN
    assert columns["s"]["sparse_keys"] == ["ix", "vx"]
    assert columns["s"]["shape"] == {"kind": "sparse", "dims": [10]}
    _, out, _ = explain(capsys, spec)
    rows = _section(out, "RAW COLUMN")
    assert rows["b"][3] == "[true, false]" and rows["f"][3] == "nan"
    assert rows["s"][2] == "sparse[10] from (ix, vx)"


def test_spec_errors_are_positioned_and_exit_1(tmp_path, capsys):
    spec = tmp_path / "bad.feat"
    spec.write_text("input x: float32\nfeature y = nosuch(x)\nfeature z = x + q\n")
    status, out, err = explain(capsys, spec)
    assert status == 1 and out == ""
    assert f"{spec}:2:13: error: unknown function 'nosuch'" in err
    assert f"{spec}:3:17: error: undefined name 'q'" in err
    assert "    feature y = nosuch(x)\n                ^~~~~~" in err
    assert "Traceback" not in err


def test_stats_missing_an_analyzer_is_a_positioned_error(tmp_path, capsys):
    stats = tmp_path / "partial.stats.json"
    stats.write_text(json.dumps({"format": "skewless-stats/1", "spec": "flights", "rows": 1,
                                 "analyzers": {"distance_z/zscore": {
                                     "constants": {"mean": 1.0, "std": 2.0}}}}))
    status, _, err = explain(capsys, SPEC, "--stats", stats)
    assert status == 1
    assert (f"{SPEC}:21:24: error: {stats} holds no constants for carrier_id/vocab (computed "
            f"for another version of the spec?): run 'skewless analyze' on this spec again "
            f"(or give them: vocab(…, vocabulary=…))") in err


def test_stats_and_data_together_are_refused(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["explain", SPEC, "--stats", "a.json", "--data", "b.tfrecord"])
    assert exit.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
