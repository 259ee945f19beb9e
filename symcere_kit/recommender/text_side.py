"""The text half of SymCERE: f_text embeddings of TRAINING reviews, projected to the graph's width.

A linear projection maps the encoder's width (384 for MiniLM, 768 for BLaIR-RoBERTa) onto the graph
embedding width, which eqs. 4-5 need for the dot products g.t; the paper does not say how it
matches them, this is the smallest choice.

The text mode decides what is kept for training (``TextEncoder.for_training``): ``frozen`` encodes every review once and
also one word-masked copy of every review once (the view t' of eq. 6, drawn with a fixed seed so all runs share its
cache), so an epoch never runs the transformer; ``lora`` and ``lora-top`` keep the encoder and run it every step,
masking each batch afresh. With SymCERE's ``word_mask_draw="epoch"`` (frozen only)
[`TextSide.redraw_view`][symcere_kit.recommender.text_side.TextSide.redraw_view] replaces the frozen view by a fresh
draw each epoch, re-encoded by the transformer (loaded again: the frozen corpus keeps none).
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..rng import side_stream
from ..text import text_encoder_from_config


class TextSide(nn.Module):
    """SymCERE's text half: the text mode's encoder of the training reviews and a linear projection to
    ``out_dim``, the graph's width."""

    def __init__(self, dataset, settings, out_dim: int, progress: bool = True):
        super().__init__()
        self.settings = settings
        encoder = text_encoder_from_config(settings)
        trained = encoder.for_training(dataset.train_texts, settings.word_mask, progress=progress)
        self.proj = nn.Linear(encoder.out_dim, out_dim)
        self.generator: torch.Generator | None = None
        self.texts = dataset.train_texts  # the reviews of ``dataset.train``'s rows, for fresh masked views
        self.encoder = trained  # frozen: the cached matrices only; lora modes: the encoder, run each step

    def on_epoch_start(self, generator: torch.Generator) -> None:
        """Keep the epoch's ``generator``: the LoRA modes draw each batch's word mask from it."""
        self.generator = generator

    def lora_parameters(self) -> list[nn.Parameter]:
        """The text encoder's trainable LoRA parameters; empty in frozen mode."""
        return self.encoder.lora_parameters()

    def _autocast(self):
        device = self.proj.weight.device
        return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    def _encode(self, rows: torch.Tensor, mask_prob: float) -> torch.Tensor:
        with self._autocast():
            return self.encoder.embed(rows, mask_prob=mask_prob, generator=self.generator,
                                      chunk_size=self.settings.text_chunk).float()

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """t_uv for the training interactions at ``rows`` of ``dataset.train``."""
        return self.proj(self._encode(rows, 0.0))

    @torch.no_grad()
    def encode_texts(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> torch.Tensor:
        """t for any texts (e.g. LIME's perturbed reviews): the trained encoder and projection, no cache.

        Frozen mode dropped its encoder after caching; the first call loads it again (weights unchanged)."""
        encoder = self._transformer()
        was_training = self.training
        self.eval()
        try:
            with self._autocast():
                pooled = encoder.encode(texts, batch_size=batch_size, progress=progress, cache=False)
            return self.proj(pooled.to(self.proj.weight.device).float())
        finally:
            self.train(was_training)

    def _transformer(self):
        """The text encoder with its transformer, on the projection's device: the LoRA modes' own, or in
        frozen mode one loaded again (on a side RNG stream, so loading it moves no run stream)."""
        encoder = self.encoder.kept_encoder or self.__dict__.get("_reloaded")
        if encoder is None:
            with side_stream("symcere.text_side.reload"):
                encoder = self.__dict__["_reloaded"] = text_encoder_from_config(self.settings)  # not a submodule
        return encoder.to(self.proj.weight.device)

    @torch.no_grad()
    def redraw_view(self, generator: torch.Generator) -> None:
        """Frozen mode, ``word_mask_draw="epoch"``: a fresh word-masked copy of every training review drawn
        from ``generator`` and encoded (a full transformer pass, the slow part) becomes the view t'."""
        encoder = self._transformer()
        texts = encoder.mask_words(self.texts, self.settings.word_mask, generator)
        view = encoder.encode(texts, progress=False, cache=False)
        self.encoder.view = view.to(self.encoder.view.device)

    def masked(self, rows: torch.Tensor) -> torch.Tensor:
        """The word-masked view t'_uv (eq. 6)."""
        return self.proj(self._encode(rows, self.settings.word_mask))
