"""QUICK mode's one helper: the smoke run's parameters, folders and banner."""
import pytest

from symcere_kit.errors import SymcereError
from symcere_kit.quick import QUICK_DATASET, folders, footing, quick_parameters


def test_quick_shrinks_each_named_parameter_and_a_full_run_keeps_them():
    given = dict(DATASETS=["a", "b"], SEEDS=[3, 4, 5], EPOCHS=None, POINTS=2000, SAMPLES=500)
    assert quick_parameters(True, **given) == ([QUICK_DATASET], [3], 2, 300, 100)
    assert quick_parameters(False, **given) == tuple(given.values())
    assert quick_parameters(True, EPOCHS=7) == 7  # an explicit epoch count stays; one name gives one value
    with pytest.raises(SymcereError, match="no QUICK rule for BATCH"):
        quick_parameters(True, BATCH=5)


def test_quick_folders_are_beside_the_full_ones_and_the_footing_carries_a_banner():
    full, quick = folders(False), folders(True)
    assert all(q == f / "quick" for q, f in zip(quick, full))
    text = footing(True, ["gc"], [0], 2, tuned=True)
    assert text.startswith("> **QUICK smoke run**") and "**seeds**: 0 (1)" in text and "**epochs**: 2" in text
    assert "tuned" in text and "QUICK" not in footing(False, ["gc"], [0, 1], None)
    assert "epochs" not in footing(False, ["gc"])  # Table 1: no training to describe
