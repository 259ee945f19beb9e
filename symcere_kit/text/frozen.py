"""Text mode ``frozen``: the pre-trained encoder as it is, no LoRA, no gradients.

[`FrozenText.prepare`][symcere_kit.text.frozen.FrozenText.prepare] embeds every training review once (length-sorted
batches, dynamic padding) and caches the matrix on disk ([`encode`][symcere_kit.text.backbone.TextEncoder.encode]); a
small projection head on top is the caller's business. The word-masked view t' of eq. (6) masks whole words of the raw
text ([`mask_words`][symcere_kit.text.masking.mask_words]) and re-encodes them.

For training, [`FrozenText.for_training`][symcere_kit.text.frozen.FrozenText.for_training] goes one step further: it
encodes one word-masked copy of every review too and hands over [`FrozenCorpus`][symcere_kit.text.frozen.FrozenCorpus],
the two matrices without the transformer, so an epoch never runs it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch
from torch import nn

from ..errors import SymcereError
from .backbone import TextEncoder

if TYPE_CHECKING:
    from .lora import LoraSettings


class FrozenText(TextEncoder):
    """f_text with every weight frozen; the backbone always runs in eval mode (no dropout noise)."""

    mode = "frozen"
    caches_encodings = True
    _corpus_embeddings: torch.Tensor | None = None  # the corpus encoded by prepare()

    def _attach(self, model: nn.Module, lora: LoraSettings | None) -> nn.Module:
        if lora is not None:
            raise SymcereError("Text mode 'frozen' trains no LoRA; drop the LoRA settings or pick 'lora'/'lora-top'.")
        for p in model.parameters():
            p.requires_grad_(False)
        model.eval()
        return model

    def train(self, mode: bool = True) -> "FrozenText":
        """Set training mode as ``nn.Module`` does, but keep the backbone in eval mode (no dropout)."""
        super().train(mode)
        self.backbone.eval()  # frozen features: no dropout noise
        return self

    def _prepare_corpus(self, batch_size: int, progress: bool, bottom_dtype: torch.dtype,
                        bottom_device: str | torch.device | None) -> None:
        self._corpus_embeddings = self.encode(self._corpus, batch_size=batch_size, progress=progress)

    def _embed(self, idx: torch.Tensor, mask_prob: float, generator: torch.Generator | None,
               chunk_size: int) -> torch.Tensor:
        if mask_prob == 0:
            return self._corpus_embeddings[idx].to(self.device)
        with torch.no_grad():
            return super()._embed(idx, mask_prob, generator, chunk_size)

    def for_training(self, texts: Sequence[str], view_mask: float, progress: bool = True) -> "FrozenCorpus":
        """[`FrozenCorpus`][symcere_kit.text.frozen.FrozenCorpus] of ``texts``: their embeddings and those of one
        word-masked copy (rate ``view_mask``), both from the disk cache when there. The masking draw is fixed (seed 0)
        so every training seed reuses the cached view encoding."""
        self.prepare(texts, progress=progress)
        view_texts = self.mask_words(texts, view_mask, torch.Generator().manual_seed(0))
        return FrozenCorpus(self.embed(torch.arange(len(texts))), self.encode(view_texts, progress=progress))


class FrozenCorpus(nn.Module):
    """The frozen mode's training-time stand-in for the encoder: corpus embeddings ``base`` and those of
    the word-masked view ``view``, each [n, out_dim] float32 buffers (not saved: they come back from
    the cache). Nothing trains and no transformer is kept (``kept_encoder`` is None)."""

    kept_encoder = None

    def __init__(self, base: torch.Tensor, view: torch.Tensor):
        super().__init__()
        self.register_buffer("base", base, persistent=False)
        self.register_buffer("view", view, persistent=False)

    def embed(self, indices: torch.Tensor, mask_prob: float = 0.0, generator: torch.Generator | None = None,
              chunk_size: int = 0) -> torch.Tensor:
        """Rows ``indices`` of ``view`` (``mask_prob`` > 0: its one fixed masking rate) or ``base``, on their
        device. ``generator`` and ``chunk_size`` are accepted for the encoder's signature and unused."""
        return (self.view if mask_prob else self.base)[indices.to(self.base.device)]

    def lora_parameters(self) -> list[nn.Parameter]:
        """An empty list: nothing trains in frozen mode."""
        return []
