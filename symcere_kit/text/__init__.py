"""Text encoder f_text (paper section 3.1.2): model resolution, pooling, LoRA modes, caches, word masking.

[`symcere_kit.text.backbone`][symcere_kit.text.backbone] holds what every mode shares; one class per mode (frozen | lora
| lora-top) in [`frozen`][symcere_kit.text.frozen], [`lora`][symcere_kit.text.lora] and
[`lora_top`][symcere_kit.text.lora_top], picked by name in [`modes`][symcere_kit.text.modes].
"""
from .backbone import TextEncoder
from .cache import BottomStates, TensorCache, texts_digest
from .frozen import FrozenText
from .lora import LoraSettings, LoraText
from .lora_top import LoraTopText
from .masking import mask_words, token_keep_mask
from .modes import MODES, text_encoder_class, text_encoder_from_config
from .pooling import POOLINGS, auto_pooling, is_decoder_only, pool
from .resolve import (
    DEFAULT_TEXT_MODEL,
    TextModelError,
    UnsupportedArchitectureError,
    load_backbone,
    resolve_model,
)

__all__ = [
    "BottomStates", "DEFAULT_TEXT_MODEL", "FrozenText", "LoraSettings", "LoraText", "LoraTopText", "MODES",
    "POOLINGS", "TensorCache", "TextEncoder", "TextModelError", "UnsupportedArchitectureError", "auto_pooling",
    "is_decoder_only", "load_backbone", "mask_words", "pool", "resolve_model",
    "text_encoder_class", "text_encoder_from_config", "texts_digest", "token_keep_mask",
]
