"""The paper's analyses over a grid's run store, one call per table (notebooks 05-07), plus the measurements
beyond the paper that notebook 05 shows: anchoring, norm vs degree, popularity of recommendations.

Every function reads finished runs of a ``Grid`` (built with the same datasets, settings and root
as the grid that trained them) and never trains: a missing run is an error that names it.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from ..data.dataset import load_dataset
from ..errors import SymcereError
from ..runs.store import TOPK_FILE, load_run, read_record
from . import geometry, popularity
from .embeddings import RunEmbeddings, run_embeddings
from .explain import InteractionExplainer, LimeStudy
from .lexicon import WordClasses
from .plots import figure_name


@lru_cache(maxsize=4)
def _dataset(name_or_path: str):
    return load_dataset(name_or_path, progress=False)


def load_variant(grid, dataset: str, variant: str, seed: int = 0):
    """The finished run of ``variant`` with ``seed`` on ``dataset`` in ``grid``, loaded as a ``TrainedRun``
    ([`load_run`][symcere_kit.runs.store.load_run]); the dataset is loaded once and cached.

    Raises:
        SymcereError: the run is not part of ``grid`` or has not run yet.
    """
    return load_run(grid.run_dir(dataset, variant, seed), dataset=_dataset(dataset))


def variant_embeddings(grid, dataset: str, variants: list[str], seed: int = 0) -> dict[str, RunEmbeddings]:
    """Variant name -> [`RunEmbeddings`][symcere_kit.analysis.embeddings.RunEmbeddings] of each of
    ``variants``' finished run with ``seed`` on ``dataset``."""
    return {v: run_embeddings(load_variant(grid, dataset, v, seed)) for v in variants}


def table4(embeddings: dict[str, RunEmbeddings], spaces=("interactions", "text"), max_rows: int = 4000,
           seed: int = 0) -> pd.DataFrame:
    """Table 4 (pairwise cosine statistics) plus uniformity and graph-text alignment per run and space."""
    return geometry.similarity_table({e.label: e for e in embeddings.values()}, spaces, max_rows, seed)


def norm_degree_table(embeddings: dict[str, RunEmbeddings]) -> pd.DataFrame:
    """Spearman rho of raw item-embedding norm vs training degree, per run."""
    return pd.DataFrame([{"run": e.label, **popularity.norm_degree_correlation(e.items, e.item_degree)}
                         for e in embeddings.values()])


def anchoring_table(embeddings: dict[str, RunEmbeddings], space: str = "text") -> pd.DataFrame:
    """Figure 3 measured: per run, the per-item mean angle to the item's centroid and lambda_obj
    (medians and means over items with at least two training interactions)."""
    rows = []
    for e in embeddings.values():
        s = geometry.item_spread(e.view(space, True), e.train_items)
        rows.append({"run": e.label, "space": space, "items": len(s),
                     "median_angle_deg": float(s["mean_angle_deg"].median()),
                     "mean_angle_deg": float(s["mean_angle_deg"].mean()),
                     "median_lambda_obj": float(s["lambda_obj"].median()),
                     "mean_lambda_obj": float(s["lambda_obj"].mean())})
    return pd.DataFrame(rows)


def _finished_with_topk(grid, dataset: str):
    """(spec, folder) of every finished run of ``dataset`` in ``grid`` that kept its top-K lists."""
    found = [(s, p) for s, p in grid.finished(dataset) if (p / TOPK_FILE).is_file()]
    if not found:
        raise SymcereError(f"No finished run with top-K lists for {dataset} in {grid.root}; run the grid first.")
    return found


def popularity_table(grid, dataset: str, k: int = 10) -> pd.DataFrame:
    """Per variant, mean over its finished seeds: HR@k and NDCG@k with the popularity profile of its
    top-k lists (average training degree of recommended items, coverage, Gini)."""
    degree = _dataset(dataset).item_degree
    rows = []
    for spec, path in _finished_with_topk(grid, dataset):
        metrics = read_record(path)["metrics"]
        rows.append({"variant": spec.variant, "seed": spec.seed, f"hr@{k}": metrics.get(f"hr@{k}"),
                     f"ndcg@{k}": metrics.get(f"ndcg@{k}"),
                     **popularity.recommendation_popularity(pd.read_parquet(path / TOPK_FILE), degree, k)})
    f = pd.DataFrame(rows)
    out = f.groupby("variant", sort=False).mean(numeric_only=True).drop(columns="seed")
    return out.assign(seeds=f.groupby("variant", sort=False).size()).reset_index()


