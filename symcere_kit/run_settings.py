"""The settings resolver: how one run's settings are built from their sources, in one place.

A run's [`RunConfig`][symcere_kit.config.RunConfig] comes from up to seven sources.
[`resolve_run_config`][symcere_kit.run_settings.resolve_run_config] applies them in this order, each later one winning
over the earlier (RecBole's ``Config`` states its priority the same way, once):

1. the defaults of [`LoopConfig`][symcere_kit.config.LoopConfig] and of the model's settings dataclass
   (``models/<name>.py``: every default lives there or in ``config.py``);
2. the model's loop defaults, ``ModelSettings.loop_defaults()`` of the settings built from sources
   1 and 4-7 (they may depend on them: SymCERE's text mode and ``loop_from``);
3. ``seed``;
4. ``grid``: grid-wide settings (``symcere grid --set``, a notebook's ``study_grid``), only those that reach this model
   ([`grid_settings_for`][symcere_kit.run_settings.grid_settings_for]: a bare key the model has, or ``model.key``
   addressed to it);
5. ``variant``: the variant row's overrides (``runs.variants``);
6. ``tuned``: a tuned file's settings (``runs.tuned``), less (a) every key ``grid`` sets, (b) the keys of
   ``variant`` when the file is ``borrowed`` from another variant (a control that keeps another
   variant's tuned recipe with its own overrides on top), (c) the loop keys when the resolved settings
   keep a loop of their own (``ModelSettings.keeps_own_loop``: SymCERE's LoRA modes, whose epoch budget
   the frozen-mode tuning says nothing about);
7. ``overrides``: the caller's explicit choices (``symcere train``'s flags and ``--set``, a tuning
   trial's parameters and budget).

An option neither the loop nor the model has is an error naming both lists. Nothing here imports torch
or knows a model by name: callers pass the settings class (``models.settings_class``).
"""
from __future__ import annotations

from typing import Any, Mapping

from .config import LoopConfig, ModelSettings, RunConfig
from .errors import SymcereError

# Every field of the flat TrainConfig that run records before the per-model settings carry. A record
# key in this set that the model does not use was inert for that model and is dropped when loading.
_LEGACY_FLAT_FIELDS = frozenset({
    "model", "embedding_dim", "n_layers", "epochs", "batch_size", "lr", "reg_weight", "message_dropout",
    "knn_k", "seed", "device", "backbone", "text_mode", "text_model", "pooling", "max_length", "lora_rank",
    "lora_alpha", "lora_dropout", "lora_top_layers", "text_lr", "text_chunk", "tau", "alpha", "beta",
    "bpr_reduction", "normalize", "fn_mask", "t2g_mask", "edge_dropout", "word_mask", "trust_remote_code",
    "patience", "eval_every", "validation_ratio", "eval_ks", "eval_batch_size",
})


def option_names(settings_cls: type[ModelSettings]) -> set[str]:
    """Every flat name a run of a model with ``settings_cls`` takes: its settings and the loop's."""
    return settings_cls.field_names() | LoopConfig.field_names()


