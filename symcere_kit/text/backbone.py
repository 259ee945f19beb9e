"""The text encoder f_text of paper section 3.1.2, the part every text mode shares: a pre-trained
transformer, pooled, optionally L2-normalised (eq. 2).

[`TextEncoder`][symcere_kit.text.backbone.TextEncoder] tokenises (truncated to ``max_length``), collates (right
padding), runs the model, pools and normalises; [`TextEncoder.encode`][symcere_kit.text.backbone.TextEncoder.encode]
embeds any texts without gradients (length-sorted batches, dynamic padding) and caches the matrix on disk
([`TensorCache`][symcere_kit.text.cache.TensorCache], ``frozen-<key>.safetensors``). The trainer-facing pair
[`TextEncoder.prepare`][symcere_kit.text.backbone.TextEncoder.prepare] /
[`TextEncoder.embed`][symcere_kit.text.backbone.TextEncoder.embed] fixes the corpus of TRAINING reviews and embeds its
rows; what they do in between is the mode's business, one class each:

* [`FrozenText`][symcere_kit.text.frozen.FrozenText] (``frozen``): no LoRA, no gradients, the corpus encoded once;
* [`LoraText`][symcere_kit.text.lora.LoraText] (``lora``, the paper's setting): LoRA, the whole model each step;
* [`LoraTopText`][symcere_kit.text.lora_top.LoraTopText] (``lora-top``): LoRA on the top layers only, the
  frozen bottom layers' output cached once.

[`text_encoder_class`][symcere_kit.text.modes.text_encoder_class] picks the class from a mode name. Typical use by a
trainer:

```text
enc = LoraTopText.from_pretrained(None, lora=LoraSettings(layers=1))
enc.prepare(dataset.train_texts)                 # encode / cache bottom states once
t = enc.embed(batch_idx)                         # [B, out_dim], grads reach the LoRA weights
t_view = enc.embed(batch_idx, mask_prob=0.15, generator=g)
```

Device-agnostic: ``enc.to(device)``; under CUDA the caller may wrap steps in bf16 autocast (outputs
are returned in float32).
"""
from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SymcereError
from ..progress import progress_bar
from ..verbosity import quiet_libraries
from .arch import LayerStack, family_of
from .cache import TensorCache, texts_digest
from .masking import mask_words
from .pooling import POOLINGS, auto_pooling, pool
from .resolve import load_backbone, sentence_transformers_pooling, tokenizer_hash

