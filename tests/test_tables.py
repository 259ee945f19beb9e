"""Tables 2 and 3 and the paired tests, on hand-made results with known answers."""
import numpy as np
import pandas as pd
import pytest

from symcere_kit.tables import export_tables, significance, table2, table3


def tidy_from(means: dict[str, dict[str, float]], datasets=("A",), seeds=(0, 1, 2), spread=0.01) -> pd.DataFrame:
    """Seeds at mean - spread, mean, mean + spread: mean exact, std = spread."""
    rows = []
    for d in datasets:
        for variant, by_metric in means.items():
            for metric, m in by_metric.items():
                for s, delta in zip(seeds, (-spread, 0.0, spread)):
                    rows.append({"dataset": d, "variant": variant, "label": variant, "seed": s, "metric": metric,
                                 "value": m + delta})
    return pd.DataFrame(rows)


MEANS = {
    "neumf": {"hr@10": 0.30, "ndcg@10": 0.10}, "lightgcn": {"hr@10": 0.40, "ndcg@10": 0.20},
    "ngcf": {"hr@10": 0.35, "ndcg@10": 0.25}, "symcere-ngcf": {"hr@10": 0.44, "ndcg@10": 0.22},
    "symcere-lightgcn": {"hr@10": 0.42, "ndcg@10": 0.21},
    "symcere-ngcf-wo-norm": {"hr@10": 0.01, "ndcg@10": 0.005}, "symcere-ngcf-infonce": {"hr@10": 0.43, "ndcg@10": 0.23},
}


def test_table2_marks_best_and_second_and_computes_max_improvement():
    t = table2(tidy_from(MEANS))
    assert list(t.values.columns) == ["NeuMF", "NGCF", "LightGCN", "SymCERE + NGCF", "SymCERE + LightGCN"]
    hr, ndcg = ("A", "HR@10"), ("A", "NDCG@10")
    assert t.marks.loc[hr, "SymCERE + NGCF"] == "best" and t.marks.loc[hr, "SymCERE + LightGCN"] == "second"
    assert t.marks.loc[ndcg, "NGCF"] == "best" and t.marks.loc[ndcg, "SymCERE + NGCF"] == "second"
    assert t.extra[hr] == pytest.approx((0.44 - 0.40) / 0.40 * 100)
    assert t.extra[ndcg] == pytest.approx((0.22 - 0.25) / 0.25 * 100)  # negative: a baseline wins
    assert t.stds.loc[hr, "NeuMF"] == pytest.approx(0.01)
    md = t.to_markdown()
    assert "**0.4400 ± 0.0100**" in md and "<u>0.4200 ± 0.0100</u>" in md and "+10.0%" in md and "-12.0%" in md
    tex = t.to_latex()
    assert r"\textbf{0.4400 $\pm$ 0.0100}" in tex and r"\underline{" in tex and r"\%" in tex
    html = t.styler().to_html()
    assert (
        "<b>0.4400 ± 0.0100</b>" in html
        and "<u>0.4200 ± 0.0100</u>" in html
        and "<style" not in html.split("<table")[1]
    )
    csv = pd.read_csv(pd.io.common.StringIO(t.to_csv()))
    assert set(csv["mark"].dropna()) == {"best", "second"}


def test_table2_opens_with_the_item_item_baselines_and_max_improvement_counts_them():
    means = {**MEANS, "rp3beta": {"hr@10": 0.41, "ndcg@10": 0.19}, "ease": {"hr@10": 0.46, "ndcg@10": 0.18}}
    t = table2(tidy_from(means))
    assert list(t.values.columns)[:3] == ["EASE^R", "RP3beta", "NeuMF"]
    hr = ("A", "HR@10")
    assert t.marks.loc[hr, "EASE^R"] == "best"
    assert t.extra[hr] == pytest.approx((0.44 - 0.46) / 0.46 * 100)  # best SymCERE vs EASE^R, the best baseline


def test_latex_escapes_headers_and_dataset_names():
    means = {"ease": {"hr@10": 0.46, "ndcg@10": 0.18}, "symcere-ngcf": {"hr@10": 0.44, "ndcg@10": 0.22}}
    tex = table2(tidy_from(means, datasets=("gift_cards",))).to_latex()
    header = next(line for line in tex.splitlines() if line.startswith("dataset"))
    assert r"EASE$^{R}$" in header and header.endswith(r"Max Improv. \% \\")  # an unescaped % ate the row end
    assert r"gift\_cards & HR@10" in tex and "EASE^R" not in tex


