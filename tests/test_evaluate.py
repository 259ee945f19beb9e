"""All-ranking evaluation: checked against a brute-force NumPy reference, by hand and by torchmetrics."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from symcere_kit.errors import EmptyDatasetError, LeakageError, SymcereError, TrainingError
from symcere_kit.evaluate import EvalResult, evaluate, topk_items

INF = float("inf")


# ---------------------------------------------------------------- reference and fixtures


def reference(scores: np.ndarray, train: np.ndarray, test: np.ndarray, ks) -> pd.DataFrame:
    """Brute force: per user, lexsort the non-train items by (-score, index), pure-Python metrics."""
    rows = []
    for u in range(scores.shape[0]):
        relevant = set(np.flatnonzero(test[u]).tolist())
        if not relevant:
            continue
        candidates = np.flatnonzero(~train[u])
        ranked = candidates[np.lexsort((candidates, -scores[u, candidates]))].tolist()
        row = {"user": u, "n_test": len(relevant)}
        for k in ks:
            hits = [item in relevant for item in ranked[:k]]
            dcg = sum(1 / math.log2(r + 2) for r, hit in enumerate(hits) if hit)
            idcg = sum(1 / math.log2(r + 2) for r in range(min(len(relevant), k)))
            row |= {
                f"hr@{k}": float(any(hits)),
                f"ndcg@{k}": dcg / idcg,
                f"recall@{k}": sum(hits) / len(relevant),
                f"precision@{k}": sum(hits) / k,
            }
        rows.append(row)
    return pd.DataFrame(rows)


def reference_topk(scores: np.ndarray, k: int, exclude: np.ndarray) -> np.ndarray:
    """Documented order: candidates before excluded items (whose scores count as -inf), then score
    descending, then index."""
    index = np.arange(scores.shape[1])
    masked = np.where(exclude, -INF, scores)
    return np.stack([np.lexsort((index, -s, e))[:k] for s, e in zip(masked, exclude)])


def random_split(rng, n_users, n_items, p_train=0.3, p_test=0.15):
    """Disjoint dense bool train/test matrices."""
    u = rng.random((n_users, n_items))
    return u < p_train, (u >= p_train) & (u < p_train + p_test)


def run(scores: np.ndarray, train: np.ndarray, test: np.ndarray, ks, **kwargs) -> EvalResult:
    table = torch.as_tensor(scores)
    return evaluate(
        lambda users: table[users], sp.csr_matrix(train), sp.csr_matrix(test), ks=ks, progress=False, **kwargs
    )


def assert_matches_reference(result: EvalResult, expected: pd.DataFrame) -> None:
    got = result.per_user
    assert got["user"].tolist() == expected["user"].tolist()
    assert got["n_test"].tolist() == expected["n_test"].tolist()
    for col in expected.columns[2:]:
        if col.startswith("hr@"):
            assert got[col].tolist() == expected[col].tolist(), col
        else:
            np.testing.assert_allclose(got[col], expected[col], rtol=0, atol=1e-6, err_msg=col)
        assert result.metrics[col] == pytest.approx(expected[col].mean(), abs=1e-6)
    assert result.n_users == len(expected)


# ---------------------------------------------------------------- against the reference


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference_on_continuous_scores(seed):
    rng = np.random.default_rng(seed)
    train, test = random_split(rng, 40, 60)
    scores = rng.standard_normal((40, 60)).astype(np.float32)
    ks = (1, 5, 10, 20)
    assert_matches_reference(run(scores, train, test, ks, batch_size=7), reference(scores, train, test, ks))


def test_matches_reference_with_many_ties():
    rng = np.random.default_rng(2)
    train, test = random_split(rng, 30, 40)
    scores = rng.integers(0, 3, (30, 40)).astype(np.float32)
    ks = (1, 3, 10)
    assert_matches_reference(run(scores, train, test, ks, batch_size=4), reference(scores, train, test, ks))


def test_tie_order_on_rows_large_enough_for_topk_to_pick_arbitrarily():
    # Long rows, few distinct values: torch.topk's own choice among ties is unspecified here.
    rng = np.random.default_rng(3)
    train, test = random_split(rng, 20, 3000, p_train=0.2, p_test=0.05)
    scores = rng.integers(0, 4, (20, 3000)).astype(np.float32)
    result = run(scores, train, test, (50, 100), return_topk=True)
    assert_matches_reference(result, reference(scores, train, test, (50, 100)))
    users = result.per_user["user"].to_numpy()
    expected = reference_topk(scores[users], 100, train[users])
    assert torch.equal(result.topk, torch.from_numpy(expected))


def test_all_equal_scores_recommend_lowest_non_train_items():
    rng = np.random.default_rng(4)
    train, test = random_split(rng, 10, 30)
    result = run(np.zeros((10, 30), np.float32), train, test, (5,), return_topk=True)
    for row, user in enumerate(result.per_user["user"]):
        assert result.topk[row].tolist() == np.flatnonzero(~train[user])[:5].tolist()


def test_users_without_test_items_are_skipped_and_several_test_items_count():
    train = np.zeros((4, 8), bool)
    test = np.zeros((4, 8), bool)
    train[:, 0] = True
    test[1, [1, 2, 7]] = True  # three test items
    test[3, 5] = True  # users 0 and 2 have none
    scores = np.tile(np.arange(8, 0, -1, dtype=np.float32), (4, 1))  # ranks items 0, 1, ..., 7
    result = run(scores, train, test, (2,))
    assert result.per_user["user"].tolist() == [1, 3]
    assert result.per_user["n_test"].tolist() == [3, 1]
    assert result.per_user["recall@2"].tolist() == [2 / 3, 0.0]
    assert result.per_user["ndcg@2"].tolist() == [1.0, 0.0]
    assert_matches_reference(result, reference(scores, train, test, (2,)))


def test_user_whose_every_candidate_is_a_test_item_scores_perfectly():
    train = np.array([[True, False, True, False, False]])
    test = ~train
    scores = np.array([[5.0, -1.0, 3.0, 2.0, 0.0]])
    result = run(scores, train, test, (3, 10))
    assert result.metrics == {
        "hr@3": 1.0, "ndcg@3": 1.0, "recall@3": 1.0, "precision@3": 1.0,
        "hr@10": 1.0, "ndcg@10": 1.0, "recall@10": 1.0, "precision@10": 0.3,
    }


def test_k_larger_than_catalogue_and_k_one():
    rng = np.random.default_rng(5)
    train, test = random_split(rng, 15, 12)
    scores = rng.standard_normal((15, 12))
    result = run(scores, train, test, (1, 50), return_topk=True)
    assert result.topk.shape == (result.n_users, 12)
    assert_matches_reference(result, reference(scores, train, test, (1, 50)))
    assert (result.per_user["recall@50"] == 1.0).all()  # every test item is somewhere in the list


def test_hand_computed_example():
    # Item 1 is a training item; the ranking of the rest is 3, 4, 2, 0 and items 0 and 3 are test.
    train = np.array([[False, True, False, False, False]])
    test = np.array([[True, False, False, True, False]])
    scores = np.array([[0.1, 0.9, 0.3, 0.7, 0.5]])
    result = run(scores, train, test, (3,), return_topk=True)
    assert result.topk.tolist() == [[3, 4, 2]]
    assert result.metrics["ndcg@3"] == pytest.approx(1 / (1 + 1 / math.log2(3)), abs=1e-12)
    assert result.metrics["ndcg@3"] == pytest.approx(0.6131471927654584, abs=1e-12)
    assert result.metrics["hr@3"] == 1.0
    assert result.metrics["recall@3"] == 0.5
    assert result.metrics["precision@3"] == pytest.approx(1 / 3)
    assert result.to_dict() == {**result.metrics, "n_users": 1}
    assert list(result.per_user.columns) == ["user", "n_test", "hr@3", "ndcg@3", "recall@3", "precision@3"]


def test_batch_size_does_not_change_a_single_bit():
    rng = np.random.default_rng(6)
    train, test = random_split(rng, 50, 80)
    scores = np.round(rng.standard_normal((50, 80)), 1).astype(np.float32)  # some ties too
    results = [run(scores, train, test, (1, 5, 20), batch_size=b, return_topk=True) for b in (1, 3, 7, 1024)]
    for other in results[1:]:
        pd.testing.assert_frame_equal(other.per_user, results[0].per_user, check_exact=True)
        assert other.metrics == results[0].metrics
        assert torch.equal(other.topk, results[0].topk)


# ---------------------------------------------------------------- properties

SCORE_VALUES = st.sampled_from([-INF, -1.5, -0.0, 0.0, 0.25, 1.0, INF])


@st.composite
def cases(draw):
    n_users, n_items = draw(st.integers(1, 6)), draw(st.integers(1, 12))
    scores = draw(hnp.arrays(np.float64, (n_users, n_items), elements=SCORE_VALUES | st.floats(-3, 3)))
    split = draw(hnp.arrays(np.int8, (n_users, n_items), elements=st.integers(0, 2)))
    ks = draw(st.lists(st.integers(1, 15), min_size=1, max_size=3, unique=True))
    return scores, split == 1, split == 2, tuple(sorted(ks)), draw(st.integers(1, 4))


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(cases())
def test_property_matches_reference(case):
    scores, train, test, ks, batch_size = case
    if not test.any():
        with pytest.raises(EmptyDatasetError):
            run(scores, train, test, ks)
        return
    result = run(scores, train, test, ks, batch_size=batch_size, return_topk=True)
    assert_matches_reference(result, reference(scores, train, test, ks))
    users = result.per_user["user"].to_numpy()
    assert torch.equal(result.topk, torch.from_numpy(reference_topk(scores[users], max(ks), train[users])))


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(np.float32, st.tuples(st.integers(1, 5), st.integers(1, 12)), elements=SCORE_VALUES),
    st.integers(1, 14),
    st.data(),
)
def test_property_topk_items_order(scores, k, data):
    exclude = data.draw(hnp.arrays(np.bool_, scores.shape))
    got = topk_items(torch.from_numpy(scores), k, torch.from_numpy(exclude))
    assert torch.equal(got, torch.from_numpy(reference_topk(scores, k, exclude)))
    no_exclude = topk_items(torch.from_numpy(scores), k)
    assert torch.equal(no_exclude, torch.from_numpy(reference_topk(scores, k, np.zeros_like(exclude))))


def test_topk_items_puts_excluded_items_after_minus_infinity_scores():
    scores = torch.tensor([[1.0, -INF, 2.0, -INF, 2.0]])
    exclude = torch.tensor([[False, False, True, False, False]])
    assert topk_items(scores, 10, exclude).tolist() == [[4, 0, 1, 3, 2]]
    assert topk_items(scores, 2, exclude).tolist() == [[4, 0]]
    assert topk_items(scores, 2).tolist() == [[2, 4]]


# ---------------------------------------------------------------- torchmetrics cross-check


def test_agrees_with_torchmetrics_without_ties():
    tm = pytest.importorskip("torchmetrics.retrieval")
    rng = np.random.default_rng(7)
    train, test = random_split(rng, 60, 50)
    scores = rng.standard_normal((60, 50))
    ks = (1, 5, 10)
    result = run(scores, train, test, ks)
    keep = ~train & test.any(axis=1, keepdims=True)  # torchmetrics does not exclude train items
    users, items = np.nonzero(keep)
    preds = torch.from_numpy(scores[users, items])
    target = torch.from_numpy(test[users, items])
    indexes = torch.from_numpy(users)
    for k in ks:
        for name, metric in [
            ("hr", tm.RetrievalHitRate(top_k=k)),
            ("ndcg", tm.RetrievalNormalizedDCG(top_k=k)),
            ("recall", tm.RetrievalRecall(top_k=k)),
        ]:
            expected = metric(preds, target, indexes=indexes).item()
            assert result.metrics[f"{name}@{k}"] == pytest.approx(expected, abs=1e-6), (name, k)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("where", ["candidate", "train item", "beside infinities"])
def test_nan_scores_raise_training_error(where):
    scores = np.array([[0.5, 0.1, INF, -INF]])
    scores[0, {"candidate": 0, "train item": 1, "beside infinities": 0}[where]] = np.nan
    train = np.array([[False, True, False, False]])
    test = np.array([[False, False, True, True]])
    with pytest.raises(TrainingError, match="NaN"):
        run(scores, train, test, (2,))
    with pytest.raises(TrainingError, match="NaN"):
        topk_items(torch.from_numpy(scores), 2)


def test_infinite_scores_are_allowed():
    scores = np.array([[INF, -INF, 0.0, INF, -INF]])
    train = np.array([[False, False, False, True, False]])
    test = np.array([[False, True, False, False, True]])
    result = run(scores, train, test, (3,), return_topk=True)
    assert result.topk.tolist() == [[0, 2, 1]]
    assert_matches_reference(result, reference(scores, train, test, (3,)))


def test_user_errors_are_symcere_errors():
    train = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]]))
    test = sp.csr_matrix(np.array([[0, 1, 0], [0, 0, 1]]))

    def score_fn(users):
        return torch.zeros(len(users), 3)

    with pytest.raises(SymcereError, match="shape"):
        evaluate(score_fn, train, sp.csr_matrix((2, 4)), progress=False)
    with pytest.raises(LeakageError, match="user 0 item 0"):
        evaluate(score_fn, train, train, progress=False)
    with pytest.raises(EmptyDatasetError):
        evaluate(score_fn, train, sp.csr_matrix((2, 3)), progress=False)
    with pytest.raises(SymcereError, match="positive integers"):
        evaluate(score_fn, train, test, ks=(0,), progress=False)
    with pytest.raises(TrainingError, match="one score per item"):
        evaluate(lambda users: torch.zeros(len(users), 2), train, test, progress=False)
    with pytest.raises(SymcereError, match="k >= 1"):
        topk_items(torch.zeros(1, 3), 0)


def test_explicit_zeros_in_the_sparse_matrix_are_not_interactions():
    train = sp.csr_matrix((np.array([0.0, 1.0]), (np.array([0, 0]), np.array([0, 1]))), shape=(1, 4))
    test = sp.csr_matrix(np.array([[0.0, 0.0, 1.0, 0.0]]))
    result = evaluate(lambda u: torch.tensor([[3.0, 2.0, 1.0, 0.0]]), train, test, ks=(1, 2), progress=False)
    assert result.metrics["hr@1"] == 0.0  # item 0 (explicit zero) is a candidate and ranks first
    assert result.metrics["hr@2"] == 1.0
