"""Nested controls: a graph baseline's exact recipe plus SymCERE's cross-modal term (runs/variants.py).

At ``cross_weight=0`` the control must BE its baseline, bit for bit: same initialisation, batches,
negatives, dropout masks, metrics and final weights. That holds only if building the text side (a
transformer, a projection) draws nothing from the run's RNG streams (``rng.side_stream``)."""
import json

import pytest
import torch

from symcere_kit.config import RunConfig
from symcere_kit.errors import SymcereError
from symcere_kit.models import run_config
from symcere_kit.runs.variants import VARIANTS, variant_config
from symcere_kit.train import run

BACKBONES = ["lightgcn", "ngcf"]


def nested(backbone: str) -> str:
    return f"symcere-{backbone}-nested"


@pytest.mark.parametrize("backbone", BACKBONES)
def test_nested_variant_is_its_baselines_recipe(backbone):
    v = VARIANTS[nested(backbone)]
    assert (v.model, v.role, v.overrides["backbone"]) == ("symcere", "control", backbone)
    base, ctrl = run_config(backbone, seed=4), variant_config(nested(backbone), seed=4)
    assert ctrl.loop == base.loop  # epochs (NGCF's 100), lr, batch
    for name in base.settings.field_names():  # n_layers, embedding_dim, reg_weight, message_dropout
        assert getattr(ctrl.settings, name) == getattr(base.settings, name), name
    s = ctrl.settings
    assert (s.alpha, s.beta, s.bpr_space, s.bpr_reduction, s.cross_weight) == (0.0, 1.0, "dot", "mean", 1.0)
    assert (s.normalize, s.fn_mask) == (True, True)  # the paper's normalised, masked cross term
    # a caller's loop settings still reach it (a grid's epochs, the command line's flags)
    assert variant_config(nested(backbone), 0, settings={"epochs": 3}).loop.epochs == 3