def test_table3_min_drop_is_the_drop_to_the_weakest_ablation():
    t = table3(tidy_from(MEANS))
    assert set(t) == {"ngcf"}  # the LightGCN ablations were not run
    ngcf = t["ngcf"]
    # the baseline NGCF shows as a control column; Min. Drop stays over the paper's ablations
    assert list(ngcf.values.columns) == ["SymCERE w/o Norm", "InfoNCE w/ Norm", "SymCERE w/ Norm", "NGCF"]
    assert ngcf.extra[("A", "HR@10")] == pytest.approx((0.44 - 0.01) / 0.44 * 100)
    assert ngcf.extra[("A", "NDCG@10")] == pytest.approx((0.22 - 0.005) / 0.22 * 100)


def test_table3_shows_the_controls_beside_the_ablations():
    means = {**MEANS, "symcere-ngcf-text-off": {"hr@10": 0.005, "ndcg@10": 0.001},
             "symcere-ngcf-nested": {"hr@10": 0.36, "ndcg@10": 0.26}}
    ngcf = table3(tidy_from(means))["ngcf"]
    assert list(ngcf.values.columns)[3:] == ["NGCF", "SymCERE, text off", "NGCF + cross-modal"]
    assert ngcf.extra[("A", "HR@10")] == pytest.approx((0.44 - 0.01) / 0.44 * 100)  # text-off's 0.005 is no ablation
    assert ngcf.marks.loc[("A", "NDCG@10"), "NGCF + cross-modal"] == "best"


