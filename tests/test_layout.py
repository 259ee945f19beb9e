"""The package's shape: test files named after the modules they test, models/ holding models only, and a
docstring on every public function, class and method."""
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
    "how_to": "the how-to guides' worked examples, run as written",
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


def undocumented(source: str) -> list[str]:
    """Public functions, classes and methods (names not starting with ``_``) of ``source`` without a docstring;
    a public class's methods count, a function's nested helpers do not."""
    import ast

    missing = []

    def visit(body, prefix: str) -> None:
        for node in body:
            named = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            if named and not node.name.startswith("_"):
                if ast.get_docstring(node) is None:
                    missing.append(prefix + node.name)
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{prefix}{node.name}.")

    visit(ast.parse(source).body, "")
    return missing


def test_the_docstring_count_sees_functions_classes_and_methods():
    source = ('def f():\n    """Doc."""\n\ndef g():\n    def inner(): pass\n\nclass C:\n    def m(self): pass\n'
              '    def _private(self): pass\n\nclass _Hidden:\n    def m(self): pass\n')
    assert undocumented(source) == ["g", "C", "C.m"]


def test_every_public_function_class_and_method_has_a_docstring():
    missing = {p.relative_to(PACKAGE).as_posix(): names for p in sorted(PACKAGE.rglob("*.py"))
               if (names := undocumented(p.read_text(encoding="utf-8")))}
    assert not missing, f"public names without a docstring (Google style: summary, Args/Returns/Raises): {missing}"
