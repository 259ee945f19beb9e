"""symcere_kit.protocols: sampled ranking against a brute-force reference, the random ranker against exact
enumeration, the sampler's rules, the leaky mask."""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import symcere_kit.evaluate as evaluate_module
from symcere_kit.errors import SymcereError
from symcere_kit.evaluate import evaluate
from symcere_kit.protocols import (
    LeakyProtocolWarning,
    candidate_counts,
    chance_table,
    evaluate_protocol,
    parse_protocol,
    random_ranker,
    repeats_exclude,
    sample_candidates,
)


def _split(n_users=40, n_items=60, seed=0, test_share=0.06):
    rng = np.random.default_rng(seed)
    train = (rng.random((n_users, n_items)) < 0.15).astype(np.float32)
    test = ((rng.random((n_users, n_items)) < test_share) & (train == 0)).astype(np.float32)
    test[0, :] = 0  # a user without test items is skipped
    test[1, (train[1] == 0).argmax()] = 1
    return sp.csr_matrix(train), sp.csr_matrix(test)


def _brute(scores: np.ndarray, candidates: sp.csr_matrix, test: sp.csr_matrix, k: int) -> dict[str, float]:
    """Every user, every candidate: sort by (score desc, index asc), score the top k in plain Python."""
    hr, ndcg = [], []
    for u in range(test.shape[0]):
        pos = set(test[u].indices)
        if not pos:
            continue
        ranked = sorted(candidates[u].indices, key=lambda i: (-scores[u, i], i))[:k]
        dcg = sum(1 / math.log2(r + 2) for r, i in enumerate(ranked) if i in pos)
        idcg = sum(1 / math.log2(r + 2) for r in range(min(len(pos), k)))
        hr.append(float(any(i in pos for i in ranked)))
        ndcg.append(dcg / idcg)
    return {f"hr@{k}": float(np.mean(hr)), f"ndcg@{k}": float(np.mean(ndcg))}


@pytest.mark.parametrize("path", [0.0, math.inf], ids=["frame", "pairwise"])
@pytest.mark.parametrize("name", ["uni5", "pop5", "uni100", "pop20"])
@pytest.mark.parametrize("k", [1, 10])
def test_sampled_metrics_match_brute_force(name, k, path, monkeypatch):
    monkeypatch.setattr(evaluate_module, "PAIRS_PER_SCORE", path)  # each way of ranking a candidate set
    train, test = _split()
    scores = np.round(np.random.default_rng(1).normal(size=train.shape), 1)  # rounded: many ties
    scores[2, :7] = -np.inf  # a tie at -inf among candidates too
    cands = sample_candidates(train, test, name, seed=3)
    got = evaluate_protocol(lambda u: torch.from_numpy(scores[u.numpy()]), train, test, name, ks=(k,),
                            candidates=cands, progress=False)
    want = _brute(scores, cands, test, k)
    assert got.metrics[f"hr@{k}"] == pytest.approx(want[f"hr@{k}"], abs=1e-12)
    assert got.metrics[f"ndcg@{k}"] == pytest.approx(want[f"ndcg@{k}"], abs=1e-12)


def test_both_ways_of_ranking_candidates_give_the_same_bits_at_every_batch_size(monkeypatch):
    train, test = _split(n_users=70, n_items=50, test_share=0.2)  # users with many test items: mixed batches
    scores = torch.from_numpy(np.random.default_rng(4).integers(0, 4, size=train.shape)).float()  # ties everywhere
    cands = sample_candidates(train, test, "uni10", seed=5)
    runs = {}
    for ratio in (0.0, 0.5, math.inf):
        monkeypatch.setattr(evaluate_module, "PAIRS_PER_SCORE", ratio)
        for batch in (1, 7, 70):
            runs[ratio, batch] = evaluate(lambda u: scores[u], train, test, (1, 5, 20), batch_size=batch,
                                          candidates=cands, progress=False).per_user
    first = next(iter(runs.values()))
    for frame in runs.values():
        assert frame.equals(first)
    top = evaluate(lambda u: scores[u], train, test, (5,), candidates=cands, progress=False, return_topk=True).topk
    outside = [(u, i) for u, row in zip(first["user"], top.numpy()) for i in row if i >= 0 and not cands[u, i]]
    assert not outside  # a top list holds candidates only, then -1


