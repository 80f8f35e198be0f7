"""IR + constants → a readable, deterministic Python module (same input, same bytes).

The module calls the same runtime and op functions that the interpreter calls, step by
step as ``plan.py`` lays them out, one statement per node (however long a chain in the spec).

What a spec or a path contributes is data, never code: every string (file names, spec,
column and output names, literals, dtypes) is written by ``quote``, and every variable is a
mangled name (``v_<spec name>``, ``v<node id>``, ``_table_<variable>``) that no name of the
module itself (its imports, helpers, ``raw``, Python's builtins) has."""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from . import ops
from .ops import categorical
from .ops.common import constant, read_column
from .files import asset_name
from .ir import Graph
from .plan import Step, step_of as _step_of, steps, table_steps

class Writer:
    def __init__(self):
        self.lines: list[str] = []
        self.depth = 0

    def write(self, text: str = "") -> None:
        self.lines.append(("    " * self.depth + text) if text else "")

    def indent(self) -> "Writer":
        self.depth += 1
        return self

    def dedent(self) -> None:
        self.depth -= 1

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


def quote(text: str) -> str:
    """A Python string literal of any text (quotes, backslashes, newlines, surrogates)."""
    return repr(str(text))


def render(value) -> str:
    """A Python literal for a constant (NaN and infinities included)."""
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(value)
    if isinstance(value, (list, tuple)):
        items = ", ".join(render(v) for v in value)
        if isinstance(value, tuple):
            return f"({items},)" if len(value) == 1 else f"({items})"
        return f"[{items}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render(k)}: {render(v)}" for k, v in value.items()) + "}"
    return repr(value)


# the functions a generated module reaches through skewless.runtime, which re-exports them
# (importing runtime here would make compiling import what reading data needs)
_RUNTIME_EXPORTS = {fn.__name__: fn for fn in (constant, read_column)}


def _callee(fn) -> str:
    """Where the generated module reaches a function: ``_rt.`` or ``_ops.``."""
    if _RUNTIME_EXPORTS.get(fn.__name__) is fn:
        return f"_rt.{fn.__name__}"
    if getattr(ops, fn.__name__, None) is fn:
        return f"_ops.{fn.__name__}"
    raise ValueError(f"{fn.__name__} is not exported by skewless.ops or skewless.runtime")


def _shape(shape) -> str:
    dims = f", {render(tuple(shape.dims))}" if shape.dims else ""
    return f"_rt.Shape({quote(shape.kind)}{dims})"


def _type(value_type) -> str:
    return f"_rt.Type({quote(value_type.dtype)}, {_shape(value_type.shape)})"


