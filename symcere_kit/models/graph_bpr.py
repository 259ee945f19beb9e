"""Shared base for "graph encoder + BPR" models (LightGCN, NGCF): dot-product scores of the
propagated embeddings, BPR loss plus L2 on the batch's ego (layer-0) embeddings."""
from __future__ import annotations

import torch
from torch import nn

from ..losses import bpr_loss, l2_reg
from .base import Recommender


class GraphBPRRecommender(Recommender):
    """Subclasses implement ``build_encoder``: a module with an ``embedding`` table of
    (n_users + n_items) rows whose ``forward(adj)`` returns (user_emb, item_emb)."""

    def __init__(self, dataset, config):
        super().__init__(dataset, config)
        self.encoder = self.build_encoder(dataset, config)
        self.register_buffer("adj", dataset.norm_adjacency(), persistent=False)
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None

    @staticmethod
    def build_encoder(dataset, config) -> nn.Module:
        raise NotImplementedError

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(self.adj)

    def batch_loss(self, batch):
        self._cache = None
        users, items = self.embeddings()
        # index_select, not tensor[idx]: on multi-threaded CPU the backward of advanced indexing
        # (index_put_ with accumulate) sums repeated rows in a run-dependent order once rows are
        # wide (e.g. NGCF's 256 columns), which breaks same-seed reproducibility.
        u = users.index_select(0, batch["user"])
        p, n = items.index_select(0, batch["pos"]), items.index_select(0, batch["neg"])
        bpr = bpr_loss((u * p).sum(-1), (u * n).sum(-1))
        ego = self.encoder.embedding.weight
        reg = l2_reg(ego.index_select(0, batch["user"]), ego.index_select(0, self.n_users + batch["pos"]),
                     ego.index_select(0, self.n_users + batch["neg"]))
        return {"loss": bpr + self.config.reg_weight * reg, "bpr": bpr, "reg": reg}

    @torch.no_grad()
    def prepare_scoring(self):
        self._cache = self.embeddings()

    @torch.no_grad()
    def score(self, users):
        if self._cache is None:
            self.prepare_scoring()
        user_emb, item_emb = self._cache
        return user_emb[users] @ item_emb.T
