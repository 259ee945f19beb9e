"""Shared base of the item-item baselines (EASE^R, RP3beta): an item x item weight matrix ``W`` fitted
in closed form from the binary TRAINING matrix ``X`` (users x items), and scores ``X_u W``.

Nothing is trained (``trainable = False``): the constructor fits ``W``, so the Trainer skips straight to
evaluation, and a stored run rebuilds the same ``W`` from its training data (``runs.store.load_run``);
the buffers are therefore not saved with the run (``persistent=False``).

``W`` is kept dense (float32), so memory grows with the square of the item count: ``n_items**2`` cells,
several copies of them while fitting. ``check_dense_fit`` stops a fit that would need more than
``MAX_FIT_BYTES`` before anything that large is allocated, from the subclass's ``FIT_BYTES_PER_PAIR``.

Helpers the fits share: ``binary_train`` (the training CSR as ones), ``row_l1`` (rows L1-normalised, sparse) and
``keep_top_k`` (a dense ``W`` pruned in place to the ``k`` largest entries of each row or column, ties to the lower
index). A model file imports them from here, never from a sibling model.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import SymcereError
from ..evaluate import canonical_csr
from .base import Recommender

MAX_FIT_BYTES = 4 * 2**30  # ~4 GiB: fits this project's machines with room for the rest of a run


def binary_train(dataset) -> sp.csr_matrix:
    """The training interactions as a canonical float64 CSR of ones (a repeated pair counts once):
    [`canonical_csr`][symcere_kit.evaluate.canonical_csr] in the float64 the closed-form fits compute in."""
    return canonical_csr(dataset.train_csr, "training", binary=True).astype(np.float64)


def row_l1(m: sp.csr_matrix) -> sp.csr_matrix:
    """Each row of a nonnegative sparse matrix divided by its sum (L1-normalised), as a new CSR.

    Args:
        m: a sparse matrix with nonnegative entries (e.g. the binary training matrix or its transpose).

    Returns:
        A CSR of ``m``'s shape whose nonempty rows sum to 1; an empty row stays empty.
    """
    sums = np.asarray(m.sum(axis=1)).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(inv) @ m)


def keep_top_k(w: np.ndarray, k: int, axis: int) -> None:
    """Prune a dense weight matrix in place to the ``k`` largest entries of each row or column.

    Every other entry is set to 0. Ties at the cut keep the lower index (a stable sort of ``-w``), so the
    result does not depend on the sort's implementation. Memory: while it runs, ``-w`` (float64 when ``w``
    is) and the int64 sort order (8 bytes per entry each), then the order and the int64 indices of the
    entries to zero, beside ``w`` itself: count 16 bytes per item pair on top of ``w`` in a subclass's
    ``FIT_BYTES_PER_PAIR``.

    Args:
        w: the dense matrix, changed in place.
        k: how many entries each row (or column) keeps; ``k`` at or above that length keeps them all.
        axis: 1 keeps the top ``k`` of each row, 0 of each column.

    Returns:
        None: ``w`` itself is pruned.
    """
    n = w.shape[axis]
    if k >= n:
        return
    order = np.argsort(-w, axis=axis, kind="stable")
    np.put_along_axis(w, np.take(order, np.arange(k, n), axis=axis), 0.0, axis=axis)


def check_dense_fit(model: str, n_items: int, bytes_per_pair: int) -> None:
    """Fail with the item count and the fix when fitting would need more than ``MAX_FIT_BYTES``."""
    need = bytes_per_pair * n_items**2
    if need > MAX_FIT_BYTES:
        raise SymcereError(
            f"{model} keeps dense item x item matrices: with {n_items:,} items fitting needs about "
            f"{need / 2**30:.1f} GiB, over the {MAX_FIT_BYTES / 2**30:.0f} GiB limit "
            f"(symcere_kit.recommender.item_similarity.MAX_FIT_BYTES). Use fewer items (a stricter item k-core, "
            f"DataConfig item_k) or a model with item embeddings (lightgcn, ngcf)."
        )


class ItemSimilarityRecommender(Recommender):
    """Subclasses set ``FIT_BYTES_PER_PAIR`` (peak fitting memory per item pair, for the check) and
    implement ``fit_weights(x, settings)``: the dense ``[n_items, n_items]`` ``W`` from the binary
    training CSR ``x``.

    ``FIT_BYTES_PER_PAIR`` must count every n_items x n_items array alive at the fit's peak, in bytes per cell:
    8 for a dense float64 array, 8 for an int64 one (an argsort's order), 12 for a sparse float64 product that
    may fill up (value + int32 column index), and the float32 copy of ``W`` this constructor makes (4) while
    the fit's ``W`` is still alive. The default, 8, counts one dense float64 ``W`` only: it understates every
    fit that copies, sorts or prunes (``keep_top_k``), and ``check_dense_fit`` would then let a fit through that
    needs several times ``MAX_FIT_BYTES``."""

    trainable = False
    FIT_BYTES_PER_PAIR = 8  # one dense float64 W: a lower bound, not an estimate; subclasses set their own

    def __init__(self, dataset, settings, progress: bool = True):
        super().__init__(dataset, settings)
        check_dense_fit(type(self).__name__, self.n_items, self.FIT_BYTES_PER_PAIR)
        x = binary_train(dataset)
        weights = np.asarray(self.fit_weights(x, settings), dtype=np.float32)
        self.register_buffer("item_weights", torch.from_numpy(weights), persistent=False)
        self.register_buffer("train_indptr", torch.from_numpy(x.indptr.astype(np.int64)), persistent=False)
        self.register_buffer("train_items", torch.from_numpy(x.indices.astype(np.int64)), persistent=False)

    @staticmethod
    def fit_weights(x: sp.csr_matrix, settings) -> np.ndarray:
        """The dense ``W`` [n_items, n_items] from the binary training CSR ``x`` [n_users, n_items]; subclasses
        implement it."""
        raise NotImplementedError

    def user_rows(self, users: torch.Tensor) -> torch.Tensor:
        """Dense binary training rows ``X_u`` of ``users``: ``[B, n_items]`` on the weights' device."""
        users = users.to(self.train_indptr.device).long()
        start, count = self.train_indptr[users], self.train_indptr[users + 1] - self.train_indptr[users]
        row = torch.repeat_interleave(torch.arange(len(users), device=users.device), count)
        first = torch.repeat_interleave(start - (torch.cumsum(count, 0) - count), count)  # row start - its offset
        items = self.train_items[first + torch.arange(len(row), device=users.device)]
        x = torch.zeros(len(users), self.n_items, dtype=self.item_weights.dtype, device=users.device)
        x[row, items] = 1.0
        return x

    @torch.no_grad()
    def score(self, users: torch.Tensor) -> torch.Tensor:
        """``X_u W``: [B, n_items] scores of ``users`` from their binary training rows."""
        return self.user_rows(users) @ self.item_weights
