"""``skewless graph``: the drawings themselves are read back (the SVG's nodes, edges and
clusters, the PNG's header, the Mermaid flowchart's statements) and compared with the
dependencies written by hand for the bundled example, and with those worked out from the
syntax tree for generated specs.

Drawing SVG and PNG needs Graphviz's ``dot`` program, which pip does not install: without it
the tests that draw are skipped, saying so and how to install it (pytest's ``-ra`` prints
the reason), unless ``SKEWLESS_TESTS_NEED_DOT`` is set, as ``.ci/run`` sets it: then they
fail."""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

import pytest
from hypothesis import given

from skewless import drawing
from skewless.cli import main
from skewless.describe import describe
from skewless.testing import spec_sources
from skewless_test_helpers import FLIGHTS, REPO
from spec_dependencies import dependencies

SPEC = str(FLIGHTS / "flights.feat")
SVG = "{http://www.w3.org/2000/svg}"
FLIGHTS_NODES = [
    "input.carrier", "input.origin", "input.dest", "input.tailnum", "input.distance",
    "input.sched_dep_time", "input.dep_delay", "input.tags", "input.position",
    "label.arr_delay", "weight.importance", "let.hour",
    "feature.distance_z", "feature.delay_log", "feature.carrier_id", "feature.dest_id",
    "feature.tail_bucket", "feature.hour_bucket", "feature.dep_q", "feature.route",
    "feature.tag_ids", "feature.carrier", "target.late", "target.delay",
]
FLIGHTS_EDGES = {  # read off flights.feat
    ("input.sched_dep_time", "let.hour"), ("input.distance", "feature.distance_z"),
    ("input.dep_delay", "feature.delay_log"), ("input.carrier", "feature.carrier_id"),
    ("input.dest", "feature.dest_id"), ("input.tailnum", "feature.tail_bucket"),
    ("let.hour", "feature.hour_bucket"), ("input.sched_dep_time", "feature.dep_q"),
    ("input.origin", "feature.route"), ("input.dest", "feature.route"),
    ("input.tags", "feature.tag_ids"), ("input.carrier", "feature.carrier"),
    ("label.arr_delay", "target.late"), ("label.arr_delay", "target.delay"),
}


