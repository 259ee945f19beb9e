"""Pooling token states into one review vector t_{u,v} (paper section 3.1.2), and the "auto" rule.

* ``cls``: the first token's state (BERT/RoBERTa [CLS]; BLaIR, the paper's encoder, is used this way).
* ``mean``: the average over non-padding tokens (sentence-transformers' mean pooling, all-MiniLM-L6-v2).
* ``last``: the state of the last non-padding token (decoder-only LLMs, e.g. sarashina2.2-0.5b-instruct,
  whose causal attention lets only the last token see the whole review). Sequences are right-padded.

``auto`` (see [`auto_pooling`][symcere_kit.text.pooling.auto_pooling]): ``last`` for decoder-only models; otherwise the
pooling a sentence-transformers model declares in its own Pooling module (``mean`` for the default MiniLM); otherwise
``cls``.
"""
from __future__ import annotations

from typing import Any

import torch

POOLINGS = ("cls", "mean", "last", "auto")

# Model types whose bare AutoModel is a causal (decoder-only) transformer.
DECODER_MODEL_TYPES = frozenset({
    "llama", "qwen2", "qwen3", "mistral", "mixtral", "gemma", "gemma2", "gemma3_text", "phi", "phi3",
    "gpt2", "gpt_neo", "gpt_neox", "gptj", "opt", "bloom", "falcon", "stablelm", "olmo", "olmo2",
    "granite", "starcoder2", "cohere", "qwen2_moe", "qwen3_moe",
})


def is_decoder_only(config: Any) -> bool:
    """True for causal LMs: ``config.is_decoder``, a ``*ForCausalLM``/``*LMHeadModel`` architecture, or a
    known decoder-only model type (and not an encoder-decoder model)."""
    if getattr(config, "is_encoder_decoder", False):
        return False
    if getattr(config, "is_decoder", False):
        return True
    archs = getattr(config, "architectures", None) or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        return True
    return getattr(config, "model_type", None) in DECODER_MODEL_TYPES


def auto_pooling(config: Any, sentence_transformers_mode: str | None = None) -> str:
    """The pooling ``"auto"`` stands for: ``last`` for decoder-only models, else the mode a
    sentence-transformers Pooling module declares, else ``cls``."""
    if is_decoder_only(config):
        return "last"
    if sentence_transformers_mode in ("cls", "mean", "last"):
        return sentence_transformers_mode
    return "cls"


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the last position whose mask is 1, per row (0 for an all-zero row)."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return (attention_mask.to(torch.long) * positions).argmax(dim=1)


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool ``hidden`` [B, L, H] over the tokens where ``attention_mask`` [B, L] is 1.

    ``mode`` is ``cls``, ``mean`` or ``last`` (resolve ``auto`` first with
    [`auto_pooling`][symcere_kit.text.pooling.auto_pooling]).
    """
    if mode == "cls":
        return hidden[:, 0]
    if mode == "mean":
        m = attention_mask.to(hidden.dtype).unsqueeze(-1)
        return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)
    if mode == "last":
        idx = last_token_index(attention_mask)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), idx]
    raise ValueError(f"pooling must be one of cls, mean, last (got {mode!r})")
