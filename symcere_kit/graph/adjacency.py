"""Sparse graph maths shared by every graph model: the normalised bipartite adjacency of LightGCN/NGCF,
SMORE's user-item propagation matrix and the torch CSR form every sparse matmul here uses."""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch


def normalized_bipartite_adjacency(r: sp.csr_matrix) -> torch.Tensor:
    """LightGCN/NGCF propagation matrix (He et al. 2020, eq. 7) as torch sparse CSR float32."""
    n_users, n_items = r.shape
    a = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    d = sp.diags(inverse_sqrt(np.asarray(a.sum(axis=1)).ravel()))
    return scipy_to_torch_csr(d @ a @ d)


class _SymmetricSpMM(torch.autograd.Function):
    """``adj @ x`` whose backward reuses ``adj``: for a symmetric ``adj``, d(adj x)/dx applied to g is
    adj^T g = adj g. torch's own backward builds adj^T as a new CSR each step (a sort of every stored
    entry): a third of a LightGCN step at 630 k training interactions. Same result bit for bit, since a
    symmetric CSR with sorted indices is its own transpose, entry for entry."""

    @staticmethod
    def forward(ctx, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adj = adj
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, torch.sparse.mm(ctx.adj, grad)


def symmetric_spmm(adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``adj @ x`` for a symmetric sparse CSR ``adj`` [n, n] (``normalized_bipartite_adjacency`` and its
    edge-dropout views) and dense ``x`` [n, d], with a backward that needs no transpose. No gradient flows
    to ``adj``."""
    return _SymmetricSpMM.apply(adj, x)


def inverse_sqrt(deg: np.ndarray) -> np.ndarray:
    """The diagonal of $D^{-1/2}$ (same dtype as ``deg``): zero where a node has no weight."""
    out = np.zeros_like(deg)
    out[deg > 0] = deg[deg > 0] ** -0.5
    return out


def scipy_to_torch_csr(a: sp.spmatrix) -> torch.Tensor:
    """A scipy sparse matrix as torch sparse CSR float32 (sorted indices), the form every spmm here uses."""
    a = sp.csr_matrix(a, dtype=np.float32)
    a.sort_indices()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": we rely only on spmm
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(a.indptr.astype(np.int64)),
            torch.from_numpy(a.indices.astype(np.int64)),
            torch.from_numpy(a.data),
            size=a.shape,
            check_invariants=False,
        )


def user_item_propagation(train_csr: sp.csr_matrix) -> torch.Tensor:
    """The user rows of the normalised bipartite adjacency, $D_u^{-1/2} R D_i^{-1/2}$ [users, items]."""
    r = sp.csr_matrix(train_csr, dtype=np.float64)
    d_u = inverse_sqrt(np.asarray(r.sum(axis=1)).ravel())
    d_i = inverse_sqrt(np.asarray(r.sum(axis=0)).ravel())
    return scipy_to_torch_csr(sp.diags(d_u) @ r @ sp.diags(d_i))
