"""What a spec's definitions read, worked out here from its syntax tree alone (not from the
checker's graph, which ``skewless explain`` and ``skewless graph`` use): the expected values
of their tests on generated specs."""
from __future__ import annotations

from dataclasses import dataclass

from skewless import ast, syntax
from skewless.ops.registry import lookup


@dataclass
class Dependencies:
    roles: dict  # raw column -> input | label | weight, in declaration order
    lets: list  # let names, in declaration order
    outputs: list  # (kind, name), in declaration order
    reads: dict  # ("let" | kind, name) -> set of column and let names read as values

    def nodes(self) -> list:
        """The dependency graph's node names: ROLE.NAME, let.NAME, KIND.NAME."""
        return ([f"{role}.{name}" for name, role in self.roles.items()]
                + [f"let.{name}" for name in self.lets]
                + [f"{kind}.{name}" for kind, name in self.outputs])

    def edges(self) -> set:
        def node(name):
            return f"let.{name}" if name in self.lets else f"{self.roles[name]}.{name}"
        return {(node(name), f"{kind}.{reader}")
                for (kind, reader), names in self.reads.items() for name in names}

    def columns(self, kind: str, name: str) -> set:
        """The raw columns a definition reads, through lets or not."""
        found, todo = set(), [(kind, name)]
        while todo:
            for read in self.reads[todo.pop()]:
                if read in self.lets:
                    todo.append(("let", read))
                else:
                    found.add(read)
        return found


def dependencies(source: str) -> Dependencies:
    spec = syntax.parse(source, "<spec>")
    roles = {column.name: column.kind for column in spec.columns}
    known = set(roles) | {d.name for d in spec.definitions if d.kind == "let"}
    return Dependencies(
        roles, [d.name for d in spec.definitions if d.kind == "let"],
        [(d.kind, d.name) for d in spec.definitions if d.kind != "let"],
        {(d.kind, d.name): {name for name in _values(d.expr) if name in known}
         for d in spec.definitions})


def _values(expr) -> list:
    """The names an expression reads as values: a name given to a constant parameter (a
    type name, as in ``cast(x, int64)``) is not read."""
    if isinstance(expr, ast.Name):
        return [expr.id]
    if isinstance(expr, ast.Call):
        op = lookup(expr.func)
        if op.variadic:
            values = list(expr.args)
        else:
            positional = [p for p in op.params if p.name != op.variadic]
            values = [arg for param, arg in zip(positional, expr.args) if not param.const]
        const = {p.name for p in op.params if p.const}
        values += [k.value for k in expr.keywords if k.name not in const]
        return [name for value in values for name in _values(value)]
    if isinstance(expr, ast.BinOp):
        return _values(expr.left) + _values(expr.right)
    if isinstance(expr, ast.UnaryOp):
        return _values(expr.operand)
    if isinstance(expr, ast.InList):
        return _values(expr.value)
    return []  # literals
