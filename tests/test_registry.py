import huggingface_hub.file_download
import pytest

from symcere_kit import reproduce
from symcere_kit.data import registry
from symcere_kit.errors import DatasetNotFoundError


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("tests must never touch the network")

    monkeypatch.setattr(huggingface_hub.file_download, "http_get", refuse)  # data/download.py's transfer


def test_paper_datasets_use_amazon_2023_category_names_and_table1_counts():
    e = registry.lookup("Health_and_Household")
    assert e.name == "amazon2023_health_and_household"
    assert e.files[0] == "Health_and_Household.jsonl.gz" and e.url.endswith("/Health_and_Household.jsonl.gz")
    assert e.paper_counts == (820, 3679, 14442)
    assert registry.lookup("yelp").paper_counts == (802, 1274, 11879)
    paper = [e for e in registry.REGISTRY.values() if e.paper_counts]
    assert len(paper) == 15  # 13 Amazon categories, Yelp, Travel


def test_unknown_name_lists_known_names_and_the_path_alternative():
    with pytest.raises(
        DatasetNotFoundError, match=r"Unknown dataset name 'nope'.*amazon2014_musical_instruments.*path"
    ):
        registry.lookup("nope")


def test_missing_path_is_named():
    with pytest.raises(DatasetNotFoundError, match=r"No such file: .*missing\.json\.gz"):
        registry.resolve("some/dir/missing.json.gz")


def test_data_dir_takes_precedence_and_subfolders_count(tmp_path, monkeypatch):
    sub = tmp_path / "amazon2018_gift_cards_5"
    sub.mkdir()
    (sub / "Gift_Cards_5.json.gz").write_bytes(b"")
    monkeypatch.setenv("SYMCERE_DATA_DIR", str(tmp_path))
    name, path, entry = registry.resolve("amazon2018_gift_cards_5")
    assert path == sub / "Gift_Cards_5.json.gz" and entry.name == name


def test_offline_missing_file_lists_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMCERE_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as err:
        registry.resolve("amazon2023_pet_supplies")
    msg = str(err.value)
    assert "Pet_Supplies.jsonl.gz" in msg and str(tmp_path) in msg and "offline" in msg


def test_manual_only_datasets_point_to_their_page(monkeypatch, tmp_path):
    monkeypatch.setenv("SYMCERE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SYMCERE_OFFLINE")
    with pytest.raises(DatasetNotFoundError, match="yelp.com/dataset"):
        registry.resolve("yelp")


def test_any_local_file_works_by_path(tmp_path):
    f = tmp_path / "my_reviews.csv"
    f.write_text("user,item,text,timestamp\n")
    name, path, entry = registry.resolve(str(f))
    assert (name, path, entry) == ("my_reviews", f, None)


def test_shared_mirror_is_found(needs_shared):
    name, path, entry = registry.resolve("amazon2014_musical_instruments")
    assert path.name == "Musical_instruments_reviews.csv.gz"
    rows = {r["name"]: r for r in registry.availability()}
    assert rows["amazon2014_musical_instruments"]["here"] and rows["amazon2014_musical_instruments"]["path"] == str(
        path
    )
    assert not rows["yelp"]["here"] and "accepting yelp's terms" in rows["yelp"]["get"]


def test_the_paper_group_runs_what_is_here_or_downloadable_and_names_the_rest(tmp_path, monkeypatch, capsys):
    (tmp_path / "Pet_Supplies.jsonl").write_bytes(b"")
    monkeypatch.setenv("SYMCERE_DATA_DIR", str(tmp_path))
    usable, missing = registry.expand_group("paper")  # offline (conftest): only what is here
    assert usable == ["amazon2023_pet_supplies@paper"]
    assert len(missing) == 14 and any(line.startswith("yelp: from https://www.yelp.com/dataset") for line in missing)
    assert all("offline" in line for line in missing if line.startswith("amazon2023_"))
    assert reproduce.expand_dataset_groups({"DATASETS": "paper", "SEEDS": [0]}) == {
        "DATASETS": ["amazon2023_pet_supplies@paper"], "SEEDS": [0]}
    assert "leaves out rakuten_travel" in capsys.readouterr().err
    monkeypatch.setenv("SYMCERE_OFFLINE", "0")  # online: every Amazon category can be downloaded when used
    usable, missing = registry.expand_group("paper")
    assert len(usable) == 13 and [line.split(":")[0] for line in missing] == ["yelp", "rakuten_travel"]
    assert "no reader for it yet" in missing[1]
    reproduce.expand_dataset_groups({"DATASETS": "paper"})
    to_fetch = sum(e.size for e in registry.REGISTRY.values() if e.hub_file) - registry.lookup("pet_supplies").size
    assert f"12 of them download first, {to_fetch / 1e9:,.1f} GB or more in all" in capsys.readouterr().err
    with pytest.raises(reproduce.ParameterError, match="DATASETS='papers'.*group: paper"):
        reproduce.expand_dataset_groups({"DATASETS": "papers"})
    monkeypatch.setenv("SYMCERE_OFFLINE", "1")
    monkeypatch.setenv("SYMCERE_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(reproduce.ParameterError, match="none of its datasets"):
        reproduce.expand_dataset_groups({"DATASETS": "paper"})


def test_yelps_own_tar_is_found_by_the_registry_name(tmp_path, monkeypatch):
    (tmp_path / "yelp_dataset.tar").write_bytes(b"")
    monkeypatch.setenv("SYMCERE_DATA_DIR", str(tmp_path))
    assert registry.resolve("yelp")[1] == tmp_path / "yelp_dataset.tar"
