"""Graph augmentations for contrastive views (SGL, Wu et al. 2021; SymCERE eq. 6's graph view)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from .adjacency import normalized_bipartite_adjacency


def edge_dropout_adjacency(train_csr: sp.csr_matrix, p: float, generator: torch.Generator) -> torch.Tensor:
    r"""SGL's edge dropout (ED): $s(\mathcal G) = (\mathcal V, M \odot \mathcal E)$.

    Every user-item training interaction is dropped with probability ``p``; as in SGL's code (and
    RecBole's ``SGL.create_adjust_matrix``), exactly ``int(nnz * (1 - p))`` interactions, chosen
    uniformly without replacement, are kept. An interaction is one undirected edge, so both
    directions go together and the view stays symmetric. The kept interactions are renormalised
    with ``normalized_bipartite_adjacency`` (degrees of the view, isolated nodes get zero rows).

    Returns a CPU torch sparse CSR ``(n_users+n_items)^2`` matrix; the draw depends only on
    ``generator`` (a seeded ``torch.Generator`` gives the same view every time).
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"edge dropout probability must be in [0, 1), got {p}")
    coo = train_csr.tocoo()
    n_keep = int(coo.nnz * (1.0 - p))
    keep = torch.randperm(coo.nnz, generator=generator)[:n_keep].sort().values.numpy()
    kept = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=train_csr.shape, dtype=np.float32)
    return normalized_bipartite_adjacency(kept)
