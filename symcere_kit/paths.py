"""Every folder the toolkit reads or writes, each with its environment override (tests and users move them).

| folder | default | override |
|---|---|---|
| raw review files | ``data/raw/`` (then ``../shared/data/``; see ``data.registry``) | ``$SYMCERE_DATA_DIR`` |
| processed datasets and text caches | ``data/processed/`` | ``$SYMCERE_CACHE_DIR`` |
| tables and the run store | ``results/`` | ``$SYMCERE_RESULTS_DIR`` |
| figures | ``figures/`` | ``$SYMCERE_FIGURES_DIR`` |
| executed notebooks | ``build/notebooks/`` | - |
| tuned settings (committed) | ``configs/tuned/`` | ``$SYMCERE_TUNED_DIR`` |
| tuning studies (Optuna storage) | ``results/tuning/`` | ``$SYMCERE_RESULTS_DIR`` |

QUICK runs (CI, ``symcere reproduce --quick``) write under a ``quick/`` sub-folder of each (caches included:
``reproduce.kernel_env``), never over a full run.
"""
from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout this package lives in (editable install), else the working directory."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").exists() else Path.cwd()


def _env_or(name: str, default: Path) -> Path:
    return Path(os.environ.get(name) or default)


def cache_dir() -> Path:
    """Processed datasets (parquet) and, under ``text/``, the text encoder's caches."""
    return _env_or("SYMCERE_CACHE_DIR", project_root() / "data" / "processed")


def raw_data_dir() -> Path:
    """Where downloads land, and the first local folder searched after ``$SYMCERE_DATA_DIR``."""
    return project_root() / "data" / "raw"


def results_dir(quick: bool = False) -> Path:
    """Tables and the run store (``results/grid``); QUICK runs under ``results/quick/``."""
    base = _env_or("SYMCERE_RESULTS_DIR", project_root() / "results")
    return base / "quick" if quick else base


def figures_dir(quick: bool = False) -> Path:
    """``figures/``; QUICK runs write to its ``quick/`` folder, never over the real figures."""
    base = _env_or("SYMCERE_FIGURES_DIR", project_root() / "figures")
    return base / "quick" if quick else base


def executed_notebooks_dir(quick: bool = False, root: Path | None = None) -> Path:
    """Where ``symcere reproduce`` writes the executed copies of the notebooks."""
    return Path(root or project_root()) / "build" / "notebooks" / ("quick" if quick else "")


def tuned_dir() -> Path:
    """``configs/tuned/``: one YAML of tuned settings per dataset x variant (``symcere tune`` writes them)."""
    return _env_or("SYMCERE_TUNED_DIR", project_root() / "configs" / "tuned")
