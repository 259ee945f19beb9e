"""The how-to guides' worked examples run as written. The ItemKNN model of docs/how-to/add-a-model.md, taken from
the page, loaded as a model module (never written into symcere_kit/models/), fitted against a dense reference
computed here from the cosine formula, and trained end to end clearly above random ranking; the shop format of
docs/how-to/add-a-dataset-format.md, registered as its steps say, detected and read on both reading paths."""
from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_item_similarity import random_train  # one generator of binary training matrices

import symcere_kit.models as models
from symcere_kit.errors import SymcereError
from symcere_kit.run_settings import check_grid_settings, grid_settings_for, resolve_run_config
from symcere_kit.train import run

HOW_TO = Path(__file__).resolve().parents[1] / "docs" / "how-to" / "add-a-model.md"
HEADING = "## A worked example: ItemKNN"
MODULE = "symcere_kit.models._howto_itemknn"  # a leading "_": not a model name (models.model_names)


def worked_example(text: str) -> str:
    """The first ```python block after the worked example's heading."""
    assert HEADING in text, f"{HOW_TO} lost its heading {HEADING!r}"
    match = re.search(r"^```python\n(.*?)^```$", text.split(HEADING, 1)[1], flags=re.S | re.M)
    assert match, f"{HOW_TO}: no ```python block after {HEADING!r}"
    return match.group(1)


