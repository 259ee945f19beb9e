"""EASE^R and RP3beta, the closed-form item-item baselines, against references written here from the
papers' formulas (independent of the model code), plus their end-to-end runs."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from symcere_kit.errors import SymcereError
from symcere_kit.models import build_model, run_config, settings_class
from symcere_kit.run_settings import option_names
from symcere_kit.train import run


def random_train(n_users=40, n_items=25, density=0.15, seed=0):
    """A random binary training matrix with one item and one user without interactions, and one
    interaction stored twice (value 2): the models must treat the matrix as binary."""
    rng = np.random.default_rng(seed)
    x = (rng.random((n_users, n_items)) < density).astype(np.float32)
    x[:, 7] = 0.0
    x[3] = 0.0
    x[0, 1] = 2.0
    return SimpleNamespace(n_users=n_users, n_items=n_items, train_csr=sp.csr_matrix(x)), (x > 0).astype(np.float64)


def fitted(model, data, **settings):
    return build_model(run_config(model, **settings), data, progress=False)


# ---------------------------------------------------------------- EASE^R
def stecks_b(x: np.ndarray, lam: float) -> np.ndarray:
    """Steck (WWW 2019) eq. 8: P = (X^T X + lambda I)^-1, B = I - P diagMat(1 / diag(P))."""
    p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    return np.eye(x.shape[1]) - p @ np.diag(1.0 / np.diag(p))


@pytest.mark.parametrize("lam", [1.0, 500.0])
def test_ease_weights_are_stecks_closed_form_with_a_zero_diagonal(lam):
    data, x = random_train()
    model = fitted("ease", data, reg_lambda=lam)
    b = model.item_weights.double().numpy()
    np.testing.assert_allclose(b, stecks_b(x, lam), rtol=1e-4, atol=1e-7)
    assert (np.diag(b) == 0).all()
    users = torch.tensor([0, 3, 11, 39])
    np.testing.assert_allclose(model.score(users).double().numpy(), x[users.numpy()] @ b, rtol=1e-5, atol=1e-6)


def test_ease_with_a_huge_lambda_scores_co_occurrence():
    # lambda -> inf: P ~ (I - G/lambda)/lambda, so B_ij ~ G_ij/lambda off the diagonal, and a user's scores
    # rank items by how often they co-occur with her items: item-item counting
    data, x = random_train(seed=1)
    lam = 1e8
    b = fitted("ease", data, reg_lambda=lam).item_weights.double().numpy()
    co = x.T @ x
    np.fill_diagonal(co, 0.0)
    np.testing.assert_allclose(b * lam, co, rtol=1e-3, atol=1e-4)
    # ... and a small lambda does not (the inverse's corrections dominate)
    small = fitted("ease", data, reg_lambda=1.0).item_weights.double().numpy()
    assert not np.allclose(small * 1.0, co, rtol=0.1, atol=0.1)


def test_ease_refuses_an_item_count_it_cannot_hold_and_names_it(monkeypatch):
    import symcere_kit.recommender.item_similarity as item_similarity

    data, _ = random_train()
    monkeypatch.setattr(item_similarity, "MAX_FIT_BYTES", 1000)
    with pytest.raises(SymcereError, match=r"25 items.*item_k"):
        fitted("ease", data)
    with pytest.raises(SymcereError, match="reg_lambda"):
        run_config("ease", reg_lambda=0.0)


# ---------------------------------------------------------------- RP3beta
def top_k_by_row(w: np.ndarray, k: int) -> np.ndarray:
    """Zero all but each row's k largest entries, ties to the lower column index."""
    out = np.zeros_like(w)
    for i in range(w.shape[0]):
        for j in sorted(range(w.shape[1]), key=lambda j: (-w[i, j], j))[:k]:
            out[i, j] = w[i, j]
    return out


def rp3beta_reference(x: np.ndarray, k: int, alpha: float, beta: float, normalize: bool) -> np.ndarray:
    """Paudel et al.'s three-step walk item -> user -> item, p_ij = sum_u P(u|i)^a P(j|u)^a / pop_j^b, with
    Ferrari Dacrema et al.'s post-processing: no self-loops, top-k per row, optional row L1
    normalisation, then top-k per column."""
    n_users, n_items = x.shape
    pop = x.sum(axis=0)
    user_deg = x.sum(axis=1)
    w = np.zeros((n_items, n_items))
    for i in range(n_items):
        for j in range(n_items):
            if i == j or pop[i] == 0 or pop[j] == 0:
                continue
            walk = sum((x[u, i] / pop[i]) ** alpha * (x[u, j] / user_deg[u]) ** alpha
                       for u in range(n_users) if x[u, i] and x[u, j])
            w[i, j] = walk / pop[j] ** beta
    w = top_k_by_row(w, k)
    if normalize:
        for i in range(n_items):
            if w[i].sum() > 0:
                w[i] = w[i] / w[i].sum()
    return top_k_by_row(w.T, k).T


@pytest.mark.parametrize("k, alpha, beta, normalize", [
    (5, 1.0, 0.6, True),  # their defaults but a k that cuts
    (3, 0.5, 1.2, False),
    (100, 1.7, 0.0, True),  # k above the item count: no cut, only the walk and the normalisation
])
def test_rp3beta_weights_match_a_dense_reference(k, alpha, beta, normalize):
    data, x = random_train(density=0.25)
    model = fitted("rp3beta", data, top_k=k, walk_alpha=alpha, pop_beta=beta, normalize_similarity=normalize)
    w = model.item_weights.double().numpy()
    ref = rp3beta_reference(x, k, alpha, beta, normalize)
    np.testing.assert_allclose(w, ref, rtol=1e-5, atol=1e-7)
    assert (np.diag(w) == 0).all() and (w >= 0).all()
    assert ((w > 0).sum(axis=1) <= k).all() and ((w > 0).sum(axis=0) <= k).all()
    assert w[:, 7].sum() == 0 and w[7].sum() == 0  # the item nobody trained on
    users = torch.tensor([0, 3, 5])
    np.testing.assert_allclose(model.score(users).double().numpy(), x[users.numpy()] @ w, rtol=1e-5, atol=1e-7)


def test_rp3beta_settings_are_checked_and_named_apart_from_symceres():
    with pytest.raises(SymcereError, match="top_k"):
        run_config("rp3beta", top_k=0)
    # a grid-wide alpha/beta (SymCERE's loss weights) must not reach RP3beta
    assert not {"alpha", "beta", "normalize"} & option_names(settings_class("rp3beta"))


# ---------------------------------------------------------------- both, end to end
@pytest.mark.parametrize("model", ["ease", "rp3beta"])
def test_runs_end_to_end_clearly_above_random_and_reloads_identically(ds, random_ndcg, model, tmp_path):
    from symcere_kit.runs.store import RunStore, load_run

    result = run(ds, run_config(model), progress=False)
    assert all(math.isfinite(v) for v in result.metrics.values())
    assert result.metrics["ndcg@10"] > 1.5 * random_ndcg
    assert result.info["epochs"] == 0 and result.history == []
    users = torch.arange(ds.n_users)
    scores = result.model.score(users[:7])
    assert scores.shape == (7, ds.n_items) and torch.isfinite(scores).all()
    RunStore.save(tmp_path, {"dataset": ds.name}, result)
    back = load_run(tmp_path, dataset=ds)  # W is rebuilt from the training data, not stored
    torch.testing.assert_close(back.model.score(users), result.model.score(users), rtol=0, atol=0)
