import numpy as np
import pandas as pd
import pytest

from symcere_kit.data.split import check_no_leakage, chronological_split, leakage_report, n_test_items
from symcere_kit.errors import LeakageError


def recbole_test_count(tot: int, ratios=(0.8, 0.2)) -> int:
    """RecBole 1.2.1 Dataset._calcu_split_ids, transcribed, for the rounding cross-check."""
    cnt = [int(ratios[i] * tot) for i in range(len(ratios))]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt[1]


def test_test_size_matches_recbole_ratio_split():
    n = np.arange(1, 5001)
    assert n_test_items(n, 0.2).tolist() == [recbole_test_count(int(k)) for k in n]
    assert n_test_items(np.array([1, 2, 4, 5, 9, 10]), 0.2).tolist() == [0, 1, 1, 1, 1, 2]


def test_latest_interactions_are_test_and_ties_keep_file_order():
    df = pd.DataFrame({
        "user": [0] * 6 + [1] * 5,
        "timestamp": [5, 1, 3, 3, 9, 9, 1, 2, 3, 4, 5],
        "order": np.arange(11),
    })
    test = chronological_split(df, 0.2)
    # user 0: 6 interactions -> 1 test: of the two at t=9, the later in file order (order 5)
    assert df[test & (df.user == 0)]["order"].tolist() == [5]
    assert df[test & (df.user == 1)]["timestamp"].tolist() == [5]


def test_split_respects_time_for_every_user():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"user": rng.integers(0, 50, 800), "timestamp": rng.integers(0, 30, 800)})
    df["order"] = np.arange(len(df))
    df["item"] = df["order"]
    df["text"] = "review " + df["order"].astype(str)
    test = chronological_split(df)
    assert leakage_report(df[~test], df[test]).clean
    counts = df.groupby("user").size()
    assert df[test].groupby("user").size().reindex(counts.index, fill_value=0).tolist() == \
        n_test_items(counts.to_numpy()).tolist()


def test_leakage_check_catches_each_kind():
    train = pd.DataFrame({"user": [0, 0], "item": [1, 2], "timestamp": [10, 20], "text": ["a", "shared text"]})
    ok = pd.DataFrame({"user": [0], "item": [3], "timestamp": [30], "text": ["new"]})
    assert check_no_leakage(train, ok).clean
    with pytest.raises(LeakageError, match="1 \\(user, item\\) pairs"):
        check_no_leakage(train, ok.assign(item=2))
    with pytest.raises(LeakageError, match="1 test reviews older"):
        check_no_leakage(train, ok.assign(timestamp=15))
    with pytest.raises(LeakageError, match="1 test review texts copied"):
        check_no_leakage(train, ok.assign(timestamp=20, text="shared text"))


def benchmark_splits(df: pd.DataFrame, valid_cut: int, test_cut: int) -> tuple[dict, dict]:
    """The Amazon Reviews 2023 benchmark's two splits as its scripts write them (last_out_split.py and
    timestamp_split.py: per user a stable sort by time, then the last row / the rows past the cut)."""
    last_out, stamp = {}, {}
    for user, rows in df.groupby("user", sort=False):
        ordered = sorted(rows.itertuples(index=False), key=lambda r: r.timestamp)  # stable: file order ties
        for k, r in enumerate(ordered):
            last_out[r.order] = "test" if k == len(ordered) - 1 else "valid" if k == len(ordered) - 2 else "train"
            stamp[r.order] = "test" if r.timestamp >= test_cut else "valid" if r.timestamp >= valid_cut else "train"
    return last_out, stamp


def test_last_out_and_timestamp_splits_match_the_benchmark_scripts():
    from symcere_kit.data.split import last_out_split, split_mask, timestamp_split

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"user": rng.integers(0, 30, 500), "timestamp": rng.integers(0, 40, 500)})
    df = df.assign(order=np.arange(len(df)))
    valid_cut, test_cut = 25, 32
    want_last, want_stamp = benchmark_splits(df, valid_cut, test_cut)
    is_test = last_out_split(df)
    assert {o for o, w in want_last.items() if w == "test"} == set(df.loc[is_test, "order"])
    train = df[~is_test]  # the validation item is the latest of what is left: ReviewDataset.holdout
    assert {o for o, w in want_last.items() if w == "valid"} == set(train.loc[last_out_split(train), "order"])
    is_test = split_mask(df, "timestamp", cutoff=test_cut)
    assert {o for o, w in want_stamp.items() if w == "test"} == set(df.loc[is_test, "order"])
    train = df[~is_test]
    assert {o for o, w in want_stamp.items() if w == "valid"} == set(
        train.loc[timestamp_split(train, valid_cut), "order"]
    )
    with pytest.raises(ValueError, match="split must be one of ratio, last_out, timestamp"):
        split_mask(df, "random")
