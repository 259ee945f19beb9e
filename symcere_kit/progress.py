"""Progress bars, and the switch that turns them (and live widgets) off in executed notebooks.

``symcere reproduce`` runs each notebook in a kernel started with ``$SYMCERE_HEADLESS=1``: nobody watches a bar there,
and a notebook tqdm bar is an ipywidget whose saved copy shows the value it started with ("UMAP panels 0% 0/2") and
whose comm messages are one more thing the executor waits on. Under that switch
[`progress_bar`][symcere_kit.progress.progress_bar] is disabled and the widgets (``analysis.widgets``) show only their
static view.
"""
from __future__ import annotations

import os

HEADLESS_ENV = "SYMCERE_HEADLESS"


def headless() -> bool:
    """True in a kernel that an executor (``symcere reproduce``) runs with nobody at the page."""
    return os.environ.get(HEADLESS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def progress_bar(iterable=None, *, enabled: bool = True, **kwargs):
    """``tqdm.auto.tqdm(iterable, **kwargs)``, disabled when ``enabled`` is False or
    [`headless`][symcere_kit.progress.headless]."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not enabled or headless(), **kwargs)
