import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from symcere_kit.graph import NGCFConv, NGCFEncoder, edge_dropout_adjacency
from symcere_kit.graph.adjacency import normalized_bipartite_adjacency
from symcere_kit.models import build_model, model_class, run_config
from symcere_kit.train import run


@pytest.fixture(scope="module")
def tiny():
    """4 users x 3 items with an isolated item (index 2)."""
    r = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], dtype=np.float32))
    return r, normalized_bipartite_adjacency(r)


def _layer_reference(conv: NGCFConv, a: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """e' = LeakyReLU_0.2( W1 (L e + e) + b1 + W2 ((L e) * e) + b2 ) with a dense L."""
    side = a @ e
    w1, b1, w2, b2 = conv.lin1.weight, conv.lin1.bias, conv.lin2.weight, conv.lin2.bias
    out = (side + e) @ w1.T + b1 + (side * e) @ w2.T + b2
    return torch.where(out > 0, out, 0.2 * out)


def test_ngcf_conv_matches_the_dense_formula(tiny):
    _, adj = tiny
    torch.manual_seed(0)
    conv = NGCFConv(5, 4)
    with torch.no_grad():  # non-zero biases so they are checked too
        conv.lin1.bias.normal_(), conv.lin2.bias.normal_()
    e = torch.randn(7, 5)
    got = conv(e, adj)
    torch.testing.assert_close(got, _layer_reference(conv, adj.to_dense(), e), rtol=1e-5, atol=1e-6)
    assert got.shape == (7, 4) and (got < 0).any()  # the negative LeakyReLU branch is exercised
    # the per-edge message path (edge_index + p_ui weights) gives the same layer
    coo = adj.to_sparse_coo().coalesce()
    torch.testing.assert_close(conv(e, coo.indices(), coo.values()), got, rtol=1e-5, atol=1e-6)


def test_encoder_concatenates_normalised_layers(tiny):
    _, adj = tiny
    enc = NGCFEncoder(4, 3, dim=6, n_layers=2, message_dropout=0.1).eval()
    users, items = enc(adj)
    assert enc.out_dim == 18 and users.shape == (4, 18) and items.shape == (3, 18)
    a, e0 = adj.to_dense(), enc.embedding.weight
    layers, x = [e0], e0
    for conv in enc.convs:
        x = F.normalize(_layer_reference(conv, a, x), dim=1)
        layers.append(x)
    torch.testing.assert_close(torch.cat([users, items]), torch.cat(layers, 1), rtol=1e-5, atol=1e-6)
    norms = torch.cat([users, items])[:, 6:].reshape(7, 2, 6).norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones(7, 2))  # each propagated layer is unit length


def test_encoder_init_follows_recbole(ds):
    torch.manual_seed(0)
    enc = NGCFEncoder(ds.n_users, ds.n_items, dim=64, n_layers=3)
    w = enc.embedding.weight.detach()
    for block, n in ((w[: ds.n_users], ds.n_users), (w[ds.n_users :], ds.n_items)):
        assert abs(block.std().item() / np.sqrt(2 / (n + 64)) - 1) < 0.05  # xavier_normal per table
    assert all((c.lin1.bias == 0).all() and (c.lin2.bias == 0).all() for c in enc.convs)
    assert abs(enc.convs[0].lin1.weight.std().item() / np.sqrt(2 / 128) - 1) < 0.1


def test_dropout_only_in_train_mode(ds):
    torch.manual_seed(0)
    enc = NGCFEncoder(ds.n_users, ds.n_items, dim=16, n_layers=2, message_dropout=0.3)
    adj = ds.norm_adjacency()
    enc.eval()
    a, b = enc(adj), enc(adj)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    enc.train()
    c, d = enc(adj), enc(adj)
    assert not torch.equal(c[0], d[0]) and not torch.equal(c[0], a[0])
    torch.testing.assert_close(c[0][:, :16], a[0][:, :16])  # layer 0 is never dropped
    assert (c[0][:, 16:] == 0).float().mean() > 0.2  # about 30% of propagated entries dropped
    enc.dropout.p = 0.0  # without dropout, train mode is the eval computation
    torch.testing.assert_close(enc(adj)[0], a[0])


