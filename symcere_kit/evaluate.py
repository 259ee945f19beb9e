"""All-ranking top-K evaluation (paper section 4.1.2, RecBole's ``full`` mode).

For every user with at least one test item we rank all items the user did not interact with in
training (test items stay in), keep the top K and score binary relevance:

* HR@K        1 if any test item is in the top K.
* NDCG@K      DCG / IDCG with DCG = sum of 1/log2(r+2) over 0-based top-K positions r holding a test
              item and IDCG = sum_{r < min(|test|, K)} 1/log2(r+2).
* Recall@K    (#test items in the top K) / |test|  (RecBole's definition).
* Precision@K (#test items in the top K) / K.

Reported values are means over the evaluated users; cut-offs are de-duplicated and sorted.

Other protocols (``symcere_kit.protocols``: sampled ``uni<N>`` / ``pop<N>``, RecBole's leaky mask) reuse
this ranking with another mask: ``exclude`` (items ranked after every candidate; default the training
items) or ``candidates`` (the only items ranked; every other item is excluded). Under a candidate set a
test item's rank is the number of its user's candidates ahead of it in the order below, counted by
comparing it with each of them: a sampled protocol then costs about n_test x (N + 1) comparisons per user
on top of scoring, not an all-item top-K. Where those comparisons would outnumber the batch's scores (users
with many test items), or top lists are asked for, the candidates are ranked in a compact ``[B, C]`` frame
instead (C: the batch's longest candidate list); a top list then ends with -1 where it is longer than that
user's candidates. Both give the same hits.

Tie order (documented contract): items are ranked by score descending; equal scores are ranked by
lower item index first. Excluded (training) items are never ranked before a candidate, not even one
scored -inf; they only fill the tail of a top list whose K exceeds the number of candidates and never
count as hits (a pair in both train and test raises ``LeakageError``). Because the order is total
and every per-user number comes from the same row-wise operations, results are bit-identical for
any user batch size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from .errors import EmptyDatasetError, LeakageError, SymcereError, TrainingError
from .progress import progress_bar

ScoreFn = Callable[[torch.Tensor], torch.Tensor]
# A candidate set is ranked by pairwise comparisons while they number at most this many per batch score.
PAIRS_PER_SCORE = 1.0


@dataclass
class EvalResult:
    """Mean metrics plus the per-user rows that paired significance tests need."""

    metrics: dict[str, float]
    per_user: pd.DataFrame
    n_users: int
    topk: torch.Tensor | None = None

    def to_dict(self) -> dict:
        """The mean metrics with ``n_users``, as one flat dict."""
        return {**self.metrics, "n_users": self.n_users}


def topk_items(scores: torch.Tensor, k: int, exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Return the ``[B, min(k, I)]`` top item indices of ``scores`` ``[B, I]`` in the documented order.

    ``exclude`` (bool ``[B, I]``, True = never recommend) ranks those items after every candidate.
    ``torch.topk`` picks arbitrarily among equal scores, so we ask it for one extra item: if that
    item ties the K-th score in any row, a tied group straddles the cut and the batch's sets are
    re-picked by lowest index; otherwise topk's sets are already the unique answer and only need
    sorting into the tie order (the common case for continuous scores: no full sort is needed).
    """
    if k < 1:
        raise SymcereError(f"Top-K needs k >= 1, got k={k}.")
    _check_no_nan(scores)
    if not scores.is_floating_point():
        scores = scores.double()
    if exclude is not None:
        scores = scores.masked_fill(exclude, float("-inf"))
    n_items = scores.shape[1]
    k = min(k, n_items)
    if k == 0:
        return torch.empty(scores.shape[0], 0, dtype=torch.long, device=scores.device)
    top = torch.topk(scores, min(k + 1, n_items), dim=1)
    values, idx = top.values[:, :k], top.indices[:, :k]
    if k < n_items and (top.values[:, k] == values[:, -1]).any():
        idx = _repick_ties(scores, values, idx, exclude)
    return _order(scores, idx, exclude)


def _check_no_nan(scores: torch.Tensor) -> None:
    # amax propagates NaN (unlike sum, it is not fooled by +inf + -inf) and is ~7x cheaper than isnan().any()
    if scores.is_floating_point() and scores.numel() and torch.isnan(scores.amax()):
        bad_rows = torch.isnan(scores).any(dim=1).nonzero().flatten()[:5].tolist()
        raise TrainingError(
            f"Scores contain NaN (batch rows {bad_rows}...); the model has probably diverged. "
            "Check the training loss, lower the learning rate or the embedding initialisation."
        )


