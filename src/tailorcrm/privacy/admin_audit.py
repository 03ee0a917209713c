"""Audit entries of admin actions: API key creation and revocation, configuration saves.

Beside the privacy actions of :mod:`tailorcrm.privacy.audit` (whose :func:`audit_action` these
call), every key created or revoked and every admin save of a strategy, rule set, action
catalog or the tenant settings is appended to the tenant's audit log. Entries name the key id
or the document (``kind:name``), never a secret or a document's content.
"""

from __future__ import annotations

from collections.abc import Iterable

from tailorcrm.privacy.audit import audit_action
from tailorcrm.store import Store

KEY_CREATE = "key.create"
KEY_REVOKE = "key.revoke"
CONFIG_SAVE = "config.save"
SETTINGS_SAVE = "settings.save"


def audit_key(store: Store, tid: int, actor: str, action: str, key_id: str, *, via: str,
              scopes: Iterable[str] | None = None) -> int:
    """Record a key's creation (with its scopes) or revocation; returns the entry id."""
    details: dict[str, object] = {"via": via}
    if scopes is not None:
        details["scopes"] = sorted(set(scopes))
    return audit_action(store, tid, actor, action, key_id, details)


def audit_config(store: Store, tid: int, actor: str, kind: str, name: str,
                 version: int) -> int:
    """Record an admin save of a configuration document as its ``version``."""
    return audit_action(store, tid, actor, CONFIG_SAVE, f"{kind}:{name}",
                        {"kind": kind, "name": name, "version": version})


def audit_settings(store: Store, tid: int, actor: str, changed: Iterable[str],
                   version: int) -> int:
    """Record a save of the tenant settings: the names of the settings it changed."""
    return audit_action(store, tid, actor, SETTINGS_SAVE, "tenant:settings",
                        {"changed": sorted(changed), "version": version})
