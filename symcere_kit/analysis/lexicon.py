"""Word classes for the LIME global view (paper Tables 5-8): stop-word, product, sentiment, other.

No hand-typed lists: stop-words are scikit-learn's English list (318 words), sentiment words are
VADER's lexicon (Hutto & Gilbert 2014, 7,500 entries) with |valence| >= ``min_valence``, and
product/objective terms are found in the data: a content word whose reviews concentrate on few
items. For a word in m reviews, the number of distinct items it would reach if those reviews fell
on items like all reviews do is E[df] = sum_i 1 - (1 - s_i)^m (s_i: item i's share of training
reviews); a word reaching at most ``max_spread`` of that (default 0.7) with at least ``min_reviews``
reviews names something item-specific ("strings", "capo"), while "use" or "sound" spread like
reviews themselves. Precedence: stop-word, then product, then sentiment, else other, so an item-
specific word that VADER also lists (rare) counts as product.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

CLASSES = ("product", "sentiment", "stop-word", "other")
TOKEN = re.compile(r"\w+", re.UNICODE)  # LIME's default split (\W+), lowercased as below


def tokens(text: str) -> list[str]:
    """The words of ``text`` as LIME splits them (runs of word characters), lowercased, in order."""
    return [t.lower() for t in TOKEN.findall(text)]


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """scikit-learn's English stop-word list (``ENGLISH_STOP_WORDS``)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


@lru_cache(maxsize=4)
def sentiment_lexicon(min_valence: float = 1.0) -> dict[str, float]:
    """VADER's word -> mean valence (-4..4) for words with |valence| >= ``min_valence``."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return {w: v for w, v in SentimentIntensityAnalyzer().lexicon.items() if abs(v) >= min_valence}


def word_item_spread(texts: Sequence[str], items: Sequence[int]) -> pd.DataFrame:
    """Per word: reviews it occurs in, distinct items it reaches, the expected number if its reviews
    were spread over items like all reviews, and their ratio (``spread``; ~1 generic, << 1 item-specific)."""
    items = np.asarray(items)
    share = np.bincount(items) / len(items)
    share = share[share > 0]
    reviews: Counter[str] = Counter()
    reach: dict[str, set] = {}
    for text, item in zip(texts, items):
        for w in set(tokens(text)):
            reviews[w] += 1
            reach.setdefault(w, set()).add(int(item))
    words = list(reviews)
    m = np.array([reviews[w] for w in words], dtype=np.float64)
    df = np.array([len(reach[w]) for w in words], dtype=np.float64)
    log_miss = np.log1p(-np.minimum(share, 1 - 1e-12))[None, :]
    expected = np.concatenate([(1.0 - np.exp(log_miss * block[:, None])).sum(axis=1)  # E[df], words in blocks
                               for block in np.array_split(m, max(1, len(m) // 2048))]) if len(m) else m
    return pd.DataFrame({"word": words, "reviews": m.astype(int), "items": df.astype(int),
                         "expected_items": expected, "spread": df / expected}).set_index("word")


class WordClasses:
    """Classify words against one dataset's training reviews (see the module docstring)."""

    def __init__(self, texts: Sequence[str], items: Sequence[int], max_spread: float = 0.7,
                 min_reviews: int = 5, min_valence: float = 1.0):
        self.spread = word_item_spread(texts, items)
        self.max_spread, self.min_reviews = max_spread, min_reviews
        self.sentiment = sentiment_lexicon(min_valence)
        specific = self.spread[(self.spread["reviews"] >= min_reviews) & (self.spread["spread"] <= max_spread)]
        self.product = frozenset(specific.index)

    @classmethod
    def from_dataset(cls, dataset, **kw) -> "WordClasses":
        """Word classes of ``dataset``'s training reviews and their items; ``kw`` as the constructor's."""
        return cls(dataset.train_texts, dataset.train["item"].to_numpy(), **kw)

    def __call__(self, word: str) -> str:
        w = word.lower()
        if w in stop_words():
            return "stop-word"
        if w in self.product and not w.isdigit():
            return "product"
        if w in self.sentiment:
            return "sentiment"
        return "other"

    def classify(self, words: Iterable[str]) -> list[str]:
        """The class of each word (one of ``CLASSES``), in order."""
        return [self(w) for w in words]
