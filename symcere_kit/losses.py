"""Loss functions. Each docstring names the paper equation it implements."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    r"""Paper eq. (7), averaged over the batch: :math:`-\log\sigma(s^+ - s^-)`."""
    return -F.logsigmoid(pos_scores - neg_scores).mean()


def l2_reg(*embeddings: torch.Tensor) -> torch.Tensor:
    r""":math:`\lambda\|\Theta\|_2^2` term of eq. (8) on the batch's ego embeddings, as
    :math:`\frac{1}{2B}\sum\|e\|^2` (LightGCN's form: only parameters the batch touches)."""
    batch = embeddings[0].shape[0]
    return sum(e.pow(2).sum() for e in embeddings) / (2 * batch)
