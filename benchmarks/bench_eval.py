"""All-ranking evaluation at 100 k users x 50 k items without the full score matrix (issue 17).

``evaluate`` scores users in batches (``batch_size`` rows of ``n_items`` scores at a time), masks each
batch's training items, takes the top K and scores the test items; the 100 k x 50 k float32 score
matrix (20 GB) never exists. The reference, timed in the same run on the same batches, is the bare
arithmetic of that loop: the batch's score product and ``torch.topk``, no masking, no metrics. The
ratio is the cost of doing it right (masking, the documented tie order, per-user metrics).

    python benchmarks/bench_eval.py [--users 100000] [--items 50000] [--batch-sizes 256 1024 4096]

Interactions: each user 12 training and 3 test items drawn from power-law item popularity
(``synthetic.power_law_weights``); embeddings random, dimension 64. Peak memory is the process's
peak RSS (``resource.getrusage``, Linux kilobytes), printed with the size of one batch's score block.
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import scipy.sparse as sp
import torch

from symcere_kit.data.synthetic import power_law_weights
from symcere_kit.evaluate import evaluate


def split(n_users: int, n_items: int, n_train: int, n_test: int, seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Per user ``n_train + n_test`` distinct items by popularity; the last ``n_test`` are the test ones."""
    rng = np.random.default_rng(seed)
    _, item_p = power_law_weights(n_items * 33)  # n_items item weights, the generator's item shape
    per_user = n_train + n_test
    # Gumbel top-k draws distinct items per user in proportion to popularity, vectorised in chunks.
    rows = []
    for start in range(0, n_users, 512):
        k = min(512, n_users - start)
        keys = np.log(item_p)[None, :] - np.log(-np.log(rng.random((k, n_items))))
        rows.append(
            np.argpartition(-keys, per_user, axis=1)[:, :per_user].copy()
        )  # a copy: a view would keep the chunk alive
    items = np.concatenate(rows)
    users = np.repeat(np.arange(n_users), per_user).reshape(n_users, per_user)

    def csr(cols: slice) -> sp.csr_matrix:
        u, i = users[:, cols].ravel(), items[:, cols].ravel()
        return sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=(n_users, n_items))

    return csr(slice(0, n_train)), csr(slice(n_train, per_user))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--items", type=int, default=50_000)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    p.add_argument("--k", type=int, default=10)
    args = p.parse_args()
    train, test = split(args.users, args.items, 12, 3)
    gen = torch.Generator().manual_seed(0)
    user_emb = torch.randn(args.users, 64, generator=gen)
    item_emb = torch.randn(args.items, 64, generator=gen)

    def score(users: torch.Tensor) -> torch.Tensor:
        return user_emb.index_select(0, users) @ item_emb.T

    full_gb = args.users * args.items * 4 / 1e9
    rows = []
    for batch_size in args.batch_sizes:
        start = time.perf_counter()
        for s in range(0, args.users, batch_size):  # the reference: products and top-K only
            torch.topk(score(torch.arange(s, min(s + batch_size, args.users))), args.k, dim=1)
        bare = time.perf_counter() - start
        start = time.perf_counter()
        result = evaluate(score, train, test, ks=(args.k,), batch_size=batch_size, progress=False)
        ours = time.perf_counter() - start
        rows.append(
            (
                batch_size,
                bare,
                ours,
                batch_size * args.items * 4 / 1e6,
                result.n_users,
                result.metrics[f"ndcg@{args.k}"],
            )
        )
        print(f"batch {batch_size}: bare {bare:.1f} s, evaluate {ours:.1f} s", flush=True)
    print(f"\n{args.users:,} users x {args.items:,} items (full float32 score matrix: {full_gb:.1f} GB, never built); "
          f"peak RSS of the process {peak_rss_mb():,.0f} MB\n")
    print("| user batch | bare product + top-K s | evaluate s | evaluate / bare | users/s | score block MB "
          "| users evaluated |")
    print("|-----------:|-----------------------:|-----------:|----------------:|--------:|---------------:|----------------:|")
    for batch_size, bare, ours, block, n, _ in rows:
        print(f"| {batch_size:>10,} | {bare:>22.1f} | {ours:>10.1f} | {ours / bare:>14.2f}x | {n / ours:>7,.0f} | "
              f"{block:>14,.0f} | {n:>15,} |")


if __name__ == "__main__":
    main()
