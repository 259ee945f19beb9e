"""The run store: where a finished run lives, what it keeps, and the way back to a live model.

Layout under a root (``results/grid`` for the notebooks and ``symcere grid``):

```text
<root>/runs/<dataset slug>/<variant>[@<settings hash>]/seed<k>/
    per_user.parquet    per-user metrics, for paired tests
    model.safetensors   the model's trainable state (frozen transformer weights come back from
                        the text model the config names, so a LoRA run stores megabytes)
    topk.parquet        user, rank, item of every evaluated user's top-K list
    result.json         metrics, config, provenance: written LAST
```

Every file is written atomically and ``result.json`` last, so a run is finished exactly when its
``result.json`` exists: a killed run leaves nothing that counts, and a rerun does only what is missing.
``load_run`` rebuilds the model from the recorded config on the same dataset (checked by
fingerprint), with the rows it was fitted on, and loads the weights. Loading never unpickles:
weights are safetensors, records JSON.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from safetensors.torch import load_file, save_file

from ..data.dataset import load_dataset
from ..errors import SymcereError
from ..files import atomic_path, stable_hash, write_json_atomic
from ..models import build_model, model_class, run_config_from_record

PER_USER_FILE, MODEL_FILE, TOPK_FILE, RESULT_FILE = (
    "per_user.parquet",
    "model.safetensors",
    "topk.parquet",
    "result.json",
)


def dataset_slug(dataset: str) -> str:
    """Directory name of a dataset: the registry name, or a file's stem plus a hash of its path."""
    path = Path(dataset).expanduser()
    if path.is_file() or os.sep in dataset:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.name.split(".")[0])
        return f"{stem}-{stable_hash(str(path.resolve()), 8)}"
    return dataset


class RunStore:
    """The run folders under ``root``; every reader and writer of runs goes through here."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def run_dir(self, dataset: str, variant: str, seed: int, settings: dict | None = None) -> Path:
        """Folder of one run; grid-wide ``settings`` (beyond the defaults) get their own variant folder."""
        name = variant + (f"@{stable_hash(dict(settings), 8)}" if settings else "")
        return self.root / "runs" / dataset_slug(dataset) / name / f"seed{int(seed)}"

    @staticmethod
    def is_done(directory: str | Path) -> bool:
        """Whether ``directory`` holds a finished run (its ``result.json``, written last, exists)."""
        return (Path(directory) / RESULT_FILE).is_file()

    @staticmethod
    def save(directory: str | Path, record: dict, result) -> dict:
        """Store a ``train.RunResult`` and its ``record``: per-user metrics, weights, top-K lists, then
        ``result.json`` (``record`` plus the run's metrics, info and history)."""
        directory = Path(directory)
        with atomic_path(directory / PER_USER_FILE) as tmp:
            result.evaluation.per_user.to_parquet(tmp, index=False)
        if result.model is not None:
            with atomic_path(directory / MODEL_FILE) as tmp:
                save_file(trainable_state(result.model), str(tmp), metadata={"model": result.info.get("model", "")})
        with atomic_path(directory / TOPK_FILE) as tmp:
            topk_frame(result.evaluation).to_parquet(tmp, index=False)
        record = {**record, "metrics": result.metrics, "info": result.info, "history": result.history}
        write_json_atomic(directory / RESULT_FILE, record)
        return record

    def find(self, model: str | None = None) -> pd.DataFrame:
        """Every finished run under the root, optionally only ``model``'s: directory, dataset, variant,
        label, seed, model, has_weights."""
        rows = []
        for path in sorted(self.root.glob(f"runs/*/*/seed*/{RESULT_FILE}")):
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


def trainable_state(model) -> dict:
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


def read_record(directory: str | Path) -> dict:
    """The ``result.json`` record of the finished run in ``directory``.

    Raises:
        SymcereError: ``directory`` has no ``result.json``, or it is not valid JSON.
    """
    path = Path(directory) / RESULT_FILE
    if not path.is_file():
        raise SymcereError(f"{directory} is not a finished run: it has no {RESULT_FILE}. Run it with "
                           f"`symcere grid` (or the notebooks) to make one.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SymcereError(f"{path} is not valid JSON ({exc}); delete the run folder and run it again.") from exc


@dataclass
class TrainedRun:
    """A stored run brought back: its record (metrics, config, provenance), dataset and live model."""

    directory: Path
    record: dict
    config: object  # RunConfig
    dataset: object  # ReviewDataset: the whole dataset, test split included
    model: object  # the Recommender, weights loaded, in eval mode

    @property
    def label(self) -> str:
        """The run's variant label, or its model's name when the record has none."""
        return self.record.get("label") or self.config.model

    @cached_property
    def fit_data(self):
        """The rows the model was fitted on: the dataset, or its holdout when it stopped early."""
        return self.config.loop.fit_data(self.dataset)

    def topk(self) -> pd.DataFrame:
        """The stored top-K lists: a long frame user, rank (0-based), item."""
        return pd.read_parquet(self.directory / TOPK_FILE)


def load_run(directory: str | Path, dataset=None, device: str = "cpu") -> TrainedRun:
    """Rebuild the model of the run stored in ``directory`` and load its trained weights.

    ``dataset`` (already loaded) saves a reload; either way its fingerprint must be the one the run
    trained on, so an analysis never pairs weights with a different split. Records written before the
    per-model settings (a flat config) load too (``models.run_config_from_record``).
    """
    directory = Path(directory)
    record = read_record(directory)
    info = record.get("info", {})
    if not info.get("config"):
        raise SymcereError(f"{directory / RESULT_FILE} records no config, so its model cannot be rebuilt.")
    config = run_config_from_record(info["config"])
    weights = directory / MODEL_FILE
    if model_class(config.model).trainable and not weights.is_file():
        raise SymcereError(f"{directory} has no {MODEL_FILE} (a run stored before weights were kept); "
                           f"delete the folder and rerun it to analyse it.")
    if dataset is None:
        dataset = load_dataset(record.get("dataset_arg") or record["dataset"], progress=False)
    if dataset.fingerprint != info.get("dataset_fingerprint"):
        raise SymcereError(f"{directory} was trained on dataset fingerprint {info.get('dataset_fingerprint')!r}, "
                           f"but {dataset.name} is now {dataset.fingerprint!r} (its file or preprocessing "
                           f"changed); rerun the run on the current data.")
    run = TrainedRun(directory, record, config, dataset, model=None)
    model = build_model(config, run.fit_data, progress=False)
    if weights.is_file():
        _load_weights(model, load_file(str(weights)), weights)
    model.to(device).eval()
    model.prepare_scoring()
    run.model = model
    return run


def _load_weights(model, state: dict, path: Path) -> None:
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in frozen]
    if missing or unexpected:
        raise SymcereError(f"{path} does not fit the model its config builds (missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}); it was written by another version of the model.")