def applicable_tuned(settings_cls: type[ModelSettings], tuned: Mapping[str, Any] | None, *,
                     variant: Mapping[str, Any] | None = None, borrowed: bool = False,
                     untuned: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Rules 6(b) and 6(c) of the module docstring: the tuned settings a run takes, before any grid key.

    Args:
        settings_cls: the model's settings dataclass.
        tuned: the tuned file's settings (flat).
        variant: the variant row's overrides.
        borrowed: the file is another variant's (``Variant.tuned_from`` with no search of its own).
        untuned: the run's other sources (grid, variant, overrides), flat: they decide whether the
            settings keep a loop of their own.

    Returns:
        The tuned settings that apply (the run store keys a run's folder by them).
    """
    out = {k: v for k, v in (tuned or {}).items() if not (borrowed and k in (variant or {}))}
    own = settings_cls.field_names()
    settings = settings_cls.from_dict({k: v for k, v in (untuned or {}).items() if k in own})
    if settings.keeps_own_loop():
        out = {k: v for k, v in out.items() if k not in LoopConfig.field_names()}
    return out


def resolve_run_config(model: str, settings_cls: type[ModelSettings], *, seed: int | None = None,
                       grid: Mapping[str, Any] | None = None, variant: Mapping[str, Any] | None = None,
                       tuned: Mapping[str, Any] | None = None, borrowed: bool = False,
                       overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """One run's settings from its sources, in the precedence of the module docstring (the one place
    it is written).

    Args:
        model: the model's name (``models/<model>.py``).
        settings_cls: its settings dataclass (``models.settings_class(model)``).
        seed: the run's seed (rule 3).
        grid: grid-wide settings already narrowed to this model
            ([`grid_settings_for`][symcere_kit.run_settings.grid_settings_for]; rule 4).
        variant: the variant row's overrides (rule 5).
        tuned: the tuned file's settings (rule 6).
        borrowed: the tuned file is another variant's; the variant's overrides beat it (rule 6b).
        overrides: the caller's explicit choices (rule 7).

    Returns:
        The run's [`RunConfig`][symcere_kit.config.RunConfig].

    Raises:
        SymcereError: an option neither the loop nor the model has (naming both lists), or a value of
            the wrong type, sign or range (naming the option).
    """
    grid, variant, overrides = dict(grid or {}), dict(variant or {}), dict(overrides or {})
    untuned = {**grid, **variant, **overrides}
    tuned = {k: v for k, v in applicable_tuned(settings_cls, tuned, variant=variant, borrowed=borrowed,
                                               untuned=untuned).items() if k not in grid}
    flat = {**({"seed": seed} if seed is not None else {}), **grid, **variant, **tuned, **overrides}
    loop_keys, own = LoopConfig.field_names(), settings_cls.field_names()
    unknown = sorted(set(flat) - loop_keys - own)
    if unknown:
        raise SymcereError(f"{model} has no option(s) {unknown}; its settings are {sorted(own)} and every "
                           f"model's loop settings are {sorted(loop_keys)}.")
    settings = settings_cls.from_dict({k: v for k, v in flat.items() if k in own})
    loop = {**settings.loop_defaults(), **{k: v for k, v in flat.items() if k in loop_keys}}
    return RunConfig(model, LoopConfig.from_dict(loop), settings)


def config_from_record(d: Mapping[str, Any], settings_cls: type[ModelSettings]) -> RunConfig:
    """The inverse of ``RunConfig.to_dict``, ``settings_cls`` being the record's model's settings class.

    Records written with the flat ``TrainConfig`` of earlier versions load too: keys renamed since
    (``LEGACY_NAMES``) are mapped and keys the model never used are dropped; anything else unknown is an
    error. Loop settings missing from the record take the model's loop defaults.

    Raises:
        SymcereError: no ``model`` key, or an unknown option.
    """
    d = dict(d)
    try:
        model = d.pop("model")
    except KeyError:
        raise SymcereError(f"A run config needs a 'model'; got keys {sorted(d)}.") from None
    for old, new in settings_cls.LEGACY_NAMES.items():
        if old in d and new not in d:
            d[new] = d.pop(old)
    own = option_names(settings_cls)
    inert = {k for k in d if k not in own and k in _LEGACY_FLAT_FIELDS}
    return resolve_run_config(model, settings_cls, overrides={k: v for k, v in d.items() if k not in inert})


def declaring_class(settings_cls: type, name: str) -> type:
    """The base-most class of ``settings_cls`` that declares field ``name``: two models share a setting
    exactly when they inherit it from one declaration (SymCERE's and LightGCN's ``n_layers`` from
    ``GraphSettings``); fields that merely share a name (two models' own ``alpha``) do not."""
    for cls in reversed(settings_cls.__mro__):
        if name in cls.__dict__.get("__annotations__", {}):
            return cls
    return LoopConfig if name in LoopConfig.field_names() else settings_cls


def split_key(key: str) -> tuple[str | None, str]:
    """``"model.key"`` -> ``("model", "key")``; a bare ``"key"`` -> ``(None, "key")``."""
    model, dot, name = key.rpartition(".")
    return (model, name) if dot else (None, key)


def grid_settings_for(model: str, settings_cls: type[ModelSettings], grid: Mapping[str, Any] | None) -> dict:
    """Rule 4: the grid-wide settings that reach ``model``: bare keys it has (a loop setting, or one of
    its own settings) and keys addressed to it as ``model.key``; an addressed key beats a bare one."""
    names = option_names(settings_cls)
    bare, addressed = {}, {}
    for key, value in (grid or {}).items():
        target, name = split_key(key)
        if target is None and name in names:
            bare[name] = value
        elif target == model:
            addressed[name] = value
    return {**bare, **addressed}


def check_grid_settings(grid: Mapping[str, Any], classes: Mapping[str, type[ModelSettings]]) -> None:
    """Fail before any run starts when a grid-wide setting reaches no model of the grid, is addressed to
    a model the grid lacks or that lacks it, or is bare while two models of the grid declare it apart
    (the same name, two meanings: address each, ``model.key=value``).

    Args:
        grid: the grid-wide settings (bare ``key`` or ``model.key``).
        classes: ``{model name: settings class}`` of every model in the grid.
    """
    for key in grid:
        target, name = split_key(key)
        if target is not None:
            if target not in classes:
                raise SymcereError(f"Setting {key!r} is addressed to {target!r}, which this grid does not run; "
                                   f"its models are {sorted(classes)}.")
            if name not in option_names(classes[target]):
                raise SymcereError(f"Setting {key!r}: {target} has no option {name!r}; its options are "
                                   f"{sorted(option_names(classes[target]))}.")
            continue
        owners = {m: declaring_class(cls, name) for m, cls in classes.items() if name in option_names(cls)}
        if not owners:
            known = sorted(set().union(*(option_names(c) for c in classes.values())))
            raise SymcereError(f"Unknown setting(s) [{name!r}] for this grid's models; known: {known}.")
        if len(set(owners.values())) > 1:
            raise SymcereError(f"Setting {name!r} means different things to this grid's models ("
                               + ", ".join(f"{m}: {c.__name__}" for m, c in sorted(owners.items()))
                               + "); address each, e.g. " + " ".join(f"{m}.{name}=VALUE" for m in sorted(owners)) + ".")

