"""`symcere tune`: equal-budget Optuna studies on the validation slice, resumable, leak-free."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml

from symcere_kit.cli import main
from symcere_kit.config import Choice, Range
from symcere_kit.errors import SymcereError, TrainingError
from symcere_kit.runs.grid import Grid
from symcere_kit.runs.tuned import load_tuned, read_tuned, tuned_path
from symcere_kit.runs.variants import variant_config
from symcere_kit.tuning.study import Budget, study_name, trials_frame, tune

SMALL = Budget(epoch_cap=20)


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _load(url: str, dataset: str, variant: str = "lightgcn"):
    return optuna.load_study(study_name=study_name(dataset, variant), storage=url)


def test_tune_twice_adds_trials_and_writes_the_tuned_file(synthetic_file, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'X.db'}"
    args = ["--quiet", "tune", str(synthetic_file), "--model", "lightgcn", "--trials", "2", "--storage", url,
            "--epoch-cap", "20", "--json"]
    assert main(args) == 0
    first = _last_json(capsys)
    assert (first["trials"], first["added"]) == (2, 2)
    assert main(args) == 0
    second = _last_json(capsys)
    assert (second["trials"], second["added"], second["study"]) == (4, 2, first["study"])
    assert set(second["best_params"]) == {"lr", "n_layers", "reg_weight"}  # LightGCN's own search space
    study = _load(url, str(synthetic_file))
    assert second["best_value"] == max(t.value for t in study.trials if t.state.name == "COMPLETE")
    record = read_tuned(str(synthetic_file), "lightgcn")
    # the protocol after tuning: the best trial's settings, for the epochs early stopping chose, no early stopping
    assert record["settings"] == {**second["best_params"], "epochs": second["best_epoch"], "patience": 0}
    assert 0 < second["best_epoch"] <= 20 and second["best_epoch"] % SMALL.eval_every == 0
    assert record["study"]["trials"] == 4 and record["study"]["budget"]["epoch_cap"] == 20
    frame = pd.read_csv(tuned_path(str(synthetic_file), "lightgcn").with_suffix(".trials.csv"))
    assert list(frame["number"]) == [0, 1, 2, 3]
    assert main(args[:5] + ["--up-to", "5", "--storage", url, "--epoch-cap", "20", "--json"]) == 0
    assert _last_json(capsys)["trials"] == 5  # --up-to tops the study up instead of adding


def test_trials_are_scored_on_the_validation_slice_never_on_test(synthetic_file, tmp_path, monkeypatch):
    import symcere_kit.train as train
    from symcere_kit.data.dataset import load_dataset

    ds = load_dataset(synthetic_file, progress=False)
    test_pairs = set(zip(*ds.test_csr.nonzero()))
    val = ds.holdout(0.2)
    seen = []
    real = train.evaluate

    def spy(score_fn, train_m, test_m, *a, **k):
        seen.append((set(zip(*test_m.nonzero())), set(zip(*train_m.nonzero()))))
        return real(score_fn, train_m, test_m, *a, **k)

    monkeypatch.setattr(train, "evaluate", spy)
    tune(str(synthetic_file), "lightgcn", trials=2, storage=str(tmp_path / "v.db"), budget=SMALL, progress=False)
    assert seen
    val_pairs = set(zip(*val.test_csr.nonzero()))
    for evaluated, masked in seen:
        assert evaluated == val_pairs and not evaluated & test_pairs and not masked & test_pairs


@pytest.mark.slow
def test_a_killed_tune_loses_no_finished_trial(synthetic_file, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'K.db'}"
    cmd = [sys.executable, "-m", "symcere_kit", "--quiet", "tune", str(synthetic_file), "--model", "lightgcn",
           "--trials", "50", "--storage", url, "--no-write", "--epoch-cap", "20"]
    proc = subprocess.Popen(cmd, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, ready = time.time() + 300, False
    try:
        while time.time() < deadline and proc.poll() is None and not ready:
            time.sleep(0.05)
            try:
                states = [t.state.name for t in _load(url, str(synthetic_file)).trials]
            except Exception:  # noqa: BLE001 - no study yet, or the file is being created
                continue
            ready = sum(s in ("COMPLETE", "PRUNED") for s in states) >= 2 and states[-1] == "RUNNING"
    finally:
        proc.kill()
        stderr = proc.communicate()[1].decode()
    assert ready, f"the tune never had two finished trials and one in flight: {stderr[-2000:]}"
    before = {t.number: (t.state, t.value, t.params) for t in _load(url, str(synthetic_file)).trials
              if t.state.is_finished()}
    assert main(["--quiet", "tune", str(synthetic_file), "--model", "lightgcn", "--trials", "1", "--storage", url,
                 "--no-write", "--epoch-cap", "20", "--json"]) == 0
    assert _last_json(capsys)["trials"] == len(before) + 1
    after = {t.number: (t.state, t.value, t.params) for t in _load(url, str(synthetic_file)).trials}
    assert {n: after[n] for n in before} == before


def test_bad_input_fails_before_any_trial(synthetic_file, tmp_path, capsys, monkeypatch):
    from symcere_kit.models.lightgcn import LightGCNSettings
    from symcere_kit.models.symcere import SymCERESettings

    db = tmp_path / "bad.db"

    def fails(*extra, model="lightgcn") -> str:
        assert main(["--quiet", "tune", str(synthetic_file), "--model", model, "--storage", str(db), *extra]) == 2
        return capsys.readouterr().err

    assert "Unknown model variant 'lightgcnn'" in fails(model="lightgcnn")
    assert "tune its variants one by one" in fails(model="table2")
    assert "nothing to tune" in fails(model="mostpop")
    assert "no option(s) ['lr_typo']" in fails("--set", "lr_typo=0.1")
    assert "searched" in fails("--set", "lr=0.1")
    monkeypatch.setattr(LightGCNSettings, "SEARCH_SPACE", {"lr": Range(0.1, 0.01, log=True)})
    assert "malformed" in fails()
    space = {**SymCERESettings.SEARCH_SPACE, "bpr_reduction": Choice(("sum", "median"))}
    monkeypatch.setattr(SymCERESettings, "SEARCH_SPACE", space)
    assert "bpr_reduction must be one of" in fails(model="symcere-lightgcn")
    monkeypatch.setattr(SymCERESettings, "SEARCH_SPACE", {k: v for k, v in space.items() if k != "tau"})
    assert "searches ['tau'], which" in fails(model="symcere-lightgcn")  # a variant's search the model lacks
    assert not db.exists()  # no study was even created


def test_a_failing_trial_is_recorded_and_the_study_goes_on(synthetic_file, tmp_path, monkeypatch):
    import symcere_kit.tuning.study as study  # the trial's fit, as tuning imported it

    real, calls = study.fit, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise TrainingError("lightgcn: the loss became nan in epoch 3 (lr=0.01).")
        return real(*args, **kwargs)

    monkeypatch.setattr(study, "fit", flaky)
    url = f"sqlite:///{tmp_path / 'f.db'}"
    out = tune(str(synthetic_file), "lightgcn", trials=3, storage=url, budget=SMALL, progress=False)
    assert (out["failed"], out["trials"]) == (1, 2)
    frame = trials_frame(_load(url, str(synthetic_file)), {})
    assert frame.loc[0, "state"] == "FAIL" and "loss became nan" in frame.loc[0, "error"]


def test_a_study_refuses_another_budget_or_dataset_version(synthetic_file, tmp_path):
    url = str(tmp_path / "b.db")
    tune(str(synthetic_file), "lightgcn", trials=1, storage=url, budget=SMALL, progress=False)
    with pytest.raises(SymcereError, match="another budget"):
        tune(str(synthetic_file), "lightgcn", trials=1, storage=url, budget=Budget(epoch_cap=30), progress=False)


def test_grid_runs_the_tuned_settings_on_the_whole_history(synthetic_file, tmp_path):
    out = tune(str(synthetic_file), "lightgcn", trials=2, storage=str(tmp_path / "g.db"), budget=SMALL,
               progress=False)
    grid = Grid([str(synthetic_file)], ["lightgcn", "mostpop"], [0, 1], root=tmp_path / "grid")
    spec = grid.specs[0]
    config = spec.config()
    assert (config.loop.epochs, config.loop.patience, config.loop.lr) == (
        out["best_epoch"],
        0,
        out["best_params"]["lr"],
    )
    assert config.settings.n_layers == out["best_params"]["n_layers"]
    assert not grid.specs[2].tuned  # mostpop has no tuned file
    plain = Grid([str(synthetic_file)], ["lightgcn"], [0], root=tmp_path / "grid", tuned=False)
    assert plain.specs[0].config().loop.epochs == 30 and plain.specs[0].directory(grid.root) != spec.directory(
        grid.root
    )
    grid.run(progress=False)
    record = json.loads((spec.directory(grid.root) / "result.json").read_text())
    # retrained on the whole training history (no holdout) for exactly the epochs early stopping chose
    assert record["info"]["epochs"] == out["best_epoch"] and record["info"]["config"]["patience"] == 0
    assert record["tuned"]["lr"] == out["best_params"]["lr"]
    # a tuned file of another version of the data is refused, not applied
    path = tuned_path(str(synthetic_file), "lightgcn")
    record = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**record, "dataset_fingerprint": "0000"}))
    stale = Grid([str(synthetic_file)], ["lightgcn"], [2], root=tmp_path / "grid")
    with pytest.raises(SymcereError, match="--no-tuned"):
        stale.run(progress=False)


def test_lora_modes_reuse_the_tuned_model_settings_with_their_own_loop(tmp_path):
    path = tuned_path("somedata", "symcere-lightgcn")
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"dataset_fingerprint": "f", "variant": "symcere-lightgcn", "model": "symcere",
                                    "settings": {"tau": 0.3, "beta": 0.02, "lr": 0.002, "epochs": 45, "patience": 0}}))
    tuned = load_tuned("somedata", "symcere-lightgcn").settings
    assert tuned["epochs"] == 45 and variant_config("symcere-lightgcn", 0, tuned=tuned).loop.epochs == 45
    lora = variant_config("symcere-lightgcn", 0, settings={"text_mode": "lora-top"}, tuned=tuned)
    assert (lora.settings.tau, lora.settings.beta) == (0.3, 0.02)
    assert (lora.loop.epochs, lora.loop.lr, lora.loop.batch_size) == (5, 0.01, 512)  # TEXT_MODE_LOOP, not the file's


def test_a_baseline_beside_lora_symcere_keeps_its_tuned_loop(tmp_path):
    """A grid's text_mode does not reach a model without one: LightGCN keeps its tuned epochs and lr
    (before the settings resolver, a LoRA grid dropped every variant's tuned loop settings)."""
    path = tuned_path("somedata", "lightgcn")
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"dataset_fingerprint": "f", "variant": "lightgcn", "model": "lightgcn",
                                    "settings": {"lr": 0.002, "epochs": 45, "patience": 0}}))
    tuned = load_tuned("somedata", "lightgcn").settings
    config = variant_config("lightgcn", 0, settings={"text_mode": "lora-top"}, tuned=tuned)
    assert (config.loop.epochs, config.loop.lr) == (45, 0.002)


