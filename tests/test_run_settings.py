"""The settings resolver (symcere_kit/run_settings.py): the precedence of its docstring, source by source,
and grid-wide settings that reach a model only when they are its own or addressed to it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from symcere_kit.config import ModelSettings
from symcere_kit.errors import SymcereError
from symcere_kit.models import settings_class
from symcere_kit.run_settings import check_grid_settings, grid_settings_for, resolve_run_config
from symcere_kit.runs.variants import check_grid_settings as check_variants
from symcere_kit.runs.variants import variant_config


@dataclass(frozen=True)
class ToySettings(ModelSettings):
    a: float = 1.0
    b: float = 1.0
    mode: str = "plain"  # "own": a loop budget of its own (as SymCERE's LoRA modes)
    LOOP: ClassVar[dict] = {"epochs": 7}

    def loop_defaults(self) -> dict:
        return {"epochs": 3} if self.mode == "own" else dict(self.LOOP)

    def keeps_own_loop(self) -> bool:
        return self.mode == "own"


def resolve(**sources):
    return resolve_run_config("toy", ToySettings, **sources)


def test_each_source_beats_the_ones_before_it():
    assert resolve().settings.a == 1.0  # the dataclass default
    assert resolve(grid={"a": 2.0}).settings.a == 2.0
    assert resolve(grid={"a": 2.0}, variant={"a": 3.0}).settings.a == 3.0
    assert resolve(variant={"a": 3.0}, tuned={"a": 4.0}).settings.a == 4.0  # (a grid key would drop it: 6a)
    assert resolve(grid={"a": 2.0}, variant={"a": 3.0}, overrides={"a": 5.0}).settings.a == 5.0
    assert resolve(variant={"a": 3.0}, tuned={"a": 4.0}, overrides={"a": 5.0}).settings.a == 5.0
    assert resolve(seed=3).loop.seed == 3 and resolve(seed=3, grid={"seed": 4}).loop.seed == 4


def test_loop_defaults_come_from_the_resolved_settings_and_lose_to_every_source():
    assert resolve().loop.epochs == 7 and resolve(variant={"mode": "own"}).loop.epochs == 3
    assert resolve(overrides={"mode": "own", "epochs": 9}).loop.epochs == 9


def test_tuned_settings_yield_to_grid_keys_a_borrowed_files_variant_and_an_own_loop():
    tuned = {"a": 4.0, "b": 4.0, "epochs": 40}
    assert resolve(grid={"a": 2.0}, tuned=tuned).settings.a == 2.0  # 6(a): the grid fixes a
    assert resolve(variant={"b": 3.0}, tuned=tuned).settings.b == 4.0  # its own file beats the variant row ...
    assert resolve(variant={"b": 3.0}, tuned=tuned, borrowed=True).settings.b == 3.0  # ... a borrowed one does not (6b)
    assert resolve(tuned=tuned).loop.epochs == 40
    own = resolve(grid={"mode": "own"}, tuned=tuned)  # 6(c): the tuned epochs do not replace an own budget
    assert (own.loop.epochs, own.settings.a) == (3, 4.0)
    assert resolve(grid={"mode": "own", "epochs": 5}, tuned=tuned).loop.epochs == 5  # a grid key still applies


def test_an_option_the_model_lacks_names_both_lists():
    with pytest.raises(SymcereError, match=r"toy has no option\(s\) \['c'\].*\['a', 'b', 'mode'\].*epochs"):
        resolve(overrides={"c": 1})


def test_grid_keys_reach_a_model_that_has_them_or_is_addressed():
    symcere, rp3beta = settings_class("symcere"), settings_class("rp3beta")
    grid = {"alpha": 0.3, "epochs": 4, "rp3beta.top_k": 50, "symcere.tau": 0.4}
    assert grid_settings_for("symcere", symcere, grid) == {"alpha": 0.3, "epochs": 4, "tau": 0.4}
    assert grid_settings_for("rp3beta", rp3beta, grid) == {"epochs": 4, "top_k": 50}
    assert grid_settings_for("symcere", symcere, {"tau": 0.1, "symcere.tau": 0.4}) == {"tau": 0.4}  # addressed wins
    assert variant_config("symcere-lightgcn", 0, {"symcere.tau": 0.4}).settings.tau == 0.4
    assert variant_config("lightgcn", 0, {"symcere.tau": 0.4}) == variant_config("lightgcn", 0)


def test_a_bare_key_two_models_declare_apart_must_be_addressed():
    classes = {m: settings_class(m) for m in ("neumf", "smore", "lightgcn", "ngcf", "symcere")}
    # NeuMF's dropout_prob and SMORE's preference-gate dropout: one name, two meanings
    with pytest.raises(
        SymcereError, match=r"'dropout' means different things.*neumf.dropout=VALUE smore.dropout=VALUE"
    ):
        check_grid_settings({"dropout": 0.2}, classes)
    check_grid_settings({"neumf.dropout": 0.2, "smore.dropout": 0.3}, classes)
    # declared once and inherited: the same setting everywhere
    check_grid_settings({"embedding_dim": 32, "message_dropout": 0.2, "n_layers": 3, "text_model": "m", "lr": 0.01},
                        classes)


@pytest.mark.parametrize("grid, message", [
    ({"warp": 1}, r"Unknown setting\(s\) \['warp'\]"),
    ({"ease.reg_lambda": 1.0}, r"addressed to 'ease', which this grid does not run"),
    ({"lightgcn.tau": 0.1}, r"lightgcn has no option 'tau'"),
])
def test_a_grid_setting_that_reaches_nothing_fails_before_any_run(grid, message):
    with pytest.raises(SymcereError, match=message):
        check_variants(grid, ["lightgcn", "symcere-lightgcn"])
