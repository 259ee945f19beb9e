"""NeuMF and SGL: their pieces against references, and each learns on generated data."""
import math

import pytest
import torch
import torch.nn.functional as F

from symcere_kit.config import TrainConfig
from symcere_kit.data.dataset import dataset_from_reviews
from symcere_kit.data.synthetic import synthetic_reviews
from symcere_kit.evaluate import evaluate
from symcere_kit.losses import node_info_nce
from symcere_kit.models import build_model
from symcere_kit.train import run, seed_everything


@pytest.fixture(scope="module")
def ds():
    return dataset_from_reviews(synthetic_reviews(n_users=160, n_items=90, seed=3), name="syn")


@pytest.fixture(scope="module")
def random_ndcg(ds):
    g = torch.Generator().manual_seed(0)
    res = evaluate(lambda users: torch.rand(len(users), ds.n_items, generator=g), ds.train_csr, ds.test_csr,
                   progress=False)
    return res.metrics["ndcg@10"]


@pytest.mark.parametrize("model,overrides", [("neumf", dict(epochs=30, lr=0.01)), ("sgl", dict(epochs=30, lr=0.01))])
def test_baseline_learns_clearly_above_random(ds, random_ndcg, model, overrides):
    res = run(ds, TrainConfig.for_model(model, batch_size=256, **overrides), progress=False)
    assert all(math.isfinite(v) for v in res.metrics.values())
    assert res.metrics["ndcg@10"] > 1.5 * random_ndcg


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
    model = build_model("sgl", ds, TrainConfig.for_model("sgl"))
    g = seed_everything(0)
    model.on_epoch_start(g)
    first = [v.to_dense() for v in model.views]
    assert not torch.equal(first[0], first[1])
    model.on_epoch_start(g)
    assert not torch.equal(first[0], model.views[0].to_dense())
    batch = {"user": torch.tensor([0, 1, 2]), "pos": torch.tensor([0, 1, 2]), "neg": torch.tensor([3, 4, 5]),
             "index": torch.arange(3)}
    t = model.batch_loss(batch)
    torch.testing.assert_close(t["loss"], t["bpr"] + model.config.reg_weight * t["reg"] + model.config.alpha * t["ssl"])


def test_neumf_full_ranking_scores_equal_pairwise_logits(ds, monkeypatch):
    import symcere_kit.models.neumf as neumf

    model = build_model("neumf", ds, TrainConfig.for_model("neumf")).eval()
    monkeypatch.setattr(neumf, "PAIRS_PER_CHUNK", 2 * ds.n_items)  # force several chunks
    users = torch.arange(5)
    scores = model.score(users)
    with torch.no_grad():
        direct = model.logits(torch.tensor([3]).repeat(ds.n_items), torch.arange(ds.n_items))
    assert scores.shape == (5, ds.n_items)
    torch.testing.assert_close(scores[3], direct)
