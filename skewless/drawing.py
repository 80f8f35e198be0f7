"""The dependency graph of a spec, drawn: raw columns -> lets -> features and targets.

Inputs (what serving receives) and labels and the weight (training only) are drawn in
clusters of their own, in distinct colours and shapes; every edge out of a value that
serving could not compute (a label, the weight, or a let that reads one) is drawn in the
labels' colour, so a path from a label to a feature would stand out. A node that calls an
analyzer shows its constants (or "not computed").

The text formats, Graphviz DOT and Mermaid, need only Python; SVG and PNG are rendered
from the DOT text by Graphviz's ``dot`` program, through the ``graphviz`` package. Node
names are those of ``Description.edges``: ``ROLE.NAME`` for raw columns, ``KIND.NAME`` for
lets, features and targets (a Graphviz node's ``<title>`` in SVG)."""
from __future__ import annotations

import re

import graphviz

from .describe import Description, column_node, constants_text
from .errors import SkewlessError

INSTALL_GRAPHVIZ = ("install Graphviz, which provides it: 'apt install graphviz' (Debian, "
                    "Ubuntu), 'brew install graphviz' (macOS), 'conda install -c conda-forge "
                    "graphviz' (conda), or see https://graphviz.org/download/")
FORMATS = ("svg", "png", "dot", "mmd")  # by file name extension; .gv is DOT too

# (Graphviz shape, style, fill colour, border colour), by kind of node
STYLES = {
    "input": ("box", "filled", "#d0e4ff", "#1c6fd6"),
    "label": ("box", "filled,bold", "#ffd8a8", "#d9480f"),
    "weight": ("box", "filled,bold", "#ffd8a8", "#d9480f"),
    "let": ("ellipse", "filled", "#ffffff", "#495057"),
    "feature": ("box", "filled,rounded", "#d3f9d8", "#2b8a3e"),
    "target": ("box", "filled,rounded,bold", "#ffc9c9", "#c92a2a"),
}
TRAINING_EDGE = "#d9480f"
CLUSTERS = (("serving", "inputs: serving receives them", ("input",), "#f1f7ff"),
            ("training", "labels and weight: training only", ("label", "weight"), "#fff4e6"))


def nodes(description: Description) -> list[tuple[str, str, list[str]]]:
    """Every node: (name, kind, lines of its label), raw columns first, then lets, then
    outputs, each in declaration order."""
    found = []
    for column in description.columns:
        role = "" if column.role == "input" else f"{column.role} "
        found.append((column_node(column), column.role,
                      [column.name, role + type_text(column.dtype, column.shape)]))
    for value in description.lets + description.outputs:
        lines = [value.name, f"{value.kind} {type_text(value.dtype, value.shape)}"]
        lines += [f"{description.analyzer(key).function}: "
                  f"{constants_text(description.analyzer(key))}" for key in value.applies]
        found.append((value.node, value.kind, lines))
    return found


def training_only_nodes(description: Description) -> set:
    """The nodes serving could not compute: labels, the weight and what reads them."""
    values = description.lets + description.outputs
    return ({column_node(c) for c in description.columns if not c.served}
            | {v.node for v in values if description.training_only(v)})


def type_text(dtype: str, shape) -> str:
    """A type as the language declares it: ``float32``, ``string[]``, ``float32[2]``,
    ``sparse float32[10]``."""
    if shape.kind == "sparse":
        return f"sparse {dtype}[{shape.dims[0]}]"
    return dtype if shape.kind == "scalar" else f"{dtype}{shape}"


# ---- Graphviz DOT ---------------------------------------------------------------------------


def dot_source(description: Description) -> str:
    """The graph as Graphviz DOT text."""
    title = f"spec {description.spec_name}" if description.spec_name else "spec"
    graph = graphviz.Digraph(name=title, graph_attr={
        "rankdir": "LR", "label": graphviz.escape(f"{title} ({description.path})"),
        "labelloc": "t", "fontname": "Helvetica"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"color": "#868e96"})
    drawn = nodes(description)
    for cluster, label, kinds, colour in CLUSTERS:
        members = [node for node in drawn if node[1] in kinds]
        if members:
            with graph.subgraph(name=f"cluster_{cluster}") as sub:
                sub.attr(label=label, style="filled", color=colour, fontname="Helvetica")
                for node in members:
                    _dot_node(sub, *node)
    for node in drawn:
        if not any(node[1] in kinds for _, _, kinds, _ in CLUSTERS):
            _dot_node(graph, *node)
    training = training_only_nodes(description)
    for tail, head in description.edges():
        attributes = {"color": TRAINING_EDGE, "penwidth": "2"} if tail in training else {}
        graph.edge(tail, head, **attributes)
    return graph.source


