"""LIME "semantic anchoring" (paper section 6.2, Tables 5-8): which words of a review move its text
embedding towards the graph embedding of the interaction it belongs to.

For training interaction (u, v) with review r_uv, the explained quantity is the cosine similarity
cos(t(r'), g_uv) of a perturbed review r' (LIME drops words) to the fixed g_uv = (g_u + g_v)/2 of
the trained model. LIME's text explainer wants class probabilities, so ``classifier_fn`` returns
[1 - p, p] with p = (cos + 1)/2, an affine map: LIME's weights for label 1 are then half the cosine
change a word causes. Perturbations are encoded in length-sorted batches by the model's own
encoder. Explanations are cached on disk by (model weights, text, samples, seed, features), so a
widget revisiting a review, or a rerun of a notebook, costs nothing.

The global view (the paper's named limitation is that LIME is local) aggregates many explanations
per word and per word class (``lexicon.WordClasses``).
"""
from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..errors import SymcereError
from ..files import stable_hash, write_json_atomic
from ..paths import cache_dir as default_cache
from ..progress import progress_bar
from ..runs.store import trainable_state
from .lexicon import CLASSES, WordClasses, tokens


@dataclass
class Explanation:
    """LIME's explanation of one training review: each word's weight on cos(t(r_uv), g_uv), and the
    fit of LIME's local linear model; ``extra`` holds what [`combine_seeds`][symcere_kit.analysis.explain.combine_seeds]
    adds when it reads several seeds as one."""

    row: int  # index into the training interactions
    user: int
    item: int
    text: str
    similarity: float  # cos(t(r_uv), g_uv) of the whole review
    weights: list[tuple[str, float]]  # (word, LIME weight), strongest first
    intercept: float
    score: float  # R^2 of LIME's local linear model
    num_samples: int
    seed: int
    extra: dict = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """The word weights as a DataFrame with columns ``word`` and ``weight``, strongest first."""
        return pd.DataFrame(self.weights, columns=["word", "weight"])


