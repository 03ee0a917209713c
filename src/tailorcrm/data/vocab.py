"""Vocabularies: the map between external ids (strings) and the integer indices models use."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd


class Vocabulary:
    """An immutable, sorted map of external ids to contiguous indices ``0..n-1``.

    Sorted order makes the map deterministic whatever order the ids arrive in, so artifacts
    saved with one vocabulary line up again after a reload.
    """

    __slots__ = ("_index", "_lookup")

    def __init__(self, ids: Iterable[object]) -> None:
        values = pd.Index(pd.unique(pd.Series(list(ids), dtype=object).dropna().astype(str)))
        self._index = values.sort_values()
        self._lookup: dict[str, int] | None = None  # built on the first single-id look-up

    @classmethod
    def union(cls, *vocabs_or_ids: Iterable[object]) -> Vocabulary:
        """One vocabulary over several id sources."""
        merged: list[object] = []
        for part in vocabs_or_ids:
            merged.extend(part.ids if isinstance(part, Vocabulary) else list(part))
        return cls(merged)

    @property
    def ids(self) -> np.ndarray:
        """External ids, position ``i`` holding the id of index ``i``."""
        return self._index.to_numpy(dtype=object)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, external_id: object) -> bool:
        return str(external_id) in self._index

    def index(
        self, external_ids: Sequence[object] | np.ndarray | pd.Series | pd.Index
    ) -> np.ndarray:
        """Indices of ``external_ids``; ``-1`` where an id is unknown."""
        keys = pd.Index(pd.Series(external_ids, dtype=object).astype(str))
        return np.asarray(self._index.get_indexer(keys), dtype=np.int64)

    def index_of(self, external_id: object) -> int:
        """Index of one id, ``-1`` if unknown."""
        if self._lookup is None:
            # serving looks ids up one at a time; a dict answers in O(1) where building a
            # one-element pandas Index per call costs about half a millisecond
            self._lookup = {str(v): i for i, v in enumerate(self._index)}
        return self._lookup.get(str(external_id), -1)

    def id(self, idx: int) -> str:
        """External id of one index."""
        return str(self._index[idx])

    def to_list(self) -> list[str]:
        """Ids as a JSON-ready list (for artifacts)."""
        return [str(x) for x in self._index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._index.equals(other._index)

    def __hash__(self) -> int:  # pragma: no cover - vocabularies are not dict keys
        return hash(tuple(self._index))

    def __repr__(self) -> str:
        return f"Vocabulary(n={len(self)})"
