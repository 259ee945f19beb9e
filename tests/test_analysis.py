"""Analyses on generated data: numbers finite, shapes right, each against a slow reference where one
exists, and LIME's global view ranking planted product words above sentiment words."""
import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from symcere_kit.analysis import geometry, popularity
from symcere_kit.analysis.lexicon import WordClasses
from symcere_kit.data.synthetic import FILLER_WORDS, PRODUCT_WORDS, SENTIMENT_WORDS, synthetic_reviews
from symcere_kit.errors import SymcereError


# ---------------------------------------------------------------- geometry
def test_similarity_stats_match_a_loop_over_pairs():
    x = torch.randn(30, 8, generator=torch.Generator().manual_seed(0))
    sims = [float(F.cosine_similarity(x[i], x[j], dim=0)) for i, j in itertools.combinations(range(30), 2)]
    stats = geometry.similarity_stats(x)
    assert stats["mean"] == pytest.approx(np.mean(sims), abs=1e-6)
    assert stats["std"] == pytest.approx(np.std(sims), abs=1e-6)
    assert stats["min"] == pytest.approx(min(sims), abs=1e-6) and stats["max"] == pytest.approx(max(sims), abs=1e-6)
    assert stats["25%"] == pytest.approx(np.quantile(sims, 0.25), abs=1e-6)
    assert geometry.similarity_stats(x * torch.rand(30, 1) * 10)["mean"] == pytest.approx(stats["mean"], abs=1e-5)
    assert geometry.similarity_stats(torch.ones(5, 3))["std"] == pytest.approx(0, abs=1e-6)
    with pytest.raises(SymcereError, match="two"):
        geometry.similarity_stats(torch.ones(1, 3))


def test_dimension_variance_shares_the_spread_left_by_the_mean():
    x = torch.randn(500, 16, generator=torch.Generator().manual_seed(1)) + 0.5
    v = geometry.dimension_variance(x)
    z = F.normalize(x, dim=-1)
    assert v.shape == (16,) and (v >= 0).all()
    assert v.sum() == pytest.approx(1 - float(z.mean(0).norm() ** 2), abs=1e-5)


def test_alignment_and_uniformity_match_their_definitions():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(12, 4, generator=g), torch.randn(12, 4, generator=g)
    zx, zy = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
    assert geometry.alignment(x, y) == pytest.approx(float(((zx - zy).norm(dim=1) ** 2).mean()), rel=1e-5)
    assert geometry.alignment(x, 3 * x) == pytest.approx(0, abs=1e-6)
    pairs = [math.exp(-2 * float((zx[i] - zx[j]).norm() ** 2)) for i, j in itertools.combinations(range(12), 2)]
    assert geometry.uniformity(x) == pytest.approx(math.log(np.mean(pairs)), rel=1e-5)


def test_item_spread_is_zero_on_the_centroid_and_45_degrees_for_two_orthogonal_rows():
    x = torch.tensor([[1.0, 0, 0], [2.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    items = np.array([0, 0, 1, 1, 2])
    out = geometry.item_spread(x, items).set_index("item")
    assert list(out.index) == [0, 1]  # item 2 has one interaction only
    assert out.loc[0, "mean_angle_deg"] == pytest.approx(0, abs=1e-3) and out.loc[0, "lambda_obj"] == pytest.approx(1)
    assert out.loc[1, "mean_angle_deg"] == pytest.approx(45, abs=1e-3)
    assert out.loc[1, "lambda_obj"] == pytest.approx(math.sqrt(0.5), abs=1e-6)


# ---------------------------------------------------------------- popularity
def test_gini_matches_mean_absolute_difference():
    assert popularity.gini(np.array([3, 3, 3])) == pytest.approx(0)
    assert popularity.gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)
    x = np.random.default_rng(0).integers(0, 50, 40)
    mad = np.abs(x[:, None] - x[None, :]).mean()
    assert popularity.gini(x) == pytest.approx(mad / (2 * x.mean()))


def test_norm_degree_correlation_sees_magnitude_that_encodes_popularity():
    degree = np.array([0, 1, 5, 2, 9, 4])
    emb = F.normalize(torch.randn(6, 8, generator=torch.Generator().manual_seed(3)), dim=-1)
    assert popularity.norm_degree_correlation(emb * torch.tensor(degree + 1.0)[:, None], degree)[
        "spearman_rho"
    ] == pytest.approx(1)
    out = popularity.norm_degree_correlation(emb, degree)  # equal norms carry no popularity
    assert out["n_items"] == 5


def test_recommendation_popularity_and_accuracy_by_bucket():
    degree = np.array([1, 2, 3, 10, 20, 30])  # terciles: items 0-1 tail, 2-3 mid, 4-5 head
    topk = pd.DataFrame({"user": [0, 0, 1, 1], "rank": [0, 1, 0, 1], "item": [5, 0, 5, 3]})
    prof = popularity.recommendation_popularity(topk, degree, k=2)
    assert prof["avg_popularity@2"] == pytest.approx((30 + 1 + 30 + 10) / 4)
    assert prof["coverage@2"] == pytest.approx(3 / 6)
    assert prof["gini@2"] == pytest.approx(popularity.gini(np.array([1, 0, 0, 1, 0, 2])))
    test = pd.DataFrame({"user": [0, 0, 1, 2], "item": [0, 4, 3, 5]})  # user 2 was not evaluated
    acc = popularity.accuracy_by_popularity(topk, test, degree, k=2).set_index("bucket")
    assert list(acc.index) == ["tail", "mid", "head"] and acc["n"].tolist() == [1, 1, 1]
    assert acc.loc["tail", "hr@2"] == 1 and acc.loc["tail", "ndcg@2"] == pytest.approx(1 / math.log2(3))
    assert acc.loc["mid", "ndcg@2"] == pytest.approx(1 / math.log2(3)) and acc.loc["head", "hr@2"] == 0


# ---------------------------------------------------------------- lexicon
def test_word_classes_find_planted_product_words_in_the_data():
    frame = synthetic_reviews(seed=0)
    item = frame["item"].astype("category").cat.codes.to_numpy()
    wc = WordClasses(frame["text"].tolist(), item, min_reviews=3)
    planted = [w for group in PRODUCT_WORDS[:4] for w in group]
    assert wc.classify(planted) == ["product"] * len(planted)
    assert wc.classify(SENTIMENT_WORDS) == ["sentiment"] * len(SENTIMENT_WORDS)
    assert wc.classify(FILLER_WORDS) == ["stop-word"] * len(FILLER_WORDS)
    assert wc("zzzunseen") == "other"