def _short(ds, tiny_bert_dir, config: RunConfig, **kw):
    return run(ds, config.replace(epochs=3, batch_size=256, **kw), progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("backbone", BACKBONES)
def test_nested_control_at_cross_weight_0_is_its_baseline_bit_for_bit(ds, tiny_bert_dir, backbone):
    text = {"text_model": str(tiny_bert_dir), "max_length": 32}
    base = _short(ds, tiny_bert_dir, run_config(backbone, seed=3))
    ctrl_config = variant_config(nested(backbone), seed=3, overrides={**text, "cross_weight": 0.0})
    ctrl = _short(ds, tiny_bert_dir, ctrl_config)
    assert ctrl.metrics == base.metrics  # exact floats
    assert [(h["loss"], h["bpr"], h["reg"]) for h in ctrl.history] == [
        (h["loss"], h["bpr"], h["reg"]) for h in base.history
    ]
    assert "cross" not in ctrl.history[-1]  # not computed at all
    base_weights, ctrl_weights = base.model.encoder.state_dict(), ctrl.model.graph.state_dict()
    assert base_weights.keys() == ctrl_weights.keys()
    assert all(torch.equal(base_weights[k], ctrl_weights[k]) for k in base_weights)
    # the same control with the cross term on trains to other weights
    crossed = _short(ds, tiny_bert_dir, ctrl_config.replace(cross_weight=1.0))
    assert "cross" in crossed.history[-1]
    assert not torch.equal(crossed.model.graph.embedding.weight, ctrl.model.graph.embedding.weight)
    assert crossed.metrics != ctrl.metrics


def test_cross_weight_scales_the_term_and_0_skips_it_and_its_mask(ds, tiny_bert_dir, monkeypatch):
    import symcere_kit.models.symcere as sym
    from symcere_kit.models import build_model
    from symcere_kit.train import seed_everything

    calls = []
    original = sym.false_negative_mask
    monkeypatch.setattr(sym, "false_negative_mask", lambda *a: calls.append(1) or original(*a))
    rows = torch.arange(64)
    batch = {"index": rows, "user": torch.tensor(ds.train["user"].to_numpy()[:64]),
             "pos": torch.tensor(ds.train["item"].to_numpy()[:64]), "neg": torch.randint(ds.n_items, (64,))}
    terms = {}
    for weight in (0.0, 1.0, 2.5):
        config = variant_config("symcere-lightgcn", 0, overrides={"text_model": str(tiny_bert_dir), "max_length": 32,
                                                                   "cross_weight": weight})
        g = seed_everything(0)
        model = build_model(config, ds, progress=False)
        model.on_epoch_start(g)
        terms[weight] = model.batch_loss(batch)
    assert "cross" not in terms[0.0] and len(calls) == 2  # the mask was built for the two others only
    torch.testing.assert_close(terms[2.5]["cross"], terms[1.0]["cross"])
    torch.testing.assert_close(terms[2.5]["loss"] - terms[1.0]["loss"], 1.5 * terms[1.0]["cross"])
    torch.testing.assert_close(terms[1.0]["loss"] - terms[0.0]["loss"], terms[1.0]["cross"])
    for bad in (-0.1, float("inf"), True):
        with pytest.raises(SymcereError, match="cross_weight"):
            run_config("symcere", cross_weight=bad)


def test_building_the_text_side_moves_no_global_rng_stream(ds, tiny_bert_dir):
    """The graph baseline's and SymCERE's models leave torch's global RNG in the same state."""
    from symcere_kit.models import build_model
    from symcere_kit.train import seed_everything

    states = []
    for config in (
        run_config("ngcf"),
        variant_config("symcere-ngcf-nested", 0, overrides={"text_model": str(tiny_bert_dir), "max_length": 32}),
    ):
        seed_everything(7)
        build_model(config, ds, progress=False)
        states.append(torch.get_rng_state())
    assert torch.equal(*states)


def test_train_takes_a_variant_name_and_the_flags_win(synthetic_file, monkeypatch, capsys):
    import symcere_kit.train
    from symcere_kit.cli import build_parser, main

    assert build_parser().parse_args(["train", "x", "--model", "symcere-ngcf-nested"]).model == "symcere-ngcf-nested"
    seen = []

    def fake_run(ds, config, progress=True):
        seen.append(config)
        raise SymcereError("stop here")

    monkeypatch.setattr(symcere_kit.train, "run", fake_run)
    assert main(["--quiet", "train", str(synthetic_file), "--model", "symcere-ngcf-nested", "--set", "cross_weight=0",
                 "--epochs", "2", "--seed", "5"]) == 2
    c = seen[0]
    assert (c.model, c.settings.backbone, c.settings.n_layers, c.settings.cross_weight) == ("symcere", "ngcf", 3, 0)
    assert (c.loop.epochs, c.loop.seed, c.settings.bpr_space, c.settings.alpha) == (2, 5, "dot", 0.0)
    assert main(["--quiet", "train", str(synthetic_file), "--model", "symcere-ngcf-nested", "--set", "n_layers=1"]) == 2
    assert seen[1].settings.n_layers == 1  # a flag beats the variant's own setting
    capsys.readouterr()
    assert (
        main(["--quiet", "train", str(synthetic_file), "--model", "symcere-ngcf-nested", "--set", "warp_speed=9"]) == 2
    )
    assert "warp_speed" in capsys.readouterr().err and len(seen) == 2  # unknown options fail before training


@pytest.mark.slow
def test_cli_nested_at_cross_weight_0_prints_the_baselines_metrics(synthetic_file, tiny_bert_dir, capsys):
    from symcere_kit.cli import main

    common = ["--quiet", "train", str(synthetic_file), "--seed", "1", "--epochs", "2", "--json"]
    outs = []
    for extra in (
        ["--model", "lightgcn"],
        ["--model", "symcere-lightgcn-nested", "--set", "cross_weight=0", "--text-model", str(tiny_bert_dir)],
    ):
        assert main(common + extra) == 0
        outs.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert outs[1]["variant"] == "symcere-lightgcn-nested" and outs[1]["model"] == "symcere"
    assert [o["hr@10"] for o in outs] == [outs[0]["hr@10"]] * 2 and outs[0]["ndcg@10"] == outs[1]["ndcg@10"]
