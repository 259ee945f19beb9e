"""The experiment table: model variants (what Tables 2 and 3 call a column), the paper tables' groups and
the tuning order. One row per variant; a new baseline is its model file (``models/<name>.py``) plus one
row here. Above the models: a row names a model of the registry (``models``), never the reverse.
Importing this imports no model (and no torch)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .. import models
from ..config import RunConfig
from ..errors import SymcereError
from ..run_settings import applicable_tuned, grid_settings_for, resolve_run_config
from ..run_settings import check_grid_settings as _check_settings


@dataclass(frozen=True)
class Variant:
    """A named model setting: ``model`` (a ``models/<model>.py`` file) with ``overrides`` of its settings."""

    label: str
    model: str
    overrides: dict = field(default_factory=dict)
    # baseline | symcere | ablation | control | reading. Table 2's improvement and the significance tests compare
    # "symcere" with "baseline" rows only; a "control" (a baseline's recipe plus one SymCERE term, to
    # isolate what the text adds) is in no paper table.
    role: str = "baseline"
    # Tuning (``symcere tune``): ``search`` names the dimensions of the model's SEARCH_SPACE this variant
    # tunes (None: all but those its overrides fix); ``tuned_from`` is a variant whose tuned settings it
    # starts from (a control keeps that variant's tuned recipe and tunes only what it adds).
    search: tuple[str, ...] | None = None
    tuned_from: str | None = None


# SymCERE's tuned dimensions: its SEARCH_SPACE less cross_weight, which stays the paper's 1 (the nested
# controls tune it; beside tau, alpha and beta it would only rescale the loss).
_SYMCERE_SEARCH = ("lr", "tau", "alpha", "beta", "reg_weight", "bpr_reduction")


def _symcere(backbone: str, label: str, role: str, **extra) -> Variant:
    return Variant(label, "symcere", {"backbone": backbone, **extra}, role, search=_SYMCERE_SEARCH)


def _nested(backbone: str, label: str, n_layers: int) -> Variant:
    """The ``backbone`` baseline's exact recipe (its settings: ``n_layers``, and the embedding width, L2
    weight and NGCF message dropout SymCERE shares with it; its loop; dot-product BPR averaged over the
    batch, at weight 1; dot-product scores) plus SymCERE's normalised, false-negative-masked cross-modal
    term (eqs. 3-5) at ``cross_weight`` (1 here; 0 gives the baseline bit for bit), no intra-modal term."""
    return Variant(label, "symcere", {"backbone": backbone, "n_layers": n_layers, "alpha": 0.0, "beta": 1.0,
                                      "bpr_space": "dot", "bpr_reduction": "mean", "loop_from": "backbone"},
                   "control", search=("cross_weight", "tau"), tuned_from=backbone)


def _text_off(backbone: str) -> Variant:
    """SymCERE's own tuned recipe with every text term off (``cross_weight`` 0 and ``alpha`` 0, which also
    drops the graph's edge-dropout InfoNCE): what SymCERE is without the text. Not tuned itself."""
    return Variant(f"SymCERE recipe, no text + {'NGCF' if backbone == 'ngcf' else 'LightGCN'}", "symcere",
                   {"backbone": backbone, "cross_weight": 0.0, "alpha": 0.0}, "control", search=(),
                   tuned_from=f"symcere-{backbone}")


