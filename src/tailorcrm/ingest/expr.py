"""A safe, vectorized arithmetic evaluator for derived columns (``amount = "Quantity * Price"``).

Written by hand on purpose: ``eval`` must never see a mapping file, and ``pandas.eval`` accepts
far more than arithmetic (attribute access, method calls, ``@`` locals). Here an expression is
parsed with ``ast`` and only numbers, column names (bare identifiers or backquoted names),
``+ - * / // % **``, unary minus and ``abs()`` are accepted; it is evaluated over
whole pandas Series at once.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable

import pandas as pd

_BINARY: dict[type[ast.operator], Callable[[object, object], object]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_BACKQUOTED = re.compile(r"`([^`]+)`")


def _parse(expression: str) -> tuple[ast.Expression, dict[str, str]]:
    """Parse, replacing backquoted column names (which may hold spaces) by placeholders."""
    aliases: dict[str, str] = {}

    def alias(match: re.Match[str]) -> str:
        name = f"__col{len(aliases)}"
        aliases[name] = match.group(1)
        return name

    try:
        tree = ast.parse(_BACKQUOTED.sub(alias, expression), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot parse expression {expression!r}: {exc.msg}") from exc
    for node in ast.walk(tree):
        allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd, ast.Name,
                   ast.Load, ast.Constant, ast.Call, *_BINARY)
        if not isinstance(node, allowed):
            raise ValueError(f"{type(node).__name__} is not allowed in {expression!r}")
        if isinstance(node, ast.Constant) and (
                isinstance(node.value, bool) or not isinstance(node.value, int | float)):
            raise ValueError(f"only numbers may be constants in {expression!r}")
        if isinstance(node, ast.Call) and not (
                isinstance(node.func, ast.Name) and node.func.id == "abs"
                and len(node.args) == 1 and not node.keywords):
            raise ValueError(f"only abs(x) may be called in {expression!r}")
    return tree, aliases


def referenced_columns(expression: str) -> list[str]:
    """Column names an expression reads; raises ``ValueError`` if it is not plain arithmetic."""
    tree, aliases = _parse(expression)
    names = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id != "abs"]
    return list(dict.fromkeys(aliases.get(n, n) for n in names))


def evaluate(expression: str, columns: dict[str, pd.Series]) -> pd.Series:
    """Evaluate over numeric Series (one per referenced column); NaN propagates."""
    tree, aliases = _parse(expression)

    def walk(node: ast.AST) -> object:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return columns[aliases.get(node.id, node.id)]
        if isinstance(node, ast.UnaryOp):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value  # type: ignore[operator]
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Call):
            return abs(walk(node.args[0]))  # type: ignore[arg-type]
        raise ValueError(f"unexpected node {type(node).__name__}")  # pragma: no cover

    result = walk(tree)
    if not isinstance(result, pd.Series):
        index = next(iter(columns.values())).index if columns else None
        return pd.Series(float(result), index=index, dtype=float)  # type: ignore[arg-type]
    return result.astype(float)
