import numpy as np
import pytest
import torch

from symcere_kit.config import DataConfig
from symcere_kit.data.dataset import dataset_from_reviews
from symcere_kit.data.synthetic import synthetic_reviews
from symcere_kit.errors import TrainingError
from symcere_kit.graph import LightGCNEncoder
from symcere_kit.graph.adjacency import normalized_bipartite_adjacency
from symcere_kit.models import run_config
from symcere_kit.sampling import bpr_batches, sample_negatives
from symcere_kit.train import run


def dense_norm_adj(r: np.ndarray) -> np.ndarray:
    u, i = r.shape
    a = np.zeros((u + i, u + i))
    a[:u, u:], a[u:, :u] = r, r.T
    d = a.sum(1)
    inv = np.where(d > 0, d, np.inf) ** -0.5
    return inv[:, None] * a * inv[None, :]


def test_normalized_adjacency_matches_dense_formula(ds):
    got = normalized_bipartite_adjacency(ds.train_csr).to_dense().numpy()
    np.testing.assert_allclose(got, dense_norm_adj(ds.train_csr.toarray()), rtol=1e-6, atol=1e-7)


def test_lightgcn_encoder_is_the_layer_mean_of_propagations(ds):
    enc = LightGCNEncoder(ds.n_users, ds.n_items, dim=8, n_layers=3)
    a = torch.tensor(dense_norm_adj(ds.train_csr.toarray()), dtype=torch.float32)
    e0 = enc.embedding.weight.detach()
    layers = [e0]
    for _ in range(3):
        layers.append(a @ layers[-1])
    expected = torch.stack(layers).mean(0)
    users, items = enc(ds.norm_adjacency())
    torch.testing.assert_close(torch.cat([users, items]).detach(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_symmetric_spmm_gives_torchs_product_and_gradient_bit_for_bit(ds, device):
    """The product and its gradient equal torch's own sparse.mm autograd exactly on the dataset's adjacency
    and on an edge-dropout view, so training is unchanged while the backward skips the transpose. On CUDA
    (cuSPARSE, whose summation order is its own) they must agree to float32 rounding, with the CPU's too."""
    from symcere_kit.graph import edge_dropout_adjacency
    from symcere_kit.graph.adjacency import symmetric_spmm

    views = [ds.norm_adjacency(), edge_dropout_adjacency(ds.train_csr, 0.1, torch.Generator().manual_seed(0))]
    for cpu_adj in views:
        adj = cpu_adj.to(device)
        x = torch.randn(adj.shape[0], 16, generator=torch.Generator().manual_seed(1)).to(device).requires_grad_()
        g = torch.randn(adj.shape[0], 16, generator=torch.Generator().manual_seed(2)).to(device)
        ours = symmetric_spmm(adj, x)
        (ours * g).sum().backward()
        ours_grad, x.grad = x.grad.clone(), None
        theirs = torch.sparse.mm(adj, x)
        (theirs * g).sum().backward()
        assert ours.device.type == device and ours_grad.device.type == device
        if device == "cpu":
            assert torch.equal(ours, theirs) and torch.equal(ours_grad, x.grad)
        else:
            torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
            torch.testing.assert_close(ours_grad, x.grad, rtol=1e-6, atol=1e-7)
            cpu_x = x.detach().cpu().requires_grad_()
            on_cpu = torch.sparse.mm(cpu_adj, cpu_x)
            (on_cpu * g.cpu()).sum().backward()
            torch.testing.assert_close(ours.cpu(), on_cpu, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(ours_grad.cpu(), cpu_x.grad, rtol=1e-5, atol=1e-6)


def test_train_pair_lookup_knows_training_and_never_test_pairs(ds):
    train = set(zip(ds.train["user"], ds.train["item"]))
    u = torch.arange(ds.n_users).repeat_interleave(ds.n_items)
    i = torch.arange(ds.n_items).repeat(ds.n_users)
    known = ds.is_train_pair(u, i)
    assert known.sum().item() == len(train)
    assert all(known[uu * ds.n_items + ii] for uu, ii in list(train)[:200])
    test_keys = torch.tensor(ds.test["user"].to_numpy() * ds.n_items + ds.test["item"].to_numpy())
    assert not known[test_keys].any()


def test_negatives_are_never_training_items(ds):
    g = torch.Generator().manual_seed(0)
    users = torch.tensor(ds.train["user"].to_numpy()).repeat(5)
    neg = sample_negatives(ds, users, g)
    assert not ds.is_train_pair(users, neg).any()


def test_an_epoch_visits_every_training_interaction_once(ds):
    batches = list(bpr_batches(ds, 100, torch.Generator().manual_seed(0)))
    idx = torch.cat([b["index"] for b in batches])
    assert sorted(idx.tolist()) == list(range(len(ds.train)))
    b = batches[0]
    assert (b["pos"] == torch.tensor(ds.train["item"].to_numpy())[b["index"]]).all()


@pytest.mark.slow
def test_same_seed_same_metrics_and_other_seed_differs(ds):
    cfg = run_config("lightgcn", epochs=3, batch_size=256, seed=7)
    a, b = run(ds, cfg, progress=False), run(ds, cfg, progress=False)
    assert a.metrics == b.metrics and [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    c = run(ds, cfg.replace(seed=8), progress=False)
    assert [h["loss"] for h in c.history] != [h["loss"] for h in a.history]


@pytest.mark.slow
def test_lightgcn_clearly_beats_mostpop_on_clustered_data(ds):
    pop = run(ds, run_config("mostpop"), progress=False).metrics
    lgcn = run(ds, run_config("lightgcn", epochs=40, batch_size=256, lr=0.01), progress=False).metrics
    assert lgcn["ndcg@10"] > 1.2 * pop["ndcg@10"]
    assert lgcn["hr@10"] > pop["hr@10"]


def test_run_records_provenance(ds):
    info = run(ds, run_config("mostpop", seed=4), progress=False).info
    assert info["seed"] == 4 and info["dataset_fingerprint"] == ds.fingerprint
    assert info["data_config"]["split"] == "ratio" and info["data_config"]["user_k"] == ds.meta["config"]["user_k"]
    assert "torch" in info["versions"] and info["git_commit"]
    assert info["config"]["model"] == "mostpop"
    import torch

    machine = info["machine"]  # what decides last bits besides the seed
    assert machine["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability() and machine["cpu"]
    assert set(machine["flags"]) <= {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "fma"}
    assert all(v[0].isdigit() for v in machine["torch_libraries"].values())


def test_nan_loss_stops_with_a_clear_message(ds, monkeypatch):
    from symcere_kit.models.lightgcn import LightGCN

    original = LightGCN.batch_loss

    def poisoned(self, batch):
        out = original(self, batch)
        out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(LightGCN, "batch_loss", poisoned)
    with pytest.raises(TrainingError, match=r"loss became nan in epoch 1.*Lower the learning rate"):
        run(ds, run_config("lightgcn", epochs=2), progress=False)


def test_dataset_texts_are_training_texts_only():
    raw = synthetic_reviews(n_users=60, n_items=40, seed=5)
    raw["text"] = [f"review{k} " + t for k, t in enumerate(raw["text"])]  # every text unique
    ds = dataset_from_reviews(raw, DataConfig(user_k=2, item_k=2))
    pairs = raw.assign(uid=raw["user"], iid=raw["item"]).set_index(["uid", "iid"])["text"]
    test_texts = {pairs[(ds.user_ids[u], ds.item_ids[i])] for u, i in zip(ds.test["user"], ds.test["item"])}
    assert "text" not in ds.test.columns
    assert not test_texts & set(ds.train_texts)
    assert len(ds.train_texts) == len(ds.train)


@pytest.mark.slow
def test_lightgcn_clearly_beats_mostpop_on_musical_instruments(needs_shared):
    from symcere_kit.data.dataset import load_dataset

    mi = load_dataset("amazon2014_musical_instruments", progress=False)
    pop = run(mi, run_config("mostpop"), progress=False).metrics
    lgcn = run(mi, run_config("lightgcn", seed=0), progress=False).metrics
    assert lgcn["ndcg@10"] > 1.3 * pop["ndcg@10"] and lgcn["hr@10"] > 1.3 * pop["hr@10"]


@pytest.mark.slow
def test_resume_from_checkpoint_gives_the_uninterrupted_result(ds, tmp_path):
    cfg = run_config("lightgcn", epochs=4, batch_size=256, seed=2)
    whole = run(ds, cfg, progress=False)
    ckpt = tmp_path / "ckpt.pt"
    run(ds, cfg.replace(epochs=2), progress=False, checkpoint=ckpt)  # "killed" after epoch 2
    resumed = run(ds, cfg, progress=False, checkpoint=ckpt)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    assert resumed.metrics == whole.metrics


@pytest.mark.slow
def test_early_stopping_uses_the_training_holdout_and_restores_the_best_epoch(ds, monkeypatch):
    import symcere_kit.train as train_mod

    seen = []
    original = train_mod.Trainer.evaluate

    def spy(self, dataset=None, **kw):
        seen.append(dataset)
        return original(self, dataset, **kw)

    monkeypatch.setattr(train_mod.Trainer, "evaluate", spy)
    res = run(ds, run_config("lightgcn", epochs=60, batch_size=256, lr=0.05, patience=2, seed=1), progress=False)
    val_scores = [h["val_ndcg@10"] for h in res.history]
    assert len(res.history) < 60 and res.info["best_epoch"] == 1 + int(np.argmax(val_scores))
    validation = seen[0]
    assert validation.meta["holdout_of"] == ds.name
    assert seen[-1] is ds  # only the final evaluation sees the test split
    test_pairs = set(zip(ds.test["user"], ds.test["item"]))
    assert not test_pairs & set(zip(validation.train["user"], validation.train["item"]))
