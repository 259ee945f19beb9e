"""Analyses of stored runs: a small grid of SymCERE (w/ and w/o Norm) on generated reviews with a tiny
local text model, then embeddings, Table 4, the fusion gap, LIME (incl. the planted-word test), the
widget and every plot, all from the run store, never retraining."""
import numpy as np
import pytest
import torch

from symcere_kit.analysis import geometry, popularity, projection
from symcere_kit.analysis.embeddings import run_embeddings
from symcere_kit.analysis.explain import InteractionExplainer, class_summary, highlight_html, sample_rows, word_table
from symcere_kit.analysis.lexicon import WordClasses
from symcere_kit.data.synthetic import PRODUCT_WORDS, SENTIMENT_WORDS
from symcere_kit.runs import Grid, RunStore, load_run

pytestmark = pytest.mark.slow  # every test reads the store: a grid of SymCERE runs trained once (~3.5 min here)


@pytest.fixture(scope="module")
def store(tmp_path_factory, synthetic_file, tiny_bert_dir):
    root = tmp_path_factory.mktemp("grid")
    # mean pooling over a random tiny BERT is a bag of words, so the projection can learn the planted words
    settings = {"text_model": str(tiny_bert_dir), "pooling": "mean", "max_length": 32, "epochs": 25, "batch_size": 256}
    grid = Grid([str(synthetic_file)], ["symcere-lightgcn", "symcere-lightgcn-wo-norm", "lightgcn"], [0], root=root,
                settings=settings)
    grid.run(progress=False)
    runs = RunStore(root).find().set_index("variant")
    loaded = {v: load_run(runs.loc[v, "directory"]) for v in runs.index}
    return root, runs, loaded, grid


def test_run_store_lists_runs_and_embeddings_have_the_right_shapes(store):
    root, runs, loaded, _ = store
    assert set(runs.index) == {"symcere-lightgcn", "symcere-lightgcn-wo-norm", "lightgcn"} and runs["has_weights"].all()
    assert list(RunStore(root).find(model="symcere")["variant"].sort_values()) == [
        "symcere-lightgcn",
        "symcere-lightgcn-wo-norm",
    ]
    sym = run_embeddings(loaded["symcere-lightgcn"])
    ds = loaded["symcere-lightgcn"].dataset
    assert sym.interactions.shape == sym.text.shape == (len(ds.train), 64) and sym.normalize
    assert torch.allclose(sym.view("text").norm(dim=1), torch.ones(len(ds.train)), atol=1e-5)
    assert not run_embeddings(loaded["symcere-lightgcn-wo-norm"]).normalize
    base = run_embeddings(loaded["lightgcn"])
    assert base.text is None and base.items.shape == (ds.n_items, 64)


def test_table4_norm_degree_and_recommendation_popularity_are_finite(store):
    _, runs, loaded, _ = store
    embs = {v: run_embeddings(loaded[v]) for v in ("symcere-lightgcn", "symcere-lightgcn-wo-norm")}
    table = geometry.similarity_table(embs, max_rows=300)
    assert len(table) == 4 and np.isfinite(table.drop(columns=["run", "space"]).to_numpy(float)).all()
    assert (table["min"] <= table["25%"]).all() and (table["75%"] <= table["max"]).all()
    for emb in embs.values():
        rho = popularity.norm_degree_correlation(emb.items, emb.item_degree)["spearman_rho"]
        assert -1 <= rho <= 1
        spread = geometry.item_spread(emb.text, emb.train_items)
        assert spread["lambda_obj"].between(-1, 1).all() and (spread["n"] >= 2).all()
    run = loaded["lightgcn"]
    prof = popularity.recommendation_popularity(run.topk(), run.dataset.item_degree)
    assert 0 < prof["coverage@10"] <= 1 and 0 <= prof["gini@10"] <= 1
    acc = popularity.accuracy_by_popularity(run.topk(), run.dataset.test, run.dataset.item_degree)
    assert acc["n"].sum() == len(run.dataset.test)


def test_fusion_gap_is_deterministic_with_a_seed(store):
    _, _, loaded, _ = store
    before, after = (run_embeddings(loaded[v]) for v in ("symcere-lightgcn-wo-norm", "symcere-lightgcn"))
    panels = projection.fusion_panels(before, after)
    a = projection.fusion_gap(panels, n=60, seed=3, popularity=after.item_degree[after.train_items], progress=False)
    assert len(a) == 2 * 2 * 60 and set(a["modality"]) == {"graph", "text"} and np.isfinite(a[["x", "y"]]).all().all()
    b = projection.fusion_gap(panels, n=60, seed=3, progress=False)
    np.testing.assert_allclose(a[["x", "y"]].to_numpy(), b[["x", "y"]].to_numpy())
    assert projection.modality_gap(after.interactions, after.interactions) == pytest.approx(0, abs=1e-6)


