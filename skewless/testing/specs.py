"""Generated ``.feat`` specs, for the skew property tests.

``spec_sources()`` generates whole ``.feat`` texts that pass the checker: columns of every
dtype and shape, lets, features and targets composed from the registered functions of
``skewless.ops.registry.all_ops()``. Expressions are built by type: the op's own type rule
(``Op.infer``) is asked before a call is written, so the generator follows the registry as
it grows. How to build the *constant* arguments of each function is the small table
``CONSTANTS`` (by op name) with fallbacks by parameter name (``BY_PARAMETER``); an op whose
required constants neither table knows is left out, and ``uncovered_ops()`` names it.
Analyzers always get their constants explicitly (``zscore(x, mean=…, std=…)``), since
generated specs have no data.
"""
from __future__ import annotations

import builtins
import functools
import keyword
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence

from hypothesis import strategies as st

from ..ops.registry import ArgError, Args, Op, all_ops
from ..syntax import quote
from ..types import (CONST, DTYPES, NUMERIC, SCALAR, VARIABLE, Shape, Type, fixed,
                     float32_literal)
from .strategies import (FLOAT32_EDGES, INT64_EDGES, INT64_MAX, INT64_MIN, STRING_EDGES,
                         unflatten)

__all__ = ["spec_sources", "uncovered_ops", "render_literal", "CONSTANTS", "BY_PARAMETER",
           "NAME_FORMS", "accepted_types"]

# ---- literals of the language --------------------------------------------------------------


class DType(str):
    """A dtype argument, written bare: ``cast(x, float32)``."""


def render_literal(value) -> str:
    """A value as a .feat literal (lists included; ``DType`` bare)."""
    if isinstance(value, DType):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # nan, inf, -inf, -0.0 and 1e-45 are .feat literals too
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_literal(v) for v in value) + "]"
    raise TypeError(f"no literal for {value!r}")


# ---- drawing constants -------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    """A strategy and the one value used when *probing* whether an op takes some types."""

    strategy: st.SearchStrategy
    probe: Any


def choice(*options) -> Pick:
    return Pick(st.sampled_from(options), options[0])


def ints(lo: int, hi: int) -> Pick:
    return Pick(st.integers(lo, hi), max(lo, min(hi, 1)))


TEXT = Pick(st.one_of(st.sampled_from(("", " ", ",", "-", "é", "ab")),
                      st.text(st.characters(exclude_categories=("Cs",)), max_size=4)), " ")
SMALL_NUMBER = Pick(st.one_of(st.integers(-20, 20), st.floats(-20, 20, width=32)), 1)


def literal(dtype: str, small: bool = False) -> Pick:
    """A constant of a dtype, as it may appear in a spec (float32-exact floats)."""
    if dtype == "int64":
        return Pick(st.integers(-20, 20) if small else
                    st.one_of(st.integers(-20, 20), st.sampled_from(INT64_EDGES)), 1)
    if dtype == "float32":
        finite = st.floats(-20, 20, width=32)
        return Pick(finite if small else st.one_of(finite, st.sampled_from(FLOAT32_EDGES)), 1.5)
    if dtype == "string":
        return Pick(st.one_of(st.sampled_from(tuple(s for s in STRING_EDGES if isinstance(s, str))),
                              st.text(st.characters(exclude_categories=("Cs",)), max_size=6)), "a")
    return choice(True, False)


def literal_list(dtype: str, min_size: int = 0, max_size: int = 4, unique: bool = False,
                 sort: bool = False) -> Pick:
    element = literal(dtype, small=sort)
    # unique as compiled: a float subnormal in float32 compiles to a zero of its sign
    strategy = st.lists(element.strategy, min_size=min_size, max_size=max_size,
                        unique_by=_compiled if unique or sort else None)
    if sort:
        strategy = strategy.map(sorted)
    probes = {"int64": [1, 2, 3, 4], "float32": [1.5, 2.5, 3.5, 4.5], "bool": [False, True],
              "string": ["a", "b", "c", "d"]}[dtype]
    return Pick(strategy, probes[:max(1, min_size)])


def _compiled(value):
    return float32_literal(value) if isinstance(value, float) else value


def _x_dtype(types: dict) -> str:
    first = next(iter(types.values()), None)
    return first.dtype if first is not None else "int64"