@pytest.mark.parametrize("name", ["uni3", "pop3"])
def test_candidates_follow_the_sampling_rules(name):
    train, test = _split()
    pop = np.asarray(train.sum(axis=0)).ravel()
    cands = sample_candidates(train, test, name, seed=0)
    for u in range(test.shape[0]):
        c, t, tr = set(cands[u].indices), set(test[u].indices), set(train[u].indices)
        assert t <= c, "every test item is a candidate"
        assert not c & tr, "no training item is a candidate"
        negatives = c - t
        assert len(negatives) <= 3 * len(t), "at most N distinct negatives per test interaction"
        if t:
            assert negatives, "a test user gets negatives"
        else:
            assert not c
        if name.startswith("pop"):
            assert all(pop[i] > 0 for i in negatives), "an item nobody trained on is never drawn by pop"


def test_sampling_is_seeded_and_the_same_for_every_batch_size():
    train, test = _split()
    a, b, c = (sample_candidates(train, test, "uni10", seed=s) for s in (0, 0, 1))
    assert (a != b).nnz == 0 and (a != c).nnz > 0
    scores = torch.randn(train.shape)
    runs = [evaluate_protocol(lambda u: scores[u], train, test, "uni10", seed=0, batch_size=bs, progress=False)
            for bs in (1, 7, 1024)]
    assert all(r.per_user.equals(runs[0].per_user) for r in runs[1:])


def test_draws_follow_the_distribution_restricted_to_allowed_items():
    # one user, 2 test items, many draws: each allowed item's share tends to its renormalised weight
    n_items = 8
    train = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 1, 0, 0, 0, 0, 0, 0]], dtype=np.float32))
    pop = np.array([5, 5, 0, 1, 2, 3, 4, 10], dtype=float)
    counts = np.zeros(n_items)
    for seed in range(400):  # 1 draw per test interaction: the candidate set is that one item
        cands = sample_candidates(train, test, "pop1", seed=seed, popularity=pop)
        counts[np.setdiff1d(cands[0].indices, [1])] += 1
    want = np.where(np.isin(np.arange(n_items), [0, 1]), 0, pop) / pop[2:].sum()
    assert counts[[0, 1, 2]].sum() == 0
    assert np.abs(counts / counts.sum() - want).max() < 0.06


def test_a_user_with_nothing_left_to_draw_is_refused():
    train = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 0, 1], [0, 1, 0]], dtype=np.float32))
    with pytest.raises(SymcereError, match="1 user.*user 0.*every item uni1"):
        sample_candidates(train, test, "uni1")
    # user 1 may still get item 2 under uni1, but nobody trained on item 2, so pop1 cannot draw it
    train = sp.csr_matrix(np.array([[1, 0, 0], [1, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 0, 0], [0, 1, 0]], dtype=np.float32))
    assert sample_candidates(train, test, "uni1")[1].indices.tolist() == [1, 2]
    with pytest.raises(SymcereError, match="user 1.*every item pop1"):
        sample_candidates(train, test, "pop1")


def test_full_through_protocols_is_evaluate_bit_for_bit():
    train, test = _split()
    scores = torch.randn(train.shape, generator=torch.Generator().manual_seed(0))
    a = evaluate(lambda u: scores[u], train, test, ks=(5, 10), progress=False)
    b = evaluate_protocol(lambda u: scores[u], train, test, "full", ks=(5, 10), progress=False)
    assert a.metrics == b.metrics and a.per_user.equals(b.per_user)