def _repick_ties(
    scores: torch.Tensor, values: torch.Tensor, idx: torch.Tensor, exclude: torch.Tensor | None
) -> torch.Tensor:
    """Exact top-k set: keep the items strictly above the K-th score (they lead ``idx``, which is
    sorted by score) and fill the remaining slots with the items tied at the K-th score, candidates
    first, then lowest index. Also right for rows without a straddling tie, so it runs on all rows."""
    n_items, k = scores.shape[1], idx.shape[1]
    threshold = values[:, -1:]
    n_above = (values > threshold).sum(dim=1, keepdim=True)
    tie = scores == threshold
    # key = level * I + (I - index): level 2 = tied candidate, 1 = tied excluded item (they sit at
    # -inf, so only tie at a -inf threshold), 0 = not tied. Levels dominate; lower index wins inside.
    level = tie.to(torch.int32)
    if exclude is not None and (threshold == float("-inf")).any():
        level += tie & ~exclude
    else:
        level *= 2
    key = level.mul_(n_items).add_(torch.arange(n_items, 0, -1, dtype=torch.int32, device=scores.device))
    tied = torch.topk(key, k, dim=1).indices
    slot = torch.arange(k, device=idx.device).expand_as(idx)
    return torch.where(slot < n_above, idx, tied.gather(1, (slot - n_above).clamp(min=0)))


def _order(scores: torch.Tensor, idx: torch.Tensor, exclude: torch.Tensor | None) -> torch.Tensor:
    """Sort a top-k set into (candidates first, score descending, index ascending) with stable sorts,
    least significant key first."""
    idx = torch.sort(idx, dim=1).values
    idx = idx.gather(1, torch.sort(scores.gather(1, idx), dim=1, descending=True, stable=True).indices)
    if exclude is not None:
        idx = idx.gather(1, torch.sort(exclude.gather(1, idx).to(torch.uint8), dim=1, stable=True).indices)
    return idx


def evaluate(
    score_fn: ScoreFn,
    train: sp.spmatrix,
    test: sp.spmatrix,
    ks: Sequence[int] = (10,),
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
    progress: bool = True,
    return_topk: bool = False,
    *,
    exclude: sp.spmatrix | None = None,
    candidates: sp.spmatrix | None = None,
) -> EvalResult:
    """All-ranking evaluation of ``score_fn(users[B]) -> scores[B, n_items]`` (see module docstring).

    ``train``/``test`` are ``(n_users, n_items)`` sparse matrices whose nonzeros are interactions;
    users without test items are skipped. Ranking runs on the device the scores come back on.
    ``exclude`` (default ``train``) or ``candidates`` (not both), same shape: the protocol's mask (module
    docstring). Raises ``LeakageError`` when a test item is excluded (it could never be a hit).
    """
    ks = _check_ks(ks)
    train, test = canonical_csr(train, "train"), canonical_csr(test, "test")
    if exclude is not None and candidates is not None:
        raise SymcereError("Give evaluate() an exclude mask or a candidate set, not both.")
    exclude = train if exclude is None else canonical_csr(exclude, "exclude")
    _check_split(exclude, test, overlap=candidates is None)  # a candidate set is the mask then (checked below)
    if candidates is not None:
        candidates = canonical_csr(candidates, "candidates")
        _check_candidates(candidates, test)
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    if users.size == 0:
        raise EmptyDatasetError("No user has a test item, so there is nothing to evaluate.")
    if batch_size < 1:
        raise SymcereError(f"Evaluation batch_size must be >= 1, got {batch_size}.")
    starts = range(0, users.size, batch_size)
    columns: list[dict[str, np.ndarray]] = []
    tops: list[torch.Tensor] = []
    for start in progress_bar(starts, desc="evaluate", unit="batch", enabled=progress):
        batch = users[start : start + batch_size]
        cols, top = _evaluate_batch(score_fn, batch, exclude, test, ks, device, candidates, return_topk)
        columns.append(cols)
        if return_topk:
            tops.append(top.cpu())
    per_user = pd.DataFrame({c: np.concatenate([b[c] for b in columns]) for c in columns[0]})
    metrics = {c: float(per_user[c].mean()) for c in per_user.columns[2:]}
    topk = torch.cat(tops) if return_topk else None
    return EvalResult(metrics=metrics, per_user=per_user, n_users=len(per_user), topk=topk)


