"""LightGCN (He et al. 2020) trained with BPR: dot-product scores of propagated embeddings."""
from __future__ import annotations

from dataclasses import dataclass

from ..graph import LightGCNEncoder
from ..recommender.graph_bpr import GraphBPRRecommender, GraphSettings


@dataclass(frozen=True)
class LightGCNSettings(GraphSettings):
    """``GraphSettings`` as they are (64 dims, 2 layers, reg 1e-4, RecBole 1.2.1's defaults) and the
    loop's own defaults (30 epochs, lr 0.005, batch 2048: ``config.LoopConfig``)."""


class LightGCN(GraphBPRRecommender):
    """LightGCN (He et al. 2020) trained with BPR: dot-product scores of the propagated user and item embeddings."""

    Settings = LightGCNSettings

    @staticmethod
    def build_encoder(dataset, settings):
        """A ``graph.LightGCNEncoder``: ``embedding_dim`` wide, the mean of layers 0..``n_layers``."""
        return LightGCNEncoder(dataset.n_users, dataset.n_items, settings.embedding_dim, settings.n_layers)


MODEL = LightGCN
