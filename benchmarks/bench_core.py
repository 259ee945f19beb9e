"""Core benchmark: data pipeline, LightGCN epoch, full-ranking evaluation and peak memory on
Amazon 2014 Musical Instruments; with --recbole-python, parity: RecBole 1.2.1's LightGCN, NGCF,
NeuMF and SGL on the exact same split (exported as atomic files), each with our defaults for that
model (dims, layers, batch size, lr, L2, dropout, SSL settings, epochs), side by side with ours.

    python benchmarks/bench_core.py [--epochs 50] [--recbole-python .venv-recbole/bin/python]
                                    [--parity-models lightgcn ngcf neumf sgl]
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
from peak_memory import peak_rss_mb  # benchmarks/ is on sys.path when run as a script

from symcere_kit.config import LoopConfig, RunConfig
from symcere_kit.data.dataset import load_dataset
from symcere_kit.data.export import export_recbole_atomic
from symcere_kit.evaluate import evaluate
from symcere_kit.models import run_config
from symcere_kit.train import run

HERE = Path(__file__).resolve().parent


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def ours(dataset: str, config: RunConfig) -> tuple:
    start = time.perf_counter()
    ds = load_dataset(dataset, use_cache=False, progress=False)
    load_s = time.perf_counter() - start
    result = run(ds, config, progress=False)
    return ds, {
        **{k: result.metrics[k] for k in ("hr@10", "ndcg@10", "recall@10")},
        "load_preprocess_s": load_s,
        "epoch_time_s": result.info["epoch_seconds"],
        "train_time_s": result.info["train_seconds"],
        "eval_time_s": result.info["eval_seconds"],
        "peak_rss_mb": peak_rss_mb(),
    }


def recbole_settings(config: RunConfig) -> tuple[str, dict]:
    """RecBole's model name and the settings that make it the model our ``config`` trains."""
    s = config.settings
    d = s.embedding_dim
    extra = {
        "lightgcn": lambda: {},
        "ngcf": lambda: {
            "hidden_size_list": [d] * s.n_layers,
            "node_dropout": 0.0,
            "message_dropout": s.message_dropout,
        },
        "neumf": lambda: {
            "mf_embedding_size": d,
            "mlp_embedding_size": d,
            "mlp_hidden_size": list(s.mlp_hidden),
            "dropout_prob": s.dropout,
        },
        "sgl": lambda: {"type": "ED", "ssl_tau": s.ssl_tau, "ssl_weight": s.ssl_weight, "drop_ratio": s.drop_ratio},
    }[config.model]()
    return {"lightgcn": "LightGCN", "ngcf": "NGCF", "neumf": "NeuMF", "sgl": "SGL"}[config.model], extra


