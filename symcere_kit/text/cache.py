"""On-disk caches of text-encoder outputs (safetensors, written atomically) and cached bottom-layer states.

Files live under ``<cache_dir>/text/`` (``cache_dir`` = ``$SYMCERE_CACHE_DIR`` or ``data/processed``):

* ``frozen-<key>.safetensors``: tensor ``embeddings`` [n, out_dim] float32, pooled but not yet
  L2-normalised (normalising is cheap; one file then serves SymCERE and its w/o Norm ablation);
  ``key`` hashes the model identity (resolved path or hub id, config hash, tokenizer hash, weight
  files; plus the LoRA weights when an adapter is present), pooling, max_length and the texts.
* ``bottom-<key>.safetensors``: tensors ``states`` [total_tokens, hidden] (storage dtype, float16 by
  default) and ``lengths`` [n] int64; ``key`` hashes the base-model identity, the number of bottom
  layers, max_length, storage dtype and the texts.

Each file carries its key's ingredients as JSON metadata. No pickles. A half-written file never
appears under its final name (``symcere_kit.files.atomic_path``); an unreadable file is a cache miss.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from ..files import FILE_MODE, atomic_path, stable_hash
from ..paths import cache_dir

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``<cache_dir>/text`` (``paths.cache_dir``): where a ``TensorCache`` without a root keeps its files."""
    return cache_dir() / "text"


def texts_digest(texts: Sequence[str]) -> str:
    """Order-sensitive hash of a list of texts (length-prefixed, so no two lists collide by joining)."""
    h = hashlib.sha256()
    h.update(str(len(texts)).encode())
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()[:32]


class TensorCache:
    """A directory of ``<kind>-<key>.safetensors`` files."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    @staticmethod
    def key(parts: dict) -> str:
        """A 24-character stable hash of the key's ingredients ``parts`` and ``CACHE_VERSION``."""
        return stable_hash({**parts, "cache_version": CACHE_VERSION}, length=24)

    def path(self, kind: str, key: str) -> Path:
        """The file ``<root>/<kind>-<key>.safetensors``."""
        return self.root / f"{kind}-{key}.safetensors"

    def load(self, kind: str, key: str) -> dict[str, torch.Tensor] | None:
        """The tensors stored under ``kind`` and ``key``; None when the file is missing or unreadable (warned)."""
        from safetensors.torch import load_file

        p = self.path(kind, key)
        if not p.is_file():
            return None
        try:
            return load_file(p)
        except Exception as exc:  # noqa: BLE001 - any unreadable cache file is a miss
            warnings.warn(f"Ignoring unreadable text cache {p} ({exc}); recomputing it.", stacklevel=3)
            return None

    def save(self, kind: str, key: str, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
        """Write ``tensors`` (on the CPU) atomically under ``kind`` and ``key``, ``meta`` as JSON metadata; return
        the file's path."""
        from safetensors.torch import save_file

        p = self.path(kind, key)
        tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        with atomic_path(p) as tmp:
            save_file(tensors, str(tmp), metadata={"symcere": json.dumps(meta, sort_keys=True, default=str)})
            os.chmod(tmp, FILE_MODE)  # safetensors re-creates the file with mode 0600
        return p


@dataclass
class BottomStates:
    """Hidden states after the frozen bottom layers, stored ragged (no padding).

    ``states`` [total_tokens, hidden] holds the real tokens of every text one after another; ``lengths`` [n] their token
    counts. [`batch`][symcere_kit.text.cache.BottomStates.batch] re-pads a selection for the top layers.
    """

    states: torch.Tensor
    lengths: torch.Tensor

    def __post_init__(self):
        self.lengths = self.lengths.to(torch.long)
        self.offsets = torch.zeros(len(self.lengths) + 1, dtype=torch.long, device=self.lengths.device)
        self.offsets[1:] = torch.cumsum(self.lengths, 0)
        if int(self.offsets[-1]) != self.states.shape[0]:
            raise ValueError(f"lengths sum to {int(self.offsets[-1])} but states hold {self.states.shape[0]} tokens")

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def hidden_size(self) -> int:
        """The width H of the states."""
        return self.states.shape[1]

    @property
    def nbytes(self) -> int:
        """The memory ``states`` holds, in bytes."""
        return self.states.numel() * self.states.element_size()

    def to(self, device: str | torch.device) -> "BottomStates":
        """The same states with ``states`` and ``lengths`` on ``device``."""
        return BottomStates(self.states.to(device), self.lengths.to(device))

    def batch(
        self,
        indices: Sequence[int] | torch.Tensor,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ``(hidden [B, Lmax, H], attention_mask [B, Lmax])`` for texts ``indices``."""
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.lengths.device)
        lens = self.lengths[idx]
        width = int(lens.max()) if len(lens) else 0
        pos = torch.arange(width, device=idx.device)
        valid = pos.unsqueeze(0) < lens.unsqueeze(1)
        flat = torch.where(
            valid, self.offsets[idx].unsqueeze(1) + pos.unsqueeze(0), torch.zeros_like(valid, dtype=torch.long)
        )
        hidden = self.states[flat.reshape(-1)].reshape(len(idx), width, self.hidden_size)
        hidden = hidden * valid.unsqueeze(-1).to(hidden.dtype)
        device = device if device is not None else self.states.device
        hidden = hidden.to(device=device, dtype=dtype or hidden.dtype, non_blocking=True)
        return hidden, valid.to(device=device, dtype=torch.long)