if TYPE_CHECKING:
    from .lora import LoraSettings


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
    """f_text: transformer + pooling (+ L2 normalisation); the base of the three mode classes.

    Build a mode class ([`text_encoder_class`][symcere_kit.text.modes.text_encoder_class] of a mode name) directly from
    a transformers model and tokenizer (tests, custom models), with its
    [`from_pretrained`][symcere_kit.text.backbone.TextEncoder.from_pretrained] (model name -> resolve -> load), or with
    [`text_encoder_from_config`][symcere_kit.text.modes.text_encoder_from_config]. ``identity`` names the weights for
    the caches; by default it is a hash of the model's weights and tokenizer. ``lora`` is the mode's LoRA settings (an
    error in ``frozen``).

    Raises [`SymcereError`][symcere_kit.errors.SymcereError] for an unknown pooling or ``max_length`` < 2.
    """

    mode: str = ""  # the mode's name, set by each mode class
    lora: LoraSettings | None = None  # LoRA settings; None where nothing trains
    n_bottom: int = 0  # bottom layers run once and cached rather than every step (lora-top only)
    caches_encodings = False  # whether encode() uses the disk cache when not told

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        *,
        pooling: str = "auto",
        max_length: int = 128,
        normalize: bool = True,
        lora: LoraSettings | None = None,
        identity: dict | None = None,
        cache_dir: str | os.PathLike | None = None,
        sentence_transformers_mode: str | None = None,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise SymcereError(f"Unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}.")
        if max_length < 2:
            raise SymcereError(f"max_length must be >= 2 tokens (got {max_length}).")
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
        self._stack = self._layer_stack(model)
        self.n_layers = self._stack.n_layers if self._stack else int(getattr(config, "num_hidden_layers", 0))
        self.backbone = self._attach(model, lora)
        self._corpus: list[str] | None = None

    # ------------------------------------------------------------------ mode hooks
    def _layer_stack(self, model: nn.Module) -> LayerStack | None:
        """The model as a runnable stack of layers where its family is known (LoRA layer placement)."""
        return LayerStack(model) if family_of(model) else None

    def _attach(self, model: nn.Module, lora: LoraSettings | None) -> nn.Module:
        """Set ``model`` up for the mode (freeze it, or inject LoRA) and return what ``backbone`` holds."""
        raise NotImplementedError("TextEncoder is the mode classes' base; build the class of a mode: "
                                  "text_encoder_class('frozen' | 'lora' | 'lora-top').")

    def _prepare_corpus(self, batch_size: int, progress: bool, bottom_dtype: torch.dtype,
                        bottom_device: str | torch.device | None) -> None:
        """The mode's one-off work on the corpus [`prepare`][symcere_kit.text.backbone.TextEncoder.prepare] just fixed;
        none by default."""

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls,
        name: str | os.PathLike | None = None,
        *,
        pooling: str = "auto",
        max_length: int = 128,
        normalize: bool = True,
        lora: LoraSettings | None = None,
        trust_remote_code: bool = False,
        dtype: Any = None,
        attn_implementation: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        verbose: bool | None = None,
    ) -> "TextEncoder":
        """Load ``name`` (None: the packaged all-MiniLM-L6-v2; a local dir; or a hub id) and wrap it in this
        mode class. transformers', huggingface_hub's and peft's progress bars and log messages (loading,
        LoRA injection) are hidden unless ``verbose`` is True (None: off unless asked, see
        [`symcere_kit.verbosity.wants_verbose`][symcere_kit.verbosity.wants_verbose]). Raises
        [`TextModelError`][symcere_kit.text.resolve.TextModelError] when the model cannot be found."""
        with quiet_libraries(verbose):
            loaded = load_backbone(name, trust_remote_code=trust_remote_code, dtype=dtype,
                                   attn_implementation=attn_implementation)
            st_mode = sentence_transformers_pooling(loaded.resolved) if pooling == "auto" else None
            return cls(loaded.model, loaded.tokenizer, pooling=pooling, max_length=max_length,
                       normalize=normalize, lora=lora, identity=loaded.identity, cache_dir=cache_dir,
                       sentence_transformers_mode=st_mode)

    @classmethod
    def lora_from_config(cls, cfg: Any) -> LoraSettings | None:
        """The LoRA settings this mode reads from a config object's ``lora_*`` fields; None: no LoRA."""
        return None

    # ------------------------------------------------------------------ properties
    @property
    def transformer(self) -> nn.Module:
        """The bare transformers model (with LoRA layers injected in place in the LoRA modes)."""
        b = self.backbone
        return b.get_base_model() if hasattr(b, "get_base_model") else b

    @property
    def config(self) -> Any:
        """The transformers config of the bare model."""
        return self.transformer.config

    @property
    def out_dim(self) -> int:
        """The width of the embeddings: the model's ``hidden_size``."""
        return int(self.config.hidden_size)

    @property
    def device(self) -> torch.device:
        """The device of the transformer's parameters."""
        return next(self.transformer.parameters()).device

    @property
    def kept_encoder(self) -> "TextEncoder":
        """The encoder that embeds new texts for a trainer holding
        [`for_training`][symcere_kit.text.backbone.TextEncoder.for_training]'s result: itself."""
        return self

    def lora_parameters(self) -> list[nn.Parameter]:
        """The trainable (LoRA) parameters; empty in ``frozen`` mode."""
        return [p for p in self.parameters() if p.requires_grad]

    def identity(self) -> dict:
        """What the frozen cache is keyed by: the base model (plus the current LoRA weights, if any)."""
        return dict(self.base_identity)

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

    def collate(
        self, ids: Sequence[Sequence[int]], device: torch.device | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
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

    def _sweep(self, ids: list[list[int]], batch_size: int, progress: bool, desc: str,
               step: Callable[[list[int], torch.Tensor, torch.Tensor], None]) -> None:
        """``step(positions, input_ids, attention_mask)`` on length-sorted padded batches of token ids
        ``ids``, in eval mode (no dropout) and without gradients: the one-off passes over a corpus."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad(), progress_bar(total=len(ids), desc=desc, unit="text", enabled=progress) as bar:
                for chunk in _length_sorted_batches([len(x) for x in ids], batch_size):
                    step(chunk, *self.collate([ids[i] for i in chunk]))
                    bar.update(len(chunk))
        finally:
            self.train(was_training)

    # ------------------------------------------------------------------ encoding + frozen cache
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
        use_cache = self.caches_encodings if cache is None else bool(cache)
        key = parts = None
        if use_cache:
            key, parts = self._frozen_key(texts)
            hit = self.cache.load("frozen", key)
            if (
                hit is not None
                and hit.get("embeddings") is not None
                and hit["embeddings"].shape == (len(texts), self.out_dim)
            ):
                return self._normalized(hit["embeddings"])
        out = torch.empty((len(texts), self.out_dim), dtype=torch.float32)
        if len(texts):
            def step(chunk: list[int], input_ids: torch.Tensor, mask: torch.Tensor) -> None:
                out[torch.as_tensor(chunk)] = self._pooled(self._hidden(input_ids, mask), mask).cpu()

            self._sweep(self.tokenize(texts), batch_size, progress, "encoding reviews", step)
        if use_cache:
            self.cache.save("frozen", key, {"embeddings": out}, parts)
        return self._normalized(out)

    # ------------------------------------------------------------------ trainer-facing API
    def prepare(self, texts: Sequence[str], batch_size: int = 64, progress: bool = True,
                bottom_dtype: torch.dtype = torch.float16,
                bottom_device: str | torch.device | None = None) -> "TextEncoder":
        """Fix the corpus (the TRAINING review texts) that [`embed`][symcere_kit.text.backbone.TextEncoder.embed]
        indexes, and do the one-off work of the mode: encode it (``frozen``), cache its bottom states (``lora-top``),
        nothing (``lora``).

        ``bottom_dtype`` and ``bottom_device`` place ``lora-top``'s cached bottom states (default: float16
        in CPU memory, each batch gathered there and moved to the encoder's device); other modes ignore them."""
        self._corpus = list(texts)
        self._prepare_corpus(batch_size, progress, bottom_dtype, bottom_device)
        return self

    def for_training(self, texts: Sequence[str], view_mask: float, progress: bool = True) -> nn.Module:
        """What a trainer keeps to embed rows of the corpus ``texts``: a module with ``embed(rows, mask_prob, generator,
        chunk_size)`` (as [`embed`][symcere_kit.text.backbone.TextEncoder.embed]), ``lora_parameters()`` and
        ``kept_encoder`` (an encoder for new texts, or None where it was dropped). ``view_mask`` is the word-masking
        rate of the view t' (eq. 6). By default: this encoder, prepared on ``texts``, run every step."""
        return self.prepare(texts, progress=progress)

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
        padded only to its own longest); ``lora`` wraps each in activation checkpointing (see
        [`LoraText`][symcere_kit.text.lora.LoraText]). The result is the same function of the inputs as one
        big batch (a test compares gradients). Raises [`SymcereError`][symcere_kit.errors.SymcereError] before
        [`prepare`][symcere_kit.text.backbone.TextEncoder.prepare].
        """
        if self._corpus is None:
            raise SymcereError("Call TextEncoder.prepare(train_texts) before embed(indices).")
        return self._embed(torch.as_tensor(indices, dtype=torch.long).cpu(), mask_prob, generator, chunk_size)

    def _embed(self, idx: torch.Tensor, mask_prob: float, generator: torch.Generator | None,
               chunk_size: int) -> torch.Tensor:
        """[`embed`][symcere_kit.text.backbone.TextEncoder.embed] by running the model on the corpus texts (word-masked
        when ``mask_prob`` > 0)."""
        texts = [self._corpus[i] for i in idx.tolist()]
        if mask_prob > 0:
            texts = self.mask_words(texts, mask_prob, generator)
        ids = self.tokenize(texts)
        return self._in_chunks([len(x) for x in ids], chunk_size,
                               lambda rows: self._forward_chunk(*self.collate([ids[r] for r in rows])))

    def _forward_chunk(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """One micro-batch of [`_embed`][symcere_kit.text.backbone.TextEncoder._embed]:
        [`forward_ids`][symcere_kit.text.backbone.TextEncoder.forward_ids]."""
        return self.forward_ids(input_ids, attention_mask)

    @staticmethod
    def _in_chunks(lengths: Sequence[int], chunk_size: int, run: Callable[[list[int]], torch.Tensor]) -> torch.Tensor:
        """``run(rows)`` over all rows at once, or (``chunk_size`` > 0) over length-sorted chunks of rows
        with the results put back in row order."""
        if chunk_size <= 0 or chunk_size >= len(lengths):
            return run(list(range(len(lengths))))
        chunks = list(_length_sorted_batches(lengths, chunk_size))
        out = torch.cat([run(rows) for rows in chunks])
        order = torch.tensor([r for rows in chunks for r in rows], device=out.device)
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(len(order), device=out.device)
        return out.index_select(0, inverse)
