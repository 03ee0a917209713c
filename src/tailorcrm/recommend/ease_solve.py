"""EASE's linear algebra: a float32 Gram matrix built in blocks and one Cholesky-based inverse.

Memory is what bounds EASE: everything here works in one dense ``n × n`` float32 array (the
Gram matrix becomes its inverse, then the weights, in place), plus sparse intermediates of
one column block at a time. The inverse is LAPACK's ``potrf`` then ``potri`` through SciPy
(``n³`` flops, against ``2n³`` for an LU inverse and ``7n³/3`` for ``cho_solve`` against the
identity); BLAS threads are set by the caller's ``threads``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from tailorcrm.errors import InsufficientDataError

#: Sparse entries one row block of the Gram product may hold before it is made dense.
GRAM_BLOCK_ENTRIES = 1 << 22
#: At least this many row blocks: a block's sparse product (8 bytes an entry) then stays
#: well under the dense array (4 bytes an entry).
GRAM_MIN_BLOCKS = 16


def dense_gram(matrix: sparse.spmatrix) -> np.ndarray:
    """``matrix.T @ matrix`` as a dense C-ordered float32 array, built a block of rows at a
    time straight into the array (a sparse product of the whole matrix would hold up to
    ``n²`` entries with their indices, twice the dense array, before a dense copy)."""
    csr = sparse.csr_matrix(matrix, dtype=np.float32)
    csc = csr.tocsc()
    n = csr.shape[1]
    gram = np.zeros((n, n), dtype=np.float32)
    step = max(1, min(GRAM_BLOCK_ENTRIES // max(n, 1), -(-n // GRAM_MIN_BLOCKS)))
    for start in range(0, n, step):
        stop = min(n, start + step)
        # rows start:stop of X.T @ X are X[:, start:stop].T @ X (a CSR block: rows of gram)
        block = sparse.csr_matrix(csc[:, start:stop].T) @ csr
        block.toarray(out=gram[start:stop])
    return gram


def _mirror_lower(square: np.ndarray, step: int = 256) -> None:
    """Copy the lower triangle of a C-ordered square array onto its upper one, in place
    and a block of rows at a time (no ``n²`` index arrays)."""
    n = square.shape[0]
    for start in range(0, n, step):
        stop = min(n, start + step)
        # rows start:stop, columns right of the diagonal block, from the columns below it
        square[start:stop, stop:] = square[stop:, start:stop].T
        diag = square[start:stop, start:stop]
        upper = np.triu_indices(stop - start, 1)
        diag[upper] = diag.T[upper]


def inverse_in_place(gram: np.ndarray, threads: int | None) -> np.ndarray:
    """The inverse of a symmetric positive-definite float32 array, computed in its memory.

    Returns the same array, symmetric. ``threads`` caps BLAS/LAPACK threads (``None``:
    the library's default).

    Raises
    ------
    InsufficientDataError
        The matrix is not positive definite (it cannot be with a positive ``lam``, except
        through float32 rounding on an extreme input).
    """
    fortran = gram.T  # the transpose of a C array is Fortran-ordered: LAPACK works in place
    with threadpool_limits(threads, "blas"):
        factor, info = lapack.spotrf(fortran, lower=0, overwrite_a=1, clean=0)
        if info == 0:
            factor, info = lapack.spotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise InsufficientDataError(f"EASE: the regularised Gram matrix is not positive "
                                    f"definite (LAPACK info {info}); raise lam", info=info)
    if not np.shares_memory(factor, gram):  # LAPACK copied after all: bring it back
        gram[...] = factor.T
    # potri wrote the upper triangle of the Fortran view, which is the C array's lower one
    _mirror_lower(gram)
    return gram


def ease_weights(gram: np.ndarray, penalty: np.ndarray, *, zero_diagonal: bool,
                 threads: int | None) -> np.ndarray:
    """EASE (``zero_diagonal``) or DLAE weights from a Gram matrix, in the Gram's memory.

    ``penalty`` is added to the diagonal first (``lam`` plus the dropout term per item).
    EASE: ``B = -P / diag(P)`` with a zero diagonal; DLAE: ``B = I - P · diag(penalty)``.
    """
    gram[np.diag_indices_from(gram)] += penalty.astype(np.float32)
    inverse = inverse_in_place(gram, threads)
    if zero_diagonal:
        scale = (-1.0 / np.diag(inverse)).astype(np.float32)
        inverse *= scale[None, :]
        np.fill_diagonal(inverse, 0.0)
    else:
        inverse *= (-penalty).astype(np.float32)[None, :]
        inverse[np.diag_indices_from(inverse)] += np.float32(1.0)
    return inverse
