"""The interpreter (``skewless.load``) and the generated module compute the same thing, bit
for bit: a cheap property over thousands of generated specs and records, calling
``transform_features``/``transform_targets`` directly on raw batches (drawn records and the
fixed edge records, which hold every edge value of each column's dtype; the skew properties of
test_skew_properties.py run the whole training and serving pipeline on fewer specs). And the
spec generator reaches every literal and name form of the language.

The transforms run eagerly, which is many times cheaper than tracing a graph per spec (see
docs/testing.md). One exception: TensorFlow's eager scalar cache keys Python numbers by
value, and ``0.0 == -0.0``, so in eager mode a ``-0.0`` may come back as a cached ``0.0``.
Specs with a -0.0 among their constants therefore run in a graph (one tf.function per side),
where constants keep their sign; the others start each side from an empty cache, so both
sides, converting the same numbers in the same order, get the same tensors."""
from __future__ import annotations

import itertools
import math
import re

import pytest
import tensorflow as tf
from tensorflow.python.eager import context
from hypothesis import given, settings, strategies as st

import skewless
from skewless import ast, syntax
from skewless.testing import assert_same_transform, batches, edge_records, spec_sources
from skewless.testing.specs import NAME_FORMS
from skewless.testing.strategies import INT64_MAX, INT64_MIN

from property_budget import BUDGET, count
import skewless_test_helpers as helpers

SMALLEST_NORMAL = 1.1754943508222875e-38  # float32
SPECS = spec_sources(max_inputs=3, max_features=3)
SEEN_FORMS: set = set()  # literal and name forms the generated specs of this session showed
_numbers = itertools.count()


pytestmark = pytest.mark.usefixtures("quiet_tensorflow")


# ---- the property -----------------------------------------------------------------------------


def compile_both(text: str, folder):
    """``skewless.load`` of the spec, its generated module imported, and its graph."""
    number = next(_numbers)
    spec_file = f"spec{number}.feat"
    loaded, module = helpers.compile_both(text, folder, f"module{number}", spec_file=spec_file)
    return loaded, module, skewless.check_source(text, spec_file)


def has_negative_zero(graph) -> bool:
    """Whether a -0.0 is among the spec's constants: literals, function arguments, column
    defaults (a subnormal float32 literal is one too: it compiles to a zero of its sign)."""
    def negative_zero(value):
        if isinstance(value, (list, tuple)):
            return any(negative_zero(v) for v in value)
        return isinstance(value, float) and value == 0 and math.copysign(1, value) < 0
    return any(negative_zero(value) for node in graph.nodes for _, value in node.consts) or any(
        negative_zero(column.default) for column in graph.columns)


def both(features, raw):
    return features.transform_features(raw), features.transform_targets(raw)


def eager_run(features, raw):
    """The transforms, eagerly, from an empty scalar cache: both sides then convert the same
    Python numbers in the same order and get the same tensors."""
    context.context()._clear_caches()  # the one way to empty TensorFlow's eager scalar cache
    tf.config.run_functions_eagerly(True)
    try:
        return both(features, raw)
    finally:
        tf.config.run_functions_eagerly(False)


def graph_run(features, raw):
    return tf.function(lambda raw: both(features, raw), autograph=False)(raw)


def test_load_and_the_generated_module_agree(tmp_path_factory):
    folder = tmp_path_factory.mktemp("load_vs_module")

    @settings(max_examples=BUDGET.load_vs_module_specs)
    @given(st.data())
    def agree(data):
        text = data.draw(SPECS, label="spec")
        loaded, module, graph = compile_both(text, folder)
        records = data.draw(batches(loaded), label="records") + edge_records(loaded)
        run = graph_run if has_negative_zero(graph) else eager_run
        assert_same_transform(loaded, module, records, run=run,
                              names=("skewless.load", "the generated module"))
        SEEN_FORMS.update(forms(text))
        count("interpreter versus generated module (transforms on raw batches)", 1)

    agree()


def float_constants(value):
    """The floats in a node's constant (a number, or a list at any depth)."""
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from float_constants(item)
    elif isinstance(value, float):
        yield value


@settings(max_examples=BUDGET.form_specs, database=None)
@given(spec_sources())
def test_no_float_constant_of_a_compiled_spec_is_subnormal_in_float32(text):
    """A float literal that is subnormal in float32, wherever it is written (an operand, a
    function's constant argument, a list item), compiles to a zero of its sign: whether a
    kernel flushes a subnormal constant depends on the thread it runs on, so only zero is
    the same on every path."""
    graph = skewless.check_source(text, "generated.feat")
    for node in graph.nodes:
        for name, value in node.consts:
            for number in float_constants(value):
                assert number == 0 or not abs(number) < SMALLEST_NORMAL, (node.op, name, number)


