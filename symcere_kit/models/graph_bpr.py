"""Shared base for "graph encoder + BPR" models (LightGCN, NGCF): dot-product scores of the
propagated embeddings, BPR loss plus L2 on the batch's ego (layer-0) embeddings."""
from __future__ import annotations

import torch
from torch import nn

from ..losses import bpr_loss, l2_reg
from .base import Recommender


def batch_ego_l2(ego: torch.Tensor, n_users: int, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """L2 (``losses.l2_reg``) of the layer-0 embeddings of the batch's users, positives and negatives."""
    return l2_reg(ego.index_select(0, batch["user"]), ego.index_select(0, n_users + batch["pos"]),
                  ego.index_select(0, n_users + batch["neg"]))


class GraphBPRRecommender(Recommender):
    """Subclasses implement ``build_encoder``: a module with an ``embedding`` table of
    (n_users + n_items) rows whose ``forward(adj)`` returns (user_emb, item_emb)."""

    bpr_reduction = "mean"  # RecBole's LightGCN/NGCF; SGL's reference code sums

    def __init__(self, dataset, config):
        super().__init__(dataset, config)
        self.encoder = self.build_encoder(dataset, config)
        self.register_buffer("adj", dataset.norm_adjacency(), persistent=False)

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
        bpr = bpr_loss((u * p).sum(-1), (u * n).sum(-1), self.bpr_reduction)
        reg = batch_ego_l2(self.encoder.embedding.weight, self.n_users, batch)
        return {"loss": bpr + self.config.reg_weight * reg, "bpr": bpr, "reg": reg}

    @torch.no_grad()
    def prepare_scoring(self):
        self._cache = self.embeddings()