def _numeric(types: dict) -> str:
    dtype = _x_dtype(types)
    return dtype if dtype in NUMERIC else "int64"


REGEXES = (("a+", "-"), ("[aeiou]", ""), (r"\s+", " "), (r"(\w)(\w)", r"\2\1"), (".", r"\0\0"),
           ("^", "^"), ("é", "e"), ("[0-9]", "#"), ("x*", "-"), ("(?i)ab", "AB"), (r"\C", "."))

# How to build the constant arguments of a function: op name -> fn(draw, types) -> {name:
# value}, where ``draw`` takes a Pick and ``types`` are the types of the value arguments.
# Constants not given here come from BY_PARAMETER; optional ones may be left out.
CONSTANTS: dict[str, Callable] = {
    "cast": lambda d, types: {"dtype": DType(d(choice(*DTYPES)))},
    "to_number": lambda d, types: (lambda dtype: {
        "dtype": DType(dtype), "default": d(literal(dtype))})(d(choice("int64", "float32"))),
    "in": lambda d, types: {"items": d(literal_list(_x_dtype(types)))},
    "regex_replace": lambda d, types: dict(zip(("pattern", "rewrite"), d(choice(*REGEXES)))),
    "regex_match": lambda d, types: {"pattern": d(choice(*(p for p, _ in REGEXES)))},
    "substr": lambda d, types: {"start": d(Pick(st.one_of(st.integers(-6, 6), st.sampled_from(
        (INT64_MIN, INT64_MAX))), 1)), "len": d(Pick(st.one_of(st.integers(0, 6),
                                                               st.just(INT64_MAX)), 2))},
}

# Constants by parameter name, for functions without a row in CONSTANTS (or constants their
# row leaves out): name -> fn(types) -> Pick.
BY_PARAMETER: dict[str, Callable] = {
    "sep": lambda types: TEXT,
    "n": lambda types: ints(1, 3),
    "buckets": lambda types: ints(1, 1000),
    "depth": lambda types: ints(1, 6),
    "length": lambda types: ints(0, 5),
    "oov_buckets": lambda types: ints(0, 3),
    "salt": lambda types: Pick(st.one_of(st.integers(0, 2**32), st.text(max_size=4),
                                         st.lists(st.integers(0, 2**32), min_size=2,
                                                  max_size=2)), 7),
    "default": lambda types: literal(_x_dtype(types)),
    "value": lambda types: literal(_x_dtype(types)),
    "mean": lambda types: SMALL_NUMBER,
    "std": lambda types: Pick(st.one_of(st.just(0), st.floats(0, 20, width=32)), 2),
    "min": lambda types: SMALL_NUMBER,
    "max": lambda types: SMALL_NUMBER,
    "lo": lambda types: SMALL_NUMBER,
    "hi": lambda types: SMALL_NUMBER,
    "boundaries": lambda types: literal_list(_numeric(types), min_size=1, sort=True),
    "vocabulary": lambda types: literal_list(_x_dtype(types), min_size=1, unique=True),
    "start": lambda types: ints(-4, 4),
    "len": lambda types: ints(0, 4),
}

# Constants that would make an analyzer need training data: never generated.
DATA_KNOBS = frozenset({"quantiles", "top_k", "min_freq"})


def _constants(d, op: Op, types: dict) -> Optional[dict]:
    """The constant arguments to write for a call (None: this op cannot be generated)."""
    row = CONSTANTS.get(op.name)
    given = row(d, types) if row else {}
    must = set(op.analyzer.constants) if op.analyzer else set()
    consts = {}
    for param in op.const_params:
        if param.name in DATA_KNOBS and param.name not in must:
            continue
        if param.name in given:
            consts[param.name] = given[param.name]
            continue
        rule = BY_PARAMETER.get(param.name)
        if rule is None:
            if param.required or param.name in must:
                return None
            continue
        if param.required or param.name in must or d(choice(False, True)):
            consts[param.name] = d(rule(types))
    return consts


# ---- expressions ---------------------------------------------------------------------------

BINARY = {"+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or"}
RESERVED = frozenset("spec input label weight let feature target true false and or not in "
                     "from sparse inf nan".split()) | frozenset(DTYPES)


@dataclass(frozen=True)
class Value:
    """An expression of a generated spec: its text (parenthesized when compound), its type,
    whether it depends on a label or weight, and whether it is a literal."""

    text: str
    type: Type
    training: bool = False
    literal: bool = False


