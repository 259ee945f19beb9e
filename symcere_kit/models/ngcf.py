"""NGCF (Wang et al. SIGIR 2019) trained with BPR, as RecBole's NGCF baseline."""
from __future__ import annotations

from ..graph import NGCFEncoder
from .graph_bpr import GraphBPRRecommender


class NGCF(GraphBPRRecommender):
    """NGCF encoder (``graph.NGCFEncoder``: bi-interaction layers, LeakyReLU 0.2, message dropout,
    per-layer L2 normalisation, concatenated layers) + BPR + L2 on the batch's ego embeddings.

    Uses ``config.embedding_dim``, ``config.n_layers`` and ``config.message_dropout``. Chosen
    defaults (RecBole NGCF.yaml for the architecture; lr/epochs by NDCG@10 on the validation
    holdout ``ds.holdout(0.2)`` of Musical Instruments, never the test split):
    ``embedding_dim=64, n_layers=3, message_dropout=0.1, lr=0.005, epochs=100`` (mean holdout
    NDCG@10 over seeds 0-2: 0.0552 at lr 0.005/100 epochs, flat to 125, falling after; lr 0.001 was
    still at 0.0415 after 100 epochs). ``TrainConfig`` defaults (n_layers 2, lr 0.005, epochs 30)
    are LightGCN's; ``TrainConfig.for_model("ngcf")`` (the CLI) applies NGCF's.

    Regulariser: like our LightGCN and the original NGCF code, ``reg_weight * sum||e0||^2 / 2B`` on
    the batch's layer-0 embeddings. RecBole's NGCF applies unsquared ``EmbLoss`` (reg_weight 1e-5) to
    the final concatenated embeddings, whose layers 1..K have unit norm.
    """

    @staticmethod
    def build_encoder(dataset, config):
        return NGCFEncoder(dataset.n_users, dataset.n_items, config.embedding_dim, config.n_layers,
                           message_dropout=config.message_dropout)
