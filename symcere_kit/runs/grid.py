"""Experiment grids (datasets x model variants x seeds): resumable, dispatched through any executor.

Runs live in a [`RunStore`][symcere_kit.runs.store.RunStore] (its docstring has the layout); a run is
finished exactly when its ``result.json`` exists, so a rerun of the grid does only what is missing.
``<root>/results.csv`` is the tidy table (one row per dataset x variant x seed x metric), rebuilt
after every finished run.

Runs go through an executor of ``runs.executors`` (local, process pool, Dask), as tuning trials do.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd
import torch

from ..config import RunConfig
from ..data.dataset import load_dataset
from ..errors import SymcereError
from ..files import write_text_atomic
from ..paths import results_dir
from ..progress import progress_bar
from ..text.settings import TextTrainingSettings
from ..train import run as train_run
from .executors import InlineExecutor, default_workers, make_executor, threads_per_worker
from .store import PER_USER_FILE, RESULT_FILE, RunStore
from .tuned import check_fingerprint, load_tuned
from .variants import VARIANTS, check_grid_settings, expand_variants, tables_for, tuned_key, variant_config


@dataclass(frozen=True)
class RunSpec:
    """One run of a grid: a dataset x variant x seed with the grid-wide and tuned settings it runs with."""

    dataset: str
    variant: str
    seed: int
    settings: tuple = ()  # sorted (key, value) config overrides shared by the whole grid
    tuned: tuple = ()  # sorted (key, value) tuned settings of this dataset x variant (configs/tuned/)
    tuned_fingerprint: str = ""  # the dataset fingerprint those were tuned on

    def config(self) -> RunConfig:
        """This run's settings (the resolver on its variant row, grid settings and tuned file)."""
        return variant_config(self.variant, self.seed, dict(self.settings), tuned=dict(self.tuned))

    def directory(self, root: Path) -> Path:
        """Its folder in the run store under ``root``, keyed by the grid settings and tuned settings."""
        key = {**dict(self.settings), **({"tuned": dict(self.tuned)} if self.tuned else {})}
        return RunStore(root).run_dir(self.dataset, self.variant, self.seed, key)


def execute(spec: RunSpec, root: str | Path, threads: int | None = None) -> dict:
    """Train and evaluate one run and store it; returns its record. Top-level so it pickles."""
    out = spec.directory(Path(root))
    if RunStore.is_done(out):
        return json.loads((out / RESULT_FILE).read_text())
    if threads:
        torch.set_num_threads(threads)
    dataset = load_dataset(spec.dataset, progress=False)
    if spec.tuned:
        check_fingerprint(spec.tuned_fingerprint, dataset.tuning_fingerprint, spec.dataset, spec.variant)
    result = train_run(dataset, spec.config(), progress=False)
    record = {"dataset": dataset.name, "dataset_arg": spec.dataset, "variant": spec.variant,
              "label": VARIANTS[spec.variant].label, "seed": spec.seed, "settings": dict(spec.settings),
              "tuned": dict(spec.tuned)}
    return RunStore.save(out, record, result)


