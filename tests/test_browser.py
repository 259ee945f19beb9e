"""The LIME explorer in a real browser: JupyterLab on localhost, Debian's Chromium driven by Selenium,
the widget used as a person would (run the notebook, pick another review, move the sample slider),
asserting the explanation on the page changed and no library's "Loading weights" bar sits above it;
a screenshot is kept in build/browser/.

Part of ``make test`` where Chromium and chromedriver are installed (Debian: ``apt-get install chromium
chromium-driver``; nothing is downloaded at run time), skipped elsewhere; ``make test-browser`` runs
it alone and fails instead of skipping when they are missing.
"""
from __future__ import annotations

import logging
import os

import nbformat
import pytest
from jupyterlab_session import HAVE_BROWSER, SCREENSHOTS, SKIP_REASON, chromium, jupyterlab, wait

log = logging.getLogger(__name__)

if not HAVE_BROWSER and os.environ.get("SYMCERE_REQUIRE_BROWSER"):  # make test-browser: missing is a failure
    raise RuntimeError("make test-browser needs Chromium and chromedriver: apt-get install chromium chromium-driver")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(not HAVE_BROWSER, reason=SKIP_REASON)]


def _notebook_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(driver.find_element(By.CSS_SELECTOR, ".jp-Notebook").get_attribute("textContent").split())


@pytest.fixture(scope="module")
def lab(tmp_path_factory, synthetic_file, tiny_bert_dir):
    """A grid store with one small SymCERE run, a notebook that opens the explorer on it, and JupyterLab."""
    from symcere_kit.environ import scoped_environ
    from symcere_kit.runs import Grid

    work = tmp_path_factory.mktemp("lab")
    settings = {"text_model": str(tiny_bert_dir), "pooling": "mean", "max_length": 32, "epochs": 5, "batch_size": 256}
    log.info("training the run the explorer opens")
    # a module fixture is made before conftest's per-test folders are set: its caches go to the work folder
    with scoped_environ(SYMCERE_CACHE_DIR=str(work / "cache")):
        Grid([str(synthetic_file)], ["symcere-lightgcn"], [0], root=work / "grid", settings=settings).run(
            progress=False
        )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from symcere_kit.analysis.widgets import LimeExplorer\n"
        f"ui = LimeExplorer({str(work / 'grid')!r}, num_samples=100)\nui")]  # as notebook 07 shows it
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, work / "explore.ipynb")
    with jupyterlab(work) as url:
        yield url("explore.ipynb")


@pytest.fixture
def browser():
    with chromium() as driver:
        yield driver


def test_a_person_explores_reviews_in_jupyterlab(lab, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    log.info("opening %s", lab)
    browser.get(lab)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"), what="the notebook")
    # Run All before the kernel is up opens a "Select Kernel" dialog instead of running (seen on a busy
    # machine): wait for the status bar's "Python 3 (ipykernel) | Idle"
    wait(browser, lambda d: "| Idle" in d.find_element(By.ID, "jp-main-statusbar").text, what="the kernel")
    menu = wait(
        browser,
        lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if e.text == "Run"],
        what="the Run menu",
    )[0]
    menu.click()
    wait(browser, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel")
                              if e.text == "Run All Cells"], what="Run All Cells")[0].click()

    def explanation(d):
        found = d.find_elements(By.CSS_SELECTOR, ".symcere-lime-explorer .symcere-lime")
        return found[0].get_attribute("innerHTML") if found else False

    log.info("running all cells")
    first = wait(browser, explanation, what="the first explanation")
    log.info("first explanation on the page")
    status = lambda d: d.find_element(By.CSS_SELECTOR, ".symcere-lime-explorer .widget-html-content").text  # noqa: E731
    assert "100 samples" in status(browser)
    # the run's text encoder is loaded by now: transformers' loading bars stay off the page (a notebook
    # tqdm bar writes its label with non-breaking spaces, hence the split)
    assert "Loading weights" not in _notebook_text(browser)

    dataset, run, review = browser.find_elements(By.CSS_SELECTOR, ".symcere-lime-explorer select")
    Select(review).select_by_index(3)
    second = wait(browser, lambda d: (h := explanation(d)) and h != first and h, what="another review's explanation")
    assert second != first

    handle = browser.find_element(By.CSS_SELECTOR, ".symcere-lime-explorer .noUi-handle")
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    wait(
        browser, lambda d: "150 samples" in status(d) and "LIME R²" in status(d), what="the explanation at 150 samples"
    )
    assert explanation(browser)
    assert "Loading weights" not in _notebook_text(browser)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "lime_explorer.png"))
    assert (SCREENSHOTS / "lime_explorer.png").stat().st_size > 10_000