def test_gradients_reach_weights_and_embeddings(ds):
    torch.manual_seed(0)
    enc = NGCFEncoder(ds.n_users, ds.n_items, dim=8, n_layers=2)
    users, items = enc(ds.norm_adjacency())
    (users[:5] @ items[:7].T).sum().backward()
    grads = [enc.embedding.weight.grad] + [p.grad for c in enc.convs for p in (c.lin1.weight, c.lin2.weight)]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_ego_override_replaces_layer_zero(tiny):
    _, adj = tiny
    enc = NGCFEncoder(4, 3, dim=6, n_layers=1).eval()
    ego = torch.randn(7, 6)
    users, items = enc(adj, ego=ego)
    torch.testing.assert_close(torch.cat([users, items])[:, :6], ego)


def _kept_pairs(adj: torch.Tensor, n_users: int) -> set[tuple[int, int]]:
    dense = adj.to_dense()
    rows, cols = (dense[:n_users, n_users:] != 0).nonzero(as_tuple=True)
    return set(zip(rows.tolist(), cols.tolist()))


def test_edge_dropout_keeps_about_1_minus_p_and_renormalises(ds):
    r, nu = ds.train_csr, ds.n_users
    view = edge_dropout_adjacency(r, 0.3, torch.Generator().manual_seed(1))
    dense = view.to_dense()
    assert view.layout == torch.sparse_csr and dense.shape == (nu + ds.n_items,) * 2
    torch.testing.assert_close(dense, dense.T)
    kept = _kept_pairs(view, nu)
    assert len(kept) == int(r.nnz * 0.7)
    assert kept <= set(zip(*r.nonzero()))
    rows, cols = zip(*sorted(kept))
    kept_csr = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=r.shape)
    expected = normalized_bipartite_adjacency(kept_csr)
    torch.testing.assert_close(dense, expected.to_dense())
    full = edge_dropout_adjacency(r, 0.0, torch.Generator())
    assert torch.equal(full.to_dense(), ds.norm_adjacency().to_dense())


def test_edge_dropout_is_seeded(ds):
    r = ds.train_csr
    a = edge_dropout_adjacency(r, 0.2, torch.Generator().manual_seed(5))
    b = edge_dropout_adjacency(r, 0.2, torch.Generator().manual_seed(5))
    c = edge_dropout_adjacency(r, 0.2, torch.Generator().manual_seed(6))
    assert torch.equal(a.to_dense(), b.to_dense())
    assert _kept_pairs(a, ds.n_users) != _kept_pairs(c, ds.n_users)
    g = torch.Generator().manual_seed(5)  # successive views from one generator differ
    first, second = edge_dropout_adjacency(r, 0.2, g), edge_dropout_adjacency(r, 0.2, g)
    assert not torch.equal(first.to_dense(), second.to_dense())
    with pytest.raises(ValueError):
        edge_dropout_adjacency(r, 1.0, g)


def test_ngcf_is_registered_and_uses_the_config(ds):
    assert model_class("ngcf").__name__ == "NGCF"
    model = build_model(run_config("ngcf", embedding_dim=16, n_layers=3, message_dropout=0.2), ds)
    assert model.encoder.out_dim == 64 and len(model.encoder.convs) == 3 and model.encoder.dropout.p == 0.2
    assert model.score(torch.arange(5)).shape == (5, ds.n_items)


@pytest.mark.slow
def test_ngcf_same_seed_same_metrics(ds):
    cfg = run_config("ngcf", n_layers=3, epochs=3, batch_size=256, seed=7)
    a, b = run(ds, cfg, progress=False), run(ds, cfg, progress=False)
    assert a.metrics == b.metrics and [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    c = run(ds, cfg.replace(seed=8), progress=False)
    assert [h["loss"] for h in c.history] != [h["loss"] for h in a.history]


@pytest.mark.slow
def test_ngcf_clearly_beats_mostpop_on_clustered_data(ds):
    a = run(ds, run_config("ngcf", n_layers=3, epochs=20, batch_size=256, lr=0.01), progress=False)
    assert all(np.isfinite(v) for v in a.metrics.values())
    assert a.history[-1]["loss"] < a.history[0]["loss"]
    pop = run(ds, run_config("mostpop"), progress=False).metrics
    assert a.metrics["ndcg@10"] > 1.2 * pop["ndcg@10"] and a.metrics["hr@10"] > pop["hr@10"]
    assert a.metrics["hr@10"] > 3 * 10 / ds.n_items  # random ranking: HR@10 ~ 10/n_items per test item
