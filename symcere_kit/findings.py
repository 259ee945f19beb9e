"""What each notebook found, as Markdown computed from its results: no typed-in conclusions.

Every sentence is built from the numbers passed in, so a rerun on other data or seeds rewrites it;
a comparison's direction (above / below) comes from the numbers, never from the paper.
"""
from __future__ import annotations

import pandas as pd

from .runs.variants import VARIANTS

# What the paper claims for each artefact, paraphrased with its place, set beside what we measured
PAPER_CLAIMS = {
    "training": "Eqs. 3-5: the symmetric NCE drops in-batch false negatives, any candidate item the anchor's user "
                "trained on.",
    "table2": "Table 2 and abstract: SymCERE outperforms the baselines on all 15 datasets, NDCG@10 by up to +43.6%.",
    "table3": "Table 3 and Section 5.3: without L2 normalisation performance drops, to near zero with NGCF; InfoNCE "
              "w/ Norm (no false-negative removal) stays below SymCERE.",
    "geometry": "Table 4 and Figure 4 (Section 5.3): on every dataset L2 normalisation raises the std of the cosine "
                "similarities and the per-dimension variance (more uniform embeddings).",
    "fusion_gap": "Figure 1: before normalisation graph and text embeddings form separate regions (magnitude, i.e. "
                  "popularity, dominates); SymCERE aligns them on the unit hypersphere.",
    "lime": "Section 6.2 and Tables 5-8 ('semantic anchoring'): the model weighs objective product terms ('OEM', "
            "'compatible', 'puppy') above generic sentiment ('good', 'nice', 'love').",
}


def paper_says(key: str) -> str:
    """The Markdown line that puts the paper's claim for ``key`` ([`PAPER_CLAIMS`][symcere_kit.findings.PAPER_CLAIMS])
    beside our numbers."""
    return f"- **The paper**: {PAPER_CLAIMS[key]}"


def _cmp(a: float, b: float) -> str:
    return "above" if a > b else "below" if a < b else "equal to"


def describe_training(history: list[dict], metrics: dict, keep_share: float, batch: int) -> str:
    """Notebook 02's sentences for one SymCERE run: total and cross-modal loss from the first to the last epoch,
    the share of in-batch pairs the false-negative mask dropped, and the test HR@10 / NDCG@10.

    Args:
        history: the run's per-epoch records (``epoch``, ``loss`` and, for SymCERE, ``cross``).
        metrics: the run's test metrics (``hr@10``, ``ndcg@10``).
        keep_share: the share of in-batch pairs the false-negative mask kept.
        batch: the batch size (training interactions) ``keep_share`` was measured on.

    Returns:
        Markdown lines, the paper's claim first.
    """
    first, last = history[0], history[-1]
    return "\n".join([paper_says("training"),
        f"- The total loss went from {first['loss']:.4f} (epoch 1) to {last['loss']:.4f} (epoch {last['epoch']}); "
        f"the cross-modal term from {first.get('cross', float('nan')):.4f} to {last.get('cross', float('nan')):.4f}.",
        f"- In a batch of {batch:,} training interactions the false-negative mask dropped "
        f"{1 - keep_share:.2%} of the in-batch pairs (anchor's user trained on the candidate's item).",
        f"- Test HR@10 {metrics['hr@10']:.4f}, NDCG@10 {metrics['ndcg@10']:.4f}.",
    ])


def describe_table2(table, sig: pd.DataFrame) -> str:
    """Per dataset and metric: best SymCERE vs best baseline (Max Improv.), and the paired test."""
    lines = [paper_says("table2")]
    for (dataset, metric), extra in table.extra.items():
        row = table.values.loc[(dataset, metric)].dropna()
        if row.empty:
            continue
        best = row.idxmax()
        lines.append(
            f"- **{dataset}, {metric}**: best is {best} ({row.max():.4f}); best SymCERE vs best baseline {extra:+.1f}%."
            if pd.notna(extra)
            else f"- **{dataset}, {metric}**: best is {best} ({row.max():.4f})."
        )
    for r in sig.itertuples(index=False):
        verdict = "significant" if r.p_holm < 0.05 else "not significant"
        lines.append(f"- {r.dataset}: {r.symcere} vs {r.baseline} per-user NDCG@10 difference {r.mean_diff:+.4f} "
                     f"(95% CI {r.ci_low:+.4f} to {r.ci_high:+.4f}, {r.users:,} users), Wilcoxon p {r.p:.3g}, "
                     f"Holm {r.p_holm:.3g}: {verdict} at 5%.")
    return "\n".join(lines)


