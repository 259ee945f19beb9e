"""The contract every registered model keeps, run for each variant row that is a table column or a
control (ablations and readings share their model and differ from its SymCERE row by one switch): it trains on
generated reviews clearly above random ranking, the same seed gives the same metrics, and it scores
every item for every user with finite numbers. A new model file plus its variant row in
``runs/variants.py`` is picked up here with no other change."""
import math

import pytest
import torch

from symcere_kit.models import model_class
from symcere_kit.runs.variants import VARIANTS, variant_config
from symcere_kit.train import run

COLUMNS = [name for name, v in VARIANTS.items() if v.role not in ("ablation", "reading")]


def test_every_model_file_has_a_variant_row_and_every_row_a_model_file():
    import importlib
    import pkgutil

    import symcere_kit.models as models

    files = {m.name for m in pkgutil.iter_modules(models.__path__)
             if hasattr(importlib.import_module(f"symcere_kit.models.{m.name}"), "MODEL")}
    assert files == {v.model for n, v in VARIANTS.items() if n in COLUMNS}


@pytest.mark.slow
@pytest.mark.parametrize("variant", COLUMNS)
def test_model_contract(ds, random_ndcg, tiny_bert_dir, variant):
    # grid-style settings: each model takes the keys it has (text keys only reach models that embed reviews)
    settings = {"batch_size": 256, "epochs": 30, "lr": 0.01, "text_model": str(tiny_bert_dir), "max_length": 32}
    config = variant_config(variant, seed=0, settings=settings)
    res = run(ds, config, progress=False)
    assert all(math.isfinite(v) for v in res.metrics.values())
    if model_class(config.model).trainable:
        assert res.metrics["ndcg@10"] > 1.5 * random_ndcg
    scores = res.model.score(torch.arange(ds.n_users))
    assert scores.shape == (ds.n_users, ds.n_items) and torch.isfinite(scores).all()
    short = config.replace(epochs=2)
    assert run(ds, short, progress=False).metrics == run(ds, short, progress=False).metrics