def _check_ks(ks: Sequence[int] | int) -> list[int]:
    ks = [ks] if isinstance(ks, int) else list(ks)
    if not ks or any(int(k) != k or k < 1 for k in ks):
        raise SymcereError(f"Evaluation cut-offs must be positive integers, got ks={ks}.")
    return sorted({int(k) for k in ks})


def canonical_csr(m: sp.spmatrix, name: str = "interaction", binary: bool = False) -> sp.csr_matrix:
    """A copy of ``m`` as canonical CSR (duplicates summed, explicit zeros dropped), so that nonzero really
    means interaction.

    Args:
        m: a 2-D scipy.sparse matrix [n_users, n_items].
        name: what it holds, for the error message.
        binary: every stored value set to 1.0 (float32): a set of (user, item) pairs.

    Raises:
        SymcereError: ``m`` is not a 2-D scipy.sparse matrix.
    """
    if not sp.issparse(m) or m.ndim != 2:
        raise SymcereError(f"The {name} interactions must be a 2-D scipy.sparse matrix, got {type(m)}.")
    m = sp.csr_matrix(m, copy=True)
    m.sum_duplicates()
    m.eliminate_zeros()
    if binary:
        m.data = np.ones_like(m.data, dtype=np.float32)
    return m


def _check_split(train: sp.csr_matrix, test: sp.csr_matrix, overlap: bool = True) -> None:
    if train.shape != test.shape:
        raise SymcereError(
            f"Train and test matrices must share one (n_users, n_items) shape, got {train.shape} "
            f"and {test.shape}; build both from the same user and item index."
        )
    if not overlap:
        return
    overlap = train.astype(bool).multiply(test.astype(bool)).tocoo()
    if overlap.nnz:
        raise LeakageError(
            f"{overlap.nnz} (user, item) pairs are both train and test interactions, e.g. user "
            f"{overlap.row[0]} item {overlap.col[0]}; all-ranking evaluation would exclude them. "
            "Rebuild the split so that each interaction is on one side only."
        )


def _check_candidates(candidates: sp.csr_matrix, test: sp.csr_matrix) -> None:
    if candidates.shape != test.shape:
        raise SymcereError(f"The candidate set must have the test matrix's shape {test.shape}, got {candidates.shape}.")
    inside = test.multiply(candidates).nnz  # both canonical with explicit zeros dropped: nonzero = present
    if inside != test.nnz:
        outside = test.astype(bool) > candidates.astype(bool)
        row, col = outside.nonzero()
        raise SymcereError(
            f"{test.nnz - inside} test interactions are not among the candidates, e.g. user {row[0]} item "
            f"{col[0]}; a sampled candidate set holds every test item of its user."
        )


def _rows_mask(rows: sp.csr_matrix, device: torch.device) -> torch.Tensor:
    """Dense bool mask of CSR rows, built by one scatter instead of a loop over users."""
    row_of = torch.repeat_interleave(torch.arange(rows.shape[0]), torch.from_numpy(np.diff(rows.indptr)))
    mask = torch.zeros(rows.shape, dtype=torch.bool, device=device)
    mask[row_of.to(device), torch.from_numpy(rows.indices).long().to(device)] = True
    return mask


