"""Shared base for "graph encoder + BPR" models (LightGCN, NGCF): dot-product scores of the
propagated embeddings, BPR loss plus L2 on the batch's ego (layer-0) embeddings."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..config import ModelSettings, Range
from ..losses import bpr_loss, l2_reg
from .base import Recommender

RECBOLE_LR = Range(1e-4, 1e-2, log=True,
                   source="RecBole 1.2.1 docs, LightGCN/NGCF 'Tuning Hyper Parameters': learning_rate 1e-4 .. 1e-2")
RECBOLE_REG = Range(1e-5, 1e-2, log=True,
                    source="RecBole 1.2.1 docs, LightGCN 'Tuning Hyper Parameters': reg_weight 1e-5 .. 1e-2")


@dataclass(frozen=True)
class EmbeddingSettings(ModelSettings):
    """What every model with a user and item embedding table shares: one declaration, so a grid-wide
    ``embedding_dim`` means the same to each (``run_settings.check_grid_settings``)."""

    embedding_dim: int = 64  # RecBole 1.2.1 embedding_size (NeuMF: mf_ and mlp_embedding_size); the paper's graph width
    POSITIVE: ClassVar[frozenset[str]] = frozenset({"embedding_dim"})


@dataclass(frozen=True)
class NGCFLayerSettings(ModelSettings):
    """NGCF's propagation, shared by the NGCF baseline and SymCERE's NGCF backbone."""

    message_dropout: float = 0.1  # RecBole 1.2.1 NGCF message_dropout
    NON_NEGATIVE: ClassVar[frozenset[str]] = frozenset({"message_dropout"})


@dataclass(frozen=True)
class GraphSettings(EmbeddingSettings):
    """What every model with a LightGCN/NGCF-style embedding table and propagation shares."""

    n_layers: int = 2  # RecBole 1.2.1 LightGCN n_layers, so parity runs compare like with like
    reg_weight: float = 1e-4  # lambda of eq. (8): squared L2 of the batch's ego embeddings / 2B (RecBole LightGCN 1e-4)
    NON_NEGATIVE: ClassVar[frozenset[str]] = frozenset({"n_layers", "reg_weight"})
    SEARCH_SPACE: ClassVar[dict] = {
        "lr": RECBOLE_LR,
        "n_layers": Range(1, 4, integer=True, source="RecBole 1.2.1 docs, LightGCN: n_layers 1 .. 4"),
        "reg_weight": RECBOLE_REG,
    }


def batch_ego_l2(ego: torch.Tensor, n_users: int, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """L2 (``losses.l2_reg``) of the layer-0 embeddings of the batch's users, positives and negatives."""
    return l2_reg(ego.index_select(0, batch["user"]), ego.index_select(0, n_users + batch["pos"]),
                  ego.index_select(0, n_users + batch["neg"]))


class GraphBPRRecommender(Recommender):
    """Subclasses implement ``build_encoder``: a module with an ``embedding`` table of
    (n_users + n_items) rows whose ``forward(adj)`` returns (user_emb, item_emb)."""

    bpr_reduction = "mean"  # RecBole's LightGCN/NGCF; SGL's reference code sums
    Settings = GraphSettings

    def __init__(self, dataset, settings: GraphSettings, progress: bool = True):
        super().__init__(dataset, settings)
        self.encoder = self.build_encoder(dataset, settings)
        self.register_buffer("adj", dataset.norm_adjacency(), persistent=False)

    @staticmethod
    def build_encoder(dataset, settings) -> nn.Module:
        """The graph encoder for ``dataset``'s users and items, sized by ``settings``.

        Returns:
            A module with an ``embedding`` table of (n_users + n_items) rows whose ``forward(adj)`` returns
            (user_emb [n_users, d], item_emb [n_items, d]).
        """
        raise NotImplementedError

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(user [n_users, d], item [n_items, d]) embeddings propagated over the training graph."""
        return self.encoder(self.adj)

    def batch_loss(self, batch):
        """BPR on dot products of the propagated embeddings (``bpr_reduction``) + ``reg_weight`` x L2 of the batch's
        ego embeddings."""
        self._cache = None
        users, items = self.embeddings()
        # index_select, not tensor[idx]: on multi-threaded CPU the backward of advanced indexing
        # (index_put_ with accumulate) sums repeated rows in a run-dependent order once rows are
        # wide (e.g. NGCF's 256 columns), which breaks same-seed reproducibility.
        u = users.index_select(0, batch["user"])
        p, n = items.index_select(0, batch["pos"]), items.index_select(0, batch["neg"])
        bpr = bpr_loss((u * p).sum(-1), (u * n).sum(-1), self.bpr_reduction)
        reg = batch_ego_l2(self.encoder.embedding.weight, self.n_users, batch)
        return {"loss": bpr + self.settings.reg_weight * reg, "bpr": bpr, "reg": reg}

    @torch.no_grad()
    def prepare_scoring(self):
        """Propagate once and cache the (user, item) embeddings for ``score``."""
        self._cache = self.embeddings()