def describe_table3(tables: dict) -> str:
    """Per backbone, dataset and metric: which of the three variants is best and the Min. Drop."""
    lines = [paper_says("table3")]
    for backbone, t in tables.items():
        for (dataset, metric), drop in t.extra.items():
            row = t.values.loc[(dataset, metric)].dropna()
            if row.empty:
                continue
            lines.append(
                f"- **{backbone}, {dataset}, {metric}**: "
                + ", ".join(f"{c} {v:.4f}" for c, v in row.items())
                + (f"; Min. Drop {drop:+.1f}% (full model vs its weakest variant)." if pd.notna(drop) else ".")
            )
    return "\n".join(lines)


def describe_geometry(table4: pd.DataFrame, norm_degree: pd.DataFrame, anchoring: pd.DataFrame) -> str:
    """Notebook 05's sentences for one dataset: per space and run the pairwise cosine std, mean and uniformity
    (``table4``), the Spearman rho of item norm vs degree (``norm_degree``) and the per-item angle to the centroid
    with λ_obj (``anchoring``), the tables of
    [`geometry_tables`][symcere_kit.analysis.grid_tables.geometry_tables]. Returns Markdown lines, the paper's
    claim first."""
    lines = [paper_says("geometry")]
    for space, part in table4.groupby("space", sort=False):
        cells = "; ".join(f"{r.run}: std {r.std:.4f}, mean {r.mean:.4f}, uniformity {r.uniformity:.3f}"
                          for r in part.itertuples())
        lines.append(f"- Pairwise cosine similarities of {space} embeddings — {cells}.")
    for r in norm_degree.itertuples():
        lines.append(f"- {r.run}: Spearman rho between item-embedding norm and training degree {r.spearman_rho:+.3f} "
                     f"(p {r.p_value:.2g}, {r.n_items:,} items).")
    for r in anchoring.itertuples():
        lines.append(f"- {r.run} ({r.space}): median angle of an item's interactions to their centroid "
                     f"{r.median_angle_deg:.1f}°, median λ_obj {r.median_lambda_obj:.3f} over {r.items:,} items.")
    return "\n".join(lines)


def _label(variant: str) -> str:
    return VARIANTS[variant].label if variant in VARIANTS else variant


def describe_popularity(pop: pd.DataFrame, buckets: pd.DataFrame) -> str:
    """Notebook 05's sentences on popularity for one dataset: per variant NDCG@10 and the popularity profile of its
    top-10 lists (``pop``: [`popularity_table`][symcere_kit.analysis.grid_tables.popularity_table]), then the best
    NDCG@10 on tail items (``buckets``: [`bucket_table`][symcere_kit.analysis.grid_tables.bucket_table]). Returns
    Markdown lines."""
    lines = []
    for _, r in pop.iterrows():
        label = _label(r["variant"])
        seeds = f" (mean over {int(r['seeds'])} seed(s))" if "seeds" in r and pd.notna(r["seeds"]) else ""
        lines.append(f"- {label}{seeds}: NDCG@10 {r['ndcg@10']:.4f}; average training degree of recommended items "
                     f"{r['avg_popularity@10']:.1f}, coverage@10 {r['coverage@10']:.3f}, Gini {r['gini@10']:.3f}.")
    tail = buckets[buckets["bucket"] == "tail"].sort_values("ndcg@10", ascending=False)
    if len(tail):
        top = tail.iloc[0]
        second = (f"; next {tail.iloc[1]['ndcg@10']:.4f} ({_label(tail.iloc[1]['variant'])})" if len(tail) > 1 else "")
        lines.append(
            f"- On tail items (lowest-degree third of the items; {int(top['n']):,} test interactions) the highest "
            f"NDCG@10 is {top['ndcg@10']:.4f} ({_label(top['variant'])}){second} (means over the runs' "
            f"seeds on one test split; no interval is computed for this difference)."
        )
    return "\n".join(lines)


