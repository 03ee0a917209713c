"""Layering: SQL lives in ``store/``; no other module imports SQLAlchemy (checked with ``ast``)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tailorcrm"

# Modules still running their own queries, pending their move into store/ (the lead engineer's
# files; remove each entry when its queries are repository methods).
PENDING_SQL: frozenset[str] = frozenset()  # none left: every query lives in store/


def _imports_sqlalchemy(tree: ast.AST) -> list[int]:
    """Line numbers of every ``import sqlalchemy...`` / ``from sqlalchemy... import``,
    at module level or inside functions alike."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name.split(".")[0] == "sqlalchemy" for a in node.names):
                lines.append(node.lineno)
        elif (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
              and node.module.split(".")[0] == "sqlalchemy"):
            lines.append(node.lineno)
    return lines


def test_only_the_store_imports_sqlalchemy() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("store/") or rel in PENDING_SQL:
            continue
        lines = _imports_sqlalchemy(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        offenders += [f"{rel}:{n}" for n in lines]
    assert offenders == [], f"SQLAlchemy outside store/ (add a repository method): {offenders}"


def test_pending_entries_still_exist() -> None:
    """An allow-list entry whose file is gone (or clean) should be dropped, not kept."""
    assert all((PACKAGE / rel).is_file() for rel in PENDING_SQL)
