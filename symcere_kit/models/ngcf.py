"""NGCF (Wang et al. SIGIR 2019) trained with BPR, as RecBole's NGCF baseline."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import Range
from ..graph import NGCFEncoder
from ..recommender.graph_bpr import RECBOLE_LR, GraphBPRRecommender, GraphSettings, NGCFLayerSettings


@dataclass(frozen=True)
class NGCFSettings(GraphSettings, NGCFLayerSettings):
    """NGCF's settings: the graph models' plus ``message_dropout``; three layers as RecBole's."""

    n_layers: int = 3  # RecBole 1.2.1 NGCF hidden_size_list [64, 64, 64]
    # Epochs chosen by NDCG@10 on the validation slice of Musical Instruments (mean over seeds 0-2:
    # 0.0552 at lr 0.005 / 100 epochs, flat to 125, falling after; lr 0.001 reached 0.0415 by 100).
    LOOP: ClassVar[dict] = {"epochs": 100}
    SEARCH_SPACE: ClassVar[dict] = {
        "lr": RECBOLE_LR,
        "message_dropout": Range(0.0, 0.3, source="RecBole 1.2.1 docs, NGCF: message_dropout 0.0 .. 0.3"),
        "reg_weight": Range(1e-5, 1e-4, log=True, source="RecBole 1.2.1 docs, NGCF: reg_weight 1e-5 .. 1e-4"),
    }


class NGCF(GraphBPRRecommender):
    """NGCF encoder (``graph.NGCFEncoder``: bi-interaction layers, LeakyReLU 0.2, message dropout,
    per-layer L2 normalisation, concatenated layers) + BPR + L2 on the batch's ego embeddings.

    Regulariser: like our LightGCN and the original NGCF code, ``reg_weight * sum||e0||^2 / 2B`` on
    the batch's layer-0 embeddings. RecBole's NGCF applies unsquared ``EmbLoss`` (reg_weight 1e-5) to
    the final concatenated embeddings, whose layers 1..K have unit norm.
    """

    Settings = NGCFSettings

    @staticmethod
    def build_encoder(dataset, settings):
        """A ``graph.NGCFEncoder``: ``embedding_dim`` wide, ``n_layers`` layers, ``message_dropout``."""
        return NGCFEncoder(dataset.n_users, dataset.n_items, settings.embedding_dim, settings.n_layers,
                           message_dropout=settings.message_dropout)


MODEL = NGCF
