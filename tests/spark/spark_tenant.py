"""Import a small demo CRM into a store through the shipped mappings (no training)."""

from __future__ import annotations

from pathlib import Path

from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.generator import generate
from tailorcrm.demo.writer import MAPPINGS, write
from tailorcrm.ingest.mapping import load_mapping
from tailorcrm.ingest.service import run_import
from tailorcrm.store import Store

SMALL_DEMO = DemoConfig(seed=7, n_customers=300, n_items=60)


def import_demo(store: Store, work_dir: Path, tenant: str = "demo",
                config: DemoConfig = SMALL_DEMO) -> int:
    """Generate the demo at ``config``'s size, import it as ``tenant``; the tenant id."""
    data = generate(config)
    paths = write(data, work_dir)
    tid = store.tenants.ensure(tenant)
    for entity in ("customers", "items", "events"):
        run_import(store, tid, entity, paths[entity], load_mapping(MAPPINGS[entity]))
    return tid
