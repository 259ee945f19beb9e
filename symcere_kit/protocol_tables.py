"""Notebook 09's tables: the same models under every evaluation protocol, side by side.

Input rows are tidy (dataset, variant, label, seed, protocol, metric, value): ``runs.rescore`` for
``full`` / ``uni<N>`` / ``pop<N>``, ``runs.protocol_study`` for the two leaky readings. Model order: the
Table 2 columns (``runs.variants.GROUPS["table2"]``) with MostPop first.

* [`protocol_table`][symcere_kit.protocol_tables.protocol_table]: mean ± std over seeds per (dataset, model) x protocol,
  with the random ranker's exact expectation (``protocols.random_ranker``) as a last row per dataset.
* [`kendall_table`][symcere_kit.protocol_tables.kendall_table]: Kendall's tau-b (scipy) between the models' order under
  ``full`` and under each other protocol (Krichene & Rendle, KDD 2020: sampled metrics can reorder models).
* [`standing_table`][symcere_kit.protocol_tables.standing_table]: SymCERE's rank among the models under each protocol,
  and the best SymCERE's gap to the best baseline (the pair chosen under ``full``) per seed, under ``full`` and under
  the protocol, with a paired t-test over seeds (scipy ``ttest_rel``) of whether the protocol changes that gap.
* [`paper_range`][symcere_kit.protocol_tables.paper_range]: the range of the paper's Table 2 values (``paper_table2``),
  shown as the paper's.
  """
from __future__ import annotations

import numpy as np
import pandas as pd

from .paper_table2 import paper_means
from .runs.variants import GROUPS, VARIANTS

MODEL_ORDER = ["mostpop", *GROUPS["table2"]]


def _order(variants) -> list[str]:
    seen = list(dict.fromkeys(variants))
    return [v for v in MODEL_ORDER if v in seen] + [v for v in seen if v not in MODEL_ORDER]


def summarize_protocols(tidy: pd.DataFrame) -> pd.DataFrame:
    """dataset, variant, label, protocol, metric, mean, std (ddof 1), n over seeds."""
    g = tidy.groupby(["dataset", "variant", "label", "protocol", "metric"], sort=False)["value"]
    return g.agg(mean="mean", std="std", n="count").reset_index()


def protocol_table(tidy: pd.DataFrame, chance: pd.DataFrame, metric: str = "hr@10", digits: int = 4) -> pd.DataFrame:
    """Rows (dataset, model), columns protocols in the order they first appear, "mean ± std" strings;
    ``chance`` (dataset, protocol, metric, value) adds a "random ranker" row per dataset."""
    s = summarize_protocols(tidy[tidy["metric"] == metric])
    protocols = list(dict.fromkeys(tidy["protocol"]))
    rows = []
    for dataset in dict.fromkeys(s["dataset"]):
        part = s[s["dataset"] == dataset]
        for v in _order(part["variant"]):
            cells = part[part["variant"] == v].set_index("protocol")
            row = {"dataset": dataset, "model": VARIANTS[v].label if v in VARIANTS else v}
            for p in protocols:
                row[p] = (_cell(cells.loc[p, "mean"], cells.loc[p, "std"], digits) if p in cells.index else "-")
            rows.append(row)
        ch = chance[(chance["dataset"] == dataset) & (chance["metric"] == metric)].set_index("protocol")["value"]
        rows.append({"dataset": dataset, "model": "random ranker (exact)",
                     **{p: f"{ch[p]:.{digits}f}" if p in ch.index else "-" for p in protocols}})
    return pd.DataFrame(rows).set_index(["dataset", "model"])


def _cell(mean: float, std: float, digits: int) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if pd.notna(std) else f"{mean:.{digits}f}"


