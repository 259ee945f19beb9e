"""Paper Tables 2 and 3 from a grid's tidy results, with paired significance tests over users.

Cells are mean ± std over seeds. Table 2: best mean per row bold, second underlined, and "Max Improv.
%" = (best SymCERE - best baseline) / best baseline. Table 3: per backbone, SymCERE w/o Norm, InfoNCE
w/ Norm and SymCERE w/ Norm, and "Min. Drop %" = (full - weakest variant) / full, which is what the
paper's numbers compute (e.g. NGCF on Clothing: 0.002, 0.536, 0.538 -> 99.6 %).

Significance (our choice; the paper reports none): for each dataset, the best SymCERE variant against
the best baseline (by mean NDCG@10), per-user NDCG@10 averaged over seeds, a two-sided Wilcoxon
signed-rank test (``zero_method="zsplit"``: users tied at equal NDCG, most of them at 0, stay in the
test), a 95 % bootstrap CI (BCa, 10,000 resamples, seed 0) of the mean per-user difference, and
Holm's step-down correction across the datasets of the table.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .files import write_text_atomic
from .paper_table2 import COLUMNS, paper_means
from .runs.variants import GROUPS, TABLES, VARIANTS

METRIC_NAMES = {"hr@10": "HR@10", "ndcg@10": "NDCG@10"}


@dataclass
class Table:
    """``values`` [rows x columns] of means (NaN where missing), ``stds`` alike; ``extra`` the last
    column (Max Improv. / Min. Drop, in %); ``marks`` "best" / "second" per cell or ""."""

    values: pd.DataFrame
    stds: pd.DataFrame
    extra: pd.Series
    extra_name: str
    marks: pd.DataFrame

    def cell(self, r, c, digits: int = 4) -> str:
        """Row ``r``, column ``c`` as text: ``mean ± std`` to ``digits`` decimals, the mean alone without a std,
        ``-`` when missing."""
        m, s = self.values.loc[r, c], self.stds.loc[r, c]
        if pd.isna(m):
            return "-"
        return f"{m:.{digits}f} ± {s:.{digits}f}" if pd.notna(s) else f"{m:.{digits}f}"

    def frame(self, digits: int = 4) -> pd.DataFrame:
        """Plain strings, index (dataset, metric): what every export starts from."""
        out = pd.DataFrame({c: [self.cell(r, c, digits) for r in self.values.index] for c in self.values.columns},
                           index=self.values.index)
        out[self.extra_name] = [f"{x:+.1f}%" if pd.notna(x) else "-" for x in self.extra]
        return out

    def _marked(self, bold: str, underline: str, digits: int) -> pd.DataFrame:
        out = self.frame(digits)
        for r in self.values.index:
            for c in self.values.columns:
                mark = self.marks.loc[r, c]
                if mark == "best":
                    out.loc[r, c] = bold.format(out.loc[r, c])
                elif mark == "second":
                    out.loc[r, c] = underline.format(out.loc[r, c])
        return out

    def to_markdown(self, digits: int = 4) -> str:
        """The table as Markdown: best in bold, second underlined (``<u>``)."""
        return self._marked("**{}**", "<u>{}</u>", digits).reset_index().to_markdown(index=False)

    def to_latex(self, digits: int = 4) -> str:
        """The table as LaTeX: best in ``\\textbf``, second in ``\\underline``; headers and dataset names escaped."""
        frame = self._marked(r"\textbf{{{}}}", r"\underline{{{}}}", digits)
        frame = frame.map(lambda s: s.replace("±", r"$\pm$").replace("%", r"\%"))
        # headers and dataset names are plain text: "Max Improv. %", "EASE^R", "amazon2014_musical_instruments"
        frame = frame.rename(columns=_latex_text, index=_latex_text)
        return frame.reset_index().to_latex(index=False, escape=False)

    def to_csv(self) -> str:
        """Numbers, not strings: one row per (dataset, metric, column) with mean, std and mark."""
        rows = [{"dataset": r[0], "metric": r[1], "column": c, "mean": self.values.loc[r, c],
                 "std": self.stds.loc[r, c], "mark": self.marks.loc[r, c]}
                for r in self.values.index for c in self.values.columns]
        rows += [{"dataset": r[0], "metric": r[1], "column": self.extra_name, "mean": x, "std": np.nan, "mark": ""}
                 for r, x in self.extra.items()]
        return pd.DataFrame(rows).to_csv(index=False)

    def styler(self, digits: int = 4):
        """A pandas Styler for notebooks: best in ``<b>``, second in ``<u>``. The marks are tags in the cell
        values, not CSS, so a saved, untrusted notebook (JupyterLab drops its ``<style>``), a docs page or
        any HTML viewer keeps them."""
        return self._marked("<b>{}</b>", "<u>{}</u>", digits).style.set_caption(
            "mean ± std over seeds; best in bold, second underlined")


def _latex_text(text) -> str:
    """Plain text for a LaTeX cell: ``& % $ # _ { }`` escaped, a ``^X`` superscript (EASE^R) set as math."""
    text = re.sub(r"([&%$#_{}])", r"\\\1", str(text))
    return re.sub(r"\^(\w+)", r"$^{\1}$", text)