def test_a_subnormal_constant_argument_compiles_to_a_zero_of_its_sign():
    """The first case the property above stands for: the default of a reduction."""
    graph = skewless.check_source("input v: float32[]\nfeature m = max(v, default=-1e-41)\n"
                                  "feature i = count(v | bucketize([1e-45, 1.0]))\n", "pinned.feat")
    constants = {name: value for node in graph.nodes for name, value in node.consts}
    assert math.copysign(1, constants["default"]) == -1 and constants["default"] == 0
    assert list(constants["boundaries"]) == [0.0, 1.0]


# ---- the forms the generator must reach -------------------------------------------------------

LITERAL_FORMS = {
    "-0.0": lambda v: isinstance(v, float) and v == 0 and math.copysign(1, v) < 0,
    "subnormal float": lambda v: isinstance(v, float) and 0 < abs(v) < SMALLEST_NORMAL,
    "inf": lambda v: v == math.inf,
    "-inf": lambda v: v == -math.inf,
    "nan": lambda v: isinstance(v, float) and math.isnan(v),
    "int64 min": lambda v: type(v) is int and v == INT64_MIN,
    "int64 max": lambda v: type(v) is int and v == INT64_MAX,
    "empty string": lambda v: v == "",
    "non-ASCII string": lambda v: isinstance(v, str) and not v.isascii(),
    "empty list": lambda v: v == [],
}
ESCAPE = re.compile(r'"(?:[^"\\\n]|\\.)*\\[\\"ntu](?:[^"\\\n]|\\.)*"')


def literals(node):
    """The literal values written in an expression (negative numbers folded; lists as
    lists, their items too)."""
    if isinstance(node, ast.Literal):
        yield node.value
    elif isinstance(node, ast.Name) and node.id in syntax.FLOAT_NAMES:
        yield syntax.FLOAT_NAMES[node.id]
    elif isinstance(node, ast.UnaryOp) and node.op == "-" and isinstance(
            node.operand, (ast.Literal, ast.Name)) and list(literals(node.operand)):
        value = next(literals(node.operand))
        if not isinstance(value, (bool, str)):
            yield -value
    elif isinstance(node, ast.ListLit):
        items = [list(literals(item)) for item in node.items]
        yield [v[0] for v in items if v]
        for values in items:
            yield from values
    elif node is not None and hasattr(node, "__dataclass_fields__"):
        for name in node.__dataclass_fields__:
            value = getattr(node, name)
            for child in (value if isinstance(value, tuple) else (value,)):
                if hasattr(child, "__dataclass_fields__") and not isinstance(child, ast.Pos):
                    yield from literals(child)


def forms(text: str) -> set:
    """The literal and name forms a spec's text shows."""
    spec = syntax.parse(text, "generated.feat")
    values = [v for statement in (*spec.columns, *spec.definitions)
              for v in literals(getattr(statement, "default", None) or
                                getattr(statement, "expr", None))]
    names = [c.name for c in spec.columns] + [d.name for d in spec.definitions]
    found = {form for form, test in LITERAL_FORMS.items() if any(_safe(test, v) for v in values)}
    found |= {form for form, test in NAME_FORMS.items() if any(test(n) for n in names)}
    if ESCAPE.search(text):
        found.add("escaped string")
    return found


def _safe(test, value) -> bool:
    try:
        return bool(test(value))
    except TypeError:
        return False


def test_generated_specs_reach_every_literal_and_name_form():
    """Every literal form and every name form appears in the generated specs (those the
    property above drew, and more drawn here until each is seen: up to three budgets, as a
    rare form such as -inf, one of 25 float edges, can be missed in one)."""
    wanted = set(LITERAL_FORMS) | set(NAME_FORMS) | {"escaped string"}

    @settings(max_examples=BUDGET.form_specs, database=None)
    @given(spec_sources())
    def draw(text):
        if not wanted <= SEEN_FORMS:
            SEEN_FORMS.update(forms(text))

    for _ in range(3):
        if not wanted <= SEEN_FORMS:
            draw()
    assert sorted(wanted - SEEN_FORMS) == []


def test_forms_are_recognized():
    """The form detectors themselves, on a spec written by hand."""
    text = ('input x: float32 = -0.0\ninput Big_name_with_many_characters_1: int64 = '
            '-9223372036854775808\ninput s: string = "é\\n"\nlabel __y: float32\n'
            'feature class_ = x * 1e-45\nfeature log = x in []\n'
            'feature f = fill_nan(x, -inf) + inf + nan + 0.0 * 9223372036854775807\n'
            'feature t = s == ""\n')
    assert forms(text) >= set(LITERAL_FORMS) | {"escaped string", "upper or mixed case",
                                                "two leading underscores", "with digits",
                                                "long (30 characters or more)", "a function's name",
                                                "a suffix a renamed name gets (x_2, class_)"}
    assert "escaped string" not in forms('input s: string = "plain"\nfeature s\n')
