"""SymCERE end to end on generated data with a tiny local text model (no download)."""
import math

import pytest
import torch

from symcere_kit.data.dataset import dataset_from_reviews
from symcere_kit.data.synthetic import synthetic_reviews
from symcere_kit.errors import SymcereError
from symcere_kit.models import build_model, run_config
from symcere_kit.train import run, seed_everything


@pytest.fixture(scope="module")
def ds():
    return dataset_from_reviews(synthetic_reviews(n_users=80, n_items=50, seed=4), name="syn")


def cfg(tiny_bert_dir, **kw):
    base = dict(text_model=str(tiny_bert_dir), epochs=2, batch_size=256, max_length=32, tau=0.07)
    return run_config("symcere", **{**base, **kw})


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["frozen", "lora", "lora-top"])
@pytest.mark.parametrize("backbone", ["lightgcn", "ngcf"])
def test_every_text_mode_and_backbone_trains_end_to_end(ds, tiny_bert_dir, mode, backbone):
    res = run(ds, cfg(tiny_bert_dir, text_mode=mode, backbone=backbone, n_layers=2), progress=False)
    assert all(math.isfinite(v) for v in res.metrics.values()) and res.metrics["hr@10"] > 0
    assert {"cross", "intra", "bpr", "reg"} <= set(res.history[-1])


@pytest.mark.slow
def test_same_seed_same_metrics(ds, tiny_bert_dir):
    c = cfg(tiny_bert_dir, text_mode="lora-top", seed=5)
    assert run(ds, c, progress=False).metrics == run(ds, c, progress=False).metrics


def _loss_terms(ds, c):
    g = seed_everything(0)
    model = build_model(c, ds)
    model.on_epoch_start(g)
    batch = {
        "index": torch.arange(64),
        "user": torch.tensor(ds.train["user"].to_numpy()[:64]),
        "pos": torch.tensor(ds.train["item"].to_numpy()[:64]),
        "neg": torch.randint(ds.n_items, (64,), generator=g),
    }
    return model, model.batch_loss(batch)


def test_total_loss_is_eq8_of_its_terms(ds, tiny_bert_dir):
    model, t = _loss_terms(ds, cfg(tiny_bert_dir, alpha=0.5, beta=0.05, reg_weight=1e-3))
    expected = t["cross"] + 0.5 * t["intra"] + 0.05 * t["bpr"] + 1e-3 * t["reg"]
    torch.testing.assert_close(t["loss"], expected)
    t["loss"].backward()
    assert model.graph.embedding.weight.grad.abs().sum() > 0 and model.text.proj.weight.grad.abs().sum() > 0


def test_bpr_is_summed_over_the_batch_as_eq7_writes_it(ds, tiny_bert_dir):
    _, summed = _loss_terms(ds, cfg(tiny_bert_dir))
    _, mean = _loss_terms(ds, cfg(tiny_bert_dir, bpr_reduction="mean"))
    torch.testing.assert_close(summed["bpr"], 64 * mean["bpr"])
    torch.testing.assert_close(summed["cross"], mean["cross"])  # the NCE terms stay batch means (eq. 4)
    with pytest.raises(SymcereError, match="bpr_reduction"):
        cfg(tiny_bert_dir, bpr_reduction="median")


@pytest.mark.slow
def test_fn_mask_switch_controls_the_false_negative_mask(ds, tiny_bert_dir, monkeypatch):
    import symcere_kit.models.symcere as sym

    calls = []
    original = sym.false_negative_mask
    monkeypatch.setattr(sym, "false_negative_mask", lambda *a: calls.append(1) or original(*a))
    run(ds, cfg(tiny_bert_dir, epochs=1), progress=False)
    with_mask = len(calls)
    run(ds, cfg(tiny_bert_dir, epochs=1, fn_mask=False), progress=False)
    assert with_mask > 0 and len(calls) == with_mask


def test_normalised_scores_are_cosines_and_the_ablation_is_not(ds, tiny_bert_dir):
    for normalize, space, bounded in [(True, "cosine", True), (False, "cosine", False), (True, "dot", False)]:
        model = build_model(cfg(tiny_bert_dir, normalize=normalize, bpr_space=space), ds)
        with torch.no_grad():
            model.graph.embedding.weight.mul_(10)
        s = model.score(torch.arange(ds.n_users))
        assert (s.abs().max() <= 1 + 1e-5) == bounded


def test_text_side_sees_training_reviews_only(ds, tiny_bert_dir, monkeypatch):
    from symcere_kit.text import TextEncoder

    seen = []
    original = TextEncoder.prepare
    monkeypatch.setattr(
        TextEncoder, "prepare", lambda self, texts, **k: seen.append(list(texts)) or original(self, texts, **k)
    )
    run(ds, cfg(tiny_bert_dir, epochs=1, patience=1), progress=False)
    holdout = ds.holdout(0.2)
    assert seen[0] == holdout.train_texts  # early stopping trains on the holdout's fit part
    assert len(seen[0]) < len(ds.train)


