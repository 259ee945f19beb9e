"""Popularity, measured (the paper asserts "magnitude-as-noise" in section 1 and 6.1; here it is tested).

* ``norm_degree_correlation``: Spearman's rho between an item embedding's L2 norm and the item's
  training degree. Rho near 1 means magnitude encodes popularity.
* ``recommendation_popularity``: from stored top-K lists: the mean training degree of recommended
  items, catalogue coverage@K (share of items recommended to anyone) and the Gini coefficient of
  how often each item is recommended (0 = every item equally, 1 = one item for everyone).
* ``accuracy_by_popularity``: HR and NDCG per test interaction, split by the test item's popularity
  bucket (training-degree terciles of the items: tail, mid, head). An interaction is a hit when its
  item is in the user's top K; its NDCG is 1/log2(rank + 2) then, else 0. The means over a bucket's
  interactions say whom a model serves: the head or the long tail.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from ..errors import SymcereError

BUCKETS = ("tail", "mid", "head")


def norm_degree_correlation(item_embeddings: torch.Tensor, degree: np.ndarray) -> dict[str, float]:
    """Spearman rho (and its p-value) of item-embedding norm against training degree, items with degree > 0."""
    norms = item_embeddings.float().norm(dim=-1).numpy()
    if len(norms) != len(degree):
        raise SymcereError(f"{len(norms)} item embeddings but {len(degree)} item degrees.")
    seen = np.asarray(degree) > 0
    rho, p = spearmanr(norms[seen], np.asarray(degree)[seen])
    return {"spearman_rho": float(rho), "p_value": float(p), "n_items": int(seen.sum())}


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (sorted-rank formula); 0 for all-equal or empty."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * total))


def recommendation_popularity(topk: pd.DataFrame, degree: np.ndarray, k: int = 10) -> dict[str, float]:
    """Popularity profile of top-``k`` lists (a frame with user, rank, item, as stored with each run)."""
    top = topk[topk["rank"] < k]
    if top.empty:
        raise SymcereError("The top-K frame is empty: nothing was recommended.")
    degree = np.asarray(degree)
    counts = np.bincount(top["item"].to_numpy(), minlength=len(degree))
    return {f"avg_popularity@{k}": float(degree[top["item"].to_numpy()].mean()),
            f"coverage@{k}": float((counts > 0).mean()),
            f"gini@{k}": gini(counts)}


def popularity_buckets(degree: np.ndarray) -> np.ndarray:
    """Bucket name per item: training-degree terciles over items (ties broken by item index)."""
    order = pd.Series(np.asarray(degree)).rank(method="first").to_numpy()
    return np.asarray(pd.qcut(order, len(BUCKETS), labels=list(BUCKETS)).astype(str))


def accuracy_by_popularity(topk: pd.DataFrame, test: pd.DataFrame, degree: np.ndarray, k: int = 10) -> pd.DataFrame:
    """HR@k and NDCG@k per test interaction, averaged within each item-popularity bucket."""
    top = topk[topk["rank"] < k][["user", "item", "rank"]]
    merged = test[["user", "item"]].merge(top, on=["user", "item"], how="left")
    merged = merged[merged["user"].isin(topk["user"].unique())]  # users that were evaluated
    hit = merged["rank"].notna().to_numpy()
    gain = np.where(hit, 1.0 / np.log2(merged["rank"].fillna(0).to_numpy() + 2.0), 0.0)
    bucket = popularity_buckets(degree)[merged["item"].to_numpy()]
    frame = pd.DataFrame({"bucket": bucket, f"hr@{k}": hit.astype(float), f"ndcg@{k}": gain})
    out = frame.groupby("bucket").agg(n=(f"hr@{k}", "size"), **{f"hr@{k}": (f"hr@{k}", "mean"),
                                                                    f"ndcg@{k}": (f"ndcg@{k}", "mean")})
    return out.reindex(list(BUCKETS)).fillna({"n": 0}).reset_index()
