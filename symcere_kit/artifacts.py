"""What a finished run keeps for analysis, and the way back to a live model.

Analyses take a trained run as input and never retrain behind the user's back, so a stored run
keeps ``model.safetensors`` (the model's trainable state only: frozen transformer weights come back
from the text model the config names, so a LoRA run stores megabytes, not the encoder) and
``topk.parquet`` (user, rank, item of every evaluated user's top-K list, for popularity analyses
of models whose scores are not dot products). ``load_run`` rebuilds the model from the run's
recorded config on the same dataset, checked by fingerprint, and loads the weights.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .config import TrainConfig
from .errors import SymcereError
from .io import atomic_path

MODEL_FILE, TOPK_FILE, RESULT_FILE = "model.safetensors", "topk.parquet", "result.json"


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``state_dict`` without frozen parameters (buffers stay): what training changed."""
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items() if k not in frozen}


def topk_frame(evaluation) -> pd.DataFrame:
    """Long frame user, rank (0-based), item from an ``EvalResult`` made with ``return_topk=True``."""
    if evaluation is None or evaluation.topk is None:
        raise SymcereError("This evaluation kept no top-K lists; evaluate with return_topk=True.")
    top = evaluation.topk.numpy()
    users = evaluation.per_user["user"].to_numpy()
    return pd.DataFrame({"user": np.repeat(users, top.shape[1]), "rank": np.tile(np.arange(top.shape[1]), len(users)),
                         "item": top.reshape(-1)})


def save_artifacts(directory: str | Path, result) -> None:
    """Write a ``RunResult``'s weights and top-K lists into ``directory`` (each atomically)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    if result.model is not None:
        with atomic_path(directory / MODEL_FILE) as tmp:
            save_file(trainable_state(result.model), str(tmp), metadata={"model": result.info.get("model", "")})
    with atomic_path(directory / TOPK_FILE) as tmp:
        topk_frame(result.evaluation).to_parquet(tmp, index=False)


@dataclass
class TrainedRun:
    """A stored run brought back: its record (metrics, config, provenance), dataset and live model."""

    directory: Path
    record: dict
    config: TrainConfig
    dataset: object  # ReviewDataset
    model: torch.nn.Module

    @property
    def label(self) -> str:
        return self.record.get("label") or self.config.model

    def topk(self) -> pd.DataFrame:
        return pd.read_parquet(self.directory / TOPK_FILE)


def read_record(directory: str | Path) -> dict:
    path = Path(directory) / RESULT_FILE
    if not path.is_file():
        raise SymcereError(f"{directory} is not a finished run: it has no {RESULT_FILE}. Run the grid (or "
                           f"`symcere train ... --save DIR`) to make one.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SymcereError(f"{path} is not valid JSON ({exc}); delete the run folder and run it again.") from exc


def load_run(directory: str | Path, dataset=None, device: str | torch.device = "cpu") -> TrainedRun:
    """Rebuild the model of the run stored in ``directory`` and load its trained weights.

    ``dataset`` (already loaded) saves a reload; either way its fingerprint must be the one the run
    trained on, so an analysis never pairs weights with a different split.
    """
    from safetensors.torch import load_file

    from .data.dataset import load_dataset
    from .models import build_model
    from .train import fit_dataset

    directory = Path(directory)
    record = read_record(directory)
    info = record.get("info", {})
    cfg = dict(info.get("config") or {})
    if not cfg:
        raise SymcereError(f"{directory / RESULT_FILE} records no config, so its model cannot be rebuilt.")
    cfg["eval_ks"] = tuple(cfg.get("eval_ks", (10,)))
    config = TrainConfig.from_dict(cfg)
    weights = directory / MODEL_FILE
    if config.model != "mostpop" and not weights.is_file():
        raise SymcereError(f"{directory} has no {MODEL_FILE} (a run stored before weights were kept); "
                           f"delete the folder and rerun it to analyse it.")
    if dataset is None:
        dataset = load_dataset(record.get("dataset_arg") or record["dataset"], progress=False)
    if dataset.fingerprint != info.get("dataset_fingerprint"):
        raise SymcereError(f"{directory} was trained on dataset fingerprint {info.get('dataset_fingerprint')!r}, "
                           f"but {dataset.name} is now {dataset.fingerprint!r} (its file or preprocessing "
                           f"changed); rerun the run on the current data.")
    model = build_model(config.model, fit_dataset(dataset, config), config, progress=False)
    if weights.is_file():
        _load_weights(model, load_file(str(weights)), weights)
    model.to(device).eval()
    model.prepare_scoring()
    return TrainedRun(directory, record, config, dataset, model)


def _load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in frozen]
    if missing or unexpected:
        raise SymcereError(f"{path} does not fit the model its config builds (missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}); it was written by another version of the model.")


def find_runs(root: str | Path, model: str | None = None) -> pd.DataFrame:
    """Every finished run under a grid root (``<root>/runs/<dataset>/<variant>/seed<k>``), optionally only
    those of one ``model``: directory, dataset, variant, label, seed, model, has_weights."""
    rows = []
    for path in sorted(Path(root).glob("runs/*/*/seed*/" + RESULT_FILE)):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # a foreign or damaged file is not a run; load_run names it when asked for it
        m = rec.get("info", {}).get("model")
        if model is None or m == model:
            rows.append({"directory": path.parent, "dataset": rec.get("dataset"), "variant": rec.get("variant"),
                         "label": rec.get("label"), "seed": rec.get("seed"), "model": m,
                         "has_weights": (path.parent / MODEL_FILE).is_file()})
    return pd.DataFrame(rows, columns=["directory", "dataset", "variant", "label", "seed", "model", "has_weights"])
