"""The op registry: every function of the language is defined once, with its signature, its
type rule, its TensorFlow implementation and, for analyzers, how its constants are computed.

The checker, the interpreter, the analyzer engines and the code generator all read this
registry; nothing else knows how an op is computed."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..types import Type, constant_error

REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """A parameter. ``const`` parameters take a literal known when compiling (a number, a
    string, a list, a dtype name); the others take any expression of the language."""

    name: str
    const: bool = False
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


class ArgError(Exception):
    """A misuse of a function, raised by a type rule; ``param`` names the culprit argument
    (None: the call as a whole), ``index`` the culprit item when that argument is a list."""

    def __init__(self, message: str, param: Optional[str] = None, index: Optional[int] = None):
        super().__init__(message)
        self.param, self.index = param, index


@dataclass
class Args:
    """What a type rule sees: the static types of the value arguments (``rest`` holds the
    variadic ones) and the values of the constant arguments."""

    op: str
    types: dict
    consts: dict
    rest: list = field(default_factory=list)
    sources: dict = field(default_factory=dict)  # value parameter -> source text, for messages

    def type(self, name: str) -> Type:
        return self.types[name]

    def describe(self, name: str) -> str:
        source = self.sources.get(name)
        return f"{self.types[name].dtype} ({source})" if source else self.types[name].dtype


@dataclass(frozen=True)
class Analyzer:
    """How an analyzer's constants come from data. ``constants`` are the names of the
    constants it computes (each also accepted as an explicit argument).

    ``accumulator(consts)`` returns an object with ``add(values: numpy array)``,
    ``merge(other)`` and ``result() -> dict`` of constants; ``values`` are the flat values
    the analyzer sees in one batch. ``knobs`` are the parameters that only shape the
    analysis (``quantiles``, ``top_k``…): a call given its constants leaves them out.

    ``batch_summary`` (optional) condenses a batch where the engines compute it, in
    TensorFlow (inside tf.data's parallel map, or a Beam worker's function): the batch's
    flat values (a 1-D tensor) → a tuple of tensors, whose numpy values the accumulator's
    ``add_summary(*arrays)`` takes instead of ``add(values)``, to the same effect (a
    vocabulary's distinct tokens and their counts, say, rather than every token). Without
    it, the engines pass the values themselves: ``add_summary(values)``."""

    constants: tuple
    accumulator: Callable[[dict], Any]
    knobs: tuple = ()
    batch_summary: Optional[Callable] = None


@dataclass(frozen=True)
class Op:
    name: str
    params: tuple
    fn: Callable
    infer: Callable[[Args], Type]
    variadic: Optional[str] = None  # a value parameter that takes 1..n arguments
    table: Optional[Callable] = None  # consts -> lookup table, built once per transform
    analyzer: Optional[Analyzer] = None

    @property
    def doc(self) -> str:
        """The user documentation of the function: its implementation's docstring."""
        return (self.fn.__doc__ or "").strip()

    @property
    def value_params(self) -> tuple:
        return tuple(p for p in self.params if not p.const)

    @property
    def const_params(self) -> tuple:
        return tuple(p for p in self.params if p.const)


def constants_error(op: Op, types: dict, consts: dict) -> Optional[str]:
    """Why ``op``'s type rule refuses the analyzer constants in ``consts`` (with the other
    constant arguments of the call; ``types``: the value arguments' types), as it would
    refuse them written by hand in a spec (a literal out of range included); None when it
    accepts them."""
    given = {name: value for name, value in consts.items() if name not in op.analyzer.knobs}
    try:
        op.infer(Args(op=op.name, types=types, consts=given))
    except ArgError as exc:
        return str(exc)
    for name in op.analyzer.constants:
        error = constant_error(consts.get(name))
        if error:
            return f"{name}: {error}"
    return None


REGISTRY: dict[str, Op] = {}


def op(name: str, *params: Param, infer: Callable[[Args], Type], variadic: Optional[str] = None,
       table: Optional[Callable] = None, analyzer: Optional[Analyzer] = None):
    """Register the decorated TensorFlow implementation as the language function ``name``.

    The implementation is called as ``fn(*values, **consts)`` (with ``table=`` instead of the
    constants for table ops); it must be batch-invariant: each example's result depends on
    that example alone."""

    def register(fn: Callable) -> Callable:
        if name in REGISTRY:
            raise ValueError(f"op {name!r} is defined twice")
        REGISTRY[name] = Op(name, tuple(params), fn, infer, variadic, table, analyzer)
        return fn

    return register


def lookup(name: str) -> Optional[Op]:
    _load_families()
    return REGISTRY.get(name)


def all_ops() -> dict[str, Op]:
    _load_families()
    return dict(REGISTRY)


def _load_families() -> None:
    from . import families  # noqa: F401  (importing registers every op)
