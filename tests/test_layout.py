"""The package's shape: test files named after the modules they test, and models/ holding models only."""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import symcere_kit
from symcere_kit import models

PACKAGE = Path(symcere_kit.__file__).parent
TESTS = Path(__file__).parent
# Test files about something other than one module, each with what it covers.
TOPICS = {
    "baselines": "the baselines' pieces (NeuMF, SGL, SMORE) against reference computations",
    "browser": "the LIME explorer in JupyterLab, driven through Chromium",
    "contract": "the contract every registered model keeps, run per variant row",
    "docs": "the documentation site's strict build and its generated pages",
    "environment": "environment.yml against pyproject.toml",
    "gpu_check": "benchmarks/gpu_check.py, the prepared GPU check",
    "imports": "where the package's modules import each other",
    "layout": "this file",
    "notebooks": "the notebooks run top to bottom (QUICK) and their saved copies",
    "tuned_files": "the committed configs/tuned/ files",
}


def module_names() -> set[str]:
    """Every module and package of the library by its own name (``grid`` for ``runs/grid.py``)."""
    return {p.stem if p.name != "__init__.py" else p.parent.name for p in PACKAGE.rglob("*.py")} - {"__main__"}


def test_every_test_file_is_named_after_a_module_or_a_documented_topic():
    stray = sorted(p.stem[len("test_"):] for p in TESTS.glob("test_*.py")
                   if p.stem[len("test_"):] not in module_names() | set(TOPICS))
    assert not stray, f"tests/test_<name>.py for no module or package of symcere_kit: {stray} (or add it to TOPICS)"


def test_models_holds_models_only():
    names = models.model_names()
    assert {m.name for m in pkgutil.iter_modules(models.__path__)} == {n.replace("-", "_") for n in names}
    for name in names:
        module = importlib.import_module(f"symcere_kit.models.{name.replace('-', '_')}")
        assert module.MODEL.Settings is models.settings_class(name), name
