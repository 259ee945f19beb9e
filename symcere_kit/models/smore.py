"""SMORE (Ong & Khong, WSDM 2025), text-only, as the SymCERE paper adapts it (section 4.1.3).

Item features are "encoded early": every TRAINING review is embedded by the same text encoder as
SymCERE (frozen, its cache shared) and an item's feature is the mean of its reviews' embeddings;
an item without a training review gets a zero feature. Following the official code
(github.com/kennethorq/SMORE, ``src/models/smore.py``), with its image branch removed:

* spectrum denoising: the projected text features are filtered in the frequency domain,
  ``irfft(rfft(x) * w)`` with a learnable complex ``w``, then gate the item ID embeddings;
* the gated item embeddings propagate one layer over a top-``knn_k`` cosine item-item text graph
  (``graph.knn_adjacency``), users aggregate them through the normalised user-item matrix;
* the behaviour view is LightGCN over the user-item graph (``n_layers``, mean over layers);
* modality-aware preference: the text view weighted by a softmax attention and by a sigmoid gate of
  the behaviour view (with dropout) is added to the behaviour view;
* loss: mean BPR + ``reg_weight`` x L2 of the batch's final embeddings + ``alpha`` x InfoNCE
  (``tau``) between side and behaviour views of the batch's positive items and of its users.

What needs two modalities has no text-only counterpart and is dropped: the cross-modal fusion
spectrum (text x image) and the max-pooled fusion graph. The attention query, which SMORE computes
from the fusion view, is computed from the text view itself. Hyper-parameters are the official
config's (64 dims, lr 0.001, cl weight 0.01, tau 0.2, one item-item layer); from its grids we take
3 user-item layers, k = 10, reg 1e-4, dropout 0.1. Its lr schedule (x0.96 every 50 epochs) changes
nothing within our epoch budgets and is left out.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from ..data.dataset import inverse_sqrt, scipy_to_torch_csr
from ..graph.knn import knn_adjacency
from ..graph.lightgcn import LightGCNEncoder
from ..losses import bpr_loss, info_nce_loss, l2_reg
from .base import Recommender

ITEM_GRAPH_LAYERS = 1  # SMORE's n_layers


def item_text_features(dataset, config, progress: bool = True) -> torch.Tensor:
    """[n_items, text_dim]: mean embedding of each item's TRAINING reviews (zeros where it has none)."""
    from ..text import text_encoder_from_config

    encoder = text_encoder_from_config(config, mode="frozen")
    reviews = encoder.encode(dataset.train_texts, progress=progress)
    items = torch.from_numpy(dataset.train["item"].to_numpy(dtype=np.int64, copy=True))
    total = torch.zeros(dataset.n_items, reviews.shape[1]).index_add_(0, items, reviews)
    count = torch.bincount(items, minlength=dataset.n_items).clamp_min(1).unsqueeze(1)
    return total / count


def user_item_propagation(train_csr: sp.csr_matrix) -> torch.Tensor:
    """The user rows of the normalised bipartite adjacency, :math:`D_u^{-1/2} R D_i^{-1/2}` [users, items]."""
    r = sp.csr_matrix(train_csr, dtype=np.float64)
    d_u = inverse_sqrt(np.asarray(r.sum(axis=1)).ravel())
    d_i = inverse_sqrt(np.asarray(r.sum(axis=0)).ravel())
    return scipy_to_torch_csr(sp.diags(d_u) @ r @ sp.diags(d_i))


def _gate(d: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d, d), nn.Sigmoid())


class SMORE(Recommender):
    encodes_text = True  # build_model passes ``progress`` (the review-encoding bar)

    def __init__(self, dataset, config, features: torch.Tensor | None = None, progress: bool = True):
        super().__init__(dataset, config)
        d = config.embedding_dim
        features = item_text_features(dataset, config, progress) if features is None else features
        self.text_features = nn.Parameter(features.float().clone())  # fine-tuned, as SMORE's from_pretrained(freeze=False)
        self.register_buffer("adj", dataset.norm_adjacency(), persistent=False)
        self.register_buffer("item_adj", knn_adjacency(features, min(config.knn_k, dataset.n_items)), persistent=False)
        self.register_buffer("user_items", user_item_propagation(dataset.train_csr), persistent=False)
        self.encoder = LightGCNEncoder(self.n_users, self.n_items, d, config.n_layers)
        self.text_proj = nn.Linear(features.shape[1], d)
        self.spectrum = nn.Parameter(torch.randn(d // 2 + 1, 2))  # complex filter, as (real, imag)
        self.gate_text = _gate(d)
        self.query_text = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, d, bias=False))
        self.gate_prefer = _gate(d)
        self.dropout = nn.Dropout(config.message_dropout)

    def denoised_text(self) -> torch.Tensor:
        """SMORE's uni-modal spectrum convolution of the projected item text features."""
        x = self.text_proj(self.text_features)
        spectrum = torch.fft.rfft(x, dim=1, norm="ortho") * torch.view_as_complex(self.spectrum)
        return torch.fft.irfft(spectrum, n=x.shape[1], dim=1, norm="ortho")

    def views(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(behaviour view, side view), each [n_users + n_items, d]."""
        users, items = self.encoder(self.adj)
        content = torch.cat([users, items])
        text_items = self.encoder.embedding.weight[self.n_users:] * self.gate_text(self.denoised_text())
        for _ in range(ITEM_GRAPH_LAYERS):
            text_items = self.item_adj @ text_items
        text_view = torch.cat([self.user_items @ text_items, text_items])
        attended = torch.softmax(self.query_text(text_view), dim=-1) * text_view
        side = self.dropout(self.gate_prefer(content)) * attended
        return content, side

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        content, side = self.views()
        return (content + side).split([self.n_users, self.n_items])

    def batch_loss(self, batch):
        self._cache = None
        content, side = self.views()
        users, items = (content + side).split([self.n_users, self.n_items])
        u = users.index_select(0, batch["user"])
        p, n = items.index_select(0, batch["pos"]), items.index_select(0, batch["neg"])
        bpr = bpr_loss((u * p).sum(-1), (u * n).sum(-1))
        reg = l2_reg(u, p, n)
        tau = self.config.tau
        item_rows = self.n_users + batch["pos"]
        cl = (info_nce_loss(*(F.normalize(v.index_select(0, item_rows), dim=-1) for v in (side, content)), tau)
              + info_nce_loss(*(F.normalize(v.index_select(0, batch["user"]), dim=-1) for v in (side, content)), tau))
        return {"loss": bpr + self.config.reg_weight * reg + self.config.alpha * cl, "bpr": bpr, "reg": reg, "cl": cl}

    @torch.no_grad()
    def prepare_scoring(self):
        self._cache = self.embeddings()
