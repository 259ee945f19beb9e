"""The baselines' pieces against references (every model's end-to-end contract: test_contract.py)."""
import math

import pytest
import torch
import torch.nn.functional as F

from symcere_kit.losses import node_info_nce
from symcere_kit.models import build_model, run_config
from symcere_kit.train import seed_everything


def test_node_info_nce_matches_a_loop_reference():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(7, 5, generator=g, dtype=torch.float64), torch.randn(7, 5, generator=g, dtype=torch.float64)
    rows = torch.tensor([3, 0, 3, 6])
    a, b = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    ref = 0.0
    for i in rows.tolist():
        sims = [float(a[i] @ b[j]) / 0.5 for j in range(7)]
        ref -= sims[i] - math.log(sum(math.exp(s) for s in sims))
    assert node_info_nce(z1, z2, rows, 0.5).item() == pytest.approx(ref, rel=1e-10)


def test_sgl_draws_two_fresh_views_each_epoch_and_adds_their_loss(ds):
    model = build_model(run_config("sgl"), ds)
    g = seed_everything(0)
    model.on_epoch_start(g)
    first = [v.to_dense() for v in model.views]
    assert not torch.equal(first[0], first[1])
    model.on_epoch_start(g)
    assert not torch.equal(first[0], model.views[0].to_dense())
    batch = {"user": torch.tensor([0, 1, 2]), "pos": torch.tensor([0, 1, 2]), "neg": torch.tensor([3, 4, 5]),
             "index": torch.arange(3)}
    t = model.batch_loss(batch)
    s = model.settings
    torch.testing.assert_close(t["loss"], t["bpr"] + s.reg_weight * t["reg"] + s.ssl_weight * t["ssl"])


def test_neumf_full_ranking_scores_equal_pairwise_logits(ds, monkeypatch):
    import symcere_kit.models.neumf as neumf

    model = build_model(run_config("neumf"), ds).eval()
    monkeypatch.setattr(neumf, "PAIRS_PER_CHUNK", 2 * ds.n_items)  # force several chunks
    users = torch.arange(5)
    scores = model.score(users)
    with torch.no_grad():
        direct = model.logits(torch.tensor([3]).repeat(ds.n_items), torch.arange(ds.n_items))
    assert scores.shape == (5, ds.n_items)
    torch.testing.assert_close(scores[3], direct)


# ---------------------------------------------------------------- SMORE (text-only)
def smore_config(tiny_bert_dir, **kw):
    return run_config("smore", text_model=str(tiny_bert_dir), max_length=32, batch_size=256, **kw)


def test_knn_adjacency_matches_smores_dense_formula():
    from symcere_kit.graph import knn_adjacency

    g = torch.Generator().manual_seed(1)
    x = torch.randn(9, 6, generator=g, dtype=torch.float64).abs()  # positive similarities, as real text features
    x[4] = 0.0  # an item without training reviews
    k = 3
    a = knn_adjacency(x, k).to_dense().double()
    unit = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    sim = unit @ unit.T
    dense = torch.zeros(9, 9, dtype=torch.float64)
    for i in range(9):
        if i == 4:
            continue
        top = sorted(range(9), key=lambda j: -float(sim[i, j]))[:k]
        for j in top:
            dense[i, j] = sim[i, j]
    deg = dense.sum(1)
    inv = torch.where(deg > 0, deg.clamp_min(1e-300).rsqrt(), torch.zeros_like(deg))
    expected = inv[:, None] * dense * inv[None, :]
    torch.testing.assert_close(a, expected, atol=1e-6, rtol=1e-5)
    assert (a.diagonal()[torch.arange(9) != 4] > 0).all()  # each item is its own nearest neighbour
    assert torch.isfinite(a).all() and a[4].abs().sum() == 0


@pytest.mark.slow
def test_smore_item_features_average_only_that_items_training_reviews(ds, tiny_bert_dir):
    from symcere_kit.models.smore import item_text_features
    from symcere_kit.text import text_encoder_from_config

    config = smore_config(tiny_bert_dir)
    feats = item_text_features(ds, config.settings, progress=False)
    reviews = text_encoder_from_config(config.settings, mode="frozen").encode(
        ds.train_texts, progress=False, cache=False
    )
    items = ds.train["item"].to_numpy()
    for item in (int(items[0]), int(items[-1])):
        torch.testing.assert_close(feats[item], reviews[torch.from_numpy(items == item)].mean(0), atol=1e-5, rtol=1e-5)
    unseen = sorted(set(range(ds.n_items)) - set(items.tolist()))
    assert all(feats[i].abs().sum() == 0 for i in unseen)


def test_smore_propagation_spectrum_and_loss_terms(ds, tiny_bert_dir):
    from symcere_kit.models.smore import SMORE

    features = torch.rand(ds.n_items, 12, generator=torch.Generator().manual_seed(0))
    model = SMORE(ds, smore_config(tiny_bert_dir).settings, features=features)
    # users aggregate items through the user rows of the normalised bipartite adjacency
    full = ds.norm_adjacency().to_dense()
    torch.testing.assert_close(model.user_items.to_dense(), full[: ds.n_users, ds.n_users:])
    # an all-pass filter (w = 1 + 0i) leaves the projected features unchanged
    with torch.no_grad():
        model.spectrum.copy_(torch.tensor([1.0, 0.0]).expand_as(model.spectrum))
        torch.testing.assert_close(model.denoised_text(), model.text_proj(model.text_features), atol=1e-5, rtol=1e-5)
    batch = {"user": torch.tensor([0, 1, 2]), "pos": torch.tensor([0, 1, 2]), "neg": torch.tensor([3, 4, 5]),
             "index": torch.arange(3)}
    t = model.batch_loss(batch)
    c = model.settings
    torch.testing.assert_close(t["loss"], t["bpr"] + c.reg_weight * t["reg"] + c.cl_weight * t["cl"])
    t["loss"].backward()
    assert model.text_features.grad is not None and model.spectrum.grad.abs().sum() > 0