@pytest.mark.slow
def test_tuning_never_sees_validation_or_test_reviews(tmp_path, monkeypatch, tiny_bert_dir):
    """Every review carries a unique marker; texts encoded while tuning SymCERE and SMORE, and the pairs
    the false-negative mask may use, come from the tuning-train part only."""
    import symcere_kit.models.symcere as symcere_mod
    from symcere_kit.data.dataset import load_dataset
    from symcere_kit.data.synthetic import synthetic_reviews, write_amazon2018_jsonl
    from symcere_kit.text.backbone import TextEncoder

    raw = synthetic_reviews(n_users=60, n_items=40, seed=5)
    raw["text"] = raw["text"] + [f" rid{i}" for i in range(len(raw))]
    path = write_amazon2018_jsonl(raw, tmp_path / "marked.json.gz")
    ds = load_dataset(path, progress=False)
    val = ds.holdout(0.2)
    markers = lambda texts: set(re.findall(r"rid\d+", " ".join(texts)))  # noqa: E731
    allowed = markers(val.train_texts)
    forbidden = markers(raw["text"]) - allowed  # validation and test reviews (and those k-core dropped)
    assert markers(ds.train["text"]) - allowed
    assert allowed and forbidden
    seen_texts, mask_pairs = set(), set()
    real_encode, real_mask = TextEncoder.encode, symcere_mod.false_negative_mask

    def encode(self, texts, *a, **k):
        seen_texts.update(markers(texts))
        return real_encode(self, texts, *a, **k)

    def mask(users, items, dataset):
        mask_pairs.update(zip(*dataset.train_csr.nonzero()))
        return real_mask(users, items, dataset)

    monkeypatch.setattr(TextEncoder, "encode", encode)
    monkeypatch.setattr(symcere_mod, "false_negative_mask", mask)
    for variant in ("symcere-lightgcn", "smore"):
        tune(str(path), variant, trials=1, storage=str(tmp_path / "leak.db"), progress=False,
             budget=Budget(epoch_cap=2, eval_every=1, patience=1), settings={"text_model": str(tiny_bert_dir)})
    assert seen_texts and seen_texts <= allowed and not seen_texts & forbidden
    assert mask_pairs and mask_pairs <= set(zip(*val.train_csr.nonzero()))