class Grid:
    """``datasets x variants x seeds`` under ``root`` (default ``results/grid``).

    With ``tuned`` (the default) each dataset x variant with a file in ``configs/tuned/`` runs with those settings (the
    protocol after tuning: the whole training history, the epochs early stopping found); grid-wide ``settings`` still
    win over them. ``tuned=False`` runs the defaults. ``workers`` > 1 makes [`run`][symcere_kit.runs.grid.Grid.run] use
    a process pool of that many workers unless it is given an executor. ``tables``: the paper tables its variant groups
    make ([`tables_for`][symcere_kit.runs.variants.tables_for]), what
    [`export_tables`][symcere_kit.tables.export_tables] is to write for it."""

    def __init__(self, datasets: Iterable[str], variants: Iterable[str], seeds: Iterable[int],
                 root: str | Path | None = None, settings: dict | None = None, tuned: bool = True,
                 workers: int | None = None):
        self.root = Path(root) if root else results_dir() / "grid"
        self.workers = workers
        self.store = RunStore(self.root)
        settings_t = tuple(sorted((settings or {}).items()))
        variants = list(variants)
        self.tables = tables_for(variants)  # what export_tables writes for this grid (None: every table it fills)
        variants = expand_variants(variants)
        check_grid_settings(dict(settings_t), variants)  # a typo fails here, before any run starts
        self.tuned_files: dict[tuple[str, str], Path] = {}
        self.specs = []
        for d in datasets:
            for v in variants:
                found = load_tuned(d, v) if tuned else None
                if found:
                    self.tuned_files[d, v] = found.path
                applied = tuned_key(v, found.settings, dict(settings_t)) if found else {}
                extra = (tuple(sorted(applied.items())), found.fingerprint) if applied else ()
                self.specs += [RunSpec(d, v, int(s), settings_t, *extra) for s in seeds]
        if not self.specs:
            raise SymcereError("The grid is empty: give at least one dataset, model and seed.")
        for spec in self.specs:  # a setting some run refuses fails here, before any run starts
            spec.config()

    def is_done(self, spec: RunSpec) -> bool:
        """Whether ``spec``'s run has finished (its ``result.json`` exists)."""
        return self.store.is_done(spec.directory(self.root))

    def run_dir(self, dataset: str, variant: str, seed: int = 0) -> Path:
        """The folder of a finished run of this grid; an error names a run that is missing or not in it."""
        for spec in self.specs:
            if (spec.dataset, spec.variant, spec.seed) == (dataset, variant, seed):
                if not self.is_done(spec):
                    raise SymcereError(f"{variant} seed {seed} on {dataset} has not run yet "
                                       f"({spec.directory(self.root)}); run the grid first.")
                return spec.directory(self.root)
        raise SymcereError(f"{variant} seed {seed} on {dataset} is not part of this grid.")

    def finished(self, dataset: str | None = None) -> list[tuple[RunSpec, Path]]:
        """(spec, folder) of every finished run, optionally of one ``dataset`` only."""
        return [(s, s.directory(self.root)) for s in self.specs
                if (dataset is None or s.dataset == dataset) and self.is_done(s)]

    def pending(self) -> list[RunSpec]:
        """The runs of this grid that have not finished, in grid order."""
        return [s for s in self.specs if not self.is_done(s)]

    def run(self, executor: str | cf.Executor | None = None, workers: int | None = None, progress: bool = True,
            threads: int | None = None) -> pd.DataFrame:
        """Run every unfinished run; return the tidy results. A failed run is reported after the others finish.

        ``executor`` None: a process pool when this grid's ``workers`` > 1 and more than one run is pending,
        else this process."""
        pending = self.pending()
        if executor is None:
            workers = workers or self.workers
            executor = "process" if (workers or 1) > 1 and len(pending) > 1 else "local"
            if executor == "local":
                workers = None  # this process keeps its own thread count (a notebook kernel, say)
        if threads is None:
            threads = threads_per_worker(workers)
        errors: list[tuple[RunSpec, BaseException]] = []
        todo = iter(pending)
        in_flight: dict[cf.Future, RunSpec] = {}
        with progress_bar(total=len(self.specs), initial=len(self.specs) - len(pending), desc="grid", unit="run",
                          enabled=progress) as bar, make_executor(executor, workers) as ex:
            # A bounded window of submitted runs: the bar moves as runs finish (the inline executor
            # runs a task inside submit) and a remote cluster never holds the whole grid at once.
            window = 1 if isinstance(ex, InlineExecutor) else 2 * max(1, workers or 1)
            while True:
                while len(in_flight) < window and (spec := next(todo, None)) is not None:
                    in_flight[ex.submit(execute, spec, str(self.root), threads)] = spec
                if not in_flight:
                    break
                done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    spec = in_flight.pop(future)
                    exc = future.exception()
                    if exc is not None:
                        errors.append((spec, exc))
                    else:
                        self.write_results()
                    bar.set_postfix_str(f"{spec.dataset} {spec.variant} seed {spec.seed}")
                    bar.update(1)
        tidy = self.write_results()
        if errors:
            spec, exc = errors[0]
            raise SymcereError(f"{len(errors)} run(s) failed; first: {spec.dataset} {spec.variant} seed {spec.seed}: "
                               f"{type(exc).__name__}: {exc}") from exc
        return tidy

    def records(self) -> list[dict]:
        """The ``result.json`` record of every finished run of this grid."""
        return [json.loads((d / RESULT_FILE).read_text()) for _, d in self.finished()]

    def results(self) -> pd.DataFrame:
        """Tidy: dataset, variant, label, seed, metric, value for every finished run of this grid."""
        rows = [{"dataset": r["dataset"], "variant": r["variant"], "label": r["label"], "seed": r["seed"],
                 "metric": m, "value": v} for r in self.records() for m, v in r["metrics"].items()]
        return pd.DataFrame(rows, columns=["dataset", "variant", "label", "seed", "metric", "value"])

    def write_results(self) -> pd.DataFrame:
        """Rewrite ``<root>/results.csv`` (atomically) from the finished runs; return the tidy frame."""
        tidy = self.results()
        write_text_atomic(self.root / "results.csv", tidy.to_csv(index=False))
        return tidy

    def per_user(self, metric: str = "ndcg@10") -> pd.DataFrame:
        """Long frame: dataset, variant, seed, user, value of ``metric`` for every finished run."""
        frames = []
        for spec, d in self.finished():
            name = json.loads((d / RESULT_FILE).read_text())["dataset"]
            pu = pd.read_parquet(d / PER_USER_FILE, columns=["user", metric])
            frames.append(pu.rename(columns={metric: "value"}).assign(dataset=name, variant=spec.variant,
                                                                       seed=spec.seed))
        cols = ["dataset", "variant", "seed", "user", "value"]
        return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def study_grid(datasets: Iterable[str], seeds: Iterable[int] = (0,), epochs: int | None = None,
               text_mode: str | None = None, quick: bool = False, variants: Iterable[str] = ("paper",),
               text_model: str | None = None, tuned: bool = True, workers: int | None = None) -> Grid:
    """The grid the notebooks share: the same parameters give the same run folders, so notebook 02 or 03 trains a run
    once and 04-07 reuse it. Defaults add no settings, so ``symcere grid`` without ``--set`` fills the same store
    (``results/grid``); both use ``configs/tuned/`` unless ``tuned=False``. ``workers`` parallel runs (default
    [`default_workers`][symcere_kit.runs.executors.default_workers]; QUICK runs in this process: a pool's start-up
    outweighs its few short runs)."""
    default_mode = TextTrainingSettings.text_mode  # the default adds no setting: the same run folders
    settings = {**({"epochs": int(epochs)} if epochs else {}),
                **({"text_mode": text_mode} if text_mode not in (None, default_mode) else {}),
                **({"text_model": text_model} if text_model else {})}
    workers = 1 if quick else (workers or default_workers())
    return Grid(datasets, variants, seeds, root=results_dir(quick) / "grid", settings=settings, tuned=tuned,
                workers=workers)
