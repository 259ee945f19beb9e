"""Figure 1, the "fusion gap": graph interaction embeddings g_uv and their reviews' text embeddings
t_uv projected together by UMAP, one panel before and one after normalisation.

Each panel is one joint UMAP fit of [g; t] for the same sampled interactions, so distances between
the two modalities are comparable within a panel. ``modality_gap`` puts a number on what the figure
shows: the distance between the two modalities' mean unit vectors (Liang et al. 2022; 0 when they
share one region of the sphere, up to 2 when they sit at opposite poles). UMAP is deterministic
with a fixed ``seed`` (it then runs single-threaded); its first fit in a process compiles numba code
(about a minute here), later fits take seconds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..errors import SymcereError
from ..progress import progress_bar


def modality_gap(graph: torch.Tensor, text: torch.Tensor) -> float:
    """|| mean(unit g) - mean(unit t) ||."""
    return float((F.normalize(graph.float(), dim=-1).mean(0) - F.normalize(text.float(), dim=-1).mean(0)).norm())


def fusion_panels(before, after) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Figure 1's two panels from two ``RunEmbeddings``: ``before`` (e.g. SymCERE w/o Norm) as raw
    vectors, ``after`` (SymCERE) on the unit sphere. Pass the same run twice to see one model's own
    vectors before and after its normalisation."""
    for emb in (before, after):
        if emb.text is None:
            raise SymcereError(f"{emb.label} has no text embeddings: the fusion gap needs SymCERE runs.")
    return {f"before normalisation ({before.label})": (before.interactions, before.text),
            f"after normalisation ({after.label})": (after.view("interactions", True), after.view("text", True))}


def fusion_gap(panels: dict[str, tuple[torch.Tensor, torch.Tensor]], n: int = 2000, seed: int = 0,
               popularity: np.ndarray | None = None, n_neighbors: int = 15, min_dist: float = 0.1,
               progress: bool = True) -> pd.DataFrame:
    """Long frame panel, modality (graph | text), row, x, y (and popularity when given per row): the
    same ``n`` interactions, drawn with ``seed``, in every panel."""
    import umap

    sizes = {len(g) for g, t in panels.values()} | {len(t) for g, t in panels.values()}
    if len(sizes) != 1:
        raise SymcereError(
            f"Every panel needs one graph and one text row per interaction; got row counts {sorted(sizes)}."
        )
    n_rows = sizes.pop()
    rows = np.sort(np.random.default_rng(seed).choice(n_rows, size=min(n, n_rows), replace=False))
    if len(rows) < 3:
        raise SymcereError(f"UMAP needs at least 3 interactions, got {len(rows)}.")
    frames = []
    bar = progress_bar(
        panels.items(), desc="UMAP panels (the first fit compiles numba)", unit="panel", enabled=progress
    )
    for name, (graph, text) in bar:
        x = torch.cat([graph[rows], text[rows]]).float().numpy()
        reducer = umap.UMAP(n_neighbors=min(n_neighbors, len(x) - 1), min_dist=min_dist, random_state=seed,
                            n_jobs=1, init="spectral" if len(x) > n_neighbors + 1 else "random")
        xy = reducer.fit_transform(x)
        f = pd.DataFrame({"panel": name, "modality": np.repeat(["graph", "text"], len(rows)),
                          "row": np.tile(rows, 2), "x": xy[:, 0], "y": xy[:, 1],
                          "gap": modality_gap(graph, text)})
        if popularity is not None:
            f["popularity"] = np.tile(np.asarray(popularity)[rows], 2)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def gap_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (dataset, panel) of [`fusion_gap`][symcere_kit.analysis.projection.fusion_gap] frames keyed by
    dataset: columns dataset, panel and gap (the modality gap of
    [`modality_gap`][symcere_kit.analysis.projection.modality_gap], a distance between mean unit vectors, in [0, 2])."""
    return pd.DataFrame([{"dataset": dataset, "panel": panel, "gap": float(gap)}
                         for dataset, frame in frames.items()
                         for panel, gap in frame.groupby("panel", sort=False)["gap"].first().items()])
