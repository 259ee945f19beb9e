"""Model zoo: every model shares the ``Recommender`` interface, so a new baseline is one file."""
from __future__ import annotations

from ..errors import SymcereError
from .base import Recommender
from .lightgcn import LightGCN
from .mostpop import MostPop

MODELS: dict[str, type[Recommender]] = {"mostpop": MostPop, "lightgcn": LightGCN}


def build_model(name: str, dataset, config) -> Recommender:
    try:
        cls = MODELS[name]
    except KeyError:
        raise SymcereError(f"Unknown model {name!r}; choose one of {', '.join(MODELS)}.") from None
    return cls(dataset, config)


__all__ = ["MODELS", "Recommender", "build_model"]