@pytest.mark.slow
def test_process_workers_share_one_study(synthetic_file, tmp_path):
    out = tune(str(synthetic_file), "lightgcn", trials=3, storage=str(tmp_path / "p.db"), executor="process",
               workers=2, budget=SMALL, progress=False)
    assert out["trials"] == 3 and out["added"] == 3


def test_concurrent_tunes_of_one_study_stop_at_its_target(synthetic_file, tmp_path):
    """Two `--up-to 3` runs started on the same study (each counting 0 finished) end it at 3 trials, not 6:
    every worker stops once the study holds its target (the second task here stands for the other run)."""
    from symcere_kit.data.dataset import load_dataset
    from symcere_kit.tuning.study import TuneTask, _open_study, optimize, search_space, storage_url

    url, name = storage_url(str(tmp_path / "c.db")), study_name(str(synthetic_file), "lightgcn")
    _open_study(url, name, load_dataset(str(synthetic_file), progress=False), "lightgcn", SMALL, {})
    tasks = [TuneTask(str(synthetic_file), "lightgcn", url, name, 3, None, SMALL, sampler_seed=i, stop_at=3)
             for i in range(2)]
    assert optimize(tasks[0]) == 3 and optimize(tasks[1]) == 0
    study = optuna.load_study(study_name=name, storage=url)
    assert len(study.trials) == 3 and len(search_space("lightgcn")) == len(study.trials[0].params)


