"""One Trainer for every model: seeding, epochs with a progress bar, a NaN guard, evaluation."""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from .config import TrainConfig
from .data.dataset import ReviewDataset
from .errors import TrainingError
from .evaluate import EvalResult, evaluate
from .models import Recommender, build_model
from .provenance import git_commit, package_versions
from .sampling import bpr_batches


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def seed_everything(seed: int) -> torch.Generator:
    """Seed every RNG a run touches; returns the generator that drives sampling."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass
class RunResult:
    metrics: dict[str, float]
    info: dict
    history: list[dict] = field(default_factory=list)
    evaluation: EvalResult | None = None

    def to_dict(self) -> dict:
        """Metrics first, then run info: the JSON line the CLI prints."""
        return {**self.metrics, **self.info}


class Trainer:
    def __init__(self, model: Recommender, dataset: ReviewDataset, config: TrainConfig,
                 generator: torch.Generator, device: torch.device, progress: bool = True):
        self.model, self.dataset, self.config = model, dataset, config
        self.generator, self.device, self.progress = generator, device, progress
        self.history: list[dict] = []

    def fit(self, on_epoch_end: Callable[[dict], bool | None] | None = None) -> list[dict]:
        """Train ``config.epochs`` epochs; ``on_epoch_end(record)`` may return True to stop early."""
        if not self.model.trainable:
            return self.history
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.lr)
        bar = tqdm(range(1, self.config.epochs + 1), desc=f"{self.config.model} epochs",
                   disable=not self.progress, unit="epoch")
        for epoch in bar:
            self.model.train()
            start, total, n = time.perf_counter(), 0.0, 0
            for batch in bpr_batches(self.dataset, self.config.batch_size, self.generator):
                batch = {k: v.to(self.device) for k, v in batch.items()}
                loss = self.model.batch_loss(batch)["loss"]
                if not math.isfinite(loss.item()):
                    raise TrainingError(
                        f"{self.config.model}: the loss became {loss.item()} in epoch {epoch} "
                        f"(lr={self.config.lr}). Lower the learning rate or check the input data."
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total, n = total + loss.item(), n + 1
            self.history.append({"epoch": epoch, "loss": total / n, "seconds": time.perf_counter() - start})
            bar.set_postfix(loss=f"{total / n:.4f}")
            if on_epoch_end is not None and on_epoch_end(self.history[-1]):
                break
        return self.history

    @torch.no_grad()
    def evaluate(self, ks=None, return_topk: bool = False) -> EvalResult:
        self.model.eval()
        self.model.prepare_scoring()
        return evaluate(self.model.score, self.dataset.train_csr, self.dataset.test_csr,
                        ks=tuple(ks or self.config.eval_ks), batch_size=self.config.eval_batch_size,
                        device=self.device, progress=self.progress, return_topk=return_topk)


def run(dataset: ReviewDataset, config: TrainConfig, progress: bool = True) -> RunResult:
    """Train ``config.model`` on ``dataset`` from ``config.seed`` and evaluate on the test split."""
    generator = seed_everything(config.seed)
    device = resolve_device(config.device)
    model = build_model(config.model, dataset, config).to(device)
    trainer = Trainer(model, dataset, config, generator, device, progress)
    start = time.perf_counter()
    history = trainer.fit()
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = trainer.evaluate()
    info = {
        "model": config.model,
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint,
        "seed": config.seed,
        "device": str(device),
        "epochs": len(history),
        "train_seconds": round(train_seconds, 3),
        "epoch_seconds": round(float(np.mean([h["seconds"] for h in history])), 4) if history else 0.0,
        "eval_seconds": round(time.perf_counter() - start, 3),
        "n_eval_users": result.n_users,
        "config": config.to_dict(),
        "versions": package_versions(),
        "git_commit": git_commit(),
    }
    return RunResult(result.metrics, info, history, result)
