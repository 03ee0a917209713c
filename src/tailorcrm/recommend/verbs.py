"""How a customer met an item, for reason labels: "bought Tent 2p", "viewed Stove"."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import sparse

from tailorcrm.data.dataset import Dataset

VERBS = {"purchase": "bought", "view": "viewed", "click": "clicked",
         "add_to_cart": "added to cart", "rating": "rated", "feedback": "liked"}
#: Event types that name how a customer met an item, strongest first.
VERB_ORDER = ("purchase", "add_to_cart", "rating", "click", "view")
OTHER = len(VERB_ORDER)  # the code of any other event type


def build_verb_codes(data: Dataset) -> sparse.csr_matrix:
    """Customer × item: 1 + the position in :data:`VERB_ORDER` of the strongest event type
    between them (``1 + OTHER``: another type), from the training events."""
    ev = data.events
    rows = data.customer_vocab.index(ev["customer_id"])
    has_item = ev["item_id"].notna().to_numpy()
    cols = np.full(len(ev), -1, dtype=np.int64)
    if has_item.any():
        cols[has_item] = data.item_vocab.index(ev["item_id"][has_item])
    codes = pd.Series(ev["type"].astype(str).to_numpy()).map(
        {t: i for i, t in enumerate(VERB_ORDER)}).fillna(OTHER).to_numpy()
    ok = (rows >= 0) & (cols >= 0)
    frame = pd.DataFrame({"r": rows[ok], "c": cols[ok], "v": codes[ok] + 1})
    best = frame.groupby(["r", "c"], sort=False)["v"].min()
    verbs = sparse.csr_matrix(
        (best.to_numpy(dtype=np.float64), (best.index.get_level_values(0),
                                           best.index.get_level_values(1))),
        shape=(data.n_customers, data.n_items))
    verbs.sort_indices()
    return verbs


def code_in_row(row: np.ndarray, item: int) -> int:
    """The code of ``item`` in a customer's dense row of the verb table."""
    return int(row[item]) - 1 if row[item] > 0 else OTHER


def code_in_table(table: sparse.csr_matrix, customer_idx: int, item: int) -> int:
    """The code of ``(customer_idx, item)`` in the (sorted) verb table, without densifying."""
    start, end = table.indptr[customer_idx], table.indptr[customer_idx + 1]
    at = start + int(np.searchsorted(table.indices[start:end], item))
    found = at < end and table.indices[at] == item
    return int(table.data[at]) - 1 if found else OTHER


def code_of_types(types: Iterable[str]) -> int:
    """The code of the strongest of a customer's event types with an item."""
    have = set(types)
    return next((i for i, t in enumerate(VERB_ORDER) if t in have), OTHER)


def verb(code: int) -> str:
    """The verb of a code (``liked`` for any other event type)."""
    return VERBS[VERB_ORDER[code]] if 0 <= code < OTHER else "liked"
