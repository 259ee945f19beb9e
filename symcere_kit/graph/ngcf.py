"""NGCF encoder (Wang et al. SIGIR 2019) as a torch-geometric ``MessagePassing`` layer.

Faithful to RecBole 1.2.1 (``general_recommender/ngcf.py`` + ``layers.BiGNNLayer``), which the
paper used for its baselines:

* one layer is ``LeakyReLU(W1 (L e + e) + W2 ((L e) * e))`` with slope 0.2; W1 and W2 are
  ``nn.Linear`` layers WITH biases (RecBole's two ``nn.Linear``; both biases start at 0);
* after each layer: message dropout (``nn.Dropout``), then row-wise L2 normalisation; the
  NORMALISED, dropped-out output feeds the next layer (RecBole; the original TF code instead
  propagated the un-normalised output and normalised only the stored copy);
* the result concatenates all layers ``[e0 | e1 | ... | eK]`` (``e0`` not normalised);
* initialisation: ``xavier_normal_`` on the W weights, and on the user and item embedding
  tables as two separate tables (RecBole has ``user_embedding`` and ``item_embedding``; here one
  ``(n_users+n_items, dim)`` table like ``LightGCNEncoder``, so ``ego=`` views work the same way,
  with each block drawn at its own table's xavier std).
* node dropout (RecBole's ``node_dropout``, default 0.0) is not implemented; for graph
  augmentation use ``graph.augment.edge_dropout_adjacency`` and pass the result as ``adj``.

``L`` is the same precomputed CSR ``D^-1/2 A D^-1/2`` LightGCN uses (``ReviewDataset.norm_adjacency``);
RecBole adds 1e-7 to degrees, which only matters for isolated nodes (their rows are zero either way).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import spmm

from .adjacency import symmetric_spmm


class NGCFConv(MessagePassing):
    r"""One NGCF embedding-propagation layer (Wang et al. 2019, eqs. 3-4 and matrix form eq. 7):


    $$
    m_{u \leftarrow i} = p_{ui}\,\big(W_1 e_i + W_2 (e_i \odot e_u)\big),\quad
    m_{u \leftarrow u} = W_1 e_u,\quad
    e_u' = \mathrm{LeakyReLU}\Big(m_{u \leftarrow u} + \sum_{i \in N_u} m_{u \leftarrow i}\Big)
    $$

    with $p_{ui} = 1/\sqrt{|N_u||N_i|}$; in matrix form, with $L = D^{-1/2} A D^{-1/2}$,


    $$
    E' = \mathrm{LeakyReLU}\big((L E + E) W_1 + ((L E) \odot E) W_2\big) \; (+\ b_1 + b_2)
    $$

    (W1, W2 linear in the messages, so the neighbour sum is one sparse product ``L E``). ``adj``
    is the symmetric normalised adjacency as a torch sparse (CSR) tensor: ``message_and_aggregate``
    does one spmm. An ``edge_index`` with ``edge_weight`` (= p_ui) also works through ``message``.
    """

    def __init__(self, in_dim: int, out_dim: int, negative_slope: float = 0.2, bias: bool = True):
        super().__init__(aggr="add")
        self.negative_slope = negative_slope
        self.lin1 = nn.Linear(in_dim, out_dim, bias=bias)  # W1: "sum" part (L + I) E
        self.lin2 = nn.Linear(in_dim, out_dim, bias=bias)  # W2: bi-interaction part (L E) * E
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise W1 and W2 as RecBole does: ``xavier_normal_`` weights, zero biases."""
        super().reset_parameters()
        for lin in (self.lin1, self.lin2):  # RecBole's xavier_normal_initialization
            nn.init.xavier_normal_(lin.weight)
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)

    def forward(self, x: Tensor, adj: Adj, edge_weight: OptTensor = None) -> Tensor:
        """One layer on node embeddings ``x`` [n_nodes, in_dim]: LeakyReLU(W1 (L x + x) + W2 ((L x) * x)),
        shape [n_nodes, out_dim]."""
        side = self.propagate(adj, x=x, edge_weight=edge_weight)  # L E
        out = self.lin1(side + x) + self.lin2(side * x)
        return F.leaky_relu(out, self.negative_slope)

    def message(self, x_j: Tensor, edge_weight: OptTensor) -> Tensor:
        """A neighbour's embedding scaled by its edge weight p_ui (unscaled without weights)."""
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

    def message_and_aggregate(self, adj_t: Adj, x: Tensor) -> Tensor:
        """The neighbour sum ``L x`` as one sparse product (the symmetric spmm for a CSR ``L``)."""
        if isinstance(adj_t, Tensor) and adj_t.layout == torch.sparse_csr:
            return symmetric_spmm(adj_t, x)  # L is symmetric, so adj_t == adj: no transpose in the backward
        return spmm(adj_t, x, reduce=self.aggr)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.lin1.in_features}, {self.lin1.out_features})"


class NGCFEncoder(nn.Module):
    r"""NGCF graph encoder with ``LightGCNEncoder``'s interface: ``forward(adj, ego=None)`` returns
    ``(user_emb, item_emb)`` of width ``out_dim = dim * (n_layers + 1)``:


    $$
    e^{(k+1)} = \mathrm{normalize}\Big(\mathrm{dropout}\big(\mathrm{LeakyReLU}(
        W_1^{(k)} (L e^{(k)} + e^{(k)}) + W_2^{(k)} ((L e^{(k)}) \odot e^{(k)}))\big)\Big),\qquad
    g = [e^{(0)} \,|\, e^{(1)} \,|\, \cdots \,|\, e^{(K)}]
    $$

    Defaults follow RecBole's NGCF.yaml: ``dim`` 64, 3 layers of width 64 (``hidden_size_list``),
    ``message_dropout`` 0.1. Dropout is active only in ``train()`` mode.
    """

    def __init__(self, n_users: int, n_items: int, dim: int = 64, n_layers: int = 3,
                 message_dropout: float = 0.1, negative_slope: float = 0.2):
        super().__init__()
        self.n_users, self.n_items, self.n_layers, self.dim = n_users, n_items, n_layers, dim
        self.embedding = nn.Embedding(n_users + n_items, dim)
        self.convs = nn.ModuleList(NGCFConv(dim, dim, negative_slope) for _ in range(n_layers))
        self.dropout = nn.Dropout(message_dropout)
        self.out_dim = dim * (n_layers + 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the user and item tables (xavier normal, each at its own table's std) and every layer."""
        with torch.no_grad():  # xavier_normal_ of separate (n_users, dim) and (n_items, dim) tables
            for block in (self.embedding.weight[: self.n_users], self.embedding.weight[self.n_users :]):
                if len(block):
                    block.normal_(0.0, math.sqrt(2.0 / (block.shape[0] + block.shape[1])))
        for conv in self.convs:
            conv.reset_parameters()

    def forward(self, adj: Tensor, ego: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return (user, item) embeddings; ``ego`` overrides layer-0 embeddings (e.g. for views)."""
        x = self.embedding.weight if ego is None else ego
        layers = [x]
        for conv in self.convs:
            x = F.normalize(self.dropout(conv(x, adj)), p=2, dim=1)
            layers.append(x)
        out = torch.cat(layers, dim=1)
        return out[: self.n_users], out[self.n_users :]
