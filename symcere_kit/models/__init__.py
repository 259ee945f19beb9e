"""Model zoo. Every model shares the ``Recommender`` interface and lives in one file,
``models/<name>.py``, which defines ``MODEL`` (its class) with a ``Settings`` dataclass; a model is
found by its file name, so a new baseline is its file plus one variant row in ``runs/variants.py``.
Modules are imported on first use: asking for LightGCN never imports transformers."""
from __future__ import annotations

import importlib

from ..errors import SymcereError
from .base import Recommender


def model_class(name: str) -> type[Recommender]:
    """The class ``models/<name>.py`` exports as ``MODEL``; an unknown name is an error listing the known."""
    module_name = name.replace("-", "_")
    try:
        module = importlib.import_module(f"{__name__}.{module_name}") if module_name.isidentifier() else None
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{module_name}":
            raise  # the model's own imports failed: show that, not "unknown model"
        module = None
    cls = getattr(module, "MODEL", None)
    if cls is None:
        from ..runs.variants import model_names

        raise SymcereError(f"Unknown model {name!r}; choose one of {', '.join(model_names())}.")
    return cls


def build_model(config, dataset, progress: bool = True) -> Recommender:
    """``config.model``'s class built on ``dataset`` with ``config.settings``; ``progress`` shows the
    review-encoding bar of models that embed reviews."""
    return model_class(config.model)(dataset, config.settings, progress=progress)


__all__ = ["Recommender", "build_model", "model_class"]
