"""Notebook 09's steps: the same runs under every protocol, the two leaky readings, what chance gives.

Each function returns tidy rows (dataset, variant, label, seed, protocol, metric, value) that
``protocol_tables`` lays out; the notebook only calls them and displays.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from ..data.dataset import load_dataset
from ..files import write_text_atomic
from ..protocols import chance_table, parse_protocol
from .grid import Grid, study_grid
from .rescore import check_full, rescore, write_rescored
from .test_epoch import METRICS as CURVE_METRICS
from .test_epoch import run_curves, test_epoch_table
from .variants import VARIANTS

ROWS = ["dataset", "variant", "label", "seed", "protocol", "metric", "value"]


def rescored_rows(grid: Grid, protocols: Iterable[str], progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every finished run of ``grid`` re-scored under ``protocols`` (kept in ``<root>/protocols.csv``), and the
    check that ``full`` gives the stored metrics (``rescore.check_full``)."""
    rows = rescore([d for _, d in grid.finished()], protocols, grid.root, progress=progress)
    write_rescored(rows, grid.root)
    return rows[ROWS], check_full(rows, grid.root)


def chance_rows(datasets: Iterable[str], protocols: list[str], seeds: Iterable[int]) -> pd.DataFrame:
    """dataset, protocol, metric, value: the random ranker's exact expectation, for sampled protocols averaged
    over the candidate sets of ``seeds`` (the sampling seeds the runs were scored with)."""
    frames = []
    for name in datasets:
        ds = load_dataset(name, progress=False)
        honest = [p for p in protocols if parse_protocol(p).name != "repeats"]
        per_seed = [chance_table(ds.train_csr, ds.test_csr, honest, seed=s, popularity=ds.item_degree) for s in seeds]
        if len(honest) < len(list(protocols)):  # the repeats reading ranks its own split
            leaky = load_dataset(f"{name}@repeats", progress=False)
            per_seed.append(chance_table(leaky.train_csr, leaky.test_csr, ["repeats"]))
        mean = pd.concat(per_seed).groupby(["protocol", "metric"], sort=False)["value"].mean().reset_index()
        frames.append(mean.assign(dataset=ds.name))
    return pd.concat(frames, ignore_index=True)[["dataset", "protocol", "metric", "value"]]


def repeats_study(grid_args: dict, datasets: Iterable[str], progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``repeats`` reading of each dataset: its repeat statistics, and its runs' rows (protocol ``repeats``).

    ``grid_args``: [`study_grid`][symcere_kit.runs.grid.study_grid]'s arguments but the datasets. Where the honest
    reading dropped no duplicate pair, the two readings are the same data, so its rows are the honest runs'
    (column ``same_data``); elsewhere ``NAME@repeats`` trains its own runs with the base dataset's tuned settings."""
    stats, rows = [], []
    for name in datasets:
        honest = load_dataset(name, progress=False)
        leaky = load_dataset(f"{name}@repeats", progress=False)
        same = honest.stats["losses"].get("duplicate_pairs", 0) == 0
        stats.append({"dataset": honest.name, "same_data": same, "reviews_honest": honest.stats["reviews"],
                      "reviews_repeats": leaky.stats["reviews"], **leaky.stats["repeats"]})
        grid = study_grid([name if same else f"{name}@repeats"], **grid_args)
        tidy = grid.run(progress=progress)
        rows.append(repeats_rows(tidy.assign(dataset=honest.name)))
    return pd.DataFrame(stats), pd.concat(rows, ignore_index=True)[ROWS]


def test_epoch_study(grid: Grid, workers: int | None = None, progress: bool = True,
                     **budget) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``test-epoch`` reading of every run of ``grid`` (``runs.test_epoch``): its table and its rows."""
    specs = [s for s, _ in grid.finished()]
    curves = run_curves(specs, grid.root, workers=workers, progress=progress, **budget)
    table = test_epoch_table(specs, grid.root, curves)
    return table, test_epoch_rows(table)


def repeats_rows(results: pd.DataFrame) -> pd.DataFrame:
    """A ``NAME@repeats`` grid's tidy results (``Grid.results``) as rows of protocol ``repeats`` on NAME."""
    rows = results.copy()
    rows["dataset"] = rows["dataset"].str.replace(r"@repeats$", "", regex=True)
    return rows.assign(protocol="repeats")


def test_epoch_rows(table: pd.DataFrame) -> pd.DataFrame:
    """``runs.test_epoch.test_epoch_table`` as rows of protocol ``test-epoch`` (the test-selected values)."""
    rows = []
    for r in table.to_dict("records"):
        for m in CURVE_METRICS:
            rows.append({"dataset": r["dataset"], "variant": r["variant"],
                         "label": VARIANTS[r["variant"]].label if r["variant"] in VARIANTS else r["variant"],
                         "seed": r["seed"], "protocol": "test-epoch", "metric": m, "value": r[f"{m}_test_selected"]})
    return pd.DataFrame(rows, columns=ROWS)


def export_protocol_tables(tables: dict[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """Each table as ``protocols_<name>.csv`` and ``.md`` in ``folder`` (atomic); the written paths."""
    folder = Path(folder)
    written = []
    for name, table in tables.items():
        flat = table.reset_index() if not isinstance(table.index, pd.RangeIndex) else table
        for suffix, text in (
            (".csv", flat.to_csv(index=False)),
            (".md", flat.to_markdown(index=False, floatfmt=".4g")),
        ):
            path = folder / f"protocols_{name}{suffix}"
            write_text_atomic(path, text + ("\n" if suffix == ".md" else ""))
            written.append(path)
    return written

