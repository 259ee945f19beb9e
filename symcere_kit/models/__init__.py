"""The model registry. Every model lives in one file, ``models/<name>.py``, which defines ``MODEL`` (its
class, a [`Recommender`][symcere_kit.recommender.base.Recommender] with a ``Settings`` dataclass); a model is
found by its file name, so a new baseline is its file plus one variant row in ``runs/variants.py``.
What models are built from (bases, shared settings, SymCERE's text half) lives in ``recommender/``.

Listing the names reads file names only: ``symcere --help`` imports no model (and so no torch). A
model's module is imported on first use: asking for LightGCN never imports transformers.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import SymcereError
from ..run_settings import config_from_record, resolve_run_config

if TYPE_CHECKING:
    from ..config import ModelSettings, RunConfig
    from ..recommender.base import Recommender


def model_names() -> list[str]:
    """Every model, from the file names of ``models/`` (``symcere train --model`` takes these and the
    variant names); a module whose name starts with ``_`` is not one."""
    return sorted(m.name.replace("_", "-") for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def model_class(name: str) -> type[Recommender]:
    """The class ``models/<name>.py`` exports as ``MODEL``.

    Raises:
        SymcereError: an unknown name (listing the known), or a model file without ``MODEL``.
    """
    if name not in model_names():
        raise SymcereError(f"Unknown model {name!r}; choose one of {', '.join(model_names())}.")
    module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
    cls = getattr(module, "MODEL", None)
    if cls is None:
        raise SymcereError(f"{module.__file__} defines no MODEL; a model file exports its class as MODEL "
                           f"(docs/how-to/add-a-model.md).")
    return cls


def settings_class(name: str) -> type[ModelSettings]:
    """The settings dataclass of model ``name`` (``MODEL.Settings``)."""
    return model_class(name).Settings


def run_config(model: str, **overrides: Any) -> RunConfig:
    """``model``'s config with ``overrides`` (loop or settings names, flat) on its defaults: the settings
    resolver (``run_settings.resolve_run_config``) with the caller's overrides only.

    Raises:
        SymcereError: an option neither the loop nor the model has, naming both lists.
    """
    return resolve_run_config(model, settings_class(model), overrides=overrides)


def run_config_from_record(d: Mapping[str, Any]) -> RunConfig:
    """A run record's flat config (``RunConfig.to_dict``, or an earlier version's) as a ``RunConfig``."""
    if "model" not in d:
        raise SymcereError(f"A run config needs a 'model'; got keys {sorted(d)}.")
    return config_from_record(d, settings_class(d["model"]))


def build_model(config: RunConfig, dataset, progress: bool = True) -> Recommender:
    """``config.model``'s class built on ``dataset`` with ``config.settings``; ``progress`` shows the
    review-encoding bar of models that embed reviews."""
    return model_class(config.model)(dataset, config.settings, progress=progress)


__all__ = ["build_model", "model_class", "model_names", "run_config", "run_config_from_record", "settings_class"]
