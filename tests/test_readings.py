"""Data readings (NAME@reading): what each changes in the DataConfig, and the errors for a name that has none."""
import json

import pandas as pd
import pytest

from symcere_kit.cli import main
from symcere_kit.data.dataset import load_dataset
from symcere_kit.data.readings import reading_changes, split_reading
from symcere_kit.data.registry import lookup
from symcere_kit.data.stats import format_stats
from symcere_kit.data.synthetic import LARGE_CATEGORY, write_amazon2023_jsonl
from symcere_kit.errors import SymcereError


def test_paper_reads_table_1s_user_count_after_the_core():
    entry = lookup("amazon2023_pet_supplies")
    assert reading_changes("amazon2023_pet_supplies", "paper") == {"sample_when": "after_core",
                                                                   "sample_users": entry.paper_counts[0]}
    assert reading_changes("amazon2018_gift_cards_5", "repeats") == {"dedupe_pairs": False}
    assert split_reading("amazon2023_pet_supplies@paper") == ("amazon2023_pet_supplies", "paper")


@pytest.mark.parametrize("base", ["some/file.jsonl", "amazon2018_gift_cards_5"])
def test_paper_needs_a_registry_name_with_table_1_counts(base):
    with pytest.raises(SymcereError, match=r"@paper needs a registry name with .* Table 1 counts.*pet_supplies"):
        reading_changes(base, "paper")


@pytest.mark.slow
def test_a_million_review_category_read_as_pet_supplies_at_paper_has_table_1s_users(tmp_path, monkeypatch, capsys):
    # A generated whole category (not a 5-core) under the registry's file name, found through SYMCERE_DATA_DIR
    write_amazon2023_jsonl(tmp_path / "Pet_Supplies.jsonl", 1_000_000, shape=LARGE_CATEGORY)
    monkeypatch.setenv("SYMCERE_DATA_DIR", str(tmp_path))
    main(["stats", "amazon2023_pet_supplies@paper", "--json"])
    out = capsys.readouterr().out
    stats = json.loads(out.strip().splitlines()[-1])
    ds = load_dataset("amazon2023_pet_supplies@paper", progress=False)  # from the cache the command wrote
    users, items, reviews = lookup("amazon2023_pet_supplies").paper_counts
    both = pd.concat([ds.train, ds.test])
    assert ds.n_users == stats["users"] == users == 1114
    assert both.groupby("user").size().min() >= 5  # every sampled user kept all of their 5-core reviews
    per_item = both.groupby("item").size()
    assert (per_item < 5).sum() > per_item.size / 2  # nothing filtered after the sample: items fall below 5
    assert ds.meta["reader"] == "duckdb"
    assert stats["losses"]["reviews_of_unsampled_users"] > 0 and stats["losses"]["k_core"] > 0
    # the shape beside Table 1's, as `symcere stats` prints it
    text = format_stats(ds.name, ds.stats, ds.meta["paper_counts"])
    assert f"(paper {reviews / users:.1f})" in text and f"(paper {reviews / items:.1f})" in text


def test_a_reading_is_named_as_loosely_as_a_dataset():
    assert split_reading("Pet_Supplies@PAPER ") == ("Pet_Supplies", "paper")