def summarize(tidy: pd.DataFrame) -> pd.DataFrame:
    """mean, std (ddof 1; NaN for one seed) and n over seeds per dataset, variant, metric."""
    g = tidy.groupby(["dataset", "variant", "metric"])["value"]
    return g.agg(mean="mean", std="std", n="count").reset_index()


def _pivot(summary: pd.DataFrame, variants: list[str], metrics: list[str]):
    present = [v for v in variants if v in set(summary["variant"])]
    s = summary[summary["metric"].isin(metrics) & summary["variant"].isin(present)]
    index = pd.MultiIndex.from_tuples(
        [(d, METRIC_NAMES.get(m, m)) for d in dict.fromkeys(s["dataset"]) for m in metrics], names=["dataset", "metric"]
    )
    s = s.assign(metric=s["metric"].map(lambda m: METRIC_NAMES.get(m, m)))
    mean = s.pivot_table(index=["dataset", "metric"], columns="variant", values="mean", dropna=False).reindex(index)
    std = s.pivot_table(index=["dataset", "metric"], columns="variant", values="std", dropna=False).reindex(index)
    return mean.reindex(columns=present), std.reindex(columns=present), present


def _marks(values: pd.DataFrame) -> pd.DataFrame:
    marks = pd.DataFrame("", index=values.index, columns=values.columns)
    for r in values.index:
        order = values.loc[r].dropna().sort_values(ascending=False)
        if len(order) >= 1:
            marks.loc[r, order.index[0]] = "best"
        if len(order) >= 2:
            marks.loc[r, order.index[1]] = "second"
    return marks


def _labelled(t: Table) -> Table:
    labels = {v: VARIANTS[v].label for v in t.values.columns}
    return Table(t.values.rename(columns=labels), t.stds.rename(columns=labels), t.extra, t.extra_name,
                 t.marks.rename(columns=labels))


def table2(tidy: pd.DataFrame, metrics=("hr@10", "ndcg@10")) -> Table:
    """The paper's Table 2 from tidy per-seed results: mean ± std over seeds per (dataset, metric) for each
    variant of ``GROUPS["table2"]`` present, labelled; the extra column ``Max Improv. %`` is the best SymCERE over
    the best baseline, in % (NaN without both)."""
    mean, std, present = _pivot(summarize(tidy), GROUPS["table2"], list(metrics))
    ours = [v for v in present if VARIANTS[v].role == "symcere"]
    base = [v for v in present if VARIANTS[v].role == "baseline"]
    if ours and base:
        best_ours, best_base = mean[ours].max(axis=1), mean[base].max(axis=1)
        extra = (best_ours - best_base) / best_base * 100
    else:
        extra = pd.Series(np.nan, index=mean.index)
    return _labelled(Table(mean, std, extra, "Max Improv. %", _marks(mean)))


def backbone_pattern(mean: pd.DataFrame, baselines: list[str]) -> pd.DataFrame:
    """Table 2's pattern per metric over the datasets of ``mean`` (index (dataset, metric), variant columns):
    on how many datasets SymCERE + NGCF beats SymCERE + LightGCN and the reverse (ties count for
    neither), on how many the better SymCERE beats every one of ``baselines``, and the median of that
    margin (Max Improv. %)."""
    rows = []
    for metric, part in mean.groupby(level="metric", sort=False):
        ngcf, lgcn = part["symcere-ngcf"], part["symcere-lightgcn"]
        best_base = part[baselines].max(axis=1)
        improv = (part[["symcere-ngcf", "symcere-lightgcn"]].max(axis=1) - best_base) / best_base * 100
        rows.append({"metric": metric, "datasets": len(part), "+ NGCF above + LightGCN": int((ngcf > lgcn).sum()),
                     "+ LightGCN above + NGCF": int((lgcn > ngcf).sum()),
                     "SymCERE above every baseline": int((improv > 0).sum()),
                     "median Max Improv. %": round(float(improv.median()), 1)})
    return pd.DataFrame(rows)