def recbole(ds, config: RunConfig, python: str) -> dict:
    name, extra = recbole_settings(config)
    loop, s = config.loop, config.settings
    with tempfile.TemporaryDirectory() as tmp:
        export_recbole_atomic(tmp, ds.name, ds.train, ds.test)
        emb = Path(tmp) / "emb.npz"
        cmd = [python, str(HERE / "recbole_run.py"), "--model", name, "--config", json.dumps(extra),
               "--data-path", tmp, "--dataset", ds.name,
               "--epochs", str(loop.epochs), "--embedding-size", str(s.embedding_dim),
               "--n-layers", str(getattr(s, "n_layers", 0)), "--batch-size", str(loop.batch_size),
               "--lr", str(loop.lr), "--reg-weight", str(getattr(s, "reg_weight", 0.0)), "--seed", str(loop.seed)]
        if name == "LightGCN":
            cmd += ["--save-embeddings", str(emb)]
        env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if out.returncode != 0:
            sys.exit(f"RecBole run failed:\n{out.stderr[-3000:]}")
        res = json.loads(out.stdout.strip().splitlines()[-1])
        if name != "LightGCN":
            return res
        # Protocol cross-check: RecBole's trained embeddings scored by OUR evaluator.
        e = np.load(emb)
        user, item = torch.from_numpy(e["user"]), torch.from_numpy(e["item"])
        ev = evaluate(lambda u: user[u] @ item.T, ds.train_csr, ds.test_csr, ks=(10,), progress=False)
        res["ours_eval_of_recbole_model"] = ev.metrics
        return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="amazon2014_musical_instruments")
    defaults = LoopConfig()
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recbole-python", default=None, help="python of RecBole's own venv (make bench-parity)")
    p.add_argument("--parity-models", nargs="*", default=["lightgcn", "ngcf", "neumf", "sgl"])
    p.add_argument("--parity-epochs", type=int, help="default: each model's own default epochs")
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    config = run_config("lightgcn", epochs=args.epochs, lr=args.lr, seed=args.seed)
    loop, s = config.loop, config.settings
    ds, a = ours(args.dataset, config)
    b = recbole(ds, config, args.recbole_python) if args.recbole_python and loop.epochs else {}
    print(f"\n{args.dataset}: {ds.n_users:,} users, {ds.n_items:,} items, {len(ds.train):,} train / "
          f"{len(ds.test):,} test; LightGCN dim {s.embedding_dim}, {s.n_layers} layers, batch "
          f"{loop.batch_size}, lr {loop.lr}, {loop.epochs} epochs, seed {loop.seed}, "
          f"{torch.get_num_threads()} threads\n")
    rows = [("load + preprocess (s)", "load_preprocess_s"), ("LightGCN epoch (s)", "epoch_time_s"),
            ("LightGCN train total (s)", "train_time_s"), ("full-ranking eval, all users (s)", "eval_time_s"),
            ("peak RSS (MB)", "peak_rss_mb"), ("HR@10", "hr@10"), ("NDCG@10", "ndcg@10"), ("Recall@10", "recall@10")]
    print(f"| {'measure':<34} | {'symcere-kit':>12} | {'RecBole 1.2.1':>13} | {'RecBole / ours':>14} |")
    print(f"|{'-' * 36}|{'-' * 14}|{'-' * 15}|{'-' * 16}|")
    for label, key in rows:
        ours_v, rb = a.get(key), b.get(key)
        ratio = f"{rb / ours_v:.2f}x" if isinstance(rb, (int, float)) and ours_v else "-"
        print(f"| {label:<34} | {_fmt(ours_v):>12} | {_fmt(rb):>13} | {ratio:>14} |")
    if b:
        m = b["ours_eval_of_recbole_model"]
        print(f"\nRecBole's trained model scored by our evaluator: HR@10 {m['hr@10']:.4f}, NDCG@10 "
              f"{m['ndcg@10']:.4f} (RecBole's own: {b['hr@10']:.4f}, {b['ndcg@10']:.4f})")
    if args.recbole_python:
        parity(ds, args)


def parity(ds, args) -> None:
    """Each model with our defaults, ours and RecBole's, on the same split and seed."""
    rows = []
    for model in args.parity_models:
        given = {"epochs": args.parity_epochs} if args.parity_epochs else {}
        config = run_config(model, seed=args.seed, **given)
        res = run(ds, config, progress=False)
        rb = recbole(ds, config, args.recbole_python)
        rows.append(
            (
                model,
                config.loop.epochs,
                res.metrics["hr@10"],
                rb["hr@10"],
                res.metrics["ndcg@10"],
                rb["ndcg@10"],
                res.info["epoch_seconds"],
                rb["epoch_time_s"],
            )
        )
    print(f"\nParity on {ds.name}, seed {args.seed}, each model with our defaults on both sides\n")
    print("| model | epochs | HR@10 ours | HR@10 RecBole | NDCG@10 ours | NDCG@10 RecBole "
          "| epoch s ours | epoch s RecBole |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.4f} | {r[3]:.4f} | {r[4]:.4f} | {r[5]:.4f} | {r[6]:.3f} | {r[7]:.3f} |")


if __name__ == "__main__":
    main()
