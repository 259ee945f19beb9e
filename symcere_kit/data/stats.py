"""Dataset statistics: the paper's Table 1 row and what a reader needs to judge a dataset."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd


def utc_day(ts: int) -> str:
    """The UTC day of ``ts`` (milliseconds since the epoch)."""
    return datetime.fromtimestamp(int(ts) / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def _summary(counts: pd.Series) -> dict[str, float]:
    return {"mean": round(float(counts.mean()), 2), "median": float(counts.median()), "max": int(counts.max())}


def compute_stats(frame: pd.DataFrame, is_test: np.ndarray, losses: dict[str, int]) -> dict:
    """``frame``: preprocessed interactions (user, item, text, timestamp); ``is_test``: split mask."""
    n_users, n_items, n = frame["user"].nunique(), frame["item"].nunique(), len(frame)
    # \S+ runs are str.split()'s words (both use Unicode whitespace); counting them builds no word lists,
    # which for a full category would hold every word of every kept review at once.
    words = frame["text"].str.count(r"\S+").fillna(0)
    return {
        "users": int(n_users),
        "items": int(n_items),
        "reviews": int(n),
        "density": len(frame[["user", "item"]].drop_duplicates()) / (n_users * n_items),  # pairs: repeats once
        "per_user": _summary(frame.groupby("user").size()),
        "per_item": _summary(frame.groupby("item").size()),
        "review_words": {
            "mean": round(float(words.mean()), 1),
            "median": float(words.median()),
            "max": int(words.max()),
        },
        "date_range": [utc_day(frame["timestamp"].min()), utc_day(frame["timestamp"].max())],
        "empty_text_share": float(frame["text"].str.strip().eq("").mean()),
        "losses": dict(losses),
        "split": {
            "train": int((~is_test).sum()),
            "test": int(is_test.sum()),
            "test_users": int(frame.loc[is_test, "user"].nunique()),
        },
        "repeats": repeat_stats(frame, is_test),
    }


def repeat_stats(frame: pd.DataFrame, is_test: np.ndarray) -> dict:
    """How much a kept repeat (the ``repeats`` reading) leaks: test interactions whose (user, item) is also a
    training interaction, and test users with at least one; all zero when pairs were deduplicated."""
    train, test = frame.loc[~is_test, ["user", "item"]], frame.loc[is_test, ["user", "item"]]
    repeat = test.merge(train.drop_duplicates(), on=["user", "item"], how="left", indicator=True)["_merge"].eq("both")
    users, leaking = test["user"].nunique(), test.loc[repeat.to_numpy(), "user"].nunique()
    return {"test_pairs": int(repeat.sum()), "test_share": float(repeat.mean()) if len(test) else 0.0,
            "users": int(leaking), "user_share": float(leaking / users) if users else 0.0,
            "repeated_pairs": int(frame.duplicated(["user", "item"]).sum())}


def format_stats(name: str, stats: dict, paper_counts: tuple[int, int, int] | None = None) -> str:
    """Human-readable block; the paper's Table 1 counts beside ours when the registry has them."""
    lines = [f"{name}"]
    row = f"  users {stats['users']:,}  items {stats['items']:,}  reviews {stats['reviews']:,}"
    if paper_counts:
        row += f"   (paper Table 1: users {paper_counts[0]:,}  items {paper_counts[1]:,}  reviews {paper_counts[2]:,})"
    lines.append(row)
    if paper_counts:  # the shape Table 1 gives, which a sample of users (the @paper reading) is judged by
        users, items, reviews = paper_counts
        lines.append(f"  reviews per user {stats['reviews'] / stats['users']:.1f} (paper {reviews / users:.1f}), "
                     f"per item {stats['reviews'] / stats['items']:.1f} (paper {reviews / items:.1f})")
    pu, pi, w = stats["per_user"], stats["per_item"], stats["review_words"]
    loss = stats["losses"]
    lines += [
        f"  density {stats['density']:.4%}",
        f"  interactions per user: median {pu['median']:g}, max {pu['max']:,}; "
        f"per item: median {pi['median']:g}, max {pi['max']:,}",
        f"  review length (words): mean {w['mean']:g}, median {w['median']:g}, max {w['max']:,}",
        f"  dates {stats['date_range'][0]} .. {stats['date_range'][1]};  empty texts {stats['empty_text_share']:.2%}",
        "  removed: "
        + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in loss.items() if k != "raw_reviews")
        + f" (of {loss['raw_reviews']:,} raw reviews)",
        f"  split: train {stats['split']['train']:,}, test {stats['split']['test']:,} "
        f"({stats['split']['test_users']:,} test users)",
    ]
    rep = stats.get("repeats")
    if rep and "duplicate_pairs" not in loss:  # read with repeats kept: say how much they leak
        lines.append(f"  repeats kept (leaky): {rep['repeated_pairs']:,} repeated pairs; {rep['test_pairs']:,} test "
                     f"interactions ({rep['test_share']:.2%}) repeat a training pair, in {rep['users']:,} of "
                     f"{stats['split']['test_users']:,} test users ({rep['user_share']:.2%})")
    return "\n".join(lines)


def table1(datasets) -> pd.DataFrame:
    """Paper Table 1 (users, items, reviews) for loaded datasets, with the paper's counts beside ours."""
    rows = []
    for ds in datasets:
        s, paper = ds.stats, ds.meta.get("paper_counts") or (None, None, None)
        rows.append({"dataset": ds.name, "users": s["users"], "items": s["items"], "reviews": s["reviews"],
                     "density": round(s["density"], 5), "train": s["split"]["train"], "test": s["split"]["test"],
                     "paper_users": paper[0], "paper_items": paper[1], "paper_reviews": paper[2]})
    return pd.DataFrame(rows)


def describe_table1(table: pd.DataFrame) -> str:
    """Findings computed from a ``table1`` frame, as Markdown bullets (no typed-in conclusions)."""
    lines = []
    for r in table.itertuples(index=False):
        line = (f"- **{r.dataset}**: {r.users:,} users, {r.items:,} items, {r.reviews:,} reviews "
                f"(density {r.density:.3%}; {r.test:,} test interactions, {r.test / r.reviews:.1%}).")
        if pd.notna(r.paper_users):
            diff = (r.reviews - r.paper_reviews) / r.paper_reviews
            line += f" The paper reports {int(r.paper_reviews):,} reviews: ours differ by {diff:+.1%}."
        else:
            line += " Not one of the paper's datasets."
        lines.append(line)
    return "\n".join(lines)
