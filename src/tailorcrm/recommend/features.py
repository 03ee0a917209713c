"""Feature matrices of items and customers from their fields, built with scikit-learn."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import MultiLabelBinarizer, normalize

from tailorcrm.schema.fields import FieldSpec, FieldType

Block = tuple[sparse.csr_matrix, list[str]]


def _as_list(value: object) -> list[str]:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value if v is not None and str(v) != ""]
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return []
    return [str(value)]


def text_block(texts: Iterable[str], name: str, max_features: int) -> Block:
    """TF-IDF of free text (empty texts give zero rows)."""
    docs = [t if isinstance(t, str) else "" for t in texts]
    if not any(d.strip() for d in docs):
        return sparse.csr_matrix((len(docs), 0)), []
    vec = TfidfVectorizer(max_features=max_features, stop_words="english", sublinear_tf=True)
    try:
        matrix = vec.fit_transform(docs)
    except ValueError:  # only stop words
        return sparse.csr_matrix((len(docs), 0)), []
    return sparse.csr_matrix(matrix), [f"{name}: {t}" for t in vec.get_feature_names_out()]


def multi_hot_block(values: Iterable[object], name: str) -> Block:
    """One column per distinct value (enums, strings, lists and booleans)."""
    lists = [_as_list(v) for v in values]
    mlb = MultiLabelBinarizer(sparse_output=True)
    matrix = mlb.fit_transform(lists)
    return sparse.csr_matrix(matrix, dtype=np.float64), [f"{name}: {c}" for c in mlb.classes_]


def number_block(values: pd.Series, name: str) -> Block:
    """A standardised number (missing values at the mean, i.e. 0).

    Its reason label says what it means ("weight_g close to your choices"), not the bare
    column name.
    """
    nums = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    ok = ~np.isnan(nums)
    if not ok.any():
        return sparse.csr_matrix((len(nums), 0)), []
    std = nums[ok].std()
    scaled = np.where(ok, (nums - nums[ok].mean()) / (std if std > 0 else 1.0), 0.0)
    return sparse.csr_matrix(scaled[:, None]), [f"{name} close to your choices"]


def _date_numbers(values: pd.Series) -> pd.Series:
    def days(v: object) -> float:
        if not isinstance(v, str | dt.date | pd.Timestamp):
            return np.nan
        try:
            return pd.Timestamp(v).timestamp() / 86400.0
        except (ValueError, TypeError):
            return np.nan
    return values.map(days)


def field_block(frame: pd.DataFrame, spec: FieldSpec, max_features: int) -> Block:
    """The block of one custom field, chosen by its :class:`FieldType`."""
    values = frame[spec.name] if spec.name in frame else pd.Series([None] * len(frame))
    if spec.type in (FieldType.INTEGER, FieldType.NUMBER):
        return number_block(values, spec.name)
    if spec.type in (FieldType.DATE, FieldType.DATETIME):
        return number_block(_date_numbers(values), spec.name)
    if spec.type is FieldType.TEXT:
        return text_block(values.fillna("").astype(str), spec.name, max_features)
    if spec.type is FieldType.BOOLEAN:
        flags = values.map(lambda v: [spec.name] if str(v).lower() in ("true", "1") else [])
        return multi_hot_block(flags, spec.name)
    return multi_hot_block(values, spec.name)  # enum, string, list


def stack_blocks(blocks: list[tuple[Block, float]], n_rows: int) -> Block:
    """Row-normalise each block, weigh it, stack them, and row-normalise the whole."""
    mats, names = [], []
    for (matrix, block_names), weight in blocks:
        if matrix.shape[1] == 0 or weight == 0:
            continue
        mats.append(weight * normalize(matrix, norm="l2", axis=1))
        names.extend(block_names)
    if not mats:
        return sparse.csr_matrix((n_rows, 0)), []
    return sparse.csr_matrix(normalize(sparse.hstack(mats).tocsr(), norm="l2", axis=1)), names


def item_features(
    items: pd.DataFrame,
    specs: Iterable[FieldSpec],
    *,
    max_features: int = 2000,
    text_weight: float = 1.0,
    category_weight: float = 1.0,
    field_weight: float = 1.0,
) -> Block:
    """Item vectors: TF-IDF of title + description, one-hot categories, feature fields."""
    n = len(items)
    text = (items.get("title", pd.Series([""] * n, index=items.index)).fillna("").astype(str)
            + " " + items.get("description", pd.Series([""] * n, index=items.index))
            .fillna("").astype(str))
    blocks: list[tuple[Block, float]] = [(text_block(text, "text", max_features), text_weight)]
    if "categories" in items:
        blocks.append((multi_hot_block(items["categories"], "category"), category_weight))
    for spec in specs:
        if spec.feature:
            blocks.append((field_block(items, spec, max_features), field_weight))
    return stack_blocks(blocks, n)


def customer_features(customers: pd.DataFrame, specs: Iterable[FieldSpec]) -> Block:
    """Customer vectors from the customer fields flagged ``feature`` (for cold customers)."""
    blocks = [(field_block(customers, s, 500), 1.0) for s in specs if s.feature]
    return stack_blocks(blocks, len(customers))
