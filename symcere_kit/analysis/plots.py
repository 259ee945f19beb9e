"""One look for every figure, and one way to save them: PDF and PNG into ``figures/``.

File names say which part of the paper a figure reproduces, e.g. ``fig1_fusion_gap_<dataset>``,
``fig4_dimension_variance_<dataset>``, ``table5_lime_word_classes_<dataset>``. ``$SYMCERE_FIGURES_DIR``
moves the folder (tests use it).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import atomic_path
from ..paths import figures_dir

MODALITY = {"graph": "#1f77b4", "text": "#ff7f0e"}  # the paper's Figure 1: graph blue, text orange
NORMALISATION = {"without": "#1f77b4", "with": "#ff7f0e"}  # Figure 4: blue without, orange with
WORD_CLASS = {"product": "#2a9d8f", "sentiment": "#e76f51", "stop-word": "#8d99ae", "other": "#e9c46a"}


def use_style() -> None:
    """seaborn's paper context on a white grid, embedded TrueType fonts in PDFs."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)
    mpl.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42, "figure.dpi": 110, "savefig.dpi": 200,
                         "savefig.bbox": "tight", "axes.titleweight": "bold"})


def figure_name(*parts: str) -> str:
    """``fig1``, ``fusion_gap``, ``Amazon 2014 / MI`` -> ``fig1_fusion_gap_amazon_2014_mi``."""
    return "_".join(re.sub(r"[^a-z0-9]+", "_", str(p).lower()).strip("_") for p in parts if p)


def save_figure(fig, name: str, directory: str | Path | None = None) -> dict[str, Path]:
    """Write ``<name>.pdf`` and ``<name>.png`` (each atomically); return their paths."""
    directory = Path(directory) if directory else figures_dir()
    paths = {fmt: directory / f"{name}.{fmt}" for fmt in ("pdf", "png")}
    for fmt, path in paths.items():
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt)
    return paths


def _figure(ncols: int = 1, width: float = 5.0, height: float = 3.6):
    import matplotlib.pyplot as plt

    use_style()
    # constrained layout keeps suptitles, colour bars and legends off the panels
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False, layout="constrained")
    return fig, axes[0]


def plot_dimension_variance(variances: dict[str, np.ndarray], title: str = "Per-dimension variance"):
    """Figure 4: histograms of per-dimension variance, one per run (e.g. with / without normalisation)."""
    fig, (ax,) = _figure()
    colours = list(NORMALISATION.values()) + list(WORD_CLASS.values())
    bins = np.histogram_bin_edges(np.concatenate(list(variances.values())), bins=30)
    for (label, v), colour in zip(variances.items(), colours):
        ax.hist(v, bins=bins, alpha=0.6, color=colour, label=f"{label} (mean {np.mean(v):.4f})")
    ax.set(xlabel="variance of a dimension (unit-normalised embeddings)", ylabel="dimensions", title=title)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.35)  # headroom: the legend sits above the bars, not on them
    ax.legend(frameon=False, loc="upper left")
    return fig


def plot_similarity_distributions(cosines: dict[str, np.ndarray], title: str = "Pairwise cosine similarity"):
    """Table 4 as a picture: the distributions whose statistics the table lists."""
    import seaborn as sns

    fig, (ax,) = _figure()
    colours = list(NORMALISATION.values()) + list(WORD_CLASS.values())
    for (label, c), colour in zip(cosines.items(), colours):
        sns.kdeplot(x=c, ax=ax, color=colour, fill=True, alpha=0.3, label=f"{label} (std {np.std(c):.3f})")
    ax.set(xlabel="cosine similarity", title=title)
    ax.legend(frameon=False)
    return fig


def plot_fusion_gap(frame: pd.DataFrame, colour_by: str = "modality", title: str | None = None):
    """Figure 1: one scatter per panel of ``projection.fusion_gap``'s frame, coloured by modality
    (graph blue, text orange) or by ``popularity`` (log training degree, one colour scale and bar for all
    panels; graph points as circles, text points as triangles, with a legend)."""
    from matplotlib.lines import Line2D

    panels = list(dict.fromkeys(frame["panel"]))
    fig, axes = _figure(ncols=len(panels), width=4.6, height=4.4)
    shade = np.log1p(frame["popularity"]) if colour_by == "popularity" else None
    for ax, panel in zip(axes, panels):
        part = frame[frame["panel"] == panel]
        if colour_by == "popularity":
            for modality, marker in (("graph", "o"), ("text", "^")):
                m = part[part["modality"] == modality]
                sc = ax.scatter(m["x"], m["y"], c=np.log1p(m["popularity"]), s=5, marker=marker, cmap="viridis",
                                alpha=0.7, vmin=shade.min(), vmax=shade.max())
        else:
            for modality, colour in MODALITY.items():
                m = part[part["modality"] == modality]
                ax.scatter(m["x"], m["y"], s=4, color=colour, alpha=0.6, label=modality)
        ax.set(
            title=f"{panel.replace(' (', chr(10) + '(')}\nmodality gap {part['gap'].iloc[0]:.3f}", xticks=[], yticks=[]
        )
    if colour_by == "popularity":
        fig.colorbar(sc, ax=list(axes), label="log(1 + training degree) of the item", shrink=0.85)
        handles = [Line2D([], [], ls="", marker=m, color="grey", label=f"{name} embedding")
                   for name, m in (("graph", "o"), ("text", "^"))]
        axes[0].legend(handles=handles, frameon=False)
    else:
        axes[0].legend(frameon=False, markerscale=3)
    if title:
        fig.suptitle(title)
    return fig