def test_repeats_mask_leaves_a_repeated_test_item_rankable(monkeypatch):
    monkeypatch.setattr("symcere_kit.protocols._WARNED", set())
    train = sp.csr_matrix(np.array([[1, 1, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 1, 0, 0]], dtype=np.float32))  # item 1 in both: a repeated pair
    assert repeats_exclude(train, test).toarray().tolist() == [[1, 0, 0, 0]]
    scores = torch.tensor([[9.0, 8.0, 1.0, 0.0]])  # the model remembers item 1 from training
    with pytest.warns(LeakyProtocolWarning, match="FLAWED"):
        r = evaluate_protocol(lambda u: scores[u], train, test, "repeats", progress=False)
    assert r.metrics["hr@10"] == 1.0 and r.metrics["ndcg@10"] == 1.0  # ranked first
    with pytest.raises(Exception, match="both train and test"):  # the honest mask refuses such a split
        evaluate(lambda u: scores[u], train, test, progress=False)


def _enumerate(c: int, m: int, k: int) -> tuple[float, float]:
    """Exact expectation over every order of C candidates of which the first m are test items."""
    hr = ndcg = 0.0
    idcg = sum(1 / math.log2(r + 2) for r in range(min(m, k)))
    perms = list(itertools.permutations(range(c)))
    for order in perms:
        top = order[:k]
        hr += any(i < m for i in top)
        ndcg += sum(1 / math.log2(r + 2) for r, i in enumerate(top) if i < m) / idcg
    return hr / len(perms), ndcg / len(perms)


@pytest.mark.parametrize("c,m,k", [(1, 1, 10), (3, 1, 1), (5, 2, 3), (6, 3, 2), (6, 1, 10), (7, 2, 4), (7, 7, 3)])
def test_random_ranker_matches_exact_enumeration(c, m, k):
    got = random_ranker((np.array([c]), np.array([m])), ks=(k,))
    hr, ndcg = _enumerate(c, m, k)
    assert got[f"hr@{k}"] == pytest.approx(hr, abs=1e-12)
    assert got[f"ndcg@{k}"] == pytest.approx(ndcg, abs=1e-12)


def test_random_ranker_is_what_random_scores_average_to():
    """Not the reference (enumeration is), a cross-check: 300 random scorings' mean lands near it."""
    train, test = _split()
    cands = sample_candidates(train, test, "uni20", seed=0)
    want = random_ranker(candidate_counts(train, test, "uni20", cands))
    gen = torch.Generator().manual_seed(0)
    got = np.mean([evaluate_protocol(lambda u: torch.rand(len(u), train.shape[1], generator=gen), train, test,
                                     "uni20", candidates=cands, progress=False).metrics["hr@10"] for _ in range(300)])
    assert got == pytest.approx(want["hr@10"], abs=0.02)


def test_chance_of_sampled_protocols_is_far_above_full():
    train, test = _split(n_users=50, n_items=2000, test_share=0.001)  # ~2 test items per user, as in real data
    chance = chance_table(train, test, ["full", "uni100", "pop100", "repeats", "test-epoch"]).set_index(
        ["protocol", "metric"]
    )
    full, uni = chance.loc[("full", "hr@10"), "value"], chance.loc[("uni100", "hr@10"), "value"]
    assert uni > 2 * full
    assert chance.loc[("test-epoch", "hr@10"), "value"] == full == chance.loc[("repeats", "hr@10"), "value"]


def test_protocol_names():
    assert parse_protocol("UNI100").n_negatives == 100 and parse_protocol("pop7").distribution == "popularity"
    assert parse_protocol("repeats").leaky and not parse_protocol("uni100").leaky
    assert parse_protocol("full").rescores and not parse_protocol("test-epoch").rescores
    for bad in ("uni0", "uni", "sampled", "pop-5"):
        with pytest.raises(SymcereError, match="Unknown evaluation protocol"):
            parse_protocol(bad)
    with pytest.raises(SymcereError, match="trains its own runs"):
        evaluate_protocol(lambda u: u, *_split(), "test-epoch")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_protocol("uni100")  # naming an honest protocol never warns


