"""The documentation site builds with `mkdocs build --strict`: a broken link or cross-reference, a docstring
griffe cannot parse, a page left out of the navigation, or a command-line page or error message that no
longer generates fails `make test` here. The notebook pages render the executed QUICK copies when
build/notebooks/quick/ holds them, else the committed notebooks (SYMCERE_DOCS_NOTEBOOKS=skip)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.slow
def test_docs_build_strict(tmp_path):
    for module in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python", "mkdocs_jupyter", "material"):
        pytest.importorskip(module, reason="the docs extra is not installed (make venv installs it)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    executed = ROOT / "build" / "notebooks" / "quick"
    if not all((executed / name).is_file() for name in NOTEBOOKS):
        env["SYMCERE_DOCS_NOTEBOOKS"] = "skip"
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    def page(path: str) -> str:
        return (site / path / "index.html").read_text(encoding="utf-8")

    assert "symmetric_nce_loss" in page("api/losses") and 'id="symcere_kit.losses.symmetric_nce_loss"' in page(
        "api/losses"
    )
    assert "load_run" in page("api/run-store") and "read_reviews" in page("api/readers")
    train_help = page("cli/reference/train")
    assert "usage: symcere train" in train_help and "--no-fn-mask" in train_help
    errors = page("data/errors")
    assert "symcere: error: Cannot read reviews.jsonl.gz: the gzip stream ends early" in errors
    for name in NOTEBOOKS:
        assert (site / "notebooks" / name.removesuffix(".ipynb") / "index.html").is_file()
    assert (site / "figures").is_dir() and any((site / "figures").glob("*.png"))
    _check_math_offline(site)


def _check_math_offline(site: Path) -> None:
    """The equations are MathML in the page (made at build time), no page loads a script, style or font from
    the network, and Chromium with its network off draws the formulas (where Chromium is installed)."""
    losses = (site / "api" / "losses" / "index.html").read_text(encoding="utf-8")
    assert losses.count('<math class="symcere-math"') >= 10
    assert "\\frac" not in losses and 'arithmatex">\\(' not in losses  # no TeX left for a script to typeset
    remote = re.compile(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//')
    loading = sorted({str(p.relative_to(site)) for p in site.rglob("*.html") if remote.search(p.read_text("utf-8"))})
    assert not loading, f"pages loading something from the network: {loading}"
    from jupyterlab_session import HAVE_BROWSER, chromium

    if not HAVE_BROWSER:
        return
    with chromium() as browser:
        browser.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
        browser.get((site / "api" / "losses" / "index.html").as_uri())
        boxes = browser.execute_script(
            "return [...document.querySelectorAll('math.symcere-math')].map(m => m.getBoundingClientRect())"
            ".map(r => [r.width, r.height]);")
        assert len(boxes) >= 10 and all(w > 0 and h > 0 for w, h in boxes), boxes
        text = browser.execute_script("return document.body.innerText")
        assert "\\frac" not in text and "\\sum" not in text  # no formula left as TeX


TOY_MODEL = '''"""Toy: a model file added with no docs edit (tests/test_docs.py)."""
from dataclasses import dataclass

from ..config import ModelSettings
from ..recommender.base import Recommender


@dataclass(frozen=True)
class ToySettings(ModelSettings):
    """The toy's settings: none of its own."""


class Toy(Recommender):
    """Scores every item zero; exists to appear in the API reference."""

    Settings = ToySettings


MODEL = Toy
'''


@pytest.mark.slow
def test_a_model_file_added_with_no_docs_edit_appears_in_the_api_reference(tmp_path):
    """The API pages list the package's modules from its files: a copy of the checkout with one more model
    file builds strict and shows it on the models page and the layout page."""
    for module in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python", "mkdocs_jupyter", "material"):
        pytest.importorskip(module, reason="the docs extra is not installed (make venv installs it)")
    copy = tmp_path / "checkout"
    top = {".git", "build", "results", "data", "benchmarks", "tests"}  # what the site is not built from

    def skip(folder, names):
        here = Path(folder) == ROOT
        return [n for n in names if (here and (n in top or n.startswith(".venv"))) or n == "__pycache__"
                or n.endswith((".egg-info", "_cache"))]

    shutil.copytree(ROOT, copy, ignore=skip)
    (copy / "symcere_kit" / "models" / "toy.py").write_text(TOY_MODEL, encoding="utf-8")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "SYMCERE_DOCS_NOTEBOOKS": "skip"}
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=copy, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    models = (site / "api" / "models" / "index.html").read_text(encoding="utf-8")
    assert 'id="symcere_kit.models.toy"' in models and "Scores every item zero" in models
    assert "models/toy.py" in (site / "development" / "layout" / "index.html").read_text(encoding="utf-8")


def _generated():
    sys.path.insert(0, str(ROOT / "docs" / "hooks"))
    try:
        import generated
    finally:
        sys.path.remove(str(ROOT / "docs" / "hooks"))
    return generated


def test_a_module_no_api_page_names_fails_the_build_naming_it():
    generated = _generated()
    modules = ["symcere_kit.models", "symcere_kit.models.lightgcn", "symcere_kit.models.toy", "symcere_kit.runs"]
    pages = {"api/models.md": "<!-- api: symcere_kit.models.* -->", "api/runs.md": "<!-- api: symcere_kit.runs -->"}
    assert generated.check_coverage(pages, modules) == []
    assert "::: symcere_kit.models.toy" in generated.expand_api(pages["api/models.md"], modules)
    problems = generated.check_coverage({"api/models.md": "<!-- api: symcere_kit.models symcere_kit.nothing -->"},
                                        modules)
    assert any("'symcere_kit.nothing' names no module" in p for p in problems)
    assert any(p.startswith("symcere_kit.models.toy is on no API page") for p in problems)
    twice = {**pages, "api/other.md": "<!-- api: symcere_kit.runs -->"}
    assert any("symcere_kit.runs is on 2 API pages" in p for p in generated.check_coverage(twice, modules))


def test_every_module_of_the_package_is_on_one_api_page():
    generated = _generated()
    pages = {f"api/{p.name}": p.read_text(encoding="utf-8") for p in (ROOT / "docs" / "api").glob("*.md")}
    assert generated.check_coverage(pages, generated.package_modules(ROOT)) == []
