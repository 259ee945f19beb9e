"""The committed tuned settings (configs/tuned/): each file is whole, applies to its variant, was made
with the equal budget, and matches the shared data it was tuned on."""
from pathlib import Path

import pytest
import yaml

from symcere_kit.runs.tuned import load_tuned
from symcere_kit.runs.variants import GROUPS, VARIANTS, variant_config
from symcere_kit.tuning.study import Budget

ROOT = Path(__file__).resolve().parents[1] / "configs" / "tuned"
FILES = sorted(ROOT.glob("*/*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_tuned_file_is_whole_and_builds_its_variants_config(path):
    record = yaml.safe_load(path.read_text())
    assert record["variant"] == path.stem in VARIANTS and record["dataset"] == path.parent.name
    config = variant_config(path.stem, 0, tuned=record["settings"])
    for key, value in record["settings"].items():
        got = config.to_dict()[key]
        assert (list(got) if isinstance(got, tuple) else got) == value
    study, budget = record["study"], Budget()
    assert study["trials"] >= budget.trials and study["complete"] >= 1  # the equal budget, at least
    assert {k: v for k, v in study["budget"].items() if k != "trials"} == {
        k: v for k, v in budget.to_dict().items() if k != "trials"}
    assert path.with_suffix(".trials.csv").is_file()
    # loads as grid and train load it: values valid, the right variant, a nested control on its baseline's current file
    assert load_tuned(path.parent.name, path.stem, root=ROOT).path == path
    if record["settings"].get("epochs"):
        assert record["settings"]["patience"] == 0 and record["settings"]["epochs"] == study["best_epoch"]


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted({p.parent.name for p in FILES}))
def test_tuned_files_match_the_shared_data(dataset, needs_shared):
    from symcere_kit.data.dataset import load_dataset

    fingerprint = load_dataset(dataset, progress=False).fingerprint
    assert {yaml.safe_load(p.read_text())["dataset_fingerprint"] for p in ROOT.glob(f"{dataset}/*.yaml")} == {
        fingerprint
    }


@pytest.mark.parametrize(
    "dataset", ["amazon2014_musical_instruments", "amazon2018_gift_cards_5"]
)  # Makefile TUNE_DATASETS
def test_every_tuned_variant_has_a_committed_file_on_the_shared_datasets(dataset):
    missing = [v for v in GROUPS["tuning"] if not (ROOT / dataset / f"{v}.yaml").is_file()]
    assert not missing, f"configs/tuned/{dataset} lacks {missing}: `make tune` derives them"
