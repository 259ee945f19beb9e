"""The one interface every recommender shares (Cornac-style): train on batches, score users."""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from ..config import ModelSettings
from ..data.dataset import ReviewDataset


class Recommender(nn.Module):
    """``batch_loss`` returns a dict with the total under "loss" (plus named terms for logging);
    ``score`` returns [B, n_items] ranking scores. Non-trainable models set ``trainable = False``.

    Each subclass names its settings dataclass as ``Settings``; it is built as
    ``Model(dataset, settings, progress=...)`` (``progress``: bars of one-off work such as encoding
    reviews)."""

    trainable = True
    Settings: ClassVar[type[ModelSettings]] = ModelSettings

    def __init__(self, dataset: ReviewDataset, settings: ModelSettings, progress: bool = True):
        super().__init__()
        if not isinstance(settings, self.Settings):
            raise TypeError(f"{type(self).__name__} takes {self.Settings.__name__}, not {type(settings).__name__}.")
        self.n_users, self.n_items = dataset.n_users, dataset.n_items
        self.settings = settings

    def batch_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The training loss of one batch of BPR triples; every trainable model implements it.

        Args:
            batch: ``user``, ``pos``, ``neg`` [B] id tensors and ``index`` [B], the batch's rows of
                ``dataset.train`` (``sampling.bpr_batches``), on the model's device.

        Returns:
            Scalar tensors: the total under ``"loss"``, plus named terms for logging.
        """
        raise NotImplementedError

    _cache: tuple[torch.Tensor, torch.Tensor] | None = None  # (user, item) embeddings for scoring

    @torch.no_grad()
    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Dot products of the (user, item) embeddings ``prepare_scoring`` cached; override otherwise."""
        if self._cache is None:
            self.prepare_scoring()
        user_emb, item_emb = self._cache
        return user_emb[users] @ item_emb.T

    def param_groups(self) -> list[dict]:
        """Optimiser parameter groups; models with a text encoder give it its own learning rate."""
        return [{"params": [p for p in self.parameters() if p.requires_grad]}]

    def on_epoch_start(self, generator: torch.Generator) -> None:
        """Hook for per-epoch randomness (augmented views); draws only from ``generator``."""

    def prepare_scoring(self) -> None:
        """Called once before evaluation (e.g. to propagate the graph once for all users)."""
