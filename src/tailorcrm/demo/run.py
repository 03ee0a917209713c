"""The demo job: generate the seeded CRM, import it, define its needs, train, show results."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailorcrm.customize.actions import save_catalog
from tailorcrm.customize.strategies import save_strategy
from tailorcrm.demo.catalog import demo_actions, demo_strategies
from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.generator import generate
from tailorcrm.demo.writer import MAPPINGS, write
from tailorcrm.ingest.mapping import load_mapping
from tailorcrm.ingest.quality import QualityReport
from tailorcrm.ingest.service import run_import
from tailorcrm.jobs.progress import ProgressFn, no_progress
from tailorcrm.jobs.train import TrainReport, train_tenant
from tailorcrm.needs.definitions import ChurnNeed, PropensityNeed, save_need
from tailorcrm.store import Store

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """What the demo job did: the tenant, the import reports and the training report."""

    tenant_id: int
    imports: dict[str, QualityReport] = field(default_factory=dict)
    train: TrainReport | None = None
    truth: dict[str, Any] = field(default_factory=dict)


def demo_needs(config: DemoConfig, propensity: dict[str, Any]) -> list[ChurnNeed | PropensityNeed]:
    """The needs the demo tenant defines: churn and the planted category propensity."""
    horizon = config.horizon_days
    return [
        ChurnNeed(name="churn", horizon_days=horizon,
                  description=f"No purchase in the {horizon} days after the cut-off."),
        PropensityNeed(name=f"buys_{propensity['category']}", horizon_days=horizon,
                       categories=(str(propensity["category"]),),
                       description=f"Buys {propensity['category']} in the next {horizon} days."),
    ]


def run_demo(store: Store, tenant: str, work_dir: Path, artifacts: Path,
             config: DemoConfig | None = None, progress: ProgressFn = no_progress,
             now: dt.datetime | None = None) -> DemoResult:
    """Generate → write CSV → import with the shipped demo mappings → define needs → train.

    Re-running is safe: imports are idempotent and training replaces what it stored.
    """
    config = config or DemoConfig()
    progress("generate demo CRM", 0, 1)
    data = generate(config)
    paths = write(data, work_dir)
    progress("generate demo CRM", 1, 1)
    tid = store.tenants.ensure(tenant)
    result = DemoResult(tenant_id=tid)
    for entity in ("customers", "items", "events"):
        path = paths[entity]
        total = path.stat().st_size
        step = f"import {entity}"

        def on_bytes(done: int, step: str = step, total: int = total) -> None:
            progress(step, min(done, total), total)

        imported = run_import(store, tid, entity, path, load_mapping(MAPPINGS[entity]),
                              on_progress=on_bytes, now=now)
        progress(step, total, total)
        result.imports[entity] = imported.report
    needs = demo_needs(config, data.truth.category_propensity)
    for need in needs:
        save_need(store, tid, need)
    for strategy in demo_strategies():
        save_strategy(store.configs, tid, strategy)
    category = str(data.truth.category_propensity["category"])
    save_catalog(store.configs, tid, demo_actions(needs[1].name, category))
    result.train = train_tenant(store, tid, artifacts, progress=progress)
    result.truth = {"churn_driver_signs": data.truth.churn_driver_signs,
                    "category_propensity": data.truth.category_propensity,
                    "cold_start_customers": list(data.truth.cold_start_customers[:3])}
    return result
