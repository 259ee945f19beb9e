"""Text mode ``lora``, the paper's setting: LoRA (peft) on every layer, or the top L with
``LoraSettings(layers=L)``; each step runs forward and backward through the whole encoder.

The word-masked view t' of eq. (6) masks whole words of the raw text
([`mask_words`][symcere_kit.text.masking.mask_words]) and runs it through the model like any batch. Long batches run as
activation-checkpointed micro-batches ([`LoraText.embed`][symcere_kit.text.lora.LoraText.embed] with ``chunk_size``).
Also home of [`LoraSettings`][symcere_kit.text.lora.LoraSettings] and the adapter file (LoRA weights + settings, one
safetensors file), which ``lora-top`` ([`symcere_kit.text.lora_top`][symcere_kit.text.lora_top]) shares.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import SymcereError
from ..files import FILE_MODE, atomic_path
from .backbone import TextEncoder
from .settings import TextTrainingSettings


@dataclass(frozen=True)
class LoraSettings:
    """LoRA hyper-parameters (peft ``LoraConfig``).

    ``target_modules=None`` picks peft's default for the architecture (``query``/``value`` for
    BERT/RoBERTa, ``q_proj``/``v_proj`` for Llama/Qwen/Mistral). ``layers="all"`` adapts every layer;
    an int L adapts the top L layers only. Raises [`SymcereError`][symcere_kit.errors.SymcereError] for a rank
    below 1 or other ``layers``.
    """

    rank: int = TextTrainingSettings.lora_rank
    alpha: int = TextTrainingSettings.lora_alpha
    dropout: float = TextTrainingSettings.lora_dropout
    target_modules: tuple[str, ...] | None = None
    layers: str | int = "all"

    def __post_init__(self):
        if self.target_modules is not None and not isinstance(self.target_modules, tuple):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
        if self.rank < 1:
            raise SymcereError(f"LoRA rank must be >= 1 (got {self.rank}).")
        if not (
            self.layers == "all"
            or (isinstance(self.layers, int) and not isinstance(self.layers, bool) and self.layers >= 1)
        ):
            raise SymcereError(f"LoraSettings.layers must be 'all' or an int >= 1 (got {self.layers!r}).")

    def to_dict(self) -> dict:
        """The settings as a plain dict (``target_modules`` a list), for run records and adapter files."""
        d = asdict(self)
        d["target_modules"] = list(self.target_modules) if self.target_modules is not None else None
        return d


class LoraText(TextEncoder):
    """f_text with LoRA adapters (``lora``, default ``LoraSettings()``), the rest of the weights frozen.

    Raises [`SymcereError`][symcere_kit.errors.SymcereError] when ``lora.layers`` exceeds the model's layers or
    no default LoRA target modules are known for its type.
    """

    mode = "lora"
    default_lora = LoraSettings()
    lora: LoraSettings

    def _attach(self, model: nn.Module, lora: LoraSettings | None) -> nn.Module:
        self.lora = lora if lora is not None else self.default_lora
        return self._inject(model, self.lora)

    def _inject(self, model: nn.Module, settings: LoraSettings) -> nn.Module:
        from peft import LoraConfig, get_peft_model
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULT_TARGETS

        model_type = getattr(model.config, "model_type", None)
        targets = list(settings.target_modules) if settings.target_modules else DEFAULT_TARGETS.get(model_type)
        if not targets:
            raise SymcereError(
                f"No default LoRA target modules are known for model type {model_type!r}. Fix: pass "
                "LoraSettings(target_modules=(...)) naming the attention projections (e.g. ('q_proj', 'v_proj'))."
            )
        layers_to_transform = layers_pattern = None
        if settings.layers != "all":
            n = self.n_layers
            if not 1 <= settings.layers <= n:
                raise SymcereError(
                    f"LoraSettings.layers={settings.layers} but the model has {n} layers; use 1..{n} or 'all'."
                )
            layers_to_transform = list(range(n - settings.layers, n))
            if self._stack is not None:
                layers_pattern = self._stack.layers_pattern
        cfg = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                         target_modules=targets, layers_to_transform=layers_to_transform,
                         layers_pattern=layers_pattern, bias="none")
        with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return get_peft_model(model, cfg)

    @classmethod
    def lora_from_config(cls, cfg: Any) -> LoraSettings:
        """``LoraSettings`` from ``cfg.lora_rank``, ``lora_alpha``, ``lora_dropout`` (a
        [`TextTrainingSettings`][symcere_kit.text.settings.TextTrainingSettings], ``modes.with_text_defaults``)."""
        return LoraSettings(rank=cfg.lora_rank, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout,
                            layers=cls._config_layers(cfg))

    @staticmethod
    def _config_layers(cfg: Any) -> str | int:
        return "all"

    def identity(self) -> dict:
        """The base model plus a hash of the current LoRA weights: a trained adapter is another model."""
        return {**self.base_identity, "lora": self._lora_hash()}

    def _lora_hash(self) -> str:
        h = hashlib.sha256()
        for name, p in self.named_parameters():
            if "lora_" in name:
                h.update(name.encode())
                h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def _forward_chunk(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Under activation checkpointing when gradients flow: backward recomputes one micro-batch at a
        time, so activation memory is one chunk's whatever the batch size, for one extra forward pass
        (GradCache's trade, without its two-pass bookkeeping)."""
        if torch.is_grad_enabled():
            from torch.utils.checkpoint import checkpoint

            return checkpoint(self.forward_ids, input_ids, attention_mask, use_reentrant=False)
        return self.forward_ids(input_ids, attention_mask)

    # ------------------------------------------------------------------ adapters
    def adapter_state_dict(self) -> dict[str, torch.Tensor]:
        """The LoRA weights by peft's key names, on the CPU."""
        from peft import get_peft_model_state_dict

        return {k: v.detach().cpu() for k, v in get_peft_model_state_dict(self.backbone).items()}

    def save_adapter(self, path: str | os.PathLike) -> Path:
        """Write the LoRA weights and [`settings`][symcere_kit.text.backbone.TextEncoder.settings] to one safetensors
        file (atomically)."""
        from safetensors.torch import save_file

        path = Path(path)
        meta = {"settings": json.dumps(self.settings(), sort_keys=True, default=str)}
        with atomic_path(path) as tmp:
            save_file({k: v.contiguous() for k, v in self.adapter_state_dict().items()}, str(tmp), metadata=meta)
            os.chmod(tmp, FILE_MODE)
        return path

    def load_adapter(self, path: str | os.PathLike) -> None:
        """Load LoRA weights written by [`save_adapter`][symcere_kit.text.lora.LoraText.save_adapter]. Raises
        [`SymcereError`][symcere_kit.errors.SymcereError] unless the file has the same LoRA settings and keys."""
        from peft import set_peft_model_state_dict
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), framework="pt") as f:
            saved = json.loads((f.metadata() or {}).get("settings", "{}"))
        if saved.get("lora") != self.lora.to_dict():
            raise SymcereError(
                f"Adapter {path} was saved with LoRA settings {saved.get('lora')}, but this encoder uses "
                f"{self.lora.to_dict()}. Fix: build the encoder with the saved settings."
            )
        result = set_peft_model_state_dict(self.backbone, load_file(str(path), device=str(self.device)))
        bad = [
            k for k in [*getattr(result, "unexpected_keys", []), *getattr(result, "missing_keys", [])] if "lora_" in k
        ]
        if bad:
            raise SymcereError(
                f"Adapter {path} does not fit this model (mismatched LoRA keys such as {bad[:3]}). Fix: load it "
                "into an encoder built from the same model with the same LoRA settings."
            )