def _literal_type(value) -> Type:
    dtype = ("bool" if isinstance(value, bool) else "int64" if isinstance(value, int)
             else "float32" if isinstance(value, float) else "string")
    return Type(dtype, CONST)


class _Prober:
    """Stands in for ``draw`` when asking, without hypothesis, whether an op takes a type:
    the other arguments are literals of the first one's dtype, or (``same``) values of its
    type."""

    def __init__(self, same: bool = False):
        self.same = same

    def __call__(self, pick):
        return pick.probe if isinstance(pick, Pick) else pick


def _draw_pick(draw):
    return lambda pick: draw(pick.strategy) if isinstance(pick, Pick) else draw(pick)


def _other_arg(d, first: Value, pool: Sequence[Value]) -> Value:
    """Another argument of a call: a literal (often of the first argument's dtype) or a value
    of the pool."""
    if isinstance(d, _Prober) and d.same:
        return Value("y", first.type)
    if isinstance(d, _Prober) or not pool or d(choice(True, False)):
        dtype = first.type.dtype if d(choice(True, False)) else d(choice(*DTYPES))
        value = d(literal(dtype))
        return Value(render_literal(value), _literal_type(value), literal=True)
    return d(Pick(st.sampled_from(list(pool)), pool[0]))


def call(d, op: Op, first: Value, pool: Sequence[Value]) -> Optional[Value]:
    """A call of ``op`` with ``first`` as its first value argument, or None when the drawn
    arguments do not type-check (the op's own type rule decides, as in the checker)."""
    value_params = [p for p in op.value_params if p.name != op.variadic]
    args, rest = {}, []
    if op.variadic:
        rest = [first] + [_other_arg(d, first, pool) for _ in range(d(ints(1, 2)))]
        for param in value_params:
            if param.required:
                args[param.name] = _other_arg(d, first, pool)
    elif not value_params:
        return None
    else:
        args[value_params[0].name] = first
        for param in value_params[1:]:
            if param.required or d(choice(False, True)):
                args[param.name] = _other_arg(d, first, pool)
    types = {name: value.type for name, value in args.items()}
    for param in value_params:  # omitted values are their default literal, as in the checker
        types.setdefault(param.name, _literal_type(param.default))
    consts = _constants(d, op, types)
    if consts is None:
        return None
    bound = dict(consts)
    bound.update({p.name: p.default for p in op.const_params if p.name not in consts})
    try:
        result = op.infer(Args(op=op.name, types=types, consts=bound,
                               rest=[v.type for v in rest]))
    except ArgError:
        return None
    if result.shape.kind == "const" or result.dtype not in DTYPES:
        return None
    training = any(v.training for v in [*args.values(), *rest])
    return Value(_render_call(d, op, args, rest, consts), result, training)


def _render_call(d, op: Op, args: dict, rest: list, consts: dict) -> str:
    texts = {name: value.text for name, value in args.items()}
    if op.name in BINARY:
        return f"({texts['a']} {op.name} {texts['b']})"
    if op.name == "neg":
        return f"(-{texts['x']})"
    if op.name == "not":
        return f"(not {texts['x']})"
    if op.name == "in":
        return f"({texts['x']} in {render_literal(consts['items'])})"
    written = {**texts, **{k: render_literal(v) for k, v in consts.items()}}
    if op.variadic:
        positional = [v.text for v in rest]
        keywords = [f"{k}={v}" for k, v in written.items()]
    else:
        order = [p.name for p in op.params if p.name in written]
        # parameters up to the first omitted one may be positional; the rest are keywords
        limit = next((i for i, p in enumerate(op.params) if p.name not in written), len(op.params))
        cut = d(ints(1, max(1, limit)))
        positional = [written[name] for name in order[:cut]]
        keywords = [f"{name}={written[name]}" for name in order[cut:]]
    if d(choice(False, True)):  # a pipe: x | f(rest) means f(x, rest)
        others = ", ".join(positional[1:] + keywords)
        return f"({positional[0]} | {op.name}({others}))" if others else f"({positional[0]} | {op.name})"
    return f"{op.name}({', '.join(positional + keywords)})"


# ---- which ops can be generated ------------------------------------------------------------


