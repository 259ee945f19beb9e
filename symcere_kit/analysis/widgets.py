"""The LIME explorer for JupyterLab: pick a dataset, a SymCERE run and a review (or search one),
set the number of LIME samples, and watch the explanation update (highlighted text, colour key, word chart).

Logic stays in ``explain``; this only wires ipywidgets to it. Loaded runs and explanations are
kept, so going back to a review is instant (explanations are also cached on disk). Loading a run's
text encoder prints nothing above the controls: transformers' "Loading weights" bars and the
libraries' log messages stay hidden unless ``verbose=True``.

Displayed in a notebook (``explorer`` as a cell's last line) it is one output holding the live widget and its static
view: the first review's explanation as HTML with its colour key and word chart, which a frontend that cannot draw the
widget shows instead (JupyterLab does for an untrusted, saved notebook). In an executed copy
([`symcere_kit.progress.headless`][symcere_kit.progress.headless]: ``symcere reproduce``) no widget is built, so the
executor waits on no widget messages, and the static view is all there is.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import SymcereError
from ..progress import headless
from ..runs.store import RunStore, load_run
from ..tuning.summary import study_figures
from ..verbosity import quiet_libraries
from .explain import Explanation, InteractionExplainer, colour_key_html, highlight_html, word_chart_html
from .plots import plot_word_weights


def describe(e: Explanation) -> str:
    """One line about an explanation: review, user, item, cos(t, g), LIME's R², sample count, and for one read
    over several LIME seeds (``explain.combine_seeds``) how many of its words flip sign across them."""
    seeds = e.extra.get("seeds", [e.seed])
    stability = (f" · {len(e.extra.get('flipped', []))} of {len(e.weights)} words flip sign across {len(seeds)} "
                 f"LIME seeds" if len(seeds) > 1 else f" · LIME seed {e.seed}")
    return (f"review #{e.row} · user {e.user} · item {e.item} · cos(t, g) = {e.similarity:.4f} · "
            f"LIME R² {e.score:.3f} · {e.num_samples} samples" + stability)


class LimeExplorer:
    """``LimeExplorer(grid_root)`` displays the UI (the widget, with its static view for saved copies);
    ``.widget`` is the ipywidgets tree, built on first use; ``select`` / the widgets' values drive it.

    Each review is explained under ``stability_seeds`` LIME seeds (``seed``, ``seed + 1``, ...) and shown as
    their mean, words whose sign flips across them marked (``explain.combine_seeds``).

    ``verbose=True`` shows transformers', huggingface_hub's and peft's own output (loading bars, log messages) while
    runs load and reviews are explained; None (the default) hides it unless ``$SYMCERE_VERBOSE`` asks
    ([`symcere_kit.verbosity.wants_verbose`][symcere_kit.verbosity.wants_verbose]). Raises ``SymcereError`` when the
    store holds no SymCERE run with weights."""

    def __init__(self, root: str | Path | None = None, runs: pd.DataFrame | None = None, num_samples: int = 500,
                 max_options: int = 200, seed: int = 0, verbose: bool | None = None, stability_seeds: int = 3):
        self.runs = runs if runs is not None else RunStore(root or "results/grid").find(model="symcere")
        self.runs = self.runs[self.runs["has_weights"]] if "has_weights" in self.runs else self.runs
        if self.runs.empty:
            raise SymcereError(f"No SymCERE run with stored weights under {root}; run the grid (notebook 03) first.")
        self.num_samples, self.max_options, self.seed, self.verbose = num_samples, max_options, seed, verbose
        self.seeds = list(range(seed, seed + stability_seeds))
        self._explainers: dict[str, object] = {}
        self._widget = None
        self.last: Explanation | None = None

    @property
    def widget(self):
        """The ipywidgets UI (built on first use; it explains the first review of the first run)."""
        if self._widget is None:
            self._build()
        return self._widget

    def _build(self) -> None:
        import ipywidgets as W

        datasets = sorted(self.runs["dataset"].unique())
        self.dataset = W.Dropdown(options=datasets, value=datasets[0], description="dataset")
        self.run = W.Dropdown(description="run", layout=W.Layout(width="420px"))
        self.search = W.Text(placeholder="search review text", description="search", continuous_update=False)
        self.review = W.Dropdown(description="review", layout=W.Layout(width="720px"))
        self.samples = W.IntSlider(value=self.num_samples, min=50, max=2000, step=50, description="LIME samples",
                                   continuous_update=False, style={"description_width": "initial"})
        self.status = W.HTML()
        self.text = W.HTML()
        self.chart = W.Output()
        self._widget = W.VBox([W.HBox([self.dataset, self.run]), W.HBox([self.search, self.samples]), self.review,
                               self.status, W.HTML(colour_key_html(len(self.seeds))), self.text, self.chart],
                              layout=W.Layout(width="100%"))
        self._widget.add_class("symcere-lime-explorer")
        self.dataset.observe(lambda _: self._fill_runs(), "value")
        self.run.observe(lambda _: self._fill_reviews(), "value")
        self.search.observe(lambda _: self._fill_reviews(), "value")
        self.review.observe(lambda _: self.refresh(), "value")
        self.samples.observe(lambda _: self.refresh(), "value")
        self._fill_runs()

    def _runs_of(self, dataset: str) -> pd.DataFrame:
        """``dataset``'s runs in the order the run picker lists them: by variant, then seed."""
        return self.runs[self.runs["dataset"] == dataset].sort_values(["variant", "seed"])

    def _first_run(self):
        """The run the widget opens on: the first of the first dataset (sorted)."""
        return next(self._runs_of(sorted(self.runs["dataset"].unique())[0]).itertuples())

    def first_explanation(self) -> Explanation:
        """The explanation the widget opens on: the first review of the first run (first dataset, then first variant
        and seed, sorted) at ``num_samples`` samples, over the explorer's LIME seeds."""
        explainer = self.explainer(str(self._first_run().directory))
        with quiet_libraries(self.verbose):
            return explainer.explain_seeds(0, num_samples=self.num_samples, seeds=self.seeds)

    def static_html(self, e: Explanation | None = None) -> str:
        """What a saved notebook keeps: the first explanation (``e``, when already at hand) as HTML: its run and
        line, the colour key, the highlighted review and the word chart (inline styles only: JupyterLab's
        sanitiser keeps them)."""
        e, run = e or self.first_explanation(), self._first_run()
        head = (f"<p><b>LIME explorer</b>, static view (run the notebook in JupyterLab to pick other runs, reviews "
                f"and sample counts): {run.dataset} · {run.label} · seed {run.seed}<br>{describe(e)}</p>")
        return head + colour_key_html(len(self.seeds)) + highlight_html(e) + word_chart_html(e)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """Live: the widget, with [`static_html`][symcere_kit.analysis.widgets.LimeExplorer.static_html] beside it for a
        frontend that cannot draw it (an untrusted saved copy, a docs page). Headless (an executed copy): the static
        view only, no widget built."""
        bundle = {} if headless() else dict(self.widget._repr_mimebundle_())
        e = self.first_explanation()
        bundle.update({"text/html": self.static_html(e), "text/plain": f"LIME explorer: {describe(e)}"})
        return bundle

    def _fill_runs(self) -> None:
        self.run.options = [(f"{r.label} · seed {r.seed}", str(r.directory))
                            for r in self._runs_of(self.dataset.value).itertuples()]
        self.run.value = self.run.options[0][1] if self.run.options else None  # ipywidgets 8 keeps None

    def explainer(self, directory: str | None = None):
        """The [`InteractionExplainer`][symcere_kit.analysis.explain.InteractionExplainer] of the run stored in
        ``directory`` (default: the run picked in the widget), loaded on first use and kept."""
        directory = directory or self.run.value
        if directory not in self._explainers:
            if self._widget is not None:
                self.status.value = f"loading {Path(directory).name} …"
            with quiet_libraries(self.verbose):
                self._explainers[directory] = InteractionExplainer(load_run(directory))
        return self._explainers[directory]

    def _fill_reviews(self) -> None:
        if not self.run.value:
            return
        train = self.explainer().train
        texts = train["text"].astype(str)
        hits = texts[texts.str.contains(self.search.value, case=False, regex=False)] if self.search.value else texts
        options = [(f"#{row} · user {train['user'].iat[row]} · item {train['item'].iat[row]} · {t[:80]}", int(row))
                   for row, t in hits.head(self.max_options).items()]
        self.status.value = f"{len(hits):,} matching reviews" + (
            f", first {self.max_options} listed" if len(hits) > self.max_options else ""
        )
        self.review.options = options
        self.review.value = options[0][1] if options else None  # observed: explains the first match

    def select(self, row: int | None = None, samples: int | None = None) -> Explanation | None:
        """Set the review and/or sample count (as a person would with the widgets); returns the explanation."""
        self.widget  # noqa: B018 -- built on first use
        if samples is not None:
            self.samples.value = samples
        if row is not None:
            values = [v for _, v in self.review.options]
            if row not in values:
                self.review.options = list(self.review.options) + [(f"#{row}", row)]
            self.review.value = row
        return self.last

    def refresh(self) -> None:
        """Explain the picked review at the picked sample count and redraw the status line, highlighted text
        and word chart (kept in ``last``); does nothing when no review is picked."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        if self.review.value is None:
            return
        self.status.value = f"explaining review #{self.review.value} with {self.samples.value} samples …"
        explainer = self.explainer()
        with quiet_libraries(self.verbose):  # a frozen-mode run loads its transformer again on first use
            e = explainer.explain_seeds(int(self.review.value), num_samples=int(self.samples.value), seeds=self.seeds)
        self.last = e
        self.status.value = describe(e)
        self.text.value = highlight_html(e)
        self.chart.clear_output(wait=True)
        with self.chart:
            fig = plot_word_weights(e.frame(), title=f"review #{e.row}: word weights")
            display(fig)
            plt.close(fig)


class StudyPicker:
    """Optuna's plots of the tuning studies in ``table`` (``tuning.summary.tuning_table``), displayed as a
    dropdown that draws the picked study (live only: not in an executed copy, see
    [`headless`][symcere_kit.progress.headless]) above the static view, the plots of the ``main`` variants'
    studies (all of them when ``main`` is None), which a saved copy keeps."""

    def __init__(self, table: pd.DataFrame, root: str | Path | None = None, main: tuple[str, ...] | None = None):
        self.pairs = list(zip(table["dataset"], table["variant"])) if len(table) else []
        self.root, self.main = root, main
        self._widget = None

    def _draw(self, dataset: str, variant: str) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        for fig in study_figures(dataset, variant, self.root):
            display(fig)
            plt.close(fig)

    def static_view(self) -> None:
        """Draw the ``main`` studies' plots into the cell."""
        for dataset, variant in self.pairs:
            if self.main is None or variant in self.main:
                self._draw(dataset, variant)

    @property
    def widget(self):
        """The ipywidgets UI, built on first use: a study dropdown above the picked study's plots."""
        if self._widget is None:
            import ipywidgets as W

            pick = W.Dropdown(options=[(f"{d} · {v}", (d, v)) for d, v in self.pairs], description="study")
            out = W.Output()

            def on_pick(change=None):
                out.clear_output(wait=True)
                with out:
                    self._draw(*pick.value)

            pick.observe(on_pick, names="value")
            on_pick()
            self._widget = W.VBox([pick, out])
        return self._widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if not self.pairs:
            print("no tuned study to show")
            return
        if not headless():
            display(self.widget)
        self.static_view()  # kept by a saved copy, which cannot draw the picker


def lime_explorer(root: str | Path | None = None, **kw):
    """The widget itself, for a notebook cell: ``lime_explorer("results/grid")``."""
    return LimeExplorer(root, **kw).widget


def _png(fig) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()