def describe_fusion_gap(frame: pd.DataFrame) -> str:
    """Notebook 06's sentences for one dataset's [`fusion_gap`][symcere_kit.analysis.projection.fusion_gap] frame."""
    gaps = frame.groupby("panel", sort=False)["gap"].first()
    points = frame.groupby("panel", sort=False).size() // 2
    lines = [paper_says("fusion_gap")]
    lines += [f"- {panel}: modality gap {gap:.3f} (distance between the mean unit graph and text vectors of the run's "
              f"training interactions; UMAP panel of {points[panel]:,} of them)." for panel, gap in gaps.items()]
    if len(gaps) == 2:
        a, b = gaps.iloc[0], gaps.iloc[1]
        agrees = "as the paper's Figure 1 shows" if b < a else "the opposite of the paper's Figure 1" if b > a else ""
        lines.append(f"- Here the gap after normalisation is {_cmp(b, a)} the gap before ({b:.3f} vs {a:.3f}; one "
                     f"run each, no interval): {agrees or 'no change'}.")
    return "\n".join(lines)


def describe_lime(summary: pd.DataFrame, n_reviews: int, mean_r2: float, contrast: dict | None = None,
                  seeds: int = 1, samples: int | None = None) -> str:
    """Notebook 07's sentences for one run: the class summary (``explain.class_summary``), how many reviews,
    LIME's mean R², and the per-review product-vs-sentiment contrast (``explain.class_contrast``)."""
    s = summary.set_index("class")
    setup = f"{n_reviews:,} training reviews x {seeds} LIME seed(s)" + (f" at {samples:,} samples" if samples else "")
    lines = [paper_says("lime"), f"- Here, over {setup} (mean R² of LIME's local models {mean_r2:.3f}):"]
    for cls, r in s.iterrows():
        flips = (
            f"; {r['sign_flipping']:,} of its words flip sign across seeds (not ranked)"
            if r.get("sign_flipping")
            else ""
        )
        lines.append(
            f"  - {cls}: {r['words']:,} words weighed {r['weighings']:,} times, {r['share_of_mass']:.1%} of the "
            f"attribution mass, mean weight {r['mean_weight']:+.5f}; strongest: {r['top_words']}{flips}."
        )
    if contrast and contrast["reviews"]:
        a, b, d = contrast["a"], contrast["b"], contrast["mean_diff"]
        if pd.notna(contrast["ci_low"]):
            ci = f"95% bootstrap CI {contrast['ci_low']:+.5f} to {contrast['ci_high']:+.5f}"
            verdict = (f"{a} terms weigh more than {b} words" if contrast["ci_low"] > 0 else
                       f"{b} words weigh more than {a} terms" if contrast["ci_high"] < 0 else
                       "no difference resolved at these counts")
        else:
            ci, verdict = "no interval from fewer than 2 reviews", "too few reviews to tell"
        lines.append(
            f"- In the {contrast['reviews']:,} reviews holding both, {a} words' mean weight minus {b} words' is "
            f"{d:+.5f} ({ci}): {verdict}."
        )
    elif contrast is not None:
        lines.append(
            f"- No explained review holds both {contrast['a']} and {contrast['b']} words: no per-review contrast."
        )
    return "\n".join(lines)


def _gap_test(p: float, seeds: int) -> str:
    """How a standing row's paired t-test reads: its p, or why there is none (one seed; or a protocol that gives
    every seed the same gap as ``full``, e.g. a reading that leaves the data unchanged)."""
    if pd.notna(p):
        verdict = "changes" if p < 0.05 else "does not significantly change"
        return f"paired t over {seeds} seeds, p {p:.2g}: the protocol {verdict} that gap at 5%"
    return (
        f"{seeds} seed: no test"
        if seeds < 2
        else f"the same gap as under full in each of {seeds} seeds: nothing to test"
    )


