"""Rules and strategies: list, edit as TOML with errors at their line, preview, save, roll back."""

from __future__ import annotations

import threading
from typing import Any

import pydantic
import tomli_w
from pydantic import BaseModel

from tailorcrm.console.views.config_errors import Problem, problems
from tailorcrm.customize.actions import ActionCatalog, save_catalog
from tailorcrm.customize.configs import ACTIONS_KIND, RULES_KIND, STRATEGY_KIND, parse_text
from tailorcrm.customize.preview import Preview, PreviewBench, preview
from tailorcrm.customize.rules import RuleSet, load_ruleset, save_ruleset, validate_ruleset
from tailorcrm.customize.strategies import (
    DEFAULT_STRATEGY,
    SHIPPED_DEFAULT,
    Strategy,
    check_strategy,
    load_strategy,
    resolve_rules,
    save_strategy,
)
from tailorcrm.errors import ConflictError, NotFoundError, TailorCRMError
from tailorcrm.serving.cache import ModelCache
from tailorcrm.store import Store

KINDS = (STRATEGY_KIND, RULES_KIND, ACTIONS_KIND)
LABELS = {STRATEGY_KIND: "strategy", RULES_KIND: "rule set", ACTIONS_KIND: "action catalog"}
SAMPLES = 3
_BENCHES: dict[int, PreviewBench] = {}
_BUSY: dict[int, threading.Lock] = {}
_GUARD = threading.Lock()


def config_list(store: Store, tid: int) -> list[dict[str, Any]]:
    """Every stored strategy, rule set and catalog with its newest version."""
    rows = [{"kind": c.kind, "name": c.name, "version": c.version, "created_at": c.created_at}
            for c in store.configs.list(tid) if c.kind in KINDS]
    if not any(r["kind"] == STRATEGY_KIND and r["name"] == DEFAULT_STRATEGY for r in rows):
        rows.insert(0, {"kind": STRATEGY_KIND, "name": DEFAULT_STRATEGY, "version": 0,
                        "created_at": None})
    return sorted(rows, key=lambda r: (KINDS.index(r["kind"]), r["name"]))


def current_text(store: Store, tid: int, kind: str, name: str, version: int | None
                 ) -> tuple[str, list[int]]:
    """The TOML of a version (newest by default) and every stored version."""
    versions = store.configs.versions(tid, kind, name)
    if kind == STRATEGY_KIND and name == DEFAULT_STRATEGY and not versions:
        return SHIPPED_DEFAULT.to_text(), []
    try:
        body = store.configs.get(tid, kind, name, version)
    except NotFoundError:
        if version is not None or kind == ACTIONS_KIND:
            raise
        template = {"name": name, "models": []} if kind == STRATEGY_KIND else {
            "filters": [{"name": "example", "expression": "item.available"}]}
        return tomli_w.dumps(template), []
    return tomli_w.dumps(body), versions


def parse(kind: str, name: str, text: str, store: Store, tid: int
          ) -> tuple[BaseModel | None, list[Problem]]:
    """The edited document validated (schema and every expression), or its problems."""
    try:
        body = parse_text(text, "toml")
        model: BaseModel
        if kind == STRATEGY_KIND:
            body.setdefault("name", name)
            if body["name"] != name:
                return None, [Problem(f"the name must stay {name!r}", 1)]
            model = check_strategy(Strategy.model_validate(body))
            resolve_rules(model, store.configs, tid).compile()  # inline or stored: compiles
        elif kind == RULES_KIND:
            model = validate_ruleset(body)
        else:
            model = ActionCatalog.model_validate(body)
            model.compile()
        return model, []
    except (pydantic.ValidationError, TailorCRMError) as exc:
        return None, problems(exc, text)


def save(store: Store, tid: int, kind: str, name: str, model: BaseModel) -> int:
    """Store the document as the next version."""
    if kind == STRATEGY_KIND:
        return save_strategy(store.configs, tid, model)  # type: ignore[arg-type]
    if kind == RULES_KIND:
        return save_ruleset(store.configs, tid, name, model)  # type: ignore[arg-type]
    return save_catalog(store.configs, tid, model, name)  # type: ignore[arg-type]


def _bench(store: Store, tid: int) -> PreviewBench:
    record = store.models.active(tid, "recommender")
    with _GUARD:
        found = _BENCHES.get(tid)
    if found is not None and record is not None and found.version == record.version:
        return found
    made = PreviewBench(store, tid)
    with _GUARD:
        _BENCHES[tid] = made
    return made


def _pair(store: Store, tid: int, kind: str, name: str, model: BaseModel
          ) -> tuple[Strategy, RuleSet, Strategy, RuleSet]:
    """The active strategy with its rules, and the edited one with its rules."""
    if isinstance(model, Strategy):
        try:
            active = load_strategy(store.configs, tid, name)
        except NotFoundError:
            active = load_strategy(store.configs, tid, DEFAULT_STRATEGY)
        return (active, resolve_rules(active, store.configs, tid), model,
                resolve_rules(model, store.configs, tid))
    assert isinstance(model, RuleSet)
    users = [s for s in (load_strategy(store.configs, tid, c.name)
                         for c in store.configs.list(tid, STRATEGY_KIND)) if s.rules == name]
    base = users[0] if users else load_strategy(store.configs, tid, DEFAULT_STRATEGY)
    try:
        stored = load_ruleset(store.configs, tid, name)
    except NotFoundError:
        stored = RuleSet()
    active = base.model_copy(update={"rules": stored})
    return active, stored, base.model_copy(update={"rules": model}), model


def preview_edit(store: Store, cache: ModelCache, tid: int, kind: str, name: str,
                 model: BaseModel, customers: list[str]) -> Preview:
    """The edit's preview (one at a time per tenant: ConflictError while one runs)."""
    with _GUARD:
        busy = _BUSY.setdefault(tid, threading.Lock())
    if not busy.acquire(blocking=False):
        raise ConflictError("a preview of this tenant is running: wait for it")
    try:
        bench = _bench(store, tid)
        active, active_rules, edited, edited_rules = _pair(store, tid, kind, name, model)
        entry = cache.get(tid)
        if not customers:
            ids = bench.cut.fit.customer_vocab.ids[bench.cut.customers[:SAMPLES]]
            customers = [str(c) for c in ids]
        return preview(bench, store, tid, active=active, active_rules=active_rules,
                       edited=edited, edited_rules=edited_rules,
                       served_model=entry.ranker.model if entry else None,
                       served_data=entry.data if entry else None,
                       served_ranking_config=entry.ranker.config if entry else None,
                       customers=customers)
    finally:
        busy.release()
