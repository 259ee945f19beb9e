"""The leaky ``test-epoch`` reading: training stopped at the epoch that scores best on the TEST split.

Papers that early-stop (or pick epochs) on the split they report inflate their numbers; MMRec's issue #64 is that
problem. To measure by how much, each run of a grid is trained again from the same seed and tuned settings, the test
split scored every ``every`` epochs, and stopped once test NDCG@10 has not improved for ``patience`` checks (the tuning
budget's ``eval_every`` 5, ``patience`` 4, ``epoch_cap`` 200), never before the tuned run's own epoch count, so the
curve passes through the honest run: at that epoch it must give the stored run's metrics (evaluation draws no random
numbers), which [`test_epoch_table`][symcere_kit.runs.test_epoch.test_epoch_table] checks.

Curves are kept as ``<grid root>/test_epoch/<dataset slug>/<variant>[@hash]/seed<k>.json`` (atomic,
resumable). Closed-form models have no epochs: their test-selected value is their honest one.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from ..data.dataset import load_dataset
from ..files import write_json_atomic
from ..models import model_class
from ..progress import progress_bar
from ..protocols import warn_leaky
from ..train import fit
from .executors import make_executor, threads_per_worker
from .grid import RunSpec
from .store import read_record

METRICS = ("hr@10", "ndcg@10")


class TestCurve:
    """``Trainer.fit``'s epoch callback: scores the test split every ``every`` epochs, stops after ``patience``
    checks without a better test NDCG@10 once ``min_epochs`` are done, keeps every check in ``rows``."""

    __test__ = False  # not a pytest class

    def __init__(self, trainer, every: int, patience: int, min_epochs: int):
        self.trainer, self.every, self.patience, self.min_epochs = trainer, every, patience, min_epochs
        self.rows: list[dict] = []
        self.best, self.bad = float("-inf"), 0

    def __call__(self, record: dict) -> bool:
        epoch = record["epoch"]
        if epoch % self.every and epoch != self.min_epochs:
            return False
        metrics = self.trainer.evaluate(self.trainer.dataset).metrics
        self.rows.append({"epoch": epoch, **{m: metrics[m] for m in METRICS}})
        if metrics["ndcg@10"] > self.best:
            self.best, self.bad = metrics["ndcg@10"], 0
        elif epoch % self.every == 0:
            self.bad += 1
        return self.bad >= self.patience and epoch >= self.min_epochs


def curve_path(spec: RunSpec, root: str | Path) -> Path:
    """Where ``spec``'s curve is kept: ``<root>/test_epoch/<dataset slug>/<variant>[@hash]/seed<k>.json``."""
    run = spec.directory(Path(root))  # <root>/runs/<dataset>/<variant>/seed<k>
    return Path(root) / "test_epoch" / run.parent.parent.name / run.parent.name / f"{run.name}.json"


def execute(spec: RunSpec, root: str | Path, every: int = 5, patience: int = 4, cap: int = 200,
            threads: int | None = None) -> dict:
    """Train ``spec`` watching the test split (module docstring); store and return its curve. Top-level: pickles."""
    out = curve_path(spec, root)
    if out.is_file():
        return json.loads(out.read_text())
    if threads:
        torch.set_num_threads(threads)
    config = spec.config()
    honest_epochs = config.loop.epochs
    record = {"dataset_arg": spec.dataset, "variant": spec.variant, "seed": spec.seed, "honest_epochs": honest_epochs,
              "every": every, "patience": patience, "cap": cap}
    if model_class(config.model).trainable:
        dataset = load_dataset(spec.dataset, progress=False)
        config = config.replace(epochs=max(cap, honest_epochs), patience=0)
        holder: dict = {}

        def monitor(trainer):
            holder["curve"] = TestCurve(trainer, every, patience, honest_epochs)
            return holder["curve"]

        fit(dataset, config, progress=False, monitor=monitor)
        record.update(dataset=dataset.name, curve=holder["curve"].rows)
    else:
        record.update(dataset=None, curve=[])
    write_json_atomic(out, record)
    return record


def run_curves(specs: list[RunSpec], root: str | Path, workers: int | None = None, progress: bool = True,
               **budget) -> list[dict]:
    """Every spec's curve (trained where missing, ``workers`` processes), in ``specs`` order; warns that the
    reading is leaky. ``budget``: every, patience, cap."""
    warn_leaky("test-epoch", "test-epoch reading")
    todo = [s for s in specs if not curve_path(s, root).is_file()]
    kind = "process" if (workers or 1) > 1 and len(todo) > 1 else "local"
    threads = threads_per_worker(workers) if kind == "process" else None
    with (
        make_executor(kind, workers) as ex,
        progress_bar(total=len(todo), desc="test-epoch runs", enabled=progress) as bar,
    ):
        futures = [ex.submit(execute, s, str(root), threads=threads, **budget) for s in todo]
        for f in futures:
            f.result()
            bar.update(1)
    return [json.loads(curve_path(s, root).read_text()) for s in specs]


def test_epoch_table(specs: list[RunSpec], root: str | Path, curves: list[dict]) -> pd.DataFrame:
    """One row per run: dataset, variant, seed, honest_epochs, best_test_epoch, and for each metric its honest
    (stored, validation-selected) value, its test-selected value (at the test-best NDCG@10 check) and the
    curve's value at the honest epoch (equal to the stored one when training is deterministic)."""
    rows = []
    for spec, rec in zip(specs, curves):
        stored = read_record(spec.directory(Path(root)))
        row = {"dataset": stored["dataset"], "variant": spec.variant, "seed": spec.seed,
               "honest_epochs": rec["honest_epochs"]}
        curve = pd.DataFrame(rec["curve"])
        if curve.empty:  # closed form: no epochs to pick
            best, at_honest = None, None
        else:
            best = curve.loc[curve["ndcg@10"].idxmax()]
            hit = curve[curve["epoch"] == rec["honest_epochs"]]
            at_honest = hit.iloc[0] if len(hit) else None
        row["best_test_epoch"] = int(best["epoch"]) if best is not None else None
        for m in METRICS:
            row[f"{m}_honest"] = stored["metrics"][m]
            row[f"{m}_test_selected"] = float(best[m]) if best is not None else stored["metrics"][m]
            row[f"{m}_curve_at_honest"] = float(at_honest[m]) if at_honest is not None else None
        rows.append(row)
    return pd.DataFrame(rows)