def test_the_notebook_rebuilds_studies_from_the_committed_files(synthetic_file, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization.matplotlib import plot_optimization_history, plot_param_importances

    from symcere_kit.tuning.summary import rebuilt_study, tuning_table

    out = tune(str(synthetic_file), "neumf", trials=3, storage=str(tmp_path / "r.db"), budget=SMALL, progress=False)
    table = tuning_table([str(synthetic_file)], ["neumf", "lightgcn"])
    assert list(table["variant"]) == ["neumf"] and table.loc[0, "trials"] == out["trials"]
    study = rebuilt_study(str(synthetic_file), "neumf")
    assert study.best_value == out["best_value"]
    assert study.best_params["mlp_hidden"] == json.dumps(out["best_params"]["mlp_hidden"])  # a tuple choice survives
    plot_optimization_history(study)
    plot_param_importances(study)


def test_the_study_picker_draws_the_main_studies_and_builds_no_widget_headless(synthetic_file, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from symcere_kit.analysis.widgets import StudyPicker
    from symcere_kit.tuning.summary import study_figures, tuning_table

    tune(str(synthetic_file), "neumf", trials=3, storage=str(tmp_path / "p.db"), budget=SMALL, progress=False)
    figures = study_figures(str(synthetic_file), "neumf")
    assert [f.axes[0].get_title().split(":")[1].strip() for f in figures][0] == "validation NDCG@10 per trial"
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs: shown.extend(objs))
    monkeypatch.setenv("SYMCERE_HEADLESS", "1")
    picker = StudyPicker(tuning_table([str(synthetic_file)], ["neumf"]), main=("neumf",))
    picker._ipython_display_()
    assert picker._widget is None and len(shown) == len(figures) and all(hasattr(f, "savefig") for f in shown)
    shown.clear()
    StudyPicker(tuning_table([str(synthetic_file)], ["neumf"]), main=("lightgcn",))._ipython_display_()
    assert shown == []  # neumf is not a main study here


def test_train_uses_the_tuned_file_unless_told_not_to(synthetic_file, tmp_path, capsys):
    out = tune(str(synthetic_file), "lightgcn", trials=2, storage=str(tmp_path / "t.db"), budget=SMALL, progress=False)
    common = ["--quiet", "train", str(synthetic_file), "--model", "lightgcn", "--json"]
    assert main(common) == 0
    tuned = _last_json(capsys)
    assert tuned["tuned"].endswith("lightgcn.yaml") and tuned["epochs"] == out["best_epoch"]
    assert tuned["config"]["lr"] == out["best_params"]["lr"]
    assert main(common + ["--epochs", "3"]) == 0  # an explicit flag beats the tuned value
    assert _last_json(capsys)["epochs"] == 3
    assert main(common + ["--no-tuned"]) == 0
    plain = _last_json(capsys)
    assert plain["tuned"] is None and plain["epochs"] == 30 and plain["config"]["lr"] == 0.005


def test_a_broken_tuned_file_is_a_clear_error(tmp_path):
    path = tuned_path("somedata", "lightgcn")
    path.parent.mkdir(parents=True)
    path.write_text("settings: {lr: 0.01\n")
    with pytest.raises(SymcereError, match=r"lightgcn.yaml, line 2 is not valid YAML"):
        load_tuned("somedata", "lightgcn")
    path.write_text("just text\n")
    with pytest.raises(SymcereError, match="not a tuned-settings file"):
        load_tuned("somedata", "lightgcn")


def _write(path, record):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(record))


