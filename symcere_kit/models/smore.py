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
* loss: mean BPR + ``reg_weight`` x L2 of the batch's final embeddings + ``cl_weight`` x InfoNCE
  (``cl_tau``) between side and behaviour views of the batch's positive items and of its users.

What needs two modalities has no text-only counterpart and is dropped: the cross-modal fusion spectrum (text x image)
and the max-pooled fusion graph. The attention query, which SMORE computes from the fusion view, is computed from the
text view itself. Hyper-parameters: [`SMORESettings`][symcere_kit.models.smore.SMORESettings]. Its lr schedule (x0.96
every 50 epochs) changes nothing within our epoch budgets and is left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import Range
from ..graph.adjacency import user_item_propagation
from ..graph.knn import knn_adjacency
from ..graph.lightgcn import LightGCNEncoder
from ..losses import bpr_loss, info_nce_loss, l2_reg
from ..recommender.base import Recommender
from ..recommender.graph_bpr import RECBOLE_LR, GraphSettings
from ..text import text_encoder_from_config
from ..text.settings import TextModelSettings

ITEM_GRAPH_LAYERS = 1  # SMORE's n_layers
OFFICIAL = "the official SMORE config (github.com/kennethorq/SMORE)"


@dataclass(frozen=True)
class SMORESettings(TextModelSettings, GraphSettings):
    """SMORE's settings: the text encoder's and the graph models', plus the item kNN graph, the InfoNCE weight and
    temperature and the preference-gate dropout."""

    n_layers: int = 3  # user-item LightGCN layers: from the official config's grid
    knn_k: int = 10  # neighbours per item in the item-item text graph: the official grid's k
    cl_weight: float = 0.01  # InfoNCE weight: the official config's cl_loss
    cl_tau: float = 0.2  # InfoNCE temperature: the official config's
    dropout: float = 0.1  # preference-gate dropout: from the official config's grid
    POSITIVE: ClassVar[frozenset[str]] = frozenset({"knn_k", "cl_tau"})
    NON_NEGATIVE: ClassVar[frozenset[str]] = frozenset({"cl_weight", "dropout"})
    # The official lr 0.001; 150 epochs chosen on the validation slice of Musical Instruments (seed 0,
    # NDCG@10 at 20/40/60/100/150 epochs: .0313/.0333/.0424/.0720/.0737).
    LOOP: ClassVar[dict] = {"lr": 0.001, "epochs": 150}
    SEARCH_SPACE: ClassVar[dict] = {
        "lr": RECBOLE_LR,
        "cl_weight": Range(0.001, 0.1, log=True, source="one decade either side of " + OFFICIAL + "'s 0.01"),
        "cl_tau": Range(0.05, 1.0, log=True, source="around " + OFFICIAL + "'s 0.2, SGL's range above it"),
        "knn_k": Range(5, 20, integer=True, source="around " + OFFICIAL + "'s 10"),
        "reg_weight": Range(1e-5, 1e-2, log=True, source="RecBole 1.2.1 docs, LightGCN reg_weight 1e-5 .. 1e-2"),
    }
    # Run records before per-model settings used the shared names.
    LEGACY_NAMES: ClassVar[dict] = {"alpha": "cl_weight", "tau": "cl_tau", "message_dropout": "dropout"}


def item_text_features(dataset, settings, progress: bool = True) -> torch.Tensor:
    """[n_items, text_dim]: mean embedding of each item's TRAINING reviews (zeros where it has none)."""
    encoder = text_encoder_from_config(settings, mode="frozen")
    reviews = encoder.encode(dataset.train_texts, progress=progress)
    items = torch.from_numpy(dataset.train["item"].to_numpy(dtype=np.int64, copy=True))
    total = torch.zeros(dataset.n_items, reviews.shape[1]).index_add_(0, items, reviews)
    count = torch.bincount(items, minlength=dataset.n_items).clamp_min(1).unsqueeze(1)
    return total / count


def _gate(d: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d, d), nn.Sigmoid())


class SMORE(Recommender):
    """SMORE (Ong & Khong, WSDM 2025), text-only as the SymCERE paper adapts it: dot-product scores of the behaviour
    view plus the text side view."""

    Settings = SMORESettings

    def __init__(self, dataset, settings: SMORESettings, progress: bool = True, features: torch.Tensor | None = None):
        super().__init__(dataset, settings)
        d = settings.embedding_dim
        features = item_text_features(dataset, settings, progress) if features is None else features
        self.text_features = nn.Parameter(
            features.float().clone()
        )  # fine-tuned, as SMORE's from_pretrained(freeze=False)
        self.register_buffer("adj", dataset.norm_adjacency(), persistent=False)
        self.register_buffer(
            "item_adj", knn_adjacency(features, min(settings.knn_k, dataset.n_items)), persistent=False
        )
        self.register_buffer("user_items", user_item_propagation(dataset.train_csr), persistent=False)
        self.encoder = LightGCNEncoder(self.n_users, self.n_items, d, settings.n_layers)
        self.text_proj = nn.Linear(features.shape[1], d)
        self.spectrum = nn.Parameter(torch.randn(d // 2 + 1, 2))  # complex filter, as (real, imag)
        self.gate_text = _gate(d)
        self.query_text = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, d, bias=False))
        self.gate_prefer = _gate(d)
        self.dropout = nn.Dropout(settings.dropout)

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
        """(user [n_users, d], item [n_items, d]) embeddings: the behaviour view plus the side view."""
        content, side = self.views()
        return (content + side).split([self.n_users, self.n_items])

    def batch_loss(self, batch):
        """Mean BPR + ``reg_weight`` x L2 of the batch's final embeddings + ``cl_weight`` x InfoNCE (``cl_tau``)
        between the side and behaviour views of the batch's positive items and of its users."""
        self._cache = None
        content, side = self.views()
        users, items = (content + side).split([self.n_users, self.n_items])
        u = users.index_select(0, batch["user"])
        p, n = items.index_select(0, batch["pos"]), items.index_select(0, batch["neg"])
        bpr = bpr_loss((u * p).sum(-1), (u * n).sum(-1))
        reg = l2_reg(u, p, n)
        tau = self.settings.cl_tau
        item_rows = self.n_users + batch["pos"]
        cl = (info_nce_loss(*(F.normalize(v.index_select(0, item_rows), dim=-1) for v in (side, content)), tau)
              + info_nce_loss(*(F.normalize(v.index_select(0, batch["user"]), dim=-1) for v in (side, content)), tau))
        return {
            "loss": bpr + self.settings.reg_weight * reg + self.settings.cl_weight * cl,
            "bpr": bpr,
            "reg": reg,
            "cl": cl,
        }

    @torch.no_grad()
    def prepare_scoring(self):
        """Cache the final (user, item) embeddings for ``score``."""
        self._cache = self.embeddings()


MODEL = SMORE