def table2_pattern(tidy: pd.DataFrame, metrics=("hr@10", "ndcg@10")) -> pd.DataFrame:
    """[`backbone_pattern`][symcere_kit.tables.backbone_pattern] of the paper's Table 2 (``paper_table2``: its 15
    datasets, its five baselines) beside ours: against the same five baselines, and against all of ours (EASE^R and
    RP3beta too)."""
    mean, _, present = _pivot(summarize(tidy), GROUPS["table2"], list(metrics))
    if not {"symcere-ngcf", "symcere-lightgcn"} <= set(present):
        return pd.DataFrame()
    paper_base = [v for v in COLUMNS if VARIANTS[v].role == "baseline"]
    ours_base = [v for v in present if VARIANTS[v].role == "baseline"]
    parts = [("paper (its Table 2)", paper_means(), paper_base),
             ("ours, the paper's baselines", mean, [v for v in paper_base if v in present]),
             ("ours, every baseline", mean, ours_base)]
    return pd.concat([backbone_pattern(m, b).assign(source=name) for name, m, b in parts if b], ignore_index=True)[
        ["source", "metric", "datasets", "+ NGCF above + LightGCN", "+ LightGCN above + NGCF",
         "SymCERE above every baseline", "median Max Improv. %"]]


def table3(tidy: pd.DataFrame, metrics=("hr@10", "ndcg@10")) -> dict[str, Table]:
    """One table per backbone present: columns w/o Norm, InfoNCE w/ Norm, SymCERE w/ Norm (Min. Drop over
    these), then the controls present: the baseline, SymCERE's recipe with the text off, and the baseline
    plus the cross-modal term (``GROUPS["controls"]``)."""
    out = {}
    summary = summarize(tidy)
    for backbone in ("ngcf", "lightgcn"):
        cols = [f"symcere-{backbone}-wo-norm", f"symcere-{backbone}-infonce", f"symcere-{backbone}"]
        controls = [backbone, f"symcere-{backbone}-text-off", f"symcere-{backbone}-nested"]
        mean, std, present = _pivot(summary, cols + controls, list(metrics))
        ablations = [c for c in present if c in cols]
        if f"symcere-{backbone}" not in present or len(ablations) < 2:
            continue
        full = mean[f"symcere-{backbone}"]
        weakest = mean[[c for c in ablations if c != f"symcere-{backbone}"]].min(axis=1)
        extra = (full - weakest) / full * 100  # over the paper's ablations only, not the controls
        labels = {cols[0]: "SymCERE w/o Norm", cols[1]: "InfoNCE w/ Norm", cols[2]: "SymCERE w/ Norm",
                  controls[0]: VARIANTS[backbone].label, controls[1]: "SymCERE, text off",
                  controls[2]: f"{VARIANTS[backbone].label} + cross-modal"}
        t = Table(mean, std, extra, "Min. Drop %", _marks(mean))
        out[backbone] = Table(t.values.rename(columns=labels), t.stds.rename(columns=labels), extra,
                              "Min. Drop %", t.marks.rename(columns=labels))
    return out


def readings_table(tidy: pd.DataFrame, metrics=("hr@10", "ndcg@10")) -> Table:
    """SymCERE + LightGCN at its tuned settings beside each reading of ``GROUPS["readings"]`` switched on;
    the extra column is the largest relative change any reading makes (%), signed."""
    mean, std, present = _pivot(summarize(tidy), GROUPS["readings"], list(metrics))
    if "symcere-lightgcn" in present and len(present) > 1:
        change = mean[present[1:]].sub(mean["symcere-lightgcn"], axis=0).div(mean["symcere-lightgcn"], axis=0) * 100
        extra = change.apply(lambda row: row.loc[row.abs().idxmax()], axis=1)
    else:
        extra = pd.Series(np.nan, index=mean.index)
    return _labelled(Table(mean, std, extra, "Largest change %", _marks(mean)))


def significance(tidy: pd.DataFrame, per_user: pd.DataFrame, metric: str = "ndcg@10",
                 n_resamples: int = 10_000) -> pd.DataFrame:
    """Per dataset: best SymCERE vs best baseline (module docstring); Holm-adjusted p across datasets."""
    from scipy.stats import bootstrap, wilcoxon
    from statsmodels.stats.multitest import multipletests

    summary = summarize(tidy)
    summary = summary[summary["metric"] == metric]
    rows = []
    for dataset, s in summary.groupby("dataset", sort=False):
        means = s.set_index("variant")["mean"]
        ours = means[[v for v in means.index if VARIANTS[v].role == "symcere"]]
        base = means[[v for v in means.index if VARIANTS[v].role == "baseline" and v != "mostpop"]]
        if ours.empty or base.empty:
            continue
        a, b = ours.idxmax(), base.idxmax()
        pu = per_user[per_user["dataset"] == dataset]
        by_user = pu[pu["variant"].isin([a, b])].groupby(["variant", "user"])["value"].mean().unstack(0).dropna()
        diff = (by_user[a] - by_user[b]).to_numpy()
        p = float(wilcoxon(diff, zero_method="zsplit").pvalue) if np.any(diff != 0) else 1.0
        ci = bootstrap((diff,), np.mean, n_resamples=n_resamples, confidence_level=0.95, method="BCa",
                       random_state=np.random.default_rng(0)).confidence_interval if np.any(diff != 0) else None
        rows.append({"dataset": dataset, "symcere": VARIANTS[a].label, "baseline": VARIANTS[b].label,
                     "users": len(diff), "mean_diff": float(diff.mean()),
                     "ci_low": float(ci.low) if ci else 0.0, "ci_high": float(ci.high) if ci else 0.0, "p": p})
    out = pd.DataFrame(rows, columns=["dataset", "symcere", "baseline", "users", "mean_diff", "ci_low", "ci_high", "p"])
    out["p_holm"] = multipletests(out["p"], method="holm")[1] if len(out) else []
    return out


