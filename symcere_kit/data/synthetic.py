"""Small generated review data with planted structure, for tests and demos.

Users belong to taste clusters and mostly review items of their cluster; each cluster has its own
product words, while sentiment words are shared by all. So a model that learns the graph can beat
popularity, and a text model can only align on the product words.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PRODUCT_WORDS = [
    ["guitar", "string", "fret", "capo", "pick"],
    ["cable", "jack", "plug", "adapter", "connector"],
    ["microphone", "filter", "stand", "boom", "mount"],
    ["drum", "stick", "pedal", "cymbal", "snare"],
    ["tuner", "clip", "battery", "display", "chromatic"],
    ["amp", "speaker", "tube", "watt", "cabinet"],
]
SENTIMENT_WORDS = ["great", "love", "nice", "good", "happy", "awesome", "terrible", "bad"]
FILLER_WORDS = ["the", "it", "this", "i", "my", "a", "and", "with"]


def synthetic_reviews(n_users: int = 200, n_items: int = 120, n_clusters: int = 4,
                      per_user: tuple[int, int] = (6, 16), in_cluster: float = 0.9, seed: int = 0) -> pd.DataFrame:
    """Tidy review frame (user, item, rating, text, title, timestamp in UTC milliseconds) with cluster structure."""
    if n_clusters > len(PRODUCT_WORDS):
        raise ValueError(f"at most {len(PRODUCT_WORDS)} clusters have planted product words")
    rng = np.random.default_rng(seed)
    item_cluster = np.arange(n_items) % n_clusters
    popularity = 1.0 / (1 + rng.permutation(n_items)) ** 0.7  # Zipf-like, shuffled over items
    rows = []
    for u in range(n_users):
        c = u % n_clusters
        weights = popularity * np.where(item_cluster == c, in_cluster, 1 - in_cluster)
        n = int(rng.integers(per_user[0], per_user[1] + 1))
        items = rng.choice(n_items, size=min(n, n_items), replace=False, p=weights / weights.sum())
        t0 = 1_300_000_000 + int(rng.integers(0, 10**7))
        for k, i in enumerate(items):
            words = list(rng.choice(PRODUCT_WORDS[item_cluster[i]], 3)) + list(rng.choice(SENTIMENT_WORDS, 2))
            words += list(rng.choice(FILLER_WORDS, 3))
            rng.shuffle(words)
            rows.append((f"U{u:05d}", f"I{i:05d}", float(rng.integers(1, 6)), " ".join(words),
                         words[0], 1000 * (t0 + 86_400 * k + int(rng.integers(0, 3600)))))
    return pd.DataFrame(rows, columns=["user", "item", "rating", "text", "title", "timestamp"])


def write_amazon2018_jsonl(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a tidy frame in Amazon 2018 JSON-lines form (plain or .gz by suffix)."""
    import gzip

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as f:
        for r in frame.itertuples(index=False):
            f.write(
                json.dumps(
                    {
                        "overall": r.rating,
                        "verified": True,
                        "reviewerID": r.user,
                        "asin": r.item,
                        "reviewText": r.text,
                        "summary": r.title,
                        "unixReviewTime": int(r.timestamp) // 1000,
                    }
                )
                + "\n"
            )
    return path


