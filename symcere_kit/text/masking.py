"""Word masking for the intra-modal text view t' of paper eq. (6).

Two forms, both deterministic given a ``torch.Generator``:

* [`mask_words`][symcere_kit.text.masking.mask_words] (modes ``frozen`` and ``lora``): each whitespace-separated word is
  replaced, with probability ``p``, by the tokenizer's mask token (one mask per word, whole words), or removed when the
  tokenizer has no mask token (decoder-only LLMs). At least one word of a non-empty text survives.
* [`token_keep_mask`][symcere_kit.text.masking.token_keep_mask] (mode ``lora-top``): the texts were run through the
  frozen bottom layers once and cached, so re-tokenising a masked copy would need a new bottom pass per view, as costly
  as full LoRA. Instead tokens are masked at the input of the top layers: each token is kept with probability
  ``keep_prob``; a dropped token leaves the attention mask (no top-layer query attends to it) and the pooling. The first
  token ([CLS]/BOS) and the last real token ([SEP]/EOS, the ``last``-pooling token) are always kept, so no sequence
  loses all its tokens and ``cls``/``last`` pooling read the same position as in the unmasked view. Dropped tokens still
  influenced the cached bottom-layer states, so this view is milder than masking the raw text with the same rate.
  """
from __future__ import annotations

from typing import Sequence

import torch

from .pooling import last_token_index


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1] (got {value})")


def mask_words(
    texts: Sequence[str],
    p: float,
    generator: torch.Generator | None = None,
    mask_token: str | None = "[MASK]",
) -> list[str]:
    """Replace each word with ``mask_token`` with probability ``p`` (remove it when ``mask_token`` is None).

    Words are whitespace-separated; the result joins them with single spaces. A non-empty text keeps at
    least one unmasked word (the one with the largest draw). Same generator state, same output.
    """
    _check_rate("p", p)
    out: list[str] = []
    for text in texts:
        words = text.split()
        if not words or p == 0.0:
            out.append(text)
            continue
        draws = torch.rand(len(words), generator=generator)
        masked = (draws < p).tolist()
        if all(masked):
            masked[int(draws.argmax())] = False
        if mask_token is None:
            out.append(" ".join(w for w, m in zip(words, masked) if not m))
        else:
            out.append(" ".join(mask_token if m else w for w, m in zip(words, masked)))
    return out


def token_keep_mask(
    attention_mask: torch.Tensor,
    keep_prob: float,
    generator: torch.Generator | None = None,
    protect_first: bool = True,
    protect_last: bool = True,
) -> torch.Tensor:
    """A copy of ``attention_mask`` [B, L] (right-padded) in which each real token stays with
    probability ``keep_prob``; the first and the last real token of each row stay always (by default).

    Draws come from ``generator`` on the CPU, so results do not depend on the device.
    """
    _check_rate("keep_prob", keep_prob)
    mask = attention_mask.to(torch.bool)
    draws = torch.rand(tuple(mask.shape), generator=generator).to(mask.device)
    keep = mask & (draws < keep_prob)
    rows = torch.arange(mask.shape[0], device=mask.device)
    if protect_first:
        keep[:, 0] |= mask[:, 0]
    if protect_last:
        last = last_token_index(attention_mask)
        keep[rows, last] |= mask[rows, last]
    # never empty a row that had tokens: keep its first real token
    empty = ~keep.any(dim=1) & mask.any(dim=1)
    if empty.any():
        first = mask.to(torch.long).argmax(dim=1)
        keep[rows[empty], first[empty]] = True
    return keep.to(attention_mask.dtype)
