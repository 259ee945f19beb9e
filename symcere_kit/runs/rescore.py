"""Score finished runs of the store under other evaluation protocols, without retraining.

Each run comes back through [`load_run`][symcere_kit.runs.store.load_run] (its model rebuilt, its weights loaded) and is
scored under every protocol asked for (``symcere_kit.protocols``: ``full``, ``uni<N>``, ``pop<N>``). A sampled
protocol's candidates are drawn once per (dataset, protocol, sampling seed) and shared by every run scored with them; by
default the sampling seed is the run's own seed, so the runs of one seed, whatever their model, are ranked against the
same negatives (paired), and the spread over seeds includes the sampling's. ``full`` re-scored gives the stored metrics
bit for bit ([`check_full`][symcere_kit.runs.rescore.check_full]).

Rows are tidy: dataset, variant, label, seed, run (folder under the root), protocol, sample_seed, metric, value;
``<root>/protocols.csv`` keeps them ([`write_rescored`][symcere_kit.runs.rescore.write_rescored]), next to
``results.csv``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from ..errors import SymcereError
from ..files import write_text_atomic
from ..progress import progress_bar
from ..protocols import evaluate_protocol, parse_protocol, sample_candidates
from .store import RunStore, load_run, read_record

COLUMNS = ["dataset", "variant", "label", "seed", "run", "protocol", "sample_seed", "metric", "value"]
PROTOCOLS_FILE = "protocols.csv"


def rescore(directories: Iterable[str | Path], protocols: Iterable[str], root: str | Path,
            sample_seed: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Tidy rows (module docstring) for every run folder in ``directories`` under every protocol.

    ``sample_seed`` None: each run's own seed draws its negatives. A protocol that trains its own runs
    (``repeats``, ``test-epoch``) is refused before any run loads."""
    protocols = [parse_protocol(p) for p in protocols]
    bad = [p.name for p in protocols if not p.rescores]
    if bad:
        raise SymcereError(f"{', '.join(bad)} cannot re-score a stored run: it changes the data or the training and "
                           f"trains its own runs (protocols.py). Re-score with full, uni<N> or pop<N>.")
    root = Path(root)
    datasets: dict[str, object] = {}
    candidates: dict[tuple, object] = {}
    rows = []
    for directory in progress_bar(list(map(Path, directories)), desc="re-score runs", unit="run", enabled=progress):
        record = read_record(directory)
        key = record.get("dataset_arg") or record["dataset"]
        run = load_run(directory, dataset=datasets.get(key))
        ds = datasets.setdefault(key, run.dataset)
        loop = run.config.loop
        seed = run.config.loop.seed if sample_seed is None else sample_seed
        for p in protocols:
            cands = None
            if p.kind == "sampled":
                ckey = (key, p.name, seed)
                if ckey not in candidates:
                    candidates[ckey] = sample_candidates(ds.train_csr, ds.test_csr, p, seed, ds.item_degree)
                cands = candidates[ckey]
            result = evaluate_protocol(run.model.score, ds.train_csr, ds.test_csr, p, ks=loop.eval_ks,
                                       candidates=cands, batch_size=loop.eval_batch_size, progress=False,
                                       **own_mask(ds, p))
            rows += [
                {
                    "dataset": record["dataset"],
                    "variant": record.get("variant"),
                    "label": run.label,
                    "seed": record.get("seed"),
                    "run": str(directory.relative_to(root) if directory.is_relative_to(root) else directory),
                    "protocol": p.name,
                    "sample_seed": seed if p.kind == "sampled" else None,
                    "metric": m,
                    "value": v,
                }
                for m, v in result.metrics.items()
            ]
    return pd.DataFrame(rows, columns=COLUMNS)


def own_mask(dataset, protocol) -> dict:
    """``evaluate`` keywords that keep a dataset's own all-ranking mask: a ``NAME@repeats`` run was scored with
    ``train - test`` (``ReviewDataset.rank_exclude``), so ``full`` re-scores it with that mask too (the plain
    training mask would refuse its repeated pairs); nothing for honest data or sampled protocols."""
    exclude = dataset.rank_exclude
    return {"exclude": exclude} if exclude is not None and parse_protocol(protocol).kind == "full" else {}


def check_full(rescored: pd.DataFrame, root: str | Path) -> pd.DataFrame:
    """Re-scored ``full`` rows beside the metrics each run stored: run, metric, stored, rescored, equal (exact)."""
    full = rescored[rescored["protocol"] == "full"]
    stored_metrics = {run: read_record(Path(root) / run)["metrics"] for run in dict.fromkeys(full["run"])}  # once a run
    rows = []
    for r in full.itertuples(index=False):
        stored = stored_metrics[r.run].get(r.metric)
        rows.append(
            {"run": r.run, "metric": r.metric, "stored": stored, "rescored": r.value, "equal": stored == r.value}
        )
    return pd.DataFrame(rows, columns=["run", "metric", "stored", "rescored", "equal"])


def write_rescored(rows: pd.DataFrame, root: str | Path) -> pd.DataFrame:
    """Merge ``rows`` into ``<root>/protocols.csv`` (a run re-scored under a protocol again replaces its rows)."""
    path = Path(root) / PROTOCOLS_FILE
    if path.is_file():
        old = pd.read_csv(path)
        fresh = set(_keys(rows))
        old = old[[k not in fresh for k in _keys(old)]]
        rows = pd.concat([old, rows], ignore_index=True) if len(old) else rows
    rows = rows.sort_values(["dataset", "variant", "seed", "protocol", "metric"], kind="stable").reset_index(drop=True)
    write_text_atomic(path, rows.to_csv(index=False))
    return rows


def _keys(frame: pd.DataFrame) -> list[tuple]:
    """(run, protocol, sample seed) per row, the seed as text whether it came from a frame (None) or a CSV (NaN)."""
    seeds = frame["sample_seed"].astype("Int64").astype(str)
    return list(zip(frame["run"].astype(str), frame["protocol"].astype(str), seeds))


def stored_runs(root: str | Path, datasets: Iterable[str] | None = None, variants: Iterable[str] | None = None,
                seeds: Iterable[int] | None = None) -> list[Path]:
    """Finished run folders under ``root``, optionally only those datasets, variants and seeds."""
    found = RunStore(root).find()
    if datasets:
        found = found[found["dataset"].isin(list(datasets))]
    if variants:
        found = found[found["variant"].isin(list(variants))]
    if seeds is not None:
        found = found[found["seed"].isin(list(seeds))]
    return [Path(d) for d in found["directory"]]
