"""The generated data: the realistic mode shaped like a real, whole Amazon Reviews 2023 category (issue 29's
numbers: 16,216 reviews by 15,237 users on 641 products, 5.0 % of the users with 2 or more reviews, 0.07 % with
5 or more; 1-2 % repeated (user, product) pairs)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from symcere_kit.data.readers import read_reviews
from symcere_kit.data.synthetic import CategoryShape, realistic_interactions, write_amazon2023_jsonl

REAL = {"reviews": 16_216, "users": 15_237, "products": 641}


def shape_of(users: np.ndarray, items: np.ndarray) -> dict:
    degree = np.bincount(users)
    pairs = np.unique(users.astype(np.int64) * (int(items.max()) + 1) + items).size
    return {"users": degree.size, "two_plus": float(np.mean(degree >= 2)), "five_plus": float(np.mean(degree >= 5)),
            "products": np.unique(items).size, "repeats": 1 - pairs / users.size}


def test_a_generated_category_the_size_of_the_measured_one_has_its_shape():
    got = shape_of(*realistic_interactions(REAL["reviews"], seed=0))
    assert abs(got["users"] - REAL["users"]) / REAL["users"] < 0.03  # 15,062 at seed 0
    assert 0.04 <= got["two_plus"] <= 0.07 and got["five_plus"] < 0.005  # most users wrote one review
    assert abs(got["products"] - REAL["products"]) / REAL["products"] < 0.05
    assert 0.01 <= got["repeats"] <= 0.02


def test_the_item_tail_is_long_and_the_counts_are_exact_and_seeded():
    users, items = realistic_interactions(200_000, seed=3)
    assert users.size == items.size == 200_000 and (np.diff(users) >= 0).all()
    popularity = np.sort(np.bincount(items))[::-1]
    assert popularity[: popularity.size // 100].sum() > 0.3 * items.size  # the top 1 % of products: > 30 %
    assert np.mean(popularity < 5) > 0.2  # and many products with a handful of reviews
    again = realistic_interactions(200_000, seed=3)
    assert all((a == b).all() for a, b in zip((users, items), again))
    assert not (realistic_interactions(200_000, seed=4)[1] == items).all()


def test_repeats_follow_the_share_asked_for():
    for share in (0.0, 0.03):
        got = shape_of(*realistic_interactions(50_000, CategoryShape(repeat_share=share), seed=1))
        assert share <= got["repeats"] <= share + 0.006  # plus the pairs a user's draws hit twice by chance


def test_the_realistic_file_reads_back_with_its_repeats(tmp_path):
    path = write_amazon2023_jsonl(tmp_path / "cat.jsonl", 5_000, seed=2, chunk=1_500, shape=CategoryShape())
    first = json.loads(path.open(encoding="utf-8").readline())
    assert {"user_id", "parent_asin", "timestamp", "text"} <= set(first)
    frame = read_reviews(path, progress=False).frame
    users, items = realistic_interactions(5_000, CategoryShape(), seed=2)
    assert len(frame) == 5_000 and frame["user"].nunique() == np.unique(users).size
    assert len(frame) - len(frame.drop_duplicates(["user", "item"])) == users.size - len(
        set(zip(users.tolist(), items.tolist())))


@pytest.mark.parametrize("bad", [dict(user_exponent=1.0), dict(item_exponent=0), dict(reviews_per_item=0),
                                 dict(repeat_share=1.0)])
def test_a_shape_out_of_range_is_refused(bad):
    with pytest.raises(ValueError):
        CategoryShape(**bad)