def test_repeats_reading_keeps_pairs_and_ranks_with_recbole_mask(tmp_path, monkeypatch):
    """A file with a (user, item) pair repeated across the split: the honest reading drops the repeat, the
    repeats reading keeps both, flags the dataset, counts the leak, and evaluates with train - test."""
    import pandas as pd

    from symcere_kit.data.dataset import load_dataset

    monkeypatch.setenv("SYMCERE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("symcere_kit.protocols._WARNED", set())
    rows = [(u, i, t) for u in range(6) for t, i in enumerate(range(u, u + 6))]
    rows += [(0, 0, 100)]  # user 0 reviews item 0 again, last: its test part repeats a training pair
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["timestamp"] = frame["timestamp"] * 86_400 + 1_600_000_000
    path = tmp_path / "reviews.csv"
    frame.assign(text="fine", rating=5).to_csv(path, index=False)
    kw = dict(column_map={"user": "user_id", "item": "item_id", "timestamp": "timestamp", "text": "text",
                          "rating": "rating"}, progress=False)
    from symcere_kit.config import DataConfig

    config = DataConfig(user_k=1, item_k=1)
    honest = load_dataset(str(path), config, **kw)
    with pytest.warns(LeakyProtocolWarning, match="repeats"):
        leaky = load_dataset(f"{path}@repeats", config, **kw)
    assert honest.stats["losses"]["duplicate_pairs"] == 1 and not honest.repeats_kept
    assert honest.rank_exclude is None
    assert leaky.repeats_kept and leaky.name.endswith("@repeats")
    assert leaky.tuning_fingerprint == honest.fingerprint != leaky.fingerprint
    rep = leaky.stats["repeats"]
    assert rep["repeated_pairs"] == 1 and rep["test_pairs"] == 1 and rep["users"] == 1
    u0 = leaky.user_ids.tolist().index("0")
    item0 = leaky.item_ids.tolist().index("0")
    assert leaky.test_csr[u0, item0] == 1 and leaky.train_csr[u0, item0] == 1  # the pair on both sides
    assert leaky.rank_exclude[u0, item0] == 0  # ... and rankable, RecBole's way
    assert leaky.train_csr.max() == 1  # a repeated pair counts once in the graph
    # re-scoring a repeats run under full keeps its own mask (the plain training mask refuses the pair)
    from symcere_kit.errors import LeakageError
    from symcere_kit.runs.rescore import own_mask

    score = lambda u: torch.zeros(len(u), leaky.n_items)  # noqa: E731
    with pytest.raises(LeakageError):
        evaluate_protocol(score, leaky.train_csr, leaky.test_csr, "full", progress=False)
    got = evaluate_protocol(score, leaky.train_csr, leaky.test_csr, "full", progress=False, **own_mask(leaky, "full"))
    want = evaluate(score, leaky.train_csr, leaky.test_csr, exclude=leaky.rank_exclude, progress=False)
    assert got.metrics == want.metrics
    assert own_mask(leaky, "uni100") == {} and own_mask(honest, "full") == {}
    # a sampled protocol ranks the candidates (every test item among them), whatever training holds
    sampled = evaluate_protocol(score, leaky.train_csr, leaky.test_csr, "uni3", progress=False)
    assert sampled.n_users == int((leaky.test_csr.getnnz(axis=1) > 0).sum())


def test_unknown_reading_is_refused():
    from symcere_kit.data.readings import split_reading

    assert split_reading("amazon2018_gift_cards_5") == ("amazon2018_gift_cards_5", None)
    assert split_reading("amazon2018_gift_cards_5@repeats") == ("amazon2018_gift_cards_5", "repeats")
    with pytest.raises(SymcereError, match="Unknown data reading 'dedup'"):
        split_reading("amazon2018_gift_cards_5@dedup")
