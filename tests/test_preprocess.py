import numpy as np
import pandas as pd
import pytest

from symcere_kit.config import DataConfig
from symcere_kit.data.preprocess import k_core, preprocess
from symcere_kit.errors import EmptyDatasetError


def frame(rows):
    return pd.DataFrame(rows, columns=["user", "item", "rating", "text", "title", "timestamp"])


def test_duplicate_pairs_keep_the_earliest_review():
    df = frame([("u", "a", 1.0, "late", "", 20), ("u", "a", 5.0, "early", "", 10), ("u", "b", 3.0, "x", "", 15)])
    out = preprocess(df, DataConfig(user_k=1, item_k=1)).frame
    assert len(out) == 2
    assert out.loc[out["item"] == 0, "text"].item() == "early"


def test_duplicate_pairs_with_equal_times_keep_file_order():
    df = frame([("u", "a", 1.0, "first", "", 10), ("u", "a", 5.0, "second", "", 10)])
    out = preprocess(df, DataConfig(user_k=1, item_k=1)).frame
    assert out["text"].tolist() == ["first"]


def test_cross_variant_copies_are_dropped_but_blank_texts_are_not_copies():
    df = frame([
        ("u", "a", 5.0, "same words", "", 10), ("u", "b", 5.0, "same words", "", 10),  # variant copy
        ("u", "c", 5.0, "same words", "", 99),  # same text, other time: a real review
        ("u", "d", 5.0, " ", "", 50), ("u", "e", 5.0, "", "", 50),  # blank texts at one time: keep both
    ])
    pre = preprocess(df, DataConfig(user_k=1, item_k=1))
    assert pre.losses["cross_variant_copies"] == 1
    assert sorted(pre.item_ids[pre.frame["item"]]) == ["a", "c", "d", "e"]


@pytest.mark.parametrize("policy,expected", [("keep", ["", "body"]), ("drop", ["body"]), ("title", ["head", "body"])])
def test_empty_text_policy(policy, expected):
    df = frame([("u", "a", 1.0, "  ", "head", 1), ("u", "b", 1.0, "body", "t", 2)])
    out = preprocess(df, DataConfig(user_k=1, item_k=1, empty_text=policy)).frame
    got = [t.strip() for t in out.sort_values("timestamp")["text"]]
    assert got == expected


def test_k_core_is_iterative():
    # Item z has 2 reviews; removing it drops user w below 2, which drops item y below 2.
    rows = [("u", "x"), ("v", "x"), ("u", "y"), ("w", "y"), ("w", "z"), ("v", "z"), ("u", "q"), ("v", "q")]
    df = pd.DataFrame(rows, columns=["user", "item"])
    once = df.groupby("item").filter(lambda g: len(g) >= 2)
    out = k_core(df, user_k=2, item_k=3)
    assert out.empty or (out.groupby("user").size().min() >= 2 and out.groupby("item").size().min() >= 3)
    assert len(out) < len(once)


def test_k_core_property_holds_on_random_data():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"user": rng.integers(0, 60, 900), "item": rng.integers(0, 40, 900)}).drop_duplicates()
    out = k_core(df, user_k=5, item_k=7)
    assert out.groupby("user").size().min() >= 5 and out.groupby("item").size().min() >= 7
    # Nothing removed that could have stayed: the result is the maximal such subgraph, so re-running is a no-op.
    assert len(k_core(out, 5, 7)) == len(out)


def test_ids_are_contiguous_and_sorted_by_original_id():
    df = frame([("zed", "b", 1.0, "t", "", 1), ("amy", "a", 1.0, "t", "", 2)])
    pre = preprocess(df, DataConfig(user_k=1, item_k=1))
    assert list(pre.user_ids) == ["amy", "zed"] and list(pre.item_ids) == ["a", "b"]
    assert pre.user_ids[pre.frame["user"]].tolist() == ["zed", "amy"]


def test_empty_after_k_core_names_the_source_and_the_fix():
    df = frame([("u", "a", 1.0, "t", "", 1)])
    with pytest.raises(EmptyDatasetError, match=r"reviews\.json.*user_k=5.*--user-k"):
        preprocess(df, DataConfig(), source="reviews.json")


