"""Evaluate, gate and publish a need: the model if it beats its baseline, else keep or fall back.

:func:`train_and_publish` is what ``tailorcrm needs train`` and the training job run:

1. evaluate the need held out (:func:`~tailorcrm.needs.training.evaluate_need`) and ask
   the gate (:func:`~tailorcrm.needs.gate.decide`) whether the model beats its baseline;
2. train the scoring model and register it (every trained model is kept for the record,
   with its evaluation and the gate's decision in its stats);
3. if it passed: activate it and replace the stored scores (``source = "model"``);
4. if not, and the active version is a model that passed the gate: keep it and its scores
   (``source = "kept"``: the last good scores stay until a better model exists);
5. otherwise: register and activate the baseline (kind ``need-baseline:<baseline>``,
   version ``baseline-<model version>``) and store the baseline's scores, each with the
   reason "baseline: ... because the model did not beat it" (``source = "baseline"``).

A stored score says which it is by its ``model_version``: ``baseline-...`` is a baseline's
(:attr:`tailorcrm.store.need_scores.NeedScoreRecord.source`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from tailorcrm.errors import InsufficientDataError
from tailorcrm.needs.baseline import Baseline, _rfm
from tailorcrm.needs.definitions import AnyNeed
from tailorcrm.needs.gate import GateConfig, GateDecision, decide
from tailorcrm.needs.model import ModelConfig, NeedModel
from tailorcrm.needs.reasons import Reason, phrase
from tailorcrm.needs.scoring import (
    BASELINE_KIND,
    config_hash,
    model_name,
    register,
    score_rows,
    store_scores,
)
from tailorcrm.needs.training import Evaluation, evaluate_need, train_need
from tailorcrm.needs.wording import PP, describe, field_kinds
from tailorcrm.store.need_scores import BASELINE_PREFIX

if TYPE_CHECKING:
    from tailorcrm.data.dataset import Dataset

log = logging.getLogger(__name__)

Source = Literal["model", "baseline", "kept"]


class NeedOutcome(BaseModel):
    """What one training run of a need published, and why."""

    model_config = ConfigDict(extra="forbid")

    need: str
    source: Source
    """``model`` (new model scores), ``baseline`` (baseline scores) or ``kept`` (the last
    good model's scores stay)."""
    model_version: str
    """The version whose scores are stored now."""
    trained_version: str
    """The version trained in this run (registered whether published or not)."""
    customers_scored: int
    algorithm: str
    grade: str
    gate: GateDecision
    baseline_kind: str

    def summary(self) -> str:
        """One line for the CLI and logs."""
        what = {"model": f"published model {self.model_version}",
                "baseline": f"published the baseline ({self.baseline_kind}) as "
                            f"{self.model_version}",
                "kept": f"kept the last good model {self.model_version}"}[self.source]
        return f"need {self.need}: grade {self.grade or '-'}; {self.gate.reason}; {what}"


def is_good(record: Any) -> bool:
    """Whether a registered need version is a model that passed the gate."""
    gate = (record.metrics or {}).get("gate")
    return (not record.kind.startswith(BASELINE_KIND) and isinstance(gate, dict)
            and bool(gate.get("passed")))


def train_and_publish(store: Any, tenant_id: int, need: AnyNeed, data: Dataset,
                      artifact_root: Path, *, config: ModelConfig | None = None,
                      gate: GateConfig | None = None, erased_after: int | None = None,
                      top: int = 3) -> NeedOutcome:
    """Evaluate, gate, train and publish one need (see the module docstring).

    Raises :class:`~tailorcrm.errors.InsufficientDataError` (nothing is stored then) when
    the need has too few positives or negatives to train. A need that can be trained but not
    tested held out (too little history for the time-aware split) fails the gate.
    """
    cfg = config or ModelConfig()
    untested = ""
    try:
        evaluation: Evaluation | None = evaluate_need(data, need, cfg)
    except InsufficientDataError as exc:  # trainable, but not testable: not published
        evaluation, untested = None, exc.message
    model = train_need(data, need, cfg)
    return gate_and_publish(
        store, tenant_id, model, evaluation, artifact_root, gate=gate, untested=untested,
        erased_after=erased_after,
        model_rows=lambda version: score_rows(model, data, version, top=top),
        base_rows=lambda base, decision, version: baseline_rows(model, base, data, decision,
                                                                version))


def gate_and_publish(store: Any, tenant_id: int, model: NeedModel,
                     evaluation: Evaluation | None, artifact_root: Path, *,
                     model_rows: Callable[[str], Iterable[dict[str, Any]]],
                     base_rows: Callable[[Baseline, GateDecision, str],
                                         Iterable[dict[str, Any]]],
                     gate: GateConfig | None = None, untested: str = "",
                     erased_after: int | None = None) -> NeedOutcome:
    """Steps 2-5 of the module docstring for a trained ``model`` and its ``evaluation``
    (None when it could not be tested: ``untested`` says why).

    ``model_rows(version)`` and ``base_rows(baseline, decision, version)`` make the store
    rows of every customer: on one machine from the Dataset, on Spark on the executors
    (``spark/needs.py``), so both engines publish through the same gate.
    """
    need = model.need
    if evaluation is not None:
        decision = decide(evaluation, gate)
        figures = evaluation.as_dict()
    else:
        decision = GateDecision(passed=False, metric="", gain=0.0, lower_bound=0.0, grade="",
                                reason=f"not tested against the baseline: {untested}")
        figures = {"protocol": "not evaluated", "grade": None}
    metrics = {**figures, "selection": model.selection_, "gate": decision.model_dump(),
               "source": "model"}
    common = {"need": need.name, "algorithm": model.algorithm_,
              "grade": evaluation.grade.letter if evaluation else "", "gate": decision,
              "baseline_kind": evaluation.baseline_kind if evaluation else ""}
    if decision.passed:
        version, _ = register(store, tenant_id, model, artifact_root, metrics=metrics)
        n = store_scores(store, tenant_id, need.name, model_rows(version), version,
                         erased_after=erased_after)
        out = NeedOutcome(source="model", model_version=version, trained_version=version,
                          customers_scored=n, **common)
        log.info("%s", out.summary())
        return out
    version, path = register(store, tenant_id, model, artifact_root,
                             metrics={**metrics, "source": "rejected"}, activate=False)
    active = store.models.active(tenant_id, model_name(need.name))
    if active is not None and is_good(active):
        out = NeedOutcome(source="kept", model_version=active.version, trained_version=version,
                          customers_scored=0, **common)
        log.info("%s", out.summary())
        return out
    base = fit_baseline(model)
    common["baseline_kind"] = base.describe()
    base_version = BASELINE_PREFIX + version
    store.models.register(tenant_id, model_name(need.name), base_version,
                          f"{BASELINE_KIND}:{base.kind}", str(path),
                          {**metrics, "source": "baseline", "model_version": version},
                          config_hash(model), activate=True)
    n = store.need_scores.replace(tenant_id, need.name, base_rows(base, decision, base_version),
                                  erased_after=erased_after)
    out = NeedOutcome(source="baseline", model_version=base_version, trained_version=version,
                      customers_scored=n, **common)
    log.info("%s", out.summary())
    return out


def fit_baseline(model: NeedModel) -> Baseline:
    """The need's baseline fitted on the scoring model's own training frame and labels."""
    frame = model.train_frame_
    X = model.builder_.transform(frame)
    return Baseline(model.need).fit(frame, X, model.builder_.sources_, model.train_target_)


def baseline_rows(model: NeedModel, base: Baseline, data: Dataset, decision: GateDecision,
                  version: str) -> list[dict[str, Any]]:
    """Every customer's baseline score now, with one reason saying it is the baseline's."""
    ids = pd.Index(data.customers.index.astype(str), name="customer_id")
    frame = model.frame(data, ids, None)
    scores = base.predict(frame, model.builder_.transform(frame))
    binary = model.need.task == "binary"
    average = float(np.mean(model.train_target_))
    what = phrase(model)
    why = f"baseline: {base.describe()} because the model did not beat it ({decision.reason})"
    subjects = _baseline_subjects(model, base, frame)
    rows = []
    for i, cid in enumerate(ids):
        delta = (100.0 if binary else 1.0) * (float(scores[i]) - average)
        feature, value, subject = subjects[i]
        text = (f"{why}; {subject}: {what} {float(scores[i]):.0%} vs {average:.0%} on average"
                if binary else f"{why}; {subject}")
        reason = Reason(feature=feature, value=value, contribution=0.0, delta=delta,
                        text=text, label="baseline", unit=PP if binary else "amount")
        rows.append({"customer_id": cid, "score": float(scores[i]), "model_version": version,
                     "reasons": [reason.model_dump()]})
    return rows


def _baseline_subjects(model: NeedModel, base: Baseline, frame: pd.DataFrame,
                       ) -> list[tuple[str, Any, str]]:
    """``(feature, value, "name = value")`` of what the baseline read, per customer."""
    n = len(frame)
    if base.kind == "recency_rule":
        col = "recency_purchase_days"
    elif base.kind in ("past_spend_rate",):
        col = "monetary"
    elif base.kind == "best_field" and base.field is not None:
        col = base.field
    elif base.kind == "rfm_score":
        rfm = _rfm(frame, base.edges_)[0]
        return [("rfm_score", int(v), f"RFM score = {int(v)} of 15") for v in rfm]
    else:
        return [("prior", None, "the same score for everyone")] * n
    kinds = field_kinds(model)
    out = []
    for value in frame[col].tolist():
        shown = value
        if isinstance(value, float | np.floating):
            shown = None if np.isnan(value) else round(float(value), 2)
        out.append((col, shown, describe(col, shown, kinds.get(col),
                                         model.categories_)[1]))
    return out
