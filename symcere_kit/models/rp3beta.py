"""RP3beta (Paudel, Christoffel, Newell, Bernstein, ACM TiiS 2017, "Updatable, accurate, diverse, and
scalable recommendations for interactive applications"): three-step random-walk item similarities with
a popularity penalty, as Ferrari Dacrema et al.'s ``RP3betaRecommender`` computes them
(MaurizioFD/RecSys2019_DeepLearning_Evaluation, GraphBased/RP3betaRecommender.py; unchanged in their
course framework, MaurizioFD/RecSys_Course_AT_PoliMi, Recommenders/GraphBased/RP3betaRecommender.py).

With ``X`` the binary user x item TRAINING matrix and ``pop_j`` item j's training degree:

1. ``P_ui`` = X with rows L1-normalised, ``P_iu`` = X^T with rows L1-normalised; both raised
   elementwise to the power ``walk_alpha`` (after normalising, as their code does);
2. ``W = P_iu @ P_ui`` (item x item), column j multiplied by ``pop_j ** -pop_beta`` (0 for an item
   without training interactions);
3. the diagonal is set to 0 (their code zeroes ``row_data`` at the row's own item before selecting);
4. each ROW keeps its ``top_k`` largest entries;
5. with ``normalize_similarity`` each row is L1-normalised;
6. then each COLUMN keeps its ``top_k`` largest entries: their ``fit`` ends with
   ``similarityMatrixTopK(W, k=topK)``, which selects column-wise, after the normalisation, so rows
   no longer sum exactly to 1 where a column lost entries;

and ``scores_u = X_u W``. Ties at a top-k cut keep the lower item index (their ``argsort`` leaves
the order of ties unspecified). Dense float64 while fitting (float32 buffer after): about 32 bytes
per item pair at the peak, so ~11,500 items reach the 4 GiB limit (``item_similarity.MAX_FIT_BYTES``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from ..config import Choice, ModelSettings, Range
from ..recommender.item_similarity import ItemSimilarityRecommender, keep_top_k, row_l1

FD = "Ferrari Dacrema et al. (RecSys 2019 / TOIS 2021) code, MaurizioFD/RecSys2019_DeepLearning_Evaluation"
FD_FIT = FD + ", GraphBased/RP3betaRecommender.py fit()"
FD_SEARCH = FD + ", ParameterTuning/run_parameter_search.py, RP3betaRecommender: "


@dataclass(frozen=True)
class RP3betaSettings(ModelSettings):
    """Their names: topK, alpha, beta, normalize_similarity. Ours are longer so that SymCERE's ``alpha`` and
    ``beta`` (its loss weights) stay one meaning each: a bare grid-wide ``--set alpha=...`` reaches SymCERE
    only, where two models declaring ``alpha`` apart would have it refused as ambiguous
    (``run_settings.check_grid_settings``); run records and tuned files carry these names."""

    top_k: int = 100  # neighbours kept per row (then per column): their fit default topK=100
    walk_alpha: float = 1.0  # exponent of the transition probabilities: their fit default alpha=1.
    pop_beta: float = 0.6  # popularity penalty exponent: their fit default beta=0.6
    normalize_similarity: bool = True  # L1-normalise rows after the top-k: their fit default True
    SEARCH_SPACE: ClassVar[dict] = {
        "top_k": Range(5, 1000, integer=True, source=FD_SEARCH + "topK Integer(5, 1000)"),
        "walk_alpha": Range(0.0, 2.0, source=FD_SEARCH + "alpha Real(low=0, high=2, prior='uniform')"),
        "pop_beta": Range(0.0, 2.0, source=FD_SEARCH + "beta Real(low=0, high=2, prior='uniform')"),
        "normalize_similarity": Choice(
            (True, False), source=FD_SEARCH + "normalize_similarity Categorical([True, False])"
        ),
    }
    POSITIVE: ClassVar[frozenset[str]] = frozenset({"top_k"})


class RP3beta(ItemSimilarityRecommender):
    """RP3beta (Paudel et al., ACM TiiS 2017): scores ``X_u W`` with popularity-penalised random-walk item
    similarities ``W``."""

    Settings = RP3betaSettings
    FIT_BYTES_PER_PAIR = 32  # sparse walk product (12) + dense W (8) + argsort's -W copy (8) and int64 order (8)

    @staticmethod
    def fit_weights(x, settings: RP3betaSettings) -> np.ndarray:
        """Steps 1-6 of the module docstring: ``W`` [n_items, n_items] (float64), pruned to ``top_k`` by row, then
        by column."""
        p_ui, p_iu = row_l1(x), row_l1(sp.csr_matrix(x.T))
        if settings.walk_alpha != 1.0:
            p_ui.data **= settings.walk_alpha
            p_iu.data **= settings.walk_alpha
        w = (p_iu @ p_ui).toarray()
        pop = np.asarray(x.sum(axis=0)).ravel()
        penalty = np.zeros_like(pop)
        np.power(pop, -settings.pop_beta, out=penalty, where=pop > 0)
        w *= penalty[None, :]
        np.fill_diagonal(w, 0.0)
        keep_top_k(w, settings.top_k, axis=1)
        if settings.normalize_similarity:
            sums = w.sum(axis=1, keepdims=True)
            np.divide(w, sums, out=w, where=sums > 0)
        keep_top_k(w, settings.top_k, axis=0)
        return w


MODEL = RP3beta
