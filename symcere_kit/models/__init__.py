"""Model zoo: every model shares the ``Recommender`` interface, so a new baseline is one file."""
from __future__ import annotations

from typing import Callable

from ..errors import SymcereError
from .base import Recommender
from .lightgcn import LightGCN
from .mostpop import MostPop
from .neumf import NeuMF
from .ngcf import NGCF
from .sgl import SGL


def _symcere() -> type[Recommender]:
    from .symcere import SymCERE  # imports transformers: only when a text model is asked for

    return SymCERE


def _smore() -> type[Recommender]:
    from .smore import SMORE

    return SMORE


MODELS: dict[str, type[Recommender] | Callable[[], type[Recommender]]] = {
    "mostpop": MostPop, "neumf": NeuMF, "lightgcn": LightGCN, "ngcf": NGCF, "sgl": SGL, "smore": _smore, "symcere": _symcere,
}


def build_model(name: str, dataset, config, progress: bool = True) -> Recommender:
    """``progress`` shows the review-encoding bar of models that embed reviews (``encodes_text``)."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise SymcereError(f"Unknown model {name!r}; choose one of {', '.join(MODELS)}.") from None
    cls = cls if isinstance(cls, type) else cls()
    return cls(dataset, config, progress=progress) if getattr(cls, "encodes_text", False) else cls(dataset, config)


__all__ = ["MODELS", "Recommender", "build_model"]
