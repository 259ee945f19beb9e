"""LightGCN (He et al. 2020) trained with BPR: dot-product scores of propagated embeddings."""
from __future__ import annotations

from ..graph import LightGCNEncoder
from .graph_bpr import GraphBPRRecommender


class LightGCN(GraphBPRRecommender):
    @staticmethod
    def build_encoder(dataset, config):
        return LightGCNEncoder(dataset.n_users, dataset.n_items, config.embedding_dim, config.n_layers)
