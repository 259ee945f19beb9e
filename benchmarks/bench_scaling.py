"""LightGCN training step at three sizes: ours against a plain-torch LightGCN of the same arithmetic, as
ratios from one run (issue 17's reference).

The plain-torch reference is the step written the obvious way: one embedding table, L layers of
``torch.sparse.mm`` with the same normalised adjacency, mean over layers, BPR on the batch and L2 on its
ego embeddings, ``torch.optim.Adam``. Both see the same batches (``sampling.bpr_batches``, same seed).
Interactions come from power-law users and items (``synthetic.write_amazon2023_jsonl``'s shape), 5-core.

    python benchmarks/bench_scaling.py [--sizes 10000 100000 600000] [--steps 20]
                                       [--profile lightgcn ngcf sgl smore symcere-lightgcn]

``--recbole-python .venv-recbole/bin/python`` (``make bench-scaling`` passes it when RecBole's own
virtualenv exists) adds whole epochs: ours (``train.Trainer``, sampling included) against RecBole
1.2.1's LightGCN trained on the same split (``bench_core.recbole``, its epoch timed inside its trainer),
same dimension, layers, batch and lr; the median of ``--epochs`` epochs each (default 2).

``--profile`` adds a table: each graph model's step at each size (its own defaults, batch
2,048; SymCERE in frozen mode, reviews a short fixed text so the one-off encoding stays small: its
step never runs the transformer) with the share of the step in its three costliest operators
(``torch.profiler``, self CPU time over 5 profiled steps).

A step's time is the median of ``--steps`` timed steps after two warm-up steps; an epoch is that times
the steps an epoch takes (interactions / batch), printed as context.
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from symcere_kit.config import DataConfig, RunConfig
from symcere_kit.data.dataset import dataset_from_reviews
from symcere_kit.data.synthetic import power_law_weights
from symcere_kit.models import build_model, run_config
from symcere_kit.sampling import bpr_batches


def interactions(n_train: int, seed: int = 0) -> pd.DataFrame:
    """About ``n_train`` training interactions after dedupe, 5-core and the 80:20 split (drawn with margin)."""
    rng = np.random.default_rng(seed)
    n = int(n_train / 0.8 / 0.17)  # a 5-core keeps ~17 % of this shape; the split trains on ~80 %
    user_p, item_p = power_law_weights(n)
    users, items = rng.choice(len(user_p), n, p=user_p), rng.choice(len(item_p), n, p=item_p)
    return pd.DataFrame({"user": users.astype(str), "item": items.astype(str), "rating": 5.0,
                         "text": "a short review",
                         "title": "", "timestamp": rng.integers(0, 10**12, n)})


def timed(step, batches, steps: int) -> float:
    """Median seconds of ``step(batch)`` over ``steps`` batches after two warm-up ones."""
    times = []
    for k, batch in enumerate(batches):
        start = time.perf_counter()
        step(batch)
        if k >= 2:
            times.append(time.perf_counter() - start)
        if len(times) == steps:
            break
    return statistics.median(times)


def ours(ds, config: RunConfig):
    model = build_model(config, ds, progress=False)
    optimizer = torch.optim.Adam(model.param_groups(), lr=config.loop.lr)
    model.train()
    model.on_epoch_start(torch.Generator().manual_seed(0))  # SGL's and SymCERE's views, as an epoch begins

    def step(batch):
        loss = model.batch_loss(batch)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def plain_torch(ds, config: RunConfig):
    s = config.settings
    adjacency = ds.norm_adjacency()
    weight = torch.nn.Parameter(torch.randn(ds.n_users + ds.n_items, s.embedding_dim) * 0.1)
    optimizer = torch.optim.Adam([weight], lr=config.loop.lr)

    def step(batch):
        layers, e = [weight], weight
        for _ in range(s.n_layers):
            e = torch.sparse.mm(adjacency, e)
            layers.append(e)
        final = torch.stack(layers).mean(0)
        users, items = final[: ds.n_users], final[ds.n_users:]
        u, p, n = users[batch["user"]], items[batch["pos"]], items[batch["neg"]]
        bpr = -F.logsigmoid((u * p).sum(-1) - (u * n).sum(-1)).mean()
        ego = torch.cat([weight[batch["user"]], weight[ds.n_users + batch["pos"]], weight[ds.n_users + batch["neg"]]])
        loss = bpr + s.reg_weight * ego.pow(2).sum() / 2 / len(batch["user"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def endless(ds, batch_size: int):
    generator = torch.Generator().manual_seed(0)  # epochs after epochs: small sets have few steps each
    return itertools.chain.from_iterable(bpr_batches(ds, batch_size, generator) for _ in itertools.count())


def profiled(model_name: str, ds, steps: int) -> tuple[float, list[tuple[str, float]]]:
    """Median s/step of variant ``model_name`` at its defaults, and its three costliest operators' shares."""
    from torch.profiler import ProfilerActivity, profile

    from symcere_kit.runs.variants import variant_config

    config = variant_config(model_name, seed=0)
    torch.manual_seed(0)
    step = ours(ds, config)
    model_steps = endless(ds, config.loop.batch_size)
    seconds = timed(step, model_steps, steps)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            step(next(model_steps))
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in ops)
    return seconds, [(e.key, e.self_cpu_time_total / total) for e in ops[:3]]


