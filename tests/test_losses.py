"""Contrastive losses (eqs. 3-6) against loop-by-loop references, and the false-negative mask
against brute-force set lookups on a real (synthetic) ReviewDataset."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from symcere_kit.data.dataset import dataset_from_reviews
from symcere_kit.data.synthetic import synthetic_reviews
from symcere_kit.losses import bpr_loss, false_negative_mask, info_nce_loss, symmetric_nce_loss

MODES = ["same", "transpose"]


def _unit(b, d, gen):
    return F.normalize(torch.randn(b, d, generator=gen, dtype=torch.float64), dim=-1)


def _random_mask(b, p, gen):
    m = torch.rand(b, b, generator=gen) < p
    m.fill_diagonal_(False)
    return m


def _ref_direction(anchors, cands, tau, drop):
    """-1/B sum_i [s_ii - log sum_{k in {i} U N_i} exp s_ik], written out with Python loops."""
    a, c, b = anchors.tolist(), cands.tolist(), len(anchors)
    total = 0.0
    for i in range(b):
        s = [sum(x * y for x, y in zip(a[i], c[k])) / tau for k in range(b)]
        kept = [i] + [k for k in range(b) if k != i and not drop[i][k]]
        total += s[i] - math.log(sum(math.exp(s[k]) for k in kept))
    return -total / b


def _ref_symmetric(g, t, tau, mask, mode):
    b = len(g)
    m = mask.tolist() if mask is not None else [[False] * b for _ in range(b)]
    t2g = m if mode == "same" else [[m[k][i] for k in range(b)] for i in range(b)]
    return (_ref_direction(g, t, tau, m) + _ref_direction(t, g, tau, t2g)) / 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("b", [1, 2, 5, 17])
@pytest.mark.parametrize("tau", [0.07, 0.2, 1.0])
def test_symmetric_nce_matches_loop_reference(mode, b, tau):
    gen = torch.Generator().manual_seed(b * 100 + int(tau * 100))
    g, t = _unit(b, 8, gen), _unit(b, 8, gen)
    for p in [0.0, 0.3, 0.8]:
        mask = _random_mask(b, p, gen)
        got = symmetric_nce_loss(g, t, tau, mask, t2g_mask=mode)
        assert got.item() == pytest.approx(_ref_symmetric(g, t, tau, mask, mode), rel=1e-10, abs=1e-12)


def test_the_two_t2g_options_differ_only_through_the_mask():
    gen = torch.Generator().manual_seed(0)
    g, t = _unit(12, 8, gen), _unit(12, 8, gen)
    mask = _random_mask(12, 0.4, gen)
    same = symmetric_nce_loss(g, t, 0.1, mask, t2g_mask="same")
    transpose = symmetric_nce_loss(g, t, 0.1, mask, t2g_mask="transpose")
    assert not torch.isclose(same, transpose)
    sym = mask | mask.T  # a symmetric mask makes both options the same loss
    assert torch.equal(symmetric_nce_loss(g, t, 0.1, sym, t2g_mask="same"),
                       symmetric_nce_loss(g, t, 0.1, sym, t2g_mask="transpose"))
    with pytest.raises(ValueError, match="t2g_mask"):
        symmetric_nce_loss(g, t, 0.1, mask, t2g_mask="both")
    with pytest.raises(ValueError, match="shape"):
        symmetric_nce_loss(g, t, 0.1, mask[0])


@pytest.mark.parametrize("mode", MODES)
def test_unmasked_loss_is_clips_symmetric_cross_entropy(mode):
    gen = torch.Generator().manual_seed(1)
    for b in [1, 3, 16, 64]:
        g, t = _unit(b, 16, gen), _unit(b, 16, gen)
        logits, labels = g @ t.T / 0.1, torch.arange(b)
        clip = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        assert torch.allclose(symmetric_nce_loss(g, t, 0.1), clip, rtol=1e-12, atol=0)
        none = torch.zeros(b, b, dtype=torch.bool)
        assert torch.allclose(symmetric_nce_loss(g, t, 0.1, none, t2g_mask=mode), clip, rtol=1e-12, atol=0)


@pytest.mark.parametrize("mode", MODES)
def test_every_negative_masked_gives_zero_loss(mode):
    gen = torch.Generator().manual_seed(2)
    g, t = torch.randn(9, 4, generator=gen), torch.randn(9, 4, generator=gen)  # raw, large logits too
    everything = torch.ones(9, 9, dtype=torch.bool)  # diagonal included: it is always kept
    assert abs(symmetric_nce_loss(g, t, 0.05, everything, t2g_mask=mode).item()) <= 1e-6
    assert everything.all()  # the caller's mask is not written into
    off_diagonal = ~torch.eye(9, dtype=torch.bool)
    assert abs(symmetric_nce_loss(g, t, 0.05, off_diagonal, t2g_mask=mode).item()) <= 1e-6


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), b=st.integers(1, 24), tau=st.floats(0.02, 2.0),
       mode=st.sampled_from(MODES), normalize=st.booleans())
def test_masking_never_raises_the_loss(seed, b, tau, mode, normalize):
    gen = torch.Generator().manual_seed(seed)
    g, t = torch.randn(b, 6, generator=gen), torch.randn(b, 6, generator=gen)
    if normalize:
        g, t = F.normalize(g, dim=-1), F.normalize(t, dim=-1)
    loss = symmetric_nce_loss(g, t, tau).item()
    mask = torch.zeros(b, b, dtype=torch.bool)
    for pairs in torch.randperm(b * b, generator=gen).chunk(8):  # add masked pairs, a chunk at a time
        mask.view(-1)[pairs] = True
        masked = symmetric_nce_loss(g, t, tau, mask, t2g_mask=mode).item()
        assert masked <= loss + 1e-6 * max(1.0, abs(loss))
        loss = masked


@pytest.mark.parametrize("mode", MODES)
def test_gradients_are_finite_when_rows_keep_only_the_diagonal(mode):
    gen = torch.Generator().manual_seed(3)
    g = torch.randn(8, 5, generator=gen, requires_grad=True)
    t = torch.randn(8, 5, generator=gen, requires_grad=True)
    mask = _random_mask(8, 0.3, gen)
    mask[:3] = True  # rows 0-2: only the diagonal is left
    mask[:, 5] = True  # column 5: so under "transpose" row 5 of T->G keeps only its diagonal
    loss = symmetric_nce_loss(F.normalize(g, dim=-1), F.normalize(t, dim=-1), 0.07, mask, t2g_mask=mode)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(g.grad).all() and torch.isfinite(t.grad).all()
    assert g.grad.abs().sum() > 0


@pytest.mark.parametrize("b", [1, 4, 19])
@pytest.mark.parametrize("tau", [0.05, 0.5])
def test_info_nce_is_one_direction_cross_entropy(b, tau):
    gen = torch.Generator().manual_seed(b)
    a, v = _unit(b, 8, gen), _unit(b, 8, gen)
    got = info_nce_loss(a, v, tau)
    assert torch.allclose(got, F.cross_entropy(a @ v.T / tau, torch.arange(b)), rtol=1e-12, atol=0)
    assert got.item() == pytest.approx(_ref_direction(a, v, tau, [[False] * b] * b), rel=1e-10, abs=1e-12)
    if b > 1:  # one direction: not symmetric in its arguments
        assert not torch.isclose(got, info_nce_loss(v, a, tau))


# --- false-negative mask on a real dataset -------------------------------------------------------


@pytest.fixture(scope="module")
def dataset():
    return dataset_from_reviews(synthetic_reviews(seed=0), name="synthetic")


def _brute_force(users, items, pairs):
    b = len(users)
    return torch.tensor([[i != j and (users[i], items[j]) in pairs for j in range(b)] for i in range(b)])


def _pairs(frame):
    return set(zip(frame["user"].tolist(), frame["item"].tolist()))


def _batch_crossing_test_pairs(ds, n, seed):
    """Training interactions (u_i, v_i) and (u_j, v_j) chosen so that (u_i, v_j) is a TEST pair,
    plus random training interactions."""
    rng = np.random.default_rng(seed)
    train = ds.train[["user", "item"]]
    by_user, by_item = train.groupby("user").groups, train.groupby("item").groups
    test = ds.test[ds.test["item"].isin(by_item)].sample(n, random_state=seed)
    rows, crossings = [], []
    for u, v in zip(test["user"], test["item"]):
        crossings.append((len(rows), len(rows) + 1))
        rows += [rng.choice(by_user[u]), rng.choice(by_item[v])]
    rows += list(rng.choice(len(train), size=n, replace=False))
    order = rng.permutation(len(rows))
    where = np.argsort(order)
    batch = train.iloc[np.asarray(rows)[order]]
    crossings = [(int(where[i]), int(where[j])) for i, j in crossings]
    return torch.tensor(batch["user"].to_numpy()), torch.tensor(batch["item"].to_numpy()), crossings


def test_mask_on_a_training_batch(dataset):
    users, items, crossings = _batch_crossing_test_pairs(dataset, 40, seed=0)
    mask = false_negative_mask(users, items, dataset)
    b = len(users)
    assert mask.shape == (b, b) and mask.dtype == torch.bool and not mask.diagonal().any()
    off = ~torch.eye(b, dtype=torch.bool)
    same_user = (users[:, None] == users[None, :]) & off
    same_item = (items[:, None] == items[None, :]) & off
    assert same_user.any() and same_item.any()  # the batch does exercise both cases
    assert mask[same_user].all() and mask[same_item].all()
    test_pairs = _pairs(dataset.test)
    assert not test_pairs & _pairs(dataset.train)
    for i, j in crossings:
        assert (users[i].item(), items[j].item()) in test_pairs and not mask[i, j]
    crossing_test = torch.tensor([[(u, v) in test_pairs for v in items.tolist()] for u in users.tolist()])
    assert crossing_test.sum() >= len(crossings) and not (mask & crossing_test).any()
    assert torch.equal(mask, _brute_force(users.tolist(), items.tolist(), _pairs(dataset.train)))


def test_dataset_and_callable_lookups_agree(dataset):
    gen = torch.Generator().manual_seed(5)
    idx = torch.randint(len(dataset.train), (300,), generator=gen)  # with repeats: duplicates get masked
    users = torch.tensor(dataset.train["user"].to_numpy())[idx]
    items = torch.tensor(dataset.train["item"].to_numpy())[idx]
    mask = false_negative_mask(users, items, dataset)
    train = _pairs(dataset.train)
    assert torch.equal(mask, false_negative_mask(users, items, dataset.is_train_pair))
    known = dataset.is_train_pair(users[:, None], items[None, :])
    assert torch.equal(mask, false_negative_mask(users, items, lambda u, v: known))
    assert known.diagonal().all()  # the lookup's own tensor is not written into
    assert torch.equal(mask, _brute_force(users.tolist(), items.tolist(), train))
    # random (user, item) pairs, mostly not interactions at all
    users, items = torch.randint(dataset.n_users, (120,)), torch.randint(dataset.n_items, (120,))
    assert torch.equal(false_negative_mask(users, items, dataset),
                       _brute_force(users.tolist(), items.tolist(), train))
    with pytest.raises(TypeError):
        false_negative_mask(users, items, train)


def test_masked_loss_on_a_dataset_batch_matches_the_reference(dataset):
    users, items, _ = _batch_crossing_test_pairs(dataset, 10, seed=1)
    mask = false_negative_mask(users, items, dataset)
    gen = torch.Generator().manual_seed(6)
    g, t = _unit(len(users), 8, gen), _unit(len(users), 8, gen)
    for mode in MODES:
        got = symmetric_nce_loss(g, t, 0.1, mask, t2g_mask=mode).item()
        assert got == pytest.approx(_ref_symmetric(g, t, 0.1, mask, mode), rel=1e-10)
        assert got < symmetric_nce_loss(g, t, 0.1).item()


@pytest.mark.cuda
def test_mask_and_loss_follow_the_device(dataset):
    users, items, _ = _batch_crossing_test_pairs(dataset, 10, seed=2)
    cpu = false_negative_mask(users, items, dataset)
    gpu = false_negative_mask(users.cuda(), items.cuda(), dataset)
    assert gpu.is_cuda and torch.equal(gpu.cpu(), cpu)
    assert torch.equal(false_negative_mask(users.cuda(), items.cuda(), dataset.is_train_pair).cpu(), cpu)
    gen = torch.Generator().manual_seed(7)
    g, t = _unit(len(users), 8, gen), _unit(len(users), 8, gen)
    for mode in MODES:
        on_gpu = symmetric_nce_loss(g.cuda(), t.cuda(), 0.1, gpu, t2g_mask=mode)
        on_cpu = symmetric_nce_loss(g, t, 0.1, cpu, t2g_mask=mode)
        assert on_gpu.is_cuda and on_gpu.item() == pytest.approx(on_cpu.item())


def test_bpr_loss_mean_and_sum_as_eq7_writes_it():
    gen = torch.Generator().manual_seed(0)
    pos, neg = torch.randn(7, generator=gen, dtype=torch.float64), torch.randn(7, generator=gen, dtype=torch.float64)
    ref = [-math.log(1 / (1 + math.exp(-(p - n)))) for p, n in zip(pos.tolist(), neg.tolist())]
    assert bpr_loss(pos, neg, "sum").item() == pytest.approx(sum(ref), rel=1e-12)
    assert bpr_loss(pos, neg).item() == pytest.approx(sum(ref) / 7, rel=1e-12)
    with pytest.raises(ValueError, match="reduction"):
        bpr_loss(pos, neg, "max")
