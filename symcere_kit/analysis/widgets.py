"""The LIME explorer for JupyterLab: pick a dataset, a SymCERE run and a review (or search one),
set the number of LIME samples, and watch the explanation update (highlighted text, word chart).

Logic stays in ``explain``; this only wires ipywidgets to it. Loaded runs and explanations are
kept, so going back to a review is instant (explanations are also cached on disk). Loading a run's
text encoder prints nothing above the controls: transformers' "Loading weights" bars and the
libraries' log messages stay hidden unless ``verbose=True``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import SymcereError
from ..verbosity import quiet_libraries
from .explain import Explanation, highlight_html


class LimeExplorer:
    """``LimeExplorer(grid_root).widget`` is the UI; ``select`` / the widgets' values drive it.

    ``verbose=True`` shows transformers', huggingface_hub's and peft's own output (loading bars, log
    messages) while runs load and reviews are explained; None (the default) hides it unless
    ``$SYMCERE_VERBOSE`` asks (:func:`symcere_kit.verbosity.wants_verbose`)."""

    def __init__(self, root: str | Path | None = None, runs: pd.DataFrame | None = None, num_samples: int = 500,
                 max_options: int = 200, seed: int = 0, verbose: bool | None = None):
        import ipywidgets as W

        from ..runs.store import RunStore

        self.runs = runs if runs is not None else RunStore(root or "results/grid").find(model="symcere")
        self.runs = self.runs[self.runs["has_weights"]] if "has_weights" in self.runs else self.runs
        if self.runs.empty:
            raise SymcereError(f"No SymCERE run with stored weights under {root}; run the grid (notebook 03) first.")
        self.max_options, self.seed, self.verbose = max_options, seed, verbose
        self._explainers: dict[str, object] = {}
        self.last: Explanation | None = None
        datasets = sorted(self.runs["dataset"].unique())
        self.dataset = W.Dropdown(options=datasets, value=datasets[0], description="dataset")
        self.run = W.Dropdown(description="run", layout=W.Layout(width="420px"))
        self.search = W.Text(placeholder="search review text", description="search", continuous_update=False)
        self.review = W.Dropdown(description="review", layout=W.Layout(width="720px"))
        self.samples = W.IntSlider(value=num_samples, min=50, max=2000, step=50, description="LIME samples",
                                   continuous_update=False, style={"description_width": "initial"})
        self.status = W.HTML()
        self.text = W.HTML()
        self.chart = W.Output()
        self.widget = W.VBox([W.HBox([self.dataset, self.run]), W.HBox([self.search, self.samples]), self.review,
                              self.status, self.text, self.chart], layout=W.Layout(width="100%"))
        self.widget.add_class("symcere-lime-explorer")
        self.dataset.observe(lambda _: self._fill_runs(), "value")
        self.run.observe(lambda _: self._fill_reviews(), "value")
        self.search.observe(lambda _: self._fill_reviews(), "value")
        self.review.observe(lambda _: self.refresh(), "value")
        self.samples.observe(lambda _: self.refresh(), "value")
        self._fill_runs()

    def _fill_runs(self) -> None:
        part = self.runs[self.runs["dataset"] == self.dataset.value].sort_values(["variant", "seed"])
        self.run.options = [(f"{r.label} · seed {r.seed}", str(r.directory)) for r in part.itertuples()]
        self.run.value = self.run.options[0][1] if self.run.options else None  # ipywidgets 8 keeps None

    def explainer(self, directory: str | None = None):
        from ..runs.store import load_run
        from .explain import InteractionExplainer

        directory = directory or self.run.value
        if directory not in self._explainers:
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
        self.status.value = f"{len(hits):,} matching reviews" + (f", first {self.max_options} listed" if len(hits) > self.max_options else "")
        self.review.options = options
        self.review.value = options[0][1] if options else None  # observed: explains the first match

    def select(self, row: int | None = None, samples: int | None = None) -> Explanation | None:
        """Set the review and/or sample count (as a person would with the widgets); returns the explanation."""
        if samples is not None:
            self.samples.value = samples
        if row is not None:
            values = [v for _, v in self.review.options]
            if row not in values:
                self.review.options = list(self.review.options) + [(f"#{row}", row)]
            self.review.value = row
        return self.last

    def refresh(self) -> None:
        from IPython.display import display
        import matplotlib.pyplot as plt

        from .plots import plot_word_weights

        if self.review.value is None:
            return
        self.status.value = f"explaining review #{self.review.value} with {self.samples.value} samples …"
        explainer = self.explainer()
        with quiet_libraries(self.verbose):  # a frozen-mode run loads its transformer again on first use
            e = explainer.explain(int(self.review.value), num_samples=int(self.samples.value), seed=self.seed)
        self.last = e
        self.status.value = (f"review #{e.row} · user {e.user} · item {e.item} · cos(t, g) = {e.similarity:.4f} · "
                             f"LIME R² {e.score:.3f} · {e.num_samples} samples")
        self.text.value = highlight_html(e)
        self.chart.clear_output(wait=True)
        with self.chart:
            fig = plot_word_weights(e.frame(), title=f"review #{e.row}: word weights")
            display(fig)
            plt.close(fig)


def lime_explorer(root: str | Path | None = None, **kw):
    """The widget itself, for a notebook cell: ``lime_explorer("results/grid")``."""
    return LimeExplorer(root, **kw).widget
