"""MostPop: rank items by training popularity. The floor any personalised model must clear."""
from __future__ import annotations

import torch

from ..config import ModelSettings
from ..recommender.base import Recommender


class MostPop(Recommender):
    """MostPop: the same scores for every user, each item's number of training interactions."""

    trainable = False
    Settings = ModelSettings  # nothing to set

    def __init__(self, dataset, settings, progress: bool = True):
        super().__init__(dataset, settings)
        self.register_buffer("popularity", torch.as_tensor(dataset.item_degree, dtype=torch.float32))

    def score(self, users: torch.Tensor) -> torch.Tensor:
        """[B, n_items]: the items' training popularity, one identical row per user of ``users``."""
        return self.popularity.expand(len(users), -1)


MODEL = MostPop
