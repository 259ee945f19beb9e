"""Item-item k-nearest-neighbour graphs from item features (SMORE's and FREEDOM's modality graphs)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from .adjacency import inverse_sqrt, scipy_to_torch_csr

ROWS_PER_CHUNK = 4096  # bounds the dense similarity block to ROWS_PER_CHUNK x n_items


def knn_adjacency(features: torch.Tensor, k: int) -> torch.Tensor:
    r"""Top-``k`` cosine-similarity graph, symmetrically normalised: $D^{-1/2} S_k D^{-1/2}$.

    As SMORE's ``build_knn_normalized_graph(..., norm_type='sym')``: each item keeps its ``k`` most
    similar items (itself included, similarity 1) with the similarity as edge weight; $D$ is the
    row sum of the kept weights. The graph is directed (row i lists i's neighbours). Items whose
    feature vector is zero (no training review) get an empty row; a node with non-positive degree gets
    zero weights instead of a NaN. Similarities are computed ``ROWS_PER_CHUNK`` rows at a time, so
    memory stays linear in the number of items. Returns a CPU torch sparse CSR [n, n] matrix.
    """
    n = features.shape[0]
    if not 0 < k <= n:
        raise ValueError(f"k must be in [1, {n}] for {n} items, got {k}")
    unit = F.normalize(features.detach().float().cpu(), dim=-1)
    values, cols = [], []
    for rows in torch.arange(n).split(ROWS_PER_CHUNK):
        top = torch.topk(unit[rows] @ unit.T, k, dim=-1)
        values.append(top.values)
        cols.append(top.indices)
    val = torch.cat(values).numpy().astype(np.float64)
    col = torch.cat(cols).numpy()
    row = np.repeat(np.arange(n), k)
    val = val.ravel()
    val[~np.isfinite(val)] = 0.0
    deg = np.zeros(n)
    np.add.at(deg, row, val)
    inv_sqrt = inverse_sqrt(deg)
    weights = inv_sqrt[row] * val * inv_sqrt[col.ravel()]
    return scipy_to_torch_csr(sp.csr_matrix((weights, (row, col.ravel())), shape=(n, n)))
