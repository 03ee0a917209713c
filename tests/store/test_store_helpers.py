"""Small pure helpers of the store: scopes, consent spellings, UTC conversion, index names."""

from __future__ import annotations

import datetime as dt

import pytest

from tailorcrm.errors import ValidationError
from tailorcrm.store.base import to_utc
from tailorcrm.store.customers import parse_consent
from tailorcrm.store.indexes import index_name
from tailorcrm.store.keys import has_scope, hash_secret


def test_scopes_nest_admin_over_write_over_read() -> None:
    assert has_scope(["admin"], "write") and has_scope(["admin"], "read")
    assert has_scope(["write"], "read") and not has_scope(["write"], "admin")
    assert not has_scope(["read"], "write") and not has_scope([], "read")


def test_hash_is_sha256_hex_and_not_the_secret() -> None:
    digest = hash_secret("tcrm_abc_secret")
    assert len(digest) == 64 and "secret" not in digest
    assert digest == hash_secret("tcrm_abc_secret") != hash_secret("tcrm_abc_secreT")


@pytest.mark.parametrize(("raw", "state"), [
    ("yes", "granted"), (True, "granted"), ("Opt-In", "granted"), ("denied", "denied"),
    (False, "denied"), ("0", "denied"), (None, "unknown"), ("", "unknown"),
    ("unknown", "unknown")])
def test_consent_spellings(raw: object, state: str) -> None:
    assert parse_consent(raw) == state


def test_consent_rejects_other_words() -> None:
    with pytest.raises(ValueError, match="consent"):
        parse_consent("maybe")


def test_to_utc_normalises_offsets_and_naive_values() -> None:
    assert to_utc("2024-03-01T12:00:00+02:00") == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    assert to_utc(dt.datetime(2024, 3, 1, 10)) == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    for bad in (None, "soon", float("nan")):
        with pytest.raises(ValidationError):
            to_utc(bad)


def test_index_names_fit_postgres_limit() -> None:
    long = "x" * 63
    assert len(index_name("customer", long)) <= 63
    assert index_name("customer", long) != index_name("item", long)
    assert index_name("event", "channel") == "ix_cf_events_channel"
