"""A tiny evaluator for the expression subset the engine tests use (SQL semantics in Python).

Independent of the engine: no sqlglot, no DuckDB. ``parse(text)`` returns a tree of
tuples; ``evaluate(node, env)`` evaluates it with SQL NULL semantics (NULL propagates
through arithmetic and comparisons, three-valued AND/OR/NOT, aggregates skip NULLs).

Supported: ``{x}`` / ``{property.x}`` / ``{kpi.k}`` placeholders, numbers, 'strings',
TRUE/FALSE/NULL, ``+ - * /`` (``/`` always yields a float), ``= != <> < <= > >=``,
``AND OR NOT``, ``IS [NOT] NULL``, ``[NOT] IN (...)``, ``CASE [x] WHEN .. THEN .. ELSE .. END``,
``IF(c, a, b)``, ``COALESCE(...)``, ``SAFE_DIVIDE(a, b)``, ``DATE_DIFF(a, b, DAY)`` and the
aggregates ``SUM AVG COUNT MIN MAX COUNTD``, ``COUNT(*)``, ``COUNT(DISTINCT x)``.
Anything else raises ``NotImplementedError`` so a test never silently checks garbage.

Node shapes: ``("lit", v)``, ``("ph", namespace|None, name)``, ``("neg", x)``, ``("not", x)``,
``("bin", op, a, b)``, ``("isnull", x, negated)``, ``("in", x, (items...), negated)``,
``("call", NAME, (args...))``, ``("agg", NAME, arg|None, distinct)``,
``("case", operand|None, ((when, then)...), else|None)``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable

_TOKEN_RE = re.compile(
    r"\s+|(?P<ph>\{[^{}]*\})|(?P<num>\d+\.\d*|\.\d+|\d+)|(?P<str>'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<op><=|>=|<>|!=|=|<|>|\+|-|\*|/|\(|\)|,)"
)
AGGREGATES = {"SUM", "AVG", "COUNT", "MIN", "MAX", "COUNTD"}
SCALARS = {"IF", "COALESCE", "SAFE_DIVIDE", "DATE_DIFF"}
_KEYWORDS = {"AND", "OR", "NOT", "IS", "NULL", "TRUE", "FALSE", "CASE", "WHEN", "THEN", "ELSE", "END", "IN", "DISTINCT"}


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise NotImplementedError(f"cannot tokenize {text[pos:]!r} in {text!r}")
        pos = match.end()
        kind = match.lastgroup
        if kind is None:
            continue
        value = match.group(kind)
        if kind == "num":
            tokens.append(("lit", float(value) if "." in value else int(value)))
        elif kind == "str":
            quote = value[0]
            tokens.append(("lit", value[1:-1].replace(quote * 2, quote)))
        elif kind == "ph":
            parts = [p.strip() for p in value[1:-1].split(".")]
            if not parts[0]:
                raise NotImplementedError(f"unexpanded template slot in {text!r}")
            if len(parts) == 2 and parts[0] in {"property", "kpi"}:
                tokens.append(("ph", (parts[0], parts[1])))
            else:
                tokens.append(("ph", (None, ".".join(parts))))
        elif kind == "ident":
            upper = value.upper()
            tokens.append(("kw", upper) if upper in _KEYWORDS else ("ident", upper))
        else:
            tokens.append(("op", "!=" if value == "<>" else value))
    tokens.append(("eof", None))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self, kind: str, value: Any = None) -> bool:
        tok = self.tokens[self.pos]
        return tok[0] == kind and (value is None or tok[1] == value)

    def take(self, kind: str, value: Any = None) -> Any:
        if not self.peek(kind, value):
            raise NotImplementedError(f"expected {value or kind} at token {self.pos} of {self.text!r}, got {self.tokens[self.pos]}")
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok[1]

    def accept(self, kind: str, value: Any = None) -> bool:
        if self.peek(kind, value):
            self.pos += 1
            return True
        return False

    def parse(self) -> tuple:
        node = self.or_()
        self.take("eof")
        return node

    def or_(self) -> tuple:
        node = self.and_()
        while self.accept("kw", "OR"):
            node = ("bin", "OR", node, self.and_())
        return node

    def and_(self) -> tuple:
        node = self.not_()
        while self.accept("kw", "AND"):
            node = ("bin", "AND", node, self.not_())
        return node

    def not_(self) -> tuple:
        if self.accept("kw", "NOT"):
            return ("not", self.not_())
        return self.comparison()

    def comparison(self) -> tuple:
        node = self.additive()
        for op in ("=", "!=", "<=", ">=", "<", ">"):
            if self.accept("op", op):
                return ("bin", op, node, self.additive())
        if self.accept("kw", "IS"):
            negated = self.accept("kw", "NOT")
            self.take("kw", "NULL")
            return ("isnull", node, negated)
        negated = self.accept("kw", "NOT")
        if self.accept("kw", "IN"):
            self.take("op", "(")
            items = [self.additive()]
            while self.accept("op", ","):
                items.append(self.additive())
            self.take("op", ")")
            return ("in", node, tuple(items), negated)
        if negated:
            raise NotImplementedError(f"NOT must be followed by IN here: {self.text!r}")
        return node

    def additive(self) -> tuple:
        node = self.multiplicative()
        while self.peek("op", "+") or self.peek("op", "-"):
            node = ("bin", self.take("op"), node, self.multiplicative())
        return node

    def multiplicative(self) -> tuple:
        node = self.unary()
        while self.peek("op", "*") or self.peek("op", "/"):
            node = ("bin", self.take("op"), node, self.unary())
        return node

    def unary(self) -> tuple:
        if self.accept("op", "-"):
            return ("neg", self.unary())
        return self.primary()

    def primary(self) -> tuple:
        if self.peek("lit"):
            return ("lit", self.take("lit"))
        if self.peek("ph"):
            namespace, name = self.take("ph")
            return ("ph", namespace, name)
        if self.accept("op", "("):
            node = self.or_()
            self.take("op", ")")
            return node
        for word, value in (("NULL", None), ("TRUE", True), ("FALSE", False)):
            if self.accept("kw", word):
                return ("lit", value)
        if self.accept("kw", "CASE"):
            return self.case()
        if self.peek("ident"):
            return self.call(self.take("ident"))
        raise NotImplementedError(f"unexpected token {self.tokens[self.pos]} in {self.text!r}")

    def case(self) -> tuple:
        operand = None if self.peek("kw", "WHEN") else self.or_()
        branches = []
        while self.accept("kw", "WHEN"):
            when = self.or_()
            self.take("kw", "THEN")
            branches.append((when, self.or_()))
        otherwise = self.or_() if self.accept("kw", "ELSE") else None
        self.take("kw", "END")
        if not branches:
            raise NotImplementedError(f"CASE without WHEN in {self.text!r}")
        return ("case", operand, tuple(branches), otherwise)

    def call(self, name: str) -> tuple:
        self.take("op", "(")
        if name in AGGREGATES:
            if name == "COUNT" and self.accept("op", "*"):
                self.take("op", ")")
                return ("agg", "COUNT", None, False)
            distinct = self.accept("kw", "DISTINCT") or name == "COUNTD"
            arg = self.or_()
            self.take("op", ")")
            return ("agg", "COUNT" if name == "COUNTD" else name, arg, distinct)
        if name not in SCALARS:
            raise NotImplementedError(f"function {name} is not supported by the reference evaluator")
        args = [self.or_()]
        while self.accept("op", ","):
            if name == "DATE_DIFF" and len(args) == 2:
                if self.take("ident") != "DAY":
                    raise NotImplementedError(f"DATE_DIFF(a, b, DAY) only: {self.text!r}")
                args.append(("lit", "DAY"))
                continue
            args.append(self.or_())
        self.take("op", ")")
        return ("call", name, tuple(args))


_PARSED: dict[str, tuple] = {}


def parse(text: str | int | float) -> tuple:
    text = str(text)
    if text not in _PARSED:
        _PARSED[text] = _Parser(text).parse()
    return _PARSED[text]


def children(node: Any) -> tuple:
    """Sub-trees of a node (a node is a tuple starting with its kind; other tuples are lists)."""
    if not isinstance(node, tuple) or not node:
        return ()
    return node[1:] if isinstance(node[0], str) else node


def placeholders(node: Any) -> list[tuple[str | None, str]]:
    """Every (namespace, name) placeholder in the tree, in order."""
    if isinstance(node, tuple) and node and node[0] == "ph":
        return [(node[1], node[2])]
    return [ph for child in children(node) for ph in placeholders(child)]


@dataclass
class Env:
    """How placeholders and aggregates are answered where an expression is evaluated."""

    lookup: Callable[[str | None, str], Any]
    aggregate: Callable[[tuple], Any] | None = None


def _coerce_pair(a: Any, b: Any) -> tuple[Any, Any]:
    # BigQuery reads a string literal compared with a DATE as a date.
    if isinstance(a, dt.date) and not isinstance(a, dt.datetime) and isinstance(b, str):
        return a, dt.date.fromisoformat(b)
    if isinstance(b, dt.date) and not isinstance(b, dt.datetime) and isinstance(a, str):
        return dt.date.fromisoformat(a), b
    if isinstance(a, str) != isinstance(b, str):
        raise NotImplementedError(f"comparing {a!r} with {b!r}")
    return a, b


def compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    a, b = _coerce_pair(a, b)
    return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _arith(op: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    for v in (a, b):
        if isinstance(v, (str, dt.date)) or not isinstance(v, (int, float)):
            raise NotImplementedError(f"arithmetic {op} on {a!r}, {b!r}")
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise ZeroDivisionError("division by zero in an expression (use SAFE_DIVIDE)")
    return a / b


def truth(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise NotImplementedError(f"{value!r} used as a condition")


def evaluate(node: tuple, env: Env) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "ph":
        return env.lookup(node[1], node[2])
    if kind == "neg":
        value = evaluate(node[1], env)
        return None if value is None else -value
    if kind == "not":
        value = truth(evaluate(node[1], env))
        return None if value is None else not value
    if kind == "bin":
        op = node[1]
        if op in ("AND", "OR"):
            a, b = truth(evaluate(node[2], env)), truth(evaluate(node[3], env))
            if op == "AND":
                return False if (a is False or b is False) else (None if (a is None or b is None) else True)
            return True if (a is True or b is True) else (None if (a is None or b is None) else False)
        a, b = evaluate(node[2], env), evaluate(node[3], env)
        if op in ("+", "-", "*", "/"):
            return _arith(op, a, b)
        return compare(op, a, b)
    if kind == "isnull":
        is_null = evaluate(node[1], env) is None
        return not is_null if node[2] else is_null
    if kind == "in":
        value = evaluate(node[1], env)
        items = [evaluate(item, env) for item in node[2]]
        result = in_list(value, items)
        return None if result is None else (not result if node[3] else result)
    if kind == "case":
        operand = evaluate(node[1], env) if node[1] is not None else None
        for when, then in node[2]:
            hit = compare("=", operand, evaluate(when, env)) if node[1] is not None else truth(evaluate(when, env))
            if hit is True:
                return evaluate(then, env)
        return evaluate(node[3], env) if node[3] is not None else None
    if kind == "agg":
        if env.aggregate is None:
            raise NotImplementedError("an aggregate is not allowed here")
        return env.aggregate(node)
    if kind == "call":
        return _call(node[1], node[2], env)
    raise NotImplementedError(f"node {kind}")


def in_list(value: Any, items: list[Any]) -> bool | None:
    if value is None:
        return None
    saw_null = False
    for item in items:
        hit = compare("=", value, item)
        if hit:
            return True
        saw_null = saw_null or hit is None
    return None if saw_null else False


def _call(name: str, args: tuple, env: Env) -> Any:
    if name == "IF":
        if len(args) != 3:
            raise NotImplementedError("IF takes 3 arguments")
        return evaluate(args[1] if truth(evaluate(args[0], env)) is True else args[2], env)
    if name == "COALESCE":
        for arg in args:
            value = evaluate(arg, env)
            if value is not None:
                return value
        return None
    values = [evaluate(arg, env) for arg in args]
    if name == "SAFE_DIVIDE":
        a, b = values
        if a is None or b is None or b == 0:
            return None
        return _arith("/", a, b)
    if name == "DATE_DIFF":
        if len(values) != 3 or values[2] != "DAY":
            raise NotImplementedError("DATE_DIFF(a, b, DAY) only")
        a, b = values[0], values[1]
        if a is None or b is None:
            return None
        return (_as_date(a) - _as_date(b)).days
    raise NotImplementedError(name)


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise NotImplementedError(f"DATE_DIFF of {value!r}")


def aggregate_values(function: str, values: list[Any], distinct: bool, row_count: int, star: bool) -> Any:
    """SQL aggregate over already evaluated values (NULLs skipped; COUNT of nothing is 0)."""
    if star:
        return row_count
    present = [v for v in values if v is not None]
    if distinct:
        present = list(dict.fromkeys(present))
    if function == "COUNT":
        return len(present)
    if not present:
        return None
    if function == "SUM":
        return sum(present)
    if function == "AVG":
        return sum(present) / len(present)
    if function == "MIN":
        return min(present)
    if function == "MAX":
        return max(present)
    raise NotImplementedError(function)
