"""Drift between two profiles (skewless.drift, ``skewless drift``): the measures checked by
hand and against scipy on tables of distributions, synthetic shifts with known answers
(an unchanged sample, a shifted mean, a new category taking 30 % of traffic, a column that
starts arriving missing), threshold options, exit statuses and the JSON report."""
from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.spatial.distance import jensenshannon

from skewless import cli, drift
from skewless.profile import Profile
from skewless_test_helpers import example, write_records
from property_budget import BUDGET

pytestmark = pytest.mark.usefixtures("quiet_tensorflow")

SPEC = """\
spec shifted
input amount: float32
input city: string
input tip: float32 = 0.0
feature amount2 = amount * 2.0
feature city_id = vocab(city, vocabulary=["a", "b", "c", "d"], oov_buckets=1)
feature tip
"""
CITIES, SHARES = ["a", "b", "c", "d"], [0.4, 0.3, 0.2, 0.1]


# -- the measures, on tables of distributions ----------------------------------------------

# (p, q, JS divergence in bits), computed by hand
JS_TABLE = [
    ([1, 1], [1, 1], 0.0),
    ([1, 0], [0, 1], 1.0),  # disjoint: the most, 1 bit
    ([5, 0, 0], [0, 0, 7], 1.0),  # counts, not probabilities: normalized first
    # P=(1,0), Q=(½,½), M=(¾,¼): (log2(4/3) + (½·log2(2/3) + ½·log2(2))) / 2
    ([1, 0], [1, 1], (math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5) / 2),
    # P=(½,½,0), Q=(0,½,½), M=(¼,½,¼): each KL is ½·log2(2) + ½·log2(1) = ½
    ([1, 1, 0], [0, 1, 1], 0.5),
]


@pytest.mark.parametrize("p, q, expected", JS_TABLE)
def test_js_divergence_matches_values_computed_by_hand(p, q, expected):
    assert drift.js_divergence(p, q) == pytest.approx(expected, abs=1e-12)
    assert drift.js_divergence(q, p) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=BUDGET.max_examples)
@given(st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 1000), min_size=n, max_size=n).filter(any),
    st.lists(st.integers(0, 1000), min_size=n, max_size=n).filter(any))))
def test_js_divergence_is_the_square_of_scipys_base_2_distance(pair):
    p, q = pair
    # scipy.spatial.distance.jensenshannon is the distance: the divergence's square root
    assert drift.js_divergence(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2,
                                                      abs=1e-9)


