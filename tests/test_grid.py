"""The experiment harness: resumable grids, a killed run leaves nothing that counts, executors agree."""
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from symcere_kit.errors import SymcereError
from symcere_kit.runs import grid as grid_module
from symcere_kit.runs.grid import Grid, study_grid
from symcere_kit.runs.variants import expand_variants

FAST = {"epochs": 2, "batch_size": 256}


def test_groups_expand_in_paper_order_without_duplicates():
    assert expand_variants(["table2"])[:6] == ["ease", "rp3beta", "neumf", "sgl", "ngcf", "lightgcn"]
    both = expand_variants(["table2", "table3", "lightgcn"])
    assert len(both) == len(set(both)) == len(expand_variants(["paper"]))
    with pytest.raises(SymcereError, match="nosuch"):
        expand_variants(["nosuch"])


def test_unknown_setting_fails_before_any_run(tmp_path, synthetic_file):
    with pytest.raises(SymcereError, match="nosuch"):
        Grid([str(synthetic_file)], ["lightgcn"], [0], root=tmp_path, settings={"nosuch": 1})


def test_the_notebooks_store_shares_run_folders_and_separates_other_text_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMCERE_RESULTS_DIR", str(tmp_path))
    plain = study_grid(["d"], [0], variants=["symcere-lightgcn"])
    assert plain.root == tmp_path / "grid" and plain.specs == Grid(["d"], ["symcere-lightgcn"], [0]).specs
    other = study_grid(["d"], [0], text_mode="lora-top", text_model="org/model", variants=["symcere-lightgcn"])
    assert dict(other.specs[0].settings) == {"text_mode": "lora-top", "text_model": "org/model"}
    assert other.specs[0].directory(other.root) != plain.specs[0].directory(plain.root)
    assert study_grid(["d"], quick=True, variants=["lightgcn"]).root == tmp_path / "quick" / "grid"


@pytest.mark.slow
def test_grid_writes_tidy_results_and_never_redoes_a_finished_run(tmp_path, synthetic_file, monkeypatch):
    grid = Grid([str(synthetic_file)], ["mostpop", "lightgcn"], [0, 1], root=tmp_path, settings=FAST)
    tidy = grid.run(progress=False)
    assert len(grid.pending()) == 0
    assert sorted(tidy["metric"].unique()) == ["hr@10", "ndcg@10", "precision@10", "recall@10"]
    assert len(tidy) == 2 * 2 * 4 and tidy.groupby(["variant", "seed"]).size().eq(4).all()
    on_disk = pd.read_csv(tmp_path / "results.csv")
    assert len(on_disk) == len(tidy)
    record = json.loads((grid.specs[0].directory(tmp_path) / "result.json").read_text())
    assert record["info"]["config"]["seed"] == 0 and record["info"]["git_commit"] and record["info"]["versions"]
    pu = grid.per_user()
    assert set(pu["variant"]) == {"mostpop", "lightgcn"} and pu["value"].between(0, 1).all()

    calls = []
    monkeypatch.setattr(grid_module, "execute", lambda *a, **k: calls.append(a))
    again = Grid([str(synthetic_file)], ["mostpop", "lightgcn"], [0, 1, 2], root=tmp_path, settings=FAST)
    assert [s.seed for s in again.pending()] == [2, 2]
    again.run(progress=False)
    assert len(calls) == 2  # only the two new seed-2 runs were dispatched


def _grid_cmd(synthetic_file, root, seeds):
    return [sys.executable, "-m", "symcere_kit", "--quiet", "grid", "--datasets", str(synthetic_file),
            "--models", "lightgcn", "--seeds", *map(str, seeds), "--out", str(root),
            "--set", "epochs=150", "--set", "batch_size=64"]


@pytest.mark.slow
def test_a_killed_grid_leaves_no_partial_result_and_resumes(tmp_path, synthetic_file):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_grid_cmd(synthetic_file, tmp_path, [0, 1]), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = None
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        done = list(tmp_path.glob("runs/*/*/seed*/result.json"))
        if done:
            first = done[0]
            break
        time.sleep(0.05)
    assert first is not None, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no run finished"
    proc.send_signal(signal.SIGKILL)  # mid-way through the second run
    proc.wait()
    finished = list(tmp_path.glob("runs/*/*/seed*/result.json"))
    assert finished == [first]
    assert not list(tmp_path.glob("runs/**/.*.tmp"))  # no half-written file under a final or temporary name
    stamp = first.stat().st_mtime_ns
    out = subprocess.run(_grid_cmd(synthetic_file, tmp_path, [0, 1]) + ["--json"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "1 already finished" in out.stderr
    assert len(list(tmp_path.glob("runs/*/*/seed*/result.json"))) == 2
    assert first.stat().st_mtime_ns == stamp  # the finished run was not redone
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["runs"] == 2 and len(pd.read_csv(summary["results"])) == 2 * 4


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["process", "dask"])
def test_other_executors_give_the_local_results_bit_for_bit(tmp_path, synthetic_file, executor):
    """Workers run with one torch thread each (two here) where the local run has the default count:
    the metrics must still be equal to the last bit, as the notebooks' parallel grids promise
    (``runs.executors.default_workers``); SymCERE's B x B terms are where a thread-count effect would show."""
    if executor == "dask":
        pytest.importorskip("distributed")
    variants, seeds = ["lightgcn", "symcere-lightgcn"], [0, 1]
    local = Grid([str(synthetic_file)], variants, seeds, root=tmp_path / "local", settings=FAST)
    expected = local.run(progress=False)
    other = Grid([str(synthetic_file)], variants, seeds, root=tmp_path / executor, settings=FAST, workers=2)
    # the process pool is what a grid with workers > 1 picks by itself (the notebooks' path)
    got = other.run(progress=False) if executor == "process" else other.run(executor, workers=2, progress=False)
    key = ["variant", "seed", "metric"]
    merged = expected.merge(got, on=key, suffixes=("_local", "_other"))
    assert len(merged) == len(expected) == len(got) == len(variants) * len(seeds) * 4
    assert (merged["value_local"] == merged["value_other"]).all(), merged


def test_a_grid_without_workers_runs_here_and_with_one_pending_run_needs_no_pool(tmp_path, synthetic_file, monkeypatch):
    kinds = []
    real = grid_module.make_executor
    monkeypatch.setattr(
        grid_module, "make_executor", lambda kind="local", workers=None: kinds.append(kind) or real(kind, workers)
    )
    Grid([str(synthetic_file)], ["mostpop"], [0], root=tmp_path / "a").run(progress=False)
    import torch

    threads = torch.get_num_threads()
    Grid([str(synthetic_file)], ["mostpop"], [0], root=tmp_path / "b", workers=4).run(progress=False)
    assert kinds == ["local", "local"]
    assert torch.get_num_threads() == threads  # a lone run here leaves this process's threads alone


def test_a_failing_run_is_reported_after_the_others_finish(tmp_path, synthetic_file):
    grid = Grid([str(synthetic_file), str(tmp_path / "missing.json")], ["mostpop"], [0], root=tmp_path / "g")
    with pytest.raises(SymcereError, match="1 run\\(s\\) failed.*missing"):
        grid.run(progress=False)
    assert len(grid.records()) == 1