def means(tidy: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds: index (dataset, protocol, metric), one column per variant."""
    return tidy.pivot_table(index=["dataset", "protocol", "metric"], columns="variant", values="value", aggfunc="mean")


def kendall_table(tidy: pd.DataFrame, reference: str = "full") -> pd.DataFrame:
    """dataset, metric, protocol, tau (Kendall's tau-b of the model means against ``reference``), p, models."""
    from scipy.stats import kendalltau

    m = means(tidy)
    rows = []
    for (dataset, protocol, metric), row in m.iterrows():
        if protocol == reference or (dataset, reference, metric) not in m.index:
            continue
        ref = m.loc[(dataset, reference, metric)]
        both = row.notna() & ref.notna()
        tau, p = kendalltau(ref[both], row[both]) if both.sum() >= 3 else (np.nan, np.nan)
        rows.append({"dataset": dataset, "metric": metric, "protocol": protocol, "tau": float(tau), "p": float(p),
                     "models": int(both.sum())})
    return pd.DataFrame(rows, columns=["dataset", "metric", "protocol", "tau", "p", "models"])


def _role(variant: str) -> str:
    return VARIANTS[variant].role if variant in VARIANTS else "baseline"


def standing_table(tidy: pd.DataFrame, metric: str = "ndcg@10", reference: str = "full") -> pd.DataFrame:
    """Per dataset and protocol: SymCERE's best rank among the models (1 = best), and the relative gap in %
    of the best SymCERE over the best baseline (both chosen under ``reference``) per seed: mean under the
    reference and under the protocol, and the paired t-test's p over the seeds both have."""
    from scipy.stats import ttest_rel

    t = tidy[tidy["metric"] == metric]
    m = means(t)
    rows = []
    for dataset in dict.fromkeys(t["dataset"]):
        if (dataset, reference, metric) not in m.index:
            continue
        ref = m.loc[(dataset, reference, metric)].dropna()
        sym = [v for v in ref.index if _role(v) == "symcere"]
        base = [v for v in ref.index if _role(v) == "baseline"]
        if not sym or not base:
            continue
        best_sym, best_base = ref[sym].idxmax(), ref[base].idxmax()
        gap_ref = _gaps(t, dataset, reference, best_sym, best_base)
        for protocol in dict.fromkeys(t.loc[t["dataset"] == dataset, "protocol"]):
            row = m.loc[(dataset, protocol, metric)].dropna()
            ranks = row.rank(ascending=False, method="min")
            gap = _gaps(t, dataset, protocol, best_sym, best_base)
            seeds = sorted(set(gap_ref.index) & set(gap.index))
            p = (
                float(ttest_rel(gap[seeds], gap_ref[seeds]).pvalue)
                if protocol != reference and len(seeds) >= 2
                else np.nan
            )
            rows.append({"dataset": dataset, "protocol": protocol, "symcere": VARIANTS[best_sym].label,
                         "baseline": VARIANTS[best_base].label,
                         "symcere_rank": int(ranks[[v for v in sym if v in ranks.index]].min()),
                         "models": len(row), "gap_full_pct": float(gap_ref.mean()), "gap_pct": float(gap.mean()),
                         "seeds": len(seeds), "p": p})
    return pd.DataFrame(rows)


def _gaps(t: pd.DataFrame, dataset: str, protocol: str, sym: str, base: str) -> pd.Series:
    part = t[(t["dataset"] == dataset) & (t["protocol"] == protocol)]
    per_seed = part.pivot_table(index="seed", columns="variant", values="value")
    if sym not in per_seed or base not in per_seed:
        return pd.Series(dtype=float)
    both = per_seed[[sym, base]].dropna()
    return 100.0 * (both[sym] - both[base]) / both[base]


def paper_range() -> pd.DataFrame:
    """metric, min, q25, median, q75, max of the paper's Table 2 values (15 datasets x 7 models; the paper's
    numbers, shown as such), and of its NDCG@10 / HR@10 ratio per (dataset, model): a scale-free sign of the
    protocol (near 1 when most hits sit at rank 1)."""
    paper = paper_means()
    hr, ndcg = (paper.xs(n, level="metric").to_numpy().ravel() for n in ("HR@10", "NDCG@10"))
    rows = []
    for metric, values in (("hr@10", hr), ("ndcg@10", ndcg), ("ndcg/hr", ndcg / hr)):
        values = values[~np.isnan(values)]
        q = np.quantile(values, [0, 0.25, 0.5, 0.75, 1])
        rows.append({"metric": metric, "min": q[0], "q25": q[1], "median": q[2], "q75": q[3], "max": q[4],
                     "values": len(values)})
    return pd.DataFrame(rows)


def ratio_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """dataset, protocol, median over models of mean NDCG@10 / mean HR@10 (compare ``paper_range``'s ndcg/hr)."""
    m = means(tidy)
    rows = []
    for (dataset, protocol), _ in m.groupby(level=[0, 1], sort=False):
        if (dataset, protocol, "hr@10") in m.index and (dataset, protocol, "ndcg@10") in m.index:
            ratio = m.loc[(dataset, protocol, "ndcg@10")] / m.loc[(dataset, protocol, "hr@10")]
            rows.append({"dataset": dataset, "protocol": protocol, "ndcg/hr": float(ratio.median())})
    return pd.DataFrame(rows, columns=["dataset", "protocol", "ndcg/hr"])