@pytest.mark.slow
def test_cli_trains_symcere_with_ablation_flags(synthetic_file, tiny_bert_dir, capsys):
    import json

    from symcere_kit.cli import main

    code = main(["--quiet", "train", str(synthetic_file), "--model", "symcere", "--backbone", "ngcf",
                 "--text-mode", "lora-top", "--text-model", str(tiny_bert_dir), "--epochs", "1",
                 "--no-normalize", "--no-fn-mask", "--seed", "2", "--set", "bpr_reduction=mean",
                 "--set", "text_chunk=16", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["model"] == "symcere" and out["seed"] == 2
    c = out["config"]
    assert (c["backbone"], c["text_mode"], c["normalize"], c["fn_mask"]) == ("ngcf", "lora-top", False, False)
    assert (c["bpr_reduction"], c["text_chunk"]) == ("mean", 16)


def test_cli_set_rejects_unknown_options(synthetic_file, capsys):
    from symcere_kit.cli import main

    assert main(["--quiet", "train", str(synthetic_file), "--set", "warp_speed=9"]) == 2
    assert "warp_speed" in capsys.readouterr().err


def test_text_mode_defaults_layer_between_model_defaults_and_overrides():
    from symcere_kit.config import LoopConfig
    from symcere_kit.models.symcere import SymCERESettings

    frozen = run_config("symcere")
    assert frozen.loop.epochs == SymCERESettings.LOOP["epochs"] != LoopConfig().epochs
    top = run_config("symcere", text_mode="lora-top")
    assert top.loop.epochs == SymCERESettings.TEXT_MODE_LOOP["lora-top"]["epochs"] != frozen.loop.epochs
    assert top.settings.tau == frozen.settings.tau  # the model's settings still apply underneath
    assert run_config("symcere", text_mode="lora-top", epochs=2).loop.epochs == 2  # the caller wins
    with pytest.raises(SymcereError, match="lightgcn has no option"):
        run_config("lightgcn", text_mode="lora-top")  # a baseline has no text mode


# The paper's readings (models/symcere.py READINGS): each non-default value the frozen mode takes, and the
# term it moves.
NON_DEFAULT_READINGS = [("bpr_space", "dot", "bpr"), ("intra_level", "node", "intra"),
                        ("word_mask_draw", "epoch", "intra"), ("t2g_mask", "transpose", "cross"),
                        ("bpr_reduction", "mean", "bpr")]


def test_readings_list_every_switch_with_its_default_first():
    from symcere_kit.models.symcere import READINGS, SymCERESettings

    assert [name for name, _, _ in NON_DEFAULT_READINGS] == list(READINGS)
    defaults = SymCERESettings()
    for name, values in READINGS.items():
        assert getattr(defaults, name) == values[0] or (name, defaults.mask_draw) == ("word_mask_draw", values[0])


@pytest.mark.parametrize("name,value,term", NON_DEFAULT_READINGS)
def test_each_reading_changes_its_term_and_its_default_spelled_out_changes_nothing(
    ds, tiny_bert_dir, name, value, term
):
    from symcere_kit.models.symcere import READINGS

    _, default = _loss_terms(ds, cfg(tiny_bert_dir))
    _, spelled = _loss_terms(ds, cfg(tiny_bert_dir, **{name: READINGS[name][0]}))
    _, other = _loss_terms(ds, cfg(tiny_bert_dir, **{name: value}))
    assert all(torch.equal(default[k], spelled[k]) for k in default)
    # (the random tiny encoder embeds every review alike: a fresh text view moves its InfoNCE by ~1e-6 only)
    assert not torch.equal(default[term], other[term]) and not torch.equal(default["loss"], other["loss"])
    with pytest.raises(SymcereError, match=name):
        cfg(tiny_bert_dir, **{name: "bogus"})


@pytest.mark.parametrize("mode,bad", [("frozen", "step"), ("lora", "fixed"), ("lora-top", "epoch")])
def test_word_mask_draw_rejects_what_a_text_mode_does_not_do(tiny_bert_dir, mode, bad):
    with pytest.raises(SymcereError, match=f"word_mask_draw='{bad}'.*{mode}"):
        cfg(tiny_bert_dir, text_mode=mode, word_mask_draw=bad)
    assert cfg(tiny_bert_dir, text_mode=mode).settings.mask_draw == ("fixed" if mode == "frozen" else "step")
    with pytest.raises(SymcereError, match="intra_level='node'"):
        cfg(tiny_bert_dir, intra_level="node", normalize=False)


def test_an_epoch_draw_is_a_fresh_masked_view_each_epoch(ds, tiny_bert_dir):
    model = build_model(cfg(tiny_bert_dir, word_mask_draw="epoch"), ds, progress=False)
    fixed = model.text.encoder.view.clone()
    g = torch.Generator().manual_seed(0)
    model.on_epoch_start(g)
    first = model.text.encoder.view.clone()
    model.on_epoch_start(g)
    assert not torch.equal(first, fixed) and not torch.equal(first, model.text.encoder.view)
    assert torch.equal(model.text.encoder.base, build_model(cfg(tiny_bert_dir), ds, progress=False).text.encoder.base)


@pytest.fixture(scope="module")
def default_run(ds, tiny_bert_dir):
    return run(ds, cfg(tiny_bert_dir), progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("name,value,term", NON_DEFAULT_READINGS)
def test_each_reading_trains_end_to_end(ds, tiny_bert_dir, default_run, name, value, term):
    default = default_run
    res = run(ds, cfg(tiny_bert_dir, **{name: value}), progress=False)
    assert all(math.isfinite(v) for v in res.metrics.values()) and res.metrics["hr@10"] > 0
    assert [h[term] for h in res.history] != [h[term] for h in default.history]
