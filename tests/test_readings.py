"""Data readings (NAME@reading): what each changes in the DataConfig, and the errors for a name that has none."""
import pytest

from symcere_kit.data.readings import reading_changes, split_reading
from symcere_kit.data.registry import lookup
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
