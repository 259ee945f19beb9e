"""Loss functions. Each docstring names the paper equation it implements."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Paper eq. (7): $-\log\sigma(s^+ - s^-)$, averaged over the batch (``"mean"``, RecBole's
    and the baselines' form) or summed as the equation writes it (``"sum"``)."""
    losses = -F.logsigmoid(pos_scores - neg_scores)
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.mean()
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def l2_reg(*embeddings: torch.Tensor) -> torch.Tensor:
    r"""$\lambda\|\Theta\|_2^2$ term of eq. (8) on the batch's ego embeddings, as
    $\frac{1}{2B}\sum\|e\|^2$ (LightGCN's form: only parameters the batch touches)."""
    batch = embeddings[0].shape[0]
    return sum(e.pow(2).sum() for e in embeddings) / (2 * batch)


def false_negative_mask(users: torch.Tensor, items: torch.Tensor, dataset_or_lookup) -> torch.Tensor:
    r"""Eq. (3) as a ``[B, B]`` bool mask: ``M[i, j]`` is True when ``j != i`` and ``(u_i, v_j)`` is a
    TRAINING interaction, i.e. ``j`` is a false negative for anchor ``i`` and leaves its denominator.

    ``dataset_or_lookup`` is a [`ReviewDataset`][symcere_kit.data.dataset.ReviewDataset] (anything with
    ``train_csr``) or a callable ``lookup(users, items) -> bool tensor`` that broadcasts. For a dataset
    the mask is the sub-matrix ``train_csr[users][:, items]``, built on the CPU: 3-6 ms at B=2048 on
    Musical Instruments against ~250-480 ms for ``is_train_pair`` on the B*B broadcast keys (a binary
    search per pair). ``R`` holds training interactions only, so test interactions can never mask a
    negative (no leakage).
    """
    if hasattr(dataset_or_lookup, "train_csr"):
        sub = dataset_or_lookup.train_csr[users.cpu().numpy()][:, items.cpu().numpy()]
        mask = torch.from_numpy(sub.toarray() > 0).to(users.device)
    elif callable(dataset_or_lookup):
        found = dataset_or_lookup(users[:, None], items[None, :])
        mask = torch.as_tensor(found, dtype=torch.bool, device=users.device).clone()  # never write into it
    else:
        raise TypeError(f"expected a ReviewDataset or a callable lookup, got {type(dataset_or_lookup).__name__}")
    return mask.fill_diagonal_(False)


def _nce_direction(logits: torch.Tensor, drop: torch.Tensor | None) -> torch.Tensor:
    r"""$-\frac{1}{B}\sum_i [s_{ii} - \log\sum_{k \notin drop_i} \exp s_{ik}]$: cross-entropy
    against the diagonal with the dropped candidates set to $-\infty$ before ``logsumexp``."""
    if drop is not None:
        logits = logits.masked_fill(drop, float("-inf"))
    return (logits.logsumexp(1) - logits.diagonal()).mean()


def symmetric_nce_loss(g: torch.Tensor, t: torch.Tensor, tau: float, fn_mask: torch.Tensor | None = None,
                       t2g_mask: str = "same") -> torch.Tensor:
    r"""Cross-modal Symmetric NCE, eqs. (4)-(5): $\frac{1}{2}(L_{G\to T} + L_{T\to G})$.

    $L_{G\to T}$ takes anchor $g_i$, positive $t_i$ and candidates
    $t_k, k \in \{i\} \cup N_i$ (``fn_mask[i, k]`` False); $L_{T\to G}$ swaps the roles
    (logits transposed). ``g`` and ``t`` are used as given: the caller L2-normalises them (eq. 2), or
    not in the no-normalisation ablation. ``fn_mask=None`` (or all False) is CLIP's symmetric
    cross-entropy.

    The paper defines $N_i$ for G->T only. ``t2g_mask="same"`` (default) reuses ``M`` for T->G
    because $N_i$ is a property of the anchor interaction $(u_i, v_i)$, not of the
    modality that represents it: swapping anchor and positive does not change which interactions are
    true negatives of $i$. ``"transpose"`` uses ``M.T`` instead (drop $k$ when
    $(u_k, v_i)$ is known: the candidate's user interacted with the anchor's item).

    The diagonal is always kept ($i$ is in its own denominator), so every row's ``logsumexp``
    is finite and a row with every negative masked contributes exactly 0.
    """
    if t2g_mask not in ("same", "transpose"):
        raise ValueError(f"t2g_mask must be 'same' or 'transpose', got {t2g_mask!r}")
    logits = g @ t.T / tau
    g2t = t2g = None
    if fn_mask is not None:
        if fn_mask.shape != logits.shape:
            raise ValueError(f"fn_mask has shape {tuple(fn_mask.shape)}, expected {tuple(logits.shape)}")
        g2t = fn_mask.to(torch.bool, copy=True).fill_diagonal_(False)  # the caller's mask stays as it was
        t2g = g2t if t2g_mask == "same" else g2t.T
    return (_nce_direction(logits, g2t) + _nce_direction(logits.T, t2g)) / 2


def info_nce_loss(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    r"""Intra-modal InfoNCE between two augmented views, one term of eq. (6): anchor $a_i$,
    positive $b_i$, in-batch negatives $b_j, j \ne i$, one direction, mean over the batch.
    Unmasked, as the paper uses standard InfoNCE here: the positive is the same interaction under
    another augmentation, and every other row is a different interaction."""
    return F.cross_entropy(a @ b.T / tau, torch.arange(len(a), device=a.device))


def node_info_nce(z1: torch.Tensor, z2: torch.Tensor, rows: torch.Tensor, tau: float,
                  reduction: str = "sum") -> torch.Tensor:
    r"""SGL's InfoNCE between two graph views (Wu et al. 2021, eq. 10), as its reference code and
    RecBole compute it: for each batch node $i$ in ``rows``, positive $z'_i$, negatives
    EVERY node of the second view, cosine similarities over ``tau``, SUMMED over the batch (``"mean"``:
    averaged, as SymCERE's node-level reading of eq. 6 weighs it like its other batch-mean terms)."""
    a = F.normalize(z1.index_select(0, rows), dim=-1)
    return F.cross_entropy(a @ F.normalize(z2, dim=-1).T / tau, rows, reduction=reduction)
