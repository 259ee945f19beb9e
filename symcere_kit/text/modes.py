"""The one place a text mode's name is read: :func:`text_encoder_class` maps ``frozen``, ``lora`` and
``lora-top`` to their classes (load a model by name with the class's ``from_pretrained``);
:func:`text_encoder_from_config` builds an encoder from any settings object.
"""
from __future__ import annotations

import os
from typing import Any

from ..errors import SymcereError
from .backbone import TextEncoder
from .frozen import FrozenText
from .lora import LoraText
from .lora_top import LoraTopText

_CLASSES: dict[str, type[TextEncoder]] = {cls.mode: cls for cls in (FrozenText, LoraText, LoraTopText)}
MODES = tuple(_CLASSES)


def text_encoder_class(mode: str) -> type[TextEncoder]:
    """The encoder class of text ``mode`` (one of :data:`MODES`). Raises
    :class:`~symcere_kit.errors.SymcereError` naming the modes for any other name."""
    try:
        return _CLASSES[mode]
    except (KeyError, TypeError):
        raise SymcereError(f"Unknown text mode {mode!r}; choose one of {', '.join(MODES)}.") from None


def text_encoder_from_config(cfg: Any, *, mode: str | None = None,
                             cache_dir: str | os.PathLike | None = None, verbose: bool | None = None) -> TextEncoder:
    """Build from any settings object, reading (each optional, default in brackets) ``text_model``
    [None], ``pooling`` ["auto"], ``max_length`` [128], ``normalize`` [True], ``trust_remote_code``
    [False] and, in the LoRA modes, ``lora_rank`` [8], ``lora_alpha`` [16], ``lora_dropout`` [0.05] and
    (``lora-top``) ``lora_top_layers`` [1]. ``mode`` defaults to ``cfg.text_mode``, else ``"frozen"``.
    ``verbose``: as in ``from_pretrained`` (the libraries' loading output, hidden unless asked)."""
    cls = text_encoder_class(getattr(cfg, "text_mode", "frozen") if mode is None else mode)
    return cls.from_pretrained(
        getattr(cfg, "text_model", None), pooling=getattr(cfg, "pooling", "auto"),
        max_length=getattr(cfg, "max_length", 128), normalize=getattr(cfg, "normalize", True),
        lora=cls.lora_from_config(cfg), trust_remote_code=getattr(cfg, "trust_remote_code", False),
        cache_dir=cache_dir, verbose=verbose,
    )
