"""Static checks of CEL expressions before they run: allowed names, functions, size limits.

cel-python only finds unknown names when evaluating; these checks refuse, at save time and
with a position, everything a business rule has no use for: names other than the context
variables (and macro variables), functions and methods outside standard CEL, the library's
non-standard ``reduce``/``min`` macros (``reduce`` can double a string per step), dunder
field names, message construction and leading-dot names, expressions over the limits, and
``matches`` with a literal pattern the regular-expression engine refuses.

These limits bound an expression's size, not its cost on data; the run-time budget of
:mod:`tailorcrm.customize.budget` bounds that.
"""

from __future__ import annotations

from collections.abc import Callable

import lark
from celpy.evaluation import celstr
from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.errors import RuleError

TYPE_NAMES = frozenset({"int", "uint", "double", "string", "bool", "bytes", "list", "map",
                        "null_type", "type"})
FUNCTIONS = frozenset({"size", "int", "uint", "double", "string", "bool", "bytes", "type",
                       "dyn", "has", "duration", "timestamp", "matches", "contains",
                       "startsWith", "endsWith"})
MACROS = frozenset({"map", "filter", "all", "exists", "exists_one"})
METHODS = MACROS | frozenset({
    "size", "contains", "startsWith", "endsWith", "matches", "getDate", "getDayOfMonth",
    "getDayOfWeek", "getDayOfYear", "getFullYear", "getMonth", "getHours", "getMilliseconds",
    "getMinutes", "getSeconds"})
_FORBIDDEN_NODES = {
    "member_object": "message construction is not supported",
    "dot_ident": "leading-dot names are not supported",
    "dot_ident_arg": "leading-dot calls are not supported",
}


