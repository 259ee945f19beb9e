"""LightGCN (He et al. 2020) trained with BPR: dot-product scores of propagated embeddings."""
from __future__ import annotations

import torch

from ..graph import LightGCNEncoder
from ..losses import bpr_loss, l2_reg
from .base import Recommender


class LightGCN(Recommender):
    def __init__(self, dataset, config):
        super().__init__(dataset, config)
        self.encoder = LightGCNEncoder(dataset.n_users, dataset.n_items, config.embedding_dim, config.n_layers)
        self.register_buffer("adj", dataset.norm_adjacency(), persistent=False)
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(self.adj)

    def batch_loss(self, batch):
        self._cache = None
        users, items = self.embeddings()
        u, p, n = users[batch["user"]], items[batch["pos"]], items[batch["neg"]]
        bpr = bpr_loss((u * p).sum(-1), (u * n).sum(-1))
        ego = self.encoder.embedding.weight
        reg = l2_reg(ego[batch["user"]], ego[self.n_users + batch["pos"]], ego[self.n_users + batch["neg"]])
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
