"""Stopping an experiment, and promoting its winner to what the placement serves, in one step
with audit entries."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from tailorcrm.customize.actions import load_catalog, save_catalog
from tailorcrm.customize.configs import ACTIONS_KIND, STRATEGY_KIND
from tailorcrm.customize.strategies import load_strategy, save_strategy
from tailorcrm.errors import ConflictError, ValidationError
from tailorcrm.experiments.config import EXPERIMENT_KIND, Experiment, load_experiment
from tailorcrm.experiments.manage import experiment_results, save_experiment
from tailorcrm.privacy.admin_audit import audit_config
from tailorcrm.privacy.audit import audit_action
from tailorcrm.store import Store

EXPERIMENT_STOP = "experiment.stop"


class Stopped(BaseModel):
    """What a stop did: the experiment's new version, the winner and where it went."""

    experiment: str
    version: int
    winner: str | None
    promoted_to: str | None = None  # "strategy:homepage" / "actions:default"
    promoted_version: int | None = None
    audit_id: int


def _promote(store: Store, tid: int, actor: str, exp: Experiment,
             winner: str) -> tuple[str | None, int | None]:
    """Copy the winner's strategy (catalog) to the placement's name; (target, version), or
    (None, None) for a control that serves the placement's own config already."""
    variant = exp.variant(winner)
    if exp.surface == "recommendations":
        if variant.strategy is None or variant.strategy == exp.placement:
            return None, None
        body = load_strategy(store.configs, tid, variant.strategy).model_dump(mode="json")
        body["name"] = exp.placement
        version = save_strategy(store.configs, tid, body)
        audit_config(store, tid, actor, STRATEGY_KIND, exp.placement, version)
        return f"{STRATEGY_KIND}:{exp.placement}", version
    if variant.catalog is None or variant.catalog == exp.placement:
        return None, None
    catalog = load_catalog(store.configs, tid, variant.catalog)
    version = save_catalog(store.configs, tid, catalog, exp.placement)
    audit_config(store, tid, actor, ACTIONS_KIND, exp.placement, version)
    return f"{ACTIONS_KIND}:{exp.placement}", version


def stop_experiment(store: Store, tid: int, name: str, actor: str, *, promote: bool = False,
                    winner: str | None = None, now: dt.datetime | None = None) -> Stopped:
    """Stop assigning customers and, with ``promote``, make the winner what the placement
    serves from now on.

    The winner is ``winner`` when given (ValidationError unless it names a variant), else
    the report's: the one variant significantly better than the control on the primary
    metric. ConflictError when promotion is asked for and there is no winner (nothing is
    changed then).
    """
    exp = load_experiment(store.configs, tid, name)
    moment = now or dt.datetime.now(dt.UTC)
    if winner is not None and winner not in {v.name for v in exp.variants}:
        raise ValidationError(f"winner: {winner!r} is not a variant of {name!r}",
                              field="winner", winner=winner)
    chosen = winner
    if chosen is None:
        chosen = exp.winner or experiment_results(store, tid, name, now=moment).winner
    if promote and chosen is None:
        raise ConflictError(f"experiment {name!r} has no significant winner on "
                            f"{exp.primary_metric}; name one to promote it anyway",
                            field="winner")
    end = moment if exp.end is None or exp.end > moment else exp.end
    stopped = exp.model_copy(update={"status": "stopped", "end": max(end, exp.start +
                                                                     dt.timedelta(seconds=1)),
                                     "winner": chosen})
    version = save_experiment(store, tid, Experiment.model_validate(stopped.model_dump()),
                              now=moment)
    audit_config(store, tid, actor, EXPERIMENT_KIND, name, version)
    target, target_version = _promote(store, tid, actor, exp, chosen) \
        if promote and chosen is not None else (None, None)
    audit = audit_action(store, tid, actor, EXPERIMENT_STOP, f"{EXPERIMENT_KIND}:{name}",
                         {"version": version, "winner": chosen, "promoted_to": target,
                          "promoted_version": target_version})
    return Stopped(experiment=name, version=version, winner=chosen, promoted_to=target,
                   promoted_version=target_version, audit_id=audit)
