"""The standard lever for large graphs: a batch size that grows with the data (issue 17).

LightGCN (as RecBole and the reference code train it) propagates the whole graph for every batch, so
an epoch costs (interactions / batch) x (graph size): quadratic in the data at a fixed batch. Growing
the batch with the data keeps the number of propagations per epoch fixed, so an epoch grows linearly.
Larger batches take fewer Adam steps per epoch, which practitioners offset with a larger learning rate.

Two parts, one run:

1. Musical Instruments (real reviews; 8,533 training interactions, so 8,192 is nearly one step an
   epoch), LightGCN at batch 2,048 (the reference: our and RecBole's default) and larger, each with the default
   lr 0.005 and with lr scaled by sqrt(batch / 2,048);
   early stopping on the validation slice (patience 10, at most 300 epochs), then test HR@10/NDCG@10
   and wall time, seed 0. Ratios against batch 2,048 / lr 0.005.
2. Generated data at about 600 k training interactions (``bench_scaling.interactions``): seconds per
   step and per epoch at each batch size (median of 5 steps after 2 warm-up ones).

    python benchmarks/bench_batch.py [--real-batches 2048 4096 8192] [--scale-batches 2048 8192 32768]
                                     [--scale-size 600000]
"""
from __future__ import annotations

import argparse
import math
import time

from bench_scaling import endless, interactions, ours, timed

from symcere_kit.config import DataConfig
from symcere_kit.data.dataset import dataset_from_reviews, load_dataset
from symcere_kit.models import run_config
from symcere_kit.train import run

BASE_BATCH, BASE_LR = 2048, 0.005


def real_rows(batches: list[int]) -> list[dict]:
    dataset = load_dataset("amazon2014_musical_instruments", progress=False)
    rows = []
    for batch in batches:
        for scaled in (False, True):
            if scaled and batch == BASE_BATCH:
                continue
            lr = BASE_LR * math.sqrt(batch / BASE_BATCH) if scaled else BASE_LR
            config = run_config("lightgcn", seed=0, batch_size=batch, lr=lr, epochs=300, patience=10)
            start = time.perf_counter()
            result = run(dataset, config, progress=False)
            rows.append({"batch": batch, "lr": lr, "best epoch": result.info["best_epoch"],
                         "epochs run": result.info["epochs"], "seconds": time.perf_counter() - start,
                         "HR@10": result.metrics["hr@10"], "NDCG@10": result.metrics["ndcg@10"]})
            print(rows[-1], flush=True)
    return rows


def scale_rows(batches: list[int], size: int) -> tuple[int, list[dict]]:
    ds = dataset_from_reviews(interactions(size), DataConfig(), name=f"scaling-{size}")
    rows = []
    for batch in batches:
        config = run_config("lightgcn", batch_size=batch)
        step = timed(ours(ds, config), endless(ds, batch), 5)
        steps = -(-len(ds.train) // batch)
        rows.append({"batch": batch, "s/step": step, "steps/epoch": steps, "s/epoch": step * steps})
        print(rows[-1], flush=True)
    return len(ds.train), rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--real-batches", type=int, nargs="+", default=[2048, 4096, 8192])
    p.add_argument("--scale-batches", type=int, nargs="+", default=[2048, 8192, 32768])
    p.add_argument("--scale-size", type=int, default=600_000)
    args = p.parse_args()
    real = real_rows(args.real_batches)
    n_train, scale = scale_rows(args.scale_batches, args.scale_size)
    ref = real[0]
    print("\nMusical Instruments, LightGCN, seed 0, early stopping on the validation slice (patience 10):\n")
    print("| batch | lr | best epoch | seconds | HR@10 | NDCG@10 | time / ref | NDCG@10 / ref |")
    print("|------:|---:|-----------:|--------:|------:|--------:|-----------:|--------------:|")
    for r in real:
        print(f"| {r['batch']:,} | {r['lr']:.4f} | {r['best epoch']} | {r['seconds']:.1f} | {r['HR@10']:.4f} | "
              f"{r['NDCG@10']:.4f} | {r['seconds'] / ref['seconds']:.2f}x | {r['NDCG@10'] / ref['NDCG@10']:.3f} |")
    ref = scale[0]
    print(f"\nGenerated, {n_train:,} training interactions, LightGCN step (median of 5):\n")
    print("| batch | s/step | steps/epoch | s/epoch | epoch time / ref |")
    print("|------:|-------:|------------:|--------:|-----------------:|")
    for r in scale:
        print(f"| {r['batch']:,} | {r['s/step']:.3f} | {r['steps/epoch']:,} | {r['s/epoch']:.1f} | "
              f"{r['s/epoch'] / ref['s/epoch']:.3f}x |")


if __name__ == "__main__":
    main()