def export_tables(tidy: pd.DataFrame, per_user: pd.DataFrame, directory,
                  tables: Sequence[str] | None = None) -> list:
    """Write Table 2 (with its pattern and the significance tests, which compare Table 2's best SymCERE
    and best baseline), Table 3 (per backbone) and the readings table as Markdown, LaTeX and CSV.

    ``tables`` names which of "table2", "table3", "readings" to write (a grid's ``Grid.tables``), each
    when its runs are in ``tidy``; None writes every table ``tidy`` fills. Naming them keeps a grid of
    ablations and controls, which holds the NGCF and LightGCN baselines too, from writing a Table 2 of
    those two over the main comparison's. Raises ValueError for another name."""
    from pathlib import Path

    wanted = set(TABLES if tables is None else tables)
    if wanted - set(TABLES):
        raise ValueError(f"tables must be among {', '.join(TABLES)}; got {sorted(wanted - set(TABLES))}")
    directory = Path(directory)
    # Table 2 needs a baseline: SymCERE alone makes no comparison.
    baselines = {v for v in GROUPS["table2"] if VARIANTS[v].role == "baseline"}
    out = {"table2": table2(tidy)} if "table2" in wanted and set(tidy["variant"]) & baselines else {}
    if "table3" in wanted:
        out.update({f"table3_{b}": t for b, t in table3(tidy).items()})
    if "readings" in wanted and set(tidy["variant"]) & set(GROUPS["readings"][1:]):
        out["readings"] = readings_table(tidy)
    written = []
    for stem, t in out.items():
        for ext, text in (("md", t.to_markdown() + "\n"), ("tex", t.to_latex()), ("csv", t.to_csv())):
            write_text_atomic(directory / f"{stem}.{ext}", text)
            written.append(directory / f"{stem}.{ext}")
    if "table2" not in out:
        return written
    pattern = table2_pattern(tidy)
    if len(pattern):
        write_text_atomic(directory / "table2_pattern.md", pattern.to_markdown(index=False) + "\n")
        write_text_atomic(directory / "table2_pattern.csv", pattern.to_csv(index=False))
        written += [directory / "table2_pattern.md", directory / "table2_pattern.csv"]
    sig = significance(tidy, per_user)
    if len(sig):
        write_text_atomic(directory / "significance.csv", sig.to_csv(index=False))
        written.append(directory / "significance.csv")
    return written


def compare_tables(reference: pd.DataFrame, fresh: pd.DataFrame, seeds: int, z: float = 2.0,
                   floor: float = 5e-5) -> pd.DataFrame:
    """A fresh table against a stored one, both in [`Table.to_csv`][symcere_kit.tables.Table.to_csv]'s shape (dataset,
    metric, column, mean, std), by a tolerance tied to the seed spread rather than digit for digit: per cell, ``diff`` =
    fresh - stored mean and ``tolerance`` = max(``z`` * std / sqrt(``seeds``), ``floor``), with std the stored std over
    ``seeds`` seeds (``floor``: half a unit in the 4th decimal the tables print, for the deterministic models, whose std
    is 0); ``within`` is |diff| <= tolerance. Runs on the same kind of CPU with the same library versions are
    bit-identical (diff 0); another CPU kind moves models with dense layers by less than their seed noise (docs:
    Results, reproducibility). Raises ValueError for cells missing on either side."""
    key = ["dataset", "metric", "column"]
    ref = reference.dropna(subset=["std"]).set_index(key)  # the extra column (Max Improv.) has no std: derived
    new = fresh.set_index(key)
    missing = ref.index.difference(new.index)
    if len(missing):
        raise ValueError(
            f"{len(missing)} cell(s) of the stored table are missing from the fresh one, e.g. {list(missing[:3])}"
        )
    out = pd.DataFrame({"stored": ref["mean"], "fresh": new.loc[ref.index, "mean"], "seed_std": ref["std"]})
    out["diff"] = out["fresh"] - out["stored"]
    out["tolerance"] = np.maximum(z * out["seed_std"] / np.sqrt(seeds), floor)
    out["within"] = out["diff"].abs() <= out["tolerance"]
    return out.reset_index()
