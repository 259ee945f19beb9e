"""Clean a tidy review frame: dedupe, cross-variant copies, empty-text policy, iterative k-core, id maps.

Each step counts what it removed, so `symcere stats` can report the losses.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import DataConfig
from ..errors import EmptyDatasetError


@dataclass
class Preprocessed:
    """Interactions with contiguous ids; ``order`` keeps the file order for tie-breaking in time."""

    frame: pd.DataFrame  # columns: user, item (int ids), rating, text, timestamp, order
    user_ids: np.ndarray  # index -> original user id (sorted strings)
    item_ids: np.ndarray  # index -> original item id
    losses: dict[str, int] = field(default_factory=dict)


def _is_blank(text: pd.Series) -> pd.Series:
    return text.str.strip().eq("")


def dedupe_pairs(df: pd.DataFrame) -> pd.DataFrame:
    """Keep the earliest review of each (user, item); file order breaks ties in time."""
    earliest = df.sort_values(["timestamp", "order"], kind="stable")
    return earliest.drop_duplicates(["user", "item"], keep="first").sort_values("order")


def drop_cross_variant_copies(df: pd.DataFrame) -> pd.DataFrame:
    """Amazon 2018 lists one review once per product variant: same user, time and text on several
    items. Keep the first in file order, otherwise the same text lands in train and test."""
    copy = df.duplicated(["user", "timestamp", "text"], keep="first") & ~_is_blank(df["text"])
    return df[~copy]


def apply_empty_text_policy(df: pd.DataFrame, policy: str) -> pd.DataFrame:
    blank = _is_blank(df["text"])
    if policy == "keep":
        return df
    if policy == "drop":
        return df[~blank]
    if policy == "title":
        df = df.copy()
        df.loc[blank, "text"] = df.loc[blank, "title"]
        return df
    raise ValueError(f"empty_text must be 'keep', 'drop' or 'title', not {policy!r}")


def k_core(df: pd.DataFrame, user_k: int, item_k: int) -> pd.DataFrame:
    """Drop users with < user_k and items with < item_k interactions until both hold."""
    while True:
        user_n = df["user"].map(df["user"].value_counts())
        item_n = df["item"].map(df["item"].value_counts())
        keep = (user_n >= user_k) & (item_n >= item_k)
        if keep.all():
            return df
        df = df[keep]


def preprocess(raw: pd.DataFrame, config: DataConfig, source: str = "input", n_skipped: int = 0) -> Preprocessed:
    """Run the cleaning steps in a fixed order and map ids to 0..n-1 (sorted, so file-order free).

    ``n_skipped``: records the reader skipped as malformed, named in the error when nothing is left.
    Raises EmptyDatasetError when no interaction survives."""
    df = raw.assign(order=np.arange(len(raw), dtype=np.int64))
    losses = {"raw_reviews": len(df)}
    if config.dedupe_pairs:
        n = len(df)
        df = dedupe_pairs(df)
        losses["duplicate_pairs"] = n - len(df)
    if config.drop_cross_variant:
        n = len(df)
        df = drop_cross_variant_copies(df)
        losses["cross_variant_copies"] = n - len(df)
    n = len(df)
    df = apply_empty_text_policy(df, config.empty_text)
    losses["empty_text_dropped"] = n - len(df)
    n = len(df)
    df = k_core(df, config.user_k, config.item_k)
    losses["k_core"] = n - len(df)
    if df.empty:
        raise EmptyDatasetError(
            f"Nothing is left of {source} after preprocessing: {losses['raw_reviews']:,} reviews in"
            + (f" ({n_skipped:,} records skipped as malformed before that)" if n_skipped else "") + ", "
            f"{losses.get('duplicate_pairs', 0):,} duplicate pairs, "
            f"{losses.get('cross_variant_copies', 0):,} cross-variant copies, "
            f"{losses['empty_text_dropped']:,} empty texts and {losses['k_core']:,} k-core removals "
            f"(user_k={config.user_k}, item_k={config.item_k}). Lower the k-core thresholds "
            f"(--user-k/--item-k) or use a larger file."
        )
    user_idx, user_ids = pd.factorize(df["user"], sort=True)
    item_idx, item_ids = pd.factorize(df["item"], sort=True)
    frame = pd.DataFrame(
        {
            "user": user_idx.astype(np.int64),
            "item": item_idx.astype(np.int64),
            "rating": df["rating"].to_numpy(np.float32),
            "text": df["text"].to_numpy(object),
            "timestamp": df["timestamp"].to_numpy(np.int64),
            "order": df["order"].to_numpy(np.int64),
        }
    )
    return Preprocessed(frame, np.asarray(user_ids, dtype=object), np.asarray(item_ids, dtype=object), losses)