def test_lime_global_view_ranks_planted_product_words_above_sentiment(store, tmp_path):
    _, _, loaded, _ = store
    run = loaded["symcere-lightgcn"]
    explainer = InteractionExplainer(run, cache_dir=tmp_path)
    exps = explainer.explain_many(sample_rows(len(explainer), 25, seed=0), num_samples=200, progress=False)
    assert all(np.isfinite(e.similarity) and e.weights for e in exps)
    words = word_table(exps, WordClasses.from_dataset(run.dataset, min_reviews=3)).set_index("word")
    product = words.loc[words.index.intersection([w for g in PRODUCT_WORDS for w in g]), "mean_weight"]
    sentiment = words.loc[words.index.intersection(SENTIMENT_WORDS), "mean_weight"]
    assert len(product) >= 10 and len(sentiment) >= 5
    assert product.median() > sentiment.max()  # the planted signal, not the shared sentiment, anchors t to g
    summary = class_summary(words.reset_index()).set_index("class")
    assert summary.loc["product", "share_of_mass"] > summary.loc["sentiment", "share_of_mass"]
    assert summary["share_of_mass"].sum() == pytest.approx(1)
    assert "<span" in highlight_html(exps[0]) and exps[0].text.split()[0] in highlight_html(exps[0])


def test_explanations_are_cached_by_model_text_samples_and_seed(store, tmp_path, monkeypatch):
    _, _, loaded, _ = store
    explainer = InteractionExplainer(loaded["symcere-lightgcn"], cache_dir=tmp_path)
    first = explainer.explain(0, num_samples=60)
    calls = []
    real = explainer.model.text.encode_texts
    monkeypatch.setattr(explainer.model.text, "encode_texts", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = explainer.explain(0, num_samples=60)
    assert again.weights == first.weights and not calls
    explainer.explain(0, num_samples=70)
    assert calls  # another sample count is another explanation


def test_widget_updates_when_a_person_picks_another_review_or_moves_the_slider(store):
    from symcere_kit.analysis.widgets import LimeExplorer

    root, _, _, _ = store
    ui = LimeExplorer(root, num_samples=60)
    ui.widget  # noqa: B018 -- built on first use
    assert len(ui.run.options) == 2 and ui.review.options and ui.last is not None
    html0, row0 = ui.text.value, ui.last.row
    ui.select(row=row0 + 1)
    assert ui.last.row == row0 + 1 and ui.text.value != html0
    ui.samples.value = 100
    assert ui.last.num_samples == 100 and "100 samples" in ui.status.value
    ui.search.value = PRODUCT_WORDS[0][0]
    assert all(PRODUCT_WORDS[0][0] in label for label, _ in ui.review.options)


def test_every_plot_saves_pdf_and_png(store, tmp_path):
    import matplotlib.pyplot as plt

    from symcere_kit.analysis import plots

    _, _, loaded, _ = store
    emb = run_embeddings(loaded["symcere-lightgcn"])
    frame = projection.fusion_gap(projection.fusion_panels(emb, emb), n=40, progress=False,
                                  popularity=emb.item_degree[emb.train_items])
    exp = InteractionExplainer(loaded["symcere-lightgcn"], cache_dir=tmp_path).explain(1, num_samples=40)
    figs = {
        "fig4": plots.plot_dimension_variance({"with": geometry.dimension_variance(emb.text)}),
        "table4": plots.plot_similarity_distributions({"with": geometry.pairwise_cosines(emb.text, 200)}),
        "fig1": plots.plot_fusion_gap(frame), "fig1pop": plots.plot_fusion_gap(frame, colour_by="popularity"),
        "words": plots.plot_word_weights(exp.frame()),
        "classes": plots.plot_class_shares(class_summary(word_table([exp], WordClasses.from_dataset(emb_ds(loaded))))),
    }
    for name, fig in figs.items():
        paths = plots.save_figure(fig, plots.figure_name(name, "Synthetic data"), tmp_path)
        plt.close(fig)
        assert (
            all(p.stat().st_size > 1000 for p in paths.values()) and paths["png"].name == f"{name}_synthetic_data.png"
        )


def emb_ds(loaded):
    return loaded["symcere-lightgcn"].dataset


def test_study_tables_read_the_grid_store(store, synthetic_file):
    from symcere_kit.analysis import grid_tables

    _, _, _, grid = store
    ds = str(synthetic_file)
    embs = grid_tables.variant_embeddings(grid, ds, ["symcere-lightgcn", "symcere-lightgcn-wo-norm"])
    assert len(grid_tables.table4(embs, max_rows=200)) == 4
    nd = grid_tables.norm_degree_table(embs)
    assert (
        list(nd["run"]) == ["SymCERE + LightGCN", "SymCERE w/o Norm + LightGCN"]
        and nd["spearman_rho"].between(-1, 1).all()
    )
    anchoring = grid_tables.anchoring_table(embs)
    assert anchoring["median_lambda_obj"].between(0, 1).all() and (anchoring["items"] > 0).all()
    pop = grid_tables.popularity_table(grid, ds)
    assert (
        set(pop["variant"]) == {"symcere-lightgcn", "symcere-lightgcn-wo-norm", "lightgcn"}
        and (pop["seeds"] == 1).all()
    )
    assert len(grid_tables.bucket_table(grid, ds)) == 9
    assert all(v.shape == (64,) for v in grid_tables.dimension_variances(embs).values())
    with pytest.raises(Exception, match="not part of this grid"):
        grid_tables.load_variant(grid, ds, "ngcf")


def test_explorer_shows_the_live_widget_with_a_static_view_and_headless_only_the_static_view(store, monkeypatch):
    """Headless (symcere reproduce), no widget is built: the first explanation as HTML with its colour key
    and word chart, the same explanation the widget opens on. Live, the same HTML rides beside the widget."""
    from symcere_kit.analysis import widgets
    from symcere_kit.analysis.explain import colour_key_html, highlight_html, word_chart_html

    root, _, _, _ = store
    monkeypatch.setenv("SYMCERE_HEADLESS", "1")
    headless = widgets.LimeExplorer(root, num_samples=60)
    bundle = headless._repr_mimebundle_()
    assert headless._widget is None and set(bundle) == {"text/html", "text/plain"}
    monkeypatch.delenv("SYMCERE_HEADLESS")
    live = widgets.LimeExplorer(root, num_samples=60)
    live_bundle = live._repr_mimebundle_()
    assert live._widget is not None and live.last is not None
    for part in (
        colour_key_html(3),
        highlight_html(live.last),
        word_chart_html(live.last),
        widgets.describe(live.last),
    ):
        assert part in bundle["text/html"]
    assert live_bundle["text/html"] == bundle["text/html"]
    assert live_bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == live.widget.model_id


def test_word_chart_lists_the_strongest_words_with_bars_in_proportion():
    from symcere_kit.analysis.explain import Explanation, word_chart_html

    e = Explanation(0, 0, 0, "a b c", 0.5, [("great", 0.2), ("bad", -0.1), ("a", 0.01)], 0.0, 0.9, 100, 0)
    chart = word_chart_html(e, top=2, width=10)
    assert chart.index("great") < chart.index("bad") and ">a<" not in chart
    assert "█" * 10 + "<" in chart and ">" + "█" * 5 + "<" in chart and "-0.1000" in chart


def _exp(row, seed, weights):
    from symcere_kit.analysis.explain import Explanation

    return Explanation(
        row, 0, 0, " ".join(w for w, _ in weights), 0.5, weights, 0.1 * seed, 0.5 + 0.1 * seed, 100, seed
    )


def test_seeds_combine_into_means_with_their_spread_and_the_words_whose_sign_flips():
    from symcere_kit.analysis.explain import combine_seeds, highlight_html, word_chart_html

    e = combine_seeds([_exp(3, 0, [("good", 0.30), ("gift", 0.02)]), _exp(3, 1, [("good", 0.20), ("gift", -0.04)])])
    assert e.row == 3 and e.weights == [("good", pytest.approx(0.25)), ("gift", pytest.approx(-0.01))]
    assert e.extra["flipped"] == ["gift"] and e.extra["seeds"] == [0, 1] and e.score == pytest.approx(0.55)
    assert e.extra["spread"]["good"] == pytest.approx(np.std([0.3, 0.2], ddof=1))
    html = highlight_html(e)
    assert html.count("dotted") == 1 and "sign flips" in html.split("gift")[0].rsplit("<span", 1)[1]
    assert "sign flips across seeds" in word_chart_html(e) and "over 2 seeds" in word_chart_html(e)
    with pytest.raises(Exception, match="one review"):
        combine_seeds([_exp(3, 0, [("a", 1.0)]), _exp(4, 1, [("a", 1.0)])])


def test_the_global_view_reads_seeds_apart_and_marks_instead_of_ranking_a_sign_flipping_word():
    from symcere_kit.analysis.explain import class_summary, word_table

    exps = [_exp(r, s, [("great", 0.2 + 0.01 * r), ("gift", (0.05 if s == 0 else -0.04) + 0.001 * r)])
            for r in range(4) for s in (0, 1)]
    words = word_table(exps).set_index("word")
    assert words.loc["great", "reviews"] == 4 and words.loc["great", "seeds"] == 2
    assert words.loc["great", "mean_weight"] == pytest.approx(0.2 + 0.015)
    assert words.loc["great", "total_abs_weight"] == pytest.approx(sum(0.2 + 0.01 * r for r in range(4)))
    assert words["sign_flips"].to_dict() == {"great": False, "gift": True}
    words["class"] = ["sentiment", "product"] if words.index[0] == "great" else ["product", "sentiment"]
    summary = class_summary(words.reset_index()).set_index("class")
    assert summary.loc["sentiment", "top_words"] == "great" and summary.loc["product", "sign_flipping"] == 1
    assert summary.loc["product", "top_words"].startswith("(none of its 1 words")  # said, not left empty
    assert summary.loc["stop-word", "top_words"] == "(no word of this class in the explained reviews)"
