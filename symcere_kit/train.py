"""One Trainer for every model: seeding, epochs with a progress bar, a NaN guard, evaluation."""
from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .config import RunConfig
from .data.dataset import ReviewDataset
from .errors import SymcereError, TrainingError
from .evaluate import EvalResult, evaluate
from .files import atomic_path
from .models import build_model
from .progress import progress_bar
from .provenance import git_commit, machine_info, package_versions
from .recommender.base import Recommender
from .sampling import bpr_batches


def resolve_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else the CPU. A device this machine lacks is an error naming the fix."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        why = "this torch is built without CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise SymcereError(f"device {device!r} asked for, but {why}; use device auto (or cpu).")
    if device == "mps" and not torch.backends.mps.is_available():
        raise SymcereError("device 'mps' asked for, but Apple's MPS is not available here; use device auto (or cpu).")
    return torch.device(device)


def seed_everything(seed: int) -> torch.Generator:
    """Seed every RNG a run touches; returns the generator that drives sampling."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass
class RunResult:
    """What [`run`][symcere_kit.train.run] returns: test metrics, run info, epoch history, evaluation and model."""

    metrics: dict[str, float]
    info: dict
    history: list[dict] = field(default_factory=list)
    evaluation: EvalResult | None = None  # per-user metrics and each evaluated user's top-K list
    model: Recommender | None = None  # the trained model, for saving (``runs.RunStore.save``) and analysis

    def to_dict(self) -> dict:
        """Metrics first, then run info: the JSON line the CLI prints."""
        return {**self.metrics, **self.info}


class Trainer:
    """Epoch loop shared by every model; owns the optimiser so a checkpoint can resume exactly."""

    def __init__(self, model: Recommender, dataset: ReviewDataset, config: RunConfig,
                 generator: torch.Generator, device: torch.device, progress: bool = True):
        self.model, self.dataset, self.name, self.loop = model, dataset, config.model, config.loop
        self.generator, self.device, self.progress = generator, device, progress
        self.history: list[dict] = []
        self.extras: dict[str, object] = {}  # objects with state_dict()/load_state_dict() saved with checkpoints
        self.optimizer = torch.optim.Adam(model.param_groups(), lr=self.loop.lr) if model.trainable else None

    def fit(self, on_epoch_end: Callable[[dict], bool | None] | None = None,
            checkpoint: Path | None = None) -> list[dict]:
        """Train up to ``loop.epochs`` (continuing after a loaded checkpoint); ``on_epoch_end(record)``
        may return True to stop early; with ``checkpoint`` the state is saved after every epoch."""
        if not self.model.trainable:
            return self.history
        bar = progress_bar(range(len(self.history) + 1, self.loop.epochs + 1), desc=f"{self.name} epochs",
                           enabled=self.progress, unit="epoch")
        for epoch in bar:
            self.model.train()
            self.model.on_epoch_start(self.generator)
            start, sums, n = time.perf_counter(), {}, 0
            for batch in bpr_batches(self.dataset, self.loop.batch_size, self.generator):
                terms = self.model.batch_loss({k: v.to(self.device) for k, v in batch.items()})
                loss = terms["loss"]
                if not math.isfinite(loss.item()):
                    raise TrainingError(
                        f"{self.name}: the loss became {loss.item()} in epoch {epoch} "
                        f"(lr={self.loop.lr}). Lower the learning rate or check the input data."
                    )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                for key, value in terms.items():
                    sums[key] = sums.get(key, 0.0) + float(value.detach())
                n += 1
            record = {"epoch": epoch, **{k: v / n for k, v in sums.items()}, "seconds": time.perf_counter() - start}
            self.history.append(record)
            bar.set_postfix(loss=f"{record['loss']:.4f}")
            stop = on_epoch_end is not None and on_epoch_end(record)
            if checkpoint is not None:
                self.save_checkpoint(checkpoint)
            if stop:
                break
        return self.history

    def save_checkpoint(self, path: Path) -> None:
        """Model, optimiser, RNG states and history: plain tensors and numbers (weights_only loadable)."""
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
                 "history": self.history, **{k: v.state_dict() for k, v in self.extras.items()}}
        with atomic_path(path) as tmp:
            torch.save(state, tmp)

    def load_checkpoint(self, path: Path) -> None:
        """Resume from ``save_checkpoint``'s file ``path``: model, optimiser, RNG states, history, ``extras``."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        self.history = list(state["history"])
        for key, obj in self.extras.items():
            obj.load_state_dict(state[key])

    @torch.no_grad()
    def evaluate(self, dataset: ReviewDataset | None = None, ks=None, return_topk: bool = False) -> EvalResult:
        """Rank for ``dataset`` (default: the training dataset's own test part)."""
        dataset = dataset or self.dataset
        self.model.eval()
        self.model.prepare_scoring()
        # rank_exclude: None (all-ranking's mask, the training items) unless the leaky repeats reading kept pairs
        return evaluate(self.model.score, dataset.train_csr, dataset.test_csr,
                        ks=tuple(ks or self.loop.eval_ks), batch_size=self.loop.eval_batch_size,
                        device=self.device, progress=self.progress, return_topk=return_topk,
                        exclude=dataset.rank_exclude)


