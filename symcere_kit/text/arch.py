"""Running a slice of a transformer's layers directly (needed by ``lora-top``), per architecture family.

Two families are supported, each mirroring its model's own ``forward`` in transformers 5:

* ``bert`` (BERT, RoBERTa, XLM-RoBERTa): ``embeddings(input_ids)`` -> ``encoder.layer[i](hidden, mask)``
  with the bidirectional (extended, additive) padding mask of ``create_bidirectional_mask``; no final norm.
* ``llama`` (Llama, Qwen2, Qwen3, Mistral): ``embed_tokens`` -> ``layers[i](hidden, attention_mask=...,
  position_embeddings=rotary(hidden, position_ids), position_ids=...)`` with the causal + padding mask
  of ``create_causal_mask`` (sliding-window masks for layers that declare them), then the final ``norm``.
  Position ids are 0..L-1 (right padding), as in the model's own forward without a cache.

Any other model type raises [`UnsupportedArchitectureError`][symcere_kit.text.resolve.UnsupportedArchitectureError] when
a mode needs this.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .resolve import UnsupportedArchitectureError

BERT_FAMILY = frozenset({"bert", "roberta", "xlm-roberta"})
LLAMA_FAMILY = frozenset({"llama", "qwen2", "qwen3", "mistral"})


def family_of(model: nn.Module) -> str | None:
    """``"bert"``, ``"llama"`` or None for the bare transformers model ``model``."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type in BERT_FAMILY and hasattr(model, "embeddings") and hasattr(getattr(model, "encoder", None), "layer"):
        return "bert"
    if model_type in LLAMA_FAMILY and all(hasattr(model, a) for a in ("embed_tokens", "layers", "norm", "rotary_emb")):
        return "llama"
    return None


class LayerStack:
    """A view of a bare transformers model as embeddings -> layers[0..n) -> final, run in slices."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.config = model.config
        self.family = family_of(model)
        if self.family is None:
            raise UnsupportedArchitectureError(
                f"Running a subset of layers (text mode 'lora-top') is implemented for BERT/RoBERTa-style "
                f"encoders ({', '.join(sorted(BERT_FAMILY))}) and Llama/Qwen-style decoders "
                f"({', '.join(sorted(LLAMA_FAMILY))}), not for model type "
                f"{getattr(self.config, 'model_type', type(model).__name__)!r}. Fix: use text mode 'lora' "
                "(full forward each step) or 'frozen' with this model, or pick a supported model."
            )

    @property
    def layers(self) -> nn.ModuleList:
        """The transformer layers: ``encoder.layer`` (BERT) or the first ``num_hidden_layers`` of ``layers``."""
        if self.family == "bert":
            return self.model.encoder.layer
        return self.model.layers[: self.config.num_hidden_layers]

    @property
    def n_layers(self) -> int:
        """The number of transformer layers."""
        return len(self.layers)

    @property
    def layers_pattern(self) -> str:
        """The module-list name peft's ``layers_pattern`` needs (``encoder.layer.3...`` / ``layers.3...``)."""
        return "layer" if self.family == "bert" else "layers"

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Input embeddings [B, L, H] of ``input_ids`` [B, L]: what layer 0 takes."""
        if self.family == "bert":
            return self.model.embeddings(input_ids=input_ids)
        return self.model.embed_tokens(input_ids)

    def _masks(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor | None
    ) -> list[Any]:
        from transformers import masking_utils as mu

        n = self.n_layers
        if self.family == "bert":
            m = mu.create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
            return [m] * n
        kw = dict(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask,
                  past_key_values=None, position_ids=position_ids)
        types = getattr(self.config, "layer_types", None)
        if self.config.model_type == "mistral" or not types:
            sliding = self.config.model_type == "mistral" and getattr(self.config, "sliding_window", None) is not None
            m = (mu.create_sliding_window_causal_mask if sliding else mu.create_causal_mask)(**kw)
            return [m] * n
        built = {"full_attention": mu.create_causal_mask(**kw)}
        if "sliding_attention" in types:
            built["sliding_attention"] = mu.create_sliding_window_causal_mask(**kw)
        return [built[types[i]] for i in range(n)]

    def run(self, hidden: torch.Tensor, attention_mask: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Run layers ``[start, stop)`` on ``hidden`` [B, L, H] with padding mask ``attention_mask`` [B, L]."""
        if start >= stop:
            return hidden
        if self.family == "bert":
            masks = self._masks(hidden, attention_mask, None)
            for i in range(start, stop):
                hidden = self.layers[i](hidden, masks[i])
            return hidden
        position_ids = torch.arange(hidden.shape[1], device=hidden.device).unsqueeze(0)
        masks = self._masks(hidden, attention_mask, position_ids)
        position_embeddings = self.model.rotary_emb(hidden, position_ids=position_ids)
        for i in range(start, stop):
            hidden = self.layers[i](
                hidden,
                attention_mask=masks[i],
                position_embeddings=position_embeddings,
                position_ids=position_ids,
                past_key_values=None,
                use_cache=False,
            )
        return hidden

    def finish(self, hidden: torch.Tensor) -> torch.Tensor:
        """What the model applies after its last layer (the final RMSNorm for Llama/Qwen)."""
        return hidden if self.family == "bert" else self.model.norm(hidden)