def _probe_types() -> list[Type]:
    shapes = [SCALAR, fixed(2), VARIABLE, Shape("sparse", (4,))]
    return [Type(dtype, shape) for dtype in DTYPES for shape in shapes
            if not (shape.kind == "sparse" and dtype == "bool")]


@functools.lru_cache(maxsize=None)
def _accepts(op_name: str, first: Type) -> Optional[Type]:
    """The result type of ``op`` with a first argument of type ``first`` and literals for the
    other arguments, or None: a cheap, deterministic filter before drawing a call."""
    op = all_ops()[op_name]
    for prober in (_Prober(), _Prober(same=True)):
        try:
            result = call(prober, op, Value("x", first), [])
        except Exception:  # noqa: BLE001 - a type rule that cannot take the probe is not offered
            continue
        if result is not None:
            return result.type
    return None


def uncovered_ops() -> list[str]:
    """Registered functions the spec generator cannot build a call of (a missing row in
    CONSTANTS or BY_PARAMETER, or a type rule no probe type satisfies)."""
    types = _probe_types()
    return sorted(name for name in all_ops()
                  if not any(_accepts(name, t) is not None for t in types))


def _candidates(first: Type, kinds: Optional[tuple], ops: Optional[Sequence[str]]) -> list[str]:
    names = sorted(ops) if ops is not None else sorted(all_ops())
    result = []
    for name in names:
        probe = _accepts(name, first)
        if probe is not None and (kinds is None or probe.shape.kind in kinds):
            result.append(name)
    return result


def _step(d, value: Value, pool: Sequence[Value], kinds=None, ops=None) -> Optional[Value]:
    """``value`` passed through one drawn function; tries a few draws before giving up."""
    names = _candidates(value.type, kinds, ops)
    registry = all_ops()
    for _ in range(4 if names else 0):
        result = call(d, registry[d(choice(*names))], value, pool)
        if result is not None and (kinds is None or result.type.shape.kind in kinds):
            return result
    return None


def _chain(d, start: Value, pool: Sequence[Value], steps: int, kinds: tuple,
           ops=None) -> Optional[Value]:
    """``start`` through up to ``steps`` functions, ending in a value of one of ``kinds``."""
    value = start
    for _ in range(steps):
        value = _step(d, value, pool, ops=ops) or value
    if value.type.shape.kind not in kinds:
        value = _step(d, value, pool, kinds=kinds)
    return value


# ---- specs ---------------------------------------------------------------------------------

TRICKY_NAMES = ("raw", "tf", "_ops", "_rt", "class", "def", "lambda", "None", "True", "if",
                "self", "log", "hash", "count", "transform_features", "_features", "COLUMNS",
                "input_fn", "__x", "_", "_v1", "_v2", "x", "_x", "__init__", "print", "_table_x",
                "x_2", "class_", "Raw", "FEATURE_KEYS", "match", "type", "len", "float", "NaN",
                "Inf", "__", "_2")

# The forms a name of the language can take, each with a test: the generator must reach them
# all (tests/test_load_matches_module.py draws specs until it has seen each).
NAME_FORMS: dict[str, Callable[[str], bool]] = {
    "lower case": lambda n: n[0].isalpha() and n.islower(),
    "upper or mixed case": lambda n: any(c.isupper() for c in n),
    "one character": lambda n: len(n) == 1,
    "long (30 characters or more)": lambda n: len(n) >= 30,
    "with digits": lambda n: any(c.isdigit() for c in n),
    "one leading underscore": lambda n: n.startswith("_") and not n.startswith("__"),
    "two leading underscores": lambda n: n.startswith("__"),
    "a Python keyword": keyword.iskeyword,
    "a Python builtin": lambda n: n in vars(builtins),
    "a function's name": lambda n: n in all_ops(),
    "a name of the generated module": lambda n: n in ("raw", "tf", "_ops", "_rt", "COLUMNS",
                                                      "FEATURE_KEYS", "_features",
                                                      "transform_features", "input_fn"),
    "a suffix a renamed name gets (x_2, class_)": lambda n: bool(re.search(r"._\d+$|._$", n)),
}


def _names(count: int, avoid: frozenset = frozenset()) -> st.SearchStrategy:
    plain = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True)
    any_form = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True)
    long = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{29,40}", fullmatch=True)
    functions = st.sampled_from(sorted(all_ops()))
    name = st.one_of(plain, plain, any_form, st.sampled_from(TRICKY_NAMES), functions,
                     long).filter(
        lambda n: n not in RESERVED and n not in avoid and n.isidentifier() and n.isascii())
    return st.lists(name, min_size=count, max_size=count, unique=True)


