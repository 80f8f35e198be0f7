"""Name resolution: duplicates, undefined names (with a suggestion), and cycles among lets."""
from __future__ import annotations

import difflib

from .. import ast
from ..errors import Collector
from ..types import DTYPES


def suggest(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def children(expr) -> list:
    """The expressions directly inside an expression, in source order."""
    if isinstance(expr, ast.Call):
        return list(expr.args) + [k.value for k in expr.keywords]
    if isinstance(expr, ast.BinOp):
        return [expr.left, expr.right]
    if isinstance(expr, ast.UnaryOp):
        return [expr.operand]
    if isinstance(expr, ast.InList):
        return [expr.value, expr.items]
    if isinstance(expr, ast.ListLit):
        return list(expr.items)
    return []


def references(expr) -> list[ast.Name]:
    """Every name an expression refers to (type names in call arguments included), in
    source order; a loop, since chains of operators are as deep as they are long."""
    found, stack = [], [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            found.append(node)
        stack.extend(reversed(children(node)))
    return found


class Scope:
    """The two namespaces: columns and lets (referable) and outputs (features, targets)."""

    def __init__(self, spec: ast.Spec, errors: Collector):
        self.columns = {}
        self.lets = {}
        self.outputs = {}
        for column in spec.columns:
            self._declare(self.columns, column.name, column, errors)
        for definition in spec.definitions:
            if definition.kind == "let":
                if definition.name in self.columns:
                    self._duplicate(definition, self.columns[definition.name], errors)
                else:
                    self._declare(self.lets, definition.name, definition, errors)
            else:
                self._declare(self.outputs, definition.name, definition, errors)
        for name, column in self.columns.items():
            if name in DTYPES:
                errors.error(column.name_pos, f"'{name}' is a type name and cannot name a column")

    @staticmethod
    def _declare(table: dict, name: str, node, errors: Collector) -> None:
        if name in table:
            Scope._duplicate(node, table[name], errors)
        else:
            table[name] = node

    @staticmethod
    def _duplicate(node, first, errors: Collector) -> None:
        errors.error(node.name_pos, f"'{node.name}' is already defined at line {first.pos.line}")

    @property
    def referable(self) -> dict:
        return {**self.columns, **self.lets}

    def check_references(self, spec: ast.Spec, errors: Collector) -> None:
        """Report names that refer to nothing, and outputs used as values."""
        known = self.referable
        for definition in spec.definitions:
            for name in references(definition.expr):
                if name.id in known or name.id in DTYPES:
                    continue
                if definition.kind == "feature" and definition.expr is name and \
                        name.pos == definition.name_pos:
                    errors.error(name.pos, f"feature '{name.id}' passes through an input, but there "
                                           f"is no input '{name.id}'{suggest(name.id, self.columns)}")
                elif name.id in self.outputs:
                    errors.error(name.pos, f"'{name.id}' is a {self.outputs[name.id].kind}; outputs "
                                           "cannot be used in expressions (define it with let)")
                else:
                    errors.error(name.pos, f"undefined name '{name.id}'{suggest(name.id, known)}")

    def check_cycles(self, errors: Collector) -> set[str]:
        """Report each cycle among lets once; return the names on cycles. A depth-first
        search with its own stack: a chain of lets may be as long as the file."""
        state, on_cycle = {}, set()
        for start in self.lets:
            if start in state:
                continue
            state[start] = "open"
            path, pending = [start], [iter(references(self.lets[start].expr))]
            while pending:
                ref = next(pending[-1], None)
                if ref is None:
                    state[path.pop()] = "done"
                    pending.pop()
                elif ref.id not in self.lets:
                    continue
                elif state.get(ref.id) == "open":
                    cycle = path[path.index(ref.id):] + [ref.id]
                    on_cycle.update(cycle)
                    errors.error(ref.pos, "cycle among lets: " + " -> ".join(cycle))
                elif ref.id not in state:
                    state[ref.id] = "open"
                    path.append(ref.id)
                    pending.append(iter(references(self.lets[ref.id].expr)))
        return on_cycle
