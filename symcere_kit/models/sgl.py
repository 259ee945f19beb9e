"""SGL (Wu et al. 2021): LightGCN plus a self-supervised InfoNCE between two edge-dropout views.

As RecBole 1.2.1's SGL (and the authors' code) does: two fresh SGL-ED views each epoch
(``drop_ratio``), InfoNCE over the batch's users and positive items against every node of the other
view ([`node_info_nce`][symcere_kit.losses.node_info_nce], temperature ``ssl_tau``, weight ``ssl_weight``), BPR
summed over the batch, 3 layers. Scores are the dot products of the full graph's embeddings, as LightGCN's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..config import Range
from ..graph.augment import edge_dropout_adjacency
from ..losses import node_info_nce
from ..recommender.graph_bpr import RECBOLE_LR, GraphSettings
from .lightgcn import LightGCN

RECBOLE_GRID = "RecBole 1.2.1 docs, SGL 'Tuning Hyper Parameters'"


@dataclass(frozen=True)
class SGLSettings(GraphSettings):
    """SGL's settings: the graph models' with 3 layers, plus the InfoNCE temperature and weight and the views' edge
    dropout."""

    n_layers: int = 3  # RecBole 1.2.1 SGL n_layers
    ssl_tau: float = 0.5  # RecBole 1.2.1 SGL ssl_tau
    ssl_weight: float = 0.05  # RecBole 1.2.1 SGL ssl_weight
    drop_ratio: float = 0.1  # RecBole 1.2.1 SGL drop_ratio (edge dropout of each view)
    POSITIVE: ClassVar[frozenset[str]] = frozenset({"ssl_tau"})
    NON_NEGATIVE: ClassVar[frozenset[str]] = frozenset({"ssl_weight", "drop_ratio"})
    SEARCH_SPACE: ClassVar[dict] = {
        "lr": RECBOLE_LR,
        "ssl_tau": Range(0.1, 1.0, log=True, source=RECBOLE_GRID + ": lamb (ssl_tau) 0.1 .. 1.0"),
        "ssl_weight": Range(0.005, 1.0, log=True, source=RECBOLE_GRID + ": ssl_reg (ssl_weight) 0.005 .. 1.0"),
        "drop_ratio": Range(0.0, 0.5, source=RECBOLE_GRID + ": ratio (drop_ratio) 0 .. 0.5"),
    }
    # Run records before per-model settings used the shared names.
    LEGACY_NAMES: ClassVar[dict] = {"tau": "ssl_tau", "alpha": "ssl_weight", "edge_dropout": "drop_ratio"}


class SGL(LightGCN):
    """SGL (Wu et al. 2021): LightGCN with summed BPR plus an InfoNCE between two edge-dropout views; scores are
    LightGCN's dot products."""

    bpr_reduction = "sum"
    Settings = SGLSettings

    def __init__(self, dataset, settings: SGLSettings, progress: bool = True):
        super().__init__(dataset, settings)
        self.train_csr = dataset.train_csr
        self.views: list[torch.Tensor] | None = None

    def on_epoch_start(self, generator: torch.Generator) -> None:
        """Draw the epoch's two SGL-ED views of the training graph (edge dropout ``drop_ratio``) from ``generator``."""
        self.views = [edge_dropout_adjacency(self.train_csr, self.settings.drop_ratio, generator).to(self.adj.device)
                      for _ in range(2)]

    def batch_loss(self, batch):
        """LightGCN's summed BPR and L2, plus ``ssl_weight`` x InfoNCE (``ssl_tau``) between the two views of the
        batch's users and of its positive items.

        Raises:
            RuntimeError: no views drawn yet ([`on_epoch_start`][symcere_kit.models.sgl.SGL.on_epoch_start]).
        """
        terms = super().batch_loss(batch)
        if self.views is None:
            raise RuntimeError("SGL.on_epoch_start(generator) draws the views; the Trainer calls it each epoch.")
        (u1, i1), (u2, i2) = (self.encoder(view) for view in self.views)
        tau = self.settings.ssl_tau
        ssl = node_info_nce(u1, u2, batch["user"], tau) + node_info_nce(i1, i2, batch["pos"], tau)
        return {**terms, "loss": terms["loss"] + self.settings.ssl_weight * ssl, "ssl": ssl}


MODEL = SGL