def _shape_decl(draw, dtype: str, allow_sparse: bool) -> tuple:
    kinds = ["scalar", "scalar", "fixed", "variable"] + (["sparse"] if allow_sparse else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "scalar":
        return SCALAR, ""
    if kind == "fixed":
        dims = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
        return fixed(*dims), "[" + ", ".join(map(str, dims)) + "]"
    if kind == "variable":
        return VARIABLE, "[]"
    size = draw(st.integers(1, 20))
    return Shape("sparse", (size,)), f"[{size}]"


def _default_text(draw, dtype: str, shape: Shape) -> tuple:
    element = literal(dtype).strategy
    if shape.kind == "scalar" or draw(st.booleans()):
        value = draw(element)
        return value, f" = {render_literal(value)}"
    size = math.prod(shape.dims)
    items = draw(st.lists(element, min_size=size, max_size=size))
    nested = unflatten(items, shape.dims) if draw(st.booleans()) else items
    return items, f" = {render_literal(nested)}"


@st.composite
def spec_sources(draw, ops: Optional[Iterable[str]] = None, every_op: bool = False,
                 max_inputs: int = 6, max_features: int = 5,
                 avoid_names: Iterable[str] = (), calls: Optional[str] = None) -> str:
    """The text of a random, valid .feat spec.

    ``ops`` restricts the functions used (default: every registered one); ``every_op``
    adds an input of every dtype and shape and one output per function, so that each is
    called at least once; ``calls`` (a function's name) adds an input of a type it takes and
    one to three outputs that call it, on drawn values with drawn arguments. Specs have
    1..``max_inputs`` inputs, one or two labels, sometimes a weight, lets, features and
    targets. Names take every form of ``NAME_FORMS``; ``avoid_names`` are never used."""
    registry = all_ops()
    ops = sorted(set(ops) & set(registry)) if ops is not None else None
    kinds = _probe_types() if every_op else [_varied(draw, calls)] if calls else []
    first = 1 if calls else 0  # input 0 then stays a scalar that a feature can pass through
    n_inputs = draw(st.integers(1, max_inputs)) + len(kinds)
    n_labels = draw(st.integers(1, 2))
    has_weight = draw(st.booleans())
    n_lets = draw(st.integers(0, 3))
    n_outputs = draw(st.integers(1, max_features)) + 2
    names = draw(_names(n_inputs + n_labels + has_weight + n_lets + 2 * n_outputs
                        + 2 * n_inputs, frozenset(avoid_names)))
    take = iter(names)
    lines = [f"spec {draw(st.sampled_from(['generated', 't', 'class']))}"] \
        if draw(st.booleans()) else []
    inputs, training = [], []
    for i in range(n_inputs + n_labels + has_weight):
        role = "input" if i < n_inputs else "label" if i < n_inputs + n_labels else "weight"
        name = next(take)
        if role == "weight":
            dtype, shape, dims = draw(st.sampled_from(["float32", "int64"])), SCALAR, ""
        elif first <= i < first + len(kinds):
            dtype, shape = kinds[i - first].dtype, kinds[i - first].shape
            dims = {"scalar": "", "variable": "[]"}.get(shape.kind, f"{list(shape.dims)}")
        else:
            dtype = draw(st.sampled_from(DTYPES))
            if i == 0:  # at least one input that a feature can pass through as it is
                shape, dims = SCALAR, ""
            else:
                shape, dims = _shape_decl(draw, dtype, role == "input" and dtype != "bool")
            if role == "label" and shape.kind in ("variable", "sparse"):
                shape, dims = SCALAR, ""
        sparse_keys, prefix, suffix = None, "", ""
        if shape.kind == "sparse":
            sparse_keys = (next(take), next(take))
            prefix, suffix = "sparse ", f" from ({sparse_keys[0]}, {sparse_keys[1]})"
        default, default_text = None, ""
        if shape.kind in ("scalar", "fixed") and draw(st.booleans()):
            default, default_text = _default_text(draw, dtype, shape)
        lines.append(f"{role} {name}: {prefix}{dtype}{dims}{suffix}{default_text}")
        value = Value(name, Type(dtype, shape), training=role != "input")
        (inputs if role == "input" else training).append(value)
    d = _draw_pick(draw)
    serving_pool, all_pool = list(inputs), inputs + training
    for _ in range(n_lets):
        uses_label = draw(st.booleans())
        pool = all_pool if uses_label else serving_pool
        start = draw(st.sampled_from(pool))
        value = _chain(d, start, pool, draw(st.integers(1, 3)), ("scalar", "fixed", "variable",
                                                                    "sparse"), ops)
        if value is None or value is start:
            continue
        name = next(take)
        lines.append(f"let {name} = {value.text}")
        named = Value(name, value.type, value.training)
        all_pool.append(named)
        if not named.training:
            serving_pool.append(named)
    outputs = []
    for i in range(n_outputs):
        is_target = i >= n_outputs - draw(st.integers(1, 2))
        pool = all_pool if is_target else serving_pool
        kinds = ("scalar", "fixed") if is_target else ("scalar", "fixed", "sparse")
        labels_first = [v for v in pool if v.training] if is_target and draw(
            st.sampled_from([True, True, True, False])) else []
        start = draw(st.sampled_from(labels_first or pool))
        value = _chain(d, start, pool, draw(st.integers(0, 3)), kinds, ops)
        if value is None or value.type.shape.kind not in kinds:
            continue
        outputs.append(("target" if is_target else "feature", value))
    if every_op:
        outputs += _every_op(d, all_pool, serving_pool, ops)
    for _ in range(draw(st.integers(1, 3)) if calls else 0):
        values = draw(st.permutations(serving_pool + [v for v in all_pool if v.training]))
        output = _output_calling(d, calls, values, all_pool, serving_pool)
        if output is not None:
            outputs.append(output)
    if not any(kind == "feature" for kind, _ in outputs):
        outputs.append(("feature", inputs[0]))
    used = set()
    for kind, value in outputs:
        name = next(take, None) or f"out{len(lines)}"
        if kind == "feature" and value.text in {v.text for v in inputs} \
                and value.text not in used and draw(st.booleans()):
            used.add(value.text)
            lines.append(f"feature {value.text}")  # a passthrough, named as its input
        else:
            lines.append(f"{kind} {name} = {value.text}")
    order = draw(st.permutations(range(len(lines)))) if draw(st.booleans()) else range(len(lines))
    return "\n".join(lines[i] for i in order) + "\n"


def _every_op(d, all_pool, serving_pool, ops) -> list:
    """One output per function: the function applied to the first value it takes."""
    values = serving_pool + [v for v in all_pool if v.training]
    outputs = []
    for name in (sorted(ops) if ops is not None else sorted(all_ops())):
        output = _output_calling(d, name, values, all_pool, serving_pool)
        if output is not None:
            outputs.append(output)
    return outputs


def _output_calling(d, name: str, values: Sequence[Value], all_pool, serving_pool):
    """A ``(kind, value)`` output that calls ``name`` on the first of ``values`` it takes
    (passed through one more function when the call's shape cannot be an output), or None."""
    registry = all_ops()
    for value in values:
        if _accepts(name, value.type) is None:
            continue
        pool = all_pool if value.training else serving_pool
        result = None
        for _ in range(16):  # a few draws may not fit; the function must appear
            result = call(d, registry[name], value, pool)
            if result is not None:
                break
        if result is None:
            continue
        kinds = ("scalar", "fixed") if result.training else ("scalar", "fixed", "sparse")
        if result.type.shape.kind not in kinds:
            result = _step(d, result, pool, kinds=kinds)
        if result is not None:
            return ("target" if result.training else "feature", result)
    return None


def accepted_types(name: str) -> list[Type]:
    """The probe types (every dtype in every shape kind) a function takes as its first
    value argument."""
    return [t for t in _probe_types() if _accepts(name, t) is not None]


def _varied(draw, name: str) -> Type:
    """A type ``name`` takes, with drawn dimensions for fixed and sparse shapes."""
    probe = draw(st.sampled_from(accepted_types(name)))
    if probe.shape.kind == "fixed":
        shape = fixed(*draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    elif probe.shape.kind == "sparse":
        shape = Shape("sparse", (draw(st.integers(1, 20)),))
    else:
        return probe
    varied = Type(probe.dtype, shape)
    return varied if _accepts(name, varied) is not None else probe
