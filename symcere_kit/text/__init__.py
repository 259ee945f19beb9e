"""Text encoder f_text (paper section 3.1.2): model resolution, pooling, LoRA modes, caches, word masking.

See :mod:`symcere_kit.text.encoder` for the three modes (frozen | lora | lora-top).
"""
from .cache import BottomStates, TensorCache, texts_digest
from .encoder import MODES, LoraSettings, TextEncoder
from .masking import mask_words, token_keep_mask
from .pooling import POOLINGS, auto_pooling, is_decoder_only, pool
from .resolve import (
    DEFAULT_TEXT_MODEL,
    TextModelError,
    UnsupportedArchitectureError,
    load_backbone,
    resolve_model,
)

__all__ = [
    "BottomStates", "DEFAULT_TEXT_MODEL", "LoraSettings", "MODES", "POOLINGS", "TensorCache", "TextEncoder",
    "TextModelError", "UnsupportedArchitectureError", "auto_pooling", "is_decoder_only", "load_backbone",
    "mask_words", "pool", "resolve_model", "texts_digest", "token_keep_mask",
]
