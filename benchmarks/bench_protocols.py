"""Protocols benchmark (issue 26): what re-scoring stored runs under sampled protocols costs beside all-ranking,
and, with --recbole-python, RecBole 1.2.1's own ``uni100``/``pop100`` beside ours on the same split.

    python benchmarks/bench_protocols.py [--root results/grid] [--protocols uni100 pop100]
                                         [--recbole-python .venv-recbole/bin/python] [--seeds 0 1 2 3 4]

Timing: every finished run under ``--root`` is loaded once (not timed) and scored under ``full`` and each
sampled protocol, in an order that alternates run by run, each evaluation timed ``--repeats`` times (the fastest
kept, as ``timeit`` does); a sampled protocol's time includes drawing its
candidates (once per dataset and seed, shared by that seed's runs, as ``symcere evaluate`` does). The
reference is ``full`` on the same runs in the same process; ``full`` re-scored is also checked against the
metrics each run stored.

Cross-check: for each shared dataset, RecBole's ``Pop`` and ``LightGCN`` (trained by
``benchmarks/recbole_run.py`` on our exported split; LightGCN with our default settings) are evaluated by
RecBole under ``full``, ``uni100`` and ``pop100`` at every ``--seeds`` seed, and the same models are
evaluated by us: our MostPop (the same counts) and RecBole's trained LightGCN embeddings, under our
protocols at the same number of seeds. The streams differ (RecBole: NumPy's global state; ours: PCG64), so
the two sides agree in distribution, not draw for draw: the table gives mean +- sd over seeds and Welch's t.
MostPop's scores tie (integer counts) and the two sides order ties differently (ours: lower item index;
RecBole: ``torch.topk`` over its own item ids), so its rows add ours with every tie broken against, then for,
the test items: the range any tie order can give.
RecBole's ``pop<N>`` counts popularity over every split (test included) and ours over training only, so
``pop100`` is run both ways: ours as shipped, and ours given RecBole's all-split counts.
RecBole 1.2.1's Pop counts a batch's repeated item once (RecBole issue #2198), so it is trained with
``train_batch_size`` 1, where its counts are exact.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from symcere_kit.data.dataset import load_dataset
from symcere_kit.data.export import export_recbole_atomic
from symcere_kit.models import run_config
from symcere_kit.models.mostpop import MostPop
from symcere_kit.protocols import evaluate_protocol, sample_candidates
from symcere_kit.runs.rescore import own_mask, stored_runs
from symcere_kit.runs.store import load_run, read_record

HERE = Path(__file__).resolve().parent
DATASETS = ("amazon2014_musical_instruments", "amazon2018_gift_cards_5")


def timing(root: Path, protocols: list[str], repeats: int = 5) -> None:
    runs = stored_runs(root)
    if not runs:
        print(f"no finished runs under {root}; train some first (symcere grid) or pass --root")
        return
    names = ["full", *protocols]
    seconds = dict.fromkeys(names, 0.0)
    draws = dict.fromkeys(names, 0.0)
    datasets, candidates = {}, {}
    equal = total = 0
    load_s = 0.0
    for n, directory in enumerate(runs):
        record = read_record(directory)
        key = record.get("dataset_arg") or record["dataset"]
        t0 = time.perf_counter()
        run = load_run(directory, dataset=datasets.get(key))
        load_s += time.perf_counter() - t0
        ds = datasets.setdefault(key, run.dataset)
        loop = run.config.loop
        for name in (names if n % 2 == 0 else names[::-1]):  # alternate so neither side always runs first
            cands = None
            if name != "full":
                ckey = (key, name, loop.seed)
                if ckey not in candidates:
                    t0 = time.perf_counter()
                    candidates[ckey] = sample_candidates(ds.train_csr, ds.test_csr, name, loop.seed, ds.item_degree)
                    draws[name] += time.perf_counter() - t0
                cands = candidates[ckey]
            best = float("inf")
            for _ in range(repeats):  # the fastest of a few: one run's evaluation takes tens of milliseconds
                t0 = time.perf_counter()
                result = evaluate_protocol(run.model.score, ds.train_csr, ds.test_csr, name, ks=loop.eval_ks,
                                           candidates=cands, batch_size=loop.eval_batch_size, progress=False,
                                           **own_mask(ds, name))
                best = min(best, time.perf_counter() - t0)
            seconds[name] += best
            if name == "full":
                stored = record["metrics"]
                total += len(result.metrics)
                equal += sum(stored.get(m) == v for m, v in result.metrics.items())
    print(f"\nRe-scoring {len(runs)} stored runs under {root} ({torch.get_num_threads()} torch threads; each "
          f"evaluation the fastest of {repeats}; loading the runs took {load_s:.1f} s, not counted)\n")
    print("| protocol | runs | scoring (s) | drawing candidates (s) | total (s) | ms per run | total / full |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    ref = seconds["full"] + draws["full"]
    for name in names:
        tot = seconds[name] + draws[name]
        print(f"| {name} | {len(runs)} | {seconds[name]:.2f} | {draws[name]:.2f} | {tot:.2f} | "
              f"{1000 * tot / len(runs):.1f} | {tot / ref:.2f}x |")
    print(f"\nfull re-scored = stored: {equal} of {total} metric values bit for bit")


def synthetic(protocols: list[str], n_users: int = 5000, n_items: int = 10000, repeats: int = 5) -> None:
    """The same comparison on a catalogue of the paper's size (random 64-d embeddings, 20 training and 2 test items
    per user): the share of the time that ranking takes grows with the catalogue."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    picks = np.stack([rng.choice(n_items, 22, replace=False) for _ in range(n_users)])
    rows = np.repeat(np.arange(n_users), 20)
    train = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, picks[:, 2:].ravel())), shape=(n_users, n_items))
    rows = np.repeat(np.arange(n_users), 2)
    test = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, picks[:, :2].ravel())), shape=(n_users, n_items))
    user, item = torch.randn(n_users, 64), torch.randn(n_items, 64)
    rows_out = []
    for name in ["full", *protocols]:
        draw, cands = 0.0, None
        if name != "full":
            t0 = time.perf_counter()
            cands = sample_candidates(train, test, name, 0)
            draw = time.perf_counter() - t0
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            evaluate_protocol(lambda u: user[u] @ item.T, train, test, name, candidates=cands, progress=False)
            best = min(best, time.perf_counter() - t0)
        rows_out.append((name, best, draw))
    print(f"\nA paper-sized catalogue: {n_users:,} random users x {n_items:,} items, 64-d dot products, 2 test items "
          f"per user (scoring: fastest of {repeats}; drawing: once, shared by every run of a dataset and seed)\n")
    print("| protocol | scoring (s) | scoring / full | drawing candidates (s) |\n|---|---:|---:|---:|")
    for name, t, draw in rows_out:
        print(f"| {name} | {t:.3f} | {t / rows_out[0][1]:.2f}x | {draw:.3f} |")


