"""Writing demo data to a folder: three CSV files in the shape tailorcrm imports, and truth.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailorcrm.demo.generator import DemoData
from tailorcrm.demo.truth import DemoTruth

logger = logging.getLogger(__name__)

FILES = {"customers": "customers.csv", "items": "items.csv", "events": "events.csv",
         "truth": "truth.json"}
# The shipped mapping (``tailorcrm import <entity> FILE --mapping NAME``) of each CSV file.
MAPPINGS = {"customers": "demo-customers", "items": "demo-items", "events": "demo-events"}


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        return "|".join(str(v) for v in value)
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return value


def to_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy ready for CSV: lists pipe-joined, booleans ``true``/``false``, ISO 8601 UTC times."""
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            out[col] = series.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif series.dtype == bool:
            out[col] = np.where(series.to_numpy(), "true", "false")
        elif series.dtype == object:
            out[col] = [_cell(v) for v in series]
    return out


def write(data: DemoData, out_dir: str | Path) -> dict[str, Path]:
    """Write ``customers.csv``, ``items.csv``, ``events.csv`` and ``truth.json`` to ``out_dir``.

    Returns the path of each file by name (``customers``, ``items``, ``events``, ``truth``).
    Import the CSV files with the shipped mappings named in ``MAPPINGS``.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / file for name, file in FILES.items()}
    for name in ("customers", "items", "events"):
        frame: pd.DataFrame = getattr(data, name)
        to_csv_frame(frame).to_csv(paths[name], index=False, lineterminator="\n")
    body = {"config": data.config.model_dump(mode="json"), **data.truth.to_dict()}
    paths["truth"].write_text(json.dumps(body, separators=(",", ":")), encoding="utf-8")
    logger.info("demo data written to %s", folder)
    return paths


def load_truth(path: str | Path) -> DemoTruth:
    """Read a ``truth.json`` written by ``write``."""
    body = json.loads(Path(path).read_text(encoding="utf-8"))
    body.pop("config", None)
    return DemoTruth.from_dict(body)
