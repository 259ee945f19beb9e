"""Shared base of the item-item baselines (EASE^R, RP3beta): an item x item weight matrix ``W`` fitted
in closed form from the binary TRAINING matrix ``X`` (users x items), and scores ``X_u W``.

Nothing is trained (``trainable = False``): the constructor fits ``W``, so the Trainer skips straight to
evaluation, and a stored run rebuilds the same ``W`` from its training data (``runs.store.load_run``);
the buffers are therefore not saved with the run (``persistent=False``).

``W`` is kept dense (float32), so memory grows with the square of the item count: ``n_items**2`` cells,
several copies of them while fitting. ``check_dense_fit`` stops a fit that would need more than
``MAX_FIT_BYTES`` before anything that large is allocated.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import SymcereError
from .base import Recommender

MAX_FIT_BYTES = 4 * 2**30  # ~4 GiB: fits this project's machines with room for the rest of a run


def binary_train(dataset) -> sp.csr_matrix:
    """The training interactions as a canonical float64 CSR of ones (a repeated pair counts once)."""
    x = sp.csr_matrix(dataset.train_csr, dtype=np.float64, copy=True)
    x.sum_duplicates()
    x.eliminate_zeros()
    x.data[:] = 1.0
    return x


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
    training CSR ``x``."""

    trainable = False
    FIT_BYTES_PER_PAIR = 8

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