def bucket_table(grid, dataset: str, k: int = 10) -> pd.DataFrame:
    """HR@k / NDCG@k per item-popularity bucket (tail, mid, head) per variant, mean over seeds."""
    ds = _dataset(dataset)
    frames = [popularity.accuracy_by_popularity(pd.read_parquet(path / TOPK_FILE), ds.test, ds.item_degree, k)
              .assign(variant=spec.variant, seed=spec.seed) for spec, path in _finished_with_topk(grid, dataset)]
    f = pd.concat(frames)
    return (f.groupby(["variant", "bucket"], sort=False)[[f"hr@{k}", f"ndcg@{k}", "n"]].mean().reset_index())


def dimension_variances(embeddings: dict[str, RunEmbeddings], space: str = "text") -> dict[str, np.ndarray]:
    """Figure 4's input: per-dimension variance of each run's unit-normalised ``space`` embeddings."""
    return {e.label: geometry.dimension_variance(getattr(e, space)) for e in embeddings.values()}


def by_dataset(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per-dataset tables as one, with a leading ``dataset`` column."""
    return pd.concat([t.assign(dataset=d)[["dataset", *t.columns]] for d, t in tables.items()], ignore_index=True)


def for_dataset(tables: dict[str, pd.DataFrame], dataset: str) -> dict[str, pd.DataFrame]:
    """Each table's rows of ``dataset`` (tables with a ``dataset`` column, e.g.
    [`geometry_tables`][symcere_kit.analysis.grid_tables.geometry_tables])."""
    return {name: t[t["dataset"] == dataset] for name, t in tables.items()}


def geometry_tables(embeddings: dict[str, dict[str, RunEmbeddings]], variants: list[str]) -> dict[str, pd.DataFrame]:
    """Notebook 05's tables over datasets, keyed by file stem. ``embeddings``: dataset -> variant -> embeddings;
    ``variants``: SymCERE, w/o Norm, InfoNCE w/ Norm, backbone (Table 3's order). ``table4_similarity``
    (Table 4: the first two), ``norm_degree_correlation`` (all), ``fig3_anchoring`` (Figure 3: the first three)."""
    def pick(embs, n):
        return {v: embs[v] for v in variants[:n]}

    return {"table4_similarity": by_dataset({d: table4(pick(e, 2)) for d, e in embeddings.items()}),
            "norm_degree_correlation": by_dataset({d: norm_degree_table(e) for d, e in embeddings.items()}),
            "fig3_anchoring": by_dataset({d: anchoring_table(pick(e, 3)) for d, e in embeddings.items()})}


def popularity_tables(grid, datasets: list[str], k: int = 10) -> dict[str, pd.DataFrame]:
    """Per dataset, keyed by file stem: ``popularity_<dataset>``
    ([`popularity_table`][symcere_kit.analysis.grid_tables.popularity_table]) and ``accuracy_by_popularity_<dataset>``
    ([`bucket_table`][symcere_kit.analysis.grid_tables.bucket_table])."""
    out = {}
    for d in datasets:
        out[figure_name("popularity", d)] = popularity_table(grid, d, k)
        out[figure_name("accuracy_by_popularity", d)] = bucket_table(grid, d, k)
    return out


def lime_studies(grid, datasets: list[str], seed: int, reviews: int, samples: int, explanation_seeds: list[int],
                 variant: str = "symcere-lightgcn", progress: bool = True) -> dict:
    """Notebook 07 (Tables 5-8): per dataset, an ``explain.LimeStudy`` of ``variant``'s run with ``seed``:
    ``reviews`` training reviews (drawn with ``seed``), ``samples`` LIME samples, each under every seed
    in ``explanation_seeds``; word classes from the dataset (``lexicon.WordClasses.from_dataset``)."""
    out = {}
    for d in datasets:
        run = load_variant(grid, d, variant, seed)
        out[d] = LimeStudy.run(InteractionExplainer(run), WordClasses.from_dataset(run.dataset), reviews, samples,
                               explanation_seeds, sample_seed=seed, progress=progress)
    return out


def lime_tables(studies: dict) -> dict[str, pd.DataFrame]:
    """Per dataset, keyed by file stem: ``table5_8_lime_words_<dataset>`` and
    ``table5_8_lime_word_classes_<dataset>``."""
    out = {}
    for d, s in studies.items():
        out[figure_name("table5_8_lime_words", d)] = s.words
        out[figure_name("table5_8_lime_word_classes", d)] = s.summary
    return out
