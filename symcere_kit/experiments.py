"""Experiment grids (datasets x model variants x seeds): resumable, dispatched through any executor.

Each run lives in ``<root>/runs/<dataset>/<variant>/seed<k>/``: ``per_user.parquet`` (per-user metrics,
for paired tests), then ``model.safetensors`` and ``topk.parquet`` (see ``artifacts``, for the
analyses), and ``result.json`` (metrics, config, provenance) last, each atomically. A run is
finished exactly when its ``result.json`` exists, so a killed run leaves nothing that counts and a rerun of the grid does only what is missing. ``<root>/results.csv`` is the tidy
table (one row per dataset x variant x seed x metric), rebuilt after every finished run.

Executors follow ``concurrent.futures``: ``"local"`` runs in this process (the default; progress and
errors as usual), ``"process"`` a spawn-based process pool, ``"dask"`` a Dask distributed
``LocalCluster`` (or any scheduler address in ``$SYMCERE_DASK_SCHEDULER``) through
``Client.get_executor()``; an ``Executor`` instance is used as given.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from .artifacts import save_artifacts
from .config import TrainConfig
from .errors import SymcereError
from .io import atomic_path, stable_hash, write_json_atomic, write_text_atomic


@dataclass(frozen=True)
class Variant:
    """A named model setting: what Tables 2 and 3 call a column."""

    label: str
    model: str
    overrides: dict = field(default_factory=dict)
    role: str = "baseline"  # baseline | symcere | ablation


def _symcere(backbone: str, label: str, role: str, **extra) -> Variant:
    return Variant(label, "symcere", {"backbone": backbone, **extra}, role)


VARIANTS: dict[str, Variant] = {
    "mostpop": Variant("MostPop", "mostpop"),
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
}

# Paper tables as variant lists, in the paper's column order.
GROUPS: dict[str, list[str]] = {
    "table2": ["neumf", "sgl", "ngcf", "lightgcn", "smore", "symcere-ngcf", "symcere-lightgcn"],
    "table3": ["symcere-ngcf-wo-norm", "symcere-ngcf-infonce", "symcere-ngcf",
               "symcere-lightgcn-wo-norm", "symcere-lightgcn-infonce", "symcere-lightgcn"],
}
GROUPS["paper"] = list(dict.fromkeys(GROUPS["table2"] + GROUPS["table3"]))


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


def dataset_slug(dataset: str) -> str:
    """Directory name of a dataset: the registry name, or a file's stem plus a hash of its path."""
    path = Path(dataset).expanduser()
    if path.is_file() or os.sep in dataset:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.name.split(".")[0])
        return f"{stem}-{stable_hash(str(path.resolve()), 8)}"
    return dataset


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    variant: str
    seed: int
    settings: tuple = ()  # sorted (key, value) config overrides shared by the whole grid

    def config(self) -> TrainConfig:
        v = VARIANTS[self.variant]
        return TrainConfig.for_model(v.model, seed=self.seed, **{**dict(self.settings), **v.overrides})

    def directory(self, root: Path) -> Path:
        variant = self.variant + (f"@{stable_hash(dict(self.settings), 8)}" if self.settings else "")
        return Path(root) / "runs" / dataset_slug(self.dataset) / variant / f"seed{self.seed}"


def execute(spec: RunSpec, root: str | Path, threads: int | None = None) -> dict:
    """Train and evaluate one run and store it; returns its record. Top-level so it pickles."""
    import torch

    from .data.dataset import load_dataset
    from .train import run

    out = spec.directory(Path(root))
    if (out / "result.json").is_file():
        return json.loads((out / "result.json").read_text())
    if threads:
        torch.set_num_threads(threads)
    dataset = load_dataset(spec.dataset, progress=False)
    result = run(dataset, spec.config(), progress=False)
    with atomic_path(out / "per_user.parquet") as tmp:
        result.evaluation.per_user.to_parquet(tmp, index=False)
    save_artifacts(out, result)
    record = {"dataset": dataset.name, "dataset_arg": spec.dataset, "variant": spec.variant,
              "label": VARIANTS[spec.variant].label, "seed": spec.seed, "settings": dict(spec.settings),
              "metrics": result.metrics, "info": result.info, "history": result.history}
    write_json_atomic(out / "result.json", record)
    return record


class InlineExecutor(cf.Executor):
    """Runs each task when it is submitted, in this process: the ``concurrent.futures`` face of a loop."""

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            future.set_exception(exc)
        return future


