"""Text mode ``lora-top``: LoRA on the top L layers only (default 1), the bottom layers' output cached.

The frozen bottom layers cannot change, so their output for every training review is computed once
([`LoraTopText.bottom_states`][symcere_kit.text.lora_top.LoraTopText.bottom_states], kept in memory and cached on disk)
and a step runs only the top L layers ([`LoraTopText.forward_top`][symcere_kit.text.lora_top.LoraTopText.forward_top]).
This is the same function as ``lora`` with ``LoraSettings(layers=L)`` (tests check outputs and LoRA gradients), minus
base-model dropout in the bottom layers, which ran in eval mode. Needs an architecture whose layers can be run in slices
([`symcere_kit.text.arch`][symcere_kit.text.arch]).

Memory of the bottom cache: it stores real tokens only (no padding). Musical Instruments' 8,533
training reviews hold 657,397 MiniLM tokens at max_length 128 (77 per review on average), so the
cache takes 657,397 x 384 x 2 bytes = 505 MB (0.47 GiB) in float16 and 1.0 GB in float32; padded to
128 tokens it would be 839 MB in float16. A base-size model (hidden 768, e.g. BLaIR-RoBERTa) doubles this.

The word-masked view t' of eq. (6) cannot re-tokenise masked text without a new bottom pass, so it
drops tokens at the top-layer input instead ([`token_keep_mask`][symcere_kit.text.masking.token_keep_mask]).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from ..errors import SymcereError
from .arch import LayerStack
from .cache import BottomStates, TensorCache, texts_digest
from .lora import LoraSettings, LoraText
from .masking import token_keep_mask
from .settings import TextTrainingSettings

_FP16_MAX = 65504.0


class LoraTopText(LoraText):
    """f_text with LoRA on the top ``lora.layers`` layers (default ``LoraSettings(layers=1)``; ``"all"``
    leaves no bottom layer), trained on cached bottom states.

    Raises [`UnsupportedArchitectureError`][symcere_kit.text.resolve.UnsupportedArchitectureError] for a model outside
    the BERT and Llama families ([`symcere_kit.text.arch`][symcere_kit.text.arch]).
    """

    mode = "lora-top"
    default_lora = LoraSettings(layers=TextTrainingSettings.lora_top_layers)
    _bottom: BottomStates | None = None  # the last corpus's bottom states
    _bottom_key: str | None = None

    def _layer_stack(self, model: nn.Module) -> LayerStack:
        return LayerStack(model)  # raises for an architecture it cannot slice

    def _attach(self, model: nn.Module, lora: LoraSettings | None) -> nn.Module:
        backbone = super()._attach(model, lora)
        top = self.n_layers if self.lora.layers == "all" else int(self.lora.layers)
        self.n_bottom = self.n_layers - top
        return backbone

    @staticmethod
    def _config_layers(cfg: Any) -> int:
        return cfg.lora_top_layers

    @property
    def top_layers(self) -> int:
        """Layers run by [`forward_top`][symcere_kit.text.lora_top.LoraTopText.forward_top]."""
        return self.n_layers - self.n_bottom

    # ------------------------------------------------------------------ top layers
    def forward_top(
        self,
        states: torch.Tensor,
        attention_mask: torch.Tensor,
        keep_prob: float | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Run only the top layers on cached bottom states [B, L, H] and pool: embeddings [B, out_dim]
        (float32), the training step.

        ``keep_prob`` < 1 builds the masked view: each token is kept with that probability (first and
        last real token always), dropped tokens leave the attention mask and the pooling.
        """
        if keep_prob is not None and keep_prob < 1.0:
            attention_mask = token_keep_mask(attention_mask, keep_prob, generator)
        return self._top(states, attention_mask)

    def _top(self, states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        dtype = next(self._stack.layers[self.n_bottom].parameters()).dtype
        if not torch.is_autocast_enabled(states.device.type):
            states = states.to(dtype)
        hidden = self._stack.run(states, attention_mask, self.n_bottom, self.n_layers)
        return self._finish(self._stack.finish(hidden), attention_mask)

    # ------------------------------------------------------------------ bottom cache
    def bottom_states(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        progress: bool = True,
        dtype: torch.dtype = torch.float16,
        cache: bool = True,
    ) -> BottomStates:
        """Hidden states of ``texts`` after the frozen bottom layers, computed once (eval mode, no grad).

        Kept in memory (the last corpus) and, with ``cache=True``, on disk keyed by base-model identity,
        number of bottom layers, max_length, storage ``dtype`` and a hash of the texts. Stored ragged
        (real tokens only) in ``dtype``: float16 halves memory; bfloat16 or float32 for models whose
        activations exceed float16's range (checked: [`SymcereError`][symcere_kit.errors.SymcereError]).
        """
        parts = {
            "kind": "bottom",
            "model": self.base_identity,
            "n_bottom": self.n_bottom,
            "max_length": self.max_length,
            "dtype": str(dtype),
            "texts": texts_digest(texts),
            "n": len(texts),
        }
        key = TensorCache.key(parts)
        if self._bottom_key == key and self._bottom is not None:
            return self._bottom
        hit = self.cache.load("bottom", key) if cache else None
        if hit is not None and {"states", "lengths"} <= set(hit) and len(hit["lengths"]) == len(texts):
            states = BottomStates(hit["states"], hit["lengths"])
        else:
            states = self._compute_bottom(texts, batch_size, progress, dtype)
            if cache:
                self.cache.save("bottom", key, {"states": states.states, "lengths": states.lengths}, parts)
        self._bottom, self._bottom_key = states, key
        return states

    def _compute_bottom(
        self, texts: Sequence[str], batch_size: int, progress: bool, dtype: torch.dtype
    ) -> BottomStates:
        ids = self.tokenize(texts)
        pieces: list[torch.Tensor | None] = [None] * len(ids)

        def step(chunk: list[int], input_ids: torch.Tensor, mask: torch.Tensor) -> None:
            hidden = self._stack.run(self._stack.embed(input_ids), mask, 0, self.n_bottom)
            if dtype == torch.float16 and bool((hidden.abs() > _FP16_MAX).any()):
                raise SymcereError(
                    "Bottom-layer states of this model exceed float16's range (65504). Fix: cache them "
                    "with dtype=torch.bfloat16 or torch.float32."
                )
            hidden = hidden.to(dtype).cpu()
            for r, i in enumerate(chunk):
                pieces[i] = hidden[r, :len(ids[i])].clone()

        self._sweep(ids, batch_size, progress, f"caching {self.n_bottom} bottom layers", step)
        states = torch.cat(pieces) if pieces else torch.empty((0, self.out_dim), dtype=dtype)
        return BottomStates(states, torch.tensor([len(x) for x in ids], dtype=torch.long))

    # ------------------------------------------------------------------ trainer-facing API
    def _prepare_corpus(self, batch_size: int, progress: bool, bottom_dtype: torch.dtype,
                        bottom_device: str | torch.device | None) -> None:
        states = self.bottom_states(self._corpus, batch_size=batch_size, progress=progress, dtype=bottom_dtype)
        if bottom_device is not None:
            self._bottom = states.to(bottom_device)

    def _embed(self, idx: torch.Tensor, mask_prob: float, generator: torch.Generator | None,
               chunk_size: int) -> torch.Tensor:
        """Top layers on the cached bottom states of rows ``idx``; the masked view (``mask_prob`` > 0)
        drops tokens at the top-layer input with keep probability ``1 - mask_prob``. Micro-batches are
        not checkpointed: the few top layers' activations are cheap to keep (~2 GB at batch 512 with
        one MiniLM layer), and recomputing them would cost a quarter more compute."""
        keep = 1.0 - mask_prob if mask_prob > 0 else None

        def run(rows: list[int]) -> torch.Tensor:
            hidden, mask = self._bottom.batch(idx[rows], device=self.device)
            if keep is not None:
                mask = token_keep_mask(mask, keep, generator)
            return self._top(hidden, mask)

        return self._in_chunks(self._bottom.lengths[idx].tolist(), chunk_size, run)
