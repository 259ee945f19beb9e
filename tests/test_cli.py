"""The `symcere` command end to end: JSON last lines, exit code 2 and one-paragraph errors."""
import gzip
import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from symcere_kit.cli import main


def run_cli(capsys, *args):
    code = main(["--quiet", *args])
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_stats_json_on_the_shared_musical_instruments(capsys, needs_shared):
    code, out, _ = run_cli(capsys, "stats", "amazon2014_musical_instruments", "--json")
    assert code == 0
    s = last_json(out)
    assert (s["users"], s["items"], s["reviews"]) == (1429, 900, 10261)
    assert s["split"]["train"] + s["split"]["test"] == 10261 and s["split"]["test_users"] == 1429
    assert s["date_range"] == ["2004-09-18", "2014-07-22"]
    assert s["losses"]["k_core"] == 0 and s["losses"]["duplicate_pairs"] == 0


def test_stats_on_2018_file_reports_dedupe_and_cross_variant_losses(capsys, needs_shared):
    code, out, _ = run_cli(capsys, "stats", "amazon2018_gift_cards_5", "--json")
    s = last_json(out)
    assert code == 0 and s["losses"]["duplicate_pairs"] == 7 and s["losses"]["cross_variant_copies"] > 0
    assert s["users"] <= 453 and s["per_user"]["median"] >= 5


@pytest.mark.slow
def test_train_prints_metrics_json_last_and_is_seed_deterministic(capsys, synthetic_file):
    args = ["train", str(synthetic_file), "--model", "lightgcn", "--seed", "3", "--epochs", "3", "--json"]
    code, out, _ = run_cli(capsys, *args)
    first = last_json(out)
    assert code == 0 and {"hr@10", "ndcg@10", "recall@10", "seed", "model", "git_commit"} <= set(first)
    _, out, _ = run_cli(capsys, *args)
    second = last_json(out)
    assert {k: first[k] for k in ("hr@10", "ndcg@10", "recall@10")} == {
        k: second[k] for k in ("hr@10", "ndcg@10", "recall@10")
    }


def test_mostpop_by_path(capsys, synthetic_file):
    code, out, _ = run_cli(capsys, "train", str(synthetic_file), "--model", "mostpop", "--json")
    assert code == 0 and 0 < last_json(out)["hr@10"] <= 1


def test_datasets_lists_names_and_availability(capsys):
    code, out, _ = run_cli(capsys, "datasets", "--json")
    rows = {r["name"]: r for r in last_json(out)}
    assert code == 0 and "amazon2023_health_and_household" in rows and "yelp" in rows
    assert rows["yelp"]["paper_users_items_reviews"] == [802, 1274, 11879]


def truncated_gz(tmp_path):
    good = tmp_path / "good.json.gz"
    with gzip.open(good, "wt") as f:
        for k in range(3000):
            f.write(json.dumps({"reviewerID": f"u{k % 50}", "asin": f"i{k % 70}", "overall": 5.0,
                                "reviewText": f"text number {k} " * 5, "unixReviewTime": 1_400_000_000 + k}) + "\n")
    bad = tmp_path / "cut.json.gz"
    bad.write_bytes(good.read_bytes()[:-4000])
    return str(bad)


GOOD_LINE = '{"reviewerID": "a", "asin": "b", "unixReviewTime": 1, "reviewText": "x", "overall": 1}\n'
BAD_INPUTS = {
    "truncated gz": (truncated_gz, r"cut\.json\.gz.*truncated"),
    "json cut mid-record": (
        lambda p: _write(
            p / "cut.json",
            '{"reviewerID": "a", "asin": "b", "unixReviewTime": 1, "reviewText": "x"}\n{"reviewerID": "a", "as',
        ),
        r"cut\.json, line 2",
    ),
    "missing field": (
        lambda p: _write(
            p / "nofield.json", GOOD_LINE + '{"reviewerID": "a", "unixReviewTime": 1, "reviewText": "x"}\n'
        ),
        r"nofield\.json, line 2.*asin",
    ),
    "non-utf8 byte": (
        lambda p: _write_bytes(
            p / "latin.json", b'{"reviewerID": "a", "asin": "b", "unixReviewTime": 1, "reviewText": "caf\xe9"}\n'
        ),
        r"latin\.json, line 1.*UTF-8",
    ),
    "empty after k-core": (
        lambda p: _write(
            p / "tiny.json", '{"reviewerID": "a", "asin": "b", "unixReviewTime": 1, "reviewText": "x", "overall": 1}\n'
        ),
        r"Nothing is left of .*tiny\.json.*--user-k",
    ),
    "unknown name": (lambda p: "no_such_dataset", r"Unknown dataset name 'no_such_dataset'"),
    "missing file": (lambda p: str(p / "absent.json.gz"), r"No such file: .*absent\.json\.gz"),
    "unreadable csv": (
        lambda p: _write(p / "bad.csv", 'user,item,text,timestamp\na,b,"open quote,1\n'),
        r"bad\.csv.*line 2",
    ),
}


