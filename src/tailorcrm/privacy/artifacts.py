"""Erased customers out of the model store's files: vocabularies and need training frames.

A trained model keeps arrays by index and, beside them, the customer ids of its vocabulary
(``vocab.json``); a need model keeps its training frame (``train_frame.parquet``, indexed by
customer id). After an erasure the ids are replaced by placeholders in every version of the
tenant, active or not, so no artifact file names the customer. The arrays themselves (factors,
similarities, the feature row) stay until the next training, which no longer sees the customer.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from tailorcrm.store import Store
from tailorcrm.store.model_store import ERASED_PREFIX, scrub_vocab

log = logging.getLogger(__name__)

FRAME_FILE = "train_frame.parquet"  # as needs/scoring.py writes it


def scrub_artifacts(store: Store, tid: int, hashes: set[str]) -> int:
    """Replace the customers whose keyed hash is in ``hashes`` in every artifact file of the
    tenant's model versions; returns how many ids were replaced."""
    if not hashes:
        return 0
    hasher = store.tombstones.hasher(tid)
    replaced = 0
    for record in store.models.list(tid):
        path = Path(record.path)
        if not path.is_dir():
            continue
        replaced += scrub_vocab(path, hashes, hasher)
        replaced += scrub_frame(path / FRAME_FILE, hashes, hasher)
    if replaced:
        log.info("tenant %d: %d erased ids replaced in model artifacts", tid, replaced)
    return replaced


def scrub_frame(file: Path, hashes: set[str], hasher: Callable[[str], str]) -> int:
    """Replace erased ids in the index of a saved training frame by placeholders (the rows
    stay aligned with what the model was fitted on); returns how many."""
    if not file.is_file():
        return 0
    import pandas as pd  # only when a need model's frame is on disk

    frame = pd.read_parquet(file)
    ids = [str(i) for i in frame.index]
    gone = [n for n, c in enumerate(ids) if hasher(c) in hashes]
    if not gone:
        return 0
    for n in gone:
        ids[n] = f"{ERASED_PREFIX}{n}"
    frame.index = pd.Index(ids, name=frame.index.name)
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.")
    os.close(fd)
    try:
        frame.to_parquet(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(gone)
