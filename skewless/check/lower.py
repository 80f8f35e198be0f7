"""Type checking, done while lowering expressions into IR nodes.

Each expression becomes a node id of the graph (or None after an error, which is reported
once and not cascaded). Calls are bound to their op's parameters here; the op's type rule
then gives the result type or an ArgError, reported at the offending argument.

An expression is as deep as a chain of operators or pipes is long, and a let may refer to a
chain of lets as long as the file: lowering keeps its own stack. A handler that needs the
node ids of subexpressions is a generator that yields each subexpression and is sent back
its id (``expr`` drives them); the others return the id at once."""
from __future__ import annotations

import math
from types import GeneratorType
from typing import Optional

from .. import ast
from ..errors import Collector, source_lines
from ..ir import COLUMN, CONST, Graph, Node, freeze
from ..ops.registry import ArgError, Args, Op, all_ops, lookup
from ..types import CONST as CONST_SHAPE
from ..types import DTYPES, MAX_ELEMENTS, MAX_RANK, Type
from .columns import int64_overflow, literal_value
from .names import Scope, suggest

OPERATORS = {"+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or"}
UNARY = {"-": "neg", "not": "not"}


class Lowering:
    def __init__(self, scope: Scope, graph: Graph, errors: Collector, on_cycle: set):
        self.scope = scope
        self.graph = graph
        self.errors = errors
        self.on_cycle = on_cycle
        self.lets: dict[str, Optional[int]] = {}
        self.columns = {c.name: c for c in graph.columns}
        self.owner = ""  # the definition being lowered: names analyzer constants
        self.reader = None  # (kind, name) of the definition being lowered: see Graph.reads
        self.analyzer_count: dict[str, int] = {}
        self.lines = source_lines(errors.source)

    # ---- definitions -------------------------------------------------------------------

    def definition(self, definition: ast.Definition) -> Optional[int]:
        if definition.kind == "let":
            self.reader = None  # the let's own expression is read in ``let``
            return self.expr(ast.Name(definition.name, definition.name_pos))
        self.owner, self.reader = definition.name, (definition.kind, definition.name)
        node_id = self.expr(definition.expr)
        if node_id is not None:
            self.graph.names.setdefault(node_id, definition.name)
        return node_id

    def let(self, name: str):
        if name in self.on_cycle:
            return None
        if name not in self.lets:
            outer = self.owner, self.reader
            self.owner, self.reader = name, ("let", name)
            self.graph.reads.setdefault(self.reader, [])
            self.lets[name] = yield self.scope.lets[name].expr
            self.owner, self.reader = outer
            if self.lets[name] is not None:
                self.graph.names.setdefault(self.lets[name], name)
        return self.lets[name]

    # ---- expressions -------------------------------------------------------------------

    def expr(self, root) -> Optional[int]:
        """The node id of an expression (None after an error)."""
        stack, result, todo = [], None, root
        while True:
            if todo is not None:
                step, todo = getattr(self, "_" + type(todo).__name__.lower())(todo), None
                if isinstance(step, GeneratorType):
                    stack.append(step)
                    result = None
                else:
                    result = step
            if not stack:
                return result
            try:
                todo = stack[-1].send(result)
            except StopIteration as done:
                stack.pop()
                result = done.value

    def _name(self, node: ast.Name):
        if self.reader is not None:
            reads = self.graph.reads.setdefault(self.reader, [])
            if node.id not in reads:
                reads.append(node.id)
        if node.id in self.scope.lets:
            return self.let(node.id)
        column = self.columns.get(node.id)
        if column is None:
            if node.id in DTYPES:
                self.errors.error(node.pos, f"'{node.id}' is a type name; it is a value only as "
                                            "the dtype argument of cast or to_number")
            return None  # undefined names were reported by the scope
        return self.graph.add(Node(COLUMN, (), (("name", column.name),), column.type))

    def _literal(self, node: ast.Literal) -> int:
        value = literal_value(node)
        if isinstance(value, bool):
            dtype = "bool"
        elif isinstance(value, int):
            dtype = "int64"
            self._need_int64(value, node.pos)
        elif isinstance(value, float):
            dtype = "float32"
        else:
            dtype = "string"
        return self.graph.add(Node(CONST, (), (("value", value),), Type(dtype, CONST_SHAPE)))

    def _listlit(self, node: ast.ListLit) -> None:
        self.errors.error(node.pos, "a list is not a value here; lists are arguments of "
                                    "functions such as lookup, bucketize or 'in'")
        return None

    def _need_int64(self, value, pos: ast.Pos) -> bool:
        """Whether every integer in a literal value fits in int64 (else an error at ``pos``)."""
        overflow = int64_overflow(value)
        if overflow is not None:
            self.errors.error(pos, f"integer {overflow} does not fit in int64")
        return overflow is None

    def _binop(self, node: ast.BinOp):
        return self._apply(lookup(node.op), node, {"a": node.left, "b": node.right}, {}, [],
                           what=f"operator '{node.op}'")

    def _unaryop(self, node: ast.UnaryOp):
        return self._apply(lookup(UNARY[node.op]), node, {"x": node.operand}, {}, [],
                           what=f"operator '{node.op}'")

    def _inlist(self, node: ast.InList):
        items = literal_value(node.items)
        if items is None:
            self.errors.error(node.items.pos, "the list after 'in' must hold literals")
            return None
        if not self._need_int64(items, node.items.pos):
            return None
        return self._apply(lookup("in"), node, {"x": node.value}, {"items": items}, [],
                           what="'in'", const_exprs={"items": node.items})

    def _call(self, node: ast.Call):
        op = lookup(node.func)
        if op is None or node.func in OPERATORS or node.func in ("neg", "in"):
            names = [n for n in all_ops() if n.isidentifier() and n not in ("neg", "in", "and", "or", "not")]
            where = ast.Pos(node.pos.line, node.pos.column, node.pos.line, node.pos.column + len(node.func))
            self.errors.error(where, f"unknown function '{node.func}'{suggest(node.func, names)}")
            return None
        bound = self._bind(op, node)
        if bound is None:
            return None
        values, consts, rest, const_exprs = bound
        return self._apply(op, node, values, consts, rest, what=op.name, const_exprs=const_exprs)

    # ---- calls -------------------------------------------------------------------------

    def _bind(self, op: Op, call: ast.Call):
        """Match arguments to parameters; returns (value exprs, const values, variadic exprs,
        const exprs: where each given constant is written)."""
        values, consts, rest, ok, const_exprs = {}, {}, [], True, {}
        positional = [p for p in op.params if p.name != op.variadic]
        args = list(call.args)
        if op.variadic:
            rest, args = args, []
        for param, arg in zip(positional, args):
            ok &= self._bind_one(op, param, arg, values, consts, const_exprs)
        if len(args) > len(positional):  # one error, at the first argument too many
            piped = " (counting the piped value)" if call.piped else ""
            self.errors.error(args[len(positional)].pos,
                              f"{op.name} takes {len(positional)} positional "
                              f"argument{'s' if len(positional) != 1 else ''}, "
                              f"got {len(args)}{piped}")
            ok = False
        by_name = {p.name: p for p in op.params if p.name != op.variadic}
        reported = set()  # keywords already in an error: one error per keyword name
        for keyword in call.keywords:
            param = by_name.get(keyword.name)
            if keyword.name in reported:
                continue
            if param is None:
                self.errors.error(keyword.pos, f"{op.name} has no parameter '{keyword.name}'"
                                               f"{suggest(keyword.name, by_name)}")
                reported.add(keyword.name)
                ok = False
            elif param.name in values or param.name in consts:
                self.errors.error(keyword.pos, f"{op.name} got '{keyword.name}' twice")
                reported.add(keyword.name)
                ok = False
            else:
                ok &= self._bind_one(op, param, keyword.value, values, consts, const_exprs)
        for param in positional:
            if param.name in values or param.name in consts:
                continue
            if param.required:
                self.errors.error(call.pos, f"{op.name} is missing its argument '{param.name}'")
                ok = False
            elif param.const:
                consts[param.name] = param.default
            else:
                values[param.name] = ast.Literal(param.default, call.pos)
        if op.variadic and len(rest) < 2:
            self.errors.error(call.pos, f"{op.name} takes at least 2 values, got {len(rest)}")
            ok = False
        return (values, consts, rest, const_exprs) if ok else None

    def _bind_one(self, op: Op, param, arg, values: dict, consts: dict, const_exprs: dict) -> bool:
        if not param.const:
            values[param.name] = arg
            return True
        const_exprs[param.name] = arg
        value = literal_value(arg)
        if value is None and isinstance(arg, ast.Name) and arg.id in DTYPES:
            value = arg.id
        if value is None:
            self.errors.error(arg.pos, f"{op.name}: '{param.name}' must be a constant (a literal "
                                       "number, string, list or type name), not an expression")
            return False
        if not self._need_int64(value, arg.pos):
            consts[param.name] = None  # given, though wrong: not also "missing"
            return False
        consts[param.name] = value
        return True

    def _apply(self, op: Op, node, value_exprs: dict, consts: dict, rest_exprs: list, what: str,
               const_exprs: Optional[dict] = None):
        ids = {}
        for name, expr in value_exprs.items():
            ids[name] = yield expr
        rest_ids = []
        for expr in rest_exprs:
            rest_ids.append((yield expr))
        if None in ids.values() or None in rest_ids:
            return None
        args = Args(
            op=what,  # how messages name it: the function, or the operator as written
            types={name: self.graph.nodes[i].type for name, i in ids.items()},
            consts=consts,
            rest=[self.graph.nodes[i].type for i in rest_ids],
            sources={name: self._source(expr) for name, expr in value_exprs.items()},
        )
        try:
            result = op.infer(args)
        except ArgError as exc:
            culprit = {**value_exprs, **(const_exprs or {})}.get(exc.param) if exc.param else None
            if isinstance(culprit, ast.ListLit) and exc.index is not None:
                culprit = culprit.items[exc.index]
            message = str(exc)
            if culprit is not None and repr(literal_value(culprit)) != repr(
                    literal_value(culprit, as_compiled=False)):
                message += (" (a float literal below 2**-126, float32's smallest normal, "
                            "compiles to a zero of its sign)")
            self.errors.error(culprit.pos if culprit is not None else node.pos, message)
            return None
        if not self._small_enough(result, what, node.pos):
            return None
        if op.analyzer:
            for name in op.analyzer.constants:
                consts.setdefault(name, None)
        inputs = tuple(ids[p.name] for p in op.value_params if p.name in ids) + tuple(rest_ids)
        frozen = tuple(sorted((k, freeze(v)) for k, v in consts.items()))
        existing = self.graph.find(op.name, inputs, frozen)
        if existing is not None:
            return existing
        analyzer = self._analyzer_key(op)
        if analyzer:
            self.graph.positions[analyzer] = node.pos
        return self.graph.add(Node(op.name, inputs, frozen, result, analyzer))

    def _small_enough(self, result: Type, what: str, pos: ast.Pos) -> bool:
        """Whether a fixed-shape result stays within the per-example limits."""
        if result.shape.kind != "fixed":
            return True
        size = math.prod(result.shape.dims)
        if size > MAX_ELEMENTS or len(result.shape.dims) > MAX_RANK:
            self.errors.error(pos, f"{what} gives {result} per example: more than the limit of "
                                   f"{MAX_ELEMENTS} values in at most {MAX_RANK} dimensions")
            return False
        return True

    def _analyzer_key(self, op: Op) -> Optional[str]:
        if op.analyzer is None:
            return None
        count = self.analyzer_count.get(self.owner, 0) + 1
        self.analyzer_count[self.owner] = count
        return f"{self.owner}/{op.name}" + (f"#{count}" if count > 1 else "")

    def _source(self, expr) -> str:
        pos = expr.pos
        if pos.end_line != pos.line:
            return ""
        line = self.lines[pos.line - 1]
        return line[pos.column - 1:pos.end_column - 1]