@contextlib.contextmanager
def make_executor(kind: str | cf.Executor = "local", workers: int | None = None) -> Iterator[cf.Executor]:
    if isinstance(kind, cf.Executor):
        yield kind
        return
    if kind == "local":
        yield InlineExecutor()
    elif kind == "process":
        import multiprocessing

        with cf.ProcessPoolExecutor(max_workers=workers or 1, mp_context=multiprocessing.get_context("spawn")) as ex:
            yield ex
    elif kind == "dask":
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise SymcereError("--executor dask needs Dask distributed: pip install 'symcere-kit[distributed]'.") from exc
        address = os.environ.get("SYMCERE_DASK_SCHEDULER")
        with contextlib.ExitStack() as stack:
            if address:
                client = stack.enter_context(Client(address))
            else:
                cluster = stack.enter_context(LocalCluster(n_workers=workers or 1, threads_per_worker=1,
                                                           processes=True, dashboard_address=None))
                client = stack.enter_context(Client(cluster))
            yield client.get_executor(pure=False)
    else:
        raise SymcereError(f"Unknown executor {kind!r}; choose local, process or dask.")


class Grid:
    """``datasets x variants x seeds`` under ``root`` (default ``results/grid``)."""

    def __init__(self, datasets: Iterable[str], variants: Iterable[str], seeds: Iterable[int],
                 root: str | Path | None = None, settings: dict | None = None):
        from .report import results_dir

        self.root = Path(root) if root else results_dir() / "grid"
        settings_t = tuple(sorted((settings or {}).items()))
        TrainConfig.from_dict(dict(settings_t))  # unknown keys fail here, before any run starts
        self.specs = [RunSpec(d, v, int(s), settings_t) for d in datasets for v in expand_variants(variants)
                      for s in seeds]
        if not self.specs:
            raise SymcereError("The grid is empty: give at least one dataset, model and seed.")

    def is_done(self, spec: RunSpec) -> bool:
        return (spec.directory(self.root) / "result.json").is_file()

    def pending(self) -> list[RunSpec]:
        return [s for s in self.specs if not self.is_done(s)]

    def run(self, executor: str | cf.Executor = "local", workers: int | None = None, progress: bool = True,
            threads: int | None = None) -> pd.DataFrame:
        """Run every unfinished run; return the tidy results. A failed run is reported after the others finish."""
        from tqdm.auto import tqdm

        pending = self.pending()
        if threads is None and workers and workers > 1:
            threads = max(1, (os.cpu_count() or 1) // workers)
        errors: list[tuple[RunSpec, BaseException]] = []
        todo = iter(pending)
        in_flight: dict[cf.Future, RunSpec] = {}
        with tqdm(total=len(self.specs), initial=len(self.specs) - len(pending), desc="grid", unit="run",
                  disable=not progress) as bar, make_executor(executor, workers) as ex:
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
        out = []
        for spec in self.specs:
            path = spec.directory(self.root) / "result.json"
            if path.is_file():
                out.append(json.loads(path.read_text()))
        return out

    def results(self) -> pd.DataFrame:
        """Tidy: dataset, variant, label, seed, metric, value for every finished run of this grid."""
        rows = [{"dataset": r["dataset"], "variant": r["variant"], "label": r["label"], "seed": r["seed"],
                 "metric": m, "value": v} for r in self.records() for m, v in r["metrics"].items()]
        return pd.DataFrame(rows, columns=["dataset", "variant", "label", "seed", "metric", "value"])

    def write_results(self) -> pd.DataFrame:
        tidy = self.results()
        write_text_atomic(self.root / "results.csv", tidy.to_csv(index=False))
        return tidy

    def per_user(self, metric: str = "ndcg@10") -> pd.DataFrame:
        """Long frame: dataset, variant, seed, user, value of ``metric`` for every finished run."""
        frames = []
        for spec in self.specs:
            d = spec.directory(self.root)
            if (d / "result.json").is_file():
                name = json.loads((d / "result.json").read_text())["dataset"]
                pu = pd.read_parquet(d / "per_user.parquet", columns=["user", metric])
                frames.append(pu.rename(columns={metric: "value"}).assign(dataset=name, variant=spec.variant,
                                                                           seed=spec.seed))
        cols = ["dataset", "variant", "seed", "user", "value"]
        return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def study_dir(quick: bool = False) -> Path:
    """Where the notebooks write tables (``results/``; QUICK runs under ``results/quick/``)."""
    from .report import results_dir

    return results_dir() / "quick" if quick else results_dir()


def study_grid(datasets: Iterable[str], seeds: Iterable[int] = (0,), epochs: int | None = None,
               text_mode: str = "frozen", quick: bool = False, variants: Iterable[str] = ("paper",),
               text_model: str | None = None) -> Grid:
    """The grid the notebooks share: the same parameters give the same run folders, so notebook 02 or
    03 trains a run once and 04-07 reuse it. Defaults add no settings, so ``symcere grid`` without
    ``--set`` fills the same store (``results/grid``)."""
    settings = {**({"epochs": int(epochs)} if epochs else {}), **({"text_mode": text_mode} if text_mode != "frozen" else {}),
                **({"text_model": text_model} if text_model else {})}
    return Grid(datasets, variants, seeds, root=study_dir(quick) / "grid", settings=settings)
