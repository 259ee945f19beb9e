"""SGL (Wu et al. 2021): LightGCN plus a self-supervised InfoNCE between two edge-dropout views.

As RecBole 1.2.1's SGL (and the authors' code) does: two fresh SGL-ED views each epoch (``edge_dropout``
0.1), InfoNCE over the batch's users and positive items against every node of the other view
(:func:`~symcere_kit.losses.node_info_nce`, ``tau`` 0.5, weight ``alpha`` 0.05), BPR summed over the
batch, 3 layers. Scores are the dot products of the full graph's embeddings, as LightGCN's.
"""
from __future__ import annotations

import torch

from ..graph.augment import edge_dropout_adjacency
from ..losses import node_info_nce
from .lightgcn import LightGCN


class SGL(LightGCN):
    bpr_reduction = "sum"

    def __init__(self, dataset, config):
        super().__init__(dataset, config)
        self.train_csr = dataset.train_csr
        self.views: list[torch.Tensor] | None = None

    def on_epoch_start(self, generator: torch.Generator) -> None:
        self.views = [edge_dropout_adjacency(self.train_csr, self.config.edge_dropout, generator).to(self.adj.device)
                      for _ in range(2)]

    def batch_loss(self, batch):
        terms = super().batch_loss(batch)
        if self.views is None:
            raise RuntimeError("SGL.on_epoch_start(generator) draws the views; the Trainer calls it each epoch.")
        (u1, i1), (u2, i2) = (self.encoder(view) for view in self.views)
        tau = self.config.tau
        ssl = node_info_nce(u1, u2, batch["user"], tau) + node_info_nce(i1, i2, batch["pos"], tau)
        return {**terms, "loss": terms["loss"] + self.config.alpha * ssl, "ssl": ssl}