def describe_protocols(
    tidy: pd.DataFrame,
    chance: pd.DataFrame,
    kendall: pd.DataFrame,
    standing: pd.DataFrame,
    paper: pd.DataFrame,
    ratios: pd.DataFrame,
    repeats: pd.DataFrame,
    test_epoch: pd.DataFrame,
) -> str:
    """Notebook 09's closing sentences, from its tables (``protocol_tables``; ``repeats``: dataset and the
    ``data.stats.repeat_stats`` of its repeats reading; ``test_epoch``: ``runs.test_epoch.test_epoch_table``)."""
    lines = []
    means = tidy.groupby(["dataset", "protocol", "metric", "variant"])["value"].mean()
    ch = chance.set_index(["dataset", "protocol", "metric"])["value"]
    pr = paper.set_index("metric")
    for dataset in dict.fromkeys(tidy["dataset"]):
        best = {
            p: means[(dataset, p, "hr@10")].max()
            for p in dict.fromkeys(tidy.loc[tidy["dataset"] == dataset, "protocol"])
        }
        full = best.get("full")
        parts = [f"{p} {v:.3f} (random ranker {ch.get((dataset, p, 'hr@10'), float('nan')):.3f}"
                 + (f", x{v / full:.1f} full's" if full and p != "full" else "") + ")" for p, v in best.items()]
        lines.append(f"- **{dataset}**: best HR@10 per protocol: " + "; ".join(parts) + ".")
    lo, hi = pr.loc["hr@10", "q25"], pr.loc["hr@10", "q75"]
    best = means.groupby(level=[0, 1, 2]).max()
    inside = sorted({p for (d, p, m), v in best.items() if m == "hr@10" and lo <= v <= hi})
    lines.append(
        f"- The paper's Table 2 HR@10: middle half {lo:.3f} to {hi:.3f}, median {pr.loc['hr@10', 'median']:.3f} "
        f"({int(pr.loc['hr@10', 'values'])} values). Protocols whose best model lands in that middle half on "
        f"some dataset here: {', '.join(inside) if inside else 'none'}."
    )
    if len(ratios):
        lines.append(f"- NDCG@10 / HR@10 (median over models; the paper's median over its models and datasets "
                     f"{pr.loc['ndcg/hr', 'median']:.2f}, middle half {pr.loc['ndcg/hr', 'q25']:.2f}-"
                     f"{pr.loc['ndcg/hr', 'q75']:.2f}): " + "; ".join(f"{r.dataset} {r.protocol} {r[2]:.2f}"
                                                                  for r in ratios.itertuples(index=False)) + ".")
    for r in kendall[kendall["metric"] == "ndcg@10"].itertuples(index=False):
        lines.append(f"- {r.dataset}, {r.protocol}: Kendall's tau of the {r.models} models' NDCG@10 order against "
                     f"full {r.tau:+.2f} (p {r.p:.2g}).")
    for r in standing[standing["protocol"] != "full"].itertuples(index=False):
        test = _gap_test(r.p, r.seeds)
        lines.append(f"- {r.dataset}, {r.protocol}: SymCERE ranks {r.symcere_rank} of {r.models}; {r.symcere} vs "
                     f"{r.baseline} NDCG@10 gap {r.gap_full_pct:+.1f}% under full, {r.gap_pct:+.1f}% here ({test}).")
    for r in repeats.itertuples(index=False):
        lines.append(
            f"- {r.dataset} read with repeats kept: {r.repeated_pairs:,} repeated pairs; {r.test_pairs:,} test "
            f"interactions repeat a training pair, in {r.users:,} test users ({r.user_share:.2%}), so the "
            f"repeats leak can lift HR@10 by at most {r.user_share:.3f} there."
        )
    if len(test_epoch):
        lift = 100 * (test_epoch["ndcg@10_test_selected"] / test_epoch["ndcg@10_honest"] - 1)
        known = test_epoch["ndcg@10_curve_at_honest"].notna()
        same = (test_epoch.loc[known, "ndcg@10_curve_at_honest"] == test_epoch.loc[known, "ndcg@10_honest"]).sum()
        lines.append(
            f"- Picking the epoch on the test split lifts NDCG@10 by {lift.mean():+.1f}% on average over "
            f"{len(test_epoch)} runs (median {lift.median():+.1f}%, max {lift.max():+.1f}%). The test curve "
            f"passes through the stored run's NDCG@10 at its tuned epoch exactly in {same} of {int(known.sum())} "
            f"trained runs."
        )
    return "\n".join(lines)
