"""SymCERE (paper section 3): a graph encoder and a text encoder aligned on the unit hypersphere.

Per batch of training interactions (u, v) with their reviews r_uv:
  g_uv = (g_u + g_v) / 2 from the graph encoder (eq. 1), t_uv = f_text(r_uv) projected to the
  graph's width, both L2-normalised (eq. 2), then
  L = L_cross (symmetric NCE without in-batch false negatives, eqs. 3-5)
      + alpha * (InfoNCE(g, g') + InfoNCE(t, t'))   (eq. 6: edge-dropout and word-masking views)
      + beta * BPR on the normalised graph embeddings (eq. 7) + lambda * L2 (eq. 8).
Eq. 7 sums BPR over the batch where eq. 4 averages (``bpr_reduction="sum"``, the default): with
beta 0.05 and batch 2048 ranking carries ~100x a batch-mean term. Taken as a mean instead, the
cross-modal term dominates and ranking falls below MostPop on Musical Instruments (see the issue note).
Ranking scores come from the graph embeddings alone (cosine when normalised): a test-time review
does not exist yet.

Ablations: ``normalize=False`` ("w/o Norm") uses raw vectors everywhere; ``fn_mask=False``
("InfoNCE w/ Norm") keeps every in-batch negative.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import SymcereError
from ..graph.augment import edge_dropout_adjacency
from ..losses import bpr_loss, false_negative_mask, info_nce_loss, symmetric_nce_loss
from .base import Recommender
from .graph_bpr import batch_ego_l2
from .lightgcn import LightGCN
from .ngcf import NGCF
from .text_side import TextSide


_BACKBONES = {"lightgcn": LightGCN, "ngcf": NGCF}


def build_graph_encoder(backbone: str, dataset, config):
    """The same encoder the LightGCN/NGCF baselines train; its ``out_dim`` sizes the text projection."""
    if backbone not in _BACKBONES:
        raise SymcereError(f"Unknown graph backbone {backbone!r}; choose {' or '.join(_BACKBONES)}.")
    return _BACKBONES[backbone].build_encoder(dataset, config)


class SymCERE(Recommender):
    encodes_text = True  # build_model passes ``progress`` (the review-encoding bar)

    def __init__(self, dataset, config, progress: bool = True):
        super().__init__(dataset, config)
        if config.bpr_reduction not in ("sum", "mean"):
            raise SymcereError(f"bpr_reduction must be 'sum' or 'mean', got {config.bpr_reduction!r}.")
        self.dataset = dataset
        self.graph = build_graph_encoder(config.backbone, dataset, config)
        self.text = TextSide(dataset, config, out_dim=self.graph.out_dim, progress=progress)
        self.register_buffer("adj", dataset.norm_adjacency(), persistent=False)
        self.view_adj: torch.Tensor | None = None

    def param_groups(self) -> list[dict]:
        text = self.text.lora_parameters()
        ids = {id(p) for p in text}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in ids]
        return [{"params": rest}] + ([{"params": text, "lr": self.config.text_lr}] if text else [])

    def on_epoch_start(self, generator: torch.Generator) -> None:
        """A fresh edge-dropout view of the training graph each epoch (SGL's schedule)."""
        self.text.on_epoch_start(generator)
        if self.config.alpha > 0 and self.config.edge_dropout > 0:
            view = edge_dropout_adjacency(self.dataset.train_csr, self.config.edge_dropout, generator)
            self.view_adj = view.to(self.adj.device)

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) if self.config.normalize else x

    def batch_loss(self, batch):
        cfg, self._cache = self.config, None
        users, items = self.graph(self.adj)
        u, pos, neg = batch["user"], batch["pos"], batch["neg"]
        # index_select, not users[u]: its backward is deterministic on multi-threaded CPU (see graph_bpr)
        eu, ep, en = users.index_select(0, u), items.index_select(0, pos), items.index_select(0, neg)
        g = self._norm((eu + ep) / 2)
        t = self._norm(self.text(batch["index"]))
        mask = false_negative_mask(u, pos, self.dataset) if cfg.fn_mask else None
        cross = symmetric_nce_loss(g, t, cfg.tau, mask, cfg.t2g_mask)
        terms = {"cross": cross}
        loss = cross
        if cfg.alpha > 0:
            view_users, view_items = self.graph(self.view_adj if self.view_adj is not None else self.adj)
            g_view = self._norm((view_users.index_select(0, u) + view_items.index_select(0, pos)) / 2)
            t_view = self._norm(self.text.masked(batch["index"]))
            intra = info_nce_loss(g, g_view, cfg.tau) + info_nce_loss(t, t_view, cfg.tau)
            terms["intra"] = intra
            loss = loss + cfg.alpha * intra
        eu, ep, en = self._norm(eu), self._norm(ep), self._norm(en)
        bpr = bpr_loss((eu * ep).sum(-1), (eu * en).sum(-1), cfg.bpr_reduction)
        reg = batch_ego_l2(self.graph.embedding.weight, self.n_users, batch)
        loss = loss + cfg.beta * bpr + cfg.reg_weight * reg
        return {"loss": loss, **terms, "bpr": bpr, "reg": reg}

    @torch.no_grad()
    def prepare_scoring(self):
        users, items = self.graph(self.adj)
        self._cache = (self._norm(users), self._norm(items))
