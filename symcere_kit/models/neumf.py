"""NeuMF (He et al. 2017): GMF and an MLP tower on separate embeddings, fused by one output layer.

Trained pointwise with binary cross-entropy on each training pair (label 1) and its sampled negative
(label 0), as in the paper and RecBole. Sizes follow RecBole's defaults: 64-dim GMF and MLP
embeddings, MLP hidden layers [128, 64], dropout 0.1. Full ranking runs the network on every
(user, item) pair, so scoring is chunked by users (``eval_batch_size``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Recommender

MLP_HIDDEN = (128, 64)
DROPOUT = 0.1
PAIRS_PER_CHUNK = 1 << 18


class NeuMF(Recommender):
    def __init__(self, dataset, config):
        super().__init__(dataset, config)
        d = config.embedding_dim
        self.user_mf, self.item_mf = nn.Embedding(self.n_users, d), nn.Embedding(self.n_items, d)
        self.user_mlp, self.item_mlp = nn.Embedding(self.n_users, d), nn.Embedding(self.n_items, d)
        layers, width = [], 2 * d
        for hidden in MLP_HIDDEN:
            layers += [nn.Dropout(DROPOUT), nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.mlp = nn.Sequential(*layers)
        self.out = nn.Linear(d + width, 1)
        for emb in (self.user_mf, self.item_mf, self.user_mlp, self.item_mlp):
            nn.init.normal_(emb.weight, std=0.01)

    def logits(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of the pairs (users[k], items[k])."""
        gmf = self.user_mf(users) * self.item_mf(items)
        mlp = self.mlp(torch.cat([self.user_mlp(users), self.item_mlp(items)], -1))
        return self.out(torch.cat([gmf, mlp], -1)).squeeze(-1)

    def batch_loss(self, batch):
        u = batch["user"]
        pos, neg = self.logits(u, batch["pos"]), self.logits(u, batch["neg"])
        bce = (F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
               + F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg))) / 2
        return {"loss": bce, "bce": bce}  # no L2 term, as RecBole's NeuMF

    @torch.no_grad()
    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Every (user, item) pair through the network, ~2^18 pairs at a time to bound memory."""
        items = torch.arange(self.n_items, device=users.device)
        step = max(1, PAIRS_PER_CHUNK // self.n_items)
        return torch.cat([self.logits(chunk.repeat_interleave(self.n_items), items.repeat(len(chunk))).view(len(chunk), -1)
                          for chunk in users.split(step)])
