"""Where in the edited TOML a config error is: the line of a TOML syntax error, of the key a
schema error names, or of the rule expression that fails to compile.

Hand-written because no library maps a pydantic location or a CEL error back to a line of
the TOML it was parsed from (tomllib keeps no positions): the key's line is found by walking
the location's parts down the table headers and keys of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pydantic

from tailorcrm.errors import RuleError, TailorCRMError

_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


@dataclass(frozen=True)
class Problem:
    """One error: its message and, when found, the 1-based line of the text it is about."""

    message: str
    line: int | None = None


def _header(line: str) -> str | None:
    stripped = line.strip()
    if stripped.startswith("["):
        return stripped.strip("[]").strip()
    return None


def _key_line(lines: list[str], loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the key at ``loc`` (e.g. ``("filters", 0, "expression")``)."""
    start, table, found = 0, "", None
    for pos, part in enumerate(loc):
        if isinstance(part, int):
            seen = -1
            for i in range(start, len(lines)):
                if _header(lines[i]) == table and lines[i].strip().startswith("[["):
                    seen += 1
                    if seen == part:
                        start, found = i + 1, i + 1
                        break
            continue
        name = str(part)
        path = f"{table}.{name}" if table else name
        key = re.compile(rf"^\s*[\"']?{re.escape(name)}[\"']?\s*=")
        for i in range(start, len(lines)):
            head = _header(lines[i])
            if head == path:
                start, found, table = i + 1, i + 1, path
                break
            if head is not None and i > start and pos > 0 and not head.startswith(table):
                break
            if key.match(lines[i]):
                found = i + 1
                start = i
                break
        else:
            table = path
            continue
        table = path
    return found


def _rule_line(lines: list[str], details: dict[str, Any]) -> int | None:
    rule, part = details.get("rule") or details.get("action"), details.get("part")
    if not rule:
        return None
    name = re.compile(rf"^\s*name\s*=\s*[\"']{re.escape(str(rule))}[\"']")
    for i, line in enumerate(lines):
        if name.match(line):
            if isinstance(part, str):
                key = re.compile(rf"^\s*{re.escape(part)}\s*=")
                for j in range(max(0, i - 8), min(len(lines), i + 12)):
                    if key.match(lines[j]):
                        return j + 1 + max(0, int(details.get("line") or 1) - 1)
            return i + 1
    return None


def problems(exc: Exception, text: str) -> list[Problem]:
    """The errors of ``exc`` (a parse, schema or rule error) with their lines in ``text``."""
    lines = text.splitlines()
    if isinstance(exc, pydantic.ValidationError):
        return [Problem(f"{'.'.join(map(str, e['loc'])) or '(document)'}: {e['msg']}",
                        _key_line(lines, tuple(e["loc"]))) for e in exc.errors()]
    if isinstance(exc, RuleError):
        return [Problem(exc.message, _rule_line(lines, exc.details))]
    if isinstance(exc, TailorCRMError):
        at = _TOML_AT.search(exc.message)
        line = int(at.group(1)) if at else exc.details.get("line")
        message = exc.message.replace("<text>: ", "")
        return [Problem(message, line if isinstance(line, int) else None)]
    return [Problem(str(exc))]