@pytest.fixture(scope="module")
def dot():
    """Graphviz's dot program; without it the test is skipped saying how to install it, or
    fails where ``SKEWLESS_TESTS_NEED_DOT`` is set (CI)."""
    found = shutil.which("dot")
    if found is None:
        message = (f"this test draws with Graphviz's 'dot' program, which is not installed: "
                   f"{drawing.INSTALL_GRAPHVIZ}")
        if os.environ.get("SKEWLESS_TESTS_NEED_DOT"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def graph(capsys, *args) -> tuple[int, str, str]:
    status = main(["graph", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def read_svg(data: bytes) -> dict:
    """Nodes (title -> bounding box), edges (title -> stroke colour) and clusters (title ->
    bounding box) of a Graphviz SVG; each title seen once."""
    root = ElementTree.fromstring(data)
    found = {"node": {}, "edge": {}, "cluster": {}}
    for group in root.iter(f"{SVG}g"):
        kind = group.get("class")
        if kind not in found:
            continue
        title = group.find(f"{SVG}title").text
        assert title not in found[kind], f"{kind} {title} drawn twice"
        if kind == "edge":
            found[kind][title] = group.find(f"{SVG}path").get("stroke")
        else:
            found[kind][title] = _box(group)
    return found


def _box(group) -> tuple:
    """The bounding box (left, top, right, bottom) of a node's or cluster's outline."""
    xs, ys = [], []
    for shape in group:
        if shape.tag == f"{SVG}ellipse":
            cx, cy, rx, ry = (float(shape.get(a)) for a in ("cx", "cy", "rx", "ry"))
            xs += [cx - rx, cx + rx]
            ys += [cy - ry, cy + ry]
        elif shape.tag in (f"{SVG}polygon", f"{SVG}path"):
            numbers = [float(n) for n in re.findall(r"-?[0-9.]+", shape.get("points")
                                                   or shape.get("d"))]
            xs += numbers[0::2]
            ys += numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _inside(inner: tuple, outer: tuple) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2]
            and inner[3] <= outer[3])


def svg_edges(svg: dict) -> set:
    return {tuple(title.split("->")) for title in svg["edge"]}


def test_svg_of_the_example_has_every_node_and_edge_once(tmp_path, capsys, dot):
    output = tmp_path / "flights.svg"
    status, out, err = graph(capsys, SPEC, "-o", output)
    assert status == 0, err
    assert out == f"wrote {output}: 11 raw columns, 1 let, 12 outputs, 14 edges\n"
    svg = read_svg(output.read_bytes())
    assert sorted(svg["node"]) == sorted(FLIGHTS_NODES)
    assert svg_edges(svg) == FLIGHTS_EDGES
    assert len(svg["edge"]) == len(FLIGHTS_EDGES)


def test_labels_and_the_weight_are_drawn_apart(tmp_path, capsys, dot):
    output = tmp_path / "flights.svg"
    assert graph(capsys, SPEC, "-o", output)[0] == 0
    svg = read_svg(output.read_bytes())
    training, serving = svg["cluster"]["cluster_training"], svg["cluster"]["cluster_serving"]
    for node, box in svg["node"].items():
        assert _inside(box, training) == node.startswith(("label.", "weight.")), node
        assert _inside(box, serving) == node.startswith("input."), node
    for (tail, head), colour in ((tuple(t.split("->")), c) for t, c in svg["edge"].items()):
        assert (colour == drawing.TRAINING_EDGE) == tail.startswith("label."), (tail, head)


def test_analyzer_constants_are_shown_from_stats(tmp_path, capsys, dot):
    stats = tmp_path / "flights.stats.json"
    stats.write_text('{"format": "skewless-stats/1", "spec": "flights", "rows": 2, '
                     '"analyzers": {"carrier_id/vocab": {"constants": {"vocabulary": ["WN"]}},'
                     ' "dep_q/bucketize": {"constants": {"boundaries": [700, 1200]}},'
                     ' "dest_id/vocab": {"constants": {"vocabulary": ["atl", "sfo"]}},'
                     ' "distance_z/zscore": {"constants": {"mean": 12.5, "std": 0.25}}}}')
    output = tmp_path / "flights.svg"
    assert graph(capsys, SPEC, "--stats", stats, "-o", output)[0] == 0
    texts = _node_texts(output.read_bytes())
    assert texts["feature.distance_z"] == ["distance_z", "feature float32",
                                           "zscore: mean=12.5, std=0.25"]
    assert texts["feature.dep_q"][2] == "bucketize: boundaries=[700, 1200]"
    assert texts["feature.dest_id"][2] == 'vocab: vocabulary=["atl", "sfo"]'
    assert texts["feature.hour_bucket"][2] == "bucketize: boundaries=[6, 12, 18]"
    assert texts["let.hour"] == ["hour", "let int64"]
    assert texts["input.tags"] == ["tags", "string[]"]
    assert texts["label.arr_delay"] == ["arr_delay", "label float32"]
    assert graph(capsys, SPEC, "-o", output)[0] == 0
    assert _node_texts(output.read_bytes())["feature.distance_z"][2] == "zscore: not computed"


def _node_texts(data: bytes) -> dict:
    root = ElementTree.fromstring(data)
    return {g.find(f"{SVG}title").text: [t.text for t in g.iter(f"{SVG}text")]
            for g in root.iter(f"{SVG}g") if g.get("class") == "node"}


def test_png_is_a_png(tmp_path, capsys, dot):
    output = tmp_path / "flights.png"
    assert graph(capsys, SPEC, "-o", output)[0] == 0
    data = output.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, chunk, width, height = struct.unpack(">I4sII", data[8:24])
    assert (length, chunk) == (13, b"IHDR") and width > 200 and height > 200
    assert data[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"


def test_dot_text_draws_the_same_graph(tmp_path, capsys, dot):
    output = tmp_path / "flights.gv"
    assert graph(capsys, SPEC, "-o", output)[0] == 0
    drawn = subprocess.run([dot, "-Tsvg", str(output)], capture_output=True, check=True)
    svg = read_svg(drawn.stdout)
    assert sorted(svg["node"]) == sorted(FLIGHTS_NODES)
    assert svg_edges(svg) == FLIGHTS_EDGES


def read_mermaid(text: str) -> tuple[list, set, dict]:
    """The node ids, edges and subgraph members of a Mermaid flowchart."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    nodes, edges, members, subgraph = [], set(), {}, None
    for line in lines[1:]:
        line = line.strip()
        if match := re.fullmatch(r'subgraph (\w+)\["[^"]*"\]', line):
            subgraph = match[1]
        elif line == "end":
            subgraph = None
        elif match := re.fullmatch(r'(\w+)(\[/|\(\[|\[\[|\[|\()"([^"]*)"(/\]|\]\)|\]\]|\]|\))',
                                   line):
            nodes.append(match[1])
            members[match[1]] = subgraph
        elif match := re.fullmatch(r"(\w+) --> (\w+)", line):
            edges.add((match[1], match[2]))
        else:
            assert re.fullmatch(r"(classDef|class|linkStyle) \S+ \S+", line), line
    return nodes, edges, members


def test_mermaid_text_of_the_example(tmp_path, capsys):
    output = tmp_path / "flights.mmd"
    assert graph(capsys, SPEC, "-o", output)[0] == 0
    nodes, edges, members = read_mermaid(output.read_text())
    ids = [node.replace(".", "_", 1) for node in FLIGHTS_NODES]
    assert sorted(nodes) == sorted(ids) and len(nodes) == len(set(nodes))
    assert edges == {(t.replace(".", "_", 1), h.replace(".", "_", 1)) for t, h in FLIGHTS_EDGES}
    assert {n for n, s in members.items() if s == "training"} == {"label_arr_delay",
                                                                   "weight_importance"}
    assert {n for n, s in members.items() if s == "serving"} == {
        i for i in ids if i.startswith("input_")}


@given(spec_sources(max_inputs=4, max_features=4))
def test_generated_specs_draw_their_dependencies(source):
    """SVG and Mermaid of generated specs: every column, let and output once, and an edge
    for each name a definition reads, as the syntax tree says."""
    expected = dependencies(source)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "generated.feat")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(source)
        description = describe(path)
    svg = read_svg(drawing.render(description, "svg"))
    assert sorted(svg["node"]) == sorted(expected.nodes())
    assert svg_edges(svg) == expected.edges()
    assert len(svg["edge"]) == len(expected.edges())
    nodes, edges, members = read_mermaid(drawing.mermaid_source(description))
    assert sorted(nodes) == sorted(drawing.mermaid_id(n) for n in expected.nodes())
    assert edges == {(drawing.mermaid_id(t), drawing.mermaid_id(h)) for t, h in expected.edges()}
    for node in expected.nodes():
        role = node.partition(".")[0]
        assert members[drawing.mermaid_id(node)] == {"input": "serving", "label": "training",
                                                    "weight": "training"}.get(role)


def test_without_dot_svg_says_how_to_install_graphviz_and_writes_nothing(tmp_path):
    output = tmp_path / "flights.svg"
    output.write_text("old")
    env = {**os.environ, "PATH": str(tmp_path / "empty"),
           "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    result = subprocess.run([sys.executable, "-m", "skewless", "graph", SPEC, "-o",
                             str(output)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    assert "needs Graphviz's 'dot' program" in result.stderr
    for how in ("apt install graphviz", "brew install graphviz", "conda install"):
        assert how in result.stderr
    assert "Traceback" not in result.stderr
    assert output.read_text() == "old"
    result = subprocess.run([sys.executable, "-m", "skewless", "graph", SPEC, "-o",
                             str(tmp_path / "flights.mmd")], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name, message", [
    ("flights.txt", "cannot tell the format from the extension"),
    ("flights", "cannot tell the format from the extension"),
])
def test_an_unknown_format_is_refused(tmp_path, capsys, name, message):
    status, _, err = graph(capsys, SPEC, "-o", tmp_path / name)
    assert status == 1 and message in err
    assert not (tmp_path / name).exists()


def test_the_spec_is_never_overwritten(tmp_path, capsys):
    spec = tmp_path / "flights.mmd"  # a spec whose name looks like an output
    spec.write_text((FLIGHTS / "flights.feat").read_text())
    status, _, err = graph(capsys, spec, "-o", spec)
    assert status == 1 and "is the spec this command reads" in err
    assert spec.read_text() == (FLIGHTS / "flights.feat").read_text()


def test_spec_errors_are_positioned_and_nothing_is_written(tmp_path, capsys):
    spec = tmp_path / "bad.feat"
    spec.write_text("input x: float32\nlabel y: float32\nfeature f = x + y\n")
    status, _, err = graph(capsys, spec, "-o", tmp_path / "bad.mmd")
    assert status == 1
    assert f"{spec}:3:17: error: feature 'f' depends on label 'y'" in err
    assert "    feature f = x + y\n                    ^" in err
    assert not (tmp_path / "bad.mmd").exists()


ODD_SPEC = ('input s: string\n'
            'feature f = vocab(s, vocabulary=["a\\"b", "c\\\\d", "<i>"], oov_buckets=1)\n')
ODD_CONSTANTS = r'vocab: vocabulary=["a\"b", "c\\d", "<i>"]'  # as the spec writes them


def test_svg_labels_show_quotes_backslashes_and_brackets_as_written(tmp_path, capsys, dot):
    spec = tmp_path / "odd.feat"
    spec.write_text(ODD_SPEC)
    output = tmp_path / "odd.svg"
    assert graph(capsys, spec, "-o", output)[0] == 0
    assert _node_texts(output.read_bytes())["feature.f"][2] == ODD_CONSTANTS


def test_mermaid_labels_escape_what_mermaid_would_read(tmp_path, capsys):
    spec = tmp_path / "odd.feat"
    spec.write_text(ODD_SPEC)
    output = tmp_path / "odd.mmd"
    assert graph(capsys, spec, "-o", output)[0] == 0
    text = output.read_text()
    nodes, edges, _ = read_mermaid(text)
    assert nodes == ["input_s", "feature_f"] and edges == {("input_s", "feature_f")}
    label = re.search(r'feature_f\(\["([^"]*)"\]\)', text)[1]
    assert re.sub("#([0-9]+);", lambda m: chr(int(m[1])), label).split("<br/>")[2] \
        == ODD_CONSTANTS