@pytest.mark.parametrize("edit, match", [
    ({"settings": {"lr": "abc"}}, r"lightgcn.yaml: LoopConfig option lr takes float; got 'abc'"),
    ({"settings": {"n_layers": "three"}}, r"lightgcn.yaml: .*n_layers takes int"),
    ({"settings": {"epochs": -5, "patience": 0}}, r"lightgcn.yaml: .*epochs must be >= 0"),
    ({"settings": {"lrr": 0.1}}, r"lightgcn.yaml: .*no option\(s\) \['lrr'\]"),
    ({"settings": 5}, r"lightgcn.yaml is not a tuned-settings file"),
    ({"variant": "ngcf", "model": "ngcf"}, r"lightgcn.yaml holds the settings of 'ngcf'"),
])
def test_a_hand_edited_tuned_file_fails_naming_the_file(edit, match):
    _write(tuned_path("somedata", "lightgcn"),
           {"dataset_fingerprint": "f", "variant": "lightgcn", "model": "lightgcn", "settings": {"lr": 0.001}, **edit})
    with pytest.raises(SymcereError, match=match):
        load_tuned("somedata", "lightgcn")


def test_a_nested_control_refuses_a_baseline_retuned_since():
    base = {"dataset_fingerprint": "f", "variant": "lightgcn", "model": "lightgcn",
            "settings": {"lr": 0.002, "reg_weight": 1e-4, "epochs": 40, "patience": 0}}
    nested = {
        "dataset_fingerprint": "f",
        "variant": "symcere-lightgcn-nested",
        "model": "symcere",
        "settings": {"lr": 0.002, "reg_weight": 1e-4, "cross_weight": 0.01, "tau": 0.2, "epochs": 35, "patience": 0},
    }
    _write(tuned_path("somedata", "lightgcn"), base)
    _write(tuned_path("somedata", "symcere-lightgcn-nested"), nested)
    assert load_tuned("somedata", "symcere-lightgcn-nested").settings["epochs"] == 35  # its own early-stopped epoch
    _write(tuned_path("somedata", "lightgcn"), {**base, "settings": {**base["settings"], "lr": 0.004}})
    with pytest.raises(SymcereError, match=r"changed since \(lr 0.002 there, 0.004 in lightgcn's file\)"):
        load_tuned("somedata", "symcere-lightgcn-nested")