def _write(path, text):
    path.write_text(text)
    return str(path)


def _write_bytes(path, data):
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_paragraph_and_no_traceback(case, tmp_path, capsys):
    make, pattern = BAD_INPUTS[case]
    target = make(tmp_path)
    code, out, err = run_cli(capsys, "stats", str(target), "--no-cache")
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert re.search(pattern, err), err


def test_bad_input_writes_nothing_to_the_cache(tmp_path, capsys, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SYMCERE_CACHE_DIR", str(cache))
    code, _, _ = run_cli(capsys, "stats", truncated_gz(tmp_path))
    assert code == 2
    assert not cache.exists() or not any(cache.rglob("*"))


def test_skip_bad_records_reports_the_count(tmp_path, capsys):
    from symcere_kit.data.synthetic import synthetic_reviews, write_amazon2018_jsonl

    f = write_amazon2018_jsonl(synthetic_reviews(n_users=80, n_items=50, seed=1), tmp_path / "r.json")
    f.write_text(f.read_text() + '{"broken": \n' + "not json at all\n")
    code, _, _ = run_cli(capsys, "stats", str(f), "--no-cache")
    assert code == 2
    code, out, err = run_cli(capsys, "stats", str(f), "--no-cache", "--skip-bad-records", "--json")
    assert code == 0 and last_json(out)["skipped_records"] == 2 and "skipped 2 malformed" in err


@pytest.mark.slow
def test_debug_shows_the_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "symcere_kit", "--debug", "stats", str(tmp_path / "nope.csv")],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "symcere_kit", "stats", str(tmp_path / "nope.csv")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_building_the_parser_imports_no_torch():
    """`symcere --help` and usage errors answer at once: the parser needs no model, tensor or frame."""
    code = ("import sys; from symcere_kit.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'transformers', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_verbose_and_quiet_reach_the_command_and_its_processes_through_the_environment(monkeypatch, capsys):
    """--verbose shows the libraries' loading bars and logs (hidden by default) in this process and in the
    pools and notebook kernels it starts, through $SYMCERE_VERBOSE; set for the command only."""
    import os

    from symcere_kit import cli
    from symcere_kit.verbosity import VERBOSE_ENV, wants_verbose

    seen = []
    monkeypatch.setattr(cli, "cmd_datasets", lambda args: seen.append((os.environ.get(VERBOSE_ENV), wants_verbose())))
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    assert [main(["--verbose", "datasets"]), main(["--quiet", "datasets"]), main(["datasets"])] == [0, 0, 0]
    assert seen == [("1", True), ("0", False), (None, False)]
    assert VERBOSE_ENV not in os.environ
    with pytest.raises(SystemExit) as info:
        main(["--verbose", "--quiet", "datasets"])
    assert info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    "options, pattern",
    [
        (
            ["--set", "device=gpu"],
            "device must be auto, cpu, cuda",
        ),  # --set device is read, not overwritten by --device's default
        (["--set", "lr=abc"], "LoopConfig option lr takes float; got 'abc'"),
        (["--epochs", "-5"], "epochs must be >= 0"),
    ],
)
def test_train_refuses_bad_options_before_loading(options, pattern, capsys):
    code, _, err = run_cli(capsys, "train", "no_such_dataset", "--model", "lightgcn", *options)
    assert code == 2 and "Traceback" not in err and re.search(pattern, err), err


def test_evaluate_rescores_stored_runs_under_protocols(capsys, tmp_path, needs_shared):
    """`symcere evaluate`: full gives the stored metrics bit for bit, uni10 scores above it, rows are written;
    a leaky protocol, which trains its own runs, is refused."""
    root = tmp_path / "grid"
    code, _, _ = run_cli(capsys, "grid", "--datasets", "amazon2018_gift_cards_5", "--models", "mostpop",
                         "lightgcn", "--seeds", "0", "--out", str(root), "--set", "epochs=2")
    assert code == 0
    code, out, _ = run_cli(capsys, "evaluate", "--root", str(root), "--protocols", "full", "uni10", "--json")
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["runs"] == 2 and summary["full_equal"] == summary["full_values"] == 8
    rows = pd.read_csv(root / "protocols.csv")
    hr = rows[rows["metric"] == "hr@10"].set_index(["variant", "protocol"])["value"]
    assert (hr.xs("uni10", level="protocol") >= hr.xs("full", level="protocol")).all()
    assert set(rows["sample_seed"].dropna()) == {0}
    run_cli(capsys, "evaluate", "--root", str(root), "--protocols", "uni10")  # again: replaces, no duplicates
    assert len(pd.read_csv(root / "protocols.csv")) == len(rows)
    code, _, err = run_cli(capsys, "evaluate", "--root", str(root), "--protocols", "repeats")
    assert code == 2 and "trains its own runs" in err