class EarlyStopping:
    """Stop when validation NDCG@10 has not improved for ``patience`` checks; restore the best state.

    The validation slice is cut from the end of each user's TRAINING history (``holdout``), so the
    test split never influences when training stops.
    """

    def __init__(self, trainer: Trainer, validation: ReviewDataset, patience: int, every: int = 1,
                 metric: str = "ndcg@10", on_check: Callable[[int, float], None] | None = None):
        self.trainer, self.validation, self.patience, self.every, self.metric = (
            trainer,
            validation,
            patience,
            every,
            metric,
        )
        self.on_check = on_check  # (epoch, value) after each check; a tuner's pruner raises from here
        self.best, self.best_epoch, self.best_state, self.bad_checks = -math.inf, 0, None, 0

    def __call__(self, record: dict) -> bool:
        if record["epoch"] % self.every:
            return False
        value = self.trainer.evaluate(self.validation).metrics[self.metric]
        record[f"val_{self.metric}"] = value
        if self.on_check is not None:
            self.on_check(record["epoch"], value)
        if value > self.best:
            self.best, self.best_epoch, self.bad_checks = value, record["epoch"], 0
            self.best_state = copy.deepcopy(self.trainer.model.state_dict())
        else:
            self.bad_checks += 1
        return self.bad_checks >= self.patience

    def state_dict(self) -> dict:
        """The best value, its epoch, the checks since and the best model state, for checkpoints."""
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_checks": self.bad_checks,
                "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        """Restore what [`state_dict`][symcere_kit.train.EarlyStopping.state_dict] returned."""
        self.best, self.best_epoch, self.bad_checks = state["best"], state["best_epoch"], state["bad_checks"]
        self.best_state = state["best_state"]

    def restore_best(self) -> None:
        """Load the best checked state into the model; nothing when no check ran."""
        if self.best_state is not None:
            self.trainer.model.load_state_dict(self.best_state)


@dataclass
class Fitted:
    """A trained model before any test evaluation: what [`fit`][symcere_kit.train.fit] hands to
    [`run`][symcere_kit.train.run] or a tuner."""

    model: Recommender
    trainer: Trainer
    stopper: "EarlyStopping | None"
    fit_data: ReviewDataset  # what it trained on: the dataset, or its holdout under early stopping
    device: torch.device
    train_seconds: float


def fit(dataset: ReviewDataset, config: RunConfig, progress: bool = True, checkpoint: str | Path | None = None,
        on_check: Callable[[int, float], None] | None = None,
        monitor: Callable[[Trainer], Callable[[dict], bool | None]] | None = None) -> Fitted:
    """Train ``config.model`` from ``config.loop.seed``; no test evaluation.

    With ``loop.patience`` > 0 the model trains on ``dataset.holdout(loop.validation_ratio)`` (every
    part of it, text included, built from that holdout's training part only), stops on its validation
    slice and comes back with its best state; ``on_check(epoch, ndcg@10)`` sees each validation check.
    Without patience, ``monitor(trainer)`` may give the epoch callback instead (``Trainer.fit``'s
    ``on_epoch_end``; the leaky test-epoch reading watches the test split with it).
    With ``checkpoint`` the state is saved after every epoch and training resumes from that file.
    """
    loop = config.loop
    if monitor is not None and loop.patience:  # before any model is built
        raise SymcereError("fit() takes a monitor or early stopping (loop.patience > 0), not both.")
    generator = seed_everything(loop.seed)
    device = resolve_device(loop.device)
    fit_data = loop.fit_data(dataset)
    model = build_model(config, fit_data, progress=progress).to(device)
    trainer = Trainer(model, fit_data, config, generator, device, progress)
    stopper = (
        EarlyStopping(trainer, fit_data, loop.patience, loop.eval_every, on_check=on_check) if loop.patience else None
    )
    if stopper:
        trainer.extras["early_stopping"] = stopper
    checkpoint = Path(checkpoint) if checkpoint else None
    if checkpoint and checkpoint.is_file():
        trainer.load_checkpoint(checkpoint)
    start = time.perf_counter()
    trainer.fit(stopper or (monitor(trainer) if monitor else None), checkpoint)
    train_seconds = time.perf_counter() - start
    if stopper:
        stopper.restore_best()
    return Fitted(model, trainer, stopper, fit_data, device, train_seconds)


def run(dataset: ReviewDataset, config: RunConfig, progress: bool = True,
        checkpoint: str | Path | None = None) -> RunResult:
    """Train ``config.model`` ([`fit`][symcere_kit.train.fit]) and evaluate once on ``dataset``'s test split.

    Under early stopping the test evaluation masks every training item, validation slice included.
    """
    fitted = fit(dataset, config, progress, checkpoint)
    history, stopper = fitted.trainer.history, fitted.stopper
    start = time.perf_counter()
    result = fitted.trainer.evaluate(dataset, return_topk=True)
    info = {
        "model": config.model,
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint,
        # how the data was made (split, sampling, k-core; records skipped), readable beside the opaque fingerprint
        "data_config": dataset.meta.get("config"),
        "skipped_records": dataset.meta.get("skipped_records", 0),
        "seed": config.loop.seed,
        "device": str(fitted.device),
        "epochs": len(history),
        "best_epoch": stopper.best_epoch if stopper else len(history),
        "train_seconds": round(fitted.train_seconds, 3),
        "epoch_seconds": round(float(np.mean([h["seconds"] for h in history])), 4) if history else 0.0,
        "eval_seconds": round(time.perf_counter() - start, 3),
        "n_eval_users": result.n_users,
        "config": config.to_dict(),
        "versions": package_versions(),
        "machine": machine_info(),  # CPU kind and math libraries: what bit-identical reruns need besides the seed
        "git_commit": git_commit(),
    }
    return RunResult(result.metrics, info, history, result, fitted.model)
