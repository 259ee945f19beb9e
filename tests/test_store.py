"""A stored run comes back as a live model that scores exactly as it did when it was evaluated."""
import json

import pytest
import torch

from symcere_kit.data.dataset import load_dataset
from symcere_kit.errors import SymcereError
from symcere_kit.models import run_config
from symcere_kit.runs.store import MODEL_FILE, TOPK_FILE, RunStore, load_run, trainable_state
from symcere_kit.train import run


@pytest.fixture(scope="module")
def ds(synthetic_file):
    return load_dataset(synthetic_file, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [
    {"model": "neumf"},
    {"model": "symcere", "backbone": "ngcf", "text_mode": "frozen", "n_layers": 2},
    {"model": "symcere", "backbone": "lightgcn", "text_mode": "lora-top"},
], ids=["neumf", "symcere-frozen-ngcf", "symcere-lora-top"])
def test_a_reloaded_run_ranks_exactly_as_evaluated(tmp_path, ds, tiny_bert_dir, overrides):
    model = overrides.pop("model")
    text = {"max_length": 32, "text_model": str(tiny_bert_dir)} if model == "symcere" else {}
    config = run_config(model, epochs=2, batch_size=256, **text, **overrides)
    result = run(ds, config, progress=False)
    RunStore.save(tmp_path, {"dataset": ds.name, "dataset_arg": str(ds.meta.get("source", ""))}, result)
    back = load_run(tmp_path, dataset=ds)
    users = torch.arange(ds.n_users)
    torch.testing.assert_close(back.model.score(users), result.model.score(users), rtol=0, atol=0)
    top = back.topk()
    assert len(top) == result.evaluation.n_users * 10 and top.groupby("user")["rank"].max().eq(9).all()
    stored = set(trainable_state(result.model))
    frozen = {n for n, p in result.model.named_parameters() if not p.requires_grad}
    assert stored.isdisjoint(frozen)
    if getattr(config.settings, "text_mode", None) == "lora-top":
        assert frozen and any("lora" in k for k in stored)  # the adapter is kept, the encoder is not


def test_load_run_refuses_a_folder_without_a_result_or_with_other_data(tmp_path, ds, synthetic_file):
    with pytest.raises(SymcereError, match="not a finished run"):
        load_run(tmp_path, dataset=ds)
    result = run(ds, run_config("lightgcn", epochs=1), progress=False)
    RunStore.save(tmp_path, {"dataset": ds.name}, result)
    info = {**result.info, "dataset_fingerprint": "something-else"}
    (tmp_path / "result.json").write_text(json.dumps({"dataset": ds.name, "info": info}, default=str))
    with pytest.raises(SymcereError, match="fingerprint"):
        load_run(tmp_path, dataset=ds)
    (tmp_path / MODEL_FILE).unlink()
    with pytest.raises(SymcereError, match=MODEL_FILE):
        load_run(tmp_path, dataset=ds)
    assert (tmp_path / TOPK_FILE).is_file()
