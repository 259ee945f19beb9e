"""The LIME explorer in a real browser: JupyterLab on localhost, Debian's Chromium driven by Selenium,
the widget used as a person would (run the notebook, pick another review, move the sample slider),
asserting the explanation on the page changed and no library's "Loading weights" bar sits above it;
a screenshot is kept in build/browser/.

Part of ``make test`` where Chromium and chromedriver are installed (Debian: ``apt-get install chromium
chromium-driver``; nothing is downloaded at run time), skipped elsewhere; ``make test-browser`` runs
it alone and fails instead of skipping when they are missing.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import logging

import nbformat
import pytest

log = logging.getLogger(__name__)

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "browser"

HAVE_BROWSER = os.path.exists(CHROMEDRIVER) and os.path.exists(CHROMIUM)
if not HAVE_BROWSER and os.environ.get("SYMCERE_REQUIRE_BROWSER"):  # make test-browser: missing is a failure
    raise RuntimeError("make test-browser needs Chromium and chromedriver: apt-get install chromium chromium-driver")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not HAVE_BROWSER, reason="needs Debian's chromium and chromium-driver "
                                                          "(apt-get install chromium chromium-driver)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, synthetic_file, tiny_bert_dir):
    """A grid store with one small SymCERE run, a notebook that opens the explorer on it, and JupyterLab."""
    from symcere_kit.runs import Grid

    work = tmp_path_factory.mktemp("lab")
    settings = {"text_model": str(tiny_bert_dir), "pooling": "mean", "max_length": 32, "epochs": 5, "batch_size": 256}
    log.info("training the run the explorer opens")
    Grid([str(synthetic_file)], ["symcere-lightgcn"], [0], root=work / "grid", settings=settings).run(progress=False)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from symcere_kit.analysis.widgets import LimeExplorer\n"
        f"ui = LimeExplorer({str(work / 'grid')!r}, num_samples=100)\nui.widget")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, work / "explore.ipynb")
    port, token = _free_port(), "symcere-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(work / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(work / ".runtime")}
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
                               "--ServerApp.open_browser=False", "--LabApp.news_url=None",
                               "--allow-root"],  # CI containers and this machine run as root
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log.info("JupyterLab starting on port %s", port)
    deadline = time.time() + 300
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5).close()
            break
        except OSError:
            if server.poll() is not None:
                pytest.fail("JupyterLab exited: " + server.stderr.read().decode()[-2000:])
            if time.time() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not answer on port {port} within 300 s")
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}/lab/tree/explore.ipynb?token={token}"
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1100"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # no driver download
    yield driver
    driver.quit()


def _wait(driver, predicate, timeout: float = 180, what: str = "the page"):
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        # a widget that re-renders between find and read leaves a stale element: look again on the next poll
        return WebDriverWait(driver, timeout, poll_frequency=0.5, ignored_exceptions=(StaleElementReferenceException,)
                             ).until(predicate, message=f"timed out waiting for {what}")
    except TimeoutException:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / "failure.png"))  # what the page showed instead
        raise


def test_a_person_explores_reviews_in_jupyterlab(lab, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    log.info("opening %s", lab)
    browser.get(lab)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"), what="the notebook")
    # Run All before the kernel is up opens a "Select Kernel" dialog instead of running (seen on a busy
    # machine): wait for the status bar's "Python 3 (ipykernel) | Idle"
    _wait(browser, lambda d: "| Idle" in d.find_element(By.ID, "jp-main-statusbar").text, what="the kernel")
    menu = _wait(browser, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if e.text == "Run"],
                 what="the Run menu")[0]
    menu.click()
    _wait(browser, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel")
                              if e.text == "Run All Cells"], what="Run All Cells")[0].click()

    def explanation(d):
        found = d.find_elements(By.CSS_SELECTOR, ".symcere-lime-explorer .symcere-lime")
        return found[0].get_attribute("innerHTML") if found else False

    log.info("running all cells")
    first = _wait(browser, explanation, what="the first explanation")
    log.info("first explanation on the page")
    status = lambda d: d.find_element(By.CSS_SELECTOR, ".symcere-lime-explorer .widget-html-content").text  # noqa: E731
    assert "100 samples" in status(browser)
    # the run's text encoder is loaded by now: transformers' loading bars stay off the page (a notebook
    # tqdm bar writes its label with non-breaking spaces, hence the split)
    notebook_text = lambda d: " ".join(d.find_element(By.CSS_SELECTOR, ".jp-Notebook").get_attribute("textContent").split())  # noqa: E731
    assert "Loading weights" not in notebook_text(browser)

    dataset, run, review = browser.find_elements(By.CSS_SELECTOR, ".symcere-lime-explorer select")
    Select(review).select_by_index(3)
    second = _wait(browser, lambda d: (h := explanation(d)) and h != first and h, what="another review's explanation")
    assert second != first

    handle = browser.find_element(By.CSS_SELECTOR, ".symcere-lime-explorer .noUi-handle")
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    _wait(browser, lambda d: "150 samples" in status(d) and "LIME R²" in status(d), what="the explanation at 150 samples")
    assert explanation(browser)
    assert "Loading weights" not in notebook_text(browser)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "lime_explorer.png"))
    assert (SCREENSHOTS / "lime_explorer.png").stat().st_size > 10_000
