"""JupyterLab on localhost driven by Debian's Chromium (Selenium), for the browser tests: a server on a free
port over a folder, a headless browser, and a wait that keeps a screenshot of what the page showed on failure.
Nothing is downloaded at run time (``apt-get install chromium chromium-driver``)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "browser"
HAVE_BROWSER = os.path.exists(CHROMEDRIVER) and os.path.exists(CHROMIUM)
SKIP_REASON = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyterlab(root: Path, timeout: float = 300):
    """A JupyterLab server over ``root``; yields a function ``url(name)`` that opens ``root/name`` in it."""
    import pytest

    port, token = _free_port(), "symcere-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
           "JUPYTER_DATA_DIR": str(root / ".jupyter-data"),  # its own notary: nothing here is trusted by default
           # kernels run the toolkit: its caches, tables and figures stay in root, never in the checkout
           "SYMCERE_CACHE_DIR": str(root / "cache"), "SYMCERE_RESULTS_DIR": str(root / "results"),
           "SYMCERE_FIGURES_DIR": str(root / "figures")}
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                               "--ServerApp.open_browser=False", "--LabApp.news_url=None",
                               "--allow-root"],  # CI containers and this machine run as root
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + timeout
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5).close()
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail("JupyterLab exited: " + server.stderr.read().decode()[-2000:])
                if time.time() > deadline:
                    pytest.fail(f"JupyterLab did not answer on port {port} within {timeout:.0f} s")
                time.sleep(0.5)
        yield lambda name: f"http://127.0.0.1:{port}/lab/tree/{name}?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


@contextmanager
def chromium():
    """A headless Chromium under Selenium, from the system's driver (no download)."""
    import pytest

    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1100"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver, predicate, timeout: float = 180, what: str = "the page", shot: str = "failure.png"):
    """``predicate(driver)``'s first truthy value within ``timeout`` s; on timeout a screenshot goes to
    build/browser/."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        # a widget that re-renders between find and read leaves a stale element: look again on the next poll
        return WebDriverWait(driver, timeout, poll_frequency=0.5, ignored_exceptions=(StaleElementReferenceException,)
                             ).until(predicate, message=f"timed out waiting for {what}")
    except TimeoutException:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / shot))  # what the page showed instead
        raise
