"""EASE^R (Steck, WWW 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a linear item-item
autoencoder with a zero diagonal, solved in closed form.

With ``X`` the binary user x item TRAINING matrix:

```text
G = X^T X + lambda * I,   P = G^-1,   B_ij = -P_ij / P_jj,   B_jj = 0,   scores_u = X_u B
```

(Steck's eq. 8 / Algorithm 1). The Gram matrix is built and inverted in float64; ``B`` is stored as a
float32 buffer. Memory grows as n_items^2: the dense Gram matrix (inverted in place), the float32
``B`` and, at worst, a dense sparse Gram product, about 20 bytes per item pair at the peak, so
~14,600 items reach the 4 GiB limit (``item_similarity.MAX_FIT_BYTES``), where the model stops with
an error naming the item count instead of swapping. The two datasets here have 87 and 900 items.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.linalg

from ..config import ModelSettings, Range
from ..recommender.item_similarity import ItemSimilarityRecommender

FD_EASE = "Ferrari Dacrema et al. (RecSys 2019 / TOIS 2021) code, MaurizioFD/RecSys2019_DeepLearning_Evaluation"


@dataclass(frozen=True)
class EASESettings(ModelSettings):
    """EASE^R's settings: the L2 weight ``reg_lambda`` of its closed-form solution."""

    # L2 weight lambda. 500 sits between the two public implementations' defaults: RecBole's EASE
    # reg_weight 250.0 (recbole/properties/model/EASE.yaml) and Ferrari Dacrema et al.'s EASE_R fit
    # default l2_norm 1e3 (EASE_R/EASE_R_Recommender.py); tune it (SEARCH_SPACE) for a real comparison.
    reg_lambda: float = 500.0
    SEARCH_SPACE: ClassVar[dict] = {
        "reg_lambda": Range(1.0, 1e7, log=True, source=FD_EASE + ", ParameterTuning/run_parameter_search.py: "
                            "EASE_R l2_norm Real(1e0, 1e7, prior='log-uniform')"),
    }
    POSITIVE: ClassVar[frozenset[str]] = frozenset({"reg_lambda"})  # keeps X^T X + lambda*I invertible


class EASE(ItemSimilarityRecommender):
    """EASE^R (Steck, WWW 2019): scores ``X_u B`` with item-item weights ``B`` solved in closed form."""

    Settings = EASESettings
    FIT_BYTES_PER_PAIR = 20  # sparse X^T X (12) + its dense float64 copy (8), then that copy + float32 B

    @staticmethod
    def fit_weights(x, settings: EASESettings) -> np.ndarray:
        """Steck's eq. 8: ``B_ij = -P_ij / P_jj``, ``B_jj = 0`` with ``P = (X^T X + reg_lambda * I)^-1`` (float64)."""
        gram = (x.T @ x).toarray()  # float64: exact co-occurrence counts
        gram[np.diag_indices_from(gram)] += settings.reg_lambda
        # G is symmetric, so G^T (Fortran-ordered) has the same inverse and LAPACK can overwrite it in place
        p = scipy.linalg.inv(gram.T, overwrite_a=True, check_finite=False)
        del gram
        p /= -np.diag(p).copy()  # column j divided by -P_jj
        np.fill_diagonal(p, 0.0)
        return p


MODEL = EASE
