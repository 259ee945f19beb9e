"""Run configs: per-model settings, loop defaults, round trips, and records written before them."""
import pytest
import yaml

from symcere_kit.config import Choice, LoopConfig, Range
from symcere_kit.errors import SymcereError
from symcere_kit.models import model_names, run_config, run_config_from_record

# A run record's config as symcere-kit wrote it before per-model settings: one flat TrainConfig
# (every field, used or not), here an SGL run with a non-default SSL weight.
LEGACY_SGL = {
    "alpha": 0.1, "backbone": "lightgcn", "batch_size": 2048, "beta": 0.05, "bpr_reduction": "sum", "device": "auto",
    "edge_dropout": 0.2, "embedding_dim": 64, "epochs": 30, "eval_batch_size": 1024, "eval_every": 1, "eval_ks": [10],
    "fn_mask": True, "knn_k": 10, "lora_alpha": 16, "lora_dropout": 0.05, "lora_rank": 8, "lora_top_layers": 1,
    "lr": 0.005, "max_length": 128, "message_dropout": 0.1, "model": "sgl", "n_layers": 3, "normalize": True,
    "patience": 0, "pooling": "auto", "reg_weight": 0.0001, "seed": 3, "t2g_mask": "same", "tau": 0.5,
    "text_chunk": 64, "text_lr": 0.0005, "text_mode": "frozen", "text_model": None, "trust_remote_code": False,
    "validation_ratio": 0.2, "word_mask": 0.15,
}


def test_a_flat_record_from_before_per_model_settings_loads_with_its_values():
    config = run_config_from_record(LEGACY_SGL)
    assert config == run_config("sgl", seed=3, ssl_weight=0.1, drop_ratio=0.2)
    assert (config.settings.ssl_tau, config.loop.eval_ks) == (0.5, (10,))
    smore = run_config_from_record({**LEGACY_SGL, "model": "smore", "alpha": 0.02, "tau": 0.3, "message_dropout": 0.2})
    assert (smore.settings.cl_weight, smore.settings.cl_tau, smore.settings.dropout) == (0.02, 0.3, 0.2)


def test_an_unknown_key_is_an_error_naming_the_models_options():
    with pytest.raises(SymcereError, match="warp_speed.*ssl_tau"):
        run_config_from_record({**LEGACY_SGL, "warp_speed": 9})
    with pytest.raises(SymcereError, match="lightgcn has no option.*tau"):
        run_config("lightgcn", tau=0.1)


@pytest.mark.parametrize("model", model_names())
def test_every_model_round_trips_and_declares_a_valid_search_space(tmp_path, model):
    config = run_config(model, seed=7)
    assert run_config_from_record(config.to_dict()) == config
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in config.to_dict().items()}  # as a tuned file holds it
    assert run_config_from_record(yaml.safe_load(yaml.safe_dump(plain))) == config
    space = type(config.settings).search_space()  # names neither a setting nor a loop field: an error
    own = type(config.settings).field_names() | LoopConfig.field_names()
    for name, dim in space.items():
        assert name in own and dim.source
        if isinstance(dim, Range):
            assert dim.low < dim.high
            default = (
                getattr(config.settings, name, None)
                if name in type(config.settings).field_names()
                else getattr(config.loop, name)
            )
            assert dim.low <= default <= dim.high, f"{model}.{name}: default {default} outside its range"
        else:
            assert isinstance(dim, Choice) and len(dim.values) > 1


def test_loop_defaults_come_from_the_model_and_the_caller_wins():
    assert run_config("ngcf").loop.epochs == 100 != LoopConfig().epochs
    assert run_config("smore").loop.lr == 0.001
    assert run_config("ngcf", epochs=3).loop.epochs == 3
    assert run_config("lightgcn").replace(lr=0.1, n_layers=4).to_dict()["n_layers"] == 4


def test_settings_validate_their_choices():
    with pytest.raises(SymcereError, match="backbone must be one of lightgcn, ngcf"):
        run_config("symcere", backbone="gat")


@pytest.mark.parametrize("model, options, match", [
    ("lightgcn", {"lr": "abc"}, r"LoopConfig option lr takes float; got 'abc' \(str\)"),
    ("lightgcn", {"batch_size": 2.5}, "LoopConfig option batch_size takes int"),
    ("lightgcn", {"embedding_dim": -1}, "embedding_dim must be > 0"),
    ("lightgcn", {"epochs": -5}, "epochs must be >= 0"),
    ("lightgcn", {"device": "gpu"}, "device must be auto, cpu, cuda"),
    ("lightgcn", {"validation_ratio": 1.5}, "validation_ratio must be between 0 and 1"),
    ("symcere", {"normalize": 1}, "normalize takes bool"),
    ("symcere", {"tau": 0}, "tau must be > 0"),
    ("symcere", {"text_model": 3}, r"text_model takes str \| None"),
    ("symcere", {"text_mode": "nope"}, r"text_mode takes one of 'frozen', 'lora', 'lora-top'; got 'nope'"),
    ("symcere", {"cross_weight": float("inf")}, "cross_weight must be >= 0 and finite; got inf"),
    ("lightgcn", {"lr": float("nan")}, "lr must be > 0 and finite"),
    ("ease", {"reg_lambda": 0.0}, "reg_lambda must be > 0"),
    ("rp3beta", {"top_k": 0}, "top_k must be > 0"),
    ("rp3beta", {"top_k": 2.5}, "top_k takes int"),
])
def test_a_value_of_the_wrong_type_or_sign_is_refused_by_name(model, options, match):
    with pytest.raises(SymcereError, match=match):
        run_config(model, **options)
    with pytest.raises(SymcereError, match=match):
        run_config(model).replace(**options)


def test_direct_construction_is_checked_too():
    from symcere_kit.config import LoopConfig
    from symcere_kit.models.ease import EASESettings

    with pytest.raises(SymcereError, match="EASESettings option reg_lambda must be > 0"):
        EASESettings(reg_lambda=-1.0)
    with pytest.raises(SymcereError, match="LoopConfig option epochs takes int"):
        LoopConfig(epochs="30")


def test_ints_pass_for_floats_and_are_kept_as_given():
    config = run_config("symcere", alpha=0, lr=1)  # YAML reads --set alpha=0 as an int
    assert config.settings.alpha == 0 and type(config.settings.alpha) is int and config.loop.lr == 1
