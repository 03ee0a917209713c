"""EASE's float32 solver against a float64 textbook reference, and the Dataset matrix memo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend import ease_solve
from tailorcrm.recommend.ease_solve import dense_gram, ease_weights, inverse_in_place


def _matrix(seed: int = 0, shape: tuple[int, int] = (60, 37)) -> sparse.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random(shape) < 0.2).astype(np.float64) * rng.integers(1, 4, shape)
    return sparse.csr_matrix(dense)


def test_gram_in_blocks_equals_the_whole_product(monkeypatch: pytest.MonkeyPatch) -> None:
    X = _matrix()
    monkeypatch.setattr(ease_solve, "GRAM_BLOCK_ENTRIES", 5 * X.shape[1])  # 5 columns a block
    gram = dense_gram(X)
    assert gram.dtype == np.float32 and gram.flags.c_contiguous
    np.testing.assert_allclose(gram, (X.T @ X).toarray(), rtol=1e-6)


def test_inverse_is_symmetric_and_in_place() -> None:
    X = _matrix(1)
    gram = dense_gram(X)
    gram[np.diag_indices_from(gram)] += 3.0
    reference = np.linalg.inv(gram.astype(np.float64))
    out = inverse_in_place(gram, threads=1)
    assert out is gram
    np.testing.assert_allclose(out, out.T, atol=0)
    np.testing.assert_allclose(out, reference, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("zero_diagonal", [True, False])
def test_weights_match_the_float64_textbook_form(zero_diagonal: bool) -> None:
    X = _matrix(2)
    G = (X.T @ X).toarray()
    penalty = 5.0 + 0.5 * np.diag(G)
    P = np.linalg.inv(G + np.diag(penalty))
    if zero_diagonal:
        expected = -P / np.diag(P)[None, :]
        np.fill_diagonal(expected, 0.0)
    else:
        expected = np.eye(len(P)) - P * penalty[None, :]
    got = ease_weights(dense_gram(X), penalty, zero_diagonal=zero_diagonal, threads=1)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-5)


def test_interaction_matrix_is_built_once_and_handed_out_as_copies() -> None:
    events = pd.DataFrame({"customer_id": ["a", "a", "b"], "item_id": ["x", "y", "x"]})
    data = Dataset.from_events(events)
    first = data.interaction_matrix(weighting="binary")
    first.data[:] = 7.0  # a caller changing its copy changes nobody else's
    again = data.interaction_matrix(weighting="binary")
    assert again.toarray().tolist() == [[1.0, 1.0], [1.0, 0.0]]
    split = data.with_events(events.iloc[:1])  # a new event set starts its own memo
    assert split.interaction_matrix(weighting="binary").toarray().tolist() == [[1.0, 0.0],
                                                                               [0.0, 0.0]]
