"""Score every customer for a need, store the scores with reasons, save the model artifact."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tailorcrm.errors import NotFoundError
from tailorcrm.needs.model import NeedModel
from tailorcrm.needs.reasons import explain
from tailorcrm.privacy.consent import PROFILING, without_denied

if TYPE_CHECKING:
    from tailorcrm.data.dataset import Dataset

log = logging.getLogger(__name__)

BASELINE_KIND = "need-baseline"
"""``store.models`` kind prefix of a need whose published scores are its baseline's."""
STATE_FILE = "model.json"
FRAME_FILE = "train_frame.parquet"


def model_name(need: str) -> str:
    """The name a need's models are registered under in ``store.models``."""
    return f"need:{need}"


def score_customers(model: NeedModel, data: Dataset, customers: pd.Index | None = None, *,
                    top: int = 3, model_version: str = "") -> pd.DataFrame:
    """Scores of ``customers`` (default: all) at the present (features use every event).

    Returns a frame indexed by ``customer_id`` with ``score`` (probability or amount),
    ``raw`` (the model's own space), ``reasons`` (list of dicts) and ``model_version``.
    Label needs score every customer, including those whose label is already known.
    """
    ids = pd.Index(data.customers.index.astype(str) if customers is None else customers,
                   name="customer_id")
    frame = model.frame(data, ids, None)
    reasons = explain(model, frame, top=top)
    out = pd.DataFrame({"score": model.predict(frame), "raw": model.raw(frame)}, index=ids)
    out["reasons"] = pd.Series([[r.model_dump() for r in reasons[str(c)]] for c in ids],
                               index=ids, dtype=object)
    out["model_version"] = model_version
    return out


def save_model(model: NeedModel, directory: Path) -> Path:
    """Write ``model.json`` (state) and ``train_frame.parquet``; no pickle."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / STATE_FILE).write_text(json.dumps(model.state(), default=str))
    frame = model.train_frame_.copy()
    frame.to_parquet(directory / FRAME_FILE)
    return directory


def load_model(directory: Path | str) -> NeedModel:
    """A fitted need model from :func:`save_model` files."""
    path = Path(directory)
    if not (path / STATE_FILE).exists():
        raise NotFoundError(f"no need model at {path}", path=str(path))
    state = json.loads((path / STATE_FILE).read_text())
    frame = restore_lists(pd.read_parquet(path / FRAME_FILE))
    return NeedModel.from_state(state, frame)


def config_hash(model: NeedModel) -> str:
    """A short hash of the need and model configs (what makes scores stale when changed)."""
    body = json.dumps({"need": model.need.model_dump(mode="json"),
                       "config": model.config.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def new_version() -> str:
    """A version stamp for a need model (UTC time to the microsecond)."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def register(store: Any, tenant_id: int, model: NeedModel, artifact_root: Path, *,
             metrics: dict[str, Any] | None = None, activate: bool = True,
             ) -> tuple[str, Path]:
    """Save the artifact and register it in ``store.models`` (active with ``activate``).

    Returns ``(model_version, artifact directory)``.
    """
    need = model.need.name
    version = new_version()
    path = save_model(model, artifact_root / f"tenant-{tenant_id}" / "needs" / need / version)
    store.models.register(tenant_id, model_name(need), version, f"need:{model.algorithm_}",
                          str(path), metrics or {"selection": model.selection_},
                          config_hash(model), activate=activate)
    return version, path


def publish(store: Any, tenant_id: int, model: NeedModel, data: Dataset, artifact_root: Path,
            *, metrics: dict[str, Any] | None = None, top: int = 3,
            erased_after: int | None = None) -> tuple[str, int]:
    """Save the artifact, register and activate it, and replace the need's stored scores.

    ``erased_after`` is the tombstone watermark taken before ``data`` was read (see
    ``store/tombstones.py``): customers erased since get no score; nor do customers whose
    profiling consent is denied when the scores are stored. This publishes without
    the gate; :func:`tailorcrm.needs.publishing.train_and_publish` gates first.

    Returns ``(model_version, number of customers scored)``.
    """
    version, _ = register(store, tenant_id, model, artifact_root, metrics=metrics)
    n = store_scores(store, tenant_id, model.need.name,
                     score_rows(model, data, version, top=top), version,
                     erased_after=erased_after)
    return version, n


def score_rows(model: NeedModel, data: Dataset, version: str, *, top: int = 3,
               customers: pd.Index | None = None) -> list[dict[str, Any]]:
    """The store rows (customer_id, score, model_version, reasons) of :func:`score_customers`."""
    scores = score_customers(model, data, customers, top=top, model_version=version)
    return [{"customer_id": cid, "score": float(r.score), "model_version": version,
             "reasons": r.reasons} for cid, r in scores.iterrows()]


def store_scores(store: Any, tenant_id: int, need: str, rows: Iterable[dict[str, Any]],
                 version: str, *, erased_after: int | None = None) -> int:
    """Replace the need's stored scores by ``rows``, leaving out customers who denied
    profiling (and, with ``erased_after``, customers erased since); the rows stored."""
    kept = without_denied(store, tenant_id, PROFILING, rows)
    n = int(store.need_scores.replace(tenant_id, need, kept, erased_after=erased_after))
    log.info("need %s: stored %d scores (model %s)", need, n, version)
    return n


def restore_lists(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` read back from Parquet, with its list columns as lists again (Parquet gives
    numpy arrays back)."""
    for col in frame.columns:
        if frame[col].map(lambda v: hasattr(v, "tolist") and not isinstance(v, str)).any():
            frame[col] = frame[col].map(lambda v: list(v) if v is not None else [])
    return frame


def load_active(store: Any, tenant_id: int, need: str) -> NeedModel:
    """The tenant's active model for ``need``; NotFoundError when none is trained."""
    record = store.models.active(tenant_id, model_name(need))
    if record is None:
        raise NotFoundError(f"no trained model for need {need!r}; run 'tailorcrm needs train'",
                            need=need)
    if record.kind.startswith(BASELINE_KIND):
        raise NotFoundError(
            f"need {need!r} publishes its baseline's scores: the last model trained did not "
            f"beat the baseline ({record.metrics.get('gate', {}).get('reason', '')})",
            need=need, source="baseline")
    return load_model(record.path)