def _weights_key(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(trainable_state(model).items()):
        h.update(name.encode())
        h.update(tensor.float().numpy().tobytes())
    return h.hexdigest()[:16]


class InteractionExplainer:
    """LIME over one trained SymCERE run (a ``TrainedRun`` from ``runs.load_run``)."""

    def __init__(self, trained, cache_dir: str | Path | None = None, batch_size: int = 64):
        model = trained.model
        if not (hasattr(model, "graph") and hasattr(model, "text")):
            raise SymcereError(f"{trained.label}: LIME semantic anchoring needs a SymCERE run (it explains "
                               f"text-graph similarity); {trained.config.model} has no text encoder.")

        self.trained, self.model, self.batch_size = trained, model.eval(), batch_size
        self.train = trained.fit_data.train
        with torch.no_grad():
            users, items = model.graph(model.adj)
        self.users, self.items = users.float(), items.float()
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache() / "lime"
        self.model_key = stable_hash({"weights": _weights_key(model), "config": trained.config.to_dict()})

    def __len__(self) -> int:
        return len(self.train)

    def interaction(self, row: int) -> tuple[int, int, str]:
        """(user, item, review text) of training interaction ``row``.

        Raises:
            SymcereError: ``row`` is out of range.
        """
        if not 0 <= row < len(self.train):
            raise SymcereError(f"Review row {row} is out of range: this run has {len(self.train)} training reviews.")
        r = self.train.iloc[row]
        return int(r["user"]), int(r["item"]), str(r["text"])

    def graph_embedding(self, row: int) -> torch.Tensor:
        """g_uv = (g_u + g_v)/2 of training interaction ``row``, raw (not normalised), shape [d]."""
        user, item, _ = self.interaction(row)
        return (self.users[user] + self.items[item]) / 2

    def similarity(self, texts: Sequence[str], row: int, progress: bool = False) -> np.ndarray:
        """cos(t(text), g_uv of ``row``) for each text; cosine whether or not the model normalises."""
        t = self.model.text.encode_texts(list(texts), batch_size=self.batch_size, progress=progress)
        g = self.graph_embedding(row).to(t.device)
        return F.cosine_similarity(t, g[None, :], dim=-1).cpu().numpy().astype(np.float64)

    def classifier_fn(self, row: int, progress: bool = False):
        """LIME's classifier for review ``row``: a function mapping a list of texts to an array [n, 2] of
        ``[1 - p, p]`` per text, with p = (cos(t(text), g_uv) + 1)/2."""
        def predict(texts: list[str]) -> np.ndarray:
            p = (self.similarity(texts, row, progress) + 1.0) / 2.0
            return np.stack([1.0 - p, p], axis=1)

        return predict

    def _key(self, text: str, num_samples: int, seed: int, num_features: int | None) -> str:
        return stable_hash({"model": self.model_key, "text": text, "samples": num_samples, "seed": seed,
                            "features": num_features})

    def explain(self, row: int, num_samples: int = 500, seed: int = 0, num_features: int | None = None,
                progress: bool = False, use_cache: bool = True, refresh: bool = False) -> Explanation:
        """LIME explanation of review ``row`` (all its distinct words unless ``num_features``); with
        ``refresh`` a cached one is recomputed (and the cache rewritten), e.g. to time LIME itself."""
        from lime.lime_text import LimeTextExplainer

        if num_samples < 10:
            raise SymcereError(f"LIME needs at least 10 samples to fit its local model, got {num_samples}.")
        user, item, text = self.interaction(row)
        key = self._key(text, num_samples, seed, num_features)
        path = self.cache_dir / f"{key}.json"
        if use_cache and not refresh and path.is_file():
            d = json.loads(path.read_text(encoding="utf-8"))
            d["weights"] = [tuple(w) for w in d["weights"]]
            return Explanation(**{**d, "row": row})
        if not tokens(text):
            raise SymcereError(f"Review row {row} has no words to explain (empty text).")
        explainer = LimeTextExplainer(class_names=["dissimilar", "similar"], random_state=seed)
        n_words = len(set(tokens(text)))
        exp = explainer.explain_instance(text, self.classifier_fn(row, progress), labels=(1,),
                                         num_features=num_features or n_words, num_samples=num_samples)
        full = float(self.similarity([text], row)[0])
        out = Explanation(row, user, item, text, full, [(w, float(v)) for w, v in exp.as_list(label=1)],
                          float(exp.intercept[1]), float(exp.score), num_samples, seed)
        if use_cache:
            write_json_atomic(path, asdict(out))
        return out

    def explain_many(self, rows: Sequence[int], num_samples: int = 500, seed: int = 0, progress: bool = True,
                     seeds: Sequence[int] | None = None) -> list[Explanation]:
        """One explanation per row and LIME seed (``seeds``, default ``[seed]``), rows outer, seeds inner."""
        seeds = list(seeds) if seeds is not None else [seed]
        return [self.explain(int(r), num_samples, s) for r in progress_bar(rows, desc="LIME reviews", unit="review",
                                                                         enabled=progress) for s in seeds]

    def explain_seeds(self, row: int, num_samples: int = 500, seeds: Sequence[int] = (0, 1, 2)) -> Explanation:
        """Review ``row`` explained under each LIME seed in ``seeds`` and read as one:
        [`combine_seeds`][symcere_kit.analysis.explain.combine_seeds]."""
        return combine_seeds([self.explain(row, num_samples, s) for s in seeds])


def combine_seeds(explanations: Sequence[Explanation]) -> Explanation:
    """One review's explanations under several LIME seeds as one: each word's weight is its mean over the
    seeds (strongest first); ``extra`` holds ``seeds``, ``spread`` (word -> std over seeds, ddof 1) and
    ``flipped`` (the words whose weight is positive under one seed and negative under another). LIME's R²
    and intercept are means too. Raises SymcereError unless all explain the same review at one sample count."""
    if not explanations or len({(e.row, e.num_samples) for e in explanations}) != 1:
        raise SymcereError("combine_seeds needs explanations of one review at one sample count, under several seeds.")
    first = explanations[0]
    f = pd.DataFrame([(e.seed, w, v) for e in explanations for w, v in e.weights], columns=["seed", "word", "weight"])
    g = f.groupby("word", sort=False)["weight"]
    stats = pd.DataFrame({"mean": g.mean(), "std": g.std(), "lo": g.min(), "hi": g.max()})
    stats = stats.reindex(stats["mean"].abs().sort_values(ascending=False).index)
    flipped = sorted(stats.index[(stats["lo"] < 0) & (stats["hi"] > 0)])
    return Explanation(
        first.row,
        first.user,
        first.item,
        first.text,
        first.similarity,
        [(w, float(v)) for w, v in stats["mean"].items()],
        float(np.mean([e.intercept for e in explanations])),
        float(np.mean([e.score for e in explanations])),
        first.num_samples,
        first.seed,
        {
            "seeds": [e.seed for e in explanations],
            "flipped": flipped,
            "spread": {w: float(v) for w, v in stats["std"].fillna(0.0).items()},
        },
    )


def sample_rows(n_rows: int, n: int, seed: int = 0) -> np.ndarray:
    """``n`` distinct review rows drawn with ``seed`` (all of them when n >= n_rows), sorted."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=min(n, n_rows), replace=False))


def word_table(explanations: Sequence[Explanation], classes: WordClasses | None = None) -> pd.DataFrame:
    """Global view per word over many explanations: in how many reviews LIME weighed it, its mean and mean
    absolute weight, total absolute weight, and its class.

    Explanations of the same reviews under several LIME seeds (``explain_many(..., seeds=...)``) are read per seed: each
    statistic is computed within a seed and averaged over the seeds; ``seeds`` counts them, ``seed_std`` is the std over
    seeds of the word's mean weight (NaN for one seed) and ``sign_flips`` is True where that mean weight is positive
    under one seed and negative under another: such a word's rank is LIME's noise, so
    [`class_summary`][symcere_kit.analysis.explain.class_summary] marks it instead of ranking it."""
    rows = [(e.seed, e.row, w.lower(), v) for e in explanations for w, v in e.weights]
    if not rows:
        raise SymcereError("No explanation holds any word weight; explain some reviews first.")
    f = pd.DataFrame(rows, columns=["seed", "row", "word", "weight"])
    f["abs"] = f["weight"].abs()
    per_seed = f.groupby(["word", "seed"]).agg(reviews=("row", "nunique"), mean_weight=("weight", "mean"),
                                               mean_abs_weight=("abs", "mean"), total_abs_weight=("abs", "sum"))
    g = per_seed.groupby("word")
    out = g[["reviews", "mean_weight", "mean_abs_weight", "total_abs_weight"]].mean()
    out["reviews"] = g["reviews"].max()
    out["seeds"] = g.size()
    out["seed_std"] = g["mean_weight"].std()
    out["sign_flips"] = (g["mean_weight"].min() < 0) & (g["mean_weight"].max() > 0)
    out = out.reset_index()
    if classes is not None:
        out["class"] = classes.classify(out["word"])
    return out.sort_values("mean_weight", ascending=False, ignore_index=True)


def class_summary(words: pd.DataFrame, top: int = 5, min_reviews: int = 3) -> pd.DataFrame:
    """Tables 5-8 style: per word class, its share of all attribution mass, its mean weight, and its strongest positive
    words (mean weight, among words weighed in at least ``min_reviews`` reviews whose sign holds across LIME seeds);
    ``sign_flipping`` counts the class's words whose sign does not hold
    ([`word_table`][symcere_kit.analysis.explain.word_table]). Where no word qualifies, ``top_words`` says why instead
    of staying empty."""
    if "class" not in words:
        raise SymcereError("word_table was built without word classes; pass classes=WordClasses(...).")
    total = words["total_abs_weight"].sum()
    flips = words["sign_flips"] if "sign_flips" in words else pd.Series(False, index=words.index)
    rows = []
    for cls in CLASSES:
        part = words[words["class"] == cls]
        frequent = part[(part["reviews"] >= min_reviews) & ~flips[part.index]].sort_values(
            "mean_weight", ascending=False
        )
        mean_w = float(np.average(part["mean_weight"], weights=part["reviews"])) if len(part) else float("nan")
        if len(frequent):
            top_words = ", ".join(frequent["word"].head(top))
        elif not len(part):
            top_words = "(no word of this class in the explained reviews)"
        else:
            top_words = f"(none of its {len(part)} words weighed in >= {min_reviews} reviews with a stable sign)"
        rows.append({"class": cls, "words": len(part), "weighings": int(part["reviews"].sum()),
                     "sign_flipping": int(flips[part.index].sum()),
                     "share_of_mass": float(part["total_abs_weight"].sum() / total) if total else 0.0,
                     "mean_weight": mean_w, "top_words": top_words})
    return pd.DataFrame(rows)


def class_contrast(combined: Sequence[Explanation], classes: WordClasses, a: str = "product", b: str = "sentiment",
                   resamples: int = 10_000, seed: int = 0) -> dict:
    """Per review holding words of both classes, the mean LIME weight of class ``a``'s words minus class ``b``'s
    (``combined``: one explanation per review, e.g. [`combine_seeds`][symcere_kit.analysis.explain.combine_seeds]);
    returns reviews (how many hold both), mean_diff and its 95 % percentile-bootstrap CI over those reviews
    (``resamples``, ``seed``; NaN below 2 reviews)."""
    from scipy.stats import bootstrap

    diffs = []
    for e in combined:
        f = pd.DataFrame(e.weights, columns=["word", "weight"])
        f["class"] = classes.classify(f["word"].str.lower())
        means = f.groupby("class")["weight"].mean()
        if a in means and b in means:
            diffs.append(means[a] - means[b])
    out = {"a": a, "b": b, "reviews": len(diffs), "mean_diff": float(np.mean(diffs)) if diffs else float("nan"),
           "ci_low": float("nan"), "ci_high": float("nan")}
    if len(diffs) >= 2 and np.ptp(diffs) > 0:
        ci = bootstrap((np.asarray(diffs),), np.mean, n_resamples=resamples, method="percentile",
                       random_state=np.random.default_rng(seed)).confidence_interval
        out.update(ci_low=float(ci.low), ci_high=float(ci.high))
    return out


@dataclass
class LimeStudy:
    """Notebook 07's global view of one run: ``explanations`` (every review under every LIME seed), the
    per-review reads over seeds (``combined``), the word table and class summary (Tables 5-8 style) and the
    product-vs-sentiment contrast ([`class_contrast`][symcere_kit.analysis.explain.class_contrast])."""

    dataset: str
    explanations: list[Explanation]
    combined: list[Explanation]
    words: pd.DataFrame
    summary: pd.DataFrame
    contrast: dict

    @classmethod
    def run(cls, explainer: "InteractionExplainer", classes: WordClasses, reviews: int, samples: int,
            seeds: Sequence[int], sample_seed: int = 0, progress: bool = True) -> "LimeStudy":
        """Explain ``reviews`` training reviews (drawn with ``sample_seed``) at ``samples`` samples under each
        LIME seed in ``seeds``."""
        rows, seeds = sample_rows(len(explainer), reviews, seed=sample_seed), list(seeds)
        exps = explainer.explain_many(rows, num_samples=samples, seeds=seeds, progress=progress)
        # explain_many gives each row's explanations together, one per seed: read them in runs of len(seeds)
        combined = [combine_seeds(exps[i:i + len(seeds)]) for i in range(0, len(exps), len(seeds))]
        words = word_table(exps, classes)
        return cls(explainer.trained.dataset.name, exps, combined, words, class_summary(words),
                   class_contrast(combined, classes))

    @property
    def mean_r2(self) -> float:
        """Mean R² of LIME's local linear models over all explanations (every review and seed)."""
        return float(np.mean([e.score for e in self.explanations]))

    @property
    def seeds(self) -> list[int]:
        """The LIME seeds the explanations were computed under, sorted."""
        return sorted({e.seed for e in self.explanations})

    def extremes(self) -> dict[str, Explanation]:
        """The reviews whose whole text is most and least similar to their interaction's graph embedding."""
        ranked = sorted(self.combined, key=lambda e: e.similarity)
        return {"strongest": ranked[-1], "weakest": ranked[0]}


POSITIVE_RGB, NEGATIVE_RGB = "0,150,70", "200,40,40"  # the highlight's colours; plots.plot_word_weights uses the same


def colour_key_html(seeds: int = 1) -> str:
    """The key to [`highlight_html`][symcere_kit.analysis.explain.highlight_html]'s colours (and, for an explanation
    read over ``seeds`` > 1 LIME seeds, its marks), as one line of HTML: inline styles only, so it survives JupyterLab's
    sanitiser in an untrusted, saved notebook."""
    def swatch(rgb: str, word: str) -> str:
        return f'<span style="background: rgba({rgb},0.6); padding: 0 0.3em">{word}</span>'

    stable = (f" Weights are means over {seeds} LIME seeds; <span style=\"{FLIP_STYLE}\">dotted</span> words "
              f"change sign from one seed to another: their direction is LIME's noise, not the model's."
              if seeds > 1 else "")
    return (f'<div class="symcere-lime-key" style="font-size: 0.9em">Key: {swatch(POSITIVE_RGB, "green")} words pull '
            f"the review's embedding t(r) towards the interaction's graph embedding g_uv (removing them lowers "
            f"cos(t, g)); {swatch(NEGATIVE_RGB, 'red')} words push it away; the stronger the shade, the larger |LIME "
            f"weight|, relative to the review's strongest word (hover a word for its weight).{stable}</div>")


FLIP_STYLE = "border-bottom: 2px dotted black"


def _flipped(explanation: Explanation) -> set[str]:
    return {w.lower() for w in explanation.extra.get("flipped", [])}


def highlight_html(explanation: Explanation, max_alpha: float = 0.75) -> str:
    """The review as HTML, each word shaded by its weight: green pulls towards g_uv, red pushes away; a word whose sign
    flips across LIME seeds ([`combine_seeds`][symcere_kit.analysis.explain.combine_seeds]) is underlined with dots."""
    weights = {w.lower(): v for w, v in explanation.weights}
    spread = {w.lower(): v for w, v in explanation.extra.get("spread", {}).items()}
    flipped = _flipped(explanation)
    scale = max((abs(v) for v in weights.values()), default=0.0) or 1.0
    parts = []
    for piece in re.split(r"(\w+)", explanation.text):
        word = piece.lower()
        v = weights.get(word) if piece and re.fullmatch(r"\w+", piece) else None
        if v is None:
            parts.append(html.escape(piece))
            continue
        colour = POSITIVE_RGB if v > 0 else NEGATIVE_RGB
        title = f"{v:+.4f}" + (f" ± {spread[word]:.4f} over seeds" if word in spread else "")
        title += ", sign flips across seeds" if word in flipped else ""
        mark = f"; {FLIP_STYLE}" if word in flipped else ""
        parts.append(f'<span title="{title}" style="background: rgba({colour},{max_alpha * abs(v) / scale:.3f}){mark}">'
                     f"{html.escape(piece)}</span>")
    return ('<div class="symcere-lime" style="line-height:1.7">' + "".join(parts) + "</div>")


def word_chart_html(explanation: Explanation, top: int = 15, width: int = 30) -> str:
    """The ``top`` words by |LIME weight| as an HTML table of text bars (``█`` x up to ``width``, in the highlight's
    colours): the word chart of [`plot_word_weights`][symcere_kit.analysis.plots.plot_word_weights] in a form a saved,
    untrusted notebook keeps (inline colour only; no script, no image). Read over several seeds
    ([`combine_seeds`][symcere_kit.analysis.explain.combine_seeds]), each weight carries its std over seeds and a word
    whose sign flips says so."""
    words = sorted(explanation.weights, key=lambda wv: -abs(wv[1]))[:top]
    spread, flipped = explanation.extra.get("spread"), _flipped(explanation)
    scale = max((abs(v) for _, v in words), default=0.0) or 1.0
    rows = []
    for w, v in words:
        sd = f" ± {spread.get(w, 0.0):.4f}" if spread is not None else ""
        note = "sign flips across seeds" if w.lower() in flipped else ""
        rows.append(f'<tr><td style="text-align: right">{html.escape(w)}</td><td style="text-align: right">{v:+.4f}{sd}'
                    f'</td><td style="text-align: left; font-family: monospace; color: rgb('
                    f'{POSITIVE_RGB if v > 0 else NEGATIVE_RGB})">{"█" * max(1, round(width * abs(v) / scale))}</td>'
                    f"<td>{note}</td></tr>")
    head = "LIME weight" + (f" (mean ± std over {len(explanation.extra['seeds'])} seeds)" if spread is not None else "")
    return (f'<table class="symcere-lime-chart"><thead><tr><th>word</th><th>{head}</th><th></th><th></th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")
