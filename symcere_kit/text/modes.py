"""The one place a text mode's name is read: [`text_encoder_class`][symcere_kit.text.modes.text_encoder_class] maps
``frozen``, ``lora`` and ``lora-top`` to their classes (load a model by name with the class's ``from_pretrained``);
[`text_encoder_from_config`][symcere_kit.text.modes.text_encoder_from_config] builds an encoder from any settings
object.
"""
from __future__ import annotations

import os
import typing
from typing import Any

from ..config import TextMode
from ..errors import SymcereError
from .backbone import TextEncoder
from .frozen import FrozenText
from .lora import LoraText
from .lora_top import LoraTopText
from .settings import TextTrainingSettings

_CLASSES: dict[str, type[TextEncoder]] = {cls.mode: cls for cls in (FrozenText, LoraText, LoraTopText)}
MODES = typing.get_args(TextMode)
assert set(MODES) == set(_CLASSES), "config.TextMode and the encoder classes name the same modes"


def text_encoder_class(mode: str) -> type[TextEncoder]:
    """The encoder class of text ``mode`` (one of [`MODES`][symcere_kit.text.modes.MODES]). Raises
    [`SymcereError`][symcere_kit.errors.SymcereError] naming the modes for any other name."""
    try:
        return _CLASSES[mode]
    except (KeyError, TypeError):
        raise SymcereError(f"Unknown text mode {mode!r}; choose one of {', '.join(MODES)}.") from None


def text_encoder_from_config(cfg: Any, *, mode: str | None = None,
                             cache_dir: str | os.PathLike | None = None, verbose: bool | None = None) -> TextEncoder:
    """Build from any settings object, reading ``text_model``, ``pooling``, ``max_length``, ``normalize``,
    ``trust_remote_code`` and, in the LoRA modes, ``lora_rank``, ``lora_alpha``, ``lora_dropout`` and (``lora-top``)
    ``lora_top_layers``; a name ``cfg`` lacks takes its default from
    [`TextTrainingSettings`][symcere_kit.text.settings.TextTrainingSettings] (``normalize``: ``from_pretrained``'s).
    ``mode`` defaults to ``cfg.text_mode``. ``verbose``: as in ``from_pretrained`` (the libraries' loading output,
    hidden unless asked)."""
    text = with_text_defaults(cfg)
    cls = text_encoder_class(text.text_mode if mode is None else mode)
    return cls.from_pretrained(
        text.text_model, pooling=text.pooling, max_length=text.max_length, lora=cls.lora_from_config(text),
        trust_remote_code=text.trust_remote_code, cache_dir=cache_dir, verbose=verbose,
        **({"normalize": cfg.normalize} if hasattr(cfg, "normalize") else {}),  # SymCERE's w/o Norm ablation
    )


def with_text_defaults(cfg: Any) -> TextTrainingSettings:
    """``cfg``'s text settings (any object holding some of them) over
    [`TextTrainingSettings`][symcere_kit.text.settings.TextTrainingSettings]'s defaults."""
    return TextTrainingSettings(**{k: getattr(cfg, k) for k in TextTrainingSettings.field_names() if hasattr(cfg, k)})