def _per_user(diff_by_dataset: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = []
    for d, diff in diff_by_dataset.items():
        base = np.linspace(0.1, 0.5, len(diff))
        for seed in (0, 1, 2):
            for u, (b, x) in enumerate(zip(base, diff)):
                rows.append({"dataset": d, "variant": "ngcf", "seed": seed, "user": u, "value": b})
                rows.append({"dataset": d, "variant": "symcere-ngcf", "seed": seed, "user": u, "value": b + x})
    return pd.DataFrame(rows)


def test_significance_pairs_users_and_holm_adjusts_across_datasets():
    means = {"ngcf": {"ndcg@10": 0.3}, "symcere-ngcf": {"ndcg@10": 0.35}}
    tidy = tidy_from(means, datasets=("A", "B"))
    rng = np.random.default_rng(0)
    per_user = _per_user({"A": 0.05 + rng.normal(0, 0.01, 200), "B": rng.normal(0, 0.05, 200)})
    sig = significance(tidy, per_user, n_resamples=2000).set_index("dataset")
    assert sig.loc["A", "symcere"] == "SymCERE + NGCF" and sig.loc["A", "baseline"] == "NGCF"
    assert sig.loc["A", "users"] == 200
    assert sig.loc["A", "p"] < 1e-10 and 0.04 < sig.loc["A", "ci_low"] < 0.05 < sig.loc["A", "ci_high"] < 0.06
    assert sig.loc["B", "p"] > 0.01 and sig.loc["B", "ci_low"] < 0 < sig.loc["B", "ci_high"]
    # Holm: the smaller p is multiplied by 2, the larger by 1, never below the raw p
    assert sig.loc["A", "p_holm"] == pytest.approx(min(1.0, 2 * sig.loc["A", "p"]))
    assert sig.loc["B", "p_holm"] == pytest.approx(max(sig.loc["B", "p"], sig.loc["A", "p_holm"]))


def test_identical_models_are_not_significant_and_exports_land(tmp_path):
    tidy = tidy_from({"ngcf": {"ndcg@10": 0.3, "hr@10": 0.5}, "symcere-ngcf": {"ndcg@10": 0.3, "hr@10": 0.5},
                      "symcere-ngcf-infonce": {"ndcg@10": 0.29, "hr@10": 0.5}})
    per_user = _per_user({"A": np.zeros(50)})
    sig = significance(tidy, per_user)
    assert sig.loc[0, "p"] == 1.0 and sig.loc[0, "mean_diff"] == 0.0
    written = export_tables(tidy, per_user, tmp_path)
    names = {p.name for p in written}
    assert {"table2.md", "table2.tex", "table2.csv", "table3_ngcf.md", "significance.csv"} <= names
    assert all(p.stat().st_size > 0 for p in written)


def test_the_ablation_grid_does_not_overwrite_table2(tmp_path):
    """Notebook 04 exports the Table 3 grid (ablations, the full models and the controls, whose NGCF and
    LightGCN are Table 2 baselines too) after 03 wrote Table 2, its pattern and the significance tests."""
    from symcere_kit.runs.variants import tables_for

    full = tidy_from(MEANS)
    export_tables(full, _per_user({"A": np.zeros(50)}), tmp_path, tables_for(["table2"]))
    before = {p: (tmp_path / p).read_bytes() for p in ("table2.md", "table2_pattern.md", "significance.csv")}
    ablations = full[full["variant"].str.startswith("symcere") | full["variant"].isin(["ngcf", "lightgcn"])]
    written = {p.name for p in export_tables(ablations, _per_user({"A": np.ones(50)}), tmp_path,
                                             tables_for(["table3", "controls"]))}
    assert "table3_ngcf.md" in written and not any(n.startswith(("table2", "significance")) for n in written)
    assert {p: (tmp_path / p).read_bytes() for p in before} == before
    # without naming the tables, the same runs fill a Table 2 of their own (a hand-made grid's behaviour)
    assert "table2.md" in {p.name for p in export_tables(ablations, _per_user({"A": np.ones(50)}), tmp_path)}


def test_tables_for_maps_groups_to_their_tables_and_a_hand_made_set_to_every_table():
    from symcere_kit.runs.variants import tables_for

    assert tables_for(["table2"]) == ("table2",)
    assert tables_for(["controls", "table3"]) == ("table3",)
    assert tables_for(["readings", "paper"]) == ("table2", "table3", "readings")
    assert tables_for(["table2", "controls", "table3", "readings"]) == ("table2", "table3", "readings")
    assert tables_for(["lightgcn", "symcere-lightgcn"]) is None and tables_for(["table2", "sgl"]) is None
    assert tables_for(["tuning"]) is None and tables_for([]) is None


def test_a_grid_knows_the_tables_its_groups_make(tmp_path):
    from symcere_kit.runs.grid import Grid

    assert Grid(["A"], ["table3", "controls"], [0], root=tmp_path, tuned=False).tables == ("table3",)
    assert Grid(["A"], ["lightgcn"], [0], root=tmp_path, tuned=False).tables is None


def test_export_tables_names_an_unknown_table(tmp_path):
    with pytest.raises(ValueError, match="table4"):
        export_tables(tidy_from(MEANS), _per_user({"A": np.zeros(50)}), tmp_path, ["table2", "table4"])
    assert not list(tmp_path.iterdir())


def test_readings_table_reports_each_readings_change_from_the_tuned_model():
    from symcere_kit.tables import readings_table

    means = {
        "symcere-lightgcn": {"hr@10": 0.40, "ndcg@10": 0.20},
        "symcere-lightgcn-dot": {"hr@10": 0.42, "ndcg@10": 0.19},
        "symcere-lightgcn-node": {"hr@10": 0.30, "ndcg@10": 0.23},
    }
    t = readings_table(tidy_from(means))
    assert list(t.values.columns) == ["SymCERE + LightGCN", "BPR and scores on raw dot products (RLMRec)",
                                      "graph InfoNCE over nodes (SGL)"]
    assert t.extra[("A", "HR@10")] == pytest.approx(-25.0)  # node's -25 % outweighs dot's +5 %
    assert t.extra[("A", "NDCG@10")] == pytest.approx(15.0)


def test_table2_pattern_counts_backbone_wins_ties_for_neither_and_sets_the_paper_beside_ours():
    from symcere_kit.tables import table2_pattern

    means = {**MEANS, "ease": {"hr@10": 0.50, "ndcg@10": 0.10}}  # a simple baseline above both SymCERE on HR@10
    both = pd.concat([tidy_from(means, datasets=("A",)),
                      tidy_from({**means, "symcere-lightgcn": {"hr@10": 0.44, "ndcg@10": 0.30}}, datasets=("B",))])
    pattern = table2_pattern(both).set_index(["source", "metric"])
    ours = pattern.loc["ours, the paper's baselines"]
    # A: NGCF above on both metrics; B: HR@10 tied (0.44 each), LightGCN above on NDCG@10
    assert ours.loc["HR@10", ["+ NGCF above + LightGCN", "+ LightGCN above + NGCF"]].tolist() == [1, 0]
    assert ours.loc["NDCG@10", ["+ NGCF above + LightGCN", "+ LightGCN above + NGCF"]].tolist() == [1, 1]
    assert ours.loc["NDCG@10", "SymCERE above every baseline"] == 1  # B: 0.30 > ngcf's 0.25; A: 0.22 < 0.25
    assert ours.loc["HR@10", "median Max Improv. %"] == pytest.approx(10.0)  # 0.44 vs lightgcn's 0.40, both
    every = pattern.loc["ours, every baseline"]
    assert every.loc["HR@10", "SymCERE above every baseline"] == 0  # EASE^R's 0.50 beats both
    paper = pattern.loc["paper (its Table 2)"]
    assert paper.loc["HR@10", "datasets"] == 15 and paper.loc["HR@10", "+ NGCF above + LightGCN"] + paper.loc[
        "HR@10", "+ LightGCN above + NGCF"] <= 15
    assert table2_pattern(tidy_from({"lightgcn": MEANS["lightgcn"]})).empty  # no SymCERE: no pattern


def test_the_transcribed_paper_table2_matches_the_paper(needs_shared):
    import math
    import re

    from symcere_kit.paper_table2 import ROWS

    text = (needs_shared.parent / "paper" / "symcere_paper.txt").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(text) if line.startswith("Clothing, Shoes & Jewelry HR@10"))
    printed = [
        [
            math.nan if v == "-" else float(v)
            for v in re.findall(r"(?<![\d.])(\d\.\d{3}|-)(?=\s)", line.split("%")[0] + " ")
        ]
        for line in text[start : start + 30]
    ]
    ours = [list(row) for rows in ROWS.values() for row in rows]
    assert len(printed) == len(ours) == 30
    for got, want in zip(ours, printed):
        assert len(got) == len(want) == 7 and all(
            a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(got, want)
        )