def random_reviews(seed: int, n: int = 400) -> pd.DataFrame:
    """Reviews with every case the steps handle: repeated pairs, equal times, variant copies (same user, time
    and text on several items), blank and whitespace-only texts, missing ratings."""
    rng = np.random.default_rng(seed)
    texts = np.array(["good", "bad", "same words", "", " ", "\u3000", "ok then", "title only"], dtype=object)
    return pd.DataFrame({
        "user": rng.choice([f"u{i}" for i in range(25)], n),
        "item": rng.choice([f"i{i}" for i in range(30)], n),
        "rating": np.where(rng.random(n) < 0.1, np.nan, rng.integers(1, 6, n)).astype(np.float32),
        "text": texts[rng.integers(0, len(texts), n)],
        "title": rng.choice(["", "head", "t"], n),
        "timestamp": rng.integers(0, 12, n).astype(np.int64),
    })


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("options", [
    {}, {"empty_text": "drop"}, {"empty_text": "title"}, {"dedupe_pairs": False},
    {"drop_cross_variant": False, "user_k": 3, "item_k": 2}, {"user_k": 1, "item_k": 1},
])
def test_the_out_of_core_steps_give_what_the_pandas_steps_gave(seed, options):
    from reference_preprocess import preprocess as reference

    raw, config = random_reviews(seed), DataConfig(**options)
    try:
        want = reference(raw, config)
    except EmptyDatasetError:
        with pytest.raises(EmptyDatasetError):
            preprocess(raw, config)
        return
    got = preprocess(raw, config)
    pd.testing.assert_frame_equal(got.frame, want.frame.reset_index(drop=True))
    assert got.losses == want.losses
    assert list(got.user_ids) == list(want.user_ids) and list(got.item_ids) == list(want.item_ids)


@pytest.mark.parametrize("name", ["amazon2014_musical_instruments", "amazon2018_gift_cards_5"])
def test_the_shared_files_preprocess_as_before(name):
    from reference_preprocess import preprocess as reference

    from symcere_kit.data.readers import read_reviews
    from symcere_kit.data.registry import find_local, lookup

    path = find_local(lookup(name))
    if path is None:
        pytest.skip(f"{name} is not in ../shared/data")
    raw = read_reviews(path, progress=False).frame
    got, want = preprocess(raw, DataConfig()), reference(raw, DataConfig())
    pd.testing.assert_frame_equal(got.frame, want.frame.reset_index(drop=True))
    assert got.losses == want.losses and list(got.user_ids) == list(want.user_ids)


def test_sample_users_keeps_every_review_of_n_seeded_users_whatever_the_file_order():
    raw = random_reviews(3, n=600)
    config = DataConfig(user_k=1, item_k=1, sample_users=7, dedupe_pairs=False, drop_cross_variant=False)
    pre = preprocess(raw, config)
    users = set(pre.user_ids)
    assert len(users) == 7
    assert len(pre.frame) == raw["user"].isin(users).sum()  # all their reviews, nobody else's
    assert pre.losses["reviews_of_unsampled_users"] == len(raw) - len(pre.frame)
    shuffled = preprocess(raw.sample(frac=1, random_state=0).reset_index(drop=True), config)
    assert set(shuffled.user_ids) == users
    other_seed = preprocess(raw, DataConfig(**{**config.to_dict(), "sample_seed": 1}))
    assert set(other_seed.user_ids) != users
    # the sample comes before k-core: a sampled user can still fall to it, an unsampled one never enters
    cored = preprocess(raw, DataConfig(user_k=15, item_k=1, sample_users=7))
    assert 0 < len(cored.user_ids) < 7 and set(cored.user_ids) <= users


def test_the_later_data_fields_at_their_defaults_leave_the_fingerprint_as_it_was():
    import dataclasses

    config = DataConfig()
    first = {"user_k", "item_k", "dedupe_pairs", "drop_cross_variant", "empty_text", "test_ratio", "skip_bad_records"}
    assert config.fingerprint_dict() == {k: v for k, v in config.to_dict().items() if k in first}
    assert "sample_users" in dataclasses.replace(config, sample_users=10).fingerprint_dict()
    assert "split" in dataclasses.replace(config, split="last_out").fingerprint_dict()


