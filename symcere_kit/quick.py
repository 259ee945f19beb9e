"""QUICK mode, written once for every notebook: the smoke run's parameters, its folders and its banner.

A notebook's ``QUICK = True`` (``symcere reproduce --quick``, CI) runs the same code path in a few minutes: Gift Cards
only, the first seed, 2 epochs, smaller analyses. [`quick_parameters`][symcere_kit.quick.quick_parameters] applies
[`RULES`][symcere_kit.quick.RULES] to the parameters a notebook names; [`folders`][symcere_kit.quick.folders] gives
where it writes (``figures/quick/`` and ``results/quick/``, never over a full run);
[`footing`][symcere_kit.quick.footing] is the line every closing cell starts with: what data, seeds and epochs its
findings rest on, and a banner when they come from QUICK.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .errors import SymcereError
from .paths import figures_dir, results_dir

QUICK_DATASET = "amazon2018_gift_cards_5"  # the smallest shared file: 1,007 reviews (5-core)

# name -> the QUICK value, from the value the notebook was given
RULES: dict[str, Callable[[Any], Any]] = {
    "DATASETS": lambda value: [QUICK_DATASET],
    "SEEDS": lambda value: list(value)[:1],
    "READING_SEEDS": lambda value: list(value)[:1],
    "EPOCHS": lambda value: value or 2,
    "POINTS": lambda value: min(value, 300),  # UMAP points per panel
    "REVIEWS": lambda value: min(value, 5),  # LIME's global view
    "SAMPLES": lambda value: min(value, 100),  # LIME perturbations per review
    "EXPLANATION_SEEDS": lambda value: list(value)[:2],
    "TEST_EPOCH": lambda value: {"every": 1, "patience": 1, "cap": 4},
    "VARIANTS": lambda value: ["lightgcn", "ease"],  # tuning: two cheap studies
}


def quick_parameters(quick: bool, **params):
    """The given parameters, each replaced by its QUICK value when ``quick`` ([`RULES`][symcere_kit.quick.RULES]),
    returned in the order given (one value alone, else a tuple): ``DATASETS, SEEDS = quick_parameters(QUICK,
    DATASETS=DATASETS, SEEDS=SEEDS)``. Raises SymcereError for a name without a rule."""
    unknown = sorted(set(params) - set(RULES))
    if unknown:
        raise SymcereError(f"no QUICK rule for {', '.join(unknown)}; known: {', '.join(RULES)} (symcere_kit/quick.py)")
    values = [RULES[name](value) if quick else value for name, value in params.items()]
    return values[0] if len(values) == 1 else tuple(values)


def folders(quick: bool) -> tuple[Path, Path]:
    """(figures, tables) folders: ``figures/`` and ``results/``, or their ``quick/`` sub-folders."""
    return figures_dir(quick), results_dir(quick)


def footing(quick: bool, datasets, seeds=None, epochs=None, tuned: bool | None = None, extra: str = "") -> str:
    """One Markdown line: the data, seeds, epochs (when ``seeds`` is given) and settings the findings below rest
    on, and in QUICK a banner that they are a smoke run's."""
    parts = [f"**Data**: {', '.join(datasets)}"]
    if seeds is not None:  # findings of trained runs; without seeds (Table 1) there is no training to describe
        parts.append(f"**seeds**: {', '.join(map(str, seeds))} ({len(seeds)})")
        parts.append(f"**epochs**: {epochs if epochs else 'each model its own (tuned or default)'}")
    if tuned is not None:
        parts.append("**settings**: " + ("tuned (configs/tuned/) where present" if tuned else "each model's defaults"))
    if extra:
        parts.append(extra)
    line = "; ".join(parts) + "."
    if quick:
        line = ("> **QUICK smoke run** (CI): one small dataset, one seed, a few epochs. The numbers below show that "
                "the code path works; they are not findings.\n\n" + line)
    return line
