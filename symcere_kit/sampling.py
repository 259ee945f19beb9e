"""Mini-batches of training interactions with uniformly sampled negatives (BPR)."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from .data.dataset import ReviewDataset


def sample_negatives(dataset: ReviewDataset, users: torch.Tensor, generator: torch.Generator,
                     max_rounds: int = 20) -> torch.Tensor:
    """One item per user, uniform over items the user has NOT trained on (rejection sampling)."""
    neg = torch.randint(dataset.n_items, users.shape, generator=generator)
    for _ in range(max_rounds):
        bad = dataset.is_train_pair(users, neg)
        if not bad.any():
            break
        neg[bad] = torch.randint(dataset.n_items, (int(bad.sum()),), generator=generator)
    return neg


def bpr_batches(
    dataset: ReviewDataset, batch_size: int, generator: torch.Generator
) -> Iterator[dict[str, torch.Tensor]]:
    """One epoch: every training interaction once, shuffled, each with a fresh negative.

    ``index`` points into ``dataset.train`` so text-aware models can fetch the review of a row.
    """
    users = torch.tensor(dataset.train["user"].to_numpy())
    items = torch.tensor(dataset.train["item"].to_numpy())
    perm = torch.randperm(len(users), generator=generator)
    for start in range(0, len(perm), batch_size):
        idx = perm[start : start + batch_size]
        u = users[idx]
        yield {"index": idx, "user": u, "pos": items[idx], "neg": sample_negatives(dataset, u, generator)}


def batch_of_users(
    dataset: ReviewDataset, n_users: int, per_user: int, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """A small batch of ``per_user`` training interactions from each of ``n_users`` random users with that
    many: same-user pairs are false negatives by construction, so a drawn mask shows what eq. 3 drops
    (a random batch of a sparse dataset rarely holds any)."""
    counts = dataset.train["user"].value_counts()
    eligible = torch.tensor(counts[counts >= per_user].index.to_numpy())
    if len(eligible) < n_users:
        raise ValueError(f"only {len(eligible)} users have {per_user} training interactions")
    chosen = eligible[torch.randperm(len(eligible), generator=generator)[:n_users]]
    all_users = dataset.train["user"].to_numpy()
    rows = torch.cat([torch.from_numpy(np.flatnonzero(all_users == int(u))[:per_user]) for u in chosen])
    users = torch.as_tensor(all_users[rows.numpy()])  # a copy: pandas may hand out a read-only array
    items = torch.tensor(dataset.train["item"].to_numpy())[rows]
    return {"index": rows, "user": users, "pos": items, "neg": sample_negatives(dataset, users, generator)}