def _recbole(python: str, data: str, name: str, model: str, seeds: list[int], extra: list[str]) -> dict:
    cmd = [python, str(HERE / "recbole_run.py"), "--model", model, "--data-path", data, "--dataset", name,
           "--test-modes", "full", "uni100", "pop100", "--eval-seeds", *map(str, seeds), *extra]
    out = subprocess.run(cmd, capture_output=True, text=True,
                         env={**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
    if out.returncode != 0:
        sys.exit(f"RecBole run failed ({' '.join(cmd)}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _tied(score, ds, sign: float):
    """``score`` with each tie broken for (sign 1) or against (-1) the user's test items: integer scores plus
    a 1e-3 nudge on the test items, which moves no score past a different count."""
    test = torch.from_numpy(ds.test_csr.toarray() > 0).float()
    return lambda u: score(u).float() + sign * 1e-3 * test[u]


def _ours(score, ds, seeds: list[int]) -> dict[str, list[dict]]:
    all_splits = np.asarray((ds.train_csr + ds.test_csr).sum(axis=0)).ravel()  # RecBole's pop counts
    out = {"full": [evaluate_protocol(score, ds.train_csr, ds.test_csr, "full", progress=False).metrics]}
    for name, protocol, popularity in (("uni100", "uni100", None), ("pop100", "pop100", None),
                                       ("pop100, RecBole's counts", "pop100", all_splits)):
        out[name] = [evaluate_protocol(score, ds.train_csr, ds.test_csr, protocol, seed=s, popularity=popularity,
                                       progress=False).metrics for s in seeds]
    return out


def _cell(values: list[float]) -> str:
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}" if len(values) > 1 else f"{values[0]:.4f}"


def cross_check(python: str, datasets: list[str], seeds: list[int]) -> None:
    rows = []
    for name in datasets:
        ds = load_dataset(name, progress=False)
        lightgcn = run_config("lightgcn", seed=0)
        loop, s = lightgcn.loop, lightgcn.settings
        with tempfile.TemporaryDirectory() as tmp:
            export_recbole_atomic(tmp, ds.name, ds.train, ds.test)
            pop_rb = _recbole(python, tmp, ds.name, "Pop", seeds, ["--epochs", "1", "--batch-size", "1"])
            emb = Path(tmp) / "emb.npz"
            lgcn_rb = _recbole(python, tmp, ds.name, "LightGCN", seeds, [
                "--epochs", str(loop.epochs), "--embedding-size", str(s.embedding_dim), "--n-layers", str(s.n_layers),
                "--batch-size", str(loop.batch_size), "--lr", str(loop.lr), "--reg-weight", str(s.reg_weight),
                "--seed", str(loop.seed), "--save-embeddings", str(emb)])
            e = np.load(emb)
            user, item = torch.from_numpy(e["user"]), torch.from_numpy(e["item"])
        pop = MostPop(ds, MostPop.Settings(), progress=False)
        sides = {"MostPop (RecBole Pop)": (pop_rb["protocols"], _ours(pop.score, ds, seeds)),
                 "LightGCN (RecBole's trained embeddings)": (lgcn_rb["protocols"],
                                                             _ours(lambda u: user[u] @ item.T, ds, seeds))}
        ties = {"MostPop (RecBole Pop)": [_ours(_tied(pop.score, ds, sign), ds, seeds) for sign in (-1.0, 1.0)]}
        for model, (rb, ours) in sides.items():
            for protocol, mine in ours.items():
                theirs = rb[protocol.split(",")[0]]
                for metric in ("hr@10", "ndcg@10"):
                    a, b = [r[metric] for r in theirs], [r[metric] for r in mine]
                    p = stats.ttest_ind(a, b, equal_var=False).pvalue if len(a) > 1 and np.std(a) + np.std(b) else None
                    span = [np.mean([r[metric] for r in side[protocol]]) for side in ties.get(model, [])]
                    rows.append((name, model, protocol, metric.upper(), _cell(a), _cell(b),
                                 np.mean(b) - np.mean(a), "-" if p is None else f"{p:.2f}",
                                 f"{span[0]:.4f} - {span[1]:.4f}" if span else "no ties"))
    print(f"\nRecBole 1.2.1 against symcere-kit, same split, same trained models; sampled protocols at seeds {seeds}\n")
    print(
        "| dataset | model | protocol | metric | RecBole | ours | ours - RecBole | Welch p | ours, ties against - for |"
    )
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]:+.4f} | {r[7]} | {r[8]} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default="results/grid", help="the run store to re-score (default results/grid)")
    p.add_argument("--protocols", nargs="+", default=["uni100", "pop100"])
    p.add_argument("--recbole-python", default=None, help="python of RecBole's own venv: adds the cross-check")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), help="datasets of the cross-check")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4], help="sampling seeds of the cross-check")
    p.add_argument("--repeats", type=int, default=5, help="time each evaluation this many times, keep the fastest")
    p.add_argument("--skip-timing", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    if not args.skip_timing:
        timing(Path(args.root), args.protocols, args.repeats)
        synthetic(args.protocols, repeats=args.repeats)
    if args.recbole_python:
        cross_check(args.recbole_python, args.datasets, args.seeds)


if __name__ == "__main__":
    main()
