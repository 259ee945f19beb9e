"""A model's search space (``config.Range`` / ``config.Choice``) in Optuna's terms.

Categorical values Optuna cannot store (tuples such as NeuMF's ``mlp_hidden``) travel as string
labels and are decoded back, so a study's parameters are plain and the settings keep their types.
"""
from __future__ import annotations

import json
from typing import Any

from ..config import Choice, Range

_PLAIN = (type(None), bool, int, float, str)


def label(value: Any) -> Any:
    """Optuna-storable form of a categorical value: itself if plain, else its JSON text."""
    return value if isinstance(value, _PLAIN) else json.dumps(list(value) if isinstance(value, tuple) else value)


def distributions(space: dict[str, Range | Choice]) -> dict:
    """``{name: optuna.distributions.BaseDistribution}`` of ``space``."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name, dim in space.items():
        if isinstance(dim, Choice):
            out[name] = CategoricalDistribution([label(v) for v in dim.values])
        elif dim.integer:
            out[name] = IntDistribution(int(dim.low), int(dim.high), log=dim.log)
        else:
            out[name] = FloatDistribution(float(dim.low), float(dim.high), log=dim.log)
    return out


def suggest(trial, space: dict[str, Range | Choice]) -> dict[str, Any]:
    """Draw every dimension of ``space`` through ``trial`` (Optuna's define-by-run API); decoded values."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    params = {}
    for name, dist in distributions(space).items():
        if isinstance(dist, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            params[name] = trial.suggest_int(name, dist.low, dist.high, log=dist.log)
        else:
            params[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    return decode(params, space)


def decode(params: dict[str, Any], space: dict[str, Range | Choice]) -> dict[str, Any]:
    """Optuna's stored parameters back to setting values (labels of categorical values decoded)."""
    out = {}
    for name, value in params.items():
        dim = space.get(name)
        if isinstance(dim, Choice):
            value = dim.values[[label(v) for v in dim.values].index(value)]
        out[name] = value
    return out


def corners(space: dict[str, Range | Choice]) -> list[dict[str, Any]]:
    """Settings at each end of every dimension (the others at their low end): building a config at each
    checks the space against the model before any trial runs."""
    low = {n: (d.values[0] if isinstance(d, Choice) else _cast(d, d.low)) for n, d in space.items()}
    out = [low]
    for name, dim in space.items():
        ends = dim.values[1:] if isinstance(dim, Choice) else [_cast(dim, dim.high)]
        out += [{**low, name: end} for end in ends]
    return out


def _cast(dim: Range, value: float):
    return int(value) if dim.integer else float(value)
