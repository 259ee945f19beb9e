"""Mini-batches of training interactions with uniformly sampled negatives (BPR)."""
from __future__ import annotations

from typing import Iterator

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


def bpr_batches(dataset: ReviewDataset, batch_size: int, generator: torch.Generator) -> Iterator[dict[str, torch.Tensor]]:
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
