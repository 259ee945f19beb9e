"""The text encoder f_text of paper section 3.1.2: a pre-trained transformer, pooled, optionally L2-normalised
(eq. 2), adapted with LoRA (peft), in one of three modes:

* ``frozen``: no LoRA, no gradients. :meth:`TextEncoder.encode` embeds every training review once
  (length-sorted batches, dynamic padding) and caches the matrix on disk; a small projection head on
  top is the caller's business.
* ``lora``: the paper's setting. LoRA on every layer (or the top L with ``LoraSettings(layers=L)``);
  each step runs forward and backward through the whole encoder (:meth:`TextEncoder.forward`).
* ``lora-top``: LoRA on the top L layers only. The frozen bottom layers cannot change, so their
  output for every training review is computed once (:meth:`TextEncoder.bottom_states`, kept in
  memory and cached on disk) and a step runs only the top L layers (:meth:`TextEncoder.forward_top`).
  This is the same function as ``lora`` with ``LoraSettings(layers=L)`` (tests check outputs and
  LoRA gradients), minus base-model dropout in the bottom layers, which ran in eval mode.

Memory of the bottom cache: it stores real tokens only (no padding). Musical Instruments' 8,533
training reviews hold 657,397 MiniLM tokens at max_length 128 (77 per review on average), so the
cache takes 657,397 x 384 x 2 bytes = 505 MB (0.47 GiB) in float16 and 1.0 GB in float32; padded to
128 tokens it would be 839 MB in float16. A base-size model (hidden 768, e.g. BLaIR-RoBERTa) doubles this.

Word masking for the intra-modal view t' (eq. 6) is :func:`~symcere_kit.text.masking.mask_words` for
``frozen``/``lora`` and top-layer token dropping (:func:`~symcere_kit.text.masking.token_keep_mask`) for
``lora-top``; :meth:`TextEncoder.embed` picks the right one.

Typical use by a trainer::

    enc = TextEncoder.from_pretrained(None, mode="lora-top", lora=LoraSettings(layers=1))
    enc.prepare(dataset.train_texts)                 # encode / cache bottom states once
    t = enc.embed(batch_idx)                         # [B, out_dim], grads reach the LoRA weights
    t_view = enc.embed(batch_idx, mask_prob=0.15, generator=g)

Device-agnostic: ``enc.to(device)``; under CUDA the caller may wrap steps in bf16 autocast (outputs
are returned in float32).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SymcereError
from ..io import _UMASK_MODE, atomic_path
from .arch import LayerStack, family_of
from .cache import BottomStates, TensorCache, texts_digest
from .masking import mask_words, token_keep_mask
from .pooling import POOLINGS, auto_pooling, pool
from .resolve import load_backbone, sentence_transformers_pooling, tokenizer_hash

MODES = ("frozen", "lora", "lora-top")
_FP16_MAX = 65504.0


@dataclass(frozen=True)
class LoraSettings:
    """LoRA hyper-parameters (peft ``LoraConfig``).

    ``target_modules=None`` picks peft's default for the architecture (``query``/``value`` for
    BERT/RoBERTa, ``q_proj``/``v_proj`` for Llama/Qwen/Mistral). ``layers="all"`` adapts every layer;
    an int L adapts the top L layers only.
    """

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None
    layers: str | int = "all"

    def __post_init__(self):
        if self.target_modules is not None and not isinstance(self.target_modules, tuple):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
        if self.rank < 1:
            raise SymcereError(f"LoRA rank must be >= 1 (got {self.rank}).")
        if not (self.layers == "all" or (isinstance(self.layers, int) and not isinstance(self.layers, bool) and self.layers >= 1)):
            raise SymcereError(f"LoraSettings.layers must be 'all' or an int >= 1 (got {self.layers!r}).")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["target_modules"] = list(self.target_modules) if self.target_modules is not None else None
        return d


def _weights_hash(model: nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def _length_sorted_batches(lengths: Sequence[int], size: int) -> Iterator[list[int]]:
    """Positions of ``lengths`` in batches of ``size``, longest first, so each batch pads little."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    for start in range(0, len(order), size):
        yield order[start:start + size]


