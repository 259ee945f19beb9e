"""What the tuning notebook shows: the tuned files as a table and each study rebuilt for Optuna's plots.

Both read the committed files (``configs/tuned/<dataset>/<variant>.yaml`` and ``.trials.csv``), so a
fresh clone shows the tuning without its Optuna database.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..config import Choice
from ..runs.tuned import read_tuned, tuned_path
from ..runs.variants import VARIANTS
from .space import distributions, label
from .study import search_space


def tuning_table(datasets: Iterable[str], variants: Iterable[str], root: str | Path | None = None) -> pd.DataFrame:
    """One row per tuned (dataset, variant): trials by state, best validation NDCG@10, the epoch early
    stopping chose, minutes spent, and the tuned settings (``settings``, as text)."""
    rows = []
    for dataset in datasets:
        for variant in variants:
            record = read_tuned(dataset, variant, root)
            if record is None:
                continue
            study = record["study"]
            rows.append({"dataset": dataset, "variant": variant, "label": VARIANTS[variant].label,
                         "trials": study["trials"], "pruned": study["pruned"], "failed": study["failed"],
                         "best validation NDCG@10": study["best_value"], "best epoch": study.get("best_epoch") or None,
                         "minutes": round(study.get("seconds", 0.0) / 60, 1),
                         "settings": ", ".join(f"{k}={_short(v)}" for k, v in record["settings"].items()
                                               if k not in ("epochs", "patience"))})
    return pd.DataFrame(rows)


def missing_studies(table: pd.DataFrame, datasets: Iterable[str], variants: Iterable[str]) -> list[tuple[str, str]]:
    """The (dataset, variant) pairs without a row in ``table``
    ([`tuning_table`][symcere_kit.tuning.summary.tuning_table]): runs of those use defaults."""
    have = set(zip(table["dataset"], table["variant"])) if len(table) else set()
    return [(d, v) for d in datasets for v in variants if (d, v) not in have]


def rebuilt_study(dataset: str, variant: str, root: str | Path | None = None):
    """An in-memory Optuna study of the complete trials in ``<variant>.trials.csv`` (for
    ``optuna.visualization.matplotlib``'s optimisation history and parameter importances)."""
    import optuna

    path = tuned_path(dataset, variant, root).with_suffix(".trials.csv")
    frame = pd.read_csv(path)
    space = search_space(variant)
    dists = distributions(space)
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created in memory" per picked study
    try:
        study = optuna.create_study(direction="maximize", study_name=f"{dataset}/{variant}")
    finally:
        optuna.logging.set_verbosity(level)
    for _, row in frame[frame["state"] == "COMPLETE"].iterrows():
        params = {name: _internal(row[f"param_{name}"], space[name]) for name in space if f"param_{name}" in row}
        study.add_trial(optuna.trial.create_trial(value=float(row["value"]), params=params,
                                                  distributions={k: dists[k] for k in params}))
    return study


def _internal(value, dim):
    """A CSV cell back to the value Optuna stored (categorical labels; whole numbers as int)."""
    value = value.item() if hasattr(value, "item") else value  # numpy scalars from the CSV
    if isinstance(dim, Choice):
        if isinstance(value, str) and value.startswith("["):
            value = tuple(json.loads(value))
        if isinstance(value, str) and value in ("True", "False"):
            value = value == "True"
        return label(value)
    return int(value) if dim.integer else float(value)


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def study_figures(dataset: str, variant: str, root: str | Path | None = None) -> list:
    """Matplotlib figures of one rebuilt study: Optuna's optimisation history (validation NDCG@10 per trial)
    and, where trials differ and a parameter was searched, fANOVA parameter importances."""
    import warnings

    import optuna
    from optuna.visualization.matplotlib import plot_optimization_history, plot_param_importances

    study = rebuilt_study(dataset, variant, root)
    figures = []
    with warnings.catch_warnings():  # Optuna marks its matplotlib plots experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = plot_optimization_history(study)
        ax.set_title(f"{variant} on {dataset}: validation NDCG@10 per trial")
        figures.append(ax.figure)
        if len(study.trials) > 1 and study.best_trial.distributions and len({t.value for t in study.trials}) > 1:
            ax = plot_param_importances(study)
            ax.set_title(f"{variant} on {dataset}: parameter importances (fANOVA)")
            figures.append(ax.figure)
    return figures