def test_a_smaller_study_never_replaces_a_tuned_file(synthetic_file, tmp_path):
    first = tune(
        str(synthetic_file), "lightgcn", trials=2, storage=str(tmp_path / "a.db"), budget=SMALL, progress=False
    )
    before = Path(first["tuned_file"]).read_text()
    with pytest.raises(SymcereError, match="2-trial study .* at most 1 finished trials"):
        tune(str(synthetic_file), "lightgcn", trials=1, storage=str(tmp_path / "b.db"), budget=SMALL, progress=False)
    assert not (tmp_path / "b.db").exists() and Path(first["tuned_file"]).read_text() == before
    scratch = tune(str(synthetic_file), "lightgcn", trials=1, storage=str(tmp_path / "b.db"), budget=SMALL,
                   write=False, progress=False)
    assert scratch["tuned_file"] is None and Path(first["tuned_file"]).read_text() == before


@pytest.mark.parametrize("settings, kwargs, match", [
    ({"epochs": 3}, {}, r"\['epochs'\] are set by the equal tuning budget"),
    ({"seed": 7}, {}, r"\['seed'\] are set by the equal tuning budget"),
    ({"batch_size": "abc"}, {}, "batch_size takes int"),
    ({"embedding_dim": -1}, {}, "embedding_dim must be > 0"),
    ({}, {"timeout": -5}, "--timeout takes seconds > 0"),
])
def test_bad_tune_requests_fail_before_any_storage(settings, kwargs, match, tmp_path):
    with pytest.raises(SymcereError, match=match):
        tune(
            "nowhere.json",
            "lightgcn",
            storage=str(tmp_path / "s" / "x.db"),
            settings=settings,
            progress=False,
            **kwargs,
        )
    assert not (tmp_path / "s").exists()


def test_trials_frame_says_why_a_silent_failure_failed_and_keeps_epochs_whole():
    from optuna.trial import TrialState

    study = optuna.create_study(direction="maximize")
    done = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)})
    done.set_user_attr("best_epoch", 55)
    study.tell(done, 0.1)
    study.tell(study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}), state=TrialState.FAIL)
    frame = trials_frame(study, {"lr": Range(1e-4, 1e-2, log=True)})
    assert frame["error"].tolist() == ["", frame["error"][1]] and "heartbeat" in frame["error"][1]
    rows = [line.split(",") for line in frame.to_csv(index=False).splitlines()]
    assert [r[rows[0].index("best_epoch")] for r in rows[1:]] == ["55", ""]  # not 55.0 beside a missing one
