"""Where the main job's minutes go (issue 17): its training runs and LIME, projected from measured pieces.

``make reproduce`` trains the grids of notebooks 02-04 (tuned settings from ``configs/tuned/``) and
explains ``REVIEWS`` reviews with LIME in notebook 07; 01, 05, 06 and 08 only read. A whole run from a
fresh clone takes over an hour here, so this benchmark measures each distinct run's parts instead:
model construction and ``--epochs`` timed epochs (after one warm-up epoch) with 1 and with 2 torch
threads, projected to the run's tuned epochs and its seeds; and LIME on ``--lime-reviews`` reviews.
Columns: one process with 2 threads (the notebooks before ``runs.executors.default_workers``) and two
1-thread workers (now; the sum over runs halved: an ideal schedule that ignores two processes sharing
memory bandwidth). Evaluation, data loading, kernel start-up and the one-off encoding of each dataset's
reviews by the frozen MiniLM (cached after the first SymCERE run; warm here) are left out.

    python benchmarks/bench_main_job.py [--epochs 2] [--lime-reviews 3] [--seeds 5] [--reading-seeds 3]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace

import torch

from symcere_kit.data.dataset import load_dataset
from symcere_kit.models import build_model
from symcere_kit.runs.grid import Grid
from symcere_kit.train import Trainer, seed_everything

DATASETS = ["amazon2014_musical_instruments", "amazon2018_gift_cards_5"]


def run_seconds(spec, epochs: int, threads: int) -> tuple[float, int]:
    """Projected seconds of one run of ``spec`` at ``threads`` torch threads, and its epochs."""
    torch.set_num_threads(threads)
    config = spec.config()
    dataset = config.loop.fit_data(load_dataset(spec.dataset, progress=False))
    start = time.perf_counter()
    model = build_model(config, dataset, progress=False)
    build = time.perf_counter() - start
    if not config.loop.epochs or not model.trainable:
        return build, 0
    trainer = Trainer(model, dataset, config, seed_everything(0), torch.device("cpu"), progress=False)
    trainer.loop = replace(config.loop, epochs=epochs + 1)
    history = trainer.fit()
    per_epoch = sum(h["seconds"] for h in history[1:]) / epochs
    return build + per_epoch * config.loop.epochs, config.loop.epochs


def lime_seconds(reviews: int) -> float:
    """Seconds per review of notebook 07's LIME (500 perturbations) on Musical Instruments' seed-0 run."""
    from symcere_kit.analysis import grid_tables
    from symcere_kit.analysis.explain import InteractionExplainer, sample_rows
    from symcere_kit.runs import study_grid

    torch.set_num_threads(2)
    grid = study_grid(DATASETS[:1], [0], variants=["symcere-lightgcn"], workers=1)
    grid.run(progress=False)
    explainer = InteractionExplainer(grid_tables.load_variant(grid, DATASETS[0], "symcere-lightgcn", 0))
    rows = sample_rows(len(explainer), reviews, seed=0)
    start = time.perf_counter()
    for row in rows:
        explainer.explain(int(row), num_samples=500, use_cache=False)
    return (time.perf_counter() - start) / len(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lime-reviews", type=int, default=3)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--reading-seeds", type=int, default=3)
    p.add_argument("--review-count", type=int, default=200, help="notebook 07's REVIEWS")
    args = p.parse_args()
    parts = [("03 Table 2", ["table2"], args.seeds), ("04 Table 3 + controls", ["table3", "controls"], args.seeds),
             ("04 readings", ["readings"], args.reading_seeds)]
    seen, rows = set(), []
    for part, variants, seeds in parts:
        totals = {1: 0.0, 2: 0.0}
        for spec in Grid(DATASETS, variants, [0], root=tempfile.gettempdir(), tuned=True).specs:
            if (spec.dataset, spec.variant) in seen:  # a run an earlier notebook trained (same folder)
                continue
            seen.add((spec.dataset, spec.variant))
            for threads in (1, 2):
                seconds, epochs = run_seconds(spec, args.epochs, threads)
                totals[threads] += seconds * seeds
            print(f"{part}: {spec.dataset[:14]} {spec.variant} {epochs} epochs: {seconds:.1f} s per run at 2 threads",
                  flush=True)
        rows.append((part, totals[2], totals[1] / 2))
    lime = lime_seconds(args.lime_reviews) * args.review_count
    rows.append((f"07 LIME ({args.review_count} reviews x 500)", lime, lime))
    print("\n| part | one process, 2 threads (min) | two 1-thread workers (min) | after / before |")
    print("|------|-----------------------------:|---------------------------:|---------------:|")
    for part, before, after in rows:
        print(f"| {part} | {before / 60:.1f} | {after / 60:.1f} | {after / before:.2f}x |")
    before, after = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"| all of the above | {before / 60:.1f} | {after / 60:.1f} | {after / before:.2f}x |")


if __name__ == "__main__":
    main()
