import pandas as pd
import pytest

from symcere_kit.config import DataConfig
from symcere_kit.data import dataset as dataset_mod
from symcere_kit.data.dataset import load_dataset
from symcere_kit.data.split import leakage_report
from symcere_kit.paths import cache_dir


def test_second_load_comes_from_the_cache_and_is_identical(synthetic_file, monkeypatch):
    first = load_dataset(synthetic_file, progress=False)
    calls = []
    import symcere_kit.data.readers as readers

    monkeypatch.setattr(readers, "read_reviews", lambda *a, **k: calls.append(1))
    second = load_dataset(synthetic_file, progress=False)
    assert not calls
    pd.testing.assert_frame_equal(first.train, second.train)
    pd.testing.assert_frame_equal(first.test, second.test)
    assert list(first.user_ids) == list(second.user_ids) and first.meta == second.meta


def test_cache_key_follows_the_config(synthetic_file):
    a = load_dataset(synthetic_file, DataConfig(), progress=False)
    b = load_dataset(synthetic_file, DataConfig(user_k=8), progress=False)
    assert a.fingerprint != b.fingerprint and b.n_users < a.n_users


def test_a_failed_cache_write_leaves_nothing_behind(synthetic_file, monkeypatch, tmp_path):
    monkeypatch.setenv("SYMCERE_CACHE_DIR", str(tmp_path / "c"))

    def crash(table, where):
        open(where, "wb").write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset_mod.pq, "write_table", crash)
    with pytest.raises(KeyboardInterrupt):
        load_dataset(synthetic_file, progress=False)
    assert list(cache_dir().glob("*")) == []


def test_split_and_holdout_never_leak(synthetic_file):
    ds = load_dataset(synthetic_file, progress=False)
    key = ["user", "item", "timestamp"]
    assert leakage_report(ds.train.assign(text="")[key + ["text"]], ds.test.assign(text="")[key + ["text"]]).clean
    val = ds.holdout(0.2)
    test_pairs = set(zip(ds.test["user"], ds.test["item"]))
    assert not test_pairs & set(zip(val.train["user"], val.train["item"]))
    assert not test_pairs & set(zip(val.test["user"], val.test["item"]))
    assert len(val.train) + len(val.test) == len(ds.train)
    newest_fit = val.train.groupby("user")["timestamp"].max()
    assert (val.test["timestamp"].to_numpy() >= val.test["user"].map(newest_fit).to_numpy()).all()


def test_last_out_split_tests_each_users_latest_and_validates_on_the_one_before():
    from symcere_kit.data.dataset import dataset_from_reviews
    from symcere_kit.data.synthetic import synthetic_reviews

    raw = synthetic_reviews(n_users=40, n_items=30, seed=2)
    ds = dataset_from_reviews(raw, DataConfig(split="last_out"), name="lo")
    both = pd.concat([ds.train.assign(test=False), ds.test.assign(test=True)])
    latest = both.sort_values(["user", "timestamp"]).groupby("user").tail(1)
    assert latest["test"].all() and len(ds.test) == ds.n_users
    val = ds.holdout(0.2)  # the ratio is unused: the second-latest of each user
    second = ds.train.sort_values(["user", "timestamp"]).groupby("user").tail(1)
    assert sorted(zip(val.test["user"], val.test["item"])) == sorted(zip(second["user"], second["item"]))
    assert ds.fingerprint != dataset_from_reviews(raw, DataConfig(), name="lo").fingerprint


def test_timestamp_split_cuts_every_user_at_one_time_and_refuses_a_cut_outside_the_data():
    from symcere_kit.data.dataset import dataset_from_reviews
    from symcere_kit.data.synthetic import synthetic_reviews
    from symcere_kit.errors import EmptyDatasetError

    raw = synthetic_reviews(n_users=40, n_items=30, seed=2)
    valid_cut, test_cut = (int(q) for q in raw["timestamp"].quantile([0.6, 0.8]))
    ds = dataset_from_reviews(raw, DataConfig(split="timestamp", split_cutoffs_ms=(valid_cut, test_cut)), name="ts")
    assert (ds.test["timestamp"] >= test_cut).all() and (ds.train["timestamp"] < test_cut).all()
    val = ds.holdout(0.2)
    assert (val.test["timestamp"] >= valid_cut).all() and (val.train["timestamp"] < valid_cut).all()
    with pytest.raises(EmptyDatasetError, match=r"timestamp split of ts leaves no test interaction .*--split-cutoffs"):
        dataset_from_reviews(raw, DataConfig(split="timestamp"), name="ts")  # the 2023 benchmark's cut: after 2021