class _Names:
    """Python variable names for nodes: ``v_`` and the spec's own name where it has one
    (``v_x_2`` for a second node named ``x``), else ``v`` and the node id."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.used: set[str] = set()
        self.names: dict[int, str] = {}
        for node_id, node in enumerate(graph.nodes):
            if node.op == "const":  # literals are written inline where they are used
                self.names[node_id] = _call(_step_of(graph, node_id), self, {})
                continue
            preferred = graph.names.get(node_id)
            if node.op == "column":
                preferred = node.const_dict["name"]
            self.names[node_id] = self.fresh(f"v_{preferred}" if preferred else f"v{node_id}")

    def fresh(self, name: str) -> str:
        candidate, n = name, 2
        while candidate in self.used:
            candidate, n = f"{name}_{n}", n + 1
        self.used.add(candidate)
        return candidate

    def __getitem__(self, node_id: int) -> str:
        return self.names[node_id]


VOCABULARY_INLINE_LIMIT = 1000  # larger vocabularies are written as asset files


@dataclass
class Generated:
    """A module's source and its asset files (path relative to the module's folder → bytes)."""

    source: str
    assets: dict = field(default_factory=dict)
    asset_folder: str = ""  # the folder of its asset files, relative to the module's


def generate(graph: Graph, source_name: str, module_name: str = "features") -> Generated:
    """The module for ``graph``; ``module_name`` (the output file's stem) names the folder
    of its asset files."""
    names = _Names(graph)
    tables = {t.node_id: names.fresh(f"_table_{names[t.node_id]}") for t in table_steps(graph)}
    assets: dict[str, bytes] = {}
    fingerprint = graph.fingerprint()
    out = Writer()
    out.write(quote(f"Features compiled by skewless from {source_name} (spec "
                    f"{graph.spec_name or 'unnamed'}).\n\nGenerated code: do not edit; change "
                    "the spec and compile again.\n"))
    out.write("from skewless import ops as _ops")
    out.write("from skewless import runtime as _rt")
    out.write()
    out.write(f"SPEC_FINGERPRINT = {quote(fingerprint)}")
    out.write()
    out.write("COLUMNS = (")
    out.indent()
    for c in graph.columns:
        out.write(f"_rt.ColumnSpec({quote(c.name)}, {quote(c.kind)}, {quote(c.dtype)}, {_shape(c.shape)}, "
                  f"default={render(c.default)}, sparse_keys={render(c.sparse_keys)}),")
    out.dedent()
    out.write(")")
    if tables:
        out.write()
        out.write("# Lookup tables, built once when the module is imported.")
        for table in table_steps(graph):
            stem = names[table.node_id].removeprefix("v_")
            call = _table_call(table, stem, f"{module_name}_assets", assets)
            out.write(f"{tables[table.node_id]} = {call}")
    for title, outputs, doc in (
        ("transform_features", graph.features,
         "The model features of a batch of raw columns; labels and weight are never read."),
        ("transform_targets", graph.targets,
         "The targets of a batch of raw columns (training only)."),
    ):
        out.write()
        out.write()
        out.write(f"def _{title}(raw):")
        out.indent()
        out.write(f'"""{doc}"""')
        for step in steps(graph, outputs.values()):
            if graph.nodes[step.node_id].op == "const":
                continue
            out.write(f"{names[step.node_id]} = {_call(step, names, tables)}")
        out.write("return {")
        out.indent()
        for name, node_id in outputs.items():
            out.write(f"{quote(name)}: {names[node_id]},")
        out.dedent()
        out.write("}")
        out.dedent()
    out.write()
    out.write()
    out.write("_features = _rt.Features(")
    out.indent()
    out.write("columns=COLUMNS,")
    out.write("transform_features=_transform_features,")
    out.write("transform_targets=_transform_targets,")
    for title, outputs in (("feature_types", graph.features), ("target_types", graph.targets)):
        out.write(f"{title}={{")
        out.indent()
        for name, node_id in outputs.items():
            out.write(f"{quote(name)}: {_type(graph.nodes[node_id].type)},")
        out.dedent()
        out.write("},")
    out.write("fingerprint=SPEC_FINGERPRINT,")
    out.write(f"tables=[{', '.join(tables.values())}],")
    out.write(f"name={render(graph.spec_name)},")
    out.dedent()
    out.write(")")
    out.write()
    out.write(f"FEATURE_KEYS = {render(tuple(graph.features))}")
    out.write(f"TARGET_KEYS = {render(tuple(graph.targets))}")
    out.write(f"LABEL_KEYS = {render(graph.label_keys)}")
    out.write(f"WEIGHT_KEY = {render(graph.weight_key)}")
    out.write("RAW_FEATURE_SPEC = _features.RAW_FEATURE_SPEC")
    out.write("SERVING_FEATURE_SPEC = _features.SERVING_FEATURE_SPEC")
    for name in ("transform_features", "transform_targets", "input_fn",
                 "serving_input_receiver_fn", "raw_serving_input_receiver_fn", "keras_inputs"):
        out.write(f"{name} = _features.{name}")
    return Generated(out.source(), assets, f"{module_name}_assets")


def _table_call(table, stem: str, folder: str, assets: dict) -> str:
    """The builder call of a table; a large vocabulary goes to an asset file, read with
    TensorFlow's TextFileInitializer (which exported SavedModels carry as an asset). The
    file is named by its content's hash, which the module checks when it is imported."""
    vocabulary = table.kwargs.get("vocabulary") or ()
    if len(vocabulary) <= VOCABULARY_INLINE_LIMIT:
        args = ", ".join(f"{k}={render(v)}" for k, v in table.kwargs.items())
        return f"{_callee(table.builder)}({args})"
    escaped = categorical.vocabulary_needs_escape(vocabulary)
    data = categorical.vocabulary_file_bytes(vocabulary, escaped)
    path = f"{folder}/{asset_name(stem, data, '.vocab')}"
    assets[path] = data
    key_dtype = "string" if isinstance(vocabulary[0], str) else "int64"
    sha256 = hashlib.sha256(data).hexdigest()
    return (f"{_callee(categorical.vocab_table_from_file)}("
            f"_rt.asset_path(__file__, {quote(path)}, sha256={quote(sha256)}), "
            f"key_dtype={quote(key_dtype)}, oov_buckets={render(table.kwargs['oov_buckets'])}, "
            f"default={render(table.kwargs['default'])}, escaped={render(escaped)})")


def _call(step: Step, names: _Names, tables: dict) -> str:
    args = [names[i] for i in step.inputs]
    if step.reads_raw:
        args.insert(0, "raw")
    if step.table:
        args.append(f"table={tables[step.node_id]}")
    if step.fn is constant:
        return f"{_callee(step.fn)}({render(step.kwargs['value'])}, {quote(step.kwargs['dtype'])})"
    args += [f"{k}={render(v)}" for k, v in step.kwargs.items()]
    return f"{_callee(step.fn)}({', '.join(args)})"
