"""benchmarks/gpu_check.py, the prepared GPU check (issue 17), on the CPU: its dry run produces the table with
every row and column, through the Python entry point and the bash wrapper; --prepare builds a carry set under
the device tool's 64 MiB that holds the review file; set-up errors name their fix. No GPU, no network."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import MI_FILE

ROOT = Path(__file__).resolve().parents[1]


def _load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


gpu_check = _load_gpu_check()


def _check_table(result: dict, markdown: str, models: tuple[str, ...] = ()) -> None:
    """Every planned (variant, data, side) is a row with every column; metrics finite in [0, 1]."""
    specs = gpu_check.plan(dry_run=True, models=models)
    want = [(s.variant, s.data, side) for s in specs for side in s.sides]
    rows = result["rows"]
    assert [(r["variant"], r["data_key"], r["side"]) for r in rows] == want
    keys = [key for key, _ in gpu_check.COLUMNS]
    for r in rows:
        assert set(keys) <= set(r), f"missing columns {set(keys) - set(r)}"
        assert r["status"] == "ok" and r["device"] == "cpu" and r["epochs"] == 1
        assert r["epoch_seconds"] > 0 and r["peak_gpu_mib"] is None  # no CUDA on a dry run
        for k in ("hr@10", "ndcg@10"):
            assert isinstance(r[k], float) and math.isfinite(r[k]) and 0 <= r[k] <= 1
    pairs = {(s.variant, s.data) for s in specs if "cpu" in s.sides}
    paired = [r for r in rows if r["side"] == "gpu" and (r["variant"], r["data_key"]) in pairs]
    assert len(paired) == len(pairs)
    for r in paired:
        assert r["speedup"] > 0 and all(math.isfinite(r[f"d_{k}"]) for k in ("hr@10", "ndcg@10"))
    assert all(r["speedup"] is None for r in rows if r not in paired)
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    assert lines[0] == "| " + " | ".join(title for _, title in gpu_check.COLUMNS) + " |"
    assert len(lines) == 2 + len(want) and all(line.count("|") == len(keys) + 1 for line in lines)
    assert "DRY RUN" in markdown


@pytest.mark.slow
def test_dry_run_in_process_writes_the_table_with_every_row_and_column(tmp_path, capsys):
    threads_before = os.environ.get("OMP_NUM_THREADS")  # Dask, imported by an earlier test, may have set it
    # --carry at an empty folder: the dry run takes MiniLM's tokenizer from the installed package, not build/.
    rc = gpu_check.main(["--dry-run", "--parts", "train", "--out", str(tmp_path / "out"),
                         "--carry", str(tmp_path / "no-carry")])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    result = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    markdown = (tmp_path / "out" / "gpu_check.md").read_text()
    _check_table(result, markdown)
    # LightGCN, NGCF, SGL and SymCERE on the slice on both sides; SymCERE on the whole set on the GPU side alone
    assert len(result["rows"]) == 9 and result["rows"][-1]["side"] == "gpu" and "lora" in result["rows"][-1]["model"]
    assert result["tests"] is None and result["ok"] and markdown in printed
    assert os.environ.get("SYMCERE_OFFLINE") == "1" and os.environ.get("OMP_NUM_THREADS") == threads_before  # env back


@pytest.mark.slow
def test_dry_run_through_the_bash_wrapper_runs_the_cuda_tests_and_the_table(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(out)}  # $OUT as on the device: the log is kept there
    # Both parts; LightGCN alone for training (the in-process test above runs every model).
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--dry-run", "--models", "lightgcn",
                           "--carry", str(tmp_path / "no-carry")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((out / "gpu_check.json").read_text())
    markdown = (out / "gpu_check.md").read_text()
    _check_table(result, markdown, models=("lightgcn",))
    assert [r["side"] for r in result["rows"]] == ["gpu", "cpu"]
    tests = result["tests"]
    assert tests["status"] == "ok" and "tests/test_losses.py" in tests["files"]
    ran = tests["counts"].get("passed", 0) + tests["counts"].get("skipped", 0)
    assert ran >= 2 and tests["counts"].get("failed", 0) == 0  # skipped here without CUDA, passed on a GPU
    assert "-m cuda" in (out / "pytest_cuda.log").read_text()
    assert done.stdout.rstrip().endswith("gpu_check.json)") and "CUDA-marked tests" in done.stdout
    assert (out / "gpu_check.log").read_text() == done.stdout  # the wrapper tees stdout and stderr there


def test_prepare_builds_a_carry_set_under_the_limit_with_the_review_file(needs_shared, tmp_path, capsys,
                                                                         monkeypatch):
    from importlib import metadata

    from symcere_kit.files import sha256_file

    def no_network(*args):
        raise AssertionError("a test must not download")

    monkeypatch.setattr(gpu_check, "_download_wheel", no_network)
    dest = tmp_path / "carry"
    # A wheel already in place is kept, not fetched again (the real one comes from pip download).
    wheel = dest / "wheels" / f"duckdb-{metadata.version('duckdb')}-cp312-abi3-manylinux_2_28_x86_64.whl"
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"stand-in")
    stale = dest / "wheels" / "duckdb-0.0.1-cp312-abi3-manylinux_2_28_x86_64.whl"
    stale.write_bytes(b"old")
    assert gpu_check.main(["--prepare", "--dest", str(dest)]) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((dest / "manifest.json").read_text())
    review = dest / manifest["review_file"]["path"]
    assert review.name == MI_FILE.name and review.parent.name == "amazon2014_musical_instruments"
    assert sha256_file(review) == sha256_file(MI_FILE) == manifest["review_file"]["sha256"]
    assert (dest / "data" / "PROVENANCE.md").is_file()
    assert manifest["wheels"] == [{"dist": "duckdb", "version": metadata.version("duckdb"), "module": "duckdb",
                                   "file": wheel.name}] and not stale.exists()
    encoder = dest / "minilm"
    assert (encoder / "config.json").is_file() and (encoder / "tokenizer.json").is_file()
    assert not list(encoder.rglob("*.safetensors")) and not list(encoder.rglob("*.bin"))  # never the weights
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    assert manifest["carry_mib"] == round(size / 2**20, 2) and manifest["total_mib"] < gpu_check.LIMIT_MIB
    call = json.loads(printed.strip().splitlines()[-1])
    assert manifest["carry"] == [str(dest)] and "outside the checkout" in printed  # a trial: the default's call
    assert call == {"command": "bash benchmarks/gpu_check.sh", "carry": ["build/gpu_check"],
                    "timeout_s": gpu_check.RUN_TIMEOUT_S}


def test_prepare_without_download_says_the_wheel_is_missing(needs_shared, tmp_path, capsys):
    assert gpu_check.main(["--prepare", "--dest", str(tmp_path / "carry"), "--no-download"]) == 0
    manifest = json.loads((tmp_path / "carry" / "manifest.json").read_text())
    assert manifest["wheels"] == [] and manifest["wheels_missing"] == ["duckdb"]
    assert "WARNING: no wheel of duckdb" in capsys.readouterr().out


def test_the_real_run_without_a_carry_set_stops_at_once_naming_prepare(tmp_path, capsys):
    assert gpu_check.main(["--carry", str(tmp_path / "none"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "manifest.json missing" in err and "--prepare" in err and "--dry-run" in err


def test_bad_options_are_usage_errors(tmp_path, capsys):
    assert gpu_check.main(["--dry-run", "--parts", "train,gpu", "--out", str(tmp_path)]) == 2
    assert gpu_check.main(["--dry-run", "--epochs", "lightgcn=0", "--out", str(tmp_path)]) == 2
    assert gpu_check.main(["--dry-run", "--models", "lightgcn,neumf", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--parts takes tests and/or train" in err and "--epochs takes VARIANT=N" in err
    assert "--models takes variants of the plan" in err and not list(tmp_path.iterdir())  # nothing started


def test_a_part_past_its_budget_is_cut():
    start = time.perf_counter()
    with pytest.raises(gpu_check.OverBudget, match="cut after"):
        with gpu_check.time_limit(0.05):
            time.sleep(5)
    assert time.perf_counter() - start < 2


def test_compare_fills_the_gpu_row_of_each_pair_only():
    def row(side, variant, secs, hr, status="ok", data="full"):
        return {"side": side, "variant": variant, "data_key": data, "status": status, "epoch_seconds": secs,
                "hr@10": hr, "ndcg@10": None if hr is None else hr / 2, "speedup": None, "d_hr@10": None,
                "d_ndcg@10": None}

    rows = [row("gpu", "lightgcn", 0.5, 0.2), row("cpu", "lightgcn", 2.0, 0.1),
            row("gpu", "sgl", 0.5, 0.2), row("cpu", "sgl", None, None, status="over budget: cut after 9 s"),
            row("gpu", "symcere-lightgcn", 1.0, 0.3)]
    gpu_check.compare(rows)
    assert rows[0]["speedup"] == 4.0 and rows[0]["d_hr@10"] == pytest.approx(0.1)
    assert rows[0]["d_ndcg@10"] == pytest.approx(0.05) and rows[1]["speedup"] is None
    assert rows[2]["speedup"] is None and rows[4]["speedup"] is None
    assert "| 4.00x | +0.1000 | +0.0500 | ok |" in gpu_check.markdown_table(rows)


@pytest.mark.slow
def test_past_the_deadline_no_run_starts_and_the_table_still_says_so(tmp_path, capsys):
    rc = gpu_check.main(["--dry-run", "--parts", "train", "--models", "lightgcn", "--deadline", "1",
                         "--out", str(tmp_path / "out"), "--carry", str(tmp_path / "no-carry")])
    assert rc == 1  # not every part ran
    result = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert [r["status"] for r in result["rows"]] == ["skipped: deadline reached"] * 2 and not result["ok"]
    assert "| skipped: deadline reached |" in capsys.readouterr().out
