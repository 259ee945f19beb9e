"""The embeddings an analysis looks at, pulled from a trained model without training it further.

For SymCERE: the graph encoder's user and item outputs, g_uv = (g_u + g_v)/2 for every training
interaction (eq. 1) and the projected review embedding t_uv of the same interaction, all RAW (before
the eq. 2 normalisation), with a switch to view them the way the model compares them. Graph
baselines give users, items and g_uv; models whose scores are not dot products of one embedding
space (NeuMF, MostPop, the item-item EASE^R and RP3beta) have none and say so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import SymcereError


@dataclass
class RunEmbeddings:
    """One trained run's embeddings, all raw (before any L2 normalisation) and on the CPU, built by
    [`run_embeddings`][symcere_kit.analysis.embeddings.run_embeddings].

    ``users`` and ``items`` are the graph encoder's outputs; ``interactions`` holds g_uv = (g_u + g_v)/2 of
    every training interaction, in the order of ``train_users`` / ``train_items``; ``text`` holds the
    projected review embeddings t_uv of the same interactions (SymCERE only, else None).
    """

    label: str
    normalize: bool  # whether the model L2-normalises before comparing (False: the w/o Norm ablation)
    users: torch.Tensor  # [n_users, d] raw graph outputs
    items: torch.Tensor  # [n_items, d]
    interactions: torch.Tensor  # [n_train, d] raw g_uv of the interactions the model trained on, in order
    text: torch.Tensor | None  # [n_train, d] raw projected t_uv (SymCERE only)
    train_users: np.ndarray
    train_items: np.ndarray
    item_degree: np.ndarray  # training interactions per item

    def view(self, which: str = "interactions", normalized: bool | None = None) -> torch.Tensor:
        """``which`` in users | items | interactions | text, L2-normalised when ``normalized`` (default:
        as the model itself compares them)."""
        x = getattr(self, which)
        if x is None:
            raise SymcereError(f"{self.label} has no {which} embeddings (only SymCERE embeds reviews).")
        return F.normalize(x, dim=-1) if (self.normalize if normalized is None else normalized) else x


@torch.no_grad()
def run_embeddings(trained, text_batch: int = 1024) -> RunEmbeddings:
    """``RunEmbeddings`` of a ``TrainedRun`` (see ``symcere_kit.runs.load_run``)."""
    model, dataset = trained.model, trained.fit_data  # the rows it trained on
    model.eval()
    train = dataset.train
    text = None
    if hasattr(model, "graph") and hasattr(model, "text"):  # SymCERE
        users, items = model.graph(model.adj)
        rows = torch.arange(len(train))
        text = torch.cat([model.text(chunk) for chunk in rows.split(text_batch)]).float().cpu()
    elif hasattr(model, "embeddings"):  # LightGCN, NGCF, SGL, SMORE
        users, items = model.embeddings()
    else:
        raise SymcereError(
            f"{trained.label} ({trained.config.model}) scores through a network, popularity or an "
            f"item-item matrix, not one embedding space; geometry analyses need a graph model or SymCERE."
        )
    users, items = users.float().cpu(), items.float().cpu()
    u, i = train["user"].to_numpy(), train["item"].to_numpy()
    inter = (users[torch.tensor(u, dtype=torch.long)] + items[torch.tensor(i, dtype=torch.long)]) / 2
    normalize = bool(getattr(trained.config.settings, "normalize", False))  # only SymCERE compares on the sphere
    return RunEmbeddings(trained.label, normalize, users, items, inter, text, u, i, dataset.item_degree)