@pytest.fixture(scope="module")
def itemknn(tmp_path_factory):
    """The block as module ``symcere_kit.models._howto_itemknn`` (its relative imports resolve in the models
    package), from a file outside the checkout; removed from ``sys.modules`` afterwards."""
    path = tmp_path_factory.mktemp("howto") / "itemknn.py"
    path.write_text(worked_example(HOW_TO.read_text(encoding="utf-8")), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module  # dataclasses and get_type_hints look the module up by name
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(MODULE, None)
    models_dir = Path(models.__file__).parent
    assert not (models_dir / "itemknn.py").exists() and not (models_dir / "_howto_itemknn.py").exists()


@pytest.fixture
def registered(itemknn, monkeypatch):
    """``itemknn`` known to the registry by name for one test (``run_config``, ``build_model``, ``train.run``), as
    its file in symcere_kit/models/ would make it, without the file."""
    known = models.model_class
    monkeypatch.setattr(models, "model_class", lambda name: itemknn.MODEL if name == "itemknn" else known(name))
    return itemknn


def cosine_top_k_reference(x: np.ndarray, k: int, shrink: float) -> np.ndarray:
    """Written from the formula, item pair by item pair: s_ij = <x_i, x_j> / (||x_i|| ||x_j|| + shrink) over the
    items' binary columns, s_ii = 0 and 0 where the denominator is 0; then each column keeps its k largest,
    ties to the lower row index."""
    n_items = x.shape[1]
    s = np.zeros((n_items, n_items))
    for i in range(n_items):
        for j in range(n_items):
            denominator = np.linalg.norm(x[:, i]) * np.linalg.norm(x[:, j]) + shrink
            if i != j and denominator > 0:
                s[i, j] = float(x[:, i] @ x[:, j]) / denominator
    w = np.zeros_like(s)
    for j in range(n_items):
        for i in sorted(range(n_items), key=lambda i: (-s[i, j], i))[:k]:
            w[i, j] = s[i, j]
    return w


def test_the_page_holds_the_worked_example_and_no_model_file_is_left(itemknn):
    assert itemknn.MODEL is itemknn.ItemKNN and itemknn.ItemKNN.Settings is itemknn.ItemKNNSettings
    assert itemknn.keep_top_k.__module__ == "symcere_kit.recommender.item_similarity"  # the shared helper
    assert itemknn.ItemKNN.FIT_BYTES_PER_PAIR == 24
    assert "itemknn" not in models.model_names()


@pytest.mark.parametrize("k, shrink", [(5, 0), (3, 10), (100, 100)])  # cuts; cuts with shrink; k above the items
def test_itemknn_weights_are_top_k_cosine_similarities(registered, k, shrink):
    data, x = random_train(density=0.25)
    model = models.build_model(models.run_config("itemknn", top_k=k, shrink=shrink), data, progress=False)
    w = model.item_weights.double().numpy()
    np.testing.assert_allclose(w, cosine_top_k_reference(x, k, shrink), rtol=1e-6, atol=1e-7)
    assert (np.diag(w) == 0).all() and (w >= 0).all()
    assert ((w > 0).sum(axis=0) <= k).all()
    assert w[:, 7].sum() == 0 and w[7].sum() == 0  # the item nobody trained on
    users = torch.tensor([0, 3, 5, 39])
    np.testing.assert_allclose(model.score(users).double().numpy(), x[users.numpy()] @ w, rtol=1e-5, atol=1e-6)


def test_itemknn_settings_are_checked_and_the_memory_guard_uses_its_bytes_per_pair(registered, monkeypatch):
    import symcere_kit.recommender.item_similarity as item_similarity

    settings = registered.ItemKNNSettings
    assert set(settings.search_space()) == {"top_k", "shrink"}
    assert all(r.source for r in settings.SEARCH_SPACE.values())
    with pytest.raises(SymcereError, match="top_k must be > 0"):
        models.run_config("itemknn", top_k=0)
    with pytest.raises(SymcereError, match="shrink must be >= 0"):
        models.run_config("itemknn", shrink=-1)
    assert models.run_config("itemknn", shrink=0).settings.shrink == 0
    data, _ = random_train(density=0.25)
    monkeypatch.setattr(item_similarity, "MAX_FIT_BYTES", 24 * 25**2 - 1)  # one byte short of 24 per pair
    with pytest.raises(SymcereError, match=r"25 items"):
        models.build_model(models.run_config("itemknn"), data, progress=False)
    monkeypatch.setattr(item_similarity, "MAX_FIT_BYTES", 24 * 25**2)
    models.build_model(models.run_config("itemknn"), data, progress=False)


def test_itemknns_top_k_is_addressed_apart_from_rp3betas_in_a_grid(registered):
    classes = {"rp3beta": models.settings_class("rp3beta"), "itemknn": registered.ItemKNNSettings}
    with pytest.raises(SymcereError, match=r"'top_k' means different things.*itemknn.top_k=VALUE"):
        check_grid_settings({"top_k": 20}, classes)
    grid = {"itemknn.top_k": 20, "rp3beta.top_k": 7, "lr": 0.1}
    check_grid_settings(grid, classes)
    assert grid_settings_for("itemknn", classes["itemknn"], grid) == {"top_k": 20, "lr": 0.1}
    assert resolve_run_config("itemknn", classes["itemknn"], grid=grid_settings_for(
        "itemknn", classes["itemknn"], grid)).settings.top_k == 20
    check_grid_settings({"shrink": 5}, classes)  # only ItemKNN has it: a bare key reaches it alone


def test_itemknn_trains_end_to_end_clearly_above_random(registered, ds, random_ndcg):
    result = run(ds, models.run_config("itemknn"), progress=False)
    assert all(math.isfinite(v) for v in result.metrics.values())
    assert result.metrics["ndcg@10"] > 1.5 * random_ndcg
    # ... and above item popularity, which the page's earlier "ItemKNN-style" example was
    assert result.metrics["ndcg@10"] > run(ds, models.run_config("mostpop"), progress=False).metrics["ndcg@10"]
    assert result.info["epochs"] == 0 and result.history == [] and result.info["model"] == "itemknn"
    scores = result.model.score(torch.arange(ds.n_users))
    assert scores.shape == (ds.n_users, ds.n_items) and torch.isfinite(scores).all()
    again = run(ds, models.run_config("itemknn"), progress=False)
    assert again.metrics == result.metrics


FORMAT_HOW_TO = HOW_TO.with_name("add-a-dataset-format.md")
FORMAT_HEADING = "## A worked example: a shop's JSON lines"


@pytest.fixture
def shop_family(tmp_path, monkeypatch):
    """The family module of add-a-dataset-format.md, loaded as ``symcere_kit.data.readers._howto_shop`` and its
    row registered as the page's steps 1-2 would (catalogue and FORMATS), for one test."""
    from symcere_kit.data.readers import catalogue
    from symcere_kit.data.readers import read as read_module

    text = FORMAT_HOW_TO.read_text(encoding="utf-8")
    assert FORMAT_HEADING in text, f"{FORMAT_HOW_TO} lost its heading {FORMAT_HEADING!r}"
    block = re.search(r"^```python\n(.*?)^```$", text.split(FORMAT_HEADING, 1)[1], flags=re.S | re.M).group(1)
    path = tmp_path / "shop.py"
    path.write_text(block, encoding="utf-8")
    name = "symcere_kit.data.readers._howto_shop"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    for row in module.ROWS:
        monkeypatch.setitem(catalogue.SCHEMAS, row.fmt, row)
        monkeypatch.setattr(read_module, "FORMATS", (*read_module.FORMATS, row.fmt))
    return module


def test_the_format_how_tos_family_module_reads_a_shop_file_on_both_paths(shop_family, tmp_path):
    import json

    import pandas as pd
    import pyarrow.parquet as pq

    from symcere_kit.data.readers import detect_format, read_reviews, spool_reviews

    records = [{"reviewer": f"R{i}", "product": f"P{i % 2}", "body": f"text {i}", "stars": 4,
                "posted": 1_400_000_000 + i} for i in range(4)]
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert detect_format(path) == "shop_json"
    frame = read_reviews(path, progress=False).frame
    assert frame["user"].tolist() == ["R0", "R1", "R2", "R3"] and frame["text"].tolist()[3] == "text 3"
    assert frame["timestamp"].tolist() == [(1_400_000_000 + i) * 1000 for i in range(4)]
    native = spool_reviews(path, tmp_path / "n.parquet", progress=False, engine="duckdb")
    python = spool_reviews(path, tmp_path / "p.parquet", progress=False, engine="python")
    assert native.engine == "duckdb"  # the DuckDB path reads the new format too, cell for cell as Python does
    pd.testing.assert_frame_equal(pq.read_table(native.spool).to_pandas(), pq.read_table(python.spool).to_pandas())