def power_law_weights(n_reviews: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw probabilities of ``n_reviews`` user ids and ``n_reviews // 33`` item ids, power laws over their
    ranks (exponents 0.6 and 0.9), shaped like a full Amazon 2023 category (``write_amazon2023_jsonl``)."""
    n_users, n_items = max(n_reviews, 1), max(n_reviews // 33, 1)
    user_p, item_p = (1.0 / (np.arange(n) + 5.0) ** power for n, power in ((n_users, 0.6), (n_items, 0.9)))
    return user_p / user_p.sum(), item_p / item_p.sum()


@dataclass(frozen=True)
class CategoryShape:
    """How a whole Amazon Reviews 2023 category is shaped before any filtering, for the realistic generator.

    The defaults follow a real, whole 2023 category measured for issue 29 (16,216 reviews by 15,237 users on
    641 products; 766 users, 5.0 %, wrote 2 or more reviews, 10, 0.07 %, 5 or more): user degrees from a zeta
    law, P(k) proportional to k^-``user_exponent`` (4.4 gives about 5 % of users with 2 or more reviews and
    about 0.2 % with 5 or more); item popularity a Zipf law over the items' ranks, exponent ``item_exponent``,
    ``reviews_per_item`` reviews per product on average (a long tail: most products get a handful); and
    ``repeat_share`` of the reviews repeat a (user, product) pair the user reviewed before (a variant
    reviewed again: the 2023 files hold about 1-2 % such pairs)."""

    user_exponent: float = 4.4
    item_exponent: float = 1.0
    reviews_per_item: int = 25
    repeat_share: float = 0.015

    def __post_init__(self):
        if not self.user_exponent > 1 or not self.item_exponent > 0 or self.reviews_per_item < 1:
            raise ValueError(f"user_exponent must be > 1, item_exponent > 0, reviews_per_item >= 1; got {self}")
        if not 0 <= self.repeat_share < 1:
            raise ValueError(f"repeat_share must be in [0, 1); got {self.repeat_share}")


# A large category whose heavier users survive a 5-core of the whole file: user exponent 2.5 gives
# zeta(1.5) / zeta(2.5) = 1.95 reviews per user on average (75 % of users with one review), near the 2.2 of
# Pet Supplies' published counts (16.8 M ratings by 7.8 M users, the Amazon Reviews 2023 README), where the
# measured small category's 4.4 gives 1.1 and leaves a 5-core of 1 M reviews empty (984,047 of 1 M removed).
# The benchmarks and the @paper tests read it.
LARGE_CATEGORY = CategoryShape(user_exponent=2.5)


def realistic_interactions(n_reviews: int, shape: CategoryShape = CategoryShape(), seed: int = 0
                           ) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) ids of ``n_reviews`` reviews shaped like a whole 2023 category (``CategoryShape``), in user
    order; users numbered 0.. by first appearance, items by popularity rank.

    Each user's degree is drawn from the zeta law (the last user's cut so the total is exactly ``n_reviews``);
    each review's item from the Zipf law; then ``repeat_share`` of all reviews, taken among the second and later
    reviews of users with several, are turned into a repeat of that user's previous item (fewer when there are
    not enough such reviews). A user's other reviews may still hit one item twice by chance, as in real files.
    """
    rng = np.random.default_rng(seed)
    degrees = rng.zipf(shape.user_exponent, size=max(n_reviews, 1)).astype(np.int64)
    ends = np.cumsum(degrees)
    n_users = int(np.searchsorted(ends, n_reviews) + 1)
    degrees = degrees[:n_users]
    degrees[-1] -= int(ends[n_users - 1] - n_reviews)
    users = np.repeat(np.arange(n_users), degrees)
    n_items = max(n_reviews // shape.reviews_per_item, 1)
    item_p = 1.0 / np.arange(1, n_items + 1, dtype=np.float64) ** shape.item_exponent
    items = rng.choice(n_items, size=n_reviews, p=item_p / item_p.sum())
    later = np.flatnonzero(np.r_[False, users[1:] == users[:-1]])  # a user's 2nd, 3rd, ... review
    n_repeats = min(int(round(shape.repeat_share * n_reviews)), later.size)
    for at in np.sort(rng.choice(later, size=n_repeats, replace=False)):  # in order: a repeat may repeat a repeat
        items[at] = items[at - 1]
    return users, items


def write_amazon2023_jsonl(path: str | Path, n_reviews: int, seed: int = 0, chunk: int = 100_000,
                           shape: CategoryShape | None = None) -> Path:
    """Write ``n_reviews`` records in the Amazon Reviews 2023 JSON-lines layout (times in milliseconds),
    streamed in chunks so any size fits in memory: the input of ``make bench-data``.

    Without ``shape``, users and items follow power laws over their ranks: about half the reviews come from
    distinct users (most write one), items average 33 reviews, and a 5-core keeps about 17 % of the reviews
    (measured at 1 M: 168,168 of 1,000,000). With a [`CategoryShape`][symcere_kit.data.synthetic.CategoryShape]
    (``realistic_interactions``) the file is shaped like a real, whole 2023 category: most users write one
    review, products have a long tail, and about 1.5 % of the reviews repeat a (user, product) pair; the lines
    come shuffled within each chunk. That mode draws every (user, product) pair first, about 16 bytes per review in
    memory (320 MB at 20 M); only the lines are streamed. Texts are drawn from a pool of 1,000 generated texts of
    20-70 words (~400 bytes per line, like the real files).
    """
    rng = np.random.default_rng(seed)
    vocabulary = [w for words in PRODUCT_WORDS for w in words] + SENTIMENT_WORDS + FILLER_WORDS
    pool = [" ".join(rng.choice(vocabulary, int(rng.integers(20, 71)))) for _ in range(1000)]
    if shape is None:
        user_p, item_p = power_law_weights(n_reviews)
    else:
        all_users, all_items = realistic_interactions(n_reviews, shape, seed)
    path = Path(path)
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, n_reviews, chunk):
            n = min(chunk, n_reviews - start)
            if shape is None:
                users, items = rng.choice(len(user_p), n, p=user_p), rng.choice(len(item_p), n, p=item_p)
            else:
                order = start + rng.permutation(n)
                users, items = all_users[order], all_items[order]
            times = 1_300_000_000_000 + rng.integers(0, 300_000_000_000, n)
            ratings = rng.integers(1, 6, n)
            texts = rng.integers(0, len(pool), n)
            f.write(
                "".join(
                    f'{{"rating": {r}.0, "title": "Review {k}", "text": "{pool[k]}", "images": [], '
                    f'"asin": "B{i:09d}X", "parent_asin": "B{i:09d}", "user_id": "AE{u:026d}", "timestamp": {t}, '
                    f'"helpful_vote": 0, "verified_purchase": true}}\n'
                    for u, i, t, r, k in zip(
                        users.tolist(), items.tolist(), times.tolist(), ratings.tolist(), texts.tolist()
                    )
                )
            )
    return path