def epoch_times(ds, n_epochs: int, recbole_python: str) -> tuple[float, float]:
    """Median seconds of a whole LightGCN epoch, ours (sampling included) and RecBole 1.2.1's."""
    from bench_core import recbole

    from symcere_kit.train import Trainer

    config = run_config("lightgcn", epochs=n_epochs, seed=0)
    torch.manual_seed(0)
    trainer = Trainer(build_model(config, ds, progress=False), ds, config, torch.Generator().manual_seed(0),
                      torch.device("cpu"), progress=False)
    ours_epoch = statistics.median(h["seconds"] for h in trainer.fit())
    theirs = recbole(ds, config, recbole_python)
    return ours_epoch, theirs["epoch_time_median_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 600_000])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--profile", nargs="*", default=[], metavar="MODEL")
    p.add_argument("--recbole-python", default=None, help="python of RecBole's own venv (.venv-recbole/bin/python)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per side for the RecBole comparison")
    args = p.parse_args()
    config = run_config("lightgcn")
    rows, profiles, epochs = [], [], []
    for size in args.sizes:
        ds = dataset_from_reviews(interactions(size), DataConfig(), name=f"scaling-{size}")
        per_epoch = -(-len(ds.train) // config.loop.batch_size)
        measured = {}
        for name, make in (("plain torch", plain_torch), ("ours", ours)):
            torch.manual_seed(0)
            measured[name] = timed(make(ds, config), endless(ds, config.loop.batch_size), args.steps)
        rows.append((len(ds.train), ds.n_users, ds.n_items, per_epoch, measured))
        print(f"{len(ds.train):,} training interactions: {measured}", flush=True)
        if args.recbole_python:
            ours_epoch, recbole_epoch = epoch_times(ds, args.epochs, args.recbole_python)
            epochs.append((len(ds.train), ours_epoch, recbole_epoch))
            print(f"  epoch: ours {ours_epoch:.2f} s, RecBole {recbole_epoch:.2f} s", flush=True)
        for model_name in args.profile:
            seconds, top = profiled(model_name, ds, min(args.steps, 10))
            profiles.append((len(ds.train), model_name, seconds, per_epoch, top))
            print(f"  {model_name}: {seconds:.4f} s/step; " + ", ".join(f"{k} {v:.0%}" for k, v in top), flush=True)
    print(
        f"\n| {'train':>9} | {'users':>8} | {'items':>7} | {'steps':>5} | {'plain s/step':>12} | {'ours s/step':>11} | "
        f"{'speed-up':>8} | {'ours s/epoch':>12} |"
    )
    print(f"|{'-' * 11}|{'-' * 10}|{'-' * 9}|{'-' * 7}|{'-' * 14}|{'-' * 13}|{'-' * 10}|{'-' * 14}|")
    for n, users, items, steps, m in rows:
        print(f"| {n:>9,} | {users:>8,} | {items:>7,} | {steps:>5,} | {m['plain torch']:>12.4f} | {m['ours']:>11.4f} | "
              f"{m['plain torch'] / m['ours']:>7.2f}x | {m['ours'] * steps:>12.2f} |")
    if epochs:
        print("\n| train | ours s/epoch | RecBole 1.2.1 s/epoch | RecBole / ours |")
        print("|------:|-------------:|----------------------:|---------------:|")
        for n, mine, theirs in epochs:
            print(f"| {n:,} | {mine:.2f} | {theirs:.2f} | {theirs / mine:.2f}x |")
    if profiles:
        print("\n| train | model | s/step | / LightGCN step | s/epoch | costliest operators (share of self CPU time) |")
        print("|------:|-------|-------:|----------------:|--------:|----------------------------------------------|")
        lightgcn = {n: m["ours"] for n, _, _, _, m in rows}
        for n, name, seconds, steps, top in profiles:
            print(f"| {n:,} | {name} | {seconds:.4f} | {seconds / lightgcn[n]:.1f}x | {seconds * steps:.2f} | "
                  + ", ".join(f"{k} {v:.0%}" for k, v in top) + " |")


if __name__ == "__main__":
    main()