class TextEncoder(nn.Module):
    """f_text: transformer + pooling (+ L2 normalisation) with LoRA; see the module docstring.

    Build with :meth:`from_pretrained` (model name -> resolve -> load) or directly from a transformers
    model and tokenizer (tests, custom models). ``identity`` names the weights for the caches; by
    default it is a hash of the model's weights and tokenizer.
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        *,
        mode: str = "frozen",
        pooling: str = "auto",
        max_length: int = 128,
        normalize: bool = True,
        lora: LoraSettings | None = None,
        identity: dict | None = None,
        cache_dir: str | os.PathLike | None = None,
        sentence_transformers_mode: str | None = None,
    ):
        super().__init__()
        if mode not in MODES:
            raise SymcereError(f"Unknown text mode {mode!r}; choose one of {', '.join(MODES)}.")
        if pooling not in POOLINGS:
            raise SymcereError(f"Unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}.")
        if max_length < 2:
            raise SymcereError(f"max_length must be >= 2 tokens (got {max_length}).")
        self.mode = mode
        self.max_length = int(max_length)
        self.normalize = bool(normalize)
        self.tokenizer = tokenizer
        config = model.config
        self.pooling = auto_pooling(config, sentence_transformers_mode) if pooling == "auto" else pooling
        self.requested_pooling = pooling
        self.base_identity = dict(identity) if identity else {
            "weights": _weights_hash(model), "tokenizer": tokenizer_hash(tokenizer), "class": type(model).__name__}
        self.cache = TensorCache(cache_dir)
        self.pad_token_id = next(
            (t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) if t is not None), 0)
        self._stack = LayerStack(model) if (mode == "lora-top" or family_of(model)) else None
        self.n_layers = self._stack.n_layers if self._stack else int(getattr(config, "num_hidden_layers", 0))
        self.lora: LoraSettings | None = None
        self.n_bottom = 0
        if mode == "frozen":
            if lora is not None:
                raise SymcereError("Text mode 'frozen' trains no LoRA; drop the LoRA settings or pick 'lora'/'lora-top'.")
            for p in model.parameters():
                p.requires_grad_(False)
            model.eval()
            self.backbone = model
        else:
            self.lora = lora if lora is not None else (LoraSettings(layers=1) if mode == "lora-top" else LoraSettings())
            self.backbone = self._apply_lora(model, self.lora)
            if mode == "lora-top":
                top = self.n_layers if self.lora.layers == "all" else int(self.lora.layers)
                self.n_bottom = self.n_layers - top
        self._bottom: BottomStates | None = None
        self._bottom_key: str | None = None
        self._corpus: list[str] | None = None
        self._corpus_embeddings: torch.Tensor | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls,
        name: str | os.PathLike | None = None,
        *,
        mode: str = "frozen",
        pooling: str = "auto",
        max_length: int = 128,
        normalize: bool = True,
        lora: LoraSettings | None = None,
        trust_remote_code: bool = False,
        dtype: Any = None,
        attn_implementation: str | None = None,
        cache_dir: str | os.PathLike | None = None,
    ) -> "TextEncoder":
        """Load ``name`` (None: the packaged all-MiniLM-L6-v2; a local dir; or a hub id) and wrap it."""
        loaded = load_backbone(name, trust_remote_code=trust_remote_code, dtype=dtype,
                               attn_implementation=attn_implementation)
        st_mode = sentence_transformers_pooling(loaded.resolved) if pooling == "auto" else None
        return cls(loaded.model, loaded.tokenizer, mode=mode, pooling=pooling, max_length=max_length,
                   normalize=normalize, lora=lora, identity=loaded.identity, cache_dir=cache_dir,
                   sentence_transformers_mode=st_mode)

    @classmethod
    def from_config(cls, cfg: Any, cache_dir: str | os.PathLike | None = None) -> "TextEncoder":
        """Build from a config object with the ``TrainConfig`` text fields (text_model, text_mode, pooling,
        max_length, normalize, lora_rank, lora_alpha, lora_dropout, lora_top_layers, trust_remote_code)."""
        mode = getattr(cfg, "text_mode", "frozen")
        lora = None
        if mode != "frozen":
            lora = LoraSettings(
                rank=getattr(cfg, "lora_rank", 8), alpha=getattr(cfg, "lora_alpha", 16),
                dropout=getattr(cfg, "lora_dropout", 0.05),
                layers=getattr(cfg, "lora_top_layers", 1) if mode == "lora-top" else "all",
            )
        return cls.from_pretrained(
            getattr(cfg, "text_model", None), mode=mode, pooling=getattr(cfg, "pooling", "auto"),
            max_length=getattr(cfg, "max_length", 128), normalize=getattr(cfg, "normalize", True), lora=lora,
            trust_remote_code=getattr(cfg, "trust_remote_code", False), cache_dir=cache_dir,
        )

    def _apply_lora(self, model: nn.Module, settings: LoraSettings) -> nn.Module:
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
                raise SymcereError(f"LoraSettings.layers={settings.layers} but the model has {n} layers; use 1..{n} or 'all'.")
            layers_to_transform = list(range(n - settings.layers, n))
            if self._stack is not None:
                layers_pattern = self._stack.layers_pattern
        cfg = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                         target_modules=targets, layers_to_transform=layers_to_transform,
                         layers_pattern=layers_pattern, bias="none")
        with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return get_peft_model(model, cfg)

    # ------------------------------------------------------------------ properties
    @property
    def transformer(self) -> nn.Module:
        """The bare transformers model (with LoRA layers injected in place in the LoRA modes)."""
        b = self.backbone
        return b.get_base_model() if hasattr(b, "get_base_model") else b

    @property
    def config(self) -> Any:
        return self.transformer.config

    @property
    def out_dim(self) -> int:
        return int(self.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    @property
    def top_layers(self) -> int:
        """Layers run by :meth:`forward_top` (``lora-top``)."""
        return self.n_layers - self.n_bottom

    def lora_parameters(self) -> list[nn.Parameter]:
        """The trainable (LoRA) parameters; empty in ``frozen`` mode."""
        return [p for p in self.parameters() if p.requires_grad]

    def train(self, mode: bool = True) -> "TextEncoder":
        super().train(mode)
        if self.mode == "frozen":
            self.backbone.eval()  # frozen features: no dropout noise
        return self

    def identity(self) -> dict:
        """What the frozen cache is keyed by: the base model plus the current LoRA weights, if any."""
        ident = dict(self.base_identity)
        if self.mode != "frozen":
            ident["lora"] = self._lora_hash()
        return ident

    def _lora_hash(self) -> str:
        h = hashlib.sha256()
        for name, p in self.named_parameters():
            if "lora_" in name:
                h.update(name.encode())
                h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def settings(self) -> dict:
        """Everything that defines this encoder, for run records."""
        return {"model": self.base_identity, "mode": self.mode, "pooling": self.pooling,
                "requested_pooling": self.requested_pooling, "max_length": self.max_length,
                "normalize": self.normalize, "lora": self.lora.to_dict() if self.lora else None,
                "n_layers": self.n_layers, "n_bottom": self.n_bottom}

    # ------------------------------------------------------------------ tokenisation
    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, truncated to ``max_length``; an empty result becomes one pad/EOS token."""
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        if not len(texts):
            return []
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length,
                             return_attention_mask=False, return_token_type_ids=False)
        return [ids if len(ids) else [self.pad_token_id] for ids in enc["input_ids"]]

    def collate(self, ids: Sequence[Sequence[int]], device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-pad token id lists to the longest: ``(input_ids [B, L], attention_mask [B, L])``."""
        width = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for r, x in enumerate(ids):
            input_ids[r, :len(x)] = torch.as_tensor(x, dtype=torch.long)
            mask[r, :len(x)] = 1
        device = device or self.device
        return input_ids.to(device), mask.to(device)

    def mask_words(self, texts: Sequence[str], p: float, generator: torch.Generator | None = None) -> list[str]:
        """Whole-word masking with this tokenizer's mask token (words removed when it has none)."""
        return mask_words(texts, p, generator, mask_token=getattr(self.tokenizer, "mask_token", None))

    # ------------------------------------------------------------------ forward paths
    def _pooled(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return pool(hidden, attention_mask, self.pooling).float()

    def _finish(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self._normalized(self._pooled(hidden, attention_mask))

    def _normalized(self, pooled: torch.Tensor) -> torch.Tensor:
        return F.normalize(pooled, dim=-1) if self.normalize else pooled

    def _hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.transformer(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state

    def forward_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Embeddings [B, out_dim] (float32) of padded token ids, through the whole model."""
        return self._finish(self._hidden(input_ids, attention_mask), attention_mask)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings [B, out_dim] (float32) of ``texts`` through the whole model (LoRA modes: with grad)."""
        input_ids, mask = self.collate(self.tokenize(texts))
        return self.forward_ids(input_ids, mask)

    def forward_top(
        self,
        states: torch.Tensor,
        attention_mask: torch.Tensor,
        keep_prob: float | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Run only the top layers on cached bottom states [B, L, H] and pool: ``lora-top``'s training step.

        ``keep_prob`` < 1 builds the masked view: each token is kept with that probability (first and
        last real token always), dropped tokens leave the attention mask and the pooling.
        """
        if self.mode != "lora-top":
            raise SymcereError(f"forward_top needs text mode 'lora-top' (this encoder is {self.mode!r}).")
        if keep_prob is not None and keep_prob < 1.0:
            attention_mask = token_keep_mask(attention_mask, keep_prob, generator)
        return self._top(states, attention_mask)

    def _top(self, states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        dtype = next(self._stack.layers[self.n_bottom].parameters()).dtype
        if not torch.is_autocast_enabled(states.device.type):
            states = states.to(dtype)
        hidden = self._stack.run(states, attention_mask, self.n_bottom, self.n_layers)
        return self._finish(self._stack.finish(hidden), attention_mask)

    # ------------------------------------------------------------------ frozen encoding + cache
    def _frozen_key(self, texts: Sequence[str]) -> tuple[str, dict]:
        parts = {"kind": "frozen", "model": self.identity(), "pooling": self.pooling, "max_length": self.max_length,
                 "stored": "pooled", "texts": texts_digest(texts), "n": len(texts)}
        return TensorCache.key(parts), parts

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        progress: bool = True,
        cache: bool | None = None,
    ) -> torch.Tensor:
        """Embed ``texts`` without gradients: [n, out_dim] float32 on the CPU, in input order.

        Texts are tokenised once, sorted by length (longest first) and batched with dynamic padding.
        ``cache`` (default: on in ``frozen`` mode) stores the matrix under the cache directory, keyed by
        model identity (incl. LoRA weights), pooling, max_length and a hash of the texts. It holds the
        pooled vectors before L2 normalisation, so the w/o Norm ablation reuses the normalised runs' file.
        """
        use_cache = (self.mode == "frozen") if cache is None else bool(cache)
        key = parts = None
        if use_cache:
            key, parts = self._frozen_key(texts)
            hit = self.cache.load("frozen", key)
            if hit is not None and hit.get("embeddings") is not None and hit["embeddings"].shape == (len(texts), self.out_dim):
                return self._normalized(hit["embeddings"])
        out = torch.empty((len(texts), self.out_dim), dtype=torch.float32)
        if len(texts):
            from tqdm.auto import tqdm

            ids = self.tokenize(texts)
            was_training = self.training
            self.eval()
            try:
                with torch.no_grad(), tqdm(total=len(ids), desc="encoding reviews", unit="text",
                                           disable=not progress) as bar:
                    for chunk in _length_sorted_batches([len(x) for x in ids], batch_size):
                        input_ids, mask = self.collate([ids[i] for i in chunk])
                        out[torch.as_tensor(chunk)] = self._pooled(self._hidden(input_ids, mask), mask).cpu()
                        bar.update(len(chunk))
            finally:
                self.train(was_training)
        if use_cache:
            self.cache.save("frozen", key, {"embeddings": out}, parts)
        return self._normalized(out)

    # ------------------------------------------------------------------ lora-top bottom cache
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
        activations exceed float16's range (checked).
        """
        if self.mode != "lora-top":
            raise SymcereError(f"bottom_states needs text mode 'lora-top' (this encoder is {self.mode!r}).")
        parts = {"kind": "bottom", "model": self.base_identity, "n_bottom": self.n_bottom, "max_length": self.max_length,
                 "dtype": str(dtype), "texts": texts_digest(texts), "n": len(texts)}
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

    def _compute_bottom(self, texts: Sequence[str], batch_size: int, progress: bool, dtype: torch.dtype) -> BottomStates:
        from tqdm.auto import tqdm

        ids = self.tokenize(texts)
        pieces: list[torch.Tensor | None] = [None] * len(ids)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad(), tqdm(total=len(ids), desc=f"caching {self.n_bottom} bottom layers", unit="text",
                                       disable=not progress) as bar:
                for chunk in _length_sorted_batches([len(x) for x in ids], batch_size):
                    input_ids, mask = self.collate([ids[i] for i in chunk])
                    hidden = self._stack.run(self._stack.embed(input_ids), mask, 0, self.n_bottom)
                    if dtype == torch.float16 and bool((hidden.abs() > _FP16_MAX).any()):
                        raise SymcereError(
                            "Bottom-layer states of this model exceed float16's range (65504). Fix: cache them "
                            "with dtype=torch.bfloat16 or torch.float32."
                        )
                    hidden = hidden.to(dtype).cpu()
                    for r, i in enumerate(chunk):
                        pieces[i] = hidden[r, :len(ids[i])].clone()
                    bar.update(len(chunk))
        finally:
            self.train(was_training)
        hidden_size = self.out_dim
        states = torch.cat(pieces) if pieces else torch.empty((0, hidden_size), dtype=dtype)
        return BottomStates(states, torch.tensor([len(x) for x in ids], dtype=torch.long))

    # ------------------------------------------------------------------ trainer-facing API
    def prepare(self, texts: Sequence[str], batch_size: int = 64, progress: bool = True,
                bottom_dtype: torch.dtype = torch.float16,
                bottom_device: str | torch.device | None = None) -> "TextEncoder":
        """Fix the corpus (the TRAINING review texts) that :meth:`embed` indexes, and do the one-off
        work of the mode: encode it (``frozen``), cache its bottom states (``lora-top``), nothing (``lora``).

        ``bottom_device`` keeps the cached bottom states there (e.g. ``"cuda"``); default: CPU memory,
        each batch is gathered there and moved to the encoder's device."""
        self._corpus = list(texts)
        if self.mode == "frozen":
            self._corpus_embeddings = self.encode(self._corpus, batch_size=batch_size, progress=progress)
        elif self.mode == "lora-top":
            states = self.bottom_states(self._corpus, batch_size=batch_size, progress=progress, dtype=bottom_dtype)
            if bottom_device is not None:
                self._bottom = states.to(bottom_device)
        return self

    def embed(
        self,
        indices: Sequence[int] | torch.Tensor,
        mask_prob: float = 0.0,
        generator: torch.Generator | None = None,
        chunk_size: int = 0,
    ) -> torch.Tensor:
        """Embeddings [B, out_dim] (float32, on this encoder's device) of corpus rows ``indices``.

        ``mask_prob`` > 0 gives the word-masked view t' of eq. (6): whole-word masking of the raw
        text (``frozen``: re-encoded without grad; ``lora``: full forward) or, for ``lora-top``, dropping
        tokens at the top-layer input with keep probability ``1 - mask_prob``.

        ``chunk_size`` > 0 runs the transformer on length-sorted micro-batches of that many texts (each
        padded only to its own longest), and in ``lora`` mode wraps each in activation checkpointing:
        backward recomputes one chunk at a time, so activation memory is one chunk's whatever the
        batch size, for one extra forward pass (GradCache's trade, without its two-pass bookkeeping).
        The result is the same function of the inputs as one big batch (a test compares gradients).
        """
        if self._corpus is None:
            raise SymcereError("Call TextEncoder.prepare(train_texts) before embed(indices).")
        idx = torch.as_tensor(indices, dtype=torch.long).cpu()
        if self.mode == "frozen" and mask_prob == 0:
            return self._corpus_embeddings[idx].to(self.device)
        if self.mode == "lora-top":
            lengths = self._bottom.lengths[idx].tolist()
            keep = 1.0 - mask_prob if mask_prob > 0 else None

            def run(rows: list[int]) -> torch.Tensor:
                hidden, mask = self._bottom.batch(idx[rows], device=self.device)
                if keep is not None:
                    mask = token_keep_mask(mask, keep, generator)
                return self._checkpointed(self._top, hidden, mask)
        else:
            texts = [self._corpus[i] for i in idx.tolist()]
            if mask_prob > 0:
                texts = self.mask_words(texts, mask_prob, generator)
            ids = self.tokenize(texts)
            lengths = [len(x) for x in ids]

            def run(rows: list[int]) -> torch.Tensor:
                return self._checkpointed(self.forward_ids, *self.collate([ids[r] for r in rows]))

        with torch.no_grad() if self.mode == "frozen" else contextlib.nullcontext():
            if chunk_size <= 0 or chunk_size >= len(lengths):
                return run(list(range(len(lengths))))
            chunks = list(_length_sorted_batches(lengths, chunk_size))
            out = torch.cat([run(rows) for rows in chunks])
            order = torch.tensor([r for rows in chunks for r in rows], device=out.device)
            inverse = torch.empty_like(order)
            inverse[order] = torch.arange(len(order), device=out.device)
            return out.index_select(0, inverse)

    def _checkpointed(self, fn, *args: torch.Tensor) -> torch.Tensor:
        """``fn(*args)``, under activation checkpointing when gradients flow through the whole encoder
        (``lora``). ``lora-top`` keeps its few top layers' activations: ~2 GB at batch 512 with one
        MiniLM layer, and a quarter less compute than recomputing them."""
        if torch.is_grad_enabled() and self.mode == "lora":
            from torch.utils.checkpoint import checkpoint

            return checkpoint(fn, *args, use_reentrant=False)
        return fn(*args)

    # ------------------------------------------------------------------ adapters
    def adapter_state_dict(self) -> dict[str, torch.Tensor]:
        if self.mode == "frozen":
            return {}
        from peft import get_peft_model_state_dict

        return {k: v.detach().cpu() for k, v in get_peft_model_state_dict(self.backbone).items()}

    def save_adapter(self, path: str | os.PathLike) -> Path:
        """Write the LoRA weights and settings to one safetensors file (atomically)."""
        from safetensors.torch import save_file

        path = Path(path)
        meta = {"settings": json.dumps(self.settings(), sort_keys=True, default=str)}
        with atomic_path(path) as tmp:
            save_file({k: v.contiguous() for k, v in self.adapter_state_dict().items()}, str(tmp), metadata=meta)
            os.chmod(tmp, _UMASK_MODE)
        return path

    def load_adapter(self, path: str | os.PathLike) -> None:
        """Load LoRA weights written by :meth:`save_adapter` (same model, LoRA settings and layers)."""
        from peft import set_peft_model_state_dict
        from safetensors import safe_open
        from safetensors.torch import load_file

        if self.mode == "frozen":
            raise SymcereError("A 'frozen' text encoder has no LoRA adapter to load.")
        with safe_open(str(path), framework="pt") as f:
            saved = json.loads((f.metadata() or {}).get("settings", "{}"))
        if saved.get("lora") != (self.lora.to_dict() if self.lora else None):
            raise SymcereError(
                f"Adapter {path} was saved with LoRA settings {saved.get('lora')}, but this encoder uses "
                f"{self.lora.to_dict()}. Fix: build the encoder with the saved settings."
            )
        result = set_peft_model_state_dict(self.backbone, load_file(str(path), device=str(self.device)))
        bad = [k for k in [*getattr(result, "unexpected_keys", []), *getattr(result, "missing_keys", [])] if "lora_" in k]
        if bad:
            raise SymcereError(
                f"Adapter {path} does not fit this model (mismatched LoRA keys such as {bad[:3]}). Fix: load it "
                "into an encoder built from the same model with the same LoRA settings."
            )
