"""Hypersphere geometry (paper section 6.1, Table 4, Figure 4, and Figure 3's mechanism measured).

* ``similarity_stats``: the distribution of pairwise cosine similarities (Table 4's columns).
* ``dimension_variance``: per-dimension variance of the unit-normalised embeddings (Figure 4).
* ``alignment`` / ``uniformity``: Wang & Isola (2020), on unit vectors.
* ``item_spread``: per item, how tightly its interactions' embeddings sit around their centroid
  (mean angle to it) and each embedding's share along the centroid direction, lambda_obj of eq. 9
  (the cosine to the centroid, since ||t|| = 1 splits into lambda_obj^2 + lambda_subj^2 = 1).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..errors import SymcereError
from .embeddings import RunEmbeddings

STAT_COLUMNS = ["mean", "std", "min", "25%", "75%", "max"]


def _sample_rows(x: torch.Tensor, n: int | None, seed: int) -> torch.Tensor:
    if n is None or len(x) <= n:
        return x
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]


def pairwise_cosines(x: torch.Tensor, max_rows: int | None = 4000, seed: int = 0) -> np.ndarray:
    """Cosine similarity of every unordered pair of rows (self-pairs excluded) of up to ``max_rows``
    rows drawn with ``seed``: 4,000 rows give ~8M pairs, enough for stable quantiles."""
    if x.ndim != 2 or len(x) < 2:
        raise SymcereError(f"Pairwise similarities need at least two embeddings, got shape {tuple(x.shape)}.")
    z = F.normalize(_sample_rows(x.float(), max_rows, seed), dim=-1)
    sims = z @ z.T
    i, j = torch.triu_indices(len(z), len(z), offset=1)
    return sims[i, j].numpy()


def similarity_stats(x: torch.Tensor, max_rows: int | None = 4000, seed: int = 0) -> dict[str, float]:
    """Table 4: mean, std, min, 25 %, 75 % and max of the pairwise cosine similarities."""
    s = pairwise_cosines(x, max_rows, seed)
    q25, q75 = np.quantile(s, [0.25, 0.75])
    return dict(zip(STAT_COLUMNS, map(float, (s.mean(), s.std(), s.min(), q25, q75, s.max()))))


def dimension_variance(x: torch.Tensor) -> np.ndarray:
    """Variance of each coordinate over the rows of the L2-normalised embeddings (Figure 4).

    On the unit sphere the variances sum to 1 - ||mean||^2, so the histogram shows how evenly the
    available spread is used across dimensions (a collapsed space puts it in a few)."""
    return F.normalize(x.float(), dim=-1).var(dim=0, unbiased=False).numpy()


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0) -> float:
    """E ||f(x) - f(y)||^alpha over positive pairs (rows of x and y), on unit vectors; lower is better."""
    if x.shape != y.shape:
        raise SymcereError(f"Alignment needs paired rows, got shapes {tuple(x.shape)} and {tuple(y.shape)}.")
    d = F.normalize(x.float(), dim=-1) - F.normalize(y.float(), dim=-1)
    return float(d.norm(dim=-1).pow(alpha).mean())


def uniformity(x: torch.Tensor, t: float = 2.0, max_rows: int | None = 4000, seed: int = 0) -> float:
    """log E exp(-t ||f(x) - f(y)||^2) over distinct pairs, on unit vectors; lower is more uniform."""
    z = F.normalize(_sample_rows(x.float(), max_rows, seed), dim=-1)
    sq = torch.pdist(z).pow(2)
    return float(torch.logsumexp(-t * sq, dim=0) - np.log(len(sq)))


def item_spread(x: torch.Tensor, items: np.ndarray, min_interactions: int = 2) -> pd.DataFrame:
    """Per item with at least ``min_interactions`` rows in ``x`` (e.g. its reviews' t_uv): n, the mean
    angle (degrees) of its unit embeddings to their centroid direction, and lambda_obj: the mean
    cosine to that direction (1 = every embedding on the centroid, Figure 3c's limit)."""
    if len(x) != len(items):
        raise SymcereError(f"item_spread: {len(x)} embeddings but {len(items)} item ids.")
    z = F.normalize(x.float(), dim=-1)
    idx = torch.tensor(np.asarray(items), dtype=torch.long)
    n_items = int(idx.max()) + 1 if len(idx) else 0
    counts = torch.bincount(idx, minlength=n_items)
    centroid = torch.zeros(n_items, z.shape[1]).index_add_(0, idx, z)
    direction = F.normalize(centroid, dim=-1)
    cos = (z * direction[idx]).sum(-1).clamp(-1, 1)
    mean_cos = torch.zeros(n_items).index_add_(0, idx, cos) / counts.clamp_min(1)
    mean_angle = torch.zeros(n_items).index_add_(0, idx, torch.rad2deg(torch.arccos(cos))) / counts.clamp_min(1)
    keep = (counts >= min_interactions).numpy()
    return pd.DataFrame({"item": np.flatnonzero(keep), "n": counts.numpy()[keep],
                         "mean_angle_deg": mean_angle.numpy()[keep], "lambda_obj": mean_cos.numpy()[keep]})


def similarity_table(runs: dict[str, RunEmbeddings], spaces=("interactions", "text"),
                     max_rows: int | None = 4000, seed: int = 0) -> pd.DataFrame:
    """Table 4 for several runs (e.g. SymCERE w/ and w/o Norm): one row per run and embedding space,
    with the uniformity of that space and, for SymCERE, the graph-text alignment of its interactions."""
    rows = []
    for label, emb in runs.items():
        for space in spaces:
            x = getattr(emb, space)
            if x is None:
                continue
            row = {"run": label, "space": space, **similarity_stats(x, max_rows, seed),
                   "uniformity": uniformity(x, max_rows=max_rows, seed=seed)}
            if emb.text is not None:
                row["alignment_g_t"] = alignment(emb.interactions, emb.text)
            rows.append(row)
    return pd.DataFrame(rows)
