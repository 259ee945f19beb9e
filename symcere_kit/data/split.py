"""Train/test splits and the leakage check.

* ``ratio`` (the default; paper 4.1.2: per-user chronological 80:20): the test size per user is
  floor(ratio * n), at least 1 when n >= 2: the rounding of RecBole's ratio split (``_calcu_split_ids``),
  so parity runs compare like with like. A user with a single interaction keeps it in training, as in
  RecBole (k-core >= 2 makes that case vanish).
* ``last_out``: each user's latest interaction is test (the Amazon Reviews 2023 benchmark's
  leave-last-out, hyp1231/AmazonReviews2023 ``benchmark_scripts/last_out_split.py``; its validation
  item, the one before, is what ``ReviewDataset.holdout`` takes from training).
* ``timestamp``: one global cut: interactions at or after ``cutoff`` (milliseconds) are test
  (``benchmark_scripts/timestamp_split.py``, valid/test cutoffs ``config.OFFICIAL_CUTOFFS_MS``).

Within a user, ties in time are broken by file order (column ``order``), as the benchmark's stable sort does.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import SplitKind
from ..errors import LeakageError


def n_test_items(n: np.ndarray, ratio: float = 0.2) -> np.ndarray:
    """Test interactions per user for ``n`` interactions: floor(ratio*n), at least 1 if n >= 2."""
    n = np.asarray(n, dtype=np.int64)
    # Exact rational floor for the usual ratios (0.2 -> n // 5) avoids float rounding at multiples.
    num, den = _as_fraction(ratio)
    n_test = (n * num) // den
    return np.where((n_test == 0) & (n >= 2), 1, n_test)


def _as_fraction(ratio: float) -> tuple[int, int]:
    from fractions import Fraction

    if not 0 < ratio < 1:
        raise ValueError(f"test_ratio must be in (0, 1), got {ratio}")
    f = Fraction(ratio).limit_denominator(1000)
    return f.numerator, f.denominator


SPLITS = typing.get_args(SplitKind)


def chronological_split(frame: pd.DataFrame, ratio: float = 0.2) -> np.ndarray:
    """Boolean mask over ``frame`` rows: True = test. Sorted per user by (timestamp, file order)."""
    return _latest_per_user(frame, lambda n: n_test_items(n, ratio))


def last_out_split(frame: pd.DataFrame) -> np.ndarray:
    """True for each user's latest row (by timestamp, then file order): leave-last-out."""
    return _latest_per_user(frame, np.ones_like)


def timestamp_split(frame: pd.DataFrame, cutoff: int) -> np.ndarray:
    """True for rows at or after ``cutoff`` (the unit of ``frame["timestamp"]``): one cut for all users."""
    return frame["timestamp"].to_numpy() >= cutoff


def split_mask(frame: pd.DataFrame, split: str, ratio: float = 0.2, cutoff: int | None = None) -> np.ndarray:
    """The test mask of ``split`` (one of ``SPLITS``) over ``frame`` (columns user, timestamp, order)."""
    if split == "ratio":
        return chronological_split(frame, ratio)
    if split == "last_out":
        return last_out_split(frame)
    if split == "timestamp":
        return timestamp_split(frame, cutoff)
    raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")


def _latest_per_user(frame: pd.DataFrame, n_latest) -> np.ndarray:
    """Mask of each user's ``n_latest(n)`` latest rows (n: the user's row count), by (timestamp, order)."""
    ordered = frame.sort_values(["user", "timestamp", "order"], kind="stable")
    position = ordered.groupby("user", sort=False).cumcount().to_numpy()
    n = ordered.groupby("user", sort=False)["user"].transform("size").to_numpy()
    is_test = position >= n - n_latest(n)
    mask = np.zeros(len(frame), dtype=bool)
    mask[frame.index.get_indexer(ordered.index)] = is_test
    return mask


@dataclass
class LeakageReport:
    """Counts of the ways test information could reach training
    ([`leakage_report`][symcere_kit.data.split.leakage_report])."""

    overlapping_pairs: int  # (user, item) in both train and test
    time_violations: int  # test interaction older than the same user's newest training one
    copied_texts: int  # a test review whose (user, time, text) also stands in training

    @property
    def clean(self) -> bool:
        """Whether every count is zero."""
        return not (self.overlapping_pairs or self.time_violations or self.copied_texts)


def leakage_report(train: pd.DataFrame, test: pd.DataFrame) -> LeakageReport:
    """Count the ways test information could reach training (frames with user, item, timestamp, text)."""
    pairs = train.merge(test, on=["user", "item"], how="inner")
    newest_train = train.groupby("user")["timestamp"].max()
    older = test["timestamp"].to_numpy() < test["user"].map(newest_train).fillna(-np.inf).to_numpy()
    key = ["user", "timestamp", "text"]
    copies = test[test["text"].str.strip() != ""].merge(train[key].drop_duplicates(), on=key)
    return LeakageReport(len(pairs), int(older.sum()), len(copies))


def check_no_leakage(train: pd.DataFrame, test: pd.DataFrame, source: str = "dataset",
                     copies_leak: bool = True, pairs_leak: bool = True) -> LeakageReport:
    """Raise LeakageError when test information reaches training. ``copies_leak``: whether a test review
    whose (user, time, text) stands in training counts: it does where the source copies one review onto
    product variants (the copy in training IS the test review); elsewhere it is the same words by one
    user about another product, and the test interaction itself is not in training. ``pairs_leak`` False:
    a (user, item) pair in both is allowed (the leaky ``repeats`` reading keeps repeated pairs on purpose)."""
    report = leakage_report(train, test)
    if (pairs_leak and report.overlapping_pairs) or report.time_violations or (copies_leak and report.copied_texts):
        raise LeakageError(
            f"Test data of {source} reaches training: {report.overlapping_pairs} (user, item) pairs in "
            f"both, {report.time_violations} test reviews older than the user's newest training review, "
            f"{report.copied_texts} test review texts copied into training. Keep dedupe_pairs and "
            f"drop_cross_variant on, and split with chronological_split."
        )
    return report
