"""NeuMF (He et al. 2017): GMF and an MLP tower on separate embeddings, fused by one output layer.

Trained pointwise with binary cross-entropy on each training pair (label 1) and its sampled negative
(label 0), as in the paper and RecBole. Full ranking runs the network on every (user, item) pair,
so scoring is chunked (about 2^18 pairs at a time).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Choice, Range
from ..recommender.base import Recommender
from ..recommender.graph_bpr import EmbeddingSettings

PAIRS_PER_CHUNK = 1 << 18
RECBOLE_GRID = "RecBole 1.2.1 docs, NeuMF 'Tuning Hyper Parameters'"


@dataclass(frozen=True)
class NeuMFSettings(EmbeddingSettings):
    """NeuMF's settings: GMF and MLP embeddings of ``embedding_dim`` (RecBole 1.2.1 mf_embedding_size =
    mlp_embedding_size = 64), its MLP tower and dropout."""

    mlp_hidden: tuple[int, ...] = (128, 64)  # RecBole 1.2.1 mlp_hidden_size
    dropout: float = 0.1  # RecBole 1.2.1 dropout_prob
    NON_NEGATIVE: ClassVar[frozenset[str]] = frozenset({"dropout"})
    SEARCH_SPACE: ClassVar[dict] = {
        "lr": Range(1e-4, 1e-2, log=True, source=RECBOLE_GRID + ": learning_rate 1e-4 .. 1e-2"),
        "dropout": Range(0.0, 0.5, source=RECBOLE_GRID + ": dropout_prob 0.0 .. 0.5"),
        "mlp_hidden": Choice(((128, 64), (64, 32, 16), (32, 16, 8)),
                             source=RECBOLE_GRID + " ([64,32,16], [32,16,8]) and its default [128,64]"),
    }


class NeuMF(Recommender):
    """NeuMF (He et al. 2017): GMF and an MLP tower fused by one output layer; scores are its logits."""

    Settings = NeuMFSettings

    def __init__(self, dataset, settings: NeuMFSettings, progress: bool = True):
        super().__init__(dataset, settings)
        d = settings.embedding_dim
        self.user_mf, self.item_mf = nn.Embedding(self.n_users, d), nn.Embedding(self.n_items, d)
        self.user_mlp, self.item_mlp = nn.Embedding(self.n_users, d), nn.Embedding(self.n_items, d)
        layers, width = [], 2 * d
        for hidden in settings.mlp_hidden:
            layers += [nn.Dropout(settings.dropout), nn.Linear(width, hidden), nn.ReLU()]
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
        """Pointwise BCE: the positive pair labelled 1, its sampled negative 0, averaged; no L2 term."""
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
        return torch.cat(
            [
                self.logits(chunk.repeat_interleave(self.n_items), items.repeat(len(chunk))).view(len(chunk), -1)
                for chunk in users.split(step)
            ]
        )


MODEL = NeuMF