def test_the_cross_variant_rule_applies_only_to_sources_that_copy_reviews_onto_variants(tmp_path):
    """Amazon 2018 copies: dropped. The same words by one user about several products on one day in a 2014
    file: kept, and the dataset's fingerprint then differs from the one the old rule gave that file."""
    import json

    from symcere_kit.data.dataset import load_dataset

    records = [{"reviewerID": "U", "asin": f"I{i}", "reviewText": "Great product.", "overall": 5.0,
                "unixReviewTime": 1_400_000_000, "summary": ""} for i in range(3)]
    records += [{"reviewerID": "V", "asin": f"I{i}", "reviewText": f"text {i}", "overall": 4.0,
                 "unixReviewTime": 1_400_000_000 + i, "summary": ""} for i in range(3)]
    config = DataConfig(user_k=1, item_k=1)
    old = tmp_path / "2014.json"
    old.write_text("".join(json.dumps(r) + "\n" for r in records))
    ds14 = load_dataset(old, config, progress=False, use_cache=False)
    assert ds14.meta["format"] == "amazon2014_json" and ds14.stats["reviews"] == 6
    assert ds14.stats["losses"]["cross_variant_copies"] == 0 and ds14.meta["kept_copies"] == 2
    new = tmp_path / "2018.json"
    new.write_text("".join(json.dumps({**r, "verified": True}) + "\n" for r in records))
    ds18 = load_dataset(new, config, progress=False, use_cache=False)
    assert ds18.meta["format"] == "amazon2018_json" and ds18.stats["reviews"] == 4
    assert ds18.stats["losses"]["cross_variant_copies"] == 2 and ds18.meta["kept_copies"] == 0


def realistic_frame(n: int = 60_000, seed: int = 0) -> pd.DataFrame:
    """A generated category shaped like a real 2023 one, with a heavier user tail so a 5-core keeps users."""
    from symcere_kit.data.synthetic import CategoryShape, realistic_interactions

    users, items = realistic_interactions(n, CategoryShape(user_exponent=2.2, reviews_per_item=10), seed=seed)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user": [f"U{u}" for u in users], "item": [f"I{i}" for i in items],
                         "rating": np.ones(n, np.float32), "text": "t", "title": "",
                         "timestamp": 1_500_000_000_000 + rng.integers(0, 10**10, n)})


def test_sampling_after_the_core_keeps_n_users_each_with_k_reviews_and_filters_nothing_again():
    raw = realistic_frame()
    core = preprocess(raw, DataConfig())
    n = 300
    after = preprocess(raw, DataConfig(sample_users=n, sample_seed=1, sample_when="after_core"))
    f, users = after.frame, after.user_ids[after.frame["user"]]
    assert f["user"].nunique() == n and f.groupby("user").size().min() >= 5  # Table 1's shape: users >= k ...
    assert f.groupby("item").size().min() < 5  # ... and items below it, kept
    # every review the core kept for a drawn user, and nothing else
    core_reviews = core.frame.assign(user=core.user_ids[core.frame["user"]], item=core.item_ids[core.frame["item"]])
    kept = core_reviews[core_reviews["user"].isin(set(users))]
    assert sorted(zip(kept["user"], kept["item"], kept["timestamp"])) == sorted(
        zip(users, after.item_ids[f["item"]], f["timestamp"]))
    assert after.losses["reviews_of_unsampled_users"] == len(core.frame) - len(f)
    # drawing first, as --sample-users does by default, leaves far fewer users after the core
    first = preprocess(raw, DataConfig(sample_users=n, sample_seed=1))
    assert first.frame["user"].nunique() < n / 2


def test_sampling_after_the_core_is_seeded_and_asks_no_more_users_than_there_are():
    raw = realistic_frame(20_000, seed=2)
    a, b, c = (preprocess(raw, DataConfig(sample_users=50, sample_seed=s, sample_when="after_core"))
               for s in (0, 0, 1))
    assert a.frame.equals(b.frame) and set(a.user_ids) != set(c.user_ids)
    everyone = preprocess(raw, DataConfig())
    many = preprocess(raw, DataConfig(sample_users=10**6, sample_when="after_core"))
    assert len(many.frame) == len(everyone.frame)