def plot_word_weights(weights: pd.DataFrame, top: int = 15, title: str = "LIME word weights"):
    """Per-review bar chart: the ``top`` words by |weight|, green towards g_uv, red away."""
    w = weights.reindex(weights["weight"].abs().sort_values(ascending=False).index).head(top).iloc[::-1]
    fig, (ax,) = _figure(height=max(2.0, 0.28 * len(w) + 1))
    ax.barh(w["word"], w["weight"], color=np.where(w["weight"] > 0, "#009646", "#c82828"))
    ax.axvline(0, color="black", lw=0.8)
    ax.set(xlabel="LIME weight (similarity to the interaction's graph embedding)", title=title)
    return fig


def plot_class_shares(summary: pd.DataFrame, title: str = "Share of LIME attribution mass by word class"):
    """Global view: each word class's share of all absolute LIME weight."""
    fig, (ax,) = _figure(height=3.0)
    s = summary.iloc[::-1]
    ax.barh(s["class"], s["share_of_mass"], color=[WORD_CLASS.get(c, "grey") for c in s["class"]])
    for y, v in enumerate(s["share_of_mass"]):
        ax.text(v, y, f" {v:.1%}", va="center")
    ax.set(xlabel="share of attribution mass", xlim=(0, max(1e-9, s["share_of_mass"].max()) * 1.2), title=title)
    return fig


def plot_fn_mask(
    keep, title: str = "In-batch pairs the symmetric NCE keeps\n(dark: kept; light: dropped false negative)"
):
    """The false-negative mask of one batch: rows are anchors i (graph g_i), columns candidates j (text
    t_j); dark = kept in the denominator, light = dropped because u_i trained on v_j (eqs. 3-5)."""
    import seaborn as sns

    keep = np.asarray(keep, dtype=float)
    fig, (ax,) = _figure(width=4.6, height=4.0)
    sns.heatmap(keep, ax=ax, cmap="Blues", vmin=0, vmax=1, cbar=False, square=True, linewidths=0.3, linecolor="white")
    ax.set(xlabel="candidate j (text)", ylabel="anchor i (graph)", title=title)
    return fig


def plot_learning_curves(history: list[dict], terms=("loss", "cross", "intra", "bpr"), title: str = "Training"):
    """Per-epoch mean of each loss term (and validation NDCG@10 when early stopping recorded it)."""
    frame = pd.DataFrame(history)
    present = [t for t in terms if t in frame]
    fig, axes = _figure(ncols=len(present), width=3.2, height=2.8)
    for ax, term in zip(axes, present):
        ax.plot(frame["epoch"], frame[term], marker="o", ms=2)
        ax.set(xlabel="epoch", title=term)
    if title:
        fig.suptitle(title)
    return fig


def plot_protocols(summary: pd.DataFrame, chance: pd.DataFrame, metric: str = "hr@10", title: str = ""):
    """Grouped bars: one group per model (``summary`` rows of one dataset: label, protocol, metric, mean, std),
    one bar per protocol with its std over seeds, and a last group for the random ranker (``chance``:
    protocol, metric, value)."""
    import matplotlib.pyplot as plt

    s = summary[summary["metric"] == metric]
    labels, protocols = list(dict.fromkeys(s["label"])), list(dict.fromkeys(s["protocol"]))
    ch = chance[chance["metric"] == metric].set_index("protocol")["value"]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * (len(labels) + 1)), 3.8), constrained_layout=True)
    width = 0.8 / max(1, len(protocols))
    colours = plt.get_cmap("tab10").colors
    for j, p in enumerate(protocols):
        part = s[s["protocol"] == p].set_index("label").reindex(labels)
        x = np.arange(len(labels)) + (j - (len(protocols) - 1) / 2) * width
        ax.bar(x, part["mean"], width, yerr=part["std"].fillna(0), label=p, color=colours[j % 10], capsize=2)
        if p in ch.index:
            ax.bar(len(labels) + (j - (len(protocols) - 1) / 2) * width, ch[p], width, color=colours[j % 10],
                   hatch="//", alpha=0.6)
    ax.set_xticks(np.arange(len(labels) + 1), labels + ["random ranker\n(exact)"], rotation=35, ha="right")
    ax.set_ylabel(metric.upper().replace("@", "@"))
    ax.set_title(title or f"{metric.upper()} under each protocol (mean ± std over seeds)")
    ax.legend(title="protocol", fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # off the bars
    return fig