def _dot_node(graph, name: str, kind: str, lines: list) -> None:
    shape, style, fill, border = STYLES[kind]
    label = graphviz.nohtml("\\n".join(graphviz.escape(line) for line in lines))
    graph.node(name, label=label, shape=shape, style=style, fillcolor=fill, color=border)


def render(description: Description, file_format: str) -> bytes:
    """The graph drawn by Graphviz's ``dot``, as ``svg`` or ``png`` bytes. Raises
    SkewlessError, saying how to install it, when ``dot`` is not installed."""
    try:
        return graphviz.pipe("dot", file_format, dot_source(description).encode("utf-8"))
    except graphviz.ExecutableNotFound:
        raise SkewlessError(f"drawing {file_format.upper()} needs Graphviz's 'dot' program, "
                            f"which is not installed (or not on PATH): {INSTALL_GRAPHVIZ}; "
                            f"or write DOT (-o FILE.dot) or Mermaid (-o FILE.mmd) text, "
                            f"which needs nothing") from None
    except graphviz.CalledProcessError as exc:
        raise SkewlessError(f"Graphviz's dot failed: {(exc.stderr or b'').decode(errors='replace')}"
                            ) from None


# ---- Mermaid --------------------------------------------------------------------------------

MERMAID_SHAPES = {  # opening and closing brackets of a Mermaid flowchart node, by kind
    "input": ("[", "]"), "label": ("[/", "/]"), "weight": ("[/", "/]"), "let": ("(", ")"),
    "feature": ("([", "])"), "target": ("[[", "]]"),
}
_MERMAID_PLAIN = re.compile(r"[A-Za-z0-9 _.,:;=+\-*/()\[\]…]")


def mermaid_id(node: str) -> str:
    """A node's Mermaid id: ``KIND_NAME`` (no kind has an underscore, so it is unique)."""
    return node.replace(".", "_", 1)


def mermaid_source(description: Description) -> str:
    """The graph as a Mermaid flowchart."""
    drawn = nodes(description)
    lines = ["flowchart LR"]
    for cluster, label, kinds, _ in CLUSTERS:
        members = [node for node in drawn if node[1] in kinds]
        if members:
            lines.append(f'  subgraph {cluster}["{_mermaid_text(label)}"]')
            lines += [f"    {_mermaid_node(*node)}" for node in members]
            lines.append("  end")
    lines += [f"  {_mermaid_node(*node)}" for node in drawn
              if not any(node[1] in kinds for _, _, kinds, _ in CLUSTERS)]
    training = training_only_nodes(description)
    edges = description.edges()
    lines += [f"  {mermaid_id(tail)} --> {mermaid_id(head)}" for tail, head in edges]
    for kind, (_, _, fill, border) in STYLES.items():
        members = [mermaid_id(node[0]) for node in drawn if node[1] == kind]
        if members:
            lines.append(f"  classDef {kind} fill:{fill},stroke:{border}")
            lines.append(f"  class {','.join(members)} {kind}")
    marked = [str(i) for i, (tail, _) in enumerate(edges) if tail in training]
    if marked:
        lines.append(f"  linkStyle {','.join(marked)} stroke:{TRAINING_EDGE},stroke-width:2px")
    return "\n".join(lines) + "\n"


def _mermaid_node(name: str, kind: str, lines: list) -> str:
    opening, closing = MERMAID_SHAPES[kind]
    label = "<br/>".join(_mermaid_text(line) for line in lines)
    return f'{mermaid_id(name)}{opening}"{label}"{closing}'


def _mermaid_text(text: str) -> str:
    """Text for a quoted Mermaid label: characters that Mermaid or HTML would read
    (quotes, ``<``, ``#``, ``&``…) as entity codes, ``#34;``."""
    return "".join(char if _MERMAID_PLAIN.fullmatch(char) else f"#{ord(char)};"
                   for char in text)