class CelLimits(BaseModel):
    """Static size limits every expression must respect (checked when compiling)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_length: int = Field(2000, gt=0, description="Characters of source.")
    max_nodes: int = Field(2000, gt=0, description="Nodes of the parse tree.")
    max_depth: int = Field(300, gt=0, description="Depth of the parse tree (~10 per nesting).")
    max_macro_nesting: int = Field(2, ge=0, description="Macros inside macros.")


DEFAULT_LIMITS = CelLimits()


def _pos(node: lark.Tree | lark.Token) -> dict[str, int | None]:
    if isinstance(node, lark.Token):
        return {"line": node.line, "column": node.column}
    meta = node.meta
    return {"line": getattr(meta, "line", None), "column": getattr(meta, "column", None)}


def _fail(message: str, node: lark.Tree | lark.Token, reason: str) -> RuleError:
    pos = _pos(node)
    where = f"line {pos['line']}, column {pos['column']}: " if pos["line"] else ""
    return RuleError(f"{where}{message}", reason=reason, **pos)


def _ident_of(tree: lark.Tree | lark.Token) -> lark.Token | None:
    """The IDENT of an expression that is a bare name (the variable of a macro)."""
    node: lark.Tree | lark.Token = tree
    while isinstance(node, lark.Tree):
        if node.data == "ident":
            return node.children[0]  # type: ignore[return-value]
        if len(node.children) != 1:
            return None
        node = node.children[0]
    return None


def _direct_field(member_dot: lark.Tree) -> tuple[lark.Tree, str, str] | None:
    """For ``<name>.<field>``: the ``ident`` node of the name, the name and the field."""
    obj = member_dot.children[0]
    ident = _ident_of(obj)
    if ident is None:
        return None
    node = obj
    while isinstance(node, lark.Tree) and node.data != "ident":
        node = node.children[0]
    return node, str(ident.value), str(member_dot.children[1])  # type: ignore[return-value]


def _string_literal(tree: lark.Tree | lark.Token) -> tuple[str, lark.Token] | None:
    """The value and token of an expression that is one string literal."""
    node: lark.Tree | lark.Token = tree
    while isinstance(node, lark.Tree) and len(node.children) == 1:
        if node.data == "literal":
            token = node.children[0]
            if isinstance(token, lark.Token) and token.type in ("STRING_LIT", "MLSTRING_LIT"):
                return str(celstr(token)), token
            return None
        node = node.children[0]
    return None


def _regex_argument(node: lark.Tree) -> lark.Tree | None:
    """The pattern argument of ``x.matches(p)`` or ``matches(x, p)``, if this is one."""
    if node.data == "member_dot_arg" and str(node.children[1]) == "matches":
        index, args = 0, node.children[2] if len(node.children) > 2 else None
    elif node.data == "ident_arg" and str(node.children[0]) == "matches":
        index, args = 1, node.children[1] if len(node.children) > 1 else None
    else:
        return None
    if isinstance(args, lark.Tree) and len(args.children) > index:
        arg = args.children[index]
        return arg if isinstance(arg, lark.Tree) else None
    return None


def _check_regex(node: lark.Tree, regex_error: Callable[[str], str | None]) -> None:
    arg = _regex_argument(node)
    literal = _string_literal(arg) if arg is not None else None
    if literal is None:
        return
    why = regex_error(literal[0])
    if why is not None:
        raise _fail(f"invalid regular expression /{literal[0]}/: {why} (patterns are RE2: "
                    f"no backreferences or look-around)", literal[1], "regex")


def check_tree(tree: lark.Tree, variables: frozenset[str], limits: CelLimits,
               regex_error: Callable[[str], str | None] | None = None,
               ) -> tuple[frozenset[str], dict[str, frozenset[str] | None]]:
    """Walk the tree once (iteratively): names, functions, limits; roots and their fields.

    ``regex_error`` tells why a literal ``matches`` pattern is refused (None: accepted).
    """
    bound: set[str] = set()
    for node in tree.iter_subtrees():
        if node.data == "member_dot_arg" and str(node.children[1]) in MACROS:
            args = node.children[2] if len(node.children) > 2 else None
            first = args.children[0] if isinstance(args, lark.Tree) and args.children else None
            name = _ident_of(first) if first is not None else None
            if name is None:
                raise _fail(f"macro {node.children[1]}() needs a variable name first",
                            node, "macro")
            if name.value in variables:
                raise _fail(f"macro variable {name.value!r} shadows a context variable",
                            name, "macro")
            bound.add(str(name.value))
    roots: set[str] = set()
    fields: dict[str, set[str]] = {}
    covered: set[int] = set()
    root_idents: list[tuple[str, lark.Tree]] = []
    nodes = 0
    stack: list[tuple[lark.Tree, int, int]] = [(tree, 1, 0)]
    while stack:
        node, depth, macros = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise _fail(f"expression has more than {limits.max_nodes} parse nodes", node,
                        "too_large")
        if depth > limits.max_depth:
            raise _fail(f"expression nested deeper than {limits.max_depth} levels", node,
                        "too_deep")
        kind = node.data
        if kind in _FORBIDDEN_NODES:
            raise _fail(_FORBIDDEN_NODES[kind], node, "forbidden")
        if regex_error is not None and kind in ("member_dot_arg", "ident_arg"):
            _check_regex(node, regex_error)
        if kind == "ident":
            ident = str(node.children[0])
            if ident in variables:
                roots.add(ident)
                root_idents.append((ident, node))
            elif ident not in bound and ident not in TYPE_NAMES:
                raise _fail(f"unknown name {ident!r} (a rule can read "
                            f"{', '.join(sorted(variables))})", node.children[0], "unknown_name")
        elif kind == "ident_arg":
            fn = node.children[0]
            if str(fn) not in FUNCTIONS:
                raise _fail(f"unknown function {fn}()", fn, "unknown_function")
        elif kind in ("member_dot", "member_dot_arg"):
            attr = node.children[1]
            if str(attr).startswith("__"):
                raise _fail(f"field name {attr} is not allowed", attr, "forbidden")
            if kind == "member_dot_arg":
                if str(attr) not in METHODS:
                    raise _fail(f"unknown method .{attr}()", attr, "unknown_function")
                if str(attr) in MACROS:
                    macros += 1
                    if macros > limits.max_macro_nesting:
                        raise _fail(f"macros nested deeper than {limits.max_macro_nesting}",
                                    attr, "too_deep")
            else:
                direct = _direct_field(node)
                if direct is not None and direct[1] in variables:
                    covered.add(id(direct[0]))
                    fields.setdefault(direct[1], set()).add(direct[2])
        for child in node.children:
            if isinstance(child, lark.Tree):
                stack.append((child, depth + 1, macros))
    whole = {root for root, n in root_idents if id(n) not in covered}
    return frozenset(roots), {root: None if root in whole else frozenset(fields.get(root, ()))
                              for root in roots}
