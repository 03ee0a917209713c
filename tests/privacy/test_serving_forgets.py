"""The served model forgets an erased customer at once in every worker (before any retrain),
and the next training leaves them out of every model."""

from __future__ import annotations

import time

from privacy_helpers import Demo, unique_customer

from tailorcrm.jobs.train import train_tenant
from tailorcrm.privacy.artifacts import FRAME_FILE
from tailorcrm.store.model_store import read_vocab

ROUTES = ("recommendations", "needs", "next-best-actions")


def test_every_worker_forgets_an_erased_customer_at_once(demo: Demo) -> None:
    one, two = demo.client, demo.second_worker()
    cid, _ = unique_customer(demo.store, demo.tid)
    for worker in (one, two):  # both serve them from memory first
        for route in ROUTES:
            r = worker.get(f"/v1/customers/{cid}/{route}", headers=demo.h("read"))
            assert r.status_code == 200, (route, r.text)
    listed = two.get(f"/v1/customers/{cid}/recommendations", headers=demo.h("read")).json()
    assert listed["items"]

    assert one.delete(f"/v1/customers/{cid}", headers=demo.h("write")).status_code == 204
    erased_at = time.monotonic()
    pending = set(ROUTES)
    while pending and time.monotonic() - erased_at < 5:
        for route in sorted(pending):
            r = two.get(f"/v1/customers/{cid}/{route}", headers=demo.h("read"))
            assert r.status_code in (200, 404), r.text
            if r.status_code == 404:
                pending.discard(route)
        time.sleep(0.05)
    forgot_in = time.monotonic() - erased_at
    assert not pending, f"worker two still serves {pending} after {forgot_in:.2f}s"
    assert forgot_in < 1.5  # one change-feed poll (0.5 s) and a request
    for route in ROUTES:  # the worker that erased forgot at once
        assert one.get(f"/v1/customers/{cid}/{route}",
                       headers=demo.h("read")).status_code == 404

    report = train_tenant(demo.store, demo.tid, demo.artifacts)
    assert report.customers == len(demo.store.customers.list(demo.tid, limit=100_000))
    newest: dict[str, str] = {}
    for record in demo.store.models.list(demo.tid):  # newest first
        newest.setdefault(record.name, record.path)
    for name, path in newest.items():
        vocab = read_vocab(path)
        if vocab is not None:
            assert cid not in vocab["customers"], name
            assert not any(c.startswith("\x1ferased:") for c in vocab["customers"]), name
        frame = demo.artifacts.joinpath(path, FRAME_FILE)
        if frame.is_file():
            import pandas as pd

            assert cid not in set(map(str, pd.read_parquet(frame).index)), name
    for worker in (one, two):
        for route in ROUTES:
            assert worker.get(f"/v1/customers/{cid}/{route}",
                              headers=demo.h("read")).status_code == 404