VARIANTS: dict[str, Variant] = {
    "mostpop": Variant("MostPop", "mostpop"),
    "ease": Variant("EASE^R", "ease"),
    "rp3beta": Variant("RP3beta", "rp3beta"),
    "neumf": Variant("NeuMF", "neumf"),
    "sgl": Variant("SGL", "sgl"),
    "ngcf": Variant("NGCF", "ngcf"),
    "lightgcn": Variant("LightGCN", "lightgcn"),
    "smore": Variant("SMORE", "smore"),
    "symcere-ngcf": _symcere("ngcf", "SymCERE + NGCF", "symcere"),
    "symcere-lightgcn": _symcere("lightgcn", "SymCERE + LightGCN", "symcere"),
    "symcere-ngcf-wo-norm": _symcere("ngcf", "SymCERE w/o Norm + NGCF", "ablation", normalize=False),
    "symcere-ngcf-infonce": _symcere("ngcf", "InfoNCE w/ Norm + NGCF", "ablation", fn_mask=False),
    "symcere-lightgcn-wo-norm": _symcere("lightgcn", "SymCERE w/o Norm + LightGCN", "ablation", normalize=False),
    "symcere-lightgcn-infonce": _symcere("lightgcn", "InfoNCE w/ Norm + LightGCN", "ablation", fn_mask=False),
    "symcere-ngcf-nested": _nested("ngcf", "NGCF + cross-modal term", n_layers=3),
    "symcere-lightgcn-nested": _nested("lightgcn", "LightGCN + cross-modal term", n_layers=2),
    "symcere-ngcf-text-off": _text_off("ngcf"),
    "symcere-lightgcn-text-off": _text_off("lightgcn"),
}

# The paper's ambiguous readings (``models.symcere.READINGS``), each switched away from our default on SymCERE +
# LightGCN at its tuned settings: what each reading changes, not a tuned competitor.
_READINGS = {"dot": ("bpr_space", "dot", "BPR and scores on raw dot products (RLMRec)"),
             "node": ("intra_level", "node", "graph InfoNCE over nodes (SGL)"),
             "transpose": ("t2g_mask", "transpose", "text->graph mask transposed"),
             "mask-epoch": ("word_mask_draw", "epoch", "word mask drawn afresh each epoch")}
VARIANTS.update({f"symcere-lightgcn-{name}": Variant(label, "symcere", {"backbone": "lightgcn", key: value},
                                                     "reading", search=(), tuned_from="symcere-lightgcn")
                 for name, (key, value, label) in _READINGS.items()})

# Paper tables as variant lists, in the paper's column order; Table 2 opens with two strong simple
# baselines the paper does not have (EASE^R, RP3beta: closed-form item-item models).
GROUPS: dict[str, list[str]] = {
    "table2": ["ease", "rp3beta", "neumf", "sgl", "ngcf", "lightgcn", "smore", "symcere-ngcf", "symcere-lightgcn"],
    "table3": ["symcere-ngcf-wo-norm", "symcere-ngcf-infonce", "symcere-ngcf",
               "symcere-lightgcn-wo-norm", "symcere-lightgcn-infonce", "symcere-lightgcn"],
}
GROUPS["paper"] = list(dict.fromkeys(GROUPS["table2"] + GROUPS["table3"]))
# Controls that isolate the text, shown as extra Table 3 columns: each baseline beside its nested control
# (what the cross-modal term adds to that very recipe) and SymCERE's recipe with the text terms off.
GROUPS["controls"] = ["ngcf", "symcere-ngcf-text-off", "symcere-ngcf-nested",
                      "lightgcn", "symcere-lightgcn-text-off", "symcere-lightgcn-nested"]
# mask-epoch re-encodes every training review each epoch (frozen mode), hours per run on Musical Instruments
# on 2 CPU cores: its variant row exists, the notebooks' readings table leaves it out.
GROUPS["readings"] = ["symcere-lightgcn"] + [f"symcere-lightgcn-{name}" for name in _READINGS if name != "mask-epoch"]
# The tables each group's runs make (``symcere_kit.tables.export_tables``): the controls add Table 3's columns,
# and their two baselines never make a Table 2 of their own (notebook 04 wrote one over notebook 03's).
TABLES = ("table2", "table3", "readings")
GROUP_TABLES: dict[str, tuple[str, ...]] = {"table2": ("table2",), "table3": ("table3",), "paper": ("table2", "table3"),
                                            "controls": ("table3",), "readings": ("readings",)}
