"""Tuning cost per dataset and variant: trials, pruned share, minutes, from the studies' trial files.

    python benchmarks/bench_tuning.py [--root configs/tuned] [--run [--trials 20] [--workers 1]]

Without ``--run`` it reads the ``.trials.csv`` files ``symcere tune`` wrote (``configs/tuned/`` by
default): each trial's start-to-end time, pruned and failed ones included. ``--run`` first tunes every
variant of ``GROUPS["tuning"]`` on both shared datasets into a fresh folder (a throw-away SQLite
storage and tuned root under ``benchmarks/_work/``), the equal budget of ``make tune``. The reference
measured in the same run is one LightGCN run per dataset at its defaults (30 epochs, no tuning): each
study's minutes are also given as a multiple of it. The issue's goal: every variant on both datasets,
20 trials each, within 2 hours of machine time on 2 cores.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from symcere_kit.runs.tuned import tuned_path
from symcere_kit.runs.variants import GROUPS

DATASETS = ["amazon2018_gift_cards_5", "amazon2014_musical_instruments"]
WORK = Path(__file__).resolve().parent / "_work" / "tuning"


def reference_seconds(dataset: str) -> float:
    """Wall time of one default LightGCN run (train + test evaluation), the unit of the ratios."""
    from symcere_kit.data.dataset import load_dataset
    from symcere_kit.models import run_config
    from symcere_kit.train import run

    ds = load_dataset(dataset, progress=False)
    times = []
    for _ in range(2):  # the best of two: the first run in a process also pays one-off warm-up
        start = time.perf_counter()
        run(ds, run_config("lightgcn"), progress=False)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", help="tuned files to read (default configs/tuned/, or the --run folder)")
    p.add_argument("--run", action="store_true", help="tune everything first, into benchmarks/_work/tuning/")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    root = Path(args.root) if args.root else None
    if args.run:
        from symcere_kit.tuning.study import tune

        root = WORK / time.strftime("%Y%m%d-%H%M%S")
        for dataset in DATASETS:
            for variant in GROUPS["tuning"]:
                tune(dataset, variant, up_to=args.trials, storage=str(root / "studies.db"), tuned_root=root,
                     executor="process" if args.workers > 1 else "local", workers=args.workers, progress=False)
    rows = []
    for dataset in DATASETS:
        ref = reference_seconds(dataset)
        for variant in GROUPS["tuning"]:
            path = tuned_path(dataset, variant, root).with_suffix(".trials.csv")
            if not path.is_file():
                rows.append({"dataset": dataset, "variant": variant, "trials": 0})
                continue
            t = pd.read_csv(path)
            finished = t[t["state"].isin(["COMPLETE", "PRUNED"])]
            minutes = t["seconds"].fillna(0).sum() / 60
            rows.append({"dataset": dataset, "variant": variant, "trials": len(finished),
                         "pruned %": round(100 * (finished["state"] == "PRUNED").mean(), 0),
                         "failed": int((t["state"] == "FAIL").sum()), "minutes": round(minutes, 1),
                         "x one default LightGCN run": round(minutes * 60 / ref, 1)})
        rows.append({"dataset": dataset, "variant": f"(reference: one default LightGCN run, {ref:.1f} s)"})
    frame = pd.DataFrame(rows)
    print(tabulate(frame.astype(object).fillna(""), headers="keys", showindex=False, floatfmt="g"))
    total = frame["minutes"].fillna(0).sum()
    missing = int((frame["trials"] == 0).sum())
    print(f"\nall studies: {total:.1f} minutes of trials ({total / 60:.2f} h; goal: under 2 h)"
          + (f"; {missing} studies not tuned yet" if missing else ""))


if __name__ == "__main__":
    main()