def test_a_fresh_table_is_judged_against_the_stored_one_by_its_seed_spread():
    from symcere_kit.tables import compare_tables

    stored = pd.DataFrame({"dataset": "MI", "metric": "HR@10", "column": ["NeuMF", "EASE^R", "NGCF", "Max Improv. %"],
                           "mean": [0.1041, 0.1414, 0.1024, -22.7], "std": [0.0068, 0.0, 0.0037, np.nan]})
    # NeuMF moved by 0.0017 across CPU kinds (issue 27's AVX-512 clone): 2 x 0.0068 / sqrt(5) = 0.0061 allows it
    fresh = stored.assign(mean=[0.1058, 0.1414, 0.1012, -20.0])
    out = compare_tables(stored, fresh, seeds=5).set_index("column")
    assert list(out.index) == ["NeuMF", "EASE^R", "NGCF"]  # the derived column has no std and is not judged
    assert out["within"].all() and out.loc["NeuMF", "tolerance"] == pytest.approx(2 * 0.0068 / np.sqrt(5))
    assert out.loc["EASE^R", "tolerance"] == 5e-5 and out.loc["EASE^R", "diff"] == 0
    moved = compare_tables(stored, stored.assign(mean=[0.1041, 0.1415, 0.1024, -22.7]), seeds=5)
    assert moved.set_index("column")["within"].to_dict() == {"NeuMF": True, "EASE^R": False, "NGCF": True}
    with pytest.raises(ValueError, match="missing from the fresh one"):
        compare_tables(stored, fresh.iloc[1:], seeds=5)


def test_compare_command_exits_1_naming_the_cells_that_moved(tmp_path, capsys):
    from symcere_kit.cli import main

    stored = pd.DataFrame({"dataset": "MI", "metric": "HR@10", "column": ["NeuMF"], "mean": [0.1041], "std": [0.0068]})
    stored.to_csv(tmp_path / "a.csv", index=False)
    stored.assign(mean=[0.1058]).to_csv(tmp_path / "b.csv", index=False)
    stored.assign(mean=[0.1200]).to_csv(tmp_path / "c.csv", index=False)
    assert main(["compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]) == 0
    assert "1 of 1 cells within tolerance" in capsys.readouterr().out
    assert main(["compare", str(tmp_path / "a.csv"), str(tmp_path / "c.csv")]) == 1
    assert "MI HR@10 NeuMF 0.1041 -> 0.1200" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "a.csv"), str(tmp_path / "missing.csv")]) == 2  # bad input
    assert "missing.csv: cannot read it" in capsys.readouterr().err