# What `make tune` tunes (every variant with a search of its own), each ``tuned_from`` before its dependants.
GROUPS["tuning"] = [v for v in dict.fromkeys(GROUPS["table2"] + GROUPS["table3"] + GROUPS["controls"])
                    if VARIANTS[v].search != ()]


def expand_variants(names: Iterable[str]) -> list[str]:
    """Variant names with group names (``table2``, ``table3``, ``paper``) expanded, duplicates dropped."""
    out: list[str] = []
    for name in names:
        members = GROUPS.get(name, [name])
        for m in members:
            if m not in VARIANTS:
                raise SymcereError(f"Unknown model variant {m!r}; choose from {sorted(VARIANTS)} "
                                   f"or a group {sorted(GROUPS)}.")
        out += members
    return list(dict.fromkeys(out))


def tables_for(names: Iterable[str]) -> tuple[str, ...] | None:
    """The tables a grid of ``names`` (variant and group names, as ``symcere grid --models`` takes them)
    makes: those of its groups (``GROUP_TABLES``), in ``TABLES`` order; None when it
    names anything else (a variant, the "tuning" group), i.e. a hand-made set: every table its runs fill."""
    names = list(names)
    if not names or any(n not in GROUP_TABLES for n in names):
        return None
    wanted = {t for n in names for t in GROUP_TABLES[n]}
    return tuple(t for t in TABLES if t in wanted)


def borrows_tuned(variant: str) -> bool:
    """Whether ``variant`` runs another variant's tuned file (``tuned_from`` with no search of its own,
    a text-off control): its own overrides then beat that file's values (``run_settings``, rule 6b)."""
    v = VARIANTS[variant]
    return bool(v.tuned_from) and v.search == ()


def tuned_source(variant: str) -> str:
    """The variant whose tuned file ``variant`` runs: its ``tuned_from`` when it borrows one, else itself."""
    return VARIANTS[variant].tuned_from if borrows_tuned(variant) else variant


def variant_config(variant: str, seed: int, settings: Mapping[str, Any] | None = None,
                   overrides: Mapping[str, Any] | None = None, tuned: Mapping[str, Any] | None = None) -> RunConfig:
    """The ``RunConfig`` of ``variant`` at ``seed``: the settings resolver (``run_settings.resolve_run_config``,
    where the precedence is written) on this variant's row.

    Args:
        variant: a name of ``VARIANTS``.
        seed: the run's seed.
        settings: grid-wide settings (bare or ``model.key``); those that reach the variant's model apply.
        overrides: a caller's explicit choices (``symcere train --model VARIANT``'s flags, a trial's parameters).
        tuned: the tuned file's settings (``runs.tuned.load_tuned``).

    Raises:
        SymcereError: an option the model lacks, or a bad value.
    """
    v = VARIANTS[variant]
    cls = models.settings_class(v.model)
    return resolve_run_config(v.model, cls, seed=seed, grid=grid_settings_for(v.model, cls, settings),
                              variant=v.overrides, tuned=tuned, borrowed=borrows_tuned(variant), overrides=overrides)


def tuned_key(variant: str, tuned: Mapping[str, Any] | None, settings: Mapping[str, Any] | None = None) -> dict:
    """The tuned settings ``variant`` takes under grid-wide ``settings`` (``run_settings.applicable_tuned``):
    what the run store keys a tuned run's folder by."""
    v = VARIANTS[variant]
    cls = models.settings_class(v.model)
    untuned = {**grid_settings_for(v.model, cls, settings), **v.overrides}
    return applicable_tuned(cls, tuned, variant=v.overrides, borrowed=borrows_tuned(variant), untuned=untuned)


def check_grid_settings(settings: Mapping[str, Any], variants: Iterable[str]) -> None:
    """Fail before any run starts when a grid-wide setting belongs to no model of the grid (a typo), is
    addressed to a model the grid lacks, or means different things to two of its models
    (``run_settings.check_grid_settings``)."""
    names = dict.fromkeys(VARIANTS[v].model for v in variants)
    _check_settings(settings, {m: models.settings_class(m) for m in names})