# (p, q, (value, L-infinity distance)), by hand
LINF_TABLE = [
    ({}, {}, (None, 0.0)),
    ({"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.5}, ("a", 0.0)),
    ({"a": 0.75, "b": 0.25}, {"a": 0.5, "b": 0.125, "c": 0.375}, ("c", 0.375)),
    ({"a": 0.5, "b": 0.5}, {"a": 1.0}, ("a", 0.5)),  # a tie: the first value
    ({"a": 0.6, "b": 0.4}, {"a": 0.5, "new": 0.5}, ("new", 0.5)),
    ({1: 0.25, 2: 0.75}, {1: 0.75, 2: 0.25}, (1, 0.5)),
]


@pytest.mark.parametrize("p, q, expected", LINF_TABLE)
def test_linf_distance_matches_values_computed_by_hand(p, q, expected):
    at, distance = drift.linf_distance(p, q)
    assert (at, pytest.approx(distance, abs=1e-12)) == expected


def _string_column(counts: Counter, top_k: int, missing: int = 0) -> dict:
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top_k]
    return {"dtype": "string", "shape": "", "examples": sum(counts.values()) + missing,
            "missing": missing, "values": {"distinct": len(counts), "exact": True,
                                           "top": [list(pair) for pair in top]}}


def _profile(columns: dict, fingerprint: str = "f") -> Profile:
    return Profile("p", fingerprint, columns={"inputs": columns, "features": {}})


@settings(max_examples=BUDGET.max_examples)
@given(st.dictionaries(st.sampled_from("abcdefgh"), st.integers(1, 50), min_size=1),
       st.dictionaries(st.sampled_from("abcdefgh"), st.integers(1, 50), min_size=1),
       st.integers(1, 8))
def test_linf_over_the_top_values_is_within_the_smallest_listed_share(a, b, top_k):
    """Values outside a profile's top count as 0 there: the distance is off from the exact
    one by at most the smallest share either profile lists (none when both list all)."""
    report = drift.compare(_profile({"s": _string_column(Counter(a), top_k)}),
                           _profile({"s": _string_column(Counter(b), top_k)}))
    found = report.columns[0].measures["distance"].value
    na, nb = sum(a.values()), sum(b.values())
    exact = max(abs(a.get(v, 0) / na - b.get(v, 0) / nb) for v in set(a) | set(b))
    bound = max(min(sorted(a.values(), reverse=True)[:top_k]) / na if len(a) > top_k else 0,
                min(sorted(b.values(), reverse=True)[:top_k]) / nb if len(b) > top_k else 0)
    assert abs(found - exact) <= bound + 1e-12


def test_missing_rate_and_new_values_by_hand():
    base = _string_column(Counter({"a": 6, "b": 2}), 20, missing=2)  # 10 examples, 20 % missing
    other = _string_column(Counter({"a": 2, "c": 3}), 20, missing=5)  # 10 examples, 50 %
    column = drift.compare(_profile({"s": base}), _profile({"s": other})).columns[0]
    assert column.measures["missing"].value == pytest.approx(0.3)
    assert column.measures["new_values"].value == pytest.approx(3 / 5)
    assert column.measures["new_values"].detail["values"] == ["c"]
    # a: 6/8 → 2/5, b: 2/8 → 0, c: 0 → 3/5
    assert column.measures["distance"].value == pytest.approx(3 / 5)
    assert column.measures["distance"].detail["at"] == "c"
    assert sorted(column.exceeded) == ["distance", "missing", "new_values"]


def test_a_threshold_is_exceeded_only_above_it():
    base = _string_column(Counter({"a": 1, "b": 1}), 20)
    other = _string_column(Counter({"a": 3, "b": 1}), 20)  # L-infinity exactly 0.25
    for threshold, exceeded in ((0.25, []), (0.2499, ["distance"])):
        thresholds = drift.Thresholds(columns={("s", "distance"): threshold})
        report = drift.compare(_profile({"s": base}), _profile({"s": other}),
                               thresholds=thresholds)
        assert report.columns[0].exceeded == exceeded


@pytest.mark.parametrize("text, defaults, message", [
    ("city", False, "expected NAME=VALUE"),
    ("=0.1", False, "expected NAME=VALUE"),
    ("city=abc", False, "a number from 0 to 1"),
    ("city=1.5", False, "a number from 0 to 1"),
    ("city=-0.1", False, "a number from 0 to 1"),
    ("city=nan", False, "a number from 0 to 1"),
    ("city.bogus=0.1", False, "COLUMN or COLUMN.MEASURE"),
    ("city.=0.1", False, "COLUMN or COLUMN.MEASURE"),
    (".missing=0.1", False, "COLUMN or COLUMN.MEASURE"),
    ("distance=0.1", True, "unknown measure 'distance'"),
])
def test_bad_thresholds_are_refused(text, defaults, message):
    with pytest.raises(drift.SkewlessError, match=message):
        drift.parse_threshold(text, defaults)


def test_profiles_of_another_spec_are_refused():
    column = _string_column(Counter({"a": 1}), 20)
    with pytest.raises(drift.SkewlessError, match="another spec or other analyzer constants"):
        drift.compare(_profile({"s": column}, "one"), _profile({"s": column}, "two"))


@pytest.mark.parametrize("baseline_columns, other_columns, message", [
    (["s"], ["s", "t"], "base: has no input 't', which other has"),
    (["s", "t"], ["s"], "other: has no string input 't', which base has"),
])
def test_profiles_of_different_columns_are_refused_whichever_has_more(
        baseline_columns, other_columns, message):
    column = _string_column(Counter({"a": 1}), 20)
    with pytest.raises(drift.SkewlessError, match=message):
        drift.compare(_profile({name: column for name in baseline_columns}),
                      _profile({name: column for name in other_columns}), baseline_name="base",
                      other_name="other")


# -- synthetic shifts through the command ---------------------------------------------------

def _records(rng, n, mean=0.0, new_city=0.0, tip_missing=False):
    amounts = rng.normal(mean, 1.0, n)
    cities = rng.choice(CITIES, n, p=SHARES).tolist()
    for i in np.flatnonzero(rng.random(n) < new_city):
        cities[i] = "e"
    tips = rng.uniform(0, 10, n)
    records = [example(amount=float(a), city=c, tip=None if tip_missing else float(t))
               for a, c, t in zip(amounts, cities, tips)]
    return records, cities, amounts


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The spec, the training data's profile, and the data sets that moved."""
    root = tmp_path_factory.mktemp("drift")
    spec = root / "shifted.feat"
    spec.write_text(SPEC)
    rng = np.random.default_rng(7)
    data = {}
    for name, options in (("train", {}), ("same", {}), ("mean", {"mean": 1.5}),
                          ("city", {"new_city": 0.3}), ("tip", {"tip_missing": True})):
        records, cities, amounts = _records(rng, 4000 if name == "train" else 2000, **options)
        data[name] = (write_records(root / f"{name}.tfrecord", records), cities, amounts)
    baseline = root / "train.profile.json"
    assert cli.main(["stats", str(spec), "--data", data["train"][0], "-o", str(baseline)]) == 0
    return {"root": root, "spec": str(spec), "baseline": str(baseline), "data": data}


def _drift(world, name, *options, capsys):
    status = cli.main(["drift", world["spec"], "--baseline", world["baseline"], "--data",
                       world["data"][name][0], "--format", "json", *options])
    out, err = capsys.readouterr()
    return status, json.loads(out), err


def _by_name(report) -> dict:
    return {(c["section"], c["name"]): c for c in report["columns"]}


def test_an_unchanged_sample_is_near_0_and_exits_0(world, capsys):
    status, report, err = _drift(world, "same", capsys=capsys)
    assert status == 0, err
    assert report["exceeded"] == 0
    for column in report["columns"]:
        for measure in column["measures"].values():
            assert measure["value"] is None or measure["value"] < 0.03, column


def test_a_shifted_mean_exceeds_its_threshold_and_comes_first(world, capsys):
    status, report, _ = _drift(world, "mean", capsys=capsys)
    assert status == 1
    first = {(c["section"], c["name"]) for c in report["columns"][:2]}
    assert first == {("inputs", "amount"), ("features", "amount2")}
    amount = _by_name(report)["inputs", "amount"]["measures"]["distance"]
    assert amount["type"] == "js" and amount["exceeded"]
    # the same divergence, counted by numpy over the baseline's bins, measured by scipy
    baseline = json.loads(open(world["baseline"]).read())["inputs"]["amount"]
    edges = baseline["numbers"]["histogram"]["edges"]
    bins = lambda values: np.bincount(np.searchsorted(  # noqa: E731
        edges, values.astype(np.float32), side="right"), minlength=len(edges) + 1)
    expected = jensenshannon(bins(world["data"]["train"][2]), bins(world["data"]["mean"][2]),
                             base=2) ** 2
    assert amount["value"] == pytest.approx(expected, rel=1e-9)
    assert report["exceeded"] == 2


def test_a_new_category_taking_30_percent_is_named_first(world, capsys):
    status, report, err = _drift(world, "city", capsys=capsys)
    assert status == 1
    assert "city" in err
    names = [(c["section"], c["name"]) for c in report["columns"][:2]]
    assert set(names) == {("inputs", "city"), ("features", "city_id")}
    city = _by_name(report)["inputs", "city"]["measures"]
    before, after = Counter(world["data"]["train"][1]), Counter(world["data"]["city"][1])
    shares = {v: abs(after[v] / 2000 - before[v] / 4000) for v in set(before) | set(after)}
    assert city["distance"]["value"] == pytest.approx(max(shares.values()), abs=1e-12)
    assert city["distance"]["at"] == "e" and city["distance"]["value"] > 0.25
    assert city["new_values"]["values"] == ["e"]
    assert city["new_values"]["value"] == pytest.approx(after["e"] / 2000, abs=1e-12)
    oov = _by_name(report)["features", "city_id"]["measures"]["oov"]
    assert oov["exceeded"] and oov["other"] == pytest.approx(after["e"] / 2000, abs=1e-12)


def test_a_column_arriving_missing_exceeds_its_missing_rate(world, capsys):
    status, report, _ = _drift(world, "tip", capsys=capsys)
    assert status == 1
    assert [(c["section"], c["name"]) for c in report["columns"][:2]] == [
        ("inputs", "tip"), ("features", "tip")]
    missing = _by_name(report)["inputs", "tip"]["measures"]["missing"]
    assert (missing["baseline"], missing["other"], missing["value"]) == (0.0, 1.0, 1.0)
    # the feature takes the default, 0.0, everywhere: below every bin's edge but the first
    tip = _by_name(report)["features", "tip"]["measures"]["distance"]
    assert tip["exceeded"] and tip["value"] > 0.5


def test_thresholds_from_the_command_line(world, capsys):
    status, report, _ = _drift(world, "mean", "--threshold", "amount=1", "amount2=1",
                               capsys=capsys)
    assert status == 0 and report["exceeded"] == 0
    status, report, _ = _drift(world, "same", "--default-threshold", "js=0", "linf=0",
                               capsys=capsys)
    assert status == 1
    assert _by_name(report)["inputs", "amount"]["measures"]["distance"]["threshold"] == 0


@pytest.mark.parametrize("options, message", [
    (["--threshold", "amount.new_values=0.1"],
     "--threshold: no such measure: amount.new_values (amount has distance"),
    (["--threshold", "city=0.1", "city=0.2"], "--threshold: city is given twice"),
    (["--threshold", "city.oov=0.1", "amount=0.1", "city.oov=0.2"],
     "--threshold: city.oov is given twice"),
    (["--default-threshold", "js=0.1", "js=0.2"], "--default-threshold: js is given twice"),
    (["--threshold", "city=0.1", "--threshold", "city=0.2"], "--threshold: city is given twice"),
])
def test_thresholds_that_mean_nothing_or_twice_are_refused(world, capsys, options, message):
    status = cli.main(["drift", world["spec"], "--baseline", world["baseline"], "--data",
                       world["data"]["same"][0], *options])
    err = capsys.readouterr().err
    assert status == 1 and message in err and "Traceback" not in err, err


def test_thresholds_of_repeated_options_all_apply(world, capsys):
    status, report, _ = _drift(world, "same", "--threshold", "amount=0.5", "--threshold",
                               "city=0.25", "--default-threshold", "js=0.75",
                               "--default-threshold", "linf=0.125", capsys=capsys)
    thresholds = {name: column["measures"]["distance"]["threshold"]
                  for (_, name), column in _by_name(report).items()}
    assert (thresholds["amount"], thresholds["city"]) == (0.5, 0.25)
    assert (thresholds["amount2"], thresholds["city_id"]) == (0.75, 0.125)


def test_a_threshold_of_no_column_is_refused_before_the_data_is_read(world, capsys):
    status = cli.main(["drift", world["spec"], "--baseline", world["baseline"], "--data",
                       str(world["root"] / "no such file.tfrecord"), "--threshold",
                       "nosuch=0.1"])
    err = capsys.readouterr().err
    assert status == 1 and "--threshold: no input or feature named nosuch" in err, err


def test_the_json_report_is_stable_and_the_same_from_a_profile(world, capsys, tmp_path):
    """--data profiles over the baseline's bins, as 'skewless stats --baseline' does."""
    other = tmp_path / "city.profile.json"
    assert cli.main(["stats", world["spec"], "--data", world["data"]["city"][0], "--baseline",
                     world["baseline"], "-o", str(other)]) == 0
    texts = []
    for source in (["--data", world["data"]["city"][0]], ["--profile", str(other)],
                   ["--profile", str(other)]):
        out = tmp_path / f"report{len(texts)}.json"
        assert cli.main(["drift", world["spec"], "--baseline", world["baseline"], *source,
                         "--format", "json", "-o", str(out)]) == 1
        texts.append(out.read_text())
    assert texts[1] == texts[2]
    first, second = json.loads(texts[0]), json.loads(texts[1])
    assert first.pop("other") != second.pop("other")
    assert first == second
    assert first["format"] == "skewless-drift/1"
    assert set(first) == {"format", "spec", "baseline", "exceeded", "columns"}
    assert set(first["columns"][0]) == {"section", "name", "dtype", "kind", "exceeded",
                                        "measures"}


def test_the_table_names_the_columns_worst_first(world, capsys):
    status = cli.main(["drift", world["spec"], "--baseline", world["baseline"], "--data",
                       world["data"]["tip"][0]])
    out, err = capsys.readouterr()
    assert status == 1
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["FAIL", "input", "tip"]
    assert "0.0% → 100.0%!" in lines[1]
    assert "2 of 6 columns past a threshold: tip, tip" in err


@pytest.mark.parametrize("options, message", [
    (["--threshold", "nowhere=0.1"], "no input or feature named nowhere"),
    (["--threshold", "city=2"], "a number from 0 to 1"),
    (["--default-threshold", "jsd=0.1"], "unknown measure 'jsd'"),
    (["--format", "html"], "--format html writes a page: give -o FILE"),
])
def test_mistakes_are_errors_without_a_traceback(world, capsys, options, message):
    status = cli.main(["drift", world["spec"], "--baseline", world["baseline"], "--profile",
                       world["baseline"], *options])
    out, err = capsys.readouterr()
    assert status == 1 and message in err and "Traceback" not in err


def test_a_profile_with_its_own_bins_or_of_another_spec_is_refused(world, capsys, tmp_path):
    own = tmp_path / "own.profile.json"
    assert cli.main(["stats", world["spec"], "--data", world["data"]["same"][0],
                     "-o", str(own)]) == 0
    assert cli.main(["drift", world["spec"], "--baseline", world["baseline"],
                     "--profile", str(own)]) == 1
    assert "other histogram bins than the baseline's" in capsys.readouterr().err
    other_spec = tmp_path / "other.feat"
    other_spec.write_text(SPEC.replace("amount * 2.0", "amount * 3.0"))
    other = tmp_path / "other.profile.json"
    assert cli.main(["stats", str(other_spec), "--data", world["data"]["same"][0],
                     "-o", str(other)]) == 0
    capsys.readouterr()
    assert cli.main(["drift", world["spec"], "--baseline", world["baseline"],
                     "--profile", str(other)]) == 1
    assert "another spec or other analyzer constants" in capsys.readouterr().err


def test_a_baseline_of_another_spec_than_the_one_given_is_refused(world, capsys, tmp_path):
    other_spec = tmp_path / "other.feat"
    other_spec.write_text(SPEC.replace("amount * 2.0", "amount * 3.0"))
    assert cli.main(["drift", str(other_spec), "--baseline", world["baseline"],
                     "--profile", world["baseline"]]) == 1
    err = capsys.readouterr().err
    assert "a profile of another spec or other analyzer constants than" in err
    assert "Traceback" not in err


# -- profiles damaged or edited by hand -------------------------------------------------------

def _leaf_paths(value, path=()):
    """The path of every value inside a column (dict keys and list indices)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_paths(item, path + (key,))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaf_paths(item, path + (index,))
    if path:
        yield path


WRONG = ["x", None, [], {}, -1, 1.5, True, [["a"]], 10**30, float("nan")]


@settings(max_examples=BUDGET.max_examples, deadline=None)
@given(data=st.data(), damaged_side=st.sampled_from(["baseline", "other"]))
def test_a_damaged_profile_is_an_error_or_a_report_never_a_crash(world, tmp_path_factory,
                                                                 data, damaged_side):
    payload = json.loads(open(world["baseline"]).read())
    section = data.draw(st.sampled_from(["inputs", "features"]))
    name = data.draw(st.sampled_from(sorted(payload[section])))
    path = data.draw(st.sampled_from(sorted(_leaf_paths(payload[section][name]), key=repr)))
    place = payload[section][name]
    for key in path[:-1]:
        place = place[key]
    place[path[-1]] = data.draw(st.sampled_from(WRONG))
    edited = tmp_path_factory.mktemp("damaged") / "edited.profile.json"
    edited.write_text(json.dumps(payload))
    baseline, other = (str(edited), world["baseline"]) if damaged_side == "baseline" else \
        (world["baseline"], str(edited))
    status = cli.main(["drift", world["spec"], "--baseline", baseline, "--profile", other,
                       "--format", "json", "-o", str(edited.parent / "report.json")])
    assert status in (0, 1)  # a report, or an error message: an exception fails the test