def _candidate_frame(rows: sp.csr_matrix, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``[B, C]`` item indices of each CSR row's candidates (ascending, so column order is the index tie
    order; C the longest row) and the ``[B, C]`` bool mask of the padding after each shorter row."""
    counts = np.diff(rows.indptr)
    row_of = np.repeat(np.arange(rows.shape[0]), counts)
    col = np.arange(rows.nnz) - np.repeat(rows.indptr[:-1], counts)
    shape = (rows.shape[0], int(counts.max(initial=0)))
    idx = torch.zeros(shape, dtype=torch.long)
    idx[row_of, col] = torch.from_numpy(rows.indices).long()
    pad = torch.ones(shape, dtype=torch.bool)
    pad[row_of, col] = False
    return idx.to(device), pad.to(device)


def _candidate_ranks(scores: torch.Tensor, candidates: sp.csr_matrix, test: sp.csr_matrix) -> torch.Tensor | None:
    """0-based rank of each test interaction (``test``'s CSR order) among its user's candidates, in the
    documented order (score descending, lower index first), by comparing it with every candidate of its
    user; None when those comparisons would outnumber the batch's scores (the frame is then cheaper)."""
    c_counts, t_counts = np.diff(candidates.indptr), np.diff(test.indptr)
    t_row = np.repeat(np.arange(len(t_counts)), t_counts)
    per_test = c_counts[t_row]
    n_pairs = int(per_test.sum())
    if n_pairs > PAIRS_PER_SCORE * scores.numel():
        return None
    tid = np.repeat(np.arange(len(t_row)), per_test)
    # each pair's slot in candidates.indices: its user's row start + its place in that row
    cpos = np.arange(n_pairs) - np.repeat(np.cumsum(per_test) - per_test, per_test) + candidates.indptr[t_row][tid]
    dev = scores.device
    tid_t = torch.from_numpy(tid).to(dev)
    c_item = torch.from_numpy(candidates.indices[cpos]).long().to(dev)
    t_item = torch.from_numpy(test.indices).long().to(dev)
    t_score = scores[torch.from_numpy(t_row).to(dev), t_item]
    c_score = scores[torch.from_numpy(t_row[tid]).to(dev), c_item]
    ahead = (c_score > t_score[tid_t]) | ((c_score == t_score[tid_t]) & (c_item < t_item[tid_t]))
    return torch.zeros(len(t_row), dtype=torch.long, device=dev).index_add_(0, tid_t, ahead.long())


def _evaluate_batch(
    score_fn: ScoreFn,
    users: np.ndarray,
    exclude: sp.csr_matrix,
    test: sp.csr_matrix,
    ks: list[int],
    device: str | torch.device,
    candidates: sp.csr_matrix | None = None,
    need_top: bool = False,
) -> tuple[dict[str, np.ndarray], torch.Tensor | None]:
    with torch.no_grad():
        scores = score_fn(torch.from_numpy(users).long().to(device))
    if tuple(scores.shape) != (len(users), exclude.shape[1]):
        raise TrainingError(
            f"score_fn returned shape {tuple(scores.shape)} for {len(users)} users, expected "
            f"({len(users)}, {exclude.shape[1]}), one score per item."
        )
    test_rows = test[users]
    ranks = None
    if candidates is not None and not need_top:
        _check_no_nan(scores)
        ranks = _candidate_ranks(scores, candidates[users], test_rows)
    if ranks is not None:
        width = min(max(ks), scores.shape[1])
        t_row = torch.from_numpy(np.repeat(np.arange(len(users)), np.diff(test_rows.indptr))).to(scores.device)
        hits_t = torch.zeros(len(users), width, dtype=torch.bool, device=scores.device)
        hits_t[t_row[ranks < width], ranks[ranks < width]] = True
        hits, top = hits_t.cpu().numpy(), None
    else:
        if candidates is None:
            top = topk_items(scores, max(ks), _rows_mask(exclude[users], scores.device))
        else:  # rank inside the candidate frame; padding ranks last and maps to -1
            idx, pad = _candidate_frame(candidates[users], scores.device)
            at = topk_items(scores.gather(1, idx), max(ks), pad)
            top = idx.gather(1, at).masked_fill_(pad.gather(1, at), -1)
        hits = (_rows_mask(test_rows, scores.device).gather(1, top.clamp(min=0)) & (top >= 0)).cpu().numpy()
    n_test = np.diff(test_rows.indptr).astype(np.int64)
    return {"user": users.astype(np.int64), "n_test": n_test, **_metrics(hits, n_test, ks)}, top


def _metrics(hits: np.ndarray, n_test: np.ndarray, ks: list[int]) -> dict[str, np.ndarray]:
    """Per-user metrics from the ``[B, min(max K, I)]`` bool hit matrix.

    Prefix sums use ``np.cumsum`` (strictly sequential per row), identical for DCG and IDCG, so each
    user's numbers do not depend on the batch and a perfect ranking gives NDCG exactly 1.
    """
    discount = 1.0 / np.log2(np.arange(hits.shape[1]) + 2.0)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])  # ideal[j] = sum_{r<j} discount[r]
    n_hit = np.cumsum(hits, axis=1, dtype=np.int64)
    dcg = np.cumsum(hits * discount, axis=1)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        last = min(k, hits.shape[1]) - 1  # a top list longer than the catalogue holds every item
        out[f"hr@{k}"] = (n_hit[:, last] > 0).astype(np.float64)
        out[f"ndcg@{k}"] = dcg[:, last] / ideal[np.minimum(n_test, k)]
        out[f"recall@{k}"] = n_hit[:, last] / n_test
        out[f"precision@{k}"] = n_hit[:, last] / k
    return out
