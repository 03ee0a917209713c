"""Readers of interaction files for offline evaluation (MovieLens ``u.data`` or a plain CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from tailorcrm.errors import ValidationError

InteractionFormat = Literal["movielens", "csv"]
MOVIELENS_COLUMNS = ("customer_id", "item_id", "value", "ts")


def read_movielens(path: str | Path) -> pd.DataFrame:
    """MovieLens 100K ``u.data``: tab-separated ``user item rating timestamp``, no header.

    Rows stay in file order (the stratified split draws one random number per row in that
    order); each becomes a ``rating`` event whose ``value`` is the rating.
    """
    frame = pd.read_csv(path, sep="\t", header=None, names=list(MOVIELENS_COLUMNS),
                        dtype={"customer_id": str, "item_id": str})
    frame["type"] = "rating"
    frame["ts"] = pd.to_datetime(frame["ts"], unit="s", utc=True)
    return frame[["customer_id", "item_id", "type", "value", "ts"]]


def read_csv_events(path: str | Path) -> pd.DataFrame:
    """A CSV with a header: ``customer_id``, ``item_id`` and optional ``type``, ``value``, ``ts``.

    Missing ``type`` means ``purchase``; missing ``ts`` means file order.
    """
    frame = pd.read_csv(path, dtype={"customer_id": str, "item_id": str})
    missing = {"customer_id", "item_id"} - set(frame.columns)
    if missing:
        raise ValidationError(f"{path}: missing column(s) {sorted(missing)}")
    return frame


def read_interactions(path: str | Path, fmt: InteractionFormat = "csv") -> pd.DataFrame:
    """Events from ``path`` in format ``fmt``."""
    if not Path(path).is_file():
        raise ValidationError(f"no such file: {path}")
    return read_movielens(path) if fmt == "movielens" else read_csv_events(path)
